/* audit.c - the audit log: who indexed, searched, compared, deleted, purged or changed a policy,
 * when, in which collection, and how many faces it touched. It never holds image bytes,
 * templates, FaceIds or UserIds: it must outlive the erasure of the people it counts.
 *
 * Records are rows of the audit table in the store's own database, appended in the same
 * transaction as the change they describe, so a change and its record commit (or vanish)
 * together. Each record is one JSON object whose "prev" member is the hex SHA-256 of the
 * previous record's text (64 zeros for the first); the row keeps the record's own hash. An
 * edited record no longer hashes to what the next one names, a deleted one leaves a gap in the
 * sequence numbers, swapped ones break both; triggers refuse UPDATE and DELETE on the table, so
 * even a careless `sqlite3` session cannot change it without first dropping them. What a hash
 * chain cannot show is a rewrite of the whole tail by someone with write access: for that,
 * verify reports the head hash, to be kept elsewhere (docs/privacy.md).
 *
 * verify and export read the database directly, read-only: an auditor needs no template key
 * and changes nothing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/internal.h"
#include "util/util.h"

#define GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

static void hex32(const uint8_t h[32], char out[65]) {
  for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static void record_hash(const char *record, char out[65]) {
  uint8_t h[32];
  mien_sha256(record, strlen(record), h);
  hex32(h, out);
}

/* db_now as ISO 8601 UTC with milliseconds. */
static void iso_now(char out[32]) {
  long long ms = llround(db_now() * 1000.0);
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  char day[24];
  strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, 32, "%s.%03dZ", day, (int)(ms % 1000));
}

mien_status db_audit(mien_store *s, const char *principal, const char *op, const char *coll,
                     cJSON *fields, char *err, size_t errlen) {
  db_stmt *q;
  int64_t seq = 1;
  char prev[65] = GENESIS, when[32], hash[65];
  mien_status st =
      db_prepare(s, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", &q, err, errlen);
  if (st == MIEN_OK) {
    int rc = db_step(q);
    if (rc == DB_ROW) {
      seq = db_column_int64(q, 0) + 1;
      snprintf(prev, sizeof prev, "%s", db_column_text(q, 1));
    } else if (rc != DB_DONE) {
      st = db_fail(s, "reading the audit log", err, errlen);
    }
    db_finalize(q);
  }
  if (st != MIEN_OK) {
    cJSON_Delete(fields);
    return st;
  }
  iso_now(when);
  cJSON *r = cJSON_CreateObject();
  cJSON_AddNumberToObject(r, "seq", (double)seq);
  cJSON_AddStringToObject(r, "time", when);
  cJSON_AddStringToObject(r, "principal", principal ? principal : "local");
  cJSON_AddStringToObject(r, "op", op);
  if (coll) cJSON_AddStringToObject(r, "collection", coll);
  while (fields && fields->child) {
    cJSON *f = cJSON_DetachItemViaPointer(fields, fields->child);
    cJSON_AddItemToObject(r, f->string, f);
  }
  cJSON_Delete(fields);
  cJSON_AddStringToObject(r, "prev", prev);
  char *text = cJSON_PrintUnformatted(r);
  cJSON_Delete(r);
  if (!text) return MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  record_hash(text, hash);
  st = db_prepare(s, "INSERT INTO audit (seq, record, hash) VALUES (?, ?, ?)", &q, err, errlen);
  if (st == MIEN_OK) {
    db_bind_int64(q, 1, seq);
    db_bind_text(q, 2, text);
    db_bind_text(q, 3, hash);
    if (db_step(q) != DB_DONE) st = db_fail(s, "writing the audit log", err, errlen);
    db_finalize(q);
  }
  free(text);
  return st;
}

mien_status mien_store_audit(mien_store *s, const char *principal, const char *op, const char *coll,
                             cJSON *fields, char *err, size_t errlen) {
  pthread_mutex_lock(&s->mu);
  /* A record of its own (a search's) is committed to the WAL without waiting for the disk:
   * the next change's commit, or a checkpoint, makes it durable. */
  mien_status st = db_exec(s, "PRAGMA synchronous = NORMAL; BEGIN IMMEDIATE", err, errlen);
  if (st == MIEN_OK) {
    st = db_audit(s, principal, op, coll, fields, err, errlen);
    st = db_finish(s, st, err, errlen);
  } else {
    cJSON_Delete(fields);
  }
  mien_status back = db_exec(s, "PRAGMA synchronous = FULL", err, errlen);
  pthread_mutex_unlock(&s->mu);
  return st == MIEN_OK ? back : st;
}

mien_status mien_store_audit_count(mien_store *s, const char *principal, const char *op,
                                   const char *coll, const char *name, int64_t n, char *err,
                                   size_t errlen) {
  cJSON *fields = cJSON_CreateObject();
  cJSON_AddNumberToObject(fields, name, (double)n);
  return mien_store_audit(s, principal, op, coll, fields, err, errlen);
}

/* Opens a store's database (read-only for SQLite) and prepares the audit query from seq `after`
 * on. */
static mien_status open_log(const char *location, int64_t after, db_conn **db, db_stmt **q,
                            char *err, size_t errlen) {
  char msg[600];
  *q = NULL;
  if (!(*db = db_open_location(location, 1, msg, sizeof msg)))
    return MIEN_FAIL(err, errlen, MIEN_ERR_IO, "%s", msg);
  if (db_prepare_raw(*db, "SELECT seq, record, hash FROM audit WHERE seq > ? ORDER BY seq", q)) {
    mien_status st =
        MIEN_FAIL(err, errlen, MIEN_ERR_IO, "%s has no audit log: %s", location, (*db)->msg);
    db_conn_close(*db);
    return st;
  }
  db_bind_int64(*q, 1, after);
  return MIEN_OK;
}

/* Why one record breaks the chain ("" when it does not): its row's sequence number, text and
 * stored hash against the expected sequence number and previous hash. */
static void check_record(int64_t seq, const char *text, const char *hash, int64_t want,
                         const char *prev, char *why, size_t cap) {
  char h[65];
  why[0] = '\0';
  if (seq != want) { /* rows come in sequence order: a gap */
    snprintf(why, cap, "records %lld to %lld are missing", (long long)want, (long long)seq - 1);
    return;
  }
  cJSON *r = cJSON_Parse(text);
  const cJSON *rs = cJSON_GetObjectItemCaseSensitive(r, "seq");
  const cJSON *rp = cJSON_GetObjectItemCaseSensitive(r, "prev");
  record_hash(text, h);
  if (!cJSON_IsNumber(rs) || (int64_t)rs->valuedouble != seq)
    snprintf(why, cap, "record %lld carries another sequence number (moved or edited)",
             (long long)seq);
  else if (!cJSON_IsString(rp) || strcmp(rp->valuestring, prev))
    snprintf(why, cap,
             "record %lld does not follow the record before it (its prev is not that record's "
             "hash: one of them was edited, removed or moved)",
             (long long)seq);
  else if (strcmp(h, hash))
    snprintf(why, cap, "record %lld was edited (its text no longer has its hash)", (long long)seq);
  cJSON_Delete(r);
}

/* How many faces the store holds, and whether an erasure is pending (db.c's meta row). */
static mien_status store_facts(db_conn *db, mien_audit_check *out, char *err, size_t errlen) {
  db_stmt *q = NULL;
  int rc = db_prepare_raw(db,
                          "SELECT (SELECT count(*) FROM faces),"
                          " (SELECT value FROM meta WHERE key = 'erasure_pending')",
                          &q);
  if (rc == 0 && db_step(q) == DB_ROW) {
    out->faces = db_column_int64(q, 0);
    out->erasure_pending = db_column_double(q, 1);
  } else {
    rc = -1;
  }
  db_finalize(q);
  return rc == 0 ? MIEN_OK : MIEN_FAIL(err, errlen, MIEN_ERR_IO, "reading the store: %s", db->msg);
}

mien_status mien_audit_verify(const char *dir, mien_audit_check *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  db_conn *db;
  db_stmt *q;
  mien_status st = open_log(dir, 0, &db, &q, err, errlen);
  if (st != MIEN_OK) return st;
  char prev[65] = GENESIS;
  int rc;
  while ((rc = db_step(q)) == DB_ROW) {
    int64_t seq = db_column_int64(q, 0);
    const char *text = db_column_text(q, 1);
    const char *hash = db_column_text(q, 2);
    check_record(seq, text ? text : "", hash ? hash : "", out->records + 1, prev, out->reason,
                 sizeof out->reason);
    if (out->reason[0]) {
      out->bad_seq = out->records + 1;
      break;
    }
    out->records++;
    snprintf(prev, sizeof prev, "%s", hash);
    snprintf(out->head, sizeof out->head, "%s", hash);
  }
  if (rc != DB_ROW && rc != DB_DONE)
    st = MIEN_FAIL(err, errlen, MIEN_ERR_IO, "reading the audit log: %s", db->msg);
  db_finalize(q);
  if (st == MIEN_OK) st = store_facts(db, out, err, errlen);
  if (st == MIEN_OK && !out->records && !out->bad_seq && out->faces > 0) {
    out->bad_seq = 1;
    snprintf(out->reason, sizeof out->reason,
             "the audit log is empty but the store holds %lld faces: its records were deleted",
             (long long)out->faces);
  }
  db_conn_close(db);
  return st;
}

mien_status mien_audit_export(const char *dir, int64_t after,
                              int (*emit)(void *ctx, const char *record), void *ctx, char *err,
                              size_t errlen) {
  db_conn *db;
  db_stmt *q;
  mien_status st = open_log(dir, after, &db, &q, err, errlen);
  if (st != MIEN_OK) return st;
  int rc;
  while ((rc = db_step(q)) == DB_ROW) {
    const char *text = db_column_text(q, 1);
    if (text && emit(ctx, text) != 0) break;
  }
  if (rc != DB_ROW && rc != DB_DONE)
    st = MIEN_FAIL(err, errlen, MIEN_ERR_IO, "reading the audit log: %s", db->msg);
  db_finalize(q);
  db_conn_close(db);
  return st;
}
