/* ops_video.c - Rekognition Video's face operations over stored files (docs/video.md):
 *   StartFaceDetection / StartFaceSearch  check the request, the collection and the object
 *       (Video.S3Object through `--bucket`, at most 10 GB), then queue a job in the store and
 *       answer its JobId at once; ClientRequestToken makes a repeated start return the same
 *       JobId (the jobs table keeps the token), NotificationChannel is accepted and ignored
 *       (there is no SNS: clients poll, as AWS's own examples do);
 *   GetFaceDetection / GetFaceSearch  the job's status, VideoMetadata and a page of its
 *       results (MaxResults up to 1000, NextToken), Persons sorted by TIMESTAMP or INDEX;
 *   the analysis  a job (or `mien video`) reads the video with src/video/, turning each frame's
 *       faces into FaceDetection elements, or each track into PersonMatch elements whose
 *       FaceMatches come from one search of the collection with the track's mean embedding;
 *   the streaming operations  refused: mien does not watch live cameras or streams.
 *
 * The object is opened once at Start to answer a missing or oversized one at once, as
 * Rekognition does, and again by the job (which may run after a restart): each open is the
 * bucket's own checked open, so the second trusts nothing the first saw. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/ops.h"
#include "face/eval.h"
#include "util/util.h"

#define KIND_DETECTION "FaceDetection"
#define KIND_SEARCH "FaceSearch"
#define RESULT_BATCH 256 /* results written per transaction */

/* ---- Start ---- */

/* The pattern ClientRequestToken and JobId share: ^[a-zA-Z0-9-_]+$, 1 to 64 characters. */
static mien_status job_token(const cJSON *req, const char *name, int required, const char **out,
                             char *err, size_t errlen) {
  mien_status st = op_string(req, name, required, ID_TOKEN, 64, out, err, errlen);
  for (const char *p = st == MIEN_OK && *out ? *out : ""; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '-' || *p == '_'))
      return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                       "1 validation error detected: Value '%.100s' at '%s' failed to satisfy "
                       "constraint: Member must satisfy regular expression pattern: "
                       "^[a-zA-Z0-9-_]+$",
                       *out, name);
  return st;
}

/* Video.S3Object {Bucket, Name, Version}: Version is accepted (a local file has one version). */
static mien_status video_object(const cJSON *req, const char **bucket, const char **name, char *err,
                                size_t errlen) {
  const cJSON *video = cJSON_GetObjectItemCaseSensitive(req, "Video");
  const cJSON *s3 = cJSON_GetObjectItemCaseSensitive(video, "S3Object");
  if (!cJSON_IsObject(video) || !cJSON_IsObject(s3))
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                     "Video.S3Object {Bucket, Name} is required: mien analyses stored video files "
                     "(mien serve --bucket NAME=DIR)");
  const char *version;
  mien_status st = op_string(s3, "Bucket", 1, ID_TOKEN, 255, bucket, err, errlen);
  if (st == MIEN_OK) st = op_string(s3, "Name", 1, ID_TOKEN, 1024, name, err, errlen);
  if (st == MIEN_OK) st = op_string(s3, "Version", 0, ID_TOKEN, 1024, &version, err, errlen);
  return st;
}

/* NotificationChannel {SNSTopicArn, RoleArn}: checked for shape, then ignored (no SNS here). */
static mien_status notification_channel(const cJSON *req, char *err, size_t errlen) {
  const cJSON *nc = cJSON_GetObjectItemCaseSensitive(req, "NotificationChannel");
  if (!nc || cJSON_IsNull(nc)) return MIEN_OK;
  const char *topic, *role;
  mien_status st = cJSON_IsObject(nc) ? MIEN_OK
                                      : MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                                                  "NotificationChannel must be an object");
  if (st == MIEN_OK) st = op_string(nc, "SNSTopicArn", 1, ID_TOKEN, 2048, &topic, err, errlen);
  if (st == MIEN_OK) st = op_string(nc, "RoleArn", 1, ID_TOKEN, 2048, &role, err, errlen);
  return st;
}

static mien_status start_job(mien_api *api, const cJSON *req, const char *kind, const char *coll,
                             cJSON **resp, char *err, size_t errlen) {
  const char *bucket, *name, *token, *tag;
  mien_status st = video_object(req, &bucket, &name, err, errlen);
  if (st == MIEN_OK) st = job_token(req, "ClientRequestToken", 0, &token, err, errlen);
  if (st == MIEN_OK) st = op_string(req, "JobTag", 0, ID_USER, 256, &tag, err, errlen);
  if (st == MIEN_OK) st = notification_channel(req, err, errlen);
  int fd = -1;
  size_t size;
  if (st == MIEN_OK)
    st = mien_buckets_open(api->buckets, bucket, name, (size_t)MIEN_VIDEO_MAX_BYTES,
                           MIEN_ERR_VIDEO_TOO_LARGE, &fd, &size, err, errlen);
  if (fd >= 0) close(fd);
  char *text = st == MIEN_OK ? cJSON_PrintUnformatted(req) : NULL;
  if (st == MIEN_OK && !text) st = MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  char job_id[MIEN_UUID_LEN];
  if (st == MIEN_OK)
    st = mien_store_job_start(api->store, api->principal, kind, token, text, coll,
                              MIEN_VIDEO_ACTIVE_JOBS, job_id, err, errlen);
  free(text);
  if (st != MIEN_OK) return st;
  if (api->job_queued) api->job_queued(api->job_ctx);
  *resp = cJSON_CreateObject();
  cJSON_AddStringToObject(*resp, "JobId", job_id);
  return MIEN_OK;
}

mien_status mien_op_start_face_detection(mien_api *api, const cJSON *req, cJSON **resp, char *err,
                                         size_t errlen) {
  *resp = NULL;
  if (!cJSON_IsObject(req))
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER, "the request must be a JSON object");
  const cJSON *fa = cJSON_GetObjectItemCaseSensitive(req, "FaceAttributes");
  /* ALL gives what DEFAULT gives: mien infers no age, gender, emotion or other attributes. */
  if (fa && !cJSON_IsNull(fa) &&
      (!cJSON_IsString(fa) ||
       (strcmp(fa->valuestring, "DEFAULT") && strcmp(fa->valuestring, "ALL"))))
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                     "FaceAttributes must be DEFAULT or ALL (the same here: mien never infers "
                     "age, gender, emotion or other attributes)");
  return start_job(api, req, KIND_DETECTION, NULL, resp, err, errlen);
}

mien_status mien_op_start_face_search(mien_api *api, const cJSON *req, cJSON **resp, char *err,
                                      size_t errlen) {
  *resp = NULL;
  const char *coll;
  double threshold;
  char version[64];
  mien_status st = op_collection(req, &coll, err, errlen);
  if (st == MIEN_OK)
    st = op_number(req, "FaceMatchThreshold", 0, 100, MIEN_FACE_MATCH_THRESHOLD, &threshold, err,
                   errlen);
  /* The collection must exist, and hold templates of this build's model, before any job. */
  char ours[64];
  if (st == MIEN_OK) st = op_collection_version(api, coll, NULL, version, err, errlen);
  if (st == MIEN_OK) st = op_model_version(ours, sizeof ours, err, errlen);
  if (st == MIEN_OK && strcmp(version, ours))
    st = MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                   "collection %s holds templates of face model %s, but this mien uses %s", coll,
                   version, ours);
  if (st != MIEN_OK) return st;
  return start_job(api, req, KIND_SEARCH, coll, resp, err, errlen);
}

/* ---- Get ---- */

/* The job named by JobId, of this kind. */
static mien_status find_job(mien_api *api, const cJSON *req, const char *kind, mien_job *job,
                            char *err, size_t errlen) {
  const char *id;
  int found = 0;
  mien_status st = cJSON_IsObject(req) ? job_token(req, "JobId", 1, &id, err, errlen)
                                       : MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                                                   "the request must be a JSON object");
  if (st == MIEN_OK) st = mien_store_job_get(api->store, id, job, &found, err, errlen);
  if (st != MIEN_OK) return st;
  if (!found || strcmp(job->kind, kind))
    return MIEN_FAIL(err, errlen, MIEN_ERR_RESOURCE_NOT_FOUND,
                     "no %s job %s (jobs and their results are deleted after the retention "
                     "period)",
                     kind, id);
  return MIEN_OK;
}

/* JobStatus, StatusMessage, VideoMetadata and the request's JobId, Video and JobTag; the
 * results follow when the job succeeded. */
static cJSON *job_response(const mien_job *job) {
  cJSON *r = cJSON_CreateObject();
  int done = !strcmp(job->state, "SUCCEEDED") || !strcmp(job->state, "FAILED");
  cJSON_AddStringToObject(r, "JobStatus", done ? job->state : "IN_PROGRESS");
  if (job->status_message[0]) cJSON_AddStringToObject(r, "StatusMessage", job->status_message);
  cJSON *meta = job->metadata[0] ? cJSON_Parse(job->metadata) : NULL;
  if (meta) cJSON_AddItemToObject(r, "VideoMetadata", meta);
  cJSON_AddStringToObject(r, "JobId", job->job_id);
  cJSON *request = cJSON_Parse(job->request);
  cJSON *video = cJSON_DetachItemFromObjectCaseSensitive(request, "Video");
  cJSON *tag = cJSON_DetachItemFromObjectCaseSensitive(request, "JobTag");
  if (video) cJSON_AddItemToObject(r, "Video", video);
  if (tag) cJSON_AddItemToObject(r, "JobTag", tag);
  cJSON_Delete(request);
  /* mien's addition: how far a job in progress has got. */
  if (!done) op_add_num(r, "ProgressPercent", 100.0 * job->progress);
  return r;
}

static mien_status get_job(mien_api *api, const cJSON *req, const char *kind, const char *field,
                           cJSON **resp, char *err, size_t errlen) {
  *resp = NULL;
  mien_job *job = malloc(sizeof *job);
  if (!job) return MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  long max;
  const char *token, *sort = "TIMESTAMP";
  mien_status st = find_job(api, req, kind, job, err, errlen);
  /* Larger MaxResults are allowed and give 1000, as Rekognition documents. */
  if (st == MIEN_OK)
    st = op_int(req, "MaxResults", 1, 1L << 30, MIEN_VIDEO_MAX_RESULTS, &max, err, errlen);
  /* AWS's examples start paging with NextToken '': the first page, as no token. */
  const cJSON *nt = cJSON_GetObjectItemCaseSensitive(req, "NextToken");
  if (st == MIEN_OK && !(cJSON_IsString(nt) && !nt->valuestring[0]))
    st = op_string(req, "NextToken", 0, ID_TOKEN, 255, &token, err, errlen);
  else
    token = NULL;
  const cJSON *sb = cJSON_GetObjectItemCaseSensitive(req, "SortBy");
  if (st == MIEN_OK && !strcmp(kind, KIND_SEARCH) && sb && !cJSON_IsNull(sb)) {
    if (cJSON_IsString(sb) &&
        (!strcmp(sb->valuestring, "INDEX") || !strcmp(sb->valuestring, "TIMESTAMP")))
      sort = sb->valuestring;
    else
      st = MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER, "SortBy must be INDEX or TIMESTAMP");
  }
  char *end = NULL;
  long long offset = token ? strtoll(token, &end, 10) : 0;
  if (st == MIEN_OK && token && (*end || offset < 0 || end == token))
    st =
        MIEN_FAIL(err, errlen, MIEN_ERR_PAGINATION_TOKEN, "NextToken '%.300s' is not valid", token);
  if (st != MIEN_OK) {
    free(job);
    return st;
  }
  if (max > MIEN_VIDEO_MAX_RESULTS) max = MIEN_VIDEO_MAX_RESULTS;
  cJSON *r = job_response(job);
  if (!strcmp(job->state, "SUCCEEDED")) {
    cJSON *items = cJSON_AddArrayToObject(r, field);
    int more = 0;
    st = mien_store_job_results(api->store, job->row, !strcmp(sort, "INDEX"), offset, (int)max,
                                items, &more, err, errlen);
    if (st == MIEN_OK && more) {
      char next[32];
      snprintf(next, sizeof next, "%lld", offset + max);
      cJSON_AddStringToObject(r, "NextToken", next);
    }
  }
  free(job);
  return op_respond(st, r, resp);
}

mien_status mien_op_get_face_detection(mien_api *api, const cJSON *req, cJSON **resp, char *err,
                                       size_t errlen) {
  return get_job(api, req, KIND_DETECTION, "Faces", resp, err, errlen);
}

mien_status mien_op_get_face_search(mien_api *api, const cJSON *req, cJSON **resp, char *err,
                                    size_t errlen) {
  return get_job(api, req, KIND_SEARCH, "Persons", resp, err, errlen);
}

mien_status mien_op_stream_refused(mien_api *api, const cJSON *req, cJSON **resp, char *err,
                                   size_t errlen) {
  (void)api, (void)req;
  *resp = NULL;
  return MIEN_FAIL(err, errlen, MIEN_ERR_ACCESS_DENIED,
                   "mien does not process streaming video: no live camera or stream "
                   "surveillance, by design (docs/video.md). Stored video files can be "
                   "analysed with StartFaceDetection and StartFaceSearch");
}

/* ---- the analysis ---- */

typedef struct {
  mien_api *api;
  const char *coll;
  double threshold;
  const op_video_sink *sink;
  op_video_counts counts;
} analysis;

static cJSON *metadata_json(const mien_video_meta *m) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "Codec", m->codec);
  cJSON_AddNumberToObject(o, "DurationMillis", (double)m->duration_ms);
  cJSON_AddStringToObject(o, "Format", m->format);
  op_add_num(o, "FrameRate", m->frame_rate);
  cJSON_AddNumberToObject(o, "FrameHeight", m->height);
  cJSON_AddNumberToObject(o, "FrameWidth", m->width);
  cJSON_AddStringToObject(o, "ColorRange", m->full_range ? "FULL" : "LIMITED");
  return o;
}

static mien_status on_frame(void *ctx, int64_t ts, const mien_face *faces, int n, int w, int h,
                            char *err, size_t errlen) {
  analysis *a = ctx;
  mien_status st = MIEN_OK;
  for (int i = 0; st == MIEN_OK && i < n; i++) {
    cJSON *item = cJSON_CreateObject();
    cJSON_AddNumberToObject(item, "Timestamp", (double)ts);
    cJSON_AddItemToObject(item, "Face", mien_face_detail_json(&faces[i], w, h));
    st = a->sink->item(a->sink->ctx, ts, -1, item, err, errlen);
  }
  return st;
}

/* FaceMatches of a track: one search of the collection with its mean embedding. */
static mien_status track_matches(analysis *a, const mien_video_track *t, cJSON *matches, char *err,
                                 size_t errlen) {
  if (!t->has_embedding) return MIEN_OK;
  mien_face_record *recs = malloc(MIEN_VIDEO_MAX_MATCHES * sizeof *recs);
  float cos[MIEN_VIDEO_MAX_MATCHES];
  int n = 0;
  float min_cos = a->threshold > 0 ? mien_similarity_cosine((float)a->threshold) - 1e-4f : -2.0f;
  mien_status st =
      recs ? mien_store_search(a->api->store, a->coll, t->embedding, MIEN_VIDEO_MAX_MATCHES,
                               min_cos, 0, 0, recs, cos, &n, err, errlen)
           : MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  for (int i = 0; st == MIEN_OK && i < n; i++) {
    float sim = mien_similarity(cos[i]);
    if (sim < a->threshold) continue;
    cJSON *m = cJSON_CreateObject();
    op_add_num(m, "Similarity", sim);
    cJSON_AddItemToObject(m, "Face", op_face_json(&recs[i], NULL));
    cJSON_AddItemToArray(matches, m);
  }
  free(recs);
  return st;
}

static mien_status on_track(void *ctx, const mien_video_track *t, int w, int h, char *err,
                            size_t errlen) {
  analysis *a = ctx;
  cJSON *matches = cJSON_CreateArray();
  mien_status st = track_matches(a, t, matches, err, errlen);
  int nm = cJSON_GetArraySize(matches);
  a->counts.persons++;
  a->counts.matched_persons += nm > 0;
  a->counts.matches += nm;
  for (int i = 0; st == MIEN_OK && i < t->n; i++) {
    const mien_face *f = &t->s[i].face;
    cJSON *item = cJSON_CreateObject();
    cJSON_AddNumberToObject(item, "Timestamp", (double)t->s[i].ts);
    cJSON *person = cJSON_AddObjectToObject(item, "Person");
    cJSON_AddNumberToObject(person, "Index", (double)t->index);
    cJSON_AddItemToObject(person, "BoundingBox", mien_bounding_box_json(f, w, h));
    cJSON_AddItemToObject(person, "Face", mien_face_detail_json(f, w, h));
    if (nm) cJSON_AddItemToObject(item, "FaceMatches", cJSON_Duplicate(matches, 1));
    st = a->sink->item(a->sink->ctx, t->s[i].ts, t->index, item, err, errlen);
  }
  cJSON_Delete(matches);
  return st;
}

static void on_progress(void *ctx, double fraction) {
  analysis *a = ctx;
  if (a->sink->progress) a->sink->progress(a->sink->ctx, fraction);
}

mien_status op_video_analyze(mien_api *api, int fd, const char *coll, double threshold,
                             const atomic_int *stop, double budget_ms, const op_video_sink *sink,
                             mien_video_status *vst, mien_video_stats *stats,
                             op_video_counts *counts, char *err, size_t errlen) {
  mien_faces *faces;
  mien_status st = op_faces(api, &faces, err, errlen);
  if (st != MIEN_OK) {
    close(fd);
    return st;
  }
  mien_video_limits lim;
  mien_video_limits_default(&lim);
  lim.budget_ms = budget_ms > 0 ? budget_ms : MIEN_VIDEO_OPEN_BUDGET_MS;
  mien_video *v;
  *vst = mien_video_open_fd(fd, &lim, stop, &v, err, errlen);
  if (*vst != MIEN_VIDEO_OK) return MIEN_OK;
  const mien_video_meta *m = mien_video_metadata(v);
  if (budget_ms <= 0) mien_video_set_budget(v, MIEN_VIDEO_OPEN_BUDGET_MS + 4.0 * m->duration_ms);
  analysis a = {.api = api, .coll = coll, .threshold = threshold, .sink = sink};
  st = sink->metadata(sink->ctx, metadata_json(m), err, errlen);
  mien_video_analysis va = {.faces = faces,
                            .frame = coll ? NULL : on_frame,
                            .track = coll ? on_track : NULL,
                            .progress = on_progress,
                            .ctx = &a};
  if (st == MIEN_OK) st = mien_video_analyze(v, &va, vst, err, errlen);
  if (stats) *stats = *mien_video_stats_get(v);
  if (counts) *counts = a.counts;
  mien_video_close(v);
  return st;
}

/* ---- jobs ---- */

/* The sink of a job: results in batches into the store, progress and metadata likewise. */
typedef struct {
  mien_api *api;
  int64_t row;
  mien_job_result batch[RESULT_BATCH];
  char *texts[RESULT_BATCH];
  int n;
} job_sink;

/* Writes the batch (when write) and empties it. */
static mien_status flush(job_sink *j, int write, char *err, size_t errlen) {
  mien_status st =
      write ? mien_store_job_add_results(j->api->store, j->row, j->batch, j->n, err, errlen)
            : MIEN_OK;
  for (int i = 0; i < j->n; i++) free(j->texts[i]);
  j->n = 0;
  return st;
}

static mien_status job_item(void *ctx, int64_t ts, int64_t person, cJSON *item, char *err,
                            size_t errlen) {
  job_sink *j = ctx;
  char *text = cJSON_PrintUnformatted(item);
  cJSON_Delete(item);
  if (!text) return MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  j->texts[j->n] = text;
  j->batch[j->n++] = (mien_job_result){ts, person, text};
  return j->n == RESULT_BATCH ? flush(j, 1, err, errlen) : MIEN_OK;
}

static mien_status job_metadata(void *ctx, cJSON *meta, char *err, size_t errlen) {
  job_sink *j = ctx;
  char *text = cJSON_PrintUnformatted(meta);
  cJSON_Delete(meta);
  mien_status st = text ? mien_store_job_progress(j->api->store, j->row, 0, text, err, errlen)
                        : MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  free(text);
  return st;
}

static void job_progress(void *ctx, double fraction) {
  job_sink *j = ctx;
  char err[256];
  mien_store_job_progress(j->api->store, j->row, fraction, NULL, err, sizeof err);
}

/* The job's search parameters, from its stored request. */
static void job_params(const mien_job *job, double *threshold, const char **bucket,
                       const char **name, cJSON **req) {
  *req = cJSON_Parse(job->request);
  const cJSON *s3 =
      cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(*req, "Video"), "S3Object");
  *bucket = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s3, "Bucket"));
  *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s3, "Name"));
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(*req, "FaceMatchThreshold");
  *threshold = cJSON_IsNumber(t) ? t->valuedouble : MIEN_FACE_MATCH_THRESHOLD;
}

mien_status mien_video_run_job(mien_api *api, const atomic_int *stop, mien_job *job, int *ran,
                               char *err, size_t errlen) {
  job_sink *sink = calloc(1, sizeof *sink);
  int found = 0;
  mien_status st = sink ? mien_store_job_claim(api->store, job, &found, err, errlen)
                        : MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  *ran = found;
  if (st != MIEN_OK || !found) {
    free(sink);
    return st;
  }
  double threshold;
  const char *bucket, *name;
  cJSON *req;
  job_params(job, &threshold, &bucket, &name, &req);
  const char *coll = !strcmp(job->kind, KIND_SEARCH) ? job->collection : NULL;
  *sink = (job_sink){.api = api, .row = job->row};
  op_video_sink s = {job_metadata, job_item, job_progress, sink};
  char msg[512] = "";
  int fd = -1;
  size_t size;
  mien_video_status vst = MIEN_VIDEO_OK;
  op_video_counts counts = {0};
  /* The object may have gone or changed since Start: that is the job's failure, not mien's. */
  mien_status ost =
      bucket && name ? mien_buckets_open(api->buckets, bucket, name, (size_t)MIEN_VIDEO_MAX_BYTES,
                                         MIEN_ERR_VIDEO_TOO_LARGE, &fd, &size, msg, sizeof msg)
                     : MIEN_FAIL(msg, sizeof msg, MIEN_ERR_INVALID_S3_OBJECT,
                                 "the job's Video.S3Object is missing");
  if (ost == MIEN_OK)
    st = op_video_analyze(api, fd, coll, threshold, stop, 0, &s, &vst, NULL, &counts, msg,
                          sizeof msg);
  mien_status fst = flush(sink, st == MIEN_OK, msg, sizeof msg);
  if (st == MIEN_OK) st = fst;
  if (vst == MIEN_VIDEO_CANCELLED) {
    st = mien_store_job_requeue(api->store, job->row, err, errlen);
    snprintf(job->state, sizeof job->state, "QUEUED");
  } else {
    int ok = st == MIEN_OK && ost == MIEN_OK && vst == MIEN_VIDEO_OK;
    cJSON *audit = NULL;
    if (ok && coll) {
      audit = cJSON_CreateObject();
      cJSON_AddNumberToObject(audit, "persons", (double)counts.persons);
      cJSON_AddNumberToObject(audit, "matched_persons", (double)counts.matched_persons);
      cJSON_AddNumberToObject(audit, "matches", (double)counts.matches);
    }
    st = mien_store_job_finish(api->store, job->row, ok, ok ? NULL : msg, audit, err, errlen);
    snprintf(job->state, sizeof job->state, "%s", ok ? "SUCCEEDED" : "FAILED");
    snprintf(job->status_message, sizeof job->status_message, "%s", ok ? "" : msg);
  }
  cJSON_Delete(req);
  free(sink);
  return st;
}
