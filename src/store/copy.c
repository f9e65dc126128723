/* copy.c - `mien store copy`: a store's rows from one location to another (a data directory to
 * PostgreSQL, or back; docs/cluster.md).
 *
 * Every table is copied row by row with its ids, so the faces keep their index ids and a sealed
 * template its associated data (its collection's row id among it): sealed templates are copied as
 * they are and open with the same key, and the template key's check value goes with the meta
 * table. The target's tables are made as opening a store makes them; the copy is one transaction
 * on the target, and rows already there are left alone (ON CONFLICT DO NOTHING), so a copy cut
 * off half-way left nothing and a rerun completes it. At the end the row counts of both sides are
 * compared and the target's audit chain is verified up to the source's head. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/internal.h"
#include "util/util.h"

/* A table, its columns and their kinds: i int64, d double, t text, b blob. */
static const struct {
  const char *name, *columns, *kinds, *on_conflict;
} tables[] = {
    {"collections", "id, name, arn, created, model, model_sha256, tags", "ittdttt", NULL},
    {"images", "id, collection, image_id, sha256, external_image_id, created", "iitbtd", NULL},
    {"users", "id, collection, user_id, status, created", "iittd", NULL},
    {"faces",
     "id, collection, face_id, image, left, top, width, height, confidence, embedding, created,"
     " user",
     "iitidddddbdi", NULL},
    {"meta", "key, value", "tt", "(key) DO UPDATE SET value = excluded.value"},
    {"audit", "seq, record, hash", "itt", NULL},
    {"idempotency", "op, principal, token, collection, request_sha256, response, created",
     "tttibtd", NULL},
    {"video_jobs",
     "id, job_id, kind, token, request, principal, collection, state, status_message, progress,"
     " metadata, attempts, created, finished",
     "ittttttttdtidd", NULL},
    {"video_results", "id, job, timestamp, person, item", "iiiit", NULL},
    {"access_keys", "id, user_name, secret, created", "ttbd", NULL},
};
#define NTABLES (int)(sizeof tables / sizeof *tables)
_Static_assert(NTABLES == MIEN_COPY_TABLES, "store.h's report has a row per table");

static int64_t count_rows(db_conn *c, const char *table) {
  char sql[128];
  db_stmt *q;
  int64_t n = -1;
  snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
  if (db_prepare_raw(c, sql, &q) == 0) {
    if (db_step(q) == DB_ROW) n = db_column_int64(q, 0);
    db_finalize(q);
  }
  return n;
}

/* Copies table t's rows from src into the open transaction of dst. */
static mien_status copy_table(db_conn *src, mien_store *dst, int t, char *err, size_t errlen) {
  const char *kinds = tables[t].kinds;
  int ncol = (int)strlen(kinds);
  char sel[512], ins[1024];
  snprintf(sel, sizeof sel, "SELECT %s FROM %s", tables[t].columns, tables[t].name);
  int n =
      snprintf(ins, sizeof ins, "INSERT INTO %s (%s) VALUES (", tables[t].name, tables[t].columns);
  for (int i = 0; i < ncol; i++) n += snprintf(ins + n, sizeof ins - (size_t)n, i ? ", ?" : "?");
  snprintf(ins + n, sizeof ins - (size_t)n, ") ON CONFLICT %s",
           tables[t].on_conflict ? tables[t].on_conflict : "DO NOTHING");
  db_stmt *q = NULL, *w = NULL;
  if (db_prepare_raw(src, sel, &q) != 0)
    return MIEN_FAIL(err, errlen, MIEN_ERR_IO, "reading %s: %s", tables[t].name, src->msg);
  mien_status st = db_prepare(dst, ins, &w, err, errlen);
  int rc = DB_DONE;
  while (st == MIEN_OK && (rc = db_step(q)) == DB_ROW) {
    db_reset(w);
    for (int i = 0; i < ncol; i++) {
      if (db_column_is_null(q, i))
        db_bind_null(w, i + 1);
      else if (kinds[i] == 'i')
        db_bind_int64(w, i + 1, db_column_int64(q, i));
      else if (kinds[i] == 'd')
        db_bind_double(w, i + 1, db_column_double(q, i));
      else if (kinds[i] == 'b')
        db_bind_blob(w, i + 1, db_column_blob(q, i), db_column_bytes(q, i));
      else
        db_bind_text(w, i + 1, db_column_text(q, i));
    }
    if (db_step(w) != DB_DONE) st = db_fail(dst, tables[t].name, err, errlen);
  }
  if (st == MIEN_OK && rc != DB_DONE)
    st = MIEN_FAIL(err, errlen, MIEN_ERR_IO, "reading %s: %s", tables[t].name, src->msg);
  db_finalize(q);
  db_finalize(w);
  return st;
}

/* PostgreSQL's sequences after rows came with their ids: the next id follows the largest. */
static mien_status advance_sequences(mien_store *dst, char *err, size_t errlen) {
  static const char *const serial[] = {"collections", "images",     "users",
                                       "faces",       "video_jobs", "video_results"};
  mien_status st = MIEN_OK;
  for (size_t i = 0; st == MIEN_OK && i < sizeof serial / sizeof *serial; i++) {
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT setval(pg_get_serial_sequence('%s', 'id'), coalesce(max(id), 0) + 1, false)"
             " FROM %s",
             serial[i], serial[i]);
    st = db_exec(dst, sql, err, errlen);
  }
  return st;
}

mien_status mien_store_copy(const char *from, const char *to, mien_store_copy_report *out,
                            char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  char msg[600];
  if (!db_location_is_pg(from)) {
    /* Its schema made current; a keys.json imported, which takes the template key, so only then
     * is the store opened whole. */
    char keys[4200];
    snprintf(keys, sizeof keys, "%s/keys.json", db_location_dir(from));
    mien_store *s;
    mien_status st = access(keys, F_OK) == 0 ? mien_store_open(from, &s, err, errlen)
                                             : db_open_tables(from, &s, err, errlen);
    if (st != MIEN_OK) return st;
    mien_store_close(s);
  }
  db_conn *src = db_open_location(from, 1, msg, sizeof msg);
  if (!src) return MIEN_FAIL(err, errlen, MIEN_ERR_IO, "%s", msg);
  mien_store *dst = NULL;
  mien_status st = db_open_tables(to, &dst, err, errlen);
  if (st == MIEN_OK) st = db_begin_write(dst, err, errlen);
  if (st == MIEN_OK) {
    for (int t = 0; st == MIEN_OK && t < NTABLES; t++) st = copy_table(src, dst, t, err, errlen);
    if (st == MIEN_OK && dst->db->is_pg) st = advance_sequences(dst, err, errlen);
    st = db_end_write(dst, st, err, errlen);
  }
  for (int t = 0; st == MIEN_OK && t < NTABLES; t++) {
    snprintf(out->table[t], sizeof out->table[t], "%s", tables[t].name);
    out->source_rows[t] = count_rows(src, tables[t].name);
    out->target_rows[t] = count_rows(dst->db, tables[t].name);
    if (out->source_rows[t] != out->target_rows[t]) out->mismatch = 1;
  }
  out->ntables = NTABLES;
  db_conn_close(src);
  mien_store_close(dst);
  if (st != MIEN_OK) return st;
  mien_audit_check a, b;
  st = mien_audit_verify(from, &a, err, errlen);
  if (st == MIEN_OK) st = mien_audit_verify(to, &b, err, errlen);
  if (st == MIEN_OK) {
    out->audit_records = b.records;
    snprintf(out->audit_head, sizeof out->audit_head, "%s", b.head);
    out->audit_valid = !b.bad_seq && !strcmp(a.head, b.head) && a.records == b.records;
  }
  return st;
}
