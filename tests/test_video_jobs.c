/* test_video_jobs.c - the stored-video job table (store.h, db_jobs.c) on a real store, no video:
 * ClientRequestToken idempotency and its mismatch, the limit on jobs in progress, claiming in
 * order, results paged in both of GetFaceSearch's orders, a failure discarding results, recovery
 * after a crash (queued again, then FAILED after the last attempt), requeueing at shutdown, and
 * the retention purge (audited, with the clock moved by db_test_set_now). Also the decoder's
 * refusals of bytes that are no video (mien_video_open_memory). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "store/internal.h" /* db_test_set_now */
#include "store/store.h"
#include "test_store.h"
#include "video/video.h"

typedef struct {
  char dir[512];
  mien_store *s;
  char err[512];
} fixture;

static void fx_open(fixture *f) {
  memset(f, 0, sizeof *f);
  test_store_fresh(f->dir, sizeof f->dir, "mien_test_jobs");
  CHECK(mien_store_open(f->dir, &f->s, f->err, sizeof f->err) == MIEN_OK);
}

static void fx_close(fixture *f) {
  mien_store_close(f->s);
  test_store_remove(f->dir);
}

static mien_status start(fixture *f, const char *token, const char *req, char id[MIEN_UUID_LEN],
                         int max_active) {
  return mien_store_job_start(f->s, "tester", "FaceDetection", token, req, NULL, max_active, id,
                              f->err, sizeof f->err);
}

static void test_idempotency_and_limit(void) {
  fixture f;
  fx_open(&f);
  char a[MIEN_UUID_LEN], b[MIEN_UUID_LEN], c[MIEN_UUID_LEN];
  CHECK(start(&f, "tok", "{\"Video\":{\"S3Object\":{\"Bucket\":\"b\",\"Name\":\"x\"}}}", a, 20) ==
        MIEN_OK);
  /* The same request with its members in another order is the same request. */
  CHECK(start(&f, "tok", "{ \"Video\" : {\"S3Object\":{\"Name\":\"x\",\"Bucket\":\"b\"}}}", b,
              20) == MIEN_OK);
  CHECK(!strcmp(a, b));
  CHECK(start(&f, "tok", "{\"Video\":{\"S3Object\":{\"Bucket\":\"b\",\"Name\":\"y\"}}}", c, 20) ==
        MIEN_ERR_IDEMPOTENT_MISMATCH);
  CHECK(strstr(f.err, "tok") != NULL);
  CHECK(mien_store_job_start(f.s, "tester", "FaceSearch", "tok", "{}", "c", 20, c, f.err,
                             sizeof f.err) == MIEN_ERR_IDEMPOTENT_MISMATCH);
  /* Without a token every start is a job; the limit counts queued and running ones. */
  CHECK(start(&f, NULL, "{}", b, 2) == MIEN_OK && strcmp(a, b));
  CHECK(start(&f, NULL, "{}", c, 2) == MIEN_ERR_LIMIT_EXCEEDED);
  CHECK(!strcmp(mien_status_name(MIEN_ERR_LIMIT_EXCEEDED), "LimitExceededException"));
  /* A token already used still answers its job at the limit (nothing new is queued). */
  CHECK(start(&f, "tok", "{\"Video\":{\"S3Object\":{\"Bucket\":\"b\",\"Name\":\"x\"}}}", c, 2) ==
        MIEN_OK);
  CHECK(!strcmp(a, c));
  fx_close(&f);
}

static void test_run_and_results(void) {
  fixture f;
  fx_open(&f);
  char first[MIEN_UUID_LEN], second[MIEN_UUID_LEN];
  CHECK(start(&f, NULL, "{\"n\":1}", first, 20) == MIEN_OK);
  CHECK(start(&f, NULL, "{\"n\":2}", second, 20) == MIEN_OK);
  mien_job j;
  int found;
  CHECK(mien_store_job_claim(f.s, &j, &found, f.err, sizeof f.err) == MIEN_OK && found);
  CHECK(!strcmp(j.job_id, first) && !strcmp(j.state, "RUNNING") && j.attempts == 1);
  CHECK(mien_store_job_progress(f.s, j.row, 0.5, "{\"Codec\":\"h264\"}", f.err, sizeof f.err) ==
        MIEN_OK);
  /* Two persons: 1 at 0 and 400 ms, 0 at 200 ms; stored out of order. */
  mien_job_result r[3] = {{400, 1, "{\"t\":400,\"p\":1}"},
                          {0, 1, "{\"t\":0,\"p\":1}"},
                          {200, 0, "{\"t\":200,\"p\":0}"}};
  CHECK(mien_store_job_add_results(f.s, j.row, r, 3, f.err, sizeof f.err) == MIEN_OK);
  CHECK(mien_store_job_finish(f.s, j.row, 1, NULL, NULL, f.err, sizeof f.err) == MIEN_OK);
  mien_job got;
  CHECK(mien_store_job_get(f.s, first, &got, &found, f.err, sizeof f.err) == MIEN_OK && found);
  CHECK(!strcmp(got.state, "SUCCEEDED") && got.progress == 1 && strstr(got.metadata, "h264"));
  int more;
  cJSON *items = cJSON_CreateArray();
  CHECK(mien_store_job_results(f.s, j.row, 0, 0, 2, items, &more, f.err, sizeof f.err) == MIEN_OK);
  char *text = cJSON_PrintUnformatted(items);
  CHECK_MSG(!strcmp(text, "[{\"t\":0,\"p\":1},{\"t\":200,\"p\":0}]") && more, "%s", text);
  free(text);
  cJSON_Delete(items);
  items = cJSON_CreateArray();
  CHECK(mien_store_job_results(f.s, j.row, 1, 1, 5, items, &more, f.err, sizeof f.err) == MIEN_OK);
  text = cJSON_PrintUnformatted(items);
  CHECK_MSG(!strcmp(text, "[{\"t\":0,\"p\":1},{\"t\":400,\"p\":1}]") && !more, "%s", text);
  free(text);
  cJSON_Delete(items);
  /* The second job fails: its results go, its message stays. */
  CHECK(mien_store_job_claim(f.s, &j, &found, f.err, sizeof f.err) == MIEN_OK && found);
  CHECK(!strcmp(j.job_id, second));
  CHECK(mien_store_job_add_results(f.s, j.row, r, 1, f.err, sizeof f.err) == MIEN_OK);
  CHECK(mien_store_job_finish(f.s, j.row, 0, "unsupported codec ffv1", NULL, f.err, sizeof f.err) ==
        MIEN_OK);
  CHECK(mien_store_job_get(f.s, second, &got, &found, f.err, sizeof f.err) == MIEN_OK);
  CHECK(!strcmp(got.state, "FAILED") && !strcmp(got.status_message, "unsupported codec ffv1"));
  items = cJSON_CreateArray();
  CHECK(mien_store_job_results(f.s, j.row, 0, 0, 5, items, &more, f.err, sizeof f.err) == MIEN_OK);
  CHECK(cJSON_GetArraySize(items) == 0);
  cJSON_Delete(items);
  CHECK(mien_store_job_claim(f.s, &j, &found, f.err, sizeof f.err) == MIEN_OK && !found);
  fx_close(&f);
}

static void test_recovery(void) {
  fixture f;
  fx_open(&f);
  char id[MIEN_UUID_LEN];
  CHECK(start(&f, NULL, "{}", id, 20) == MIEN_OK);
  mien_job j;
  int found;
  int64_t requeued, failed;
  /* Stopped for shutdown: queued again, the attempt not counted. */
  CHECK(mien_store_job_claim(f.s, &j, &found, f.err, sizeof f.err) == MIEN_OK && found);
  CHECK(mien_store_job_requeue(f.s, j.row, f.err, sizeof f.err) == MIEN_OK);
  /* A crash while running (the process dies: reopen the store): queued again once... */
  CHECK(mien_store_job_claim(f.s, &j, &found, f.err, sizeof f.err) == MIEN_OK && found);
  CHECK(j.attempts == 1);
  mien_job_result r = {0, -1, "{}"};
  CHECK(mien_store_job_add_results(f.s, j.row, &r, 1, f.err, sizeof f.err) == MIEN_OK);
  mien_store_close(f.s);
  CHECK(mien_store_open(f.dir, &f.s, f.err, sizeof f.err) == MIEN_OK);
  CHECK(mien_store_job_recover(f.s, 2, &requeued, &failed, f.err, sizeof f.err) == MIEN_OK);
  CHECK(requeued == 1 && failed == 0);
  /* ...with its partial results gone, then FAILED after the second crash. */
  CHECK(mien_store_job_claim(f.s, &j, &found, f.err, sizeof f.err) == MIEN_OK && found);
  CHECK(j.attempts == 2);
  int more;
  cJSON *items = cJSON_CreateArray();
  CHECK(mien_store_job_results(f.s, j.row, 0, 0, 5, items, &more, f.err, sizeof f.err) == MIEN_OK);
  CHECK(cJSON_GetArraySize(items) == 0);
  cJSON_Delete(items);
  CHECK(mien_store_job_recover(f.s, 2, &requeued, &failed, f.err, sizeof f.err) == MIEN_OK);
  CHECK(requeued == 0 && failed == 1);
  CHECK(mien_store_job_get(f.s, id, &j, &found, f.err, sizeof f.err) == MIEN_OK && found);
  CHECK(!strcmp(j.state, "FAILED") && strstr(j.status_message, "2 times"));
  fx_close(&f);
}

static void test_purge(void) {
  fixture f;
  db_test_set_now(1000000);
  fx_open(&f);
  char done[MIEN_UUID_LEN], queued[MIEN_UUID_LEN];
  mien_job j;
  int found;
  int64_t purged;
  CHECK(start(&f, NULL, "{}", done, 20) == MIEN_OK);
  CHECK(mien_store_job_claim(f.s, &j, &found, f.err, sizeof f.err) == MIEN_OK && found);
  CHECK(mien_store_job_finish(f.s, j.row, 1, NULL, NULL, f.err, sizeof f.err) == MIEN_OK);
  CHECK(start(&f, NULL, "{}", queued, 20) == MIEN_OK);
  db_test_set_now(1086399); /* a day less a second later */
  CHECK(mien_store_job_purge(f.s, 86400, &purged, f.err, sizeof f.err) == MIEN_OK && purged == 0);
  db_test_set_now(1086401);
  CHECK(mien_store_job_purge(f.s, 86400, &purged, f.err, sizeof f.err) == MIEN_OK && purged == 1);
  CHECK(mien_store_job_get(f.s, done, &j, &found, f.err, sizeof f.err) == MIEN_OK && !found);
  /* A job not yet finished is never purged. */
  CHECK(mien_store_job_get(f.s, queued, &j, &found, f.err, sizeof f.err) == MIEN_OK && found);
  mien_audit_check chk;
  CHECK(mien_audit_verify(f.dir, &chk, f.err, sizeof f.err) == MIEN_OK && chk.bad_seq == 0);
  db_test_set_now(0);
  fx_close(&f);
}

static void test_not_video(void) {
  static const struct {
    const char *bytes, *says;
  } cases[] = {{"", "not a video"},
               {"GIF89a not a video at all", "not a video"},
               {"\x1a\x45\xdf\xa3 truncated matroska", "video"}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char err[256] = "";
    mien_video *v;
    mien_video_status st = mien_video_open_memory(
        (const uint8_t *)cases[i].bytes, strlen(cases[i].bytes), NULL, NULL, &v, err, sizeof err);
    CHECK_MSG(st != MIEN_VIDEO_OK && strstr(err, cases[i].says), "case %zu: %d %s", i, st, err);
  }
}

int main(void) {
  RUN(test_idempotency_and_limit);
  RUN(test_run_and_results);
  RUN(test_recovery);
  RUN(test_purge);
  RUN(test_not_video);
  return check_summary();
}
