/* sql_sqlite.c - sql.h's driver for the embedded store: a thin layer over SQLite's own statement
 * API (the store's SQL is SQLite's dialect already). Failures are classified by SQLite's primary
 * result code: out of memory, the file system or locks (IO), anything else a bug. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/sql.h"

#define BUSY_TIMEOUT_MS 10000

typedef struct {
  db_conn base;
  sqlite3 *db;
} lite_conn;

typedef struct {
  db_stmt base;
  sqlite3_stmt *st;
} lite_stmt;

static sqlite3 *db_of(db_conn *c) {
  return ((lite_conn *)c)->db;
}
static sqlite3_stmt *st_of(db_stmt *q) {
  return ((lite_stmt *)q)->st;
}

static void note_failure(db_conn *c) {
  sqlite3 *db = db_of(c);
  switch (sqlite3_errcode(db) & 0xff) {
  case SQLITE_NOMEM:
    c->fail = DB_ERR_NOMEM;
    break;
  case SQLITE_FULL:
  case SQLITE_IOERR:
  case SQLITE_CANTOPEN:
  case SQLITE_READONLY:
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
  case SQLITE_PERM:
  case SQLITE_CORRUPT:
  case SQLITE_NOTADB:
    c->fail = DB_ERR_IO;
    break;
  default:
    c->fail = DB_ERR_OTHER;
  }
  snprintf(c->msg, sizeof c->msg, "%s", sqlite3_errmsg(db));
}

static int lite_exec(db_conn *c, const char *sql) {
  if (sqlite3_exec(db_of(c), sql, NULL, NULL, NULL) == SQLITE_OK) return 0;
  note_failure(c);
  return -1;
}

static int lite_prepare(db_conn *c, const char *sql, db_stmt **out) {
  lite_stmt *q = calloc(1, sizeof *q);
  if (!q) {
    c->fail = DB_ERR_NOMEM;
    snprintf(c->msg, sizeof c->msg, "out of memory");
    return -1;
  }
  if (sqlite3_prepare_v2(db_of(c), sql, -1, &q->st, NULL) != SQLITE_OK) {
    note_failure(c);
    free(q);
    return -1;
  }
  q->base.c = c;
  *out = &q->base;
  return 0;
}

static void lite_bind_text(db_stmt *q, int i, const char *v) {
  sqlite3_bind_text(st_of(q), i, v, -1, SQLITE_TRANSIENT);
}
static void lite_bind_int64(db_stmt *q, int i, int64_t v) {
  sqlite3_bind_int64(st_of(q), i, v);
}
static void lite_bind_double(db_stmt *q, int i, double v) {
  sqlite3_bind_double(st_of(q), i, v);
}
static void lite_bind_blob(db_stmt *q, int i, const void *v, int len) {
  sqlite3_bind_blob(st_of(q), i, v, len, SQLITE_TRANSIENT);
}
static void lite_bind_null(db_stmt *q, int i) {
  sqlite3_bind_null(st_of(q), i);
}
static int lite_parameter_count(db_stmt *q) {
  return sqlite3_bind_parameter_count(st_of(q));
}

static int lite_step(db_stmt *q) {
  int rc = sqlite3_step(st_of(q));
  if (rc == SQLITE_ROW) return DB_ROW;
  if (rc == SQLITE_DONE) return DB_DONE;
  note_failure(q->c);
  return (rc & 0xff) == SQLITE_CONSTRAINT ? DB_CONSTRAINT : DB_FAILED;
}

static const char *lite_column_text(db_stmt *q, int i) {
  return (const char *)sqlite3_column_text(st_of(q), i);
}
static int64_t lite_column_int64(db_stmt *q, int i) {
  return sqlite3_column_int64(st_of(q), i);
}
static double lite_column_double(db_stmt *q, int i) {
  return sqlite3_column_double(st_of(q), i);
}
static const void *lite_column_blob(db_stmt *q, int i) {
  return sqlite3_column_blob(st_of(q), i);
}
static int lite_column_bytes(db_stmt *q, int i) {
  return sqlite3_column_bytes(st_of(q), i);
}
static int lite_column_is_null(db_stmt *q, int i) {
  return sqlite3_column_type(st_of(q), i) == SQLITE_NULL;
}
static void lite_reset(db_stmt *q) {
  sqlite3_reset(st_of(q));
}
static void lite_finalize(db_stmt *q) {
  sqlite3_finalize(st_of(q));
  free(q);
}
static int64_t lite_changes(db_conn *c) {
  return sqlite3_changes64(db_of(c));
}
static void lite_close(db_conn *c) {
  sqlite3_close(db_of(c));
  free(c);
}

static const db_ops lite_ops = {
    lite_exec,        lite_prepare,      lite_bind_text,      lite_bind_int64,
    lite_bind_double, lite_bind_blob,    lite_bind_null,      lite_parameter_count,
    lite_step,        lite_column_text,  lite_column_int64,   lite_column_double,
    lite_column_blob, lite_column_bytes, lite_column_is_null, lite_reset,
    lite_finalize,    lite_changes,      lite_close,
};

db_conn *db_sqlite_open(const char *path, int create, int readonly, char *msg, size_t cap) {
  lite_conn *c = calloc(1, sizeof *c);
  if (!c) {
    snprintf(msg, cap, "out of memory");
    return NULL;
  }
  int flags =
      readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
  if (sqlite3_open_v2(path, &c->db, flags, NULL) != SQLITE_OK) {
    snprintf(msg, cap, "cannot open %s: %s", path, c->db ? sqlite3_errmsg(c->db) : "out of memory");
    sqlite3_close(c->db);
    free(c);
    return NULL;
  }
  /* Another process may hold the write lock for a commit; wait for it rather than fail. */
  sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
  c->base.ops = &lite_ops;
  return &c->base;
}

/* wal_checkpoint(TRUNCATE), waiting at most wait_ms for readers (sql.h's users: db.c's erasure). */
int db_sqlite_checkpoint(db_conn *c, int wait_ms) {
  sqlite3 *db = db_of(c);
  if (wait_ms >= 0) sqlite3_busy_timeout(db, wait_ms);
  int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
  if (wait_ms >= 0) sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
  if (rc != SQLITE_OK) note_failure(c);
  return rc == SQLITE_OK ? 0 : -1;
}
