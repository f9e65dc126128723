/* sql.h - the two databases a store can live in, behind one small statement interface: the
 * embedded SQLite file of a data directory (sql_sqlite.c) and a PostgreSQL server (sql_pg.c).
 *
 * Every operation of the store (db*.c, policy.c, audit.c, crypt.c, idempotency.c) is written once
 * against this interface, in the SQL both engines accept: `?` or `?N` parameters, double-quoted
 * identifiers where PostgreSQL reserves a word (faces."left", faces."user"), upserts as INSERT ...
 * ON CONFLICT, new rows' ids by RETURNING. So one implementation of consent, retention, the audit
 * chain, template sealing and idempotency serves both, and both pass the same tests. What truly
 * differs is behind the driver: opening and the schema, how a write transaction excludes other
 * writers (SQLite's BEGIN IMMEDIATE; PostgreSQL's transaction-scoped advisory lock, which also
 * serialises audit appends across nodes), and erasure (a WAL checkpoint; VACUUM FULL).
 *
 * A connection is used by one thread at a time (the store's mutex). Text parameters are copied
 * when bound where the driver needs them past the call. */
#ifndef MIEN_STORE_SQL_H
#define MIEN_STORE_SQL_H

#include <stddef.h>
#include <stdint.h>

/* The PostgreSQL advisory lock every write transaction takes, and the schema's creation too
 * (any constant: "mien" in ASCII). A string, for SQL text; one definition for both. */
#define DB_PG_WRITE_LOCK_SQL "SELECT pg_advisory_xact_lock(1835623790)"

/* db_step's results. */
enum { DB_FAILED = 1, DB_CONSTRAINT = 19, DB_ROW = 100, DB_DONE = 101 };

/* What kind of failure the last one was, for Rekognition's error types. */
typedef enum {
  DB_ERR_OTHER = 0, /* a bug: InternalServerError */
  DB_ERR_NOMEM,
  DB_ERR_IO,         /* disk, locks, corruption */
  DB_ERR_UNAVAILABLE /* the server cannot be reached: retry later */
} db_err_kind;

typedef struct db_conn db_conn;
typedef struct db_stmt db_stmt;

typedef struct {
  int (*exec)(db_conn *c, const char *sql); /* 0 on success */
  int (*prepare)(db_conn *c, const char *sql, db_stmt **q);
  void (*bind_text)(db_stmt *q, int i, const char *v);
  void (*bind_int64)(db_stmt *q, int i, int64_t v);
  void (*bind_double)(db_stmt *q, int i, double v);
  void (*bind_blob)(db_stmt *q, int i, const void *v, int len);
  void (*bind_null)(db_stmt *q, int i);
  int (*parameter_count)(db_stmt *q);
  int (*step)(db_stmt *q);
  const char *(*column_text)(db_stmt *q, int i); /* NULL for SQL NULL */
  int64_t (*column_int64)(db_stmt *q, int i);
  double (*column_double)(db_stmt *q, int i);
  const void *(*column_blob)(db_stmt *q, int i);
  int (*column_bytes)(db_stmt *q, int i);
  int (*column_is_null)(db_stmt *q, int i);
  void (*reset)(db_stmt *q); /* to run again; bindings are kept */
  void (*finalize)(db_stmt *q);
  int64_t (*changes)(db_conn *c); /* rows the last statement changed */
  void (*close)(db_conn *c);
} db_ops;

/* The part of a connection every driver starts with. */
struct db_conn {
  const db_ops *ops;
  int is_pg;
  db_err_kind fail; /* of the last failure */
  char msg[512];    /* its message */
};
/* The part of a statement every driver starts with. */
struct db_stmt {
  db_conn *c;
};

/* Opens the SQLite database file path (created when create), or connects to the PostgreSQL
 * server of a postgresql:// URL; NULL with the reason in msg on failure. */
db_conn *db_sqlite_open(const char *path, int create, int readonly, char *msg, size_t cap);
db_conn *db_pg_open(const char *url, char *msg, size_t cap);
/* SQLite: wal_checkpoint(TRUNCATE), waiting at most wait_ms for readers (-1: the usual timeout). */
int db_sqlite_checkpoint(db_conn *c, int wait_ms);
/* PostgreSQL: runs sql as it is (several statements, dollar-quoted bodies), for the schema. */
int db_pg_exec_script(db_conn *c, const char *sql);
/* PostgreSQL: LISTEN on channel (0 on success); then waits up to timeout_ms for a notification:
 * 1 when one (or more) came, 0 when none, -1 when the connection is broken. */
int db_pg_listen(db_conn *c, const char *channel);
int db_pg_wait(db_conn *c, int timeout_ms);
/* PostgreSQL: q's rows are to come one at a time as the server sends them, not all at once (a
 * result too big to hold: the index load). Its connection runs no other statement until q has
 * returned DB_DONE or DB_FAILED, or is reset or finalized. Its columns come in binary: read each
 * with the accessor of its type (text, integers, doubles, blobs). db_stream: the same on any
 * connection, nothing on SQLite, whose rows always come one at a time. */
void db_pg_stream(db_stmt *q);
/* Whether a store location names a PostgreSQL database. */
int db_location_is_pg(const char *location);

static inline int db_exec_raw(db_conn *c, const char *sql) {
  return c->ops->exec(c, sql);
}
static inline int db_prepare_raw(db_conn *c, const char *sql, db_stmt **q) {
  return c->ops->prepare(c, sql, q);
}
static inline void db_bind_text(db_stmt *q, int i, const char *v) {
  q->c->ops->bind_text(q, i, v);
}
static inline void db_bind_int64(db_stmt *q, int i, int64_t v) {
  q->c->ops->bind_int64(q, i, v);
}
static inline void db_bind_double(db_stmt *q, int i, double v) {
  q->c->ops->bind_double(q, i, v);
}
static inline void db_bind_blob(db_stmt *q, int i, const void *v, int len) {
  q->c->ops->bind_blob(q, i, v, len);
}
static inline void db_bind_null(db_stmt *q, int i) {
  q->c->ops->bind_null(q, i);
}
static inline int db_bind_parameter_count(db_stmt *q) {
  return q->c->ops->parameter_count(q);
}
static inline int db_step(db_stmt *q) {
  return q->c->ops->step(q);
}
static inline const char *db_column_text(db_stmt *q, int i) {
  return q->c->ops->column_text(q, i);
}
static inline int64_t db_column_int64(db_stmt *q, int i) {
  return q->c->ops->column_int64(q, i);
}
static inline double db_column_double(db_stmt *q, int i) {
  return q->c->ops->column_double(q, i);
}
static inline const void *db_column_blob(db_stmt *q, int i) {
  return q->c->ops->column_blob(q, i);
}
static inline int db_column_bytes(db_stmt *q, int i) {
  return q->c->ops->column_bytes(q, i);
}
static inline int db_column_is_null(db_stmt *q, int i) {
  return q->c->ops->column_is_null(q, i);
}
static inline void db_reset(db_stmt *q) {
  q->c->ops->reset(q);
}
static inline void db_stream(db_stmt *q) {
  if (q->c->is_pg) db_pg_stream(q);
}
/* NULL is allowed. */
static inline void db_finalize(db_stmt *q) {
  if (q) q->c->ops->finalize(q);
}
static inline void db_conn_close(db_conn *c) {
  if (c) c->ops->close(c);
}

#endif
