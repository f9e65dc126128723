/* db_people.c - proposed users (people.h): a collection's faces read from the database, the
 * grouping state of cluster.h brought up to date with them, and its groups turned into proposals.
 *
 * The state is synchronised from the faces table on every call (rows, photos, users), so it
 * follows IndexFaces, DeleteFaces, AssociateFaces and retention without hooks in them: faces
 * gone are forgotten, new ones searched, and a face whose user changed regroups its part. The
 * collection's index is held for reading throughout, so the rows and the index agree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/cluster.h"
#include "store/internal.h"
#include "store/people.h"
#include "util/util.h"

typedef struct {
  int64_t row, image, user;
  mien_proposed_face f;
  char user_id[MIEN_USER_ID_MAX + 1];
} face_row;

/* Every face of collection crow, by row (mutex held). */
static mien_status read_faces(mien_store *s, int64_t crow, face_row **out, int64_t *n, char *err,
                              size_t errlen) {
  db_stmt *q;
  *out = NULL, *n = 0;
  mien_status st = db_prepare(
      s,
      "SELECT f.id, f.face_id, i.image_id, f.image, u.user_id, f.user, f.left, f.top, f.width,"
      " f.height, i.external_image_id FROM faces f JOIN images i ON i.id = f.image LEFT JOIN users "
      "u ON u.id = f.user"
      " WHERE f.collection = ? ORDER BY f.id",
      &q, err, errlen);
  if (st != MIEN_OK) return st;
  db_bind_int64(q, 1, crow);
  int64_t cap = 0;
  int rc;
  while ((rc = db_step(q)) == DB_ROW) {
    if (*n == cap) {
      face_row *v = realloc(*out, (size_t)(cap = cap ? 2 * cap : 256) * sizeof *v);
      if (!v) {
        st = MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
        break;
      }
      *out = v;
    }
    face_row *r = &(*out)[(*n)++];
    const char *user = db_column_text(q, 4);
    r->row = db_column_int64(q, 0);
    r->image = db_column_int64(q, 3);
    r->user = db_column_int64(q, 5); /* 0 when NULL */
    snprintf(r->f.face_id, sizeof r->f.face_id, "%s", db_column_text(q, 1));
    snprintf(r->f.image_id, sizeof r->f.image_id, "%s", db_column_text(q, 2));
    snprintf(r->user_id, sizeof r->user_id, "%s", user ? user : "");
    const char *ext = db_column_text(q, 10);
    snprintf(r->f.external_image_id, sizeof r->f.external_image_id, "%s", ext ? ext : "");
    r->f.left = (float)db_column_double(q, 6);
    r->f.top = (float)db_column_double(q, 7);
    r->f.width = (float)db_column_double(q, 8);
    r->f.height = (float)db_column_double(q, 9);
  }
  if (st == MIEN_OK && rc != DB_DONE) st = db_fail(s, "reading faces", err, errlen);
  db_finalize(q);
  return st;
}

static face_row *row_of(face_row *rows, int64_t n, int64_t row) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (rows[mid].row < row)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < n && rows[lo].row == row ? &rows[lo] : NULL;
}

static int by_string(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The proposal id: the first 16 bytes of SHA-256 over the sorted FaceIds, each with a NUL. */
static void proposal_id(const mien_proposed_face *faces, int64_t n, char out[33]) {
  const char **ids = malloc((size_t)(n ? n : 1) * sizeof *ids);
  mien_sha256_ctx c;
  uint8_t h[32];
  mien_sha256_init(&c);
  for (int64_t i = 0; ids && i < n; i++) ids[i] = faces[i].face_id;
  if (ids) qsort(ids, (size_t)n, sizeof *ids, by_string);
  for (int64_t i = 0; ids && i < n; i++) mien_sha256_update(&c, ids[i], strlen(ids[i]) + 1);
  mien_sha256_final(&c, h);
  free(ids);
  for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static int by_size(const void *a, const void *b) {
  const mien_proposal *x = a, *y = b;
  if (x->count != y->count) return x->count > y->count ? -1 : 1;
  return (x->first > y->first) - (x->first < y->first);
}

/* Proposals from the groups (mutex-free: rows and the index are what the state was built on). */
static mien_status make_proposals(const mien_index *ix, face_row *rows, int64_t nrows,
                                  const int64_t *ids, const int64_t *start, int64_t ngroups,
                                  int min_faces, mien_proposals *out, char *err, size_t errlen) {
  out->v = malloc((size_t)(ngroups ? ngroups : 1) * sizeof *out->v);
  out->faces = malloc((size_t)(nrows ? nrows : 1) * sizeof *out->faces);
  int64_t *fresh = malloc((size_t)(nrows ? nrows : 1) * sizeof *fresh), nf = 0;
  mien_status st = out->v && out->faces && fresh
                       ? MIEN_OK
                       : MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  for (int64_t g = 0; st == MIEN_OK && g < ngroups; g++) {
    const char *user = "";
    int64_t n = 0;
    for (int64_t i = start[g]; i < start[g + 1]; i++) {
      face_row *r = row_of(rows, nrows, ids[i]);
      if (r && r->user) user = r->user_id;
      if (r && !r->user) fresh[n++] = ids[i];
    }
    if (n == 0 || (!*user && n < min_faces)) continue;
    mien_proposal *p = &out->v[out->n++];
    snprintf(p->user_id, sizeof p->user_id, "%s", user);
    p->first = nf, p->count = n;
    int64_t rep = fresh[0];
    if (mien_cluster_describe(ix, fresh, n, &p->cohesion, &rep) != 0) p->cohesion = 0;
    for (int64_t i = 0; i < n; i++) {
      if (fresh[i] == rep) p->representative = nf;
      out->faces[nf++] = row_of(rows, nrows, fresh[i])->f;
    }
    proposal_id(out->faces + p->first, n, p->proposal_id);
  }
  free(fresh);
  if (st == MIEN_OK && out->n > 1) qsort(out->v, (size_t)out->n, sizeof *out->v, by_size);
  return st;
}

mien_status mien_store_propose(mien_store *s, const char *coll, float link, int min_faces,
                               mien_proposals *out, char *err, size_t errlen) {
  *out = (mien_proposals){0};
  mien_coll *c;
  mien_status st = db_coll(s, coll, 1, 1, &c, err, errlen);
  if (st != MIEN_OK) return st;
  face_row *rows = NULL;
  int64_t nrows = 0, *ids = NULL, *start = NULL, ngroups = 0;
  pthread_rwlock_rdlock(&c->lock);
  pthread_mutex_lock(&c->people_mu);
  if (c->dead)
    st = MIEN_FAIL(err, errlen, MIEN_ERR_RESOURCE_NOT_FOUND, "The collection id: %s does not exist",
                   coll);
  if (st == MIEN_OK) {
    pthread_mutex_lock(&s->mu);
    st = read_faces(s, c->id, &rows, &nrows, err, errlen);
    pthread_mutex_unlock(&s->mu);
  }
  if (st == MIEN_OK && (!c->people || mien_cluster_params_of(c->people)->link_cosine != link)) {
    mien_cluster_free(c->people);
    mien_cluster_params p = {link, link - MIEN_PEOPLE_EDGE_MARGIN, MIEN_PEOPLE_NEIGHBOURS};
    if (!(c->people = mien_cluster_create(&p)))
      st = MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  }
  int64_t *present = st == MIEN_OK ? malloc((size_t)(nrows ? nrows : 1) * sizeof *present) : NULL;
  if (st == MIEN_OK && !present) st = MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  for (int64_t i = 0; st == MIEN_OK && i < nrows; i++) present[i] = rows[i].row;
  if (st == MIEN_OK) mien_cluster_retain(c->people, present, nrows);
  free(present);
  for (int64_t i = 0; st == MIEN_OK && i < nrows; i++)
    if (mien_cluster_put(c->people, rows[i].row, (uint64_t)rows[i].image, (uint64_t)rows[i].user))
      st = MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  mien_cluster_stats stats = {0};
  int64_t budget = MIEN_PEOPLE_MAX_COMPARISONS / (nrows > 0 ? nrows : 1);
  if (st == MIEN_OK && mien_cluster_update(c->people, c->ix, 0, budget > 0 ? budget : 1, &stats))
    st = MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory grouping the faces");
  if (st == MIEN_OK && mien_cluster_groups(c->people, &ids, &start, &ngroups))
    st = MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  if (st == MIEN_OK)
    st = make_proposals(c->ix, rows, nrows, ids, start, ngroups, min_faces, out, err, errlen);
  out->searched = stats.searched, out->regrouped = stats.regrouped, out->pending = stats.pending;
  pthread_mutex_unlock(&c->people_mu);
  pthread_rwlock_unlock(&c->lock);
  free(rows), free(ids), free(start);
  if (st != MIEN_OK) mien_proposals_free(out);
  return st;
}

void mien_proposals_free(mien_proposals *p) {
  free(p->v);
  free(p->faces);
  *p = (mien_proposals){0};
}
