/* idempotency.c - ClientRequestToken records (store.h, docs/idempotency.md): a row per
 * (operation, caller, token) holding the SHA-256 of the request it came with and the response it
 * got, written by db_idem_record inside the transaction of the change it answers for, so that the
 * change and its token commit together or not at all. Rows older than the window are ignored by
 * lookups and deleted whenever a new one is written; a collection's rows go with it (ON DELETE
 * CASCADE, overwritten by secure_delete like every other deleted row). */
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"
#include "util/util.h"

static const char *principal_of(const mien_idem *idem) {
  return idem->principal ? idem->principal : "local";
}

/* The row for idem's token within the window (mutex held): *found, and when found whether its
 * request hash is idem's (*same) and its response (malloc'ed, when response is not NULL). */
static mien_status find_row(mien_store *s, const mien_idem *idem, int *found, int *same,
                            char **response, char *err, size_t errlen) {
  db_stmt *q;
  *found = *same = 0;
  mien_status st = db_prepare(s,
                              "SELECT request_sha256, response FROM idempotency"
                              " WHERE op = ? AND principal = ? AND token = ? AND created >= ?",
                              &q, err, errlen);
  if (st != MIEN_OK) return st;
  db_bind_text(q, 1, idem->op);
  db_bind_text(q, 2, principal_of(idem));
  db_bind_text(q, 3, idem->token);
  db_bind_double(q, 4, db_now() - MIEN_IDEMPOTENCY_WINDOW_S);
  int rc = db_step(q);
  if (rc == DB_ROW) {
    *found = 1;
    *same = db_column_bytes(q, 0) == 32 && !memcmp(db_column_blob(q, 0), idem->request_sha256, 32);
    if (*same && response) {
      *response = strdup(db_column_text(q, 1));
      if (!*response) st = MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
    }
  } else if (rc != DB_DONE) {
    st = db_fail(s, "reading idempotency tokens", err, errlen);
  }
  db_finalize(q);
  return st;
}

mien_status mien_store_idem_find(mien_store *s, const mien_idem *idem, char **response, char *err,
                                 size_t errlen) {
  *response = NULL;
  int found, same;
  pthread_mutex_lock(&s->mu);
  mien_status st = find_row(s, idem, &found, &same, response, err, errlen);
  pthread_mutex_unlock(&s->mu);
  if (st == MIEN_OK && found && !same)
    st = MIEN_FAIL(err, errlen, MIEN_ERR_IDEMPOTENT_MISMATCH,
                   "The ClientRequestToken: %s you have supplied is already in use by a %s request "
                   "with other parameters",
                   idem->token, idem->op);
  return st;
}

mien_status db_idem_record(mien_store *s, const mien_idem *idem, char *err, size_t errlen) {
  if (!idem || !idem->token) return MIEN_OK;
  int64_t crow;
  db_stmt *q = NULL;
  char *response = NULL;
  double now = db_now();
  mien_status st = db_collection_row(s, idem->coll, &crow, err, errlen);
  /* Expired rows, this token's among them, make way. */
  if (st == MIEN_OK)
    st = db_prepare(s, "DELETE FROM idempotency WHERE created < ?", &q, err, errlen);
  if (st == MIEN_OK) {
    db_bind_double(q, 1, now - MIEN_IDEMPOTENCY_WINDOW_S);
    if (db_step(q) != DB_DONE) st = db_fail(s, "purging idempotency tokens", err, errlen);
    db_finalize(q);
    q = NULL;
  }
  if (st == MIEN_OK && !(response = idem->respond(idem->ctx)))
    st = MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  if (st == MIEN_OK)
    st = db_prepare(s,
                    "INSERT INTO idempotency (op, principal, token, collection, request_sha256,"
                    " response, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    &q, err, errlen);
  if (st == MIEN_OK) {
    db_bind_text(q, 1, idem->op);
    db_bind_text(q, 2, principal_of(idem));
    db_bind_text(q, 3, idem->token);
    db_bind_int64(q, 4, crow);
    db_bind_blob(q, 5, idem->request_sha256, 32);
    db_bind_text(q, 6, response);
    db_bind_double(q, 7, now);
    int rc = db_step(q);
    if (rc == DB_CONSTRAINT)
      st = MIEN_FAIL(err, errlen, MIEN_ERR_CONFLICT,
                     "ClientRequestToken %s was recorded by a concurrent request", idem->token);
    else if (rc != DB_DONE)
      st = db_fail(s, "recording the ClientRequestToken", err, errlen);
  }
  db_finalize(q);
  free(response);
  return st;
}

mien_status mien_store_idem_record(mien_store *s, const mien_idem *idem, char *err, size_t errlen) {
  mien_status st = db_begin_write(s, err, errlen);
  return st == MIEN_OK ? db_end_write(s, db_idem_record(s, idem, err, errlen), err, errlen) : st;
}
