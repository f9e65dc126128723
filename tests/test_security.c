/* test_security.c - issue 19's fixes below the HTTP layer, each against what an attacker did:
 *   - opening a request-named file (mien_open_beneath, mien_read_open_file), with openat2 and
 *     with the per-component walk older kernels get: links and ".." out refused, a FIFO refused
 *     without blocking, reads bounded (point 1; the race itself: test_security_races.sh);
 *   - the request parser: duplicate keys at any depth, invalid UTF-8 and trailing bytes refused,
 *     a policy tag given twice refused by the store too (points 5 and 7);
 *   - erasure while another process holds a read transaction: pending, visible to `mien audit
 *     verify`, then completed by the retry once the reader is gone, with no template byte left
 *     in any file (point 3);
 *   - mien.db, -wal and -shm 0600 in a data directory that already exists with mode 0755, and an
 *     existing 0644 database tightened (point 4);
 *   - sealed templates bound to ExternalImageId and UserId: an SQL UPDATE that moves a face to
 *     another ExternalImageId or user no longer decrypts, association and DeleteUser re-seal,
 *     and version-1 templates are converted at open; an emptied audit log beside faces does not
 *     verify (point 6).
 * Templates are made up (no photo needed); the face model files must be present, since a
 * collection records their hash. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "api/ops.h"
#include "check.h"
#include "store/internal.h"
#include "util/util.h"

static char err[1024];

/* ---- opening files beneath a directory ---- */

static void sh(const char *fmt, const char *dir) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, fmt, dir, dir, dir, dir, dir, dir, dir, dir);
  CHECK_MSG(system(cmd) == 0, "%s", cmd);
}

/* What reading name beneath dir gives: 'o' read, 'n' not a regular file or not openable, 'b'
 * too big; the bytes go to got. */
static char read_beneath(const char *dir, const char *name, int use_openat2, char *got,
                         size_t cap) {
  int fd = mien_open_beneath(dir, name, use_openat2);
  if (fd < 0) return 'n';
  uint8_t *bytes;
  size_t len;
  uint64_t size;
  mien_read_result rr = mien_read_open_file(fd, 16, &bytes, &len, &size);
  close(fd);
  if (rr == MIEN_READ_TOO_LARGE) return 'b';
  if (rr != MIEN_READ_OK) return 'n';
  snprintf(got, cap, "%.*s", (int)len, (const char *)bytes);
  free(bytes);
  return 'o';
}

static void test_open_beneath(void) {
  char root[] = "/tmp/mien_test_security_XXXXXX", in[300];
  CHECK(mkdtemp(root) != NULL);
  snprintf(in, sizeof in, "%s/in", root);
  sh("mkdir -p %s/in/sub && echo inside > %s/in/sub/a.txt && echo secret > %s/out.txt && "
     "ln -s ../out.txt %s/in/rel && ln -s %s/out.txt %s/in/abs && ln -s sub/a.txt %s/in/good && "
     "mkfifo %s/in/fifo",
     root);
  sh("head -c 100 /dev/zero > %s/in/big && ln -s /dev/zero %s/in/zero && ln -s sub %s/in/subl",
     root);
  for (int use_openat2 = 1; use_openat2 >= 0; use_openat2--) {
    char got[64] = "";
    /* name, what openat2 gives, what the walk gives (it follows no link and no ".."). */
    static const struct {
      const char *name;
      char with_openat2, walk;
    } cases[] = {
        {"sub/a.txt", 'o', 'o'},
        {"./sub//a.txt", 'o', 'o'},
        {"good", 'o', 'n'},
        {"subl/a.txt", 'o', 'n'},
        {"sub/../sub/a.txt", 'o', 'n'},
        {"../out.txt", 'n', 'n'},
        {"sub/../../out.txt", 'n', 'n'},
        {"rel", 'n', 'n'},
        {"abs", 'n', 'n'},
        {"/etc/passwd", 'n', 'n'},
        {"fifo", 'n', 'n'},
        {"zero", 'n', 'n'},
        {"sub", 'n', 'n'},
        {"big", 'b', 'b'},
        {"missing", 'n', 'n'},
        {"", 'n', 'n'},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
      char want = use_openat2 ? cases[i].with_openat2 : cases[i].walk;
      char r = read_beneath(in, cases[i].name, use_openat2, got, sizeof got);
      CHECK_MSG(r == want, "%s (openat2 %d): got '%c', wanted '%c'", cases[i].name, use_openat2, r,
                want);
      if (r == 'o') CHECK_MSG(!strcmp(got, "inside\n"), "%s read '%s'", cases[i].name, got);
    }
  }
  sh("rm -rf %s", root);
}

/* ---- the request parser ---- */

static mien_status parse(const char *body, size_t len) {
  cJSON *req = NULL;
  err[0] = 0;
  mien_status st = mien_op_parse_request(body, len, &req, err, sizeof err);
  CHECK((st == MIEN_OK) == (req != NULL));
  cJSON_Delete(req);
  return st;
}

static void test_request_parser(void) {
  static const struct {
    const char *body;
    mien_status want;
  } cases[] = {
      {"{\"a\":1,\"b\":{\"a\":2}}", MIEN_OK},
      {"{\"a\":1,\"a\":1}", MIEN_ERR_SERIALIZATION},
      {"{\"Tags\":{\"mien:consent\":\"none\",\"x\":\"1\",\"mien:consent\":\"required\"}}",
       MIEN_ERR_SERIALIZATION},
      {"{\"l\":[{\"k\":1},{\"k\":2,\"j\":[{\"z\":1,\"y\":2,\"z\":3}]}]}", MIEN_ERR_SERIALIZATION},
      {"{\"l\":[{\"k\":1},{\"k\":2}]}", MIEN_OK}, /* the same key in two objects is fine */
      {"{\"a\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}", MIEN_OK},
      {"{\"a\":\"\xc3\x28\"}", MIEN_ERR_SERIALIZATION},         /* bad continuation */
      {"{\"a\":\"\xc0\xaf\"}", MIEN_ERR_SERIALIZATION},         /* overlong "/" */
      {"{\"a\":\"\xe0\x80\xaf\"}", MIEN_ERR_SERIALIZATION},     /* overlong, 3 bytes */
      {"{\"a\":\"\xed\xa0\x80\"}", MIEN_ERR_SERIALIZATION},     /* a UTF-16 surrogate */
      {"{\"a\":\"\xf4\x90\x80\x80\"}", MIEN_ERR_SERIALIZATION}, /* beyond U+10FFFF */
      {"{\"a\":\"\xff\"}", MIEN_ERR_SERIALIZATION},
      {"{\"a\":\"\xe2\x82\"}", MIEN_ERR_SERIALIZATION}, /* cut short */
      {"{\"\xc3\x28\":1}", MIEN_ERR_SERIALIZATION},     /* in a key */
      {"{\"a\":1} \r\n\t", MIEN_OK},
      {"{\"a\":1}x", MIEN_ERR_SERIALIZATION},
      {"{\"a\":1}{\"a\":2}", MIEN_ERR_SERIALIZATION},
      {"{\"a\":1}\n]", MIEN_ERR_SERIALIZATION},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    mien_status st = parse(cases[i].body, strlen(cases[i].body));
    CHECK_MSG(st == cases[i].want, "%s: %s (%s)", cases[i].body, mien_status_name(st), err);
  }
  /* The length given is what counts: bytes after the object within it are refused even when a
   * NUL-terminated reader would stop earlier, and a body whose buffer is not NUL-terminated is
   * read only within its length. */
  CHECK(parse("{\"a\":1}  {", 9) == MIEN_OK);
  CHECK(parse("{\"a\":1}  {", 10) == MIEN_ERR_SERIALIZATION);
  /* 60,000 keys: sorted, not compared pairwise, and the duplicate is still found. */
  size_t n = 60000, cap = n * 16 + 64, len = 0;
  char *big = malloc(cap);
  len += (size_t)snprintf(big + len, cap - len, "{");
  for (size_t i = 0; i < n; i++) len += (size_t)snprintf(big + len, cap - len, "\"k%zu\":1,", i);
  len += (size_t)snprintf(big + len, cap - len, "\"k77\":2}");
  double t0 = mien_now_ms();
  CHECK(parse(big, len) == MIEN_ERR_SERIALIZATION && strstr(err, "k77"));
  CHECK_MSG(mien_now_ms() - t0 < 5000, "%.0f ms", mien_now_ms() - t0);
  /* A body of more values than any request: refused before cJSON builds its tree. */
  len = 0;
  len += (size_t)snprintf(big + len, cap - len, "{\"a\":[");
  for (size_t i = 0; i < 100001; i++) len += (size_t)snprintf(big + len, cap - len, "0,");
  len += (size_t)snprintf(big + len, cap - len, "0]}");
  CHECK_MSG(parse(big, len) == MIEN_ERR_SERIALIZATION && strstr(err, "values"), "%s", err);
  free(big);
  /* The store checks the tags it is given, whoever builds them: a policy key given twice. */
  cJSON *tags = cJSON_CreateObject();
  cJSON_AddStringToObject(tags, "mien:consent", "none");
  cJSON_AddStringToObject(tags, "mien:consent", "required");
  CHECK(mien_policy_from_tags(tags, NULL, err, sizeof err) == MIEN_ERR_INVALID_PARAMETER &&
        strstr(err, "twice"));
  cJSON_Delete(tags);
}

/* ---- a store of made-up templates ---- */

typedef struct {
  char dir[256];
  mien_store *s;
} fixture;

static void fx_open(fixture *f, mode_t dir_mode) {
  snprintf(f->dir, sizeof f->dir, "/tmp/mien_test_security_XXXXXX");
  CHECK(mkdtemp(f->dir) != NULL);
  CHECK(chmod(f->dir, dir_mode) == 0);
  mien_status st = mien_store_open(f->dir, &f->s, err, sizeof err);
  CHECK_MSG(st == MIEN_OK, "open: %s", err);
}

static mien_status fx_reopen(fixture *f) {
  mien_store_close(f->s);
  f->s = NULL;
  return mien_store_open(f->dir, &f->s, err, sizeof err);
}

static void fx_close(fixture *f) {
  mien_store_close(f->s);
  sh("rm -rf %s", f->dir);
  unsetenv(MIEN_TEMPLATE_KEY_ENV);
}

/* A template whose floats are all distinct and unlikely anywhere else: 1000 * seed + d. */
static void made_up_template(unsigned seed, float *e) {
  for (int d = 0; d < MIEN_EMBED_DIM; d++) e[d] = 1000.0f * (float)seed + (float)d + 0.125f;
}

static void index_face(fixture *f, unsigned seed, const char *external, char id[MIEN_UUID_LEN]) {
  float e[MIEN_EMBED_DIM];
  made_up_template(seed, e);
  mien_new_face nf = {0.1f, 0.1f, 0.5f, 0.5f, 99.0f, e};
  uint8_t sha[32] = {(uint8_t)seed};
  char image_id[MIEN_UUID_LEN], ids[1][MIEN_UUID_LEN];
  mien_status st =
      mien_store_index_image(f->s, "c", sha, external, &nf, 1, image_id, ids, err, sizeof err);
  CHECK_MSG(st == MIEN_OK, "index: %s", err);
  memcpy(id, ids[0], MIEN_UUID_LEN);
}

static void create_collection(fixture *f) {
  mien_collection_info info;
  CHECK_MSG(mien_store_create_collection(f->s, NULL, "c", NULL, &info, err, sizeof err) == MIEN_OK,
            "%s", err);
}

/* Whether any file directly in dir holds 32 bytes of the template of seed. */
static int template_in(const char *dir, unsigned seed) {
  float e[MIEN_EMBED_DIM];
  made_up_template(seed, e);
  DIR *d = opendir(dir);
  struct dirent *de;
  int found = 0;
  while (d && !found && (de = readdir(d))) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
    struct stat sb;
    size_t n;
    uint8_t *bytes = lstat(p, &sb) == 0 && S_ISREG(sb.st_mode) ? mien_read_file(p, &n) : NULL;
    found = bytes && memmem(bytes, n, e + 64, 32) != NULL;
    free(bytes);
  }
  if (d) closedir(d);
  return found;
}

static int sql(const char *dir, const char *statements) {
  char path[600];
  snprintf(path, sizeof path, "%s/mien.db", dir);
  sqlite3 *db;
  int rc = sqlite3_open(path, &db);
  if (rc == SQLITE_OK) rc = sqlite3_exec(db, statements, NULL, NULL, NULL);
  CHECK_MSG(rc == SQLITE_OK, "%s: %s", statements, sqlite3_errmsg(db));
  sqlite3_close(db);
  return rc;
}

/* ---- erasure under a reader ---- */

static void test_erasure_under_reader(void) {
  fixture f;
  fx_open(&f, 0700);
  create_collection(&f);
  char id[MIEN_UUID_LEN], keep[MIEN_UUID_LEN];
  index_face(&f, 7, NULL, id);
  index_face(&f, 8, NULL, keep);
  CHECK(mien_store_checkpoint(f.s, err, sizeof err) == MIEN_OK);

  /* Another process's reader (a backup, `sqlite3` in a shell) inside a read transaction. */
  char path[600];
  snprintf(path, sizeof path, "%s/mien.db", f.dir);
  sqlite3 *reader;
  sqlite3_stmt *q;
  CHECK(sqlite3_open_v2(path, &reader, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
  CHECK(sqlite3_exec(reader, "BEGIN", NULL, NULL, NULL) == SQLITE_OK);
  CHECK(sqlite3_prepare_v2(reader, "SELECT count(*) FROM faces", -1, &q, NULL) == SQLITE_OK);
  CHECK(sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) == 2);

  const char *ids[1] = {id};
  mien_face_result res[1];
  CHECK(mien_store_delete_faces(f.s, NULL, "c", ids, 1, res, NULL, err, sizeof err) == MIEN_OK &&
        res[0] == MIEN_FACE_DONE);
  CHECK_MSG(mien_store_retry_erasure(f.s) > 0, "no erasure pending while a reader holds the WAL");
  mien_audit_check c;
  CHECK(mien_audit_verify(f.dir, &c, err, sizeof err) == MIEN_OK);
  CHECK_MSG(c.erasure_pending > 0, "audit verify does not show the pending erasure");
  CHECK_MSG(template_in(f.dir, 7), "the reader did not keep the old pages: nothing was tested");

  sqlite3_finalize(q);
  CHECK(sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
  sqlite3_close(reader);
  CHECK_MSG(mien_store_retry_erasure(f.s) == 0, "still pending after the reader left");
  CHECK_MSG(!template_in(f.dir, 7), "the deleted template is still in a file");
  CHECK(mien_audit_verify(f.dir, &c, err, sizeof err) == MIEN_OK && c.erasure_pending == 0 &&
        !c.bad_seq);

  /* Pending across processes: left pending at close, completed by the next open. */
  CHECK(sqlite3_open_v2(path, &reader, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
  CHECK(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM faces", NULL, NULL, NULL) == SQLITE_OK);
  ids[0] = keep;
  CHECK(mien_store_delete_faces(f.s, NULL, "c", ids, 1, res, NULL, err, sizeof err) == MIEN_OK);
  mien_store_close(f.s);
  f.s = NULL;
  CHECK(mien_audit_verify(f.dir, &c, err, sizeof err) == MIEN_OK && c.erasure_pending > 0);
  CHECK(sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
  sqlite3_close(reader);
  CHECK(fx_reopen(&f) == MIEN_OK);
  CHECK_MSG(!template_in(f.dir, 8), "the erasure left pending was not completed at open");
  CHECK(mien_audit_verify(f.dir, &c, err, sizeof err) == MIEN_OK && c.erasure_pending == 0);
  fx_close(&f);
}

/* ---- file modes ---- */

static mode_t mode_of(const char *dir, const char *name) {
  char p[600];
  struct stat sb;
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return stat(p, &sb) == 0 ? sb.st_mode & 0777 : (mode_t)-1;
}

static void test_file_modes(void) {
  mode_t old = umask(022); /* the usual umask, under which SQLite would create 0644 files */
  fixture f;
  fx_open(&f, 0755); /* a directory that already exists, as a package's /var/lib/mien */
  create_collection(&f);
  char id[MIEN_UUID_LEN];
  index_face(&f, 3, NULL, id);
  static const char *const files[] = {"mien.db", "mien.db-wal", "mien.db-shm"};
  for (int i = 0; i < 3; i++)
    CHECK_MSG(mode_of(f.dir, files[i]) == 0600, "%s has mode %o", files[i],
              (unsigned)mode_of(f.dir, files[i]));
  mien_store_close(f.s);
  f.s = NULL;
  sh("chmod 644 %s/mien.db", f.dir); /* made by an older mien */
  CHECK(fx_reopen(&f) == MIEN_OK);
  index_face(&f, 4, NULL, id);
  for (int i = 0; i < 3; i++)
    CHECK_MSG(mode_of(f.dir, files[i]) == 0600, "after reopening, %s has mode %o", files[i],
              (unsigned)mode_of(f.dir, files[i]));
  fx_close(&f);
  umask(old);
}

/* ---- templates bound to their ExternalImageId and UserId; the audit log ---- */

static int face_opens(fixture *f, const char *id) {
  mien_face_record r;
  int found = 0;
  mien_status st = mien_store_get_face(f->s, "c", id, &r, &found, err, sizeof err);
  return st == MIEN_OK && found;
}

static mien_status set_user(fixture *f, const char *user, const char *from, const char *id) {
  const char *ids[1] = {id};
  mien_face_result res[1];
  char status[16];
  return mien_store_set_user(f->s, "c", user, from, ids, 1, res, status, NULL, err, sizeof err);
}

/* Rewrites the template of face id in the v1 format (associated data: the collection's row and
 * the FaceId only), as mien sealed templates before ExternalImageId and UserId were bound. The
 * collection's row is 1: the fixture's only collection, in a new database. */
static void seal_v1(const char *dir, const uint8_t key[32], const char *id, unsigned seed) {
  float e[MIEN_EMBED_DIM];
  made_up_template(seed, e);
  uint8_t blob[DB_SEALED_BYTES] = {1}, aad[8 + 36] = {0, 0, 0, 0, 0, 0, 0, 1};
  memcpy(aad + 8, id, 36);
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  int n;
  CHECK(EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, blob + 1) == 1 &&
        EVP_EncryptUpdate(c, NULL, &n, aad, sizeof aad) == 1 &&
        EVP_EncryptUpdate(c, blob + 13, &n, (const uint8_t *)e, DB_TEMPLATE_BYTES) == 1 &&
        EVP_EncryptFinal_ex(c, blob + 13 + n, &n) == 1 &&
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, blob + 13 + DB_TEMPLATE_BYTES) == 1);
  EVP_CIPHER_CTX_free(c);
  char path[600];
  snprintf(path, sizeof path, "%s/mien.db", dir);
  sqlite3 *db;
  sqlite3_stmt *q;
  CHECK(sqlite3_open(path, &db) == SQLITE_OK);
  CHECK(sqlite3_prepare_v2(db, "UPDATE faces SET embedding = ? WHERE face_id = ?", -1, &q, NULL) ==
        SQLITE_OK);
  sqlite3_bind_blob(q, 1, blob, sizeof blob, SQLITE_STATIC);
  sqlite3_bind_text(q, 2, id, -1, SQLITE_STATIC);
  CHECK(sqlite3_step(q) == SQLITE_DONE && sqlite3_changes(db) == 1);
  sqlite3_finalize(q);
  CHECK(sqlite3_exec(db, "UPDATE meta SET value = '1' WHERE key = 'seal_version'", NULL, NULL,
                     NULL) == SQLITE_OK);
  sqlite3_close(db);
}

static void test_sealed_bindings(void) {
  fixture f;
  char key_file[300];
  snprintf(key_file, sizeof key_file, "/tmp/mien_test_security_key_%d", (int)getpid());
  unlink(key_file);
  CHECK(mien_template_key_new(key_file, err, sizeof err) == MIEN_OK);
  setenv(MIEN_TEMPLATE_KEY_ENV, key_file, 1);
  fx_open(&f, 0700);
  create_collection(&f);
  char alice[MIEN_UUID_LEN], bob[MIEN_UUID_LEN], sql_text[600];
  index_face(&f, 1, "alice-photo", alice);
  index_face(&f, 2, "bob-photo", bob);
  CHECK(mien_store_create_user(f.s, "c", "alice", NULL, err, sizeof err) == MIEN_OK);
  CHECK(mien_store_create_user(f.s, "c", "bob", NULL, err, sizeof err) == MIEN_OK);
  CHECK_MSG(set_user(&f, "alice", NULL, alice) == MIEN_OK, "%s", err);
  CHECK_MSG(set_user(&f, "bob", NULL, bob) == MIEN_OK, "%s", err);
  CHECK_MSG(face_opens(&f, alice) && face_opens(&f, bob), "%s", err);

  /* Without the key, an SQL UPDATE gives bob's image the ExternalImageId alice's has. */
  sql(f.dir, "UPDATE images SET external_image_id = 'alice-photo' WHERE external_image_id = "
             "'bob-photo'");
  CHECK_MSG(!face_opens(&f, bob) && strstr(err, "does not authenticate"),
            "a template moved to another ExternalImageId still opens: %s", err);
  sql(f.dir, "UPDATE images SET external_image_id = 'bob-photo' WHERE id = (SELECT image FROM "
             "faces WHERE face_id IN (SELECT face_id FROM faces ORDER BY id LIMIT 1 OFFSET 1))");
  CHECK_MSG(face_opens(&f, bob), "restored: %s", err);
  /* ... or moves bob's face to alice. */
  snprintf(sql_text, sizeof sql_text,
           "UPDATE faces SET user = (SELECT id FROM users WHERE user_id = 'alice') WHERE face_id "
           "= '%s'",
           bob);
  sql(f.dir, sql_text);
  CHECK_MSG(!face_opens(&f, bob) && strstr(err, "does not authenticate"),
            "a template moved to another user still opens: %s", err);
  snprintf(sql_text, sizeof sql_text,
           "UPDATE faces SET user = (SELECT id FROM users WHERE user_id = 'bob') WHERE face_id = "
           "'%s'",
           bob);
  sql(f.dir, sql_text);
  CHECK_MSG(face_opens(&f, bob), "restored: %s", err);

  /* mien's own changes of user re-seal: disassociate, associate again, DeleteUser. */
  CHECK_MSG(set_user(&f, NULL, "bob", bob) == MIEN_OK && face_opens(&f, bob), "%s", err);
  CHECK_MSG(set_user(&f, "bob", NULL, bob) == MIEN_OK && face_opens(&f, bob), "%s", err);
  CHECK(mien_store_delete_user(f.s, NULL, "c", "alice", NULL, err, sizeof err) == MIEN_OK);
  CHECK_MSG(face_opens(&f, alice), "after DeleteUser: %s", err);
  CHECK_MSG(fx_reopen(&f) == MIEN_OK, "the index no longer loads: %s", err);

  /* A store sealed before the bindings (version 1) is converted at its first open with the key,
   * and the conversion is audited. */
  uint8_t key[32];
  CHECK(mien_template_key_read(key_file, key, err, sizeof err) == MIEN_OK);
  mien_store_close(f.s);
  f.s = NULL;
  seal_v1(f.dir, key, alice, 1);
  CHECK_MSG(fx_reopen(&f) == MIEN_OK, "open of a version-1 store: %s", err);
  CHECK_MSG(face_opens(&f, alice), "converted template: %s", err);
  char path[600], have[64] = "";
  snprintf(path, sizeof path, "%s/mien.db", f.dir);
  sqlite3 *db;
  sqlite3_stmt *q;
  CHECK(sqlite3_open(path, &db) == SQLITE_OK);
  CHECK(sqlite3_prepare_v2(db,
                           "SELECT (SELECT value FROM meta WHERE key = 'seal_version'),"
                           " (SELECT count(*) FROM audit WHERE record LIKE '%ResealTemplates%'),"
                           " (SELECT hex(substr(embedding, 1, 1)) FROM faces WHERE face_id = ?)",
                           -1, &q, NULL) == SQLITE_OK);
  sqlite3_bind_text(q, 1, alice, -1, SQLITE_STATIC);
  CHECK(sqlite3_step(q) == SQLITE_ROW);
  snprintf(have, sizeof have, "%s %d %s", sqlite3_column_text(q, 0), sqlite3_column_int(q, 1),
           sqlite3_column_text(q, 2));
  CHECK_MSG(!strcmp(have, "2 1 02"), "seal version, audit records, blob version: %s", have);
  sqlite3_finalize(q);
  sqlite3_close(db);
  /* A version-1 blob written into a converted store is refused, not silently accepted. */
  mien_store_close(f.s);
  f.s = NULL;
  seal_v1(f.dir, key, alice, 1);
  sql(f.dir, "UPDATE meta SET value = '2' WHERE key = 'seal_version'");
  CHECK(fx_reopen(&f) == MIEN_OK);
  CHECK_MSG(!face_opens(&f, alice), "a version-1 template in a converted store opened");
  fx_close(&f);
  unlink(key_file);
}

static void test_empty_audit_log(void) {
  fixture f;
  fx_open(&f, 0700);
  mien_audit_check c;
  CHECK(mien_audit_verify(f.dir, &c, err, sizeof err) == MIEN_OK && !c.bad_seq); /* new store */
  create_collection(&f);
  char id[MIEN_UUID_LEN];
  index_face(&f, 5, NULL, id);
  mien_store_close(f.s);
  f.s = NULL;
  sql(f.dir, "DROP TRIGGER audit_no_delete; DELETE FROM audit;");
  CHECK(mien_audit_verify(f.dir, &c, err, sizeof err) == MIEN_OK);
  CHECK_MSG(c.bad_seq == 1 && strstr(c.reason, "empty"),
            "an emptied audit log beside a face verifies (bad_seq %lld)", (long long)c.bad_seq);
  CHECK(fx_reopen(&f) == MIEN_OK);
  fx_close(&f);
}

int main(void) {
  char model[512];
  RUN(test_open_beneath);
  RUN(test_request_parser);
  if (mien_find_model("fr_feature.onnx", model, sizeof model) != 0) {
    printf("  %s: store cases skipped\n", model);
    return check_summary() ? 1 : 77;
  }
  RUN(test_erasure_under_reader);
  RUN(test_file_modes);
  RUN(test_sealed_bindings);
  RUN(test_empty_audit_log);
  return check_summary();
}
