/* db_jobs.c - stored-video jobs (store.h): the queue the server's job threads take from, each
 * job's state, progress and VideoMetadata, and its results until they expire.
 *
 * Every change is one transaction, so a job is never half-queued or half-finished. A job whose
 * process died is found RUNNING at the next start and queued again (mien_store_job_recover);
 * its partial results are deleted first, so a rerun never doubles them. Results name
 * collection faces (FaceIds) and where people were seen: they are deleted with secure_delete on
 * and the WAL truncated after a purge, like any erasure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"
#include "util/util.h"

#define JOB_COLUMNS                                                                                \
  "id, job_id, kind, state, principal, coalesce(collection, ''), status_message, request,"         \
  " coalesce(metadata, ''), progress, attempts, created, coalesce(finished, 0)"

static void text(char *dst, size_t cap, db_stmt *q, int col) {
  const char *t = db_column_text(q, col);
  snprintf(dst, cap, "%s", t ? t : "");
}

static void job_row(db_stmt *q, mien_job *j) {
  j->row = db_column_int64(q, 0);
  text(j->job_id, sizeof j->job_id, q, 1);
  text(j->kind, sizeof j->kind, q, 2);
  text(j->state, sizeof j->state, q, 3);
  text(j->principal, sizeof j->principal, q, 4);
  text(j->collection, sizeof j->collection, q, 5);
  text(j->status_message, sizeof j->status_message, q, 6);
  text(j->request, sizeof j->request, q, 7);
  text(j->metadata, sizeof j->metadata, q, 8);
  j->progress = db_column_double(q, 9);
  j->attempts = db_column_int64(q, 10);
  j->created = db_column_double(q, 11);
  j->finished = db_column_double(q, 12);
}

/* Runs one statement with int64 parameters (mutex held); *changes gets the rows changed. */
static mien_status run(mien_store *s, const char *sql, int64_t a, int64_t b, int *changes,
                       char *err, size_t errlen) {
  db_stmt *q;
  mien_status st = db_prepare(s, sql, &q, err, errlen);
  if (st != MIEN_OK) return st;
  int np = db_bind_parameter_count(q);
  if (np >= 1) db_bind_int64(q, 1, a);
  if (np >= 2) db_bind_int64(q, 2, b);
  if (db_step(q) != DB_DONE) st = db_fail(s, "updating video jobs", err, errlen);
  if (changes) *changes = db_changes(s);
  db_finalize(q);
  return st;
}

/* The job holding token (mutex held): same request, its JobId; else a mismatch. */
static mien_status token_job(mien_store *s, const char *token, const char *kind,
                             const char *request, char job_id[MIEN_UUID_LEN], int *found, char *err,
                             size_t errlen) {
  db_stmt *q;
  *found = 0;
  mien_status st = db_prepare(s, "SELECT job_id, kind, request FROM video_jobs WHERE token = ?", &q,
                              err, errlen);
  if (st != MIEN_OK) return st;
  db_bind_text(q, 1, token);
  int rc = db_step(q);
  if (rc == DB_ROW) {
    *found = 1;
    cJSON *was = cJSON_Parse(db_column_text(q, 2)), *now = cJSON_Parse(request);
    if (strcmp(db_column_text(q, 1), kind) || !was || !now || !cJSON_Compare(was, now, 1))
      st = MIEN_FAIL(err, errlen, MIEN_ERR_IDEMPOTENT_MISMATCH,
                     "ClientRequestToken %s was already used with different parameters", token);
    else
      snprintf(job_id, MIEN_UUID_LEN, "%s", db_column_text(q, 0));
    cJSON_Delete(was), cJSON_Delete(now);
  } else if (rc != DB_DONE) {
    st = db_fail(s, "reading video jobs", err, errlen);
  }
  db_finalize(q);
  return st;
}

mien_status mien_store_job_start(mien_store *s, const char *principal, const char *kind,
                                 const char *token, const char *request, const char *coll,
                                 int max_active, char job_id[MIEN_UUID_LEN], char *err,
                                 size_t errlen) {
  mien_status st = db_begin_write(s, err, errlen);
  if (st != MIEN_OK) return st;
  int found = 0;
  if (token) st = token_job(s, token, kind, request, job_id, &found, err, errlen);
  db_stmt *q;
  if (st == MIEN_OK && !found)
    st = db_prepare(s, "SELECT count(*) FROM video_jobs WHERE state IN ('QUEUED', 'RUNNING')", &q,
                    err, errlen);
  if (st == MIEN_OK && !found) {
    int64_t active = db_step(q) == DB_ROW ? db_column_int64(q, 0) : 0;
    db_finalize(q);
    if (active >= max_active)
      st = MIEN_FAIL(err, errlen, MIEN_ERR_LIMIT_EXCEEDED,
                     "%lld video jobs are in progress, the most this server runs or queues; "
                     "start this one when one of them has finished",
                     (long long)active);
  }
  if (st == MIEN_OK && !found)
    st = db_prepare(s,
                    "INSERT INTO video_jobs (job_id, kind, token, request, principal, collection,"
                    " created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    &q, err, errlen);
  if (st == MIEN_OK && !found) {
    mien_uuid(job_id);
    db_bind_text(q, 1, job_id);
    db_bind_text(q, 2, kind);
    db_bind_text(q, 3, token); /* NULL binds NULL */
    db_bind_text(q, 4, request);
    db_bind_text(q, 5, principal ? principal : "local");
    db_bind_text(q, 6, coll);
    db_bind_double(q, 7, db_now());
    if (db_step(q) != DB_DONE) st = db_fail(s, "queueing the video job", err, errlen);
    db_finalize(q);
    if (st == MIEN_OK && coll)
      st = db_audit(s, principal, "StartFaceSearch", coll, NULL, err, errlen);
  }
  return db_end_write(s, st, err, errlen);
}

/* One job selected by sql (mutex held) with parameter 1 bound to key (text) or row. */
static mien_status select_job(mien_store *s, const char *where, const char *key, mien_job *out,
                              int *found, char *err, size_t errlen) {
  char sql[512];
  snprintf(sql, sizeof sql, "SELECT " JOB_COLUMNS " FROM video_jobs %s", where);
  db_stmt *q;
  *found = 0;
  mien_status st = db_prepare(s, sql, &q, err, errlen);
  if (st != MIEN_OK) return st;
  if (key) db_bind_text(q, 1, key);
  int rc = db_step(q);
  if (rc == DB_ROW)
    job_row(q, out), *found = 1;
  else if (rc != DB_DONE)
    st = db_fail(s, "reading video jobs", err, errlen);
  db_finalize(q);
  return st;
}

mien_status mien_store_job_get(mien_store *s, const char *job_id, mien_job *out, int *found,
                               char *err, size_t errlen) {
  pthread_mutex_lock(&s->mu);
  mien_status st = select_job(s, "WHERE job_id = ?", job_id, out, found, err, errlen);
  pthread_mutex_unlock(&s->mu);
  return st;
}

mien_status mien_store_job_claim(mien_store *s, mien_job *out, int *found, char *err,
                                 size_t errlen) {
  mien_status st = db_begin_write(s, err, errlen);
  if (st != MIEN_OK) return st;
  st = select_job(s, "WHERE state = 'QUEUED' ORDER BY id LIMIT 1", NULL, out, found, err, errlen);
  if (st == MIEN_OK && *found)
    st = run(s, "UPDATE video_jobs SET state = 'RUNNING', attempts = attempts + 1 WHERE id = ?",
             out->row, 0, NULL, err, errlen);
  if (st == MIEN_OK && *found) {
    snprintf(out->state, sizeof out->state, "RUNNING");
    out->attempts++;
  }
  return db_end_write(s, st, err, errlen);
}

mien_status mien_store_job_progress(mien_store *s, int64_t row, double progress,
                                    const char *metadata, char *err, size_t errlen) {
  pthread_mutex_lock(&s->mu);
  db_stmt *q;
  mien_status st = db_prepare(
      s, "UPDATE video_jobs SET progress = ?, metadata = coalesce(?, metadata) WHERE id = ?", &q,
      err, errlen);
  if (st == MIEN_OK) {
    db_bind_double(q, 1, progress);
    db_bind_text(q, 2, metadata);
    db_bind_int64(q, 3, row);
    if (db_step(q) != DB_DONE) st = db_fail(s, "recording progress", err, errlen);
    db_finalize(q);
  }
  pthread_mutex_unlock(&s->mu);
  return st;
}

mien_status mien_store_job_add_results(mien_store *s, int64_t row, const mien_job_result *r, int n,
                                       char *err, size_t errlen) {
  if (n == 0) return MIEN_OK;
  mien_status st = db_begin_write(s, err, errlen);
  if (st != MIEN_OK) return st;
  db_stmt *q = NULL;
  st = db_prepare(s, "INSERT INTO video_results (job, timestamp, person, item) VALUES (?, ?, ?, ?)",
                  &q, err, errlen);
  for (int i = 0; st == MIEN_OK && i < n; i++) {
    db_bind_int64(q, 1, row);
    db_bind_int64(q, 2, r[i].timestamp);
    db_bind_int64(q, 3, r[i].person);
    db_bind_text(q, 4, r[i].item);
    if (db_step(q) != DB_DONE) st = db_fail(s, "storing video results", err, errlen);
    db_reset(q);
  }
  if (q) db_finalize(q);
  return db_end_write(s, st, err, errlen);
}

mien_status mien_store_job_finish(mien_store *s, int64_t row, int succeeded, const char *message,
                                  cJSON *audit, char *err, size_t errlen) {
  mien_status st = db_begin_write(s, err, errlen);
  if (st != MIEN_OK) {
    cJSON_Delete(audit);
    return st;
  }
  mien_job j;
  int found = 0;
  db_stmt *q = NULL;
  char where[64];
  snprintf(where, sizeof where, "WHERE id = %lld", (long long)row);
  st = select_job(s, where, NULL, &j, &found, err, errlen);
  if (st == MIEN_OK && !succeeded)
    st = run(s, "DELETE FROM video_results WHERE job = ?", row, 0, NULL, err, errlen);
  if (st == MIEN_OK)
    st = db_prepare(s,
                    "UPDATE video_jobs SET state = ?, status_message = ?, finished = ?,"
                    " progress = CASE WHEN ? <> 0 THEN 1 ELSE progress END WHERE id = ?",
                    &q, err, errlen);
  if (st == MIEN_OK) {
    db_bind_text(q, 1, succeeded ? "SUCCEEDED" : "FAILED");
    db_bind_text(q, 2, message ? message : "");
    db_bind_double(q, 3, db_now());
    db_bind_int64(q, 4, succeeded);
    db_bind_int64(q, 5, row);
    if (db_step(q) != DB_DONE) st = db_fail(s, "finishing the video job", err, errlen);
    db_finalize(q);
  }
  if (st == MIEN_OK && audit && found) {
    st = db_audit(s, j.principal, "StartFaceSearch", j.collection[0] ? j.collection : NULL, audit,
                  err, errlen);
    audit = NULL;
  }
  cJSON_Delete(audit);
  return db_end_write(s, st, err, errlen);
}

mien_status mien_store_job_requeue(mien_store *s, int64_t row, char *err, size_t errlen) {
  mien_status st = db_begin_write(s, err, errlen);
  if (st != MIEN_OK) return st;
  st = run(s, "DELETE FROM video_results WHERE job = ?", row, 0, NULL, err, errlen);
  if (st == MIEN_OK)
    st = run(s,
             "UPDATE video_jobs SET state = 'QUEUED', progress = 0, attempts = CASE WHEN attempts "
             "> 0 THEN attempts - 1 ELSE 0 END"
             " WHERE id = ? AND state = 'RUNNING'",
             row, 0, NULL, err, errlen);
  return db_end_write(s, st, err, errlen);
}

mien_status mien_store_job_recover(mien_store *s, int max_attempts, int64_t *requeued,
                                   int64_t *failed, char *err, size_t errlen) {
  int nq = 0, nf = 0;
  mien_status st = db_begin_write(s, err, errlen);
  if (st != MIEN_OK) return st;
  st = run(s,
           "DELETE FROM video_results WHERE job IN (SELECT id FROM video_jobs WHERE state = "
           "'RUNNING')",
           0, 0, NULL, err, errlen);
  if (st == MIEN_OK) {
    db_stmt *q;
    st = db_prepare(s,
                    "UPDATE video_jobs SET state = 'FAILED', finished = ?1, status_message ="
                    " 'mien stopped while running this job ' || attempts || ' times; it is not"
                    " tried again (if the video is well formed, please report it)'"
                    " WHERE state = 'RUNNING' AND attempts >= ?2",
                    &q, err, errlen);
    if (st == MIEN_OK) {
      db_bind_double(q, 1, db_now());
      db_bind_int64(q, 2, max_attempts);
      if (db_step(q) != DB_DONE) st = db_fail(s, "recovering video jobs", err, errlen);
      nf = db_changes(s);
      db_finalize(q);
    }
  }
  if (st == MIEN_OK)
    st = run(s, "UPDATE video_jobs SET state = 'QUEUED', progress = 0 WHERE state = 'RUNNING'", 0,
             0, &nq, err, errlen);
  st = db_end_write(s, st, err, errlen);
  if (requeued) *requeued = st == MIEN_OK ? nq : 0;
  if (failed) *failed = st == MIEN_OK ? nf : 0;
  return st;
}

mien_status mien_store_job_results(mien_store *s, int64_t row, int by_index, int64_t offset,
                                   int max, cJSON *items, int *more, char *err, size_t errlen) {
  *more = 0;
  pthread_mutex_lock(&s->mu);
  db_stmt *q;
  mien_status st = db_prepare(s,
                              by_index ? "SELECT item FROM video_results WHERE job = ?"
                                         " ORDER BY person, timestamp, id LIMIT ? OFFSET ?"
                                       : "SELECT item FROM video_results WHERE job = ?"
                                         " ORDER BY timestamp, person, id LIMIT ? OFFSET ?",
                              &q, err, errlen);
  if (st == MIEN_OK) {
    db_bind_int64(q, 1, row);
    db_bind_int64(q, 2, (int64_t)max + 1);
    db_bind_int64(q, 3, offset);
    int rc, n = 0;
    while ((rc = db_step(q)) == DB_ROW) {
      if (n == max) {
        *more = 1;
        break;
      }
      cJSON *item = cJSON_Parse(db_column_text(q, 0));
      if (!item) {
        st = MIEN_FAIL(err, errlen, MIEN_ERR_INTERNAL, "a stored video result is not JSON");
        break;
      }
      cJSON_AddItemToArray(items, item);
      n++;
    }
    if (st == MIEN_OK && rc != DB_ROW && rc != DB_DONE)
      st = db_fail(s, "reading video results", err, errlen);
    db_finalize(q);
  }
  pthread_mutex_unlock(&s->mu);
  return st;
}

mien_status mien_store_job_purge(mien_store *s, double retention_s, int64_t *purged, char *err,
                                 size_t errlen) {
  *purged = 0;
  mien_status st = db_begin_write(s, err, errlen);
  if (st != MIEN_OK) return st;
  db_stmt *q;
  st = db_prepare(s,
                  "DELETE FROM video_jobs WHERE state IN ('SUCCEEDED', 'FAILED') AND finished < ?",
                  &q, err, errlen);
  if (st == MIEN_OK) {
    db_bind_double(q, 1, db_now() - retention_s);
    if (db_step(q) != DB_DONE) st = db_fail(s, "deleting expired video jobs", err, errlen);
    *purged = db_changes(s);
    db_finalize(q);
  }
  if (st == MIEN_OK && *purged) {
    cJSON *fields = cJSON_CreateObject();
    cJSON_AddNumberToObject(fields, "jobs", (double)*purged);
    st = db_audit(s, "retention", "VideoJobPurge", NULL, fields, err, errlen);
  }
  st = db_finish(s, st, err, errlen);
  if (st == MIEN_OK && *purged) db_erase(s);
  pthread_mutex_unlock(&s->mu);
  if (st != MIEN_OK) *purged = 0;
  return st;
}
