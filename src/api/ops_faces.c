/* ops_faces.c - the face operations: IndexFaces (with QualityFilter and MaxFaces deciding which
 * faces are indexed and why the others are not, and the collection's consent policy whether
 * any may be), ListFaces, DeleteFaces, SearchFaces and SearchFacesByImage. Changes are audited
 * by the store in their transactions, searches here once they have their results. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/ops.h"
#include "face/detect.h"
#include "face/eval.h"
#include "util/util.h"

/* ---- QualityFilter ---- */

/* The bar of each level: detector confidence (0-100), brightness and sharpness (0-100, see
 * quality.c), and the face's shorter side in pixels. AUTO is MEDIUM's bar: it keeps the faces
 * whose embeddings search reliably and drops blurred, dark and tiny ones. */
static const struct {
  const char *name;
  float confidence, brightness, sharpness, side;
} levels[] = {
    {"LOW", 90, 5, 5, 20},
    {"MEDIUM", 95, 10, 10, 32},
    {"AUTO", 95, 10, 10, 32},
    {"HIGH", 99, 20, 25, 64},
};

/* EXTREME_POSE under every level (not NONE): |Yaw| or |Pitch| (pose.c, from the landmarks) at
 * or past these. Yaw saturates near 59 degrees, where the head model's far eye corner meets the
 * nose's line of sight, so a profile reads 52-62 and an LFW three-quarter face up to ~57:
 * 58 drops 5 of the wild set's 7 profiles, one of its other faces (a three-quarter one at 61)
 * and 12 of 6,144 LFW faces, 0.2 % (docs/detection.md, "QualityFilter"). */
#define EXTREME_YAW 58.0f
#define EXTREME_PITCH 45.0f

mien_status op_quality_filter(const cJSON *req, const char *def, const char **out, char *err,
                              size_t errlen) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, "QualityFilter");
  *out = def;
  if (!v || cJSON_IsNull(v)) return MIEN_OK;
  if (cJSON_IsString(v)) {
    if (!strcmp(v->valuestring, "NONE")) return *out = "NONE", MIEN_OK;
    for (size_t i = 0; i < sizeof levels / sizeof *levels; i++)
      if (!strcmp(v->valuestring, levels[i].name)) return *out = levels[i].name, MIEN_OK;
  }
  return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                   "QualityFilter must be one of NONE, AUTO, LOW, MEDIUM, HIGH");
}

int op_quality_reasons(const mien_face *face, const char *q, cJSON *reasons) {
  int n = 0;
  /* Without landmarks there is no alignment and no embedding, whatever the filter. */
  if (!face->has_landmarks) {
    cJSON_AddItemToArray(reasons, cJSON_CreateString("LOW_FACE_QUALITY"));
    n++;
  }
  for (size_t i = 0; i < sizeof levels / sizeof *levels; i++) {
    if (strcmp(q, levels[i].name)) continue;
    float w = face->x1 - face->x0, h = face->y1 - face->y0;
    const char *why[5] = {NULL, NULL, NULL, NULL, NULL};
    if (face->has_landmarks && face->brightness < levels[i].brightness) why[0] = "LOW_BRIGHTNESS";
    if (face->has_landmarks && face->sharpness < levels[i].sharpness) why[1] = "LOW_SHARPNESS";
    if (100.0f * face->score < levels[i].confidence) why[2] = "LOW_CONFIDENCE";
    if ((w < h ? w : h) < levels[i].side) why[3] = "SMALL_BOUNDING_BOX";
    if (face->has_landmarks &&
        (fabsf(face->yaw) >= EXTREME_YAW || fabsf(face->pitch) >= EXTREME_PITCH))
      why[4] = "EXTREME_POSE";
    for (size_t k = 0; k < sizeof why / sizeof *why; k++)
      if (why[k]) cJSON_AddItemToArray(reasons, cJSON_CreateString(why[k])), n++;
  }
  return n;
}

/* ---- IndexFaces ---- */

/* Which faces to index: the largest that pass the filter, up to max. Fills keep[] (1 = index)
 * and the UnindexedFaces array (FaceDetails with the attributes attrs). */
static void choose_faces(const mien_face *faces, int n, const char *filter, long max, int w, int h,
                         unsigned attrs, int *keep, cJSON *unindexed) {
  int kept = 0;
  for (int i = 0; i < n; i++) {
    cJSON *reasons = cJSON_CreateArray();
    keep[i] = 0;
    if (op_quality_reasons(&faces[i], filter, reasons) == 0) {
      if (kept < max)
        keep[i] = 1, kept++;
      else
        cJSON_AddItemToArray(reasons, cJSON_CreateString("EXCEEDS_MAX_FACES"));
    }
    if (keep[i]) {
      cJSON_Delete(reasons);
      continue;
    }
    cJSON *u = cJSON_CreateObject();
    cJSON_AddItemToObject(u, "Reasons", reasons);
    cJSON_AddItemToObject(u, "FaceDetail", op_face_detail(&faces[i], w, h, attrs));
    cJSON_AddItemToArray(unindexed, u);
  }
}

/* Embeds the kept faces and stores them with the image; adds the FaceRecords. */
static mien_status index_kept(mien_api *api, const char *coll, const char *external,
                              const uint8_t sha[32], const mien_image *img, const mien_face *faces,
                              const int *keep, int n, const char *version, unsigned attrs,
                              cJSON *records, char *err, size_t errlen) {
  mien_new_face *nf = malloc((size_t)(n ? n : 1) * sizeof *nf);
  float *embs = malloc((size_t)(n ? n : 1) * MIEN_EMBED_DIM * sizeof *embs);
  char(*ids)[MIEN_UUID_LEN] = malloc((size_t)(n ? n : 1) * sizeof *ids);
  int *which = malloc((size_t)(n ? n : 1) * sizeof *which);
  mien_status st = nf && embs && ids && which ? MIEN_OK : MIEN_ERR_NOMEM;
  if (st != MIEN_OK) mien_set_err(err, errlen, "out of memory");
  int m = 0;
  for (int i = 0; st == MIEN_OK && i < n; i++) {
    if (!keep[i]) continue;
    const mien_face *f = &faces[i];
    float *e = embs + (size_t)m * MIEN_EMBED_DIM;
    st = mien_faces_embed(api->faces, img, f, e, err, errlen);
    nf[m] = (mien_new_face){f->x0 / img->w,           f->y0 / img->h,    (f->x1 - f->x0) / img->w,
                            (f->y1 - f->y0) / img->h, 100.0f * f->score, e};
    which[m++] = i;
  }
  char image_id[MIEN_UUID_LEN];
  if (st == MIEN_OK)
    st = mien_store_index_image_as(api->store, api->principal, coll, sha, external, nf, m, image_id,
                                   ids, err, errlen);
  for (int k = 0; st == MIEN_OK && k < m; k++) {
    mien_face_record r = {.left = nf[k].left,
                          .top = nf[k].top,
                          .width = nf[k].width,
                          .height = nf[k].height,
                          .confidence = nf[k].confidence};
    memcpy(r.face_id, ids[k], MIEN_UUID_LEN);
    memcpy(r.image_id, image_id, MIEN_UUID_LEN);
    snprintf(r.external_image_id, sizeof r.external_image_id, "%s", external ? external : "");
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddItemToObject(rec, "Face", op_face_json(&r, version));
    cJSON_AddItemToObject(rec, "FaceDetail",
                          op_face_detail(&faces[which[k]], img->w, img->h, attrs));
    cJSON_AddItemToArray(records, rec);
  }
  free(nf), free(embs), free(ids), free(which);
  return st;
}

mien_status mien_op_index_faces(mien_api *api, const cJSON *req, cJSON **resp, char *err,
                                size_t errlen) {
  *resp = NULL;
  const char *coll, *external, *filter;
  long max;
  char version[64];
  mien_status st = op_collection(req, &coll, err, errlen);
  if (st == MIEN_OK)
    st =
        op_string(req, "ExternalImageId", 0, ID_USER, MIEN_EXTERNAL_ID_MAX, &external, err, errlen);
  if (st == MIEN_OK) st = op_int(req, "MaxFaces", 1, 1 << 30, MIEN_MAX_FACES, &max, err, errlen);
  if (st == MIEN_OK) st = op_quality_filter(req, "AUTO", &filter, err, errlen);
  unsigned attrs = 0;
  if (st == MIEN_OK) st = op_check_attributes(req, "DetectionAttributes", &attrs, err, errlen);
  /* A missing collection or consent is reported before any image work; a refusal for want of
   * consent is audited (the store checks again when it writes). */
  if (st == MIEN_OK) st = op_collection_version(api, coll, NULL, version, err, errlen);
  if (st == MIEN_OK) st = mien_store_check_consent(api->store, coll, external, err, errlen);
  if (st == MIEN_ERR_ACCESS_DENIED) {
    char aerr[256];
    mien_status ast = mien_store_audit_count(api->store, api->principal, "IndexFaces", coll,
                                             "refused_no_consent", 1, aerr, sizeof aerr);
    if (ast != MIEN_OK) return MIEN_FAIL(err, errlen, ast, "%s", aerr);
  }
  if (st != MIEN_OK) return st;
  mien_image img;
  mien_face *faces;
  int n;
  uint8_t sha[32];
  st = op_detect_image(api, req, "Image", &img, &faces, &n, sha, err, errlen);
  if (st != MIEN_OK) return st;
  int *keep = malloc((size_t)(n ? n : 1) * sizeof *keep);
  cJSON *r = cJSON_CreateObject();
  cJSON *records = cJSON_AddArrayToObject(r, "FaceRecords");
  cJSON_AddStringToObject(r, "FaceModelVersion", version);
  cJSON *unindexed = cJSON_AddArrayToObject(r, "UnindexedFaces");
  if (!keep) st = MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  if (st == MIEN_OK) {
    choose_faces(faces, n, filter, max, img.w, img.h, attrs, keep, unindexed);
    st = index_kept(api, coll, external, sha, &img, faces, keep, n, version, attrs, records, err,
                    errlen);
  }
  free(keep);
  free(faces);
  mien_image_free(&img);
  return op_respond(st, r, resp);
}

/* ---- ListFaces, DeleteFaces ---- */

/* ListFaces with FaceIds: those faces (of user_id when given), in request order. */
static mien_status list_by_ids(mien_api *api, const char *coll, const cJSON *req,
                               const char *user_id, const char *version, cJSON *out, char *err,
                               size_t errlen) {
  const char **ids;
  int n;
  mien_status st = op_face_ids(req, "FaceIds", MIEN_MAX_RESULTS, &ids, &n, err, errlen);
  mien_face_record *r = st == MIEN_OK ? malloc(sizeof *r) : NULL;
  if (st == MIEN_OK && !r) st = MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  for (int i = 0; st == MIEN_OK && i < n; i++) {
    int found;
    st = mien_store_get_face(api->store, coll, ids[i], r, &found, err, errlen);
    if (st == MIEN_OK && found && (!user_id || !strcmp(user_id, r->user_id)))
      cJSON_AddItemToArray(out, op_face_json(r, version));
  }
  free(r);
  free(ids);
  return st;
}

mien_status mien_op_list_faces(mien_api *api, const cJSON *req, cJSON **resp, char *err,
                               size_t errlen) {
  *resp = NULL;
  const char *coll, *user_id;
  long max;
  char version[64], after[OP_PAGE_TOKEN_MAX + 1];
  mien_status st = op_collection(req, &coll, err, errlen);
  if (st == MIEN_OK)
    st = op_int(req, "MaxResults", 0, MIEN_MAX_RESULTS, MIEN_LIST_FACES_DEFAULT, &max, err, errlen);
  /* The token is the row after which the next page starts. */
  if (st == MIEN_OK) st = op_page_after(req, "ListFaces", coll, after, err, errlen);
  if (st == MIEN_OK)
    st = op_string(req, "UserId", 0, ID_USER, MIEN_USER_ID_MAX, &user_id, err, errlen);
  if (st == MIEN_OK) st = op_collection_version(api, coll, NULL, version, err, errlen);
  if (st != MIEN_OK) return st;
  cJSON *r = cJSON_CreateObject();
  cJSON *faces = cJSON_AddArrayToObject(r, "Faces");
  if (cJSON_GetObjectItemCaseSensitive(req, "FaceIds")) {
    st = list_by_ids(api, coll, req, user_id, version, faces, err, errlen);
  } else {
    mien_face_record *recs = malloc((size_t)(max ? max : 1) * sizeof *recs);
    int n = 0, more = 0;
    st = recs ? mien_store_list_faces(api->store, coll, strtoll(after, NULL, 10), (int)max, user_id,
                                      0, recs, &n, &more, err, errlen)
              : MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
    for (int i = 0; st == MIEN_OK && i < n; i++)
      cJSON_AddItemToArray(faces, op_face_json(&recs[i], version));
    if (st == MIEN_OK && more && n) {
      char row[32], next[OP_PAGE_TOKEN_MAX + 1];
      snprintf(row, sizeof row, "%lld", (long long)recs[n - 1].row);
      op_page_token("ListFaces", coll, row, next);
      cJSON_AddStringToObject(r, "NextToken", next);
    }
    free(recs);
  }
  cJSON_AddStringToObject(r, "FaceModelVersion", version);
  return op_respond(st, r, resp);
}

mien_status mien_op_delete_faces(mien_api *api, const cJSON *req, cJSON **resp, char *err,
                                 size_t errlen) {
  *resp = NULL;
  const char *coll, **ids = NULL;
  int n = 0;
  mien_status st = op_collection(req, &coll, err, errlen);
  if (st == MIEN_OK) st = op_face_ids(req, "FaceIds", MIEN_MAX_RESULTS, &ids, &n, err, errlen);
  if (st != MIEN_OK) return st;
  mien_face_result *res = malloc((size_t)n * sizeof *res);
  char(*users)[MIEN_USER_ID_MAX + 1] = malloc((size_t)n * sizeof *users);
  st = res && users ? mien_store_delete_faces(api->store, api->principal, coll, ids, n, res, users,
                                              err, errlen)
                    : MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  if (st == MIEN_OK) {
    cJSON *r = *resp = cJSON_CreateObject();
    cJSON *deleted = cJSON_AddArrayToObject(r, "DeletedFaces");
    cJSON *failed = cJSON_AddArrayToObject(r, "UnsuccessfulFaceDeletions");
    for (int i = 0; i < n; i++) {
      if (res[i] == MIEN_FACE_DONE) {
        cJSON_AddItemToArray(deleted, cJSON_CreateString(ids[i]));
        continue;
      }
      cJSON *u = cJSON_CreateObject();
      cJSON_AddStringToObject(u, "FaceId", ids[i]);
      if (res[i] == MIEN_FACE_OTHER_USER) cJSON_AddStringToObject(u, "UserId", users[i]);
      cJSON *why = cJSON_AddArrayToObject(u, "Reasons");
      cJSON_AddItemToArray(why, cJSON_CreateString(res[i] == MIEN_FACE_OTHER_USER
                                                       ? "ASSOCIATED_TO_AN_EXISTING_USER"
                                                       : "FACE_NOT_FOUND"));
      cJSON_AddItemToArray(failed, u);
    }
  }
  free(res), free(users), free(ids);
  return st;
}

/* ---- SearchFaces, SearchFacesByImage ---- */

/* MaxFaces and FaceMatchThreshold. AWS documents no default for MaxFaces: every match above the
 * threshold is returned, up to the limit of 4096. */
static mien_status search_params(const cJSON *req, long *max, double *threshold, char *err,
                                 size_t errlen) {
  mien_status st = op_int(req, "MaxFaces", 1, MIEN_MAX_RESULTS, MIEN_MAX_RESULTS, max, err, errlen);
  if (st == MIEN_OK)
    st = op_number(req, "FaceMatchThreshold", 0, 100, MIEN_FACE_MATCH_THRESHOLD, threshold, err,
                   errlen);
  return st;
}

/* Searches coll for q and adds FaceMatches [{Similarity, Face}] to r; the search is audited as
 * op with its number of matches (no FaceIds: the record must not tie anyone to the search). */
static mien_status add_matches(mien_api *api, const char *op, const char *coll, const float *q,
                               long max, double threshold, int64_t exclude, cJSON *r, char *err,
                               size_t errlen) {
  mien_face_record *recs = malloc((size_t)max * sizeof *recs);
  float *cos = malloc((size_t)max * sizeof *cos);
  int n = 0;
  /* Top-k by cosine then the Similarity threshold: the mapping is monotone, so this is the top-k
   * of those above it; the margin keeps rounding from dropping a face exactly at it. */
  float min_cos = threshold > 0 ? mien_similarity_cosine((float)threshold) - 1e-4f : -2.0f;
  mien_status st = recs && cos ? mien_store_search(api->store, coll, q, (int)max, min_cos, exclude,
                                                   0, recs, cos, &n, err, errlen)
                               : MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  cJSON *matches = cJSON_AddArrayToObject(r, "FaceMatches");
  for (int i = 0; st == MIEN_OK && i < n; i++) {
    float sim = mien_similarity(cos[i]);
    if (sim < threshold) continue;
    cJSON *m = cJSON_CreateObject();
    op_add_num(m, "Similarity", sim);
    cJSON_AddItemToObject(m, "Face", op_face_json(&recs[i], NULL));
    cJSON_AddItemToArray(matches, m);
  }
  free(recs), free(cos);
  if (st == MIEN_OK)
    st = mien_store_audit_count(api->store, api->principal, op, coll, "matches",
                                cJSON_GetArraySize(matches), err, errlen);
  return st;
}

mien_status mien_op_search_faces(mien_api *api, const cJSON *req, cJSON **resp, char *err,
                                 size_t errlen) {
  *resp = NULL;
  const char *coll, *face_id;
  long max;
  double threshold;
  mien_status st = op_collection(req, &coll, err, errlen);
  if (st == MIEN_OK) st = op_string(req, "FaceId", 1, ID_TOKEN, 36, &face_id, err, errlen);
  if (st == MIEN_OK && !op_is_uuid(face_id))
    st = MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER, "FaceId '%s' is not a valid FaceId",
                   face_id);
  if (st == MIEN_OK) st = search_params(req, &max, &threshold, err, errlen);
  if (st != MIEN_OK) return st;
  mien_face_record *face = malloc(sizeof *face);
  int found = 0;
  st = face ? mien_store_get_face(api->store, coll, face_id, face, &found, err, errlen)
            : MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  if (st == MIEN_OK && !found)
    st = MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                   "FaceId %s was not found in collection %s", face_id, coll);
  cJSON *r = NULL;
  char version[64];
  if (st == MIEN_OK) st = op_model_version(version, sizeof version, err, errlen);
  if (st == MIEN_OK) {
    r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "SearchedFaceId", face_id);
    st =
        add_matches(api, "SearchFaces", coll, face->emb, max, threshold, face->row, r, err, errlen);
    cJSON_AddStringToObject(r, "FaceModelVersion", version);
  }
  free(face);
  return op_respond(st, r, resp);
}

mien_status mien_op_search_faces_by_image(mien_api *api, const cJSON *req, cJSON **resp, char *err,
                                          size_t errlen) {
  *resp = NULL;
  op_image_search s;
  mien_status st = op_image_search_begin(api, req, search_params, &s, err, errlen);
  if (st != MIEN_OK) return st;
  cJSON *r = cJSON_CreateObject();
  cJSON *reasons = cJSON_CreateArray();
  if (s.n == 0)
    st = MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                   "There are no faces in the image. Should be at least 1.");
  else if (op_quality_reasons(&s.faces[0], s.filter, reasons))
    st = MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                   "the largest face in the image does not pass QualityFilter %s", s.filter);
  cJSON_Delete(reasons);
  if (st == MIEN_OK) {
    cJSON_AddItemToObject(r, "SearchedFaceBoundingBox",
                          mien_bounding_box_json(&s.faces[0], s.w, s.h));
    op_add_num(r, "SearchedFaceConfidence", 100.0 * s.faces[0].score);
    st = add_matches(api, "SearchFacesByImage", s.coll, s.emb, s.max, s.threshold, 0, r, err,
                     errlen);
    cJSON_AddStringToObject(r, "FaceModelVersion", s.version);
  }
  free(s.faces);
  return op_respond(st, r, resp);
}
