/* db_faces.c - faces and images in the store: indexing an image's faces in one durable
 * transaction, listing, deleting and searching them, with the collection's in-memory index
 * updated after each commit (under the collection's write lock, so no search sees a face the
 * database does not have for longer than the commit takes). Templates are sealed on the way in
 * and opened on the way out when the store has a key (crypt.c); indexing checks the
 * collection's consent policy and deleting erases (policy.c, db_erase), each in the
 * transaction that also appends the audit record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"
#include "util/util.h"

/* Columns read by face_row. */
#define FACE_SELECT                                                                                \
  "SELECT f.id, f.face_id, i.image_id, i.external_image_id, u.user_id, f.left, f.top, f.width,"    \
  " f.height, f.confidence, f.embedding, f.collection FROM faces f"                                \
  " JOIN images i ON i.id = f.image LEFT JOIN users u ON u.id = f.user "

static void copy_text(char *dst, size_t cap, db_stmt *q, int col) {
  const char *t = db_column_text(q, col);
  snprintf(dst, cap, "%s", t ? t : "");
}

static mien_status face_row(mien_store *s, db_stmt *q, int with_emb, mien_face_record *r, char *err,
                            size_t errlen) {
  r->row = db_column_int64(q, 0);
  copy_text(r->face_id, sizeof r->face_id, q, 1);
  copy_text(r->image_id, sizeof r->image_id, q, 2);
  copy_text(r->external_image_id, sizeof r->external_image_id, q, 3);
  copy_text(r->user_id, sizeof r->user_id, q, 4);
  r->left = (float)db_column_double(q, 5);
  r->top = (float)db_column_double(q, 6);
  r->width = (float)db_column_double(q, 7);
  r->height = (float)db_column_double(q, 8);
  r->confidence = (float)db_column_double(q, 9);
  if (!with_emb) return MIEN_OK;
  const void *v = db_column_blob(q, 10);
  if (!v && !db_column_is_null(q, 10)) return db_fail(s, "reading", err, errlen);
  db_seal_ids ids = {db_column_int64(q, 11), r->face_id, r->external_image_id, r->user_id};
  return db_unseal(s->encrypted ? s->key : NULL, &ids, v, db_column_bytes(q, 10), r->emb, err,
                   errlen);
}

mien_status mien_store_find_image(mien_store *s, const char *coll, const uint8_t sha256[32],
                                  int *found, char image_id[MIEN_UUID_LEN], char *err,
                                  size_t errlen) {
  *found = 0;
  pthread_mutex_lock(&s->mu);
  db_stmt *q = NULL;
  mien_status st = db_collection_query(
      s, coll, "SELECT image_id FROM images WHERE collection = ? AND sha256 = ? LIMIT 1", &q, err,
      errlen);
  if (st == MIEN_OK) {
    db_bind_blob(q, 2, sha256, 32);
    int rc = db_step(q);
    if (rc == DB_ROW) {
      *found = 1;
      copy_text(image_id, MIEN_UUID_LEN, q, 0);
    } else if (rc != DB_DONE) {
      st = db_fail(s, "looking up the image", err, errlen);
    }
  }
  db_finalize(q);
  pthread_mutex_unlock(&s->mu);
  return st;
}

/* The SQL part of mien_store_index_image: inserts within the open transaction. */
static mien_status insert_image(mien_store *s, int64_t crow, const uint8_t sha256[32],
                                const char *external_id, const mien_new_face *faces, int n,
                                char *image_id, char (*face_ids)[MIEN_UUID_LEN], int64_t *rows,
                                char *err, size_t errlen) {
  double now = db_now();
  db_stmt *q;
  mien_status st = db_prepare(s,
                              "INSERT INTO images (collection, image_id, sha256, "
                              "external_image_id, created) VALUES (?, ?, ?, ?, ?) RETURNING id",
                              &q, err, errlen);
  if (st != MIEN_OK) return st;
  mien_uuid(image_id);
  db_bind_int64(q, 1, crow);
  db_bind_text(q, 2, image_id);
  db_bind_blob(q, 3, sha256, 32);
  if (external_id) db_bind_text(q, 4, external_id);
  db_bind_double(q, 5, now);
  int64_t image_row = 0;
  if (db_step(q) == DB_ROW)
    image_row = db_column_int64(q, 0);
  else
    st = db_fail(s, "storing the image", err, errlen);
  db_finalize(q);
  if (st != MIEN_OK) return st;
  uint8_t sealed[DB_SEALED_BYTES];
  st = db_prepare(
      s,
      "INSERT INTO faces (collection, face_id, image, left, top, width, height,"
      " confidence, embedding, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
      &q, err, errlen);
  for (int i = 0; st == MIEN_OK && i < n; i++) {
    const mien_new_face *f = &faces[i];
    const void *blob;
    int blen;
    mien_uuid(face_ids[i]);
    db_seal_ids ids = {crow, face_ids[i], external_id, NULL};
    st = db_seal(s->encrypted ? s->key : NULL, &ids, f->emb, sealed, &blob, &blen, err, errlen);
    if (st != MIEN_OK) break;
    db_reset(q);
    db_bind_int64(q, 1, crow);
    db_bind_text(q, 2, face_ids[i]);
    db_bind_int64(q, 3, image_row);
    db_bind_double(q, 4, f->left);
    db_bind_double(q, 5, f->top);
    db_bind_double(q, 6, f->width);
    db_bind_double(q, 7, f->height);
    db_bind_double(q, 8, f->confidence);
    db_bind_blob(q, 9, blob, blen);
    db_bind_double(q, 10, now);
    if (db_step(q) == DB_ROW)
      rows[i] = db_column_int64(q, 0);
    else
      st = db_fail(s, "storing a face", err, errlen);
  }
  db_finalize(q);
  return st;
}

/* ResourceNotFoundException for a collection deleted since db_coll found it. */
static mien_status gone(const char *coll, char *err, size_t errlen) {
  return MIEN_FAIL(err, errlen, MIEN_ERR_RESOURCE_NOT_FOUND, "The collection id: %s does not exist",
                   coll);
}

/* The end of a change to c's faces: its write lock released, rows freed. */
static void write_end(mien_coll *c, int64_t *rows) {
  pthread_rwlock_unlock(&c->lock);
  free(rows);
}

/* The start of a change to coll's faces: the collection *c (when adding, its index loaded and
 * its face model checked) locked for writing, *rows for n faces, the mutex held and a
 * transaction begun. On failure nothing is held. A deletion needs no index: one loaded later
 * reads the committed rows, and a template that fails to open must not block its erasure. */
static mien_status write_begin(mien_store *s, const char *coll, int adding, int n, mien_coll **c,
                               int64_t **rows, char *err, size_t errlen) {
  mien_status st = db_coll(s, coll, adding, adding, c, err, errlen);
  if (st != MIEN_OK) return st;
  *rows = malloc((size_t)(n ? n : 1) * sizeof **rows);
  if (!*rows) return MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  pthread_rwlock_wrlock(&(*c)->lock);
  if ((*c)->dead) {
    st = gone(coll, err, errlen);
  } else {
    pthread_mutex_lock(&s->mu);
    st = db_exec(s, "BEGIN IMMEDIATE", err, errlen);
    if (st != MIEN_OK) pthread_mutex_unlock(&s->mu);
  }
  if (st != MIEN_OK) write_end(*c, *rows);
  return st;
}

/* The collection's consent policy against the ExternalImageId (in the indexing transaction, so
 * that a policy change cannot slip between check and insert); fields of the audit record. */
static mien_status check_consent(mien_store *s, int64_t crow, const char *coll,
                                 const char *external_id, cJSON *fields, char *err, size_t errlen) {
  mien_policy p;
  mien_status st = db_policy(s, crow, &p, err, errlen);
  if (st != MIEN_OK) return st;
  size_t ref = mien_consent_ref(external_id);
  if (ref) { /* only the reference: the rest of the ExternalImageId may name the person */
    char text[MIEN_EXTERNAL_ID_MAX + 1];
    snprintf(text, sizeof text, "%.*s", (int)ref, external_id + strlen(MIEN_CONSENT_PREFIX));
    cJSON_AddStringToObject(fields, "consent", text);
  }
  return db_consent(&p, coll, external_id, err, errlen);
}

mien_status mien_store_index_image_as(mien_store *s, const char *principal, const char *coll,
                                      const uint8_t sha256[32], const char *external_id,
                                      const mien_new_face *faces, int n,
                                      char image_id[MIEN_UUID_LEN], char (*face_ids)[MIEN_UUID_LEN],
                                      char *err, size_t errlen) {
  mien_coll *c;
  int64_t *rows;
  mien_status st = write_begin(s, coll, 1, n, &c, &rows, err, errlen);
  if (st != MIEN_OK) return st;
  cJSON *fields = cJSON_CreateObject();
  cJSON_AddNumberToObject(fields, "faces", n);
  st = check_consent(s, c->id, coll, external_id, fields, err, errlen);
  if (st == MIEN_OK && s->encrypted) st = db_key_current(s, err, errlen);
  if (st == MIEN_OK)
    st = insert_image(s, c->id, sha256, external_id, faces, n, image_id, face_ids, rows, err,
                      errlen);
  if (st == MIEN_OK)
    st = db_audit(s, principal, "IndexFaces", coll, fields, err, errlen);
  else
    cJSON_Delete(fields);
  st = db_finish(s, st, err, errlen);
  pthread_mutex_unlock(&s->mu);
  if (st == MIEN_OK && c->ann_kept) db_ann_forget(s, c);
  for (int i = 0; st == MIEN_OK && i < n; i++)
    if (mien_index_add(c->ix, rows[i], faces[i].emb) != 0)
      st = MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM,
                     "out of memory: the faces are stored but searchable only after a restart");
  write_end(c, rows);
  return st;
}

mien_status mien_store_index_image(mien_store *s, const char *coll, const uint8_t sha256[32],
                                   const char *external_id, const mien_new_face *faces, int n,
                                   char image_id[MIEN_UUID_LEN], char (*face_ids)[MIEN_UUID_LEN],
                                   char *err, size_t errlen) {
  return mien_store_index_image_as(s, NULL, coll, sha256, external_id, faces, n, image_id, face_ids,
                                   err, errlen);
}

mien_status mien_store_list_faces(mien_store *s, const char *coll, int64_t after, int max,
                                  const char *user_id, int with_emb, mien_face_record *out, int *n,
                                  int *more, char *err, size_t errlen) {
  *n = 0, *more = 0;
  pthread_mutex_lock(&s->mu);
  db_stmt *q = NULL;
  mien_status st = db_collection_query(
      s, coll,
      FACE_SELECT "WHERE f.collection = ?1 AND f.id > ?2 AND"
                  " (CAST(?3 AS TEXT) IS NULL OR u.user_id = ?3) ORDER BY f.id LIMIT ?4",
      &q, err, errlen);
  if (st == MIEN_OK) {
    db_bind_int64(q, 2, after);
    if (user_id) db_bind_text(q, 3, user_id);
    db_bind_int64(q, 4, max + 1);
    int rc;
    while (st == MIEN_OK && (rc = db_step(q)) == DB_ROW) {
      if (*n == max) {
        *more = 1;
        break;
      }
      st = face_row(s, q, with_emb, &out[(*n)++], err, errlen);
    }
    if (st == MIEN_OK && rc != DB_ROW && rc != DB_DONE)
      st = db_fail(s, "listing faces", err, errlen);
  }
  db_finalize(q);
  pthread_mutex_unlock(&s->mu);
  return st;
}

mien_status mien_store_get_face(mien_store *s, const char *coll, const char *face_id,
                                mien_face_record *out, int *found, char *err, size_t errlen) {
  *found = 0;
  pthread_mutex_lock(&s->mu);
  db_stmt *q = NULL;
  mien_status st = db_collection_query(
      s, coll, FACE_SELECT "WHERE f.collection = ? AND f.face_id = ?", &q, err, errlen);
  if (st == MIEN_OK) {
    db_bind_text(q, 2, face_id);
    int rc = db_step(q);
    if (rc == DB_ROW) {
      st = face_row(s, q, 1, out, err, errlen);
      *found = st == MIEN_OK;
    } else if (rc != DB_DONE) {
      st = db_fail(s, "reading a face", err, errlen);
    }
  }
  db_finalize(q);
  pthread_mutex_unlock(&s->mu);
  return st;
}

/* The SQL part of mien_store_delete_faces, within the open transaction: each face, then its
 * image when no face of it is left (its ExternalImageId and hash would outlive the face). */
static mien_status delete_rows(mien_store *s, int64_t crow, const char *const *face_ids, int n,
                               mien_face_result *res, char (*user_ids)[MIEN_USER_ID_MAX + 1],
                               int64_t *rows, int *deleted, char *err, size_t errlen) {
  db_stmt *find = NULL, *del = NULL, *orphan = NULL;
  mien_status st = db_prepare(s,
                              "SELECT f.id, u.user_id, f.image FROM faces f LEFT JOIN users u ON"
                              " u.id = f.user WHERE f.collection = ? AND f.face_id = ?",
                              &find, err, errlen);
  if (st == MIEN_OK) st = db_prepare(s, "DELETE FROM faces WHERE id = ?", &del, err, errlen);
  if (st == MIEN_OK)
    st = db_prepare(s,
                    "DELETE FROM images WHERE id = ?1 AND NOT EXISTS"
                    " (SELECT 1 FROM faces WHERE image = ?1)",
                    &orphan, err, errlen);
  *deleted = 0;
  for (int i = 0; st == MIEN_OK && i < n; i++) {
    rows[i] = 0;
    db_reset(find);
    db_bind_int64(find, 1, crow);
    db_bind_text(find, 2, face_ids[i]);
    int rc = db_step(find);
    if (rc == DB_DONE) {
      res[i] = MIEN_FACE_NOT_FOUND;
    } else if (rc != DB_ROW) {
      st = db_fail(s, "finding a face", err, errlen);
    } else if (!db_column_is_null(find, 1)) {
      res[i] = MIEN_FACE_OTHER_USER;
      if (user_ids) copy_text(user_ids[i], MIEN_USER_ID_MAX + 1, find, 1);
    } else {
      int64_t row = db_column_int64(find, 0);
      db_reset(del);
      db_bind_int64(del, 1, row);
      db_reset(orphan);
      db_bind_int64(orphan, 1, db_column_int64(find, 2));
      if (db_step(del) != DB_DONE || db_step(orphan) != DB_DONE)
        st = db_fail(s, "deleting a face", err, errlen);
      /* The same id twice in one request: the second finds nothing. */
      res[i] = MIEN_FACE_DONE;
      rows[i] = row;
      ++*deleted;
    }
  }
  db_finalize(find);
  db_finalize(del);
  db_finalize(orphan);
  return st;
}

mien_status mien_store_delete_faces(mien_store *s, const char *principal, const char *coll,
                                    const char *const *face_ids, int n, mien_face_result *res,
                                    char (*user_ids)[MIEN_USER_ID_MAX + 1], char *err,
                                    size_t errlen) {
  mien_coll *c;
  int64_t *rows;
  int deleted = 0;
  mien_status st = write_begin(s, coll, 0, n, &c, &rows, err, errlen);
  if (st != MIEN_OK) return st;
  st = delete_rows(s, c->id, face_ids, n, res, user_ids, rows, &deleted, err, errlen);
  if (st == MIEN_OK) {
    cJSON *fields = cJSON_CreateObject();
    cJSON_AddNumberToObject(fields, "faces", deleted);
    cJSON_AddNumberToObject(fields, "requested", n);
    st = db_audit(s, principal, "DeleteFaces", coll, fields, err, errlen);
  }
  st = db_finish(s, st, err, errlen);
  if (st == MIEN_OK && deleted) db_erase(s);
  pthread_mutex_unlock(&s->mu);
  if (st == MIEN_OK && deleted) db_ann_forget(s, c); /* its codes must not stay */
  for (int i = 0; st == MIEN_OK && c->ix && i < n; i++)
    if (rows[i]) mien_index_remove(c->ix, rows[i]);
  write_end(c, rows);
  return st;
}

mien_status mien_store_search(mien_store *s, const char *coll, const float *q, int k,
                              float min_cosine, int64_t exclude, int with_emb,
                              mien_face_record *out, float *cosine, int *n, char *err,
                              size_t errlen) {
  *n = 0;
  mien_coll *c;
  mien_status st = db_coll(s, coll, 1, 1, &c, err, errlen);
  if (st != MIEN_OK) return st;
  int want = k + (exclude != 0);
  mien_hit *hits = malloc((size_t)want * sizeof *hits);
  if (!hits) return MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  int nh = 0;
  pthread_rwlock_rdlock(&c->lock);
  if (c->dead)
    st = gone(coll, err, errlen);
  else
    nh = mien_index_search(c->ix, q, want, min_cosine, 0, hits);
  pthread_rwlock_unlock(&c->lock);
  db_stmt *sel = NULL;
  pthread_mutex_lock(&s->mu);
  if (st == MIEN_OK) st = db_prepare(s, FACE_SELECT "WHERE f.id = ?", &sel, err, errlen);
  for (int i = 0; st == MIEN_OK && i < nh && *n < k; i++) {
    if (hits[i].id == exclude) continue;
    db_reset(sel);
    db_bind_int64(sel, 1, hits[i].id);
    int rc = db_step(sel);
    if (rc == DB_ROW) {
      /* A face deleted after the index was searched has no row any more and is left out. */
      st = face_row(s, sel, with_emb, &out[*n], err, errlen);
      cosine[(*n)++] = hits[i].score;
    } else if (rc != DB_DONE) {
      st = db_fail(s, "reading a match", err, errlen);
    }
  }
  db_finalize(sel);
  pthread_mutex_unlock(&s->mu);
  free(hits);
  return st;
}
