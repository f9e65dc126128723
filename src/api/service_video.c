/* service_video.c - stored-video analysis run at once, on the public API: what StartFaceDetection
 * and StartFaceSearch do as a job, done in the caller's thread on a file it opened, with each
 * result handed over as it is found (`mien video`). The analysis is the jobs' own
 * (op_video_analyze): the same sampling, tracking, search and JSON. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/service_internal.h"
#include "util/util.h"

/* The caller's sink behind the analysis' own: each JSON value printed for it. */
typedef struct {
  const mien_video_sink *sink;
} relay;

static mien_status relay_metadata(void *ctx, cJSON *meta, char *err, size_t errlen) {
  const relay *r = ctx;
  char *json = cJSON_PrintUnformatted(meta);
  cJSON_Delete(meta);
  int stop = !json || (r->sink->metadata && r->sink->metadata(r->sink->ctx, json));
  free(json);
  return stop ? MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory") : MIEN_OK;
}

static mien_status relay_item(void *ctx, int64_t ts, int64_t person, cJSON *item, char *err,
                              size_t errlen) {
  const relay *r = ctx;
  char *json = cJSON_PrintUnformatted(item);
  cJSON_Delete(item);
  int stop = !json || (r->sink->item && r->sink->item(r->sink->ctx, ts, person, json));
  free(json);
  return stop ? MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory") : MIEN_OK;
}

static void relay_progress(void *ctx, double fraction) {
  const relay *r = ctx;
  if (r->sink->progress) r->sink->progress(r->sink->ctx, fraction);
}

/* What must hold before a video is read: a search's collection holds this model's templates,
 * and the file is within Rekognition Video's size. */
static mien_status check_video(mien_service *svc, mien_api *api, int fd, const char *coll,
                               char *err, size_t errlen) {
  char version[64];
  mien_status st = MIEN_OK;
  if (coll) st = op_collection_version(api, coll, NULL, version, err, errlen);
  if (coll && st == MIEN_OK && strcmp(version, mien_service_model_version(svc)))
    st = MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                   "collection %s holds templates of face model %s, but this mien uses %s", coll,
                   version, mien_service_model_version(svc));
  struct stat sb;
  if (st == MIEN_OK && fstat(fd, &sb) != 0)
    st = MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_S3_OBJECT, "cannot read the video file");
  else if (st == MIEN_OK && sb.st_size > MIEN_VIDEO_MAX_BYTES)
    st = MIEN_FAIL(err, errlen, MIEN_ERR_VIDEO_TOO_LARGE,
                   "the file has %lld bytes; the limit is %lld", (long long)sb.st_size,
                   (long long)MIEN_VIDEO_MAX_BYTES);
  return st;
}

/* The audit record of a finished face search, as a StartFaceSearch job writes it. */
static mien_status audit_search(mien_api *api, const char *coll, const op_video_counts *c,
                                char *err, size_t errlen) {
  cJSON *fields = cJSON_CreateObject();
  cJSON_AddNumberToObject(fields, "persons", (double)c->persons);
  cJSON_AddNumberToObject(fields, "matched_persons", (double)c->matched_persons);
  cJSON_AddNumberToObject(fields, "matches", (double)c->matches);
  return mien_store_audit(api->store, api->principal, "StartFaceSearch", coll, fields, err, errlen);
}

mien_status mien_service_analyze_video(mien_service *svc, int fd, const char *collection,
                                       double threshold, double budget_ms,
                                       const mien_video_sink *sink, int *readable,
                                       mien_video_timing *timing, char *err, size_t errlen) {
  *readable = 0;
  if (timing) memset(timing, 0, sizeof *timing);
  mien_status st = collection && !svc->store
                       ? MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                                   "a face search needs a store; this service was opened "
                                   "with no_store")
                       : MIEN_OK;
  int w;
  if (st == MIEN_OK) st = service_borrow(svc, 1, &w, err, errlen);
  if (st != MIEN_OK) {
    close(fd);
    return st;
  }
  mien_api api = service_call_api(svc, w, NULL);
  st = check_video(svc, &api, fd, collection, err, errlen);
  relay r = {sink};
  op_video_sink s = {relay_metadata, relay_item, relay_progress, &r};
  mien_video_status vst = MIEN_VIDEO_OK;
  mien_video_stats stats = {0};
  op_video_counts counts = {0};
  if (st == MIEN_OK)
    st = op_video_analyze(&api, fd, collection, threshold, NULL, budget_ms, &s, &vst, &stats,
                          &counts, err, errlen);
  else
    close(fd);
  if (st == MIEN_OK && collection && vst == MIEN_VIDEO_OK)
    st = audit_search(&api, collection, &counts, err, errlen);
  service_give_back(svc, w);
  if (timing)
    *timing = (mien_video_timing){.demux_decode_ms = stats.demux_decode_ms,
                                  .convert_ms = stats.convert_ms,
                                  .detect_ms = stats.detect_ms,
                                  .embed_ms = stats.embed_ms,
                                  .search_ms = stats.search_ms,
                                  .packets = stats.packets,
                                  .frames_decoded = stats.frames_decoded,
                                  .frames_sampled = stats.frames_sampled,
                                  .faces = stats.faces,
                                  .embeddings = stats.embeddings,
                                  .tracks = stats.tracks};
  *readable = st == MIEN_OK && vst == MIEN_VIDEO_OK;
  return st;
}
