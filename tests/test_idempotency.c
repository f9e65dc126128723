/* test_idempotency.c - ClientRequestToken through the operation table and a real store
 * (docs/conformance.md), with no photos: faces are indexed with made-up templates. A replay
 * answers the first response (AssociateFaces' too, which a second run would not: the faces are
 * associated already); another request under the token is a mismatch, whatever the key order;
 * tokens are per caller, survive reopening the store, lapse after the window, go with their
 * collection, are not kept for a failed request, and a retry that loses a race to another with
 * the same token gets the winner's answer. */
#include <unistd.h>

#include "op_call.h"
#include "store/internal.h"
#include "test_store.h"
#include "util/util.h"

typedef struct {
  char dir[512];
  mien_api api;
  mien_status st;
  char err[1024];
  char faces[2][MIEN_UUID_LEN];
} fixture;

OP_FIXTURE_CALL(call, fixture)

/* The response as text (compared whole), "" after a failure. */
static char *text(cJSON *r) {
  char *t = r ? cJSON_PrintUnformatted(r) : strdup("");
  cJSON_Delete(r);
  return t;
}

/* Whether op answers `want` (its response text, or an error status when want is NULL). */
static void expect_text(fixture *f, const char *want, mien_status want_st, const char *op,
                        const char *body) {
  char *got = text(call(f, op, "%s", body));
  CHECK_MSG(f->st == want_st && (!want || !strcmp(got, want)), "%s %s: %s (%s) %s", op, body,
            mien_status_name(f->st), f->err, got);
  free(got);
}

static int64_t token_rows(fixture *f) {
  db_stmt *q;
  int64_t n = -1;
  if (db_prepare_raw(f->api.store->db, "SELECT count(*) FROM idempotency", &q) == 0) {
    if (db_step(q) == DB_ROW) n = db_column_int64(q, 0);
    db_finalize(q);
  }
  return n;
}

/* A fresh store with collection c, user-less faces f->faces and caller alice. */
static void fx_open(fixture *f) {
  memset(f, 0, sizeof *f);
  test_store_fresh(f->dir, sizeof f->dir, "mien-idem");
  CHECK(mien_store_open(f->dir, &f->api.store, f->err, sizeof f->err) == MIEN_OK);
  f->api.principal = "alice";
  cJSON_Delete(call(f, "CreateCollection", "{\"CollectionId\":\"c\"}"));
  float emb[2][MIEN_EMBED_DIM] = {{0}};
  emb[0][0] = emb[1][1] = 1;
  mien_new_face nf[2] = {{0, 0, 1, 1, 99, emb[0]}, {0, 0, 1, 1, 99, emb[1]}};
  uint8_t sha[32] = {1};
  char image_id[MIEN_UUID_LEN];
  CHECK(mien_store_index_image(f->api.store, "c", sha, NULL, nf, 2, image_id, f->faces, f->err,
                               sizeof f->err) == MIEN_OK);
}

static void fx_close(fixture *f) {
  mien_store_close(f->api.store);
  test_store_remove(f->dir);
}

static void test_replay_and_mismatch(void) {
  fixture f;
  fx_open(&f);
  const char *create = "{\"CollectionId\":\"c\",\"UserId\":\"u\",\"ClientRequestToken\":\"t1\"}";
  expect_text(&f, "{}", MIEN_OK, "CreateUser", create);
  expect_text(&f, "{}", MIEN_OK, "CreateUser", create);
  expect_text(&f, "{}", MIEN_OK, "CreateUser",
              "{\"ClientRequestToken\":\"t1\",  \"UserId\":\"u\",\"CollectionId\":\"c\"}");
  expect_text(&f, NULL, MIEN_ERR_IDEMPOTENT_MISMATCH, "CreateUser",
              "{\"CollectionId\":\"c\",\"UserId\":\"v\",\"ClientRequestToken\":\"t1\"}");
  CHECK(strstr(f.err, "t1") != NULL);
  /* Another caller's token of the same name is its own: the user exists for it. */
  f.api.principal = "bob";
  expect_text(&f, NULL, MIEN_ERR_CONFLICT, "CreateUser", create);
  f.api.principal = "alice";

  char assoc[300];
  snprintf(assoc, sizeof assoc,
           "{\"CollectionId\":\"c\",\"UserId\":\"u\",\"FaceIds\":[\"%s\",\"%s\"],"
           "\"ClientRequestToken\":\"a1\"}",
           f.faces[0], f.faces[1]);
  char *first = text(call(&f, "AssociateFaces", "%s", assoc));
  CHECK_MSG(strstr(first, f.faces[0]) && strstr(first, f.faces[1]) && strstr(first, "ACTIVE"), "%s",
            first);
  expect_text(&f, first, MIEN_OK, "AssociateFaces", assoc);
  /* Without the token it runs again, and answers otherwise: the replay above was a replay. */
  char *again =
      text(call(&f, "AssociateFaces",
                "{\"CollectionId\":\"c\",\"UserId\":\"u\",\"FaceIds\":[\"%s\"]}", f.faces[0]));
  CHECK_MSG(f.st == MIEN_OK && !strstr(again, "\"FaceId\""), "%s", again);
  free(again);

  char dis[300];
  snprintf(dis, sizeof dis,
           "{\"CollectionId\":\"c\",\"UserId\":\"u\",\"FaceIds\":[\"%s\"],"
           "\"ClientRequestToken\":\"d1\"}",
           f.faces[1]);
  char *dfirst = text(call(&f, "DisassociateFaces", "%s", dis));
  CHECK_MSG(strstr(dfirst, "DisassociatedFaces\":[{\"FaceId\":\"") != NULL, "%s", dfirst);
  expect_text(&f, dfirst, MIEN_OK, "DisassociateFaces", dis);

  /* Tokens survive reopening the store. */
  mien_store_close(f.api.store);
  CHECK(mien_store_open(f.dir, &f.api.store, f.err, sizeof f.err) == MIEN_OK);
  expect_text(&f, "{}", MIEN_OK, "CreateUser", create);
  expect_text(&f, first, MIEN_OK, "AssociateFaces", assoc);
  expect_text(&f, dfirst, MIEN_OK, "DisassociateFaces", dis);
  free(first), free(dfirst);

  /* DeleteUser: replayed, not ResourceNotFoundException. */
  const char *del = "{\"CollectionId\":\"c\",\"UserId\":\"u\",\"ClientRequestToken\":\"x1\"}";
  expect_text(&f, "{}", MIEN_OK, "DeleteUser", del);
  expect_text(&f, "{}", MIEN_OK, "DeleteUser", del);
  fx_close(&f);
}

static void test_failure_window_and_erasure(void) {
  fixture f;
  fx_open(&f);
  /* A failed request keeps no token: after the collection exists, the same token runs. */
  const char *in_d = "{\"CollectionId\":\"d\",\"UserId\":\"u\",\"ClientRequestToken\":\"t\"}";
  expect_text(&f, NULL, MIEN_ERR_RESOURCE_NOT_FOUND, "CreateUser", in_d);
  CHECK(token_rows(&f) == 0);
  cJSON_Delete(call(&f, "CreateCollection", "{\"CollectionId\":\"d\"}"));
  expect_text(&f, "{}", MIEN_OK, "CreateUser", in_d);
  CHECK(token_rows(&f) == 1);

  /* Past the window the token is forgotten, and purged by the next one recorded. */
  db_test_set_now(db_now() + MIEN_IDEMPOTENCY_WINDOW_S + 60);
  expect_text(&f, NULL, MIEN_ERR_CONFLICT, "CreateUser", in_d);
  expect_text(&f, "{}", MIEN_OK, "CreateUser",
              "{\"CollectionId\":\"c\",\"UserId\":\"w\",\"ClientRequestToken\":\"t2\"}");
  CHECK(token_rows(&f) == 1);
  db_test_set_now(0);

  /* A collection's tokens go with it. */
  cJSON_Delete(call(&f, "DeleteCollection", "{\"CollectionId\":\"c\"}"));
  CHECK(f.st == MIEN_OK && token_rows(&f) == 0);
  fx_close(&f);
}

/* Two retries with one token racing: both looked the token up before either recorded it; the
 * loser's change fails (the user exists now) and op_idem_end answers the winner's response. */
static void test_lost_race(void) {
  fixture f;
  fx_open(&f);
  const char *body = "{\"CollectionId\":\"c\",\"UserId\":\"r\",\"ClientRequestToken\":\"z\"}";
  cJSON *req = cJSON_Parse(body), *replay = NULL, *resp = NULL;
  mien_idem loser;
  CHECK(op_idem_begin(&f.api, req, "CreateUser", "c", &loser, &replay, f.err, sizeof f.err) ==
            MIEN_OK &&
        !replay);
  expect_text(&f, "{}", MIEN_OK, "CreateUser", body); /* the winner */
  loser.respond = op_idem_empty;
  mien_status st = mien_store_create_user(f.api.store, "c", "r", &loser, f.err, sizeof f.err);
  CHECK(st == MIEN_ERR_CONFLICT);
  st = op_idem_end(&f.api, &loser, st, &resp, f.err, sizeof f.err);
  char *got = text(resp);
  CHECK_MSG(st == MIEN_OK && !strcmp(got, "{}"), "%s %s", mien_status_name(st), got);
  free(got);
  cJSON_Delete(req);
  CHECK(token_rows(&f) == 1);
  fx_close(&f);
}

int main(void) {
  char model[600];
  if (mien_find_model("fr_detect.onnx", model, sizeof model)) {
    printf("SKIP: models absent (the store records the face model): %s\n", model);
    return 77;
  }
  RUN(test_replay_and_mismatch);
  RUN(test_failure_window_and_erasure);
  RUN(test_lost_race);
  return check_summary();
}
