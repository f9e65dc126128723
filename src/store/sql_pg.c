/* sql_pg.c - sql.h's driver for PostgreSQL (libpq): the store of many nodes.
 *
 * The store's SQL (sql.h) needs three translations, made once per statement: `?`/`?N` become
 * `$N`; the column names PostgreSQL reserves (user, left) are quoted; and BEGIN IMMEDIATE, SQLite's
 * "this transaction will write", becomes BEGIN plus a transaction-scoped advisory lock, so that
 * writers on every node take turns exactly as SQLite's writers do on one machine. That one lock is
 * what keeps the audit chain a chain with many writers: each append reads the head and writes
 * the next record while no other node can. PRAGMAs (SQLite's file settings) are skipped.
 *
 * Parameters go as text (integers and doubles printed exactly; every parameter's type declared,
 * so that `LIMIT $1` and `$1 IS NULL` resolve) and blobs as binary bytea; results come back as text
 * and bytea is decoded on demand. A statement marked db_pg_stream (the index load: a whole
 * collection's templates) is read instead one row at a time (libpq's single-row mode) in binary,
 * so that neither the client holds the result set nor the server hex-encodes the templates; its
 * connection serves nothing else until its last row or its reset. A connection that broke (the
 * server restarted, the network dropped) is re-established at the next statement outside a
 * transaction; a statement that fails for that reason reports DB_ERR_UNAVAILABLE, which the API
 * answers with a retryable error. */
#include <ctype.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/sql.h"

typedef struct {
  db_conn base;
  PGconn *pg;
  int64_t changes;
  int in_tx; /* between BEGIN and COMMIT/ROLLBACK: no silent reconnect there */
} pg_conn;

typedef struct {
  db_stmt base;
  char *sql; /* translated */
  int nparams;
  char **values;
  int *lengths, *formats;
  Oid *types;
  PGresult *res;
  int row, executed;
  int stream;    /* db_pg_stream: single-row mode, binary results */
  int streaming; /* rows of this statement are still coming on the connection */
  void **blobs;  /* decoded bytea of the current row, per column */
  size_t *blob_lens;
} pg_stmt;

#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_TEXT 25
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_BPCHAR 1042
#define OID_VARCHAR 1043

static PGconn *pg_of(db_conn *c) {
  return ((pg_conn *)c)->pg;
}

int db_location_is_pg(const char *location) {
  return !strncmp(location, "postgresql://", 13) || !strncmp(location, "postgres://", 11);
}

static void fail_with(db_conn *c, db_err_kind kind, const char *msg) {
  c->fail = kind;
  snprintf(c->msg, sizeof c->msg, "%s", msg);
  size_t n = strlen(c->msg);
  while (n && (c->msg[n - 1] == '\n' || c->msg[n - 1] == ' ')) c->msg[--n] = 0;
}

/* The kind of a failed result: lost connections and server shutdowns are retryable. */
static db_err_kind result_kind(db_conn *c, const PGresult *r) {
  const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  if (PQstatus(pg_of(c)) != CONNECTION_OK || !state) return DB_ERR_UNAVAILABLE;
  if (!strncmp(state, "08", 2) || !strncmp(state, "57P", 3) || !strncmp(state, "53", 2) ||
      !strcmp(state, "40001") || !strcmp(state, "40P01"))
    return DB_ERR_UNAVAILABLE;
  return DB_ERR_OTHER;
}

static void ignore_notice(void *arg, const char *message) {
  (void)arg, (void)message; /* NOTICEs (e.g. "relation exists") are not the caller's business */
}

/* Re-establishes a broken connection outside a transaction; 0 when usable. */
static int ensure_connected(db_conn *c) {
  pg_conn *p = (pg_conn *)c;
  if (PQstatus(p->pg) == CONNECTION_OK) return 0;
  if (!p->in_tx) {
    PQreset(p->pg);
    if (PQstatus(p->pg) == CONNECTION_OK) return 0;
  }
  fail_with(c, DB_ERR_UNAVAILABLE, PQerrorMessage(p->pg));
  return -1;
}

/* Records a failed result: its kind and PostgreSQL's one-line message. */
static void fail_result(db_conn *c, const PGresult *r) {
  const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  fail_with(c, result_kind(c, r), primary ? primary : PQerrorMessage(pg_of(c)));
}

/* Whether a statement that failed outside a transaction found its connection broken (the server
 * restarted since the last statement: libpq notices only when it uses the connection) and the
 * connection could be re-established: the statement did not run, so it can be run once again. */
static int reconnected(db_conn *c) {
  pg_conn *p = (pg_conn *)c;
  if (p->in_tx || PQstatus(p->pg) == CONNECTION_OK) return 0;
  PQreset(p->pg);
  return PQstatus(p->pg) == CONNECTION_OK;
}

static int run_simple(db_conn *c, const char *sql) {
  PGresult *r = PQexec(pg_of(c), sql);
  if (PQresultStatus(r) == PGRES_FATAL_ERROR && reconnected(c)) {
    PQclear(r);
    r = PQexec(pg_of(c), sql);
  }
  ExecStatusType t = PQresultStatus(r);
  int ok = t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK;
  if (!ok) fail_result(c, r);
  PQclear(r);
  return ok ? 0 : -1;
}

static char *translate(const char *sql, int *nparams);

/* One statement of exec's text, translated (see the top of the file). */
static int exec_one(db_conn *c, const char *stmt, size_t len) {
  pg_conn *p = (pg_conn *)c;
  while (len && isspace((unsigned char)*stmt)) stmt++, len--;
  while (len && isspace((unsigned char)stmt[len - 1])) len--;
  if (!len || (len >= 6 && !strncasecmp(stmt, "PRAGMA", 6))) return 0;
  char *sql = strndup(stmt, len);
  if (!sql) {
    fail_with(c, DB_ERR_NOMEM, "out of memory");
    return -1;
  }
  int rc;
  if (!strcasecmp(sql, "BEGIN IMMEDIATE") || !strcasecmp(sql, "BEGIN")) {
    rc = ensure_connected(c);
    if (rc == 0) rc = run_simple(c, "BEGIN");
    if (rc == 0) {
      p->in_tx = 1;
      if (!strcasecmp(sql, "BEGIN IMMEDIATE")) {
        rc = run_simple(c, DB_PG_WRITE_LOCK_SQL);
        if (rc != 0) { /* the caller sees BEGIN fail and will not end the transaction itself */
          db_err_kind kind = c->fail;
          char msg[sizeof c->msg];
          memcpy(msg, c->msg, sizeof msg);
          PQclear(PQexec(p->pg, "ROLLBACK"));
          p->in_tx = 0;
          fail_with(c, kind, msg);
        }
      }
    }
  } else if (!strcasecmp(sql, "COMMIT") || !strcasecmp(sql, "ROLLBACK")) {
    rc = PQstatus(p->pg) == CONNECTION_OK ? run_simple(c, sql) : -1;
    if (rc && PQstatus(p->pg) != CONNECTION_OK)
      fail_with(c, DB_ERR_UNAVAILABLE, "the connection to PostgreSQL was lost");
    p->in_tx = 0;
  } else {
    int nparams;
    char *pg_sql = translate(sql, &nparams);
    rc = pg_sql ? ensure_connected(c) : -1;
    if (!pg_sql) fail_with(c, DB_ERR_NOMEM, "out of memory");
    if (rc == 0) rc = run_simple(c, pg_sql);
    free(pg_sql);
  }
  free(sql);
  return rc;
}

static int pg_exec(db_conn *c, const char *sql) {
  const char *start = sql;
  char quote = 0;
  for (const char *s = sql;; s++) {
    if (quote) {
      if (*s == quote)
        quote = 0;
      else if (!*s)
        break;
      continue;
    }
    if (*s == '\'' || *s == '"') quote = *s;
    if (*s == ';' || !*s) {
      if (exec_one(c, start, (size_t)(s - start)) != 0) return -1;
      if (!*s) break;
      start = s + 1;
    }
  }
  return 0;
}

/* The store's SQL in PostgreSQL's: $N parameters, reserved column names quoted. *nparams gets
 * the highest parameter number. NULL when out of memory. */
static char *translate(const char *sql, int *nparams) {
  size_t n = strlen(sql);
  char *out = malloc(3 * n + 16), *o = out;
  if (!out) return NULL;
  int next = 1, max = 0;
  char quote = 0;
  for (const char *s = sql; *s;) {
    if (quote) {
      if (*s == quote) quote = 0;
      *o++ = *s++;
      continue;
    }
    if (*s == '\'' || *s == '"') {
      quote = *s;
      *o++ = *s++;
      continue;
    }
    if (*s == '?') {
      s++;
      int num = 0;
      if (isdigit((unsigned char)*s))
        while (isdigit((unsigned char)*s)) num = num * 10 + (*s++ - '0');
      else
        num = next;
      next = num + 1;
      if (num > max) max = num;
      o += sprintf(o, "$%d", num);
      continue;
    }
    if (isalpha((unsigned char)*s) || *s == '_') {
      const char *w = s;
      while (isalnum((unsigned char)*s) || *s == '_') s++;
      size_t wl = (size_t)(s - w);
      if ((wl == 4 && !strncmp(w, "user", 4)) || (wl == 4 && !strncmp(w, "left", 4)))
        o += sprintf(o, "\"%.*s\"", (int)wl, w);
      else
        memcpy(o, w, wl), o += wl;
      continue;
    }
    *o++ = *s++;
  }
  *o = 0;
  *nparams = max;
  return out;
}

static void free_blobs(pg_stmt *q) {
  if (!q->blobs || !q->res) return;
  for (int i = 0; i < PQnfields(q->res); i++) {
    PQfreemem(q->blobs[i]);
    q->blobs[i] = NULL;
  }
}

static int pg_prepare(db_conn *c, const char *sql, db_stmt **out) {
  pg_stmt *q = calloc(1, sizeof *q);
  if (q) q->sql = translate(sql, &q->nparams);
  int np = q ? q->nparams : 0;
  if (q && q->sql && np) {
    q->values = calloc((size_t)np, sizeof *q->values);
    q->lengths = calloc((size_t)np, sizeof *q->lengths);
    q->formats = calloc((size_t)np, sizeof *q->formats);
    q->types = calloc((size_t)np, sizeof *q->types);
  }
  if (!q || !q->sql || (np && (!q->values || !q->lengths || !q->formats || !q->types))) {
    if (q) {
      free(q->sql), free(q->values), free(q->lengths), free(q->formats), free(q->types);
      free(q);
    }
    fail_with(c, DB_ERR_NOMEM, "out of memory");
    return -1;
  }
  q->base.c = c;
  *out = &q->base;
  return 0;
}

/* Sets parameter i (1-based) to len bytes of v (copied), format 1 = binary. */
static void set_param(db_stmt *s, int i, const void *v, int len, int format, Oid type) {
  pg_stmt *q = (pg_stmt *)s;
  if (i < 1 || i > q->nparams) return;
  free(q->values[i - 1]);
  q->values[i - 1] = NULL;
  if (v) {
    q->values[i - 1] = malloc((size_t)len + 1);
    if (q->values[i - 1]) {
      memcpy(q->values[i - 1], v, (size_t)len);
      q->values[i - 1][len] = 0;
    }
  }
  q->lengths[i - 1] = len, q->formats[i - 1] = format, q->types[i - 1] = type;
}

static void pg_bind_text(db_stmt *q, int i, const char *v) {
  set_param(q, i, v, v ? (int)strlen(v) : 0, 0, OID_TEXT);
}
static void pg_bind_int64(db_stmt *q, int i, int64_t v) {
  char t[32];
  int n = snprintf(t, sizeof t, "%lld", (long long)v);
  set_param(q, i, t, n, 0, OID_INT8);
}
static void pg_bind_double(db_stmt *q, int i, double v) {
  char t[40];
  int n = snprintf(t, sizeof t, "%.17g", v);
  set_param(q, i, t, n, 0, OID_FLOAT8);
}
static void pg_bind_blob(db_stmt *q, int i, const void *v, int len) {
  set_param(q, i, v ? v : "", len, 1, OID_BYTEA);
}
static void pg_bind_null(db_stmt *q, int i) {
  set_param(q, i, NULL, 0, 0, 0);
}
static int pg_parameter_count(db_stmt *q) {
  return ((pg_stmt *)q)->nparams;
}

/* Reads and drops what is left of a stream (an early reset: the connection must be free for
 * the next statement; the rows are read rather than cancelled, so that no late cancel request can
 * reach a later statement). */
static void stream_drain(pg_stmt *q) {
  PGresult *r;
  while (q->streaming && (r = PQgetResult(pg_of(q->base.c)))) PQclear(r);
  q->streaming = 0;
}

/* A statement's first result: the whole result set (PQexecParams), or with stream the first row
 * or the end (single-row mode). NULL when out of memory. */
static PGresult *first_result(pg_stmt *q) {
  PGconn *pg = pg_of(q->base.c);
  const char *const *values = (const char *const *)q->values;
  if (!q->stream)
    return PQexecParams(pg, q->sql, q->nparams, q->types, values, q->lengths, q->formats, 0);
  if (!PQsendQueryParams(pg, q->sql, q->nparams, q->types, values, q->lengths, q->formats, 1))
    return PQmakeEmptyPGresult(pg, PGRES_FATAL_ERROR); /* the message is the connection's */
  q->streaming = 1;
  PQsetSingleRowMode(pg); /* refused only when not right after the send: then all at once */
  return PQgetResult(pg);
}

/* The end of a stream, its last result r (TUPLES_OK, an error or NULL): the rest read. */
static int stream_end(pg_stmt *q, PGresult *r) {
  ExecStatusType t = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (t == PGRES_TUPLES_OK || t == PGRES_COMMAND_OK)
    ((pg_conn *)q->base.c)->changes = atoll(PQcmdTuples(r));
  else
    fail_result(q->base.c, r);
  stream_drain(q);
  return t == PGRES_TUPLES_OK || t == PGRES_COMMAND_OK ? DB_DONE : DB_FAILED;
}

static int pg_step(db_stmt *s) {
  pg_stmt *q = (pg_stmt *)s;
  db_conn *c = s->c;
  if (!q->executed) {
    q->executed = 1, q->row = -1;
    if (ensure_connected(c) != 0) return DB_FAILED;
    /* Failing for a connection found broken, the statement did not run: once more. */
    for (int attempt = 0; attempt < 2; attempt++) {
      PQclear(q->res);
      q->res = first_result(q);
      if (PQresultStatus(q->res) != PGRES_FATAL_ERROR) break;
      PGresult *failed = q->res; /* kept for its message while the stream is drained */
      q->res = NULL;
      stream_drain(q);
      q->res = failed;
      if (!reconnected(c)) break;
    }
    ExecStatusType t = PQresultStatus(q->res);
    if (t == PGRES_COMMAND_OK) {
      ((pg_conn *)c)->changes = atoll(PQcmdTuples(q->res));
      stream_drain(q);
      return DB_DONE;
    }
    if (t != PGRES_TUPLES_OK && t != PGRES_SINGLE_TUPLE) {
      const char *state = PQresultErrorField(q->res, PG_DIAG_SQLSTATE);
      fail_result(c, q->res);
      return state && !strncmp(state, "23", 2) ? DB_CONSTRAINT : DB_FAILED;
    }
    if (!q->streaming) ((pg_conn *)c)->changes = atoll(PQcmdTuples(q->res));
    q->blobs = calloc((size_t)PQnfields(q->res) + 1, sizeof *q->blobs);
    q->blob_lens = calloc((size_t)PQnfields(q->res) + 1, sizeof *q->blob_lens);
    if (!q->blobs || !q->blob_lens) {
      stream_drain(q);
      fail_with(c, DB_ERR_NOMEM, "out of memory");
      return DB_FAILED;
    }
    if (q->streaming) {
      if (PQresultStatus(q->res) == PGRES_SINGLE_TUPLE) return q->row = 0, DB_ROW;
      return stream_end(q, q->res);
    }
  }
  if (!q->res) return DB_DONE;
  free_blobs(q);
  if (q->streaming) { /* the next row, or the end */
    PQclear(q->res);
    q->res = PQgetResult(pg_of(c));
    if (PQresultStatus(q->res) == PGRES_SINGLE_TUPLE) return q->row = 0, DB_ROW;
    return stream_end(q, q->res);
  }
  if (PQresultStatus(q->res) != PGRES_TUPLES_OK) return DB_DONE;
  return ++q->row < PQntuples(q->res) ? DB_ROW : DB_DONE;
}

static int valid_cell(pg_stmt *q, int i) {
  return q->res && q->row >= 0 && q->row < PQntuples(q->res) && i >= 0 && i < PQnfields(q->res) &&
         !PQgetisnull(q->res, q->row, i);
}

/* Whether column i came in binary (a streamed statement's), and then its type. */
static Oid binary_type(const pg_stmt *q, int i) {
  return PQfformat(q->res, i) == 1 ? PQftype(q->res, i) : 0;
}

/* Binary results: big-endian integers of n bytes, IEEE floats. */
static uint64_t be_bits(const char *v, int n) {
  uint64_t x = 0;
  for (int k = 0; k < n; k++) x = x << 8 | (unsigned char)v[k];
  return x;
}

static const char *pg_column_text(db_stmt *s, int i) {
  pg_stmt *q = (pg_stmt *)s;
  if (!valid_cell(q, i)) return NULL;
  Oid t = binary_type(q, i); /* in binary only the text types read as text */
  if (t && t != OID_TEXT && t != OID_VARCHAR && t != OID_BPCHAR) return NULL;
  return PQgetvalue(q->res, q->row, i); /* libpq ends binary values with a 0 too */
}
static int64_t pg_column_int64(db_stmt *s, int i) {
  pg_stmt *q = (pg_stmt *)s;
  Oid type = valid_cell(q, i) ? binary_type(q, i) : 0;
  if (type) {
    const char *v = PQgetvalue(q->res, q->row, i);
    if (type == OID_INT8) return (int64_t)be_bits(v, 8);
    if (type == OID_INT4) return (int32_t)(uint32_t)be_bits(v, 4);
    if (type == OID_INT2) return (int16_t)(uint16_t)be_bits(v, 2);
    if (type == OID_BOOL) return v[0] != 0;
    return 0;
  }
  const char *t = pg_column_text(s, i);
  if (!t) return 0;
  if (!strcmp(t, "t")) return 1; /* booleans, as SQLite's 1 and 0 */
  if (!strcmp(t, "f")) return 0;
  return strtoll(t, NULL, 10);
}
static double pg_column_double(db_stmt *s, int i) {
  pg_stmt *q = (pg_stmt *)s;
  Oid type = valid_cell(q, i) ? binary_type(q, i) : 0;
  if (type == OID_FLOAT8 || type == OID_FLOAT4) {
    const char *v = PQgetvalue(q->res, q->row, i);
    if (type == OID_FLOAT4) {
      uint32_t bits = (uint32_t)be_bits(v, 4);
      float f;
      memcpy(&f, &bits, sizeof f);
      return f;
    }
    uint64_t bits = be_bits(v, 8);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
  }
  if (type) return (double)pg_column_int64(s, i);
  const char *t = pg_column_text(s, i);
  return t ? strtod(t, NULL) : 0;
}
static const void *pg_column_blob(db_stmt *s, int i) {
  pg_stmt *q = (pg_stmt *)s;
  if (!valid_cell(q, i)) return NULL;
  if (!q->blobs[i]) {
    /* binary values and text are the bytes themselves, as SQLite reads text as bytes */
    if (binary_type(q, i) || PQftype(q->res, i) != OID_BYTEA) {
      q->blob_lens[i] = (size_t)PQgetlength(q->res, q->row, i);
      return PQgetvalue(q->res, q->row, i);
    }
    q->blobs[i] =
        PQunescapeBytea((const unsigned char *)PQgetvalue(q->res, q->row, i), &q->blob_lens[i]);
  }
  return q->blobs[i];
}
static int pg_column_bytes(db_stmt *s, int i) {
  pg_stmt *q = (pg_stmt *)s;
  if (!valid_cell(q, i)) return 0;
  if (binary_type(q, i) || PQftype(q->res, i) != OID_BYTEA) return PQgetlength(q->res, q->row, i);
  pg_column_blob(s, i);
  return (int)q->blob_lens[i];
}
static int pg_column_is_null(db_stmt *s, int i) {
  return !valid_cell((pg_stmt *)s, i);
}

static void pg_reset(db_stmt *s) {
  pg_stmt *q = (pg_stmt *)s;
  free_blobs(q);
  stream_drain(q);
  free(q->blobs), free(q->blob_lens);
  q->blobs = NULL, q->blob_lens = NULL;
  PQclear(q->res);
  q->res = NULL, q->executed = 0, q->row = -1;
}

static void pg_finalize(db_stmt *s) {
  pg_stmt *q = (pg_stmt *)s;
  pg_reset(s);
  for (int i = 0; i < q->nparams; i++) free(q->values[i]);
  free(q->values), free(q->lengths), free(q->formats), free(q->types), free(q->sql);
  free(q);
}

static int64_t pg_changes(db_conn *c) {
  return ((pg_conn *)c)->changes;
}

static void pg_close(db_conn *c) {
  PQfinish(pg_of(c));
  free(c);
}

static const db_ops pg_ops = {
    pg_exec,         pg_prepare,       pg_bind_text,       pg_bind_int64,   pg_bind_double,
    pg_bind_blob,    pg_bind_null,     pg_parameter_count, pg_step,         pg_column_text,
    pg_column_int64, pg_column_double, pg_column_blob,     pg_column_bytes, pg_column_is_null,
    pg_reset,        pg_finalize,      pg_changes,         pg_close,
};

db_conn *db_pg_open(const char *url, char *msg, size_t cap) {
  pg_conn *p = calloc(1, sizeof *p);
  if (!p) {
    snprintf(msg, cap, "out of memory");
    return NULL;
  }
  p->pg = PQconnectdb(url);
  if (!p->pg || PQstatus(p->pg) != CONNECTION_OK) {
    snprintf(msg, cap, "cannot connect to PostgreSQL: %s",
             p->pg ? PQerrorMessage(p->pg) : "out of memory");
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n') msg[--n] = 0;
    PQfinish(p->pg);
    free(p);
    return NULL;
  }
  PQsetNoticeProcessor(p->pg, ignore_notice, NULL);
  p->base.ops = &pg_ops;
  p->base.is_pg = 1;
  return &p->base;
}

void db_pg_stream(db_stmt *q) {
  ((pg_stmt *)q)->stream = 1;
}

/* PQexec of sql as it is (several statements, dollar-quoted bodies): for the schema. */
int db_pg_exec_script(db_conn *c, const char *sql) {
  if (ensure_connected(c) != 0) return -1;
  return run_simple(c, sql);
}

int db_pg_listen(db_conn *c, const char *channel) {
  char sql[128];
  snprintf(sql, sizeof sql, "LISTEN %s", channel);
  return ensure_connected(c) == 0 ? run_simple(c, sql) : -1;
}

int db_pg_wait(db_conn *c, int timeout_ms) {
  PGconn *pg = pg_of(c);
  if (PQstatus(pg) != CONNECTION_OK) return -1;
  int notified = 0;
  PGnotify *n;
  for (int round = 0; round < 2 && !notified; round++) {
    if (round == 1) { /* nothing queued: wait for the socket */
      struct pollfd p = {.fd = PQsocket(pg), .events = POLLIN};
      if (poll(&p, 1, timeout_ms) <= 0) return 0;
    }
    if (!PQconsumeInput(pg)) {
      fail_with(c, DB_ERR_UNAVAILABLE, PQerrorMessage(pg));
      return -1;
    }
    while ((n = PQnotifies(pg))) {
      notified = 1;
      PQfreemem(n);
    }
  }
  return notified;
}
