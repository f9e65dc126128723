/* test_privacy.c - issue 7's privacy controls, through the store and the operation table:
 * policies in mien: tags and the tag operations; consent refusal; retention purges with a clock
 * the test moves (db_test_set_now); the audit chain and its tamper detection (edit, deletion,
 * reordering, a rewritten hash); templates encrypted at rest (unreadable without the key, a
 * wrong or exposed key refused, sealed templates bound to their face, rotation); and erasure:
 * after DeleteFaces, DeleteUser, DeleteCollection, a purge and a key rotation, no byte of the
 * erased templates (plain or sealed) is in any file under the data directory. Templates are
 * random unit vectors, so no photo is needed; the face model files must be present (a
 * collection records their hash). Each case uses its own temporary data directory. */
#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "api/ops.h"
#include "check.h"
#include "op_call.h"
#include "store/internal.h"
#include "util/util.h"

#define T0 1700000000.0 /* the test clock's start */
#define DAY 86400.0

typedef struct {
  char dir[256];
  mien_api api;
  char err[1024];
  mien_status st;
} fixture;

static void set_clock(double t) {
  db_test_set_now(t);
}

static void fx_open(fixture *f) {
  memset(f, 0, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/mien_test_privacy_XXXXXX");
  CHECK(mkdtemp(f->dir) != NULL);
  f->st = mien_store_open(f->dir, &f->api.store, f->err, sizeof f->err);
  CHECK_MSG(f->st == MIEN_OK, "open: %s", f->err);
  f->api.principal = "AKIATESTPRINCIPAL000";
}

static mien_status fx_reopen(fixture *f) {
  mien_store_close(f->api.store);
  f->api.store = NULL;
  f->err[0] = '\0';
  return f->st = mien_store_open(f->dir, &f->api.store, f->err, sizeof f->err);
}

static void fx_close(fixture *f) {
  mien_api_release(&f->api);
  mien_store_close(f->api.store);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
  CHECK(system(cmd) == 0);
  unsetenv("MIEN_TEMPLATE_KEY");
  db_test_set_now(0);
}

/* op(f, name, fmt, ...): runs operation name with the JSON body made from fmt. */
OP_FIXTURE_CALL(op, fixture)

/* op must succeed (its response is dropped) or fail with want. */
#define OP_OK(f, name, ...)                                                                        \
  do {                                                                                             \
    cJSON *r_ = op(f, name, __VA_ARGS__);                                                          \
    CHECK_MSG(r_ != NULL, "%s: %s %s", name, mien_status_name((f)->st), (f)->err);                 \
    cJSON_Delete(r_);                                                                              \
  } while (0)
#define OP_ERR(f, want, name, ...)                                                                 \
  do {                                                                                             \
    cJSON *r_ = op(f, name, __VA_ARGS__);                                                          \
    CHECK_MSG(!r_ && (f)->st == (want), "%s: got %s (%s), wanted %s", name,                        \
              mien_status_name((f)->st), (f)->err, mien_status_name(want));                        \
    cJSON_Delete(r_);                                                                              \
  } while (0)

/* A random unit vector from seed. */
static void random_template(unsigned seed, float *e) {
  float norm = 0;
  for (int d = 0; d < MIEN_EMBED_DIM; d++) {
    e[d] = (float)rand_r(&seed) / (float)RAND_MAX - 0.5f;
    norm += e[d] * e[d];
  }
  for (int d = 0; d < MIEN_EMBED_DIM; d++) e[d] /= sqrtf(norm);
}

/* Indexes one image with the template of seed (external may be NULL); FaceId into id. */
static mien_status add_face(fixture *f, const char *coll, unsigned seed, const char *external,
                            char id[MIEN_UUID_LEN]) {
  float e[MIEN_EMBED_DIM];
  random_template(seed, e);
  mien_new_face nf = {0.1f, 0.1f, 0.5f, 0.5f, 99.0f, e};
  uint8_t sha[32] = {(uint8_t)seed, (uint8_t)(seed >> 8)};
  char image_id[MIEN_UUID_LEN], ids[1][MIEN_UUID_LEN];
  f->st = mien_store_index_image_as(f->api.store, f->api.principal, coll, sha, external, &nf, 1,
                                    image_id, ids, f->err, sizeof f->err);
  if (id) memcpy(id, ids[0], MIEN_UUID_LEN);
  return f->st;
}

/* Whether needle occurs in any file under dir, recursively. */
static int found_under(const char *dir, const void *needle, size_t len) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int found = 0;
  while (d && !found && (e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    struct stat sb;
    if (lstat(p, &sb) != 0) continue;
    if (S_ISDIR(sb.st_mode)) {
      found = found_under(p, needle, len);
      continue;
    }
    size_t n;
    uint8_t *bytes = mien_read_file(p, &n);
    found = bytes && memmem(bytes, n, needle, len) != NULL;
    free(bytes);
  }
  if (d) closedir(d);
  return found;
}

/* Whether any 32-byte piece of the template of seed is under dir: a piece of eight floats
 * cannot occur by chance. */
static int template_under(const char *dir, unsigned seed) {
  float e[MIEN_EMBED_DIM];
  random_template(seed, e);
  for (int k = 0; k < MIEN_EMBED_DIM / 8; k++)
    if (found_under(dir, e + 8 * k, 32)) return 1;
  return 0;
}

/* The stored blob of face id (sealed or plain) into out; its length. */
static int stored_blob(const char *dir, const char *face_id, uint8_t *out, int cap) {
  char path[300];
  snprintf(path, sizeof path, "%s/mien.db", dir);
  sqlite3 *db;
  sqlite3_stmt *q;
  int n = -1;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
      sqlite3_prepare_v2(db, "SELECT embedding FROM faces WHERE face_id = ?", -1, &q, NULL) ==
          SQLITE_OK) {
    sqlite3_bind_text(q, 1, face_id, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW && (n = sqlite3_column_bytes(q, 0)) <= cap)
      memcpy(out, sqlite3_column_blob(q, 0), (size_t)n);
    sqlite3_finalize(q);
  }
  sqlite3_close(db);
  return n;
}

/* Runs SQL statements on dir's database directly (a tamperer's sqlite3); SQLite's result. */
static int sql(const char *dir, const char *statements) {
  char path[300];
  snprintf(path, sizeof path, "%s/mien.db", dir);
  sqlite3 *db;
  int rc = sqlite3_open(path, &db);
  if (rc == SQLITE_OK) rc = sqlite3_exec(db, statements, NULL, NULL, NULL);
  sqlite3_close(db);
  return rc;
}

/* The audit records of dir, exported, one string (records separated by newlines). */
typedef struct {
  char *text;
  size_t len;
  int n;
} export_buf;

static int collect(void *ctx, const char *record) {
  export_buf *b = ctx;
  size_t n = strlen(record);
  b->text = realloc(b->text, b->len + n + 2);
  memcpy(b->text + b->len, record, n);
  b->len += n;
  b->text[b->len++] = '\n';
  b->text[b->len] = '\0';
  b->n++;
  return 0;
}

static export_buf audit_of(const char *dir) {
  export_buf b = {0};
  char err[256];
  CHECK(mien_audit_export(dir, 0, collect, &b, err, sizeof err) == MIEN_OK);
  if (!b.text) b.text = calloc(1, 1);
  return b;
}

/* The number of audit records of op in dir. */
static int audit_count(const char *dir, const char *opname) {
  export_buf b = audit_of(dir);
  char needle[80];
  snprintf(needle, sizeof needle, "\"op\":\"%s\"", opname);
  int n = 0;
  for (const char *p = b.text; (p = strstr(p, needle)); p++) n++;
  free(b.text);
  return n;
}

static const char *arn(const char *coll) {
  static char buf[300];
  snprintf(buf, sizeof buf, "mien:rekognition:local:000000000000:collection/%s", coll);
  return buf;
}

/* ---- policy in tags ---- */

static void test_policy_tags(void) {
  fixture f;
  fx_open(&f);
  OP_OK(&f, "CreateCollection",
        "{\"CollectionId\":\"door\",\"Tags\":{\"mien:purpose\":\"door access\","
        "\"mien:retention-days\":\"30\",\"mien:consent\":\"required\",\"team\":\"a\"}}");
  mien_policy p;
  CHECK(mien_store_get_policy(f.api.store, "door", &p, f.err, sizeof f.err) == MIEN_OK);
  CHECK(!strcmp(p.purpose, "door access") && p.retention_days == 30 && p.consent_required);
  static const char *const bad[] = {
      "{\"mien:retention\":\"30\"}",         "{\"mien:retention-days\":\"0\"}",
      "{\"mien:retention-days\":\"36501\"}", "{\"mien:retention-days\":\"3.5\"}",
      "{\"mien:retention-days\":\"-1\"}",    "{\"mien:retention-days\":\"\"}",
      "{\"mien:consent\":\"maybe\"}",        "{\"mien:purpose\":\"\"}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    OP_ERR(&f, MIEN_ERR_INVALID_PARAMETER, "CreateCollection",
           "{\"CollectionId\":\"x%zu\",\"Tags\":%s}", i, bad[i]);
  cJSON *r = op(&f, "ListCollections", "{}");
  CHECK(r && cJSON_GetArraySize(cJSON_GetObjectItem(r, "CollectionIds")) == 1);
  cJSON_Delete(r);

  /* ListTagsForResource, TagResource, UntagResource, with mien's and AWS-shaped ARNs. */
  r = op(&f, "ListTagsForResource", "{\"ResourceArn\":\"%s\"}", arn("door"));
  cJSON *tags = cJSON_GetObjectItem(r, "Tags");
  CHECK(cJSON_GetArraySize(tags) == 4 &&
        !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(tags, "team")), "a"));
  cJSON_Delete(r);
  OP_OK(&f, "TagResource",
        "{\"ResourceArn\":\"arn:aws:rekognition:eu-west-1:123456789012:collection/door\","
        "\"Tags\":{\"mien:consent\":\"none\",\"site\":\"b\"}}");
  OP_OK(&f, "UntagResource", "{\"ResourceArn\":\"%s\",\"TagKeys\":[\"mien:purpose\",\"team\"]}",
        arn("door"));
  CHECK(mien_store_get_policy(f.api.store, "door", &p, f.err, sizeof f.err) == MIEN_OK);
  CHECK(!p.purpose[0] && p.retention_days == 30 && !p.consent_required);
  r = op(&f, "ListTagsForResource", "{\"ResourceArn\":\"%s\"}", arn("door"));
  tags = cJSON_GetObjectItem(r, "Tags");
  CHECK(cJSON_GetArraySize(tags) == 3 && cJSON_GetObjectItem(tags, "site") &&
        !cJSON_GetObjectItem(tags, "team"));
  cJSON_Delete(r);
  OP_ERR(&f, MIEN_ERR_INVALID_PARAMETER, "TagResource",
         "{\"ResourceArn\":\"%s\",\"Tags\":{\"mien:consent\":\"yes\"}}", arn("door"));
  OP_ERR(&f, MIEN_ERR_INVALID_PARAMETER, "TagResource", "{\"ResourceArn\":\"%s\",\"Tags\":{}}",
         arn("door"));
  OP_ERR(&f, MIEN_ERR_INVALID_PARAMETER, "TagResource",
         "{\"ResourceArn\":\"arn:aws:s3:::bucket\",\"Tags\":{\"a\":\"b\"}}");
  OP_ERR(&f, MIEN_ERR_RESOURCE_NOT_FOUND, "ListTagsForResource", "{\"ResourceArn\":\"%s\"}",
         arn("nope"));
  OP_ERR(&f, MIEN_ERR_INVALID_PARAMETER, "UntagResource", "{\"ResourceArn\":\"%s\"}", arn("door"));
  /* 50 tags at most, counted after the merge. */
  char many[4000] = "{";
  for (int i = 0; i < 48; i++)
    snprintf(many + strlen(many), sizeof many - strlen(many), "%s\"k%d\":\"v\"", i ? "," : "", i);
  strcat(many, "}");
  OP_ERR(&f, MIEN_ERR_QUOTA, "TagResource", "{\"ResourceArn\":\"%s\",\"Tags\":%s}", arn("door"),
         many);
  /* Every change of policy is audited, with the policy it leaves. */
  CHECK(audit_count(f.dir, "CreateCollection") == 1 && audit_count(f.dir, "TagResource") == 1 &&
        audit_count(f.dir, "UntagResource") == 1);
  export_buf b = audit_of(f.dir);
  CHECK(strstr(b.text, "\"purpose\":\"door access\",\"retention_days\":30,\"consent\":"
                       "\"required\"") != NULL);
  CHECK(strstr(b.text, "\"principal\":\"AKIATESTPRINCIPAL000\"") != NULL);
  free(b.text);
  fx_close(&f);
}

/* ---- consent ---- */

static void test_consent(void) {
  fixture f;
  fx_open(&f);
  OP_OK(&f, "CreateCollection",
        "{\"CollectionId\":\"c\",\"Tags\":{\"mien:consent\":\"required\"}}");
  CHECK(mien_consent_ref("consent-F17:alice") == 3 && mien_consent_ref("consent-a.b_c-9") == 7);
  static const char *const refused[] = {NULL,        "alice",      "consent-",    "consent-:x",
                                        "consentF1", "Consent-F1", "x:consent-F1"};
  for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
    CHECK_MSG(add_face(&f, "c", 1, refused[i], NULL) == MIEN_ERR_ACCESS_DENIED, "%s: %s",
              refused[i] ? refused[i] : "(none)", mien_status_name(f.st));
  CHECK(strstr(f.err, "consent-") != NULL);
  CHECK(add_face(&f, "c", 2, "consent-F17:alice", NULL) == MIEN_OK);
  CHECK(add_face(&f, "c", 3, "consent-F18", NULL) == MIEN_OK);
  /* IndexFaces refuses before reading the image (these bytes are no image) and audits it. */
  static const uint8_t junk[] = "not an image";
  f.api.image = junk, f.api.image_len = sizeof junk;
  OP_ERR(&f, MIEN_ERR_ACCESS_DENIED, "IndexFaces", "{\"CollectionId\":\"c\"}");
  OP_ERR(&f, MIEN_ERR_ACCESS_DENIED, "IndexFaces",
         "{\"CollectionId\":\"c\",\"ExternalImageId\":\"bob\"}");
  OP_ERR(&f, MIEN_ERR_INVALID_IMAGE_FORMAT, "IndexFaces",
         "{\"CollectionId\":\"c\",\"ExternalImageId\":\"consent-F19:bob\"}");
  f.api.image = NULL;
  cJSON *r = op(&f, "DescribeCollection", "{\"CollectionId\":\"c\"}");
  CHECK(r && cJSON_GetObjectItem(r, "FaceCount")->valuedouble == 2);
  cJSON_Delete(r);
  /* The audit keeps the consent reference, never the rest of the ExternalImageId. */
  export_buf b = audit_of(f.dir);
  CHECK(strstr(b.text, "\"consent\":\"F17\"") && strstr(b.text, "\"consent\":\"F18\""));
  CHECK(!strstr(b.text, "alice") && !strstr(b.text, "bob"));
  CHECK(strstr(b.text, "\"refused_no_consent\":1") != NULL);
  free(b.text);
  /* Without the requirement, any ExternalImageId (or none) is fine. */
  OP_OK(&f, "TagResource", "{\"ResourceArn\":\"%s\",\"Tags\":{\"mien:consent\":\"none\"}}",
        arn("c"));
  CHECK(add_face(&f, "c", 4, NULL, NULL) == MIEN_OK);
  fx_close(&f);
}

/* ---- retention ---- */

static void test_retention(void) {
  fixture f;
  set_clock(T0);
  fx_open(&f);
  OP_OK(&f, "CreateCollection",
        "{\"CollectionId\":\"c\",\"Tags\":{\"mien:retention-days\":\"30\"}}");
  OP_OK(&f, "CreateCollection", "{\"CollectionId\":\"keep\"}");
  char old1[MIEN_UUID_LEN], old2[MIEN_UUID_LEN], young[MIEN_UUID_LEN], other[MIEN_UUID_LEN];
  CHECK(add_face(&f, "c", 11, "old-one", old1) == MIEN_OK);
  CHECK(add_face(&f, "c", 12, NULL, old2) == MIEN_OK);
  CHECK(add_face(&f, "keep", 13, NULL, other) == MIEN_OK);
  OP_OK(&f, "CreateUser", "{\"CollectionId\":\"c\",\"UserId\":\"early\"}");
  OP_OK(&f, "AssociateFaces", "{\"CollectionId\":\"c\",\"UserId\":\"early\",\"FaceIds\":[\"%s\"]}",
        old2);
  set_clock(T0 + 20 * DAY);
  CHECK(add_face(&f, "c", 14, NULL, young) == MIEN_OK);
  OP_OK(&f, "CreateUser", "{\"CollectionId\":\"c\",\"UserId\":\"late\"}");
  /* Searching loads the index: the purge must take the faces out of it too. */
  OP_OK(&f, "SearchFaces", "{\"CollectionId\":\"c\",\"FaceId\":\"%s\"}", young);

  set_clock(T0 + 29.9 * DAY);
  int64_t n = -1;
  CHECK(mien_store_purge_expired(f.api.store, &n, f.err, sizeof f.err) == MIEN_OK && n == 0);
  CHECK(audit_count(f.dir, "Purge") == 0);
  set_clock(T0 + 30.1 * DAY);
  CHECK(mien_store_purge_expired(f.api.store, &n, f.err, sizeof f.err) == MIEN_OK);
  CHECK_MSG(n == 2, "purged %lld", (long long)n);
  mien_face_record rec;
  int found;
  CHECK(mien_store_get_face(f.api.store, "c", old1, &rec, &found, f.err, sizeof f.err) == MIEN_OK &&
        !found);
  CHECK(mien_store_get_face(f.api.store, "c", young, &rec, &found, f.err, sizeof f.err) ==
            MIEN_OK &&
        found);
  CHECK(mien_store_get_face(f.api.store, "keep", other, &rec, &found, f.err, sizeof f.err) ==
            MIEN_OK &&
        found);
  float e[MIEN_EMBED_DIM], cos[4];
  mien_face_record hits[4];
  int nh;
  random_template(11, e);
  CHECK(mien_store_search(f.api.store, "c", e, 4, 0.99f, 0, 0, hits, cos, &nh, f.err,
                          sizeof f.err) == MIEN_OK &&
        nh == 0);
  /* The user whose faces all went, created before the cutoff, went with them; the younger
   * user stays. The image rows (ExternalImageId "old-one") are gone. */
  mien_user_record u;
  CHECK(mien_store_get_user(f.api.store, "c", "early", &u, &found, f.err, sizeof f.err) ==
            MIEN_OK &&
        !found);
  CHECK(mien_store_get_user(f.api.store, "c", "late", &u, &found, f.err, sizeof f.err) == MIEN_OK &&
        found);
  export_buf b = audit_of(f.dir);
  CHECK(strstr(b.text,
               "\"principal\":\"retention\",\"op\":\"Purge\",\"collection\":\"c\",\"faces\":2,"
               "\"images\":2,\"users\":1,\"retention_days\":30") != NULL);
  free(b.text);
  CHECK(!template_under(f.dir, 11) && !template_under(f.dir, 12) && template_under(f.dir, 14));
  CHECK(!found_under(f.dir, "old-one", 7));

  /* On open, with the clock past the young face's retention. */
  set_clock(T0 + 51 * DAY);
  CHECK(fx_reopen(&f) == MIEN_OK);
  CHECK(mien_store_get_face(f.api.store, "c", young, &rec, &found, f.err, sizeof f.err) ==
            MIEN_OK &&
        !found);
  CHECK(!template_under(f.dir, 14) && template_under(f.dir, 13));
  /* A retention set later applies at once. */
  OP_OK(&f, "TagResource", "{\"ResourceArn\":\"%s\",\"Tags\":{\"mien:retention-days\":\"50\"}}",
        arn("keep"));
  CHECK(mien_store_get_face(f.api.store, "keep", other, &rec, &found, f.err, sizeof f.err) ==
            MIEN_OK &&
        !found);
  CHECK(audit_count(f.dir, "Purge") == 3);
  fx_close(&f);
}

/* ---- the audit chain ---- */

/* Replaces from with to in record seq of dir's audit log and stores the new text's true hash,
 * as a tamperer who knows the scheme would. */
static void rewrite_record(const char *dir, int seq, const char *from, const char *to) {
  char path[300], text[4096], hex[65];
  snprintf(path, sizeof path, "%s/mien.db", dir);
  sqlite3 *db;
  sqlite3_stmt *q;
  CHECK(sqlite3_open(path, &db) == SQLITE_OK);
  CHECK(sqlite3_prepare_v2(db, "SELECT record FROM audit WHERE seq = ?", -1, &q, NULL) ==
        SQLITE_OK);
  sqlite3_bind_int(q, 1, seq);
  CHECK(sqlite3_step(q) == SQLITE_ROW);
  const char *old = (const char *)sqlite3_column_text(q, 0), *at = strstr(old, from);
  CHECK(at != NULL);
  snprintf(text, sizeof text, "%.*s%s%s", (int)(at - old), old, to, at + strlen(from));
  sqlite3_finalize(q);
  uint8_t h[32];
  mien_sha256(text, strlen(text), h);
  for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", h[i]);
  CHECK(sqlite3_prepare_v2(db, "UPDATE audit SET record = ?, hash = ? WHERE seq = ?", -1, &q,
                           NULL) == SQLITE_OK);
  sqlite3_bind_text(q, 1, text, -1, SQLITE_STATIC);
  sqlite3_bind_text(q, 2, hex, -1, SQLITE_STATIC);
  sqlite3_bind_int(q, 3, seq);
  CHECK(sqlite3_step(q) == SQLITE_DONE);
  sqlite3_finalize(q);
  sqlite3_close(db);
}

/* Copies the store of src into a new directory, applies the tamper SQL (and, when from is not
 * NULL, rewrite_record of record 4) and verifies it: returns the first bad record (0 when the
 * chain holds). */
static int64_t tampered(const char *src, const char *statements, const char *from, const char *to) {
  char dir[256], cmd[700];
  snprintf(dir, sizeof dir, "/tmp/mien_test_privacy_XXXXXX");
  CHECK(mkdtemp(dir) != NULL);
  snprintf(cmd, sizeof cmd, "cp '%s/mien.db' '%s/'", src, dir);
  CHECK(system(cmd) == 0);
  CHECK_MSG(sql(dir, statements) == SQLITE_OK, "%s", statements);
  if (from) rewrite_record(dir, 4, from, to);
  mien_audit_check c;
  char err[256];
  CHECK(mien_audit_verify(dir, &c, err, sizeof err) == MIEN_OK);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK(system(cmd) == 0);
  return c.bad_seq;
}

static void test_audit_chain(void) {
  fixture f;
  fx_open(&f);
  OP_OK(&f, "CreateCollection", "{\"CollectionId\":\"c\"}");
  char a[MIEN_UUID_LEN], b[MIEN_UUID_LEN];
  CHECK(add_face(&f, "c", 21, "consent-K1:carol", a) == MIEN_OK);
  CHECK(add_face(&f, "c", 22, NULL, b) == MIEN_OK);
  OP_OK(&f, "SearchFaces", "{\"CollectionId\":\"c\",\"FaceId\":\"%s\",\"FaceMatchThreshold\":0}",
        a);
  OP_OK(&f, "CreateUser", "{\"CollectionId\":\"c\",\"UserId\":\"carol-smith\"}");
  OP_OK(&f, "DeleteUser", "{\"CollectionId\":\"c\",\"UserId\":\"carol-smith\"}");
  OP_OK(&f, "DeleteFaces", "{\"CollectionId\":\"c\",\"FaceIds\":[\"%s\"]}", a);
  OP_OK(&f, "DeleteCollection", "{\"CollectionId\":\"c\"}");
  mien_audit_check c;
  CHECK(mien_audit_verify(f.dir, &c, f.err, sizeof f.err) == MIEN_OK);
  CHECK_MSG(c.records == 7 && c.bad_seq == 0 && strlen(c.head) == 64, "%lld records, bad %lld",
            (long long)c.records, (long long)c.bad_seq);
  export_buf e = audit_of(f.dir);
  static const char *const ops[] = {"CreateCollection", "IndexFaces", "IndexFaces",
                                    "SearchFaces",      "DeleteUser", "DeleteFaces",
                                    "DeleteCollection"};
  const char *p = e.text;
  for (size_t i = 0; i < sizeof ops / sizeof *ops && p; i++) {
    char needle[64];
    snprintf(needle, sizeof needle, "\"op\":\"%s\"", ops[i]);
    p = strstr(p, needle);
    CHECK_MSG(p != NULL, "no %s record in order", ops[i]);
  }
  /* Who and what, never whom: no FaceId, UserId or ExternalImageId beyond the reference. */
  CHECK(!strstr(e.text, a) && !strstr(e.text, b) && !strstr(e.text, "carol"));
  CHECK(strstr(e.text, "\"matches\":1") && strstr(e.text, "\"op\":\"DeleteFaces\",\"collection\":"
                                                          "\"c\",\"faces\":1,\"requested\":1"));
  free(e.text);
  mien_store_close(f.api.store);
  f.api.store = NULL;

  /* The table refuses changes; a tamperer who drops the triggers is caught by verify. */
  CHECK(sql(f.dir, "UPDATE audit SET record = record WHERE seq = 3") != SQLITE_OK);
  CHECK(sql(f.dir, "DELETE FROM audit WHERE seq = 7") != SQLITE_OK);
  CHECK(tampered(f.dir, "SELECT 1", NULL, NULL) == 0);
  const char *drop = "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;";
  char s[600];
  snprintf(s, sizeof s,
           "%s UPDATE audit SET record = replace(record, '\"matches\":1', '\"matches\":0')"
           " WHERE seq = 4",
           drop);
  CHECK(tampered(f.dir, s, NULL, NULL) == 4);
  /* The same edit with the record's hash recomputed: the next record no longer follows. */
  CHECK(tampered(f.dir, drop, "\"matches\":1", "\"matches\":0") == 5);
  snprintf(s, sizeof s, "%s DELETE FROM audit WHERE seq = 5", drop);
  CHECK(tampered(f.dir, s, NULL, NULL) == 5);
  snprintf(s, sizeof s, "%s DELETE FROM audit WHERE seq = 1", drop);
  CHECK(tampered(f.dir, s, NULL, NULL) == 1);
  /* Two records swapped (their rows keep their numbers). */
  snprintf(s, sizeof s,
           "%s CREATE TEMP TABLE t AS SELECT * FROM audit WHERE seq IN (2, 3);"
           " UPDATE audit SET record = (SELECT record FROM t WHERE seq = 3), hash = (SELECT hash"
           " FROM t WHERE seq = 3) WHERE seq = 2; UPDATE audit SET record = (SELECT record FROM"
           " t WHERE seq = 2), hash = (SELECT hash FROM t WHERE seq = 2) WHERE seq = 3",
           drop);
  CHECK(tampered(f.dir, s, NULL, NULL) == 2);
  fx_close(&f);
}

/* ---- templates encrypted at rest ---- */

/* A new key file (mode 0600) outside any data directory; its path into out[64]. */
static void make_key(char out[64]) {
  snprintf(out, 64, "/tmp/mien_test_key_XXXXXX");
  int fd = mkstemp(out);
  CHECK(fd >= 0);
  close(fd);
  unlink(out);
  char err[256];
  CHECK_MSG(mien_template_key_new(out, err, sizeof err) == MIEN_OK, "%s", err);
}

static void test_encryption(void) {
  fixture f;
  char k1[64], k2[64], kbad[80];
  make_key(k1);
  make_key(k2);
  char err[512];
  CHECK(mien_template_key_new(k1, err, sizeof err) == MIEN_ERR_IO); /* never overwrites */
  setenv("MIEN_TEMPLATE_KEY", k1, 1);
  fx_open(&f);
  OP_OK(&f, "CreateCollection", "{\"CollectionId\":\"c\"}");
  char a[MIEN_UUID_LEN], b[MIEN_UUID_LEN];
  CHECK(add_face(&f, "c", 31, NULL, a) == MIEN_OK);
  CHECK(add_face(&f, "c", 32, NULL, b) == MIEN_OK);
  CHECK(mien_store_checkpoint(f.api.store, f.err, sizeof f.err) == MIEN_OK);
  CHECK_MSG(!template_under(f.dir, 31), "a plain template is on disk in an encrypted store");
  uint8_t sealed_a[DB_SEALED_BYTES + 8], sealed_b[DB_SEALED_BYTES + 8];
  CHECK(stored_blob(f.dir, a, sealed_a, sizeof sealed_a) == DB_SEALED_BYTES);
  CHECK(stored_blob(f.dir, b, sealed_b, sizeof sealed_b) == DB_SEALED_BYTES);
  CHECK(found_under(f.dir, sealed_a + 13, 64));
  /* Opened for search: the templates come back exact. */
  mien_face_record rec;
  int found;
  float e[MIEN_EMBED_DIM];
  random_template(31, e);
  CHECK(mien_store_get_face(f.api.store, "c", a, &rec, &found, f.err, sizeof f.err) == MIEN_OK &&
        found && !memcmp(rec.emb, e, sizeof e));
  cJSON *r = op(&f, "SearchFaces", "{\"CollectionId\":\"c\",\"FaceId\":\"%s\"}", b);
  CHECK(r && cJSON_GetArraySize(cJSON_GetObjectItem(r, "FaceMatches")) == 0);
  cJSON_Delete(r);

  /* No key, another key, an exposed key file: refused with a clear error. */
  unsetenv("MIEN_TEMPLATE_KEY");
  CHECK(fx_reopen(&f) == MIEN_ERR_IO && strstr(f.err, "encrypted") && !f.api.store);
  setenv("MIEN_TEMPLATE_KEY", k2, 1);
  CHECK(fx_reopen(&f) == MIEN_ERR_IO && strstr(f.err, "not the key"));
  snprintf(kbad, sizeof kbad, "%s.exposed", k1);
  char cmd[900];
  snprintf(cmd, sizeof cmd, "cp '%s' '%s' && chmod 644 '%s'", k1, kbad, kbad);
  CHECK(system(cmd) == 0);
  setenv("MIEN_TEMPLATE_KEY", kbad, 1);
  CHECK(fx_reopen(&f) == MIEN_ERR_IO && strstr(f.err, "chmod 600"));
  setenv("MIEN_TEMPLATE_KEY", k1, 1);
  CHECK(fx_reopen(&f) == MIEN_OK);

  /* A sealed template moved to another face does not open. */
  mien_store_close(f.api.store);
  f.api.store = NULL;
  snprintf(cmd, sizeof cmd,
           "UPDATE faces SET embedding = (SELECT embedding FROM faces WHERE face_id = '%s')"
           " WHERE face_id = '%s'",
           a, b);
  CHECK(sql(f.dir, cmd) == SQLITE_OK);
  CHECK(fx_reopen(&f) == MIEN_OK);
  CHECK(mien_store_get_face(f.api.store, "c", b, &rec, &found, f.err, sizeof f.err) ==
            MIEN_ERR_IO &&
        strstr(f.err, "authenticate"));
  OP_ERR(&f, MIEN_ERR_IO, "SearchFaces", "{\"CollectionId\":\"c\",\"FaceId\":\"%s\"}", a);
  OP_OK(&f, "DeleteFaces", "{\"CollectionId\":\"c\",\"FaceIds\":[\"%s\"]}", b);

  /* Rotation: every template re-sealed with k2 in one go; k1's ciphertext gone from disk. */
  int64_t n;
  CHECK(mien_store_rotate_template_key(f.api.store, "cli", k1, &n, f.err, sizeof f.err) ==
        MIEN_ERR_INVALID_PARAMETER);
  CHECK(mien_store_rotate_template_key(f.api.store, "cli", k2, &n, f.err, sizeof f.err) ==
            MIEN_OK &&
        n == 1);
  CHECK(!found_under(f.dir, sealed_a + 13, 64) && !found_under(f.dir, sealed_b + 13, 64));
  CHECK(mien_store_get_face(f.api.store, "c", a, &rec, &found, f.err, sizeof f.err) == MIEN_OK &&
        found && !memcmp(rec.emb, e, sizeof e));
  CHECK(fx_reopen(&f) == MIEN_ERR_IO); /* still k1 configured */
  setenv("MIEN_TEMPLATE_KEY", k2, 1);
  CHECK(fx_reopen(&f) == MIEN_OK);
  CHECK(mien_store_get_face(f.api.store, "c", a, &rec, &found, f.err, sizeof f.err) == MIEN_OK &&
        found && !memcmp(rec.emb, e, sizeof e));
  CHECK(audit_count(f.dir, "RotateTemplateKey") == 1);
  /* The key itself is nowhere under the data directory. */
  uint8_t key[MIEN_TEMPLATE_KEY_LEN];
  CHECK(mien_template_key_read(k2, key, err, sizeof err) == MIEN_OK);
  CHECK(!found_under(f.dir, key, sizeof key));
  fx_close(&f);
  unlink(k1), unlink(k2), unlink(kbad);
}

/* An unencrypted store with templates is refused a key until rotation encrypts it. */
static void test_encrypt_existing(void) {
  fixture f;
  fx_open(&f);
  OP_OK(&f, "CreateCollection", "{\"CollectionId\":\"c\"}");
  char a[MIEN_UUID_LEN];
  CHECK(add_face(&f, "c", 41, NULL, a) == MIEN_OK);
  CHECK(mien_store_checkpoint(f.api.store, f.err, sizeof f.err) == MIEN_OK);
  CHECK(template_under(f.dir, 41));
  char k[64];
  make_key(k);
  setenv("MIEN_TEMPLATE_KEY", k, 1);
  CHECK(fx_reopen(&f) == MIEN_ERR_IO && strstr(f.err, "rotate-template-key"));
  unsetenv("MIEN_TEMPLATE_KEY");
  CHECK(fx_reopen(&f) == MIEN_OK);
  int64_t n;
  CHECK(mien_store_rotate_template_key(f.api.store, "cli", k, &n, f.err, sizeof f.err) == MIEN_OK &&
        n == 1);
  CHECK_MSG(!template_under(f.dir, 41), "the plain template survived encryption");
  CHECK(stored_blob(f.dir, a, (uint8_t[DB_SEALED_BYTES]){0}, DB_SEALED_BYTES) == DB_SEALED_BYTES);
  unsetenv("MIEN_TEMPLATE_KEY");
  CHECK(fx_reopen(&f) == MIEN_ERR_IO);
  setenv("MIEN_TEMPLATE_KEY", k, 1);
  CHECK(fx_reopen(&f) == MIEN_OK);
  fx_close(&f);
  unlink(k);
}

/* A rotation killed (SIGKILL) at some point leaves the store wholly under one key: it opens
 * with exactly one of the two, and every template then opens. */
static void test_rotation_crash(void) {
  char k1[64], k2[64];
  make_key(k1);
  make_key(k2);
  static const int delays_us[] = {1000, 5000, 20000, 80000};
  int old_key = 0, new_key = 0;
  for (size_t t = 0; t < sizeof delays_us / sizeof *delays_us; t++) {
    fixture f;
    setenv("MIEN_TEMPLATE_KEY", k1, 1);
    fx_open(&f);
    OP_OK(&f, "CreateCollection", "{\"CollectionId\":\"c\"}");
    enum { N = 2000 };
    float *emb = malloc((size_t)N * MIEN_EMBED_DIM * sizeof *emb);
    mien_new_face *nf = malloc(N * sizeof *nf);
    char(*ids)[MIEN_UUID_LEN] = malloc(N * sizeof *ids), image_id[MIEN_UUID_LEN];
    for (int i = 0; i < N; i++) {
      random_template(1000 + (unsigned)i, emb + (size_t)i * MIEN_EMBED_DIM);
      nf[i] = (mien_new_face){0, 0, 1, 1, 99, emb + (size_t)i * MIEN_EMBED_DIM};
    }
    uint8_t sha[32] = {7};
    CHECK(mien_store_index_image(f.api.store, "c", sha, NULL, nf, N, image_id, ids, f.err,
                                 sizeof f.err) == MIEN_OK);
    mien_store_close(f.api.store);
    f.api.store = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
      mien_store *s;
      char err[256];
      int64_t n;
      if (mien_store_open(f.dir, &s, err, sizeof err) != MIEN_OK ||
          mien_store_rotate_template_key(s, "cli", k2, &n, err, sizeof err) != MIEN_OK)
        _exit(1);
      _exit(0);
    }
    usleep((useconds_t)delays_us[t]);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    CHECK(!WIFEXITED(status) || WEXITSTATUS(status) == 0);
    int with1 = fx_reopen(&f) == MIEN_OK;
    if (with1) mien_store_close(f.api.store), f.api.store = NULL;
    setenv("MIEN_TEMPLATE_KEY", k2, 1);
    int with2 = fx_reopen(&f) == MIEN_OK;
    if (!with2) {
      setenv("MIEN_TEMPLATE_KEY", k1, 1);
      CHECK(fx_reopen(&f) == MIEN_OK);
    }
    CHECK_MSG(with1 + with2 == 1, "delay %d us: opens with k1 %d, k2 %d", delays_us[t], with1,
              with2);
    old_key += with1, new_key += with2;
    /* Loading the index opens every template. */
    mien_face_record hit;
    float cos;
    int n;
    CHECK_MSG(mien_store_search(f.api.store, "c", emb, 1, 0.99f, 0, 0, &hit, &cos, &n, f.err,
                                sizeof f.err) == MIEN_OK &&
                  n == 1 && !strcmp(hit.face_id, ids[0]),
              "%s", f.err);
    free(emb), free(nf), free(ids);
    fx_close(&f);
  }
  printf("  rotation killed: %d times before its commit, %d after\n", old_key, new_key);
  unlink(k1), unlink(k2);
}

/* ---- erasure ---- */

/* DeleteFaces, DeleteUser, DeleteCollection: the erased template's bytes (plain, and sealed when
 * encrypted), the ExternalImageId and the UserId are nowhere under the data directory, and
 * nothing but the database, its WAL and its shared-memory index is there. */
static void erasure(int encrypted) {
  fixture f;
  char k[64] = "";
  if (encrypted) {
    make_key(k);
    setenv("MIEN_TEMPLATE_KEY", k, 1);
  }
  fx_open(&f);
  OP_OK(&f, "CreateCollection", "{\"CollectionId\":\"c\"}");
  OP_OK(&f, "CreateCollection", "{\"CollectionId\":\"gone\"}");
  char keep[20][MIEN_UUID_LEN], del[MIEN_UUID_LEN], in_gone[MIEN_UUID_LEN];
  for (int i = 0; i < 10; i++)
    CHECK(add_face(&f, "c", 100 + (unsigned)i, NULL, keep[i]) == MIEN_OK);
  CHECK(add_face(&f, "c", 51, "consent-Q7:zed-xyzzy", del) == MIEN_OK);
  for (int i = 10; i < 20; i++)
    CHECK(add_face(&f, "c", 100 + (unsigned)i, NULL, keep[i]) == MIEN_OK);
  CHECK(add_face(&f, "gone", 52, NULL, in_gone) == MIEN_OK);
  OP_OK(&f, "CreateUser", "{\"CollectionId\":\"c\",\"UserId\":\"user-plugh-42\"}");
  uint8_t sealed[2][DB_SEALED_BYTES + 8];
  int slen[2] = {stored_blob(f.dir, del, sealed[0], sizeof sealed[0]),
                 stored_blob(f.dir, in_gone, sealed[1], sizeof sealed[1])};
  CHECK(mien_store_checkpoint(f.api.store, f.err, sizeof f.err) == MIEN_OK);
  if (!encrypted) CHECK_MSG(template_under(f.dir, 51), "the scan must find a stored template");
  CHECK(found_under(f.dir, sealed[0] + 16, 64) && found_under(f.dir, "zed-xyzzy", 9) &&
        found_under(f.dir, "user-plugh-42", 13));

  OP_OK(&f, "DeleteFaces", "{\"CollectionId\":\"c\",\"FaceIds\":[\"%s\"]}", del);
  OP_OK(&f, "DeleteUser", "{\"CollectionId\":\"c\",\"UserId\":\"user-plugh-42\"}");
  OP_OK(&f, "DeleteCollection", "{\"CollectionId\":\"gone\"}");
  for (int i = 0; i < 2; i++) {
    CHECK_MSG(!template_under(f.dir, 51 + (unsigned)i), "template %d left on disk", i);
    CHECK_MSG(slen[i] > 16 && !found_under(f.dir, sealed[i] + 16, 64), "blob %d left", i);
  }
  CHECK(!found_under(f.dir, "zed-xyzzy", 9) && !found_under(f.dir, "user-plugh-42", 13));
  CHECK(template_under(f.dir, 100) == !encrypted); /* the scan still sees what is kept */
  mien_store_close(f.api.store);
  f.api.store = NULL;
  CHECK(!template_under(f.dir, 51) && !found_under(f.dir, sealed[0] + 16, 64));
  DIR *d = opendir(f.dir);
  struct dirent *e;
  while (d && (e = readdir(d)))
    CHECK_MSG(e->d_name[0] == '.' || !strcmp(e->d_name, "mien.db") ||
                  !strcmp(e->d_name, "mien.db-wal") || !strcmp(e->d_name, "mien.db-shm"),
              "unexpected file %s in the data directory", e->d_name);
  if (d) closedir(d);
  fx_close(&f);
  if (encrypted) unlink(k);
}

static void test_erasure_plain(void) {
  erasure(0);
}
static void test_erasure_encrypted(void) {
  erasure(1);
}

int main(void) {
  char name[32], sha[65], err[600];
  if (mien_store_model(name, sha, err, sizeof err) != MIEN_OK) {
    printf("  %s\n  skipped: every case needs the face model files (make models)\n", err);
    return 77;
  }
  unsetenv("MIEN_TEMPLATE_KEY");
  db_test_set_now(0);
  RUN(test_policy_tags);
  RUN(test_consent);
  RUN(test_retention);
  RUN(test_audit_chain);
  RUN(test_encryption);
  RUN(test_encrypt_existing);
  RUN(test_rotation_crash);
  RUN(test_erasure_plain);
  RUN(test_erasure_encrypted);
  return check_summary();
}
