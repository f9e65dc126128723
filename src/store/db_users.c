/* db_users.c - users in the store: Rekognition's UserIDs, each a set of up to 100 faces of one
 * person. Associations change faces.user only, so the search index is not involved; each call
 * is one transaction, and the checks (face free, quota) run inside it so that two concurrent
 * calls cannot both take the same face. DeleteUser is audited and erases (db_erase). */
#include <stdio.h>
#include <string.h>

#include "store/people.h"
#include "store/internal.h"
#include "util/util.h"

static mien_status no_user(const char *user_id, char *err, size_t errlen) {
  return MIEN_FAIL(err, errlen, MIEN_ERR_RESOURCE_NOT_FOUND,
                   "The user id: %s does not exist in the collection", user_id);
}

/* Runs a statement bound to (collection row, user id[, now]) that changes at most one row;
 * *changed says whether it did. Mutex held. */
static mien_status user_write(mien_store *s, const char *coll, const char *user_id, const char *sql,
                              int *changed, char *err, size_t errlen) {
  db_stmt *q = NULL;
  mien_status st = db_collection_query(s, coll, sql, &q, err, errlen);
  if (st == MIEN_OK) {
    db_bind_text(q, 2, user_id);
    if (db_bind_parameter_count(q) == 3) db_bind_double(q, 3, db_now());
    int rc = db_step(q);
    *changed = rc == DB_DONE && db_changes(s) > 0;
    if (rc == DB_CONSTRAINT)
      st = MIEN_FAIL(err, errlen, MIEN_ERR_CONFLICT, "The user id: %s already exists", user_id);
    else if (rc != DB_DONE)
      st = db_fail(s, "writing the user", err, errlen);
  }
  db_finalize(q);
  return st;
}

mien_status mien_store_create_user(mien_store *s, const char *coll, const char *user_id,
                                   const mien_idem *idem, char *err, size_t errlen) {
  int changed;
  mien_status st = db_begin_write(s, err, errlen);
  if (st != MIEN_OK) return st;
  st = user_write(s, coll, user_id,
                  "INSERT INTO users (collection, user_id, created) VALUES (?, ?, ?)", &changed,
                  err, errlen);
  if (st == MIEN_OK) st = db_idem_record(s, idem, err, errlen);
  return db_end_write(s, st, err, errlen);
}

/* Re-seals the faces of user_id for having no user, before the user's row goes (its faces stay,
 * their user set to NULL by the foreign key): their templates are bound to their UserId. */
static mien_status unbind_faces(mien_store *s, const char *coll, const char *user_id, char *err,
                                size_t errlen) {
  if (!s->encrypted) return MIEN_OK;
  db_stmt *q = NULL;
  mien_status st = db_collection_query(s, coll,
                                       "SELECT f.id FROM faces f JOIN users u ON u.id = f.user"
                                       " WHERE u.collection = ? AND u.user_id = ? AND f.id > ?"
                                       " ORDER BY f.id LIMIT 1",
                                       &q, err, errlen);
  int64_t last = 0;
  while (st == MIEN_OK) {
    db_reset(q);
    db_bind_text(q, 2, user_id);
    db_bind_int64(q, 3, last);
    int rc = db_step(q);
    if (rc == DB_DONE) break;
    if (rc != DB_ROW) {
      st = db_fail(s, "finding the user's faces", err, errlen);
      break;
    }
    last = db_column_int64(q, 0);
    db_reset(q);
    st = db_reseal_for_user(s, last, NULL, err, errlen);
  }
  db_finalize(q);
  return st;
}

mien_status mien_store_delete_user(mien_store *s, const char *principal, const char *coll,
                                   const char *user_id, const mien_idem *idem, char *err,
                                   size_t errlen) {
  int changed = 0;
  mien_status st = db_begin_write(s, err, errlen);
  if (st != MIEN_OK) return st;
  st = unbind_faces(s, coll, user_id, err, errlen);
  if (st == MIEN_OK)
    st = user_write(s, coll, user_id, "DELETE FROM users WHERE collection = ? AND user_id = ?",
                    &changed, err, errlen);
  if (st == MIEN_OK && !changed) st = no_user(user_id, err, errlen);
  if (st == MIEN_OK) {
    /* The UserId is what identifies the person: the record counts, it does not name. */
    cJSON *fields = cJSON_CreateObject();
    cJSON_AddNumberToObject(fields, "users", 1);
    st = db_audit(s, principal, "DeleteUser", coll, fields, err, errlen);
  }
  if (st == MIEN_OK) st = db_idem_record(s, idem, err, errlen);
  st = db_finish(s, st, err, errlen);
  if (st == MIEN_OK) db_erase(s);
  pthread_mutex_unlock(&s->mu);
  return st;
}

#define USER_SELECT "SELECT user_id, status FROM users "

static void user_row(db_stmt *q, mien_user_record *u) {
  snprintf(u->user_id, sizeof u->user_id, "%s", db_column_text(q, 0));
  snprintf(u->status, sizeof u->status, "%s", db_column_text(q, 1));
}

mien_status mien_store_list_users(mien_store *s, const char *coll, const char *after, int max,
                                  mien_user_record *out, int *n, int *more, char *err,
                                  size_t errlen) {
  *n = 0, *more = 0;
  pthread_mutex_lock(&s->mu);
  db_stmt *q = NULL;
  mien_status st = db_collection_query(
      s, coll, USER_SELECT "WHERE collection = ? AND user_id > ? ORDER BY user_id LIMIT ?", &q, err,
      errlen);
  if (st == MIEN_OK) {
    db_bind_text(q, 2, after);
    db_bind_int64(q, 3, max + 1);
    int rc;
    while ((rc = db_step(q)) == DB_ROW) {
      if (*n == max) {
        *more = 1;
        break;
      }
      user_row(q, &out[(*n)++]);
    }
    if (rc != DB_ROW && rc != DB_DONE) st = db_fail(s, "listing users", err, errlen);
  }
  db_finalize(q);
  pthread_mutex_unlock(&s->mu);
  return st;
}

mien_status mien_store_get_user(mien_store *s, const char *coll, const char *user_id,
                                mien_user_record *out, int *found, char *err, size_t errlen) {
  *found = 0;
  pthread_mutex_lock(&s->mu);
  db_stmt *q = NULL;
  mien_status st = db_collection_query(s, coll, USER_SELECT "WHERE collection = ? AND user_id = ?",
                                       &q, err, errlen);
  if (st == MIEN_OK) {
    db_bind_text(q, 2, user_id);
    int rc = db_step(q);
    if (rc == DB_ROW)
      user_row(q, out), *found = 1;
    else if (rc != DB_DONE)
      st = db_fail(s, "reading the user", err, errlen);
  }
  db_finalize(q);
  pthread_mutex_unlock(&s->mu);
  return st;
}

/* The SQL of mien_store_set_user within its transaction; urow is the user's row, uid its UserId
 * (a template is bound to its UserId, so each face that changes user is re-sealed). */
static mien_status set_rows(mien_store *s, int64_t crow, int64_t urow, const char *uid,
                            int associate, const char *const *face_ids, int n,
                            mien_face_result *res, int *done, char *err, size_t errlen) {
  db_stmt *find = NULL, *upd = NULL;
  mien_status st = db_prepare(s, "SELECT id, user FROM faces WHERE collection = ? AND face_id = ?",
                              &find, err, errlen);
  if (st == MIEN_OK)
    st = db_prepare(s, "UPDATE faces SET user = ? WHERE id = ?", &upd, err, errlen);
  *done = 0;
  for (int i = 0; st == MIEN_OK && i < n; i++) {
    db_reset(find);
    db_bind_int64(find, 1, crow);
    db_bind_text(find, 2, face_ids[i]);
    int rc = db_step(find);
    if (rc == DB_DONE) {
      res[i] = MIEN_FACE_NOT_FOUND;
      continue;
    }
    if (rc != DB_ROW) {
      st = db_fail(s, "finding a face", err, errlen);
      break;
    }
    int has_user = !db_column_is_null(find, 1);
    int64_t owner = db_column_int64(find, 1);
    if (has_user && owner != urow) {
      res[i] = MIEN_FACE_OTHER_USER;
    } else if (has_user == associate) {
      res[i] = MIEN_FACE_UNCHANGED;
    } else {
      int64_t row = db_column_int64(find, 0);
      db_reset(find);
      st = db_reseal_for_user(s, row, associate ? uid : NULL, err, errlen);
      if (st != MIEN_OK) break;
      db_reset(upd);
      if (associate)
        db_bind_int64(upd, 1, urow);
      else
        db_bind_null(upd, 1);
      db_bind_int64(upd, 2, row);
      if (db_step(upd) != DB_DONE) st = db_fail(s, "updating a face", err, errlen);
      res[i] = MIEN_FACE_DONE;
      ++*done;
    }
  }
  db_finalize(find);
  db_finalize(upd);
  return st;
}

/* The user's row, its face count, the association and the user's status (copied to status when
 * not NULL), within the open transaction (mutex held). */
static mien_status set_user_tx(mien_store *s, int64_t crow, const char *uid, int associate,
                               const char *const *face_ids, int n, mien_face_result *res, int *done,
                               char status[16], char *err, size_t errlen) {
  int64_t urow = 0;
  int before = 0;
  db_stmt *q = NULL;
  *done = 0;
  mien_status st =
      db_prepare(s,
                 "SELECT id, (SELECT count(*) FROM faces f WHERE f.user = users.id) FROM users"
                 " WHERE collection = ? AND user_id = ?",
                 &q, err, errlen);
  if (st == MIEN_OK) {
    db_bind_int64(q, 1, crow);
    db_bind_text(q, 2, uid);
    int rc = db_step(q);
    if (rc == DB_ROW)
      urow = db_column_int64(q, 0), before = db_column_int64(q, 1);
    else
      st = rc == DB_DONE ? no_user(uid, err, errlen) : db_fail(s, "reading the user", err, errlen);
  }
  db_finalize(q);
  if (st == MIEN_OK)
    st = set_rows(s, crow, urow, uid, associate, face_ids, n, res, done, err, errlen);
  if (st == MIEN_OK && associate && before + *done > MIEN_USER_MAX_FACES)
    st = MIEN_FAIL(err, errlen, MIEN_ERR_QUOTA,
                   "user %s has %d faces; %d more would pass the limit of %d faces per user", uid,
                   before, *done, MIEN_USER_MAX_FACES);
  if (st == MIEN_OK) {
    char sql[200];
    snprintf(sql, sizeof sql,
             "UPDATE users SET status = CASE WHEN EXISTS (SELECT 1 FROM faces WHERE user = %lld)"
             " THEN 'ACTIVE' ELSE 'CREATED' END WHERE id = %lld",
             (long long)urow, (long long)urow);
    st = db_exec(s, sql, err, errlen);
  }
  if (st == MIEN_OK && status)
    st = db_prepare(s, "SELECT status FROM users WHERE id = ?", &q, err, errlen);
  if (st == MIEN_OK && status) {
    db_bind_int64(q, 1, urow);
    if (db_step(q) == DB_ROW)
      snprintf(status, 16, "%s", db_column_text(q, 0));
    else
      st = db_fail(s, "reading the user", err, errlen);
    db_finalize(q);
  }
  return st;
}

mien_status mien_store_set_user(mien_store *s, const char *coll, const char *user_id,
                                const char *from_user, const char *const *face_ids, int n,
                                mien_face_result *res, char status[16], const mien_idem *idem,
                                char *err, size_t errlen) {
  const char *uid = user_id ? user_id : from_user;
  mien_status st = db_begin_write(s, err, errlen);
  if (st != MIEN_OK) return st;
  int64_t crow;
  int done;
  st = db_collection_row(s, coll, &crow, err, errlen);
  if (st == MIEN_OK)
    st = set_user_tx(s, crow, uid, user_id != NULL, face_ids, n, res, &done, status, err, errlen);
  if (st == MIEN_OK) st = db_idem_record(s, idem, err, errlen);
  return db_end_write(s, st, err, errlen);
}

mien_status mien_store_accept_proposal(mien_store *s, const char *principal, const char *coll,
                                       const char *user_id, const char *const *face_ids, int n,
                                       mien_face_result *res, int *created, char *err,
                                       size_t errlen) {
  mien_status st = db_begin_write(s, err, errlen);
  if (st != MIEN_OK) return st;
  int64_t crow;
  int done = 0;
  st = db_collection_row(s, coll, &crow, err, errlen);
  if (st == MIEN_OK)
    st = user_write(s, coll, user_id,
                    "INSERT INTO users (collection, user_id, created) VALUES (?, ?, ?)"
                    " ON CONFLICT DO NOTHING",
                    created, err, errlen);
  if (st == MIEN_OK)
    st = set_user_tx(s, crow, user_id, 1, face_ids, n, res, &done, NULL, err, errlen);
  if (st == MIEN_OK) {
    /* Counts only, as every record: the UserId names a person. */
    cJSON *fields = cJSON_CreateObject();
    cJSON_AddNumberToObject(fields, "faces", done);
    cJSON_AddNumberToObject(fields, "users_created", *created);
    st = db_audit(s, principal, "AcceptProposal", coll, fields, err, errlen);
  }
  return db_end_write(s, st, err, errlen);
}
