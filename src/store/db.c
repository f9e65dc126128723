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
#include "store/internal.h"
#include "util/util.h"

#define MODEL_NAME "mien-fr"
#define META_ERASURE_PENDING "erasure_pending" /* meta row: since when (db_erase) */

int mien_store_default_dir(char *out, size_t outlen) {
  const char *store = getenv("MIEN_STORE");
  if (store && *store) {
    int n = snprintf(out, outlen, "%s", store);
    return n > 0 && (size_t)n < outlen ? 0 : -1;
  }
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
  const char *msg = s->db->msg;
  switch (s->db->fail) {
  case DB_ERR_NOMEM:
    return MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "%s: out of memory", what);
  case DB_ERR_IO:
    return MIEN_FAIL(err, errlen, MIEN_ERR_IO, "%s: %s", what, msg);
  case DB_ERR_UNAVAILABLE: /* InternalServerError, which AWS clients retry */
    return MIEN_FAIL(err, errlen, MIEN_ERR_IO, "the store is unavailable, retry later (%s: %s)",
                     what, msg);
  default:
    return MIEN_FAIL(err, errlen, MIEN_ERR_INTERNAL, "%s: %s", what, msg);
  }
}

mien_status db_exec(mien_store *s, const char *sql, char *err, size_t errlen) {
  return db_exec_raw(s->db, sql) == 0 ? MIEN_OK : db_fail(s, sql, err, errlen);
}

mien_status db_prepare(mien_store *s, const char *sql, db_stmt **st, char *err, size_t errlen) {
  return db_prepare_raw(s->db, sql, st) == 0 ? MIEN_OK : db_fail(s, sql, err, errlen);
}

mien_status db_finish(mien_store *s, mien_status st, char *err, size_t errlen) {
  if (st != MIEN_OK) {
    db_exec_raw(s->db, "ROLLBACK");
    return st;
  }
  st = db_exec(s, "COMMIT", err, errlen);
  if (st != MIEN_OK) db_exec_raw(s->db, "ROLLBACK");
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
    /* 4 -> 5: access keys (db_keys.c), until now DIR/keys.json (imported at open). secret is the
     * SecretAccessKey, sealed when the store has a template key. */
    "CREATE TABLE access_keys ("
    "  id TEXT PRIMARY KEY, user_name TEXT NOT NULL, secret BLOB NOT NULL,"
    "  created REAL NOT NULL);",
};
#define SCHEMA_VERSION (int)(sizeof migrations / sizeof *migrations)

static mien_status migrate(mien_store *s, char *err, size_t errlen) {
  mien_status st = db_exec(s, "BEGIN IMMEDIATE", err, errlen);
  if (st != MIEN_OK) return st;
  db_stmt *q;
  int version = 0;
  st = db_prepare(s, "PRAGMA user_version", &q, err, errlen);
  if (st == MIEN_OK) {
    if (db_step(q) == DB_ROW) version = db_column_int64(q, 0);
    db_finalize(q);
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
  /* The files are looked at through O_PATH descriptors: closing an ordinary one would drop
   * every POSIX lock this process holds on the file, those of another store already open on the
   * same directory included (SQLite's WAL locks), and that store would then read stale pages. */
  static const char *const suffixes[] = {"", "-wal", "-shm"};
  for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
    char p[4200];
    snprintf(p, sizeof p, "%s%s", path, suffixes[i]);
    int fd = open(p, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && i == 0) { /* new: no locks on it yet */
      int made = open(p, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (made >= 0) close(made);
      fd = open(p, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0 && errno == ENOENT && i > 0) continue;
    int ok =
        fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
        (!(sb.st_mode & 077) || fchmodat(AT_FDCWD, p, sb.st_mode & 0700, AT_SYMLINK_NOFOLLOW) == 0);
    int e = errno;
    if (fd >= 0) close(fd);
    if (!ok)
      return MIEN_FAIL(err, errlen, MIEN_ERR_IO, "%s: %s", p,
                       fd >= 0 && !S_ISREG(sb.st_mode) ? "not a regular file" : strerror(e));
  }
  return MIEN_OK;
}

/* The PostgreSQL schema: SQLite's latest (the migrations above) in PostgreSQL's types. Ids are
 * sequences (never reused, as AUTOINCREMENT); text keys sort bytewise (COLLATE "C"), as SQLite's
 * do, so pages and orders are the same on both; templates stay in the row (STORAGE PLAIN: no
 * TOAST copy to erase besides it). Created under the write lock, so nodes starting together
 * make it once. */
static const char pg_schema[] =
    "BEGIN; " DB_PG_WRITE_LOCK_SQL ";"
    "CREATE TABLE IF NOT EXISTS collections ("
    "  id BIGSERIAL PRIMARY KEY, name TEXT COLLATE \"C\" NOT NULL UNIQUE, arn TEXT NOT NULL,"
    "  created DOUBLE PRECISION NOT NULL, model TEXT NOT NULL, model_sha256 TEXT NOT NULL,"
    "  tags TEXT NOT NULL DEFAULT '{}');"
    "CREATE TABLE IF NOT EXISTS images ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  collection BIGINT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,"
    "  image_id TEXT NOT NULL, sha256 BYTEA NOT NULL, external_image_id TEXT,"
    "  created DOUBLE PRECISION NOT NULL);"
    "CREATE INDEX IF NOT EXISTS images_hash ON images(collection, sha256);"
    "CREATE INDEX IF NOT EXISTS images_created ON images(collection, created);"
    "CREATE TABLE IF NOT EXISTS users ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  collection BIGINT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,"
    "  user_id TEXT COLLATE \"C\" NOT NULL, status TEXT NOT NULL DEFAULT 'CREATED',"
    "  created DOUBLE PRECISION NOT NULL, UNIQUE (collection, user_id));"
    "CREATE INDEX IF NOT EXISTS users_created ON users(collection, created);"
    "CREATE TABLE IF NOT EXISTS faces ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  collection BIGINT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,"
    "  face_id TEXT COLLATE \"C\" NOT NULL UNIQUE,"
    "  image BIGINT NOT NULL REFERENCES images(id) ON DELETE CASCADE,"
    "  \"left\" DOUBLE PRECISION NOT NULL, top DOUBLE PRECISION NOT NULL,"
    "  width DOUBLE PRECISION NOT NULL, height DOUBLE PRECISION NOT NULL,"
    "  confidence DOUBLE PRECISION NOT NULL, embedding BYTEA NOT NULL,"
    "  created DOUBLE PRECISION NOT NULL,"
    "  \"user\" BIGINT REFERENCES users(id) ON DELETE SET NULL);"
    "ALTER TABLE faces ALTER COLUMN embedding SET STORAGE PLAIN;"
    "CREATE INDEX IF NOT EXISTS faces_collection ON faces(collection, id);"
    "CREATE INDEX IF NOT EXISTS faces_image ON faces(image);"
    "CREATE INDEX IF NOT EXISTS faces_user ON faces(\"user\");"
    "CREATE INDEX IF NOT EXISTS faces_created ON faces(collection, created);"
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS audit (seq BIGINT PRIMARY KEY, record TEXT NOT NULL,"
    "  hash TEXT NOT NULL);"
    "CREATE OR REPLACE FUNCTION mien_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS"
    "  $$BEGIN RAISE EXCEPTION 'the audit log is append-only'; END$$;"
    "CREATE OR REPLACE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit"
    "  FOR EACH ROW EXECUTE FUNCTION mien_audit_append_only();"
    "CREATE TABLE IF NOT EXISTS idempotency ("
    "  op TEXT NOT NULL, principal TEXT NOT NULL, token TEXT NOT NULL,"
    "  collection BIGINT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,"
    "  request_sha256 BYTEA NOT NULL, response TEXT NOT NULL, created DOUBLE PRECISION NOT NULL,"
    "  PRIMARY KEY (op, principal, token));"
    "CREATE INDEX IF NOT EXISTS idempotency_created ON idempotency(created);"
    "CREATE INDEX IF NOT EXISTS idempotency_collection ON idempotency(collection);"
    "CREATE TABLE IF NOT EXISTS video_jobs ("
    "  id BIGSERIAL PRIMARY KEY, job_id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,"
    "  token TEXT UNIQUE, request TEXT NOT NULL, principal TEXT NOT NULL, collection TEXT,"
    "  state TEXT NOT NULL DEFAULT 'QUEUED', status_message TEXT NOT NULL DEFAULT '',"
    "  progress DOUBLE PRECISION NOT NULL DEFAULT 0, metadata TEXT,"
    "  attempts BIGINT NOT NULL DEFAULT 0, created DOUBLE PRECISION NOT NULL,"
    "  finished DOUBLE PRECISION);"
    "CREATE INDEX IF NOT EXISTS video_jobs_state ON video_jobs(state, id);"
    "CREATE INDEX IF NOT EXISTS video_jobs_finished ON video_jobs(finished);"
    "CREATE TABLE IF NOT EXISTS video_results ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  job BIGINT NOT NULL REFERENCES video_jobs(id) ON DELETE CASCADE,"
    "  \"timestamp\" BIGINT NOT NULL, person BIGINT NOT NULL, item TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS video_results_time"
    "  ON video_results(job, \"timestamp\", person, id);"
    "CREATE INDEX IF NOT EXISTS video_results_person"
    "  ON video_results(job, person, \"timestamp\", id);"
    /* The change feed (follow.c): a row per face added or removed and per collection deleted,
     * written by trigger in the writing transaction, with a notification at its commit. */
    "CREATE TABLE IF NOT EXISTS changes ("
    "  seq BIGSERIAL PRIMARY KEY, collection BIGINT NOT NULL, op TEXT NOT NULL, face BIGINT,"
    "  created DOUBLE PRECISION NOT NULL DEFAULT extract(epoch FROM clock_timestamp()));"
    "CREATE INDEX IF NOT EXISTS changes_created ON changes(created);"
    "CREATE OR REPLACE FUNCTION mien_face_change() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN"
    "  IF TG_OP = 'INSERT' THEN"
    "    INSERT INTO changes (collection, op, face) VALUES (NEW.collection, 'add', NEW.id);"
    "  ELSE"
    "    INSERT INTO changes (collection, op, face) VALUES (OLD.collection, 'remove', OLD.id);"
    "  END IF;"
    "  PERFORM pg_notify('mien_changes', ''); RETURN NULL; END$$;"
    "CREATE OR REPLACE TRIGGER faces_change AFTER INSERT OR DELETE ON faces"
    "  FOR EACH ROW EXECUTE FUNCTION mien_face_change();"
    "CREATE OR REPLACE FUNCTION mien_collection_change() RETURNS trigger LANGUAGE plpgsql AS"
    "  $$BEGIN INSERT INTO changes (collection, op) VALUES (OLD.id, 'drop');"
    "  PERFORM pg_notify('mien_changes', ''); RETURN NULL; END$$;"
    "CREATE OR REPLACE TRIGGER collections_change AFTER DELETE ON collections"
    "  FOR EACH ROW EXECUTE FUNCTION mien_collection_change();"
    "COMMIT;";

/* Migration 4 -> 5 in PostgreSQL, for a database made before access keys were stored (and for a
 * new one, after pg_schema); under the write lock, as pg_schema. */
static const char pg_access_keys[] =
    "BEGIN; " DB_PG_WRITE_LOCK_SQL ";"
    "CREATE TABLE IF NOT EXISTS access_keys ("
    "  id TEXT COLLATE \"C\" PRIMARY KEY, user_name TEXT NOT NULL, secret BYTEA NOT NULL,"
    "  created DOUBLE PRECISION NOT NULL);"
    "COMMIT;";

/* Whether a location names PostgreSQL; its URL into conninfo then. */
static int location_is_pg(const char *location, char *conninfo, size_t cap) {
  if (!db_location_is_pg(location)) return 0;
  snprintf(conninfo, cap, "%s", location);
  return 1;
}

/* Opens the database a location names: a PostgreSQL URL, or a data directory ("sqlite:DIR" or
 * DIR) whose mien.db is created private and put in WAL mode. */
static mien_status open_db(mien_store *s, const char *location, char *err, size_t errlen) {
  char msg[600], conninfo[4400];
  if (location_is_pg(location, conninfo, sizeof conninfo)) {
    if (!(s->pg_conninfo = strdup(conninfo)))
      return MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
    if (!(s->db = db_pg_open(conninfo, msg, sizeof msg)))
      return MIEN_FAIL(err, errlen, MIEN_ERR_IO, "%s", msg);
    /* Once made, the schema is not touched again: its ALTERs would lock tables other nodes
     * are reading. */
    db_stmt *q;
    int made = 0, keys = 0;
    mien_status st = db_prepare(s,
                                "SELECT to_regclass('changes') IS NOT NULL,"
                                " to_regclass('access_keys') IS NOT NULL",
                                &q, err, errlen);
    if (st != MIEN_OK) return st;
    if (db_step(q) == DB_ROW) made = (int)db_column_int64(q, 0), keys = (int)db_column_int64(q, 1);
    db_finalize(q);
    if (!made && db_pg_exec_script(s->db, pg_schema) != 0)
      return db_fail(s, "creating the PostgreSQL schema", err, errlen);
    if (!keys && db_pg_exec_script(s->db, pg_access_keys) != 0)
      return db_fail(s, "adding access keys to the PostgreSQL schema", err, errlen);
    return MIEN_OK;
  }
  const char *dir = db_location_dir(location);
  if (mien_make_dirs(dir) != 0)
    return MIEN_FAIL(err, errlen, MIEN_ERR_IO, "cannot create the data directory %s: %s", dir,
                     strerror(errno));
  if (!(s->ann_dir = strdup(dir))) return MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  char path[4096];
  snprintf(path, sizeof path, "%s/mien.db", dir);
  mien_status st = private_files(dir, path, err, errlen);
  if (st != MIEN_OK) return st;
  if (!(s->db = db_sqlite_open(path, 1, 0, msg, sizeof msg)))
    return MIEN_FAIL(err, errlen, MIEN_ERR_IO, "%s", msg);
  /* WAL + FULL: each commit is fsync'ed before it returns (NORMAL would lose the last commits
   * on power loss). secure_delete: deleted templates are overwritten, not merely unlinked.
   * temp_store: sorts and temporary tables stay in memory, never in files outside dir. */
  st = db_exec(s,
               "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
               "PRAGMA secure_delete = ON; PRAGMA foreign_keys = ON;"
               "PRAGMA temp_store = MEMORY;",
               err, errlen);
  return st == MIEN_OK ? migrate(s, err, errlen) : st;
}

const char *db_location_dir(const char *location) {
  return strncmp(location, "sqlite:", 7) ? location : location + 7;
}

db_conn *db_open_location(const char *location, int readonly, char *msg, size_t cap) {
  char conninfo[4400], path[4200];
  if (location_is_pg(location, conninfo, sizeof conninfo)) return db_pg_open(conninfo, msg, cap);
  snprintf(path, sizeof path, "%s/mien.db", db_location_dir(location));
  return db_sqlite_open(path, 0, readonly, msg, cap);
}

mien_status db_open_tables(const char *location, mien_store **out, char *err, size_t errlen) {
  *out = NULL;
  mien_store *s = calloc(1, sizeof *s);
  if (!s) return MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  pthread_mutex_init(&s->mu, NULL);
  pthread_mutex_init(&s->follow_mu, NULL);
  mien_status st = open_db(s, location, err, errlen);
  if (st != MIEN_OK) {
    mien_store_close(s);
    return st;
  }
  *out = s;
  return MIEN_OK;
}

mien_status mien_store_open(const char *location, mien_store **out, char *err, size_t errlen) {
  return mien_store_open_key(location, getenv(MIEN_TEMPLATE_KEY_ENV), out, err, errlen);
}

mien_status mien_store_open_key(const char *location, const char *key_file, mien_store **out,
                                char *err, size_t errlen) {
  mien_store *s;
  *out = NULL;
  mien_status st = db_open_tables(location, &s, err, errlen);
  if (st != MIEN_OK) return st;
  pthread_mutex_lock(&s->mu);
  st = db_key_setup(s, key_file, err, errlen);
  pthread_mutex_unlock(&s->mu);
  if (st == MIEN_OK && !db_location_is_pg(location)) /* a data directory's keys.json */
    st = db_keys_import(s, db_location_dir(location), err, errlen);
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

/* --- the ANN index saved beside a collection (index.h, docs/search.md) --------------------- *
 * (load_index also keeps the fp32 templates of collections from OFFHEAP_FROM faces on off-heap,
 * in an unnamed file in DIR: one descriptor each, so not for the many small ones.)
 * A collection past the ANN threshold would retrain its index at every open (minutes at 10M
 * faces), so the index is saved at close to DIR/ann-ROW.idx and adopted at the next load if it
 * still indexes exactly the collection's templates (index.c checks every id and code). An
 * adopted file is kept while nothing changes, so that closing an unchanged collection (every
 * CLI command) does not write it again (5 GB at 10M faces), and removed before the first write
 * (db_ann_forget): from then on it is stale, and a deletion must not leave its codes in a
 * file. Not with a template key (the int8 codes are templates a few bits short, which would
 * sit unsealed on disk) and not on PostgreSQL (other nodes write). */

#define OFFHEAP_FROM 65536 /* 128 MiB of fp32 templates */

static int ann_file(const mien_store *s, const mien_coll *c, char *path, size_t cap) {
  return s->ann_dir &&
         snprintf(path, cap, "%s/ann-%lld.idx", s->ann_dir, (long long)c->id) < (int)cap;
}

/* Removes the saved ANN of c, overwritten first: it holds the int8 codes of templates. */
static void ann_wipe(const mien_store *s, const char *path) {
  int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  struct stat sb;
  if (fd < 0) return;
  if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) mien_wipe_file(fd, sb.st_size, path, s->ann_dir);
  close(fd);
}

void db_ann_forget(const mien_store *s, mien_coll *c) {
  char path[4200];
  c->ann_kept = 0;
  if (ann_file(s, c, path, sizeof path)) ann_wipe(s, path);
}

/* c->ix, loaded with the threshold held (load_index), adopts its saved ANN, then builds. */
static void ann_restore(mien_store *s, mien_coll *c) {
  char path[4200];
  if (ann_file(s, c, path, sizeof path)) {
    c->ann_kept = !s->encrypted && mien_index_load_ann(c->ix, path) == 0;
    if (!c->ann_kept) ann_wipe(s, path); /* refused: retrained as usual */
  }
  mien_index_set_ann(c->ix, 0, 0, 0, 0);
}

static void ann_keep(mien_store *s, mien_coll *c) {
  char path[4200];
  if (c->ix && !c->dead && !c->ann_kept && !s->encrypted && ann_file(s, c, path, sizeof path))
    mien_index_save_ann(c->ix, path); /* failing, a restart retrains */
}

void mien_store_close(mien_store *s) {
  if (!s) return;
  db_follow_stop(s);
  for (int i = 0; i < s->ncolls; i++) {
    ann_keep(s, s->colls[i]);
    mien_index_free(s->colls[i]->ix);
    mien_cluster_free(s->colls[i]->people);
    pthread_mutex_destroy(&s->colls[i]->people_mu);
    pthread_rwlock_destroy(&s->colls[i]->lock);
    free(s->colls[i]);
  }
  free(s->colls);
  if (s->db && s->erasure_pending > 0) db_erase(s);
  db_conn_close(s->db);
  OPENSSL_cleanse(s->key, sizeof s->key);
  pthread_mutex_destroy(&s->mu);
  pthread_mutex_destroy(&s->follow_mu);
  free(s->pg_conninfo);
  free(s->ann_dir);
  free(s);
}

/* Makes the deleted rows' bytes go (mutex held, no transaction open): SQLite moves the WAL into
 * the database and truncates it, waiting at most 200 ms for readers, so that a deletion does not
 * hold the store's mutex for the whole busy timeout while another process reads; PostgreSQL
 * rewrites the tables that hold templates, secrets and what names people (VACUUM FULL: a plain
 * VACUUM frees the dead tuples' space but leaves their bytes in the pages), waiting at most 2 s for
 * other sessions' locks. */
static int erase_now(mien_store *s) {
  if (!s->db->is_pg) return db_sqlite_checkpoint(s->db, 200);
  return db_exec_raw(s->db, "SET lock_timeout = '2s';"
                            " VACUUM (FULL) faces, images, users, access_keys;"
                            " SET lock_timeout = 0");
}

void db_erase(mien_store *s) {
  char err[256];
  if (erase_now(s) != 0) {
    /* Busy: a reader's snapshot (SQLite) or lock (PostgreSQL) still holds the old rows. Say so
     * where it lasts. */
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
    erase_now(s);
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
  mien_status st = MIEN_OK; /* PostgreSQL: its own checkpoints; nothing of the store's to move */
  if (!s->db->is_pg && db_sqlite_checkpoint(s->db, -1) != 0)
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

/* db_test_set_now's clock, in milliseconds; 0: the real one. */
static _Atomic int64_t test_now_ms;

void db_test_set_now(double t) {
  test_now_ms = t > 0 ? (int64_t)(t * 1000.0 + 0.5) : 0;
}

double db_now(void) {
  int64_t fixed = test_now_ms;
  if (fixed) return (double)fixed / 1000.0;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)(ts.tv_nsec / 1000000) / 1000.0;
}

/* ---- collections ---- */

mien_status db_collection_row(mien_store *s, const char *name, int64_t *row, char *err,
                              size_t errlen) {
  db_stmt *q;
  mien_status st = db_prepare(s, "SELECT id FROM collections WHERE name = ?", &q, err, errlen);
  if (st != MIEN_OK) return st;
  db_bind_text(q, 1, name);
  int rc = db_step(q);
  if (rc == DB_ROW)
    *row = db_column_int64(q, 0);
  else if (rc == DB_DONE)
    st = MIEN_FAIL(err, errlen, MIEN_ERR_RESOURCE_NOT_FOUND, "The collection id: %s does not exist",
                   name);
  else
    st = db_fail(s, "reading collections", err, errlen);
  db_finalize(q);
  return st;
}

mien_status db_collection_query(mien_store *s, const char *name, const char *sql, db_stmt **q,
                                char *err, size_t errlen) {
  int64_t crow;
  mien_status st = db_collection_row(s, name, &crow, err, errlen);
  if (st == MIEN_OK) st = db_prepare(s, sql, q, err, errlen);
  if (st == MIEN_OK) db_bind_int64(*q, 1, crow);
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
  mien_index_set_ann(ix, SIZE_MAX, 0, 0, 0); /* no build part-way: ann_restore decides */
  if (s->ann_dir && !s->encrypted) /* fp32 off-heap when large; no plaintext on disk under a key */
    mien_index_vectors_in(ix, s->ann_dir, OFFHEAP_FROM);
  pthread_mutex_lock(&s->mu);
  db_stmt *q;
  mien_status st =
      db_prepare(s,
                 "SELECT f.id, f.face_id, f.embedding, i.external_image_id, u.user_id FROM faces f"
                 " JOIN images i ON i.id = f.image LEFT JOIN users u ON u.id = f.user"
                 " WHERE f.collection = ? ORDER BY f.id",
                 &q, err, errlen);
  if (st == MIEN_OK) {
    db_bind_int64(q, 1, c->id);
    db_stream(q); /* a row at a time: the index, not the result set, is what stays */
    int rc;
    float emb[MIEN_EMBED_DIM];
    while (st == MIEN_OK && (rc = db_step(q)) == DB_ROW) {
      db_seal_ids ids = {c->id, db_column_text(q, 1), db_column_text(q, 3), db_column_text(q, 4)};
      st = db_unseal(s->encrypted ? s->key : NULL, &ids, db_column_blob(q, 2),
                     db_column_bytes(q, 2), emb, err, errlen);
      if (st == MIEN_OK && mien_index_add(ix, db_column_int64(q, 0), emb) != 0)
        st = MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory loading the index");
    }
    OPENSSL_cleanse(emb, sizeof emb);
    if (st == MIEN_OK && rc != DB_DONE) st = db_fail(s, "loading the index", err, errlen);
    db_finalize(q);
  }
  pthread_mutex_unlock(&s->mu);
  if (st != MIEN_OK) {
    mien_index_free(ix);
    return st;
  }
  c->ix = ix;
  ann_restore(s, c);
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
  db_stmt *q;
  mien_coll *c = NULL;
  mien_status st =
      db_prepare(s, "SELECT id, model_sha256 FROM collections WHERE name = ?", &q, err, errlen);
  if (st == MIEN_OK) {
    db_bind_text(q, 1, name);
    int rc = db_step(q);
    if (rc == DB_ROW) {
      c = coll_entry(s, db_column_int64(q, 0), db_column_text(q, 1));
      if (!c) st = MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
    } else if (rc == DB_DONE) {
      st = MIEN_FAIL(err, errlen, MIEN_ERR_RESOURCE_NOT_FOUND,
                     "The collection id: %s does not exist", name);
    } else {
      st = db_fail(s, "reading collections", err, errlen);
    }
    db_finalize(q);
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
  if (load && s->pg_conninfo) { /* other nodes' changes must reach the index from its load on */
    pthread_mutex_lock(&s->follow_mu);
    if (!s->follow) st = db_follow_start(s, s->pg_conninfo, err, errlen);
    pthread_mutex_unlock(&s->follow_mu);
    if (st != MIEN_OK) return st;
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

static void collection_row(db_stmt *q, mien_collection_info *info) {
  snprintf(info->id, sizeof info->id, "%s", db_column_text(q, 0));
  info->created = db_column_double(q, 1);
  snprintf(info->model, sizeof info->model, "%s", db_column_text(q, 2));
  snprintf(info->model_sha256, sizeof info->model_sha256, "%s", db_column_text(q, 3));
  info->face_count = db_column_int64(q, 4);
  info->user_count = db_column_int64(q, 5);
  snprintf(info->index_kind, sizeof info->index_kind, "EXACT"); /* unless its index says ANN */
  info->index_recall = 1;
}

mien_status mien_store_describe_collection(mien_store *s, const char *id,
                                           mien_collection_info *info, char *err, size_t errlen) {
  pthread_mutex_lock(&s->mu);
  db_stmt *q;
  mien_status st = db_prepare(s, COLLECTION_SELECT "WHERE name = ?", &q, err, errlen);
  if (st == MIEN_OK) {
    db_bind_text(q, 1, id);
    int rc = db_step(q);
    if (rc == DB_ROW)
      collection_row(q, info);
    else if (rc == DB_DONE)
      st = MIEN_FAIL(err, errlen, MIEN_ERR_RESOURCE_NOT_FOUND,
                     "The collection id: %s does not exist", id);
    else
      st = db_fail(s, "reading collections", err, errlen);
    db_finalize(q);
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
  db_stmt *q = NULL;
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
    db_bind_text(q, 1, id);
    db_bind_double(q, 2, db_now());
    db_bind_text(q, 3, model);
    db_bind_text(q, 4, sha);
    db_bind_text(q, 5, tags_json ? tags_json : "{}");
    int rc = db_step(q);
    if (rc == DB_CONSTRAINT)
      st = MIEN_FAIL(err, errlen, MIEN_ERR_RESOURCE_EXISTS, "The collection id: %s already exists",
                     id);
    else if (rc != DB_DONE)
      st = db_fail(s, "creating the collection", err, errlen);
    db_finalize(q);
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
  db_stmt *q;
  mien_status st =
      db_prepare(s, COLLECTION_SELECT "WHERE name > ? ORDER BY name LIMIT ?", &q, err, errlen);
  if (st == MIEN_OK) {
    db_bind_text(q, 1, after);
    db_bind_int64(q, 2, max + 1);
    int rc;
    while ((rc = db_step(q)) == DB_ROW) {
      if (*n == max) {
        *more = 1;
        break;
      }
      collection_row(q, &out[(*n)++]);
    }
    if (rc != DB_ROW && rc != DB_DONE) st = db_fail(s, "listing collections", err, errlen);
    db_finalize(q);
  }
  pthread_mutex_unlock(&s->mu);
  return st;
}

/* The SQL of mien_store_delete_collection within its transaction: the counts for the audit
 * record, then the deletion (faces, images and users go by cascade). */
static mien_status delete_collection_rows(mien_store *s, const char *principal, const char *id,
                                          int64_t crow, char *err, size_t errlen) {
  db_stmt *q;
  mien_status st = db_prepare(s,
                              "SELECT (SELECT count(*) FROM faces WHERE collection = ?1),"
                              " (SELECT count(*) FROM users WHERE collection = ?1)",
                              &q, err, errlen);
  if (st != MIEN_OK) return st;
  db_bind_int64(q, 1, crow);
  cJSON *fields = cJSON_CreateObject();
  if (db_step(q) == DB_ROW) {
    cJSON_AddNumberToObject(fields, "faces", (double)db_column_int64(q, 0));
    cJSON_AddNumberToObject(fields, "users", (double)db_column_int64(q, 1));
  } else {
    st = db_fail(s, "counting the collection", err, errlen);
  }
  db_finalize(q);
  if (st == MIEN_OK) st = db_prepare(s, "DELETE FROM collections WHERE id = ?", &q, err, errlen);
  if (st == MIEN_OK) {
    db_bind_int64(q, 1, crow);
    if (db_step(q) != DB_DONE)
      st = db_fail(s, "deleting the collection", err, errlen);
    else if (db_changes(s) == 0)
      st = MIEN_FAIL(err, errlen, MIEN_ERR_RESOURCE_NOT_FOUND,
                     "The collection id: %s does not exist", id);
    db_finalize(q);
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
    db_ann_forget(s, c);
  }
  pthread_rwlock_unlock(&c->lock);
  return st;
}
