/* db.c - the store's database: where it lives, opening it with the pragmas that make writes
 * durable and deletions erasing, the versioned schema and its migrations, the face model
 * version, and collections. Faces are in db_faces.c, users in db_users.c; the policy and
 * retention in policy.c, the audit log in audit.c, template keys in crypt.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "store/cluster.h"
#include "store/store.h"
#include "util/util.h"

#define MODEL_NAME "mien-fr"
#define DB_BUSY_TIMEOUT_MS 10000
#define META_ERASURE_PENDING "erasure_pending" /* meta row: since when (db_erase) */

int mien_store_default_dir(char *out, size_t outlen) {
  const char *env = getenv("MIEN_DATA"), *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
  int n;
  if (env && *env)
    n = snprintf(out, outlen, "%s", env);
  else if (xdg && *xdg)
    n = snprintf(out, outlen, "%s/mien", xdg);
  else if (home && *home)
    n = snprintf(out, outlen, "%s/.local/share/mien", home);
  else
    return -1;
  return n > 0 && (size_t)n < outlen ? 0 : -1;
}

/* ---- errors and statements ---- */

mien_status db_fail(mien_store *s, const char *what, char *err, size_t errlen) {
  int code = sqlite3_errcode(s->db) & 0xff;
  const char *msg = sqlite3_errmsg(s->db);
  switch (code) {
  case SQLITE_NOMEM:
    return MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "%s: out of memory", what);
  case SQLITE_FULL:
  case SQLITE_IOERR:
  case SQLITE_CANTOPEN:
  case SQLITE_READONLY:
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
  case SQLITE_PERM:
  case SQLITE_CORRUPT:
  case SQLITE_NOTADB:
    return MIEN_FAIL(err, errlen, MIEN_ERR_IO, "%s: %s", what, msg);
  default:
    return MIEN_FAIL(err, errlen, MIEN_ERR_INTERNAL, "%s: %s", what, msg);
  }
}

mien_status db_exec(mien_store *s, const char *sql, char *err, size_t errlen) {
  return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? MIEN_OK
                                                                 : db_fail(s, sql, err, errlen);
}

mien_status db_prepare(mien_store *s, const char *sql, sqlite3_stmt **st, char *err,
                       size_t errlen) {
  return sqlite3_prepare_v2(s->db, sql, -1, st, NULL) == SQLITE_OK ? MIEN_OK
                                                                   : db_fail(s, sql, err, errlen);
}

mien_status db_finish(mien_store *s, mien_status st, char *err, size_t errlen) {
  if (st != MIEN_OK) {
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return st;
  }
  st = db_exec(s, "COMMIT", err, errlen);
  if (st != MIEN_OK) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  return st;
}

mien_status db_begin_write(mien_store *s, char *err, size_t errlen) {
  pthread_mutex_lock(&s->mu);
  mien_status st = db_exec(s, "BEGIN IMMEDIATE", err, errlen);
  if (st != MIEN_OK) pthread_mutex_unlock(&s->mu);
  return st;
}

mien_status db_end_write(mien_store *s, mien_status st, char *err, size_t errlen) {
  st = db_finish(s, st, err, errlen);
  pthread_mutex_unlock(&s->mu);
  return st;
}

/* ---- schema: migrations[v] takes user_version v to v + 1 ---- */

static const char *const migrations[] = {
    /* 0 -> 1: the first schema. Rows are never updated in place except faces.user and
     * users.status; AUTOINCREMENT keeps deleted collection and face rows from being reused, so
     * an index id never names two faces. */
    "CREATE TABLE collections ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  name TEXT NOT NULL UNIQUE,"
    "  arn TEXT NOT NULL,"
    "  created REAL NOT NULL,"
    "  model TEXT NOT NULL,"
    "  model_sha256 TEXT NOT NULL,"
    "  tags TEXT NOT NULL DEFAULT '{}');"
    "CREATE TABLE images ("
    "  id INTEGER PRIMARY KEY,"
    "  collection INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,"
    "  image_id TEXT NOT NULL,"
    "  sha256 BLOB NOT NULL,"
    "  external_image_id TEXT,"
    "  created REAL NOT NULL);"
    "CREATE INDEX images_hash ON images(collection, sha256);"
    "CREATE TABLE users ("
    "  id INTEGER PRIMARY KEY,"
    "  collection INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,"
    "  user_id TEXT NOT NULL,"
    "  status TEXT NOT NULL DEFAULT 'CREATED',"
    "  created REAL NOT NULL,"
    "  UNIQUE (collection, user_id));"
    "CREATE TABLE faces ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  collection INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,"
    "  face_id TEXT NOT NULL UNIQUE,"
    "  image INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,"
    "  left REAL NOT NULL, top REAL NOT NULL, width REAL NOT NULL, height REAL NOT NULL,"
    "  confidence REAL NOT NULL,"
    "  embedding BLOB NOT NULL,"
    "  created REAL NOT NULL,"
    "  user INTEGER REFERENCES users(id) ON DELETE SET NULL);"
    "CREATE INDEX faces_collection ON faces(collection, id);"
    "CREATE INDEX faces_image ON faces(image);"
    "CREATE INDEX faces_user ON faces(user);",
    /* 1 -> 2: privacy. meta holds the template key's check value (never the key); audit is the
     * hash-chained log, append-only by trigger (a change needs the triggers dropped first, and
     * the chain still shows it); the created indexes let retention find old rows without
     * reading templates. */
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE audit (seq INTEGER PRIMARY KEY, record TEXT NOT NULL, hash TEXT NOT NULL);"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "CREATE INDEX faces_created ON faces(collection, created);"
    "CREATE INDEX images_created ON images(collection, created);"
    "CREATE INDEX users_created ON users(collection, created);",
    /* 2 -> 3: idempotency (idempotency.c): one row per (operation, caller, ClientRequestToken),
     * with the request's hash and the first response; rows go with their collection. Since 3,
     * collections.arn is left empty and not read: an ARN names the region the server is
     * signed for, so responses make it (ops.c). */
    "CREATE TABLE idempotency ("
    "  op TEXT NOT NULL,"
    "  principal TEXT NOT NULL,"
    "  token TEXT NOT NULL,"
    "  collection INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,"
    "  request_sha256 BLOB NOT NULL,"
    "  response TEXT NOT NULL,"
    "  created REAL NOT NULL,"
    "  PRIMARY KEY (op, principal, token));"
    "CREATE INDEX idempotency_created ON idempotency(created);"
    "CREATE INDEX idempotency_collection ON idempotency(collection);",
    /* 3 -> 4: stored-video jobs (db_jobs.c). token is the ClientRequestToken, unique so that a
     * repeated start finds its job; results are the Faces/Persons elements, one row each, in
     * the two orders GetFaceSearch sorts by; they go with their job (cascade). */
    "CREATE TABLE video_jobs ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  job_id TEXT NOT NULL UNIQUE,"
    "  kind TEXT NOT NULL,"
    "  token TEXT UNIQUE,"
    "  request TEXT NOT NULL,"
    "  principal TEXT NOT NULL,"
    "  collection TEXT,"
    "  state TEXT NOT NULL DEFAULT 'QUEUED',"
    "  status_message TEXT NOT NULL DEFAULT '',"
    "  progress REAL NOT NULL DEFAULT 0,"
    "  metadata TEXT,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  created REAL NOT NULL,"
    "  finished REAL);"
    "CREATE INDEX video_jobs_state ON video_jobs(state, id);"
    "CREATE INDEX video_jobs_finished ON video_jobs(finished);"
    "CREATE TABLE video_results ("
    "  id INTEGER PRIMARY KEY,"
    "  job INTEGER NOT NULL REFERENCES video_jobs(id) ON DELETE CASCADE,"
    "  timestamp INTEGER NOT NULL,"
    "  person INTEGER NOT NULL,"
    "  item TEXT NOT NULL);"
    "CREATE INDEX video_results_time ON video_results(job, timestamp, person, id);"
    "CREATE INDEX video_results_person ON video_results(job, person, timestamp, id);",
};
#define SCHEMA_VERSION (int)(sizeof migrations / sizeof *migrations)

static mien_status migrate(mien_store *s, char *err, size_t errlen) {
  mien_status st = db_exec(s, "BEGIN IMMEDIATE", err, errlen);
  if (st != MIEN_OK) return st;
  sqlite3_stmt *q;
  int version = 0;
  st = db_prepare(s, "PRAGMA user_version", &q, err, errlen);
  if (st == MIEN_OK) {
    if (sqlite3_step(q) == SQLITE_ROW) version = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
  }
  if (st == MIEN_OK && version > SCHEMA_VERSION)
    st = MIEN_FAIL(err, errlen, MIEN_ERR_IO,
                   "the store has schema version %d, newer than this mien (%d): upgrade mien",
                   version, SCHEMA_VERSION);
  for (int v = version; st == MIEN_OK && v < SCHEMA_VERSION; v++) {
    char sql[64];
    st = db_exec(s, migrations[v], err, errlen);
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
    if (st == MIEN_OK) st = db_exec(s, sql, err, errlen);
  }
  /* A store from before the audit log gets a first record, so that its faces are accounted
   * for: an empty log beside faces is what deleting the log's rows looks like (audit verify). */
  if (st == MIEN_OK && version == 1)
    st = db_audit(s, NULL, "UpgradeStore", NULL, NULL, err, errlen);
  return db_finish(s, st, err, errlen);
}

/* Makes the database files private before SQLite opens them: mien.db is created 0600 (SQLite
 * would create it 0644 under the usual umask) and an existing one, or a -wal or -shm left by an
 * older mien, loses any group and other bits. SQLite gives a new -wal and -shm the mode of
 * mien.db, so they follow. A data directory that others may enter is only warned about: the
 * files in it are what matters, and the directory may belong to a package or to systemd. */
static mien_status private_files(const char *dir, const char *path, char *err, size_t errlen) {
  struct stat sb;
  if (stat(dir, &sb) == 0 && (sb.st_mode & 077))
    fprintf(stderr,
            "mien: warning: the data directory %s (mode %03o) can be opened by other users; "
            "its files are kept 0600, but `chmod 700 %s` is safer\n",
            dir, (unsigned)(sb.st_mode & 0777), dir);
  static const char *const suffixes[] = {"", "-wal", "-shm"};
  for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
    char p[4200];
    snprintf(p, sizeof p, "%s%s", path, suffixes[i]);
    int fd = open(p, O_RDWR | O_NOFOLLOW | O_CLOEXEC | (i == 0 ? O_CREAT : 0), 0600);
    if (fd < 0 && errno == ENOENT && i > 0) continue;
    int ok = fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
             (!(sb.st_mode & 077) || fchmod(fd, sb.st_mode & 0700) == 0);
    int e = errno;
    if (fd >= 0) close(fd);
    if (!ok)
      return MIEN_FAIL(err, errlen, MIEN_ERR_IO, "%s: %s", p,
                       fd >= 0 && !S_ISREG(sb.st_mode) ? "not a regular file" : strerror(e));
  }
  return MIEN_OK;
}

mien_status mien_store_open(const char *dir, mien_store **out, char *err, size_t errlen) {
  *out = NULL;
  if (mien_make_dirs(dir) != 0)
    return MIEN_FAIL(err, errlen, MIEN_ERR_IO, "cannot create the data directory %s: %s", dir,
                     strerror(errno));
  mien_store *s = calloc(1, sizeof *s);
  if (!s) return MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  pthread_mutex_init(&s->mu, NULL);
  char path[4096];
  snprintf(path, sizeof path, "%s/mien.db", dir);
  mien_status st = private_files(dir, path, err, errlen);
  if (st == MIEN_OK &&
      sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
    st = db_fail(s, path, err, errlen);
  /* Another process may hold the write lock for a commit; wait for it rather than fail. */
  if (st == MIEN_OK) sqlite3_busy_timeout(s->db, DB_BUSY_TIMEOUT_MS);
  /* WAL + FULL: each commit is fsync'ed before it returns (NORMAL would lose the last commits
   * on power loss). secure_delete: deleted templates are overwritten, not merely unlinked.
   * temp_store: sorts and temporary tables stay in memory, never in files outside dir. */
  if (st == MIEN_OK)
    st = db_exec(s,
                 "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
                 "PRAGMA secure_delete = ON; PRAGMA foreign_keys = ON;"
                 "PRAGMA temp_store = MEMORY;",
                 err, errlen);
  if (st == MIEN_OK) st = migrate(s, err, errlen);
  if (st == MIEN_OK) {
    pthread_mutex_lock(&s->mu);
    st = db_key_setup(s, err, errlen);
    pthread_mutex_unlock(&s->mu);
  }
  if (st == MIEN_OK) st = mien_store_purge_expired(s, &s->purged_at_open, err, errlen);
  if (st == MIEN_OK) { /* an erasure an earlier process left pending */
    char since[32];
    pthread_mutex_lock(&s->mu);
    st = db_meta_get(s, META_ERASURE_PENDING, since, sizeof since, err, errlen);
    if (st == MIEN_OK && *since) {
      s->erasure_pending = atof(since) > 0 ? atof(since) : db_now();
      db_erase(s);
    }
    pthread_mutex_unlock(&s->mu);
  }
  if (st != MIEN_OK) {
    mien_store_close(s);
    return st;
  }
  *out = s;
  return MIEN_OK;
}

void mien_store_close(mien_store *s) {
  if (!s) return;
  for (int i = 0; i < s->ncolls; i++) {
    mien_index_free(s->colls[i]->ix);
    mien_cluster_free(s->colls[i]->people);
    pthread_mutex_destroy(&s->colls[i]->people_mu);
    pthread_rwlock_destroy(&s->colls[i]->lock);
    free(s->colls[i]);
  }
  free(s->colls);
  if (s->db && s->erasure_pending > 0) db_erase(s);
  sqlite3_close(s->db);
  OPENSSL_cleanse(s->key, sizeof s->key);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

/* wal_checkpoint(TRUNCATE), waiting at most wait_ms for readers: a deletion must not hold the
 * store's mutex for the whole busy timeout while another process reads. */
static int checkpoint_truncate(mien_store *s, int wait_ms) {
  sqlite3_busy_timeout(s->db, wait_ms);
  int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
  sqlite3_busy_timeout(s->db, DB_BUSY_TIMEOUT_MS);
  return rc;
}

void db_erase(mien_store *s) {
  char err[256];
  if (checkpoint_truncate(s, 200) != SQLITE_OK) {
    /* SQLITE_BUSY: a reader's snapshot still needs the old pages. Say so where it lasts. */
    if (s->erasure_pending == 0) {
      char since[32];
      s->erasure_pending = db_now();
      snprintf(since, sizeof since, "%.3f", s->erasure_pending);
      db_meta_set(s, META_ERASURE_PENDING, since, err, sizeof err);
    }
    return;
  }
  if (s->erasure_pending == 0) return;
  /* The erased pages are gone; the row saying so goes too. Its own WAL frame holds only the meta
   * table's page, so a second checkpoint that fails leaves no template behind. */
  s->erasure_pending = 0;
  if (db_exec(s, "DELETE FROM meta WHERE key = '" META_ERASURE_PENDING "'", err, sizeof err) ==
      MIEN_OK)
    checkpoint_truncate(s, 200);
}

double mien_store_retry_erasure(mien_store *s) {
  pthread_mutex_lock(&s->mu);
  if (s->erasure_pending > 0) db_erase(s);
  double since = s->erasure_pending;
  pthread_mutex_unlock(&s->mu);
  return since;
}

mien_status mien_store_checkpoint(mien_store *s, char *err, size_t errlen) {
  pthread_mutex_lock(&s->mu);
  mien_status st = MIEN_OK;
  if (sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) != SQLITE_OK)
    st = db_fail(s, "checkpoint", err, errlen);
  pthread_mutex_unlock(&s->mu);
  return st;
}

/* ---- the face model version ---- */

static pthread_once_t model_once = PTHREAD_ONCE_INIT;
static char model_sha[65], model_err[600];
static mien_status model_st;

/* Hashes the three model files as one stream, in pipeline order. */
static void hash_models(void) {
  static const char *const files[] = {"fr_detect.onnx", "fr_landmark.onnx", "fr_feature.onnx"};
  mien_sha256_ctx c;
  mien_sha256_init(&c);
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    char path[512];
    size_t len;
    uint8_t *bytes;
    if (mien_find_model(files[i], path, sizeof path) != 0 ||
        !(bytes = mien_read_file(path, &len))) {
      snprintf(model_err, sizeof model_err, "cannot read the face model: %s", path);
      model_st = MIEN_ERR_MODEL;
      return;
    }
    mien_sha256_update(&c, bytes, len);
    free(bytes);
  }
  uint8_t h[32];
  mien_sha256_final(&c, h);
  for (int i = 0; i < 32; i++) snprintf(model_sha + 2 * i, 3, "%02x", h[i]);
}

mien_status mien_store_model(char name[32], char sha256[65], char *err, size_t errlen) {
  pthread_once(&model_once, hash_models);
  if (model_st != MIEN_OK) return MIEN_FAIL(err, errlen, model_st, "%s", model_err);
  snprintf(name, 32, "%s", MODEL_NAME);
  memcpy(sha256, model_sha, 65);
  return MIEN_OK;
}

void mien_store_model_version(const char *sha256, char *out, size_t outlen) {
  if (!strcmp(sha256, MIEN_DEFAULT_MODEL_SHA256)) {
    snprintf(out, outlen, "1.0");
    return;
  }
  char head[9];
  snprintf(head, sizeof head, "%.8s", sha256);
  snprintf(out, outlen, "0.%lu", strtoul(head, NULL, 16));
}

void mien_uuid(char out[MIEN_UUID_LEN]) {
  uint8_t b[16];
  size_t got = 0;
  while (got < sizeof b) {
    ssize_t r = getrandom(b + got, sizeof b - got, 0);
    if (r > 0) got += (size_t)r;
  }
  b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
  b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
  char *p = out;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) *p++ = '-';
    p += sprintf(p, "%02x", b[i]);
  }
}

double db_now(void) {
  const char *fake = getenv("MIEN_NOW");
  char buf[64];
  if (fake &&
      *fake == '@') { /* @FILE: read each time, so a test can move a running server's clock */
    FILE *f = fopen(fake + 1, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = 0;
    if (n && buf[n - 1] == '\n') buf[n - 1] = 0;
    fake = buf;
  }
  if (fake && *fake) {
    char *end;
    double t = strtod(fake, &end);
    if (!*end && t >= 0) return t;
  }
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)(ts.tv_nsec / 1000000) / 1000.0;
}

/* ---- collections ---- */

mien_status db_collection_row(mien_store *s, const char *name, int64_t *row, char *err,
                              size_t errlen) {
  sqlite3_stmt *q;
  mien_status st = db_prepare(s, "SELECT id FROM collections WHERE name = ?", &q, err, errlen);
  if (st != MIEN_OK) return st;
  sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
  int rc = sqlite3_step(q);
  if (rc == SQLITE_ROW)
    *row = sqlite3_column_int64(q, 0);
  else if (rc == SQLITE_DONE)
    st = MIEN_FAIL(err, errlen, MIEN_ERR_RESOURCE_NOT_FOUND, "The collection id: %s does not exist",
                   name);
  else
    st = db_fail(s, "reading collections", err, errlen);
  sqlite3_finalize(q);
  return st;
}

mien_status db_collection_query(mien_store *s, const char *name, const char *sql, sqlite3_stmt **q,
                                char *err, size_t errlen) {
  int64_t crow;
  mien_status st = db_collection_row(s, name, &crow, err, errlen);
  if (st == MIEN_OK) st = db_prepare(s, sql, q, err, errlen);
  if (st == MIEN_OK) sqlite3_bind_int64(*q, 1, crow);
  return st;
}

/* The registry entry for collection row id (mutex held), made on first use. */
static mien_coll *coll_entry(mien_store *s, int64_t id, const char *sha) {
  for (int i = 0; i < s->ncolls; i++)
    if (s->colls[i]->id == id) return s->colls[i];
  if (s->ncolls == s->cap) {
    int cap = s->cap ? 2 * s->cap : 8;
    mien_coll **c = realloc(s->colls, (size_t)cap * sizeof *c);
    if (!c) return NULL;
    s->colls = c, s->cap = cap;
  }
  mien_coll *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->id = id;
  snprintf(c->model_sha256, sizeof c->model_sha256, "%s", sha);
  pthread_rwlock_init(&c->lock, NULL);
  pthread_mutex_init(&c->people_mu, NULL);
  s->colls[s->ncolls++] = c;
  return c;
}

/* Builds c's index from its faces: the caller holds c->lock for writing, not the mutex. */
static mien_status load_index(mien_store *s, mien_coll *c, char *err, size_t errlen) {
  mien_index *ix = mien_index_create(MIEN_EMBED_DIM);
  if (!ix) return MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  pthread_mutex_lock(&s->mu);
  sqlite3_stmt *q;
  mien_status st =
      db_prepare(s,
                 "SELECT f.id, f.face_id, f.embedding, i.external_image_id, u.user_id FROM faces f"
                 " JOIN images i ON i.id = f.image LEFT JOIN users u ON u.id = f.user"
                 " WHERE f.collection = ? ORDER BY f.id",
                 &q, err, errlen);
  if (st == MIEN_OK) {
    sqlite3_bind_int64(q, 1, c->id);
    int rc;
    float emb[MIEN_EMBED_DIM];
    while (st == MIEN_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
      db_seal_ids ids = {c->id, (const char *)sqlite3_column_text(q, 1),
                         (const char *)sqlite3_column_text(q, 3),
                         (const char *)sqlite3_column_text(q, 4)};
      st = db_unseal(s->encrypted ? s->key : NULL, &ids, sqlite3_column_blob(q, 2),
                     sqlite3_column_bytes(q, 2), emb, err, errlen);
      if (st == MIEN_OK && mien_index_add(ix, sqlite3_column_int64(q, 0), emb) != 0)
        st = MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory loading the index");
    }
    OPENSSL_cleanse(emb, sizeof emb);
    if (st == MIEN_OK && rc != SQLITE_DONE) st = db_fail(s, "loading the index", err, errlen);
    sqlite3_finalize(q);
  }
  pthread_mutex_unlock(&s->mu);
  if (st != MIEN_OK) {
    mien_index_free(ix);
    return st;
  }
  c->ix = ix;
  return MIEN_OK;
}

mien_status db_coll(mien_store *s, const char *name, int load, int check_model, mien_coll **out,
                    char *err, size_t errlen) {
  char cur_name[32], cur_sha[65];
  if (check_model) {
    mien_status st = mien_store_model(cur_name, cur_sha, err, errlen);
    if (st != MIEN_OK) return st;
  }
  pthread_mutex_lock(&s->mu);
  sqlite3_stmt *q;
  mien_coll *c = NULL;
  mien_status st =
      db_prepare(s, "SELECT id, model_sha256 FROM collections WHERE name = ?", &q, err, errlen);
  if (st == MIEN_OK) {
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
      c = coll_entry(s, sqlite3_column_int64(q, 0), (const char *)sqlite3_column_text(q, 1));
      if (!c) st = MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
    } else if (rc == SQLITE_DONE) {
      st = MIEN_FAIL(err, errlen, MIEN_ERR_RESOURCE_NOT_FOUND,
                     "The collection id: %s does not exist", name);
    } else {
      st = db_fail(s, "reading collections", err, errlen);
    }
    sqlite3_finalize(q);
  }
  pthread_mutex_unlock(&s->mu);
  if (st != MIEN_OK) return st;
  if (check_model && strcmp(c->model_sha256, cur_sha) != 0) {
    char have[64], want[64];
    mien_store_model_version(c->model_sha256, have, sizeof have);
    mien_store_model_version(cur_sha, want, sizeof want);
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                     "collection %s holds templates of face model %s (sha256 %.16s...), but this "
                     "mien uses %s (%.16s...): templates of different models cannot be compared; "
                     "index the images into a new collection",
                     name, have, c->model_sha256, want, cur_sha);
  }
  if (load) {
    pthread_rwlock_wrlock(&c->lock);
    if (!c->ix && !c->dead) st = load_index(s, c, err, errlen);
    pthread_rwlock_unlock(&c->lock);
  }
  *out = c;
  return st;
}

/* Reads one collections row joined with its counts (columns as in collection_select). */
#define COLLECTION_SELECT                                                                          \
  "SELECT name, created, model, model_sha256,"                                                     \
  " (SELECT count(*) FROM faces f WHERE f.collection = c.id),"                                     \
  " (SELECT count(*) FROM users u WHERE u.collection = c.id) FROM collections c "

static void collection_row(sqlite3_stmt *q, mien_collection_info *info) {
  snprintf(info->id, sizeof info->id, "%s", (const char *)sqlite3_column_text(q, 0));
  info->created = sqlite3_column_double(q, 1);
  snprintf(info->model, sizeof info->model, "%s", (const char *)sqlite3_column_text(q, 2));
  snprintf(info->model_sha256, sizeof info->model_sha256, "%s",
           (const char *)sqlite3_column_text(q, 3));
  info->face_count = sqlite3_column_int64(q, 4);
  info->user_count = sqlite3_column_int64(q, 5);
  snprintf(info->index_kind, sizeof info->index_kind, "EXACT"); /* unless its index says ANN */
  info->index_recall = 1;
}

mien_status mien_store_describe_collection(mien_store *s, const char *id,
                                           mien_collection_info *info, char *err, size_t errlen) {
  pthread_mutex_lock(&s->mu);
  sqlite3_stmt *q;
  mien_status st = db_prepare(s, COLLECTION_SELECT "WHERE name = ?", &q, err, errlen);
  if (st == MIEN_OK) {
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
      collection_row(q, info);
    else if (rc == SQLITE_DONE)
      st = MIEN_FAIL(err, errlen, MIEN_ERR_RESOURCE_NOT_FOUND,
                     "The collection id: %s does not exist", id);
    else
      st = db_fail(s, "reading collections", err, errlen);
    sqlite3_finalize(q);
  }
  pthread_mutex_unlock(&s->mu);
  mien_coll *c; /* the search index's kind (docs/search.md), if the collection is loaded */
  char e[256];
  if (st == MIEN_OK && db_coll(s, id, 0, 0, &c, e, sizeof e) == MIEN_OK) {
    pthread_rwlock_rdlock(&c->lock);
    if (c->ix)
      snprintf(info->index_kind, sizeof info->index_kind, "%s",
               mien_index_kind(c->ix, &info->index_recall));
    pthread_rwlock_unlock(&c->lock);
  }
  return st;
}

mien_status mien_store_create_collection(mien_store *s, const char *principal, const char *id,
                                         const char *tags_json, mien_collection_info *info,
                                         char *err, size_t errlen) {
  char model[32], sha[65];
  mien_status st = mien_store_model(model, sha, err, errlen);
  if (st != MIEN_OK) return st;
  cJSON *tags = cJSON_Parse(tags_json ? tags_json : "{}");
  mien_policy policy;
  st = tags ? mien_policy_from_tags(tags, &policy, err, errlen)
            : MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER, "Tags must be a JSON object");
  cJSON_Delete(tags);
  if (st != MIEN_OK) return st;
  pthread_mutex_lock(&s->mu);
  sqlite3_stmt *q = NULL;
  st = db_exec(s, "BEGIN IMMEDIATE", err, errlen);
  if (st != MIEN_OK) {
    pthread_mutex_unlock(&s->mu);
    return st;
  }
  st = db_prepare(s,
                  "INSERT INTO collections (name, arn, created, model, model_sha256, tags)"
                  " VALUES (?, '', ?, ?, ?, ?)",
                  &q, err, errlen);
  if (st == MIEN_OK) {
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_double(q, 2, db_now());
    sqlite3_bind_text(q, 3, model, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, sha, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, tags_json ? tags_json : "{}", -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_CONSTRAINT)
      st = MIEN_FAIL(err, errlen, MIEN_ERR_RESOURCE_EXISTS, "The collection id: %s already exists",
                     id);
    else if (rc != SQLITE_DONE)
      st = db_fail(s, "creating the collection", err, errlen);
    sqlite3_finalize(q);
  }
  if (st == MIEN_OK)
    st = db_audit(s, principal, "CreateCollection", id, db_policy_json(&policy), err, errlen);
  st = db_finish(s, st, err, errlen);
  pthread_mutex_unlock(&s->mu);
  return st == MIEN_OK ? mien_store_describe_collection(s, id, info, err, errlen) : st;
}

mien_status mien_store_list_collections(mien_store *s, const char *after, int max,
                                        mien_collection_info *out, int *n, int *more, char *err,
                                        size_t errlen) {
  *n = 0, *more = 0;
  pthread_mutex_lock(&s->mu);
  sqlite3_stmt *q;
  mien_status st =
      db_prepare(s, COLLECTION_SELECT "WHERE name > ? ORDER BY name LIMIT ?", &q, err, errlen);
  if (st == MIEN_OK) {
    sqlite3_bind_text(q, 1, after, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 2, max + 1);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
      if (*n == max) {
        *more = 1;
        break;
      }
      collection_row(q, &out[(*n)++]);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) st = db_fail(s, "listing collections", err, errlen);
    sqlite3_finalize(q);
  }
  pthread_mutex_unlock(&s->mu);
  return st;
}

/* The SQL of mien_store_delete_collection within its transaction: the counts for the audit
 * record, then the deletion (faces, images and users go by cascade). */
static mien_status delete_collection_rows(mien_store *s, const char *principal, const char *id,
                                          int64_t crow, char *err, size_t errlen) {
  sqlite3_stmt *q;
  mien_status st = db_prepare(s,
                              "SELECT (SELECT count(*) FROM faces WHERE collection = ?1),"
                              " (SELECT count(*) FROM users WHERE collection = ?1)",
                              &q, err, errlen);
  if (st != MIEN_OK) return st;
  sqlite3_bind_int64(q, 1, crow);
  cJSON *fields = cJSON_CreateObject();
  if (sqlite3_step(q) == SQLITE_ROW) {
    cJSON_AddNumberToObject(fields, "faces", (double)sqlite3_column_int64(q, 0));
    cJSON_AddNumberToObject(fields, "users", (double)sqlite3_column_int64(q, 1));
  } else {
    st = db_fail(s, "counting the collection", err, errlen);
  }
  sqlite3_finalize(q);
  if (st == MIEN_OK) st = db_prepare(s, "DELETE FROM collections WHERE id = ?", &q, err, errlen);
  if (st == MIEN_OK) {
    sqlite3_bind_int64(q, 1, crow);
    if (sqlite3_step(q) != SQLITE_DONE)
      st = db_fail(s, "deleting the collection", err, errlen);
    else if (sqlite3_changes(s->db) == 0)
      st = MIEN_FAIL(err, errlen, MIEN_ERR_RESOURCE_NOT_FOUND,
                     "The collection id: %s does not exist", id);
    sqlite3_finalize(q);
  }
  if (st == MIEN_OK) return db_audit(s, principal, "DeleteCollection", id, fields, err, errlen);
  cJSON_Delete(fields);
  return st;
}

mien_status mien_store_delete_collection(mien_store *s, const char *principal, const char *id,
                                         char *err, size_t errlen) {
  mien_coll *c;
  mien_status st = db_coll(s, id, 0, 0, &c, err, errlen);
  if (st != MIEN_OK) return st;
  pthread_rwlock_wrlock(&c->lock);
  pthread_mutex_lock(&s->mu);
  st = db_exec(s, "BEGIN IMMEDIATE", err, errlen);
  if (st == MIEN_OK) {
    st = delete_collection_rows(s, principal, id, c->id, err, errlen);
    st = db_finish(s, st, err, errlen);
  }
  if (st == MIEN_OK) db_erase(s);
  pthread_mutex_unlock(&s->mu);
  if (st == MIEN_OK) {
    c->dead = 1;
    mien_index_free(c->ix);
    c->ix = NULL;
  }
  pthread_rwlock_unlock(&c->lock);
  return st;
}
