/* ops_image.c - what the image operations share and the two that need no collection:
 *   images       Image.Bytes (base64) or Image.S3Object (buckets.h), size limits, decoding and
 *                detection, for every operation that takes an image;
 *   DetectFaces  every face's FaceDetail, largest first;
 *   CompareFaces the largest alignable face of SourceImage against every face of TargetImage,
 *                with the calibrated Similarity (docs/similarity.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/ops.h"
#include "face/detect.h"
#include "face/eval.h"
#include "util/util.h"

static size_t op_max_bytes(const mien_api *api) {
  mien_image_limits def;
  if (api->limits) return api->limits->max_bytes;
  mien_image_limits_default(&def);
  return def.max_bytes;
}

/* Image.S3Object: {Bucket, Name, Version} read from the bucket's local directory. */
static mien_status s3_image(mien_api *api, const char *field, const cJSON *s3, uint8_t **owned,
                            size_t *len, char *err, size_t errlen) {
  const char *bucket, *name;
  mien_status st = op_string(s3, "Bucket", 1, ID_TOKEN, 255, &bucket, err, errlen);
  if (st == MIEN_OK) st = op_string(s3, "Name", 1, ID_TOKEN, 1024, &name, err, errlen);
  if (st != MIEN_OK) {
    char why[400];
    snprintf(why, sizeof why, "%s", err ? err : "");
    return MIEN_FAIL(err, errlen, st, "%s.S3Object: %s", field, why);
  }
  return mien_buckets_read(api->buckets, bucket, name, op_max_bytes(api), owned, len, err, errlen);
}

mien_status op_image(mien_api *api, const cJSON *req, const char *field, const uint8_t **bytes,
                     size_t *len, uint8_t **owned, char *err, size_t errlen) {
  *owned = NULL;
  const cJSON *img = cJSON_GetObjectItemCaseSensitive(req, field);
  if (!img && api->image) {
    *bytes = api->image, *len = api->image_len;
  } else {
    if (!cJSON_IsObject(img))
      return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER, "%s is required", field);
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(img, "Bytes");
    const cJSON *s3 = cJSON_GetObjectItemCaseSensitive(img, "S3Object");
    if (b && s3)
      return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                       "%s must have either Bytes or S3Object, not both", field);
    if (cJSON_IsObject(s3)) {
      mien_status st = s3_image(api, field, s3, owned, len, err, errlen);
      if (st != MIEN_OK) return st;
    } else {
      if (!cJSON_IsString(b))
        return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                         "%s.Bytes must be a base64 string (or give %s.S3Object)", field, field);
      /* Reject before decoding what cannot fit: 4 characters per 3 bytes. */
      if (strlen(b->valuestring) / 4 * 3 > op_max_bytes(api) + 3)
        return MIEN_FAIL(err, errlen, MIEN_ERR_IMAGE_TOO_LARGE,
                         "%s.Bytes is larger than the limit of %zu bytes", field,
                         op_max_bytes(api));
      if (!(*owned = mien_b64_decode(b->valuestring, len)))
        return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER, "%s.Bytes is not valid base64",
                         field);
    }
    *bytes = *owned;
  }
  if (*len > op_max_bytes(api)) {
    free(*owned);
    *owned = NULL;
    return MIEN_FAIL(err, errlen, MIEN_ERR_IMAGE_TOO_LARGE,
                     "the image has %zu bytes; the limit is %zu", *len, op_max_bytes(api));
  }
  return MIEN_OK;
}

mien_status op_faces(mien_api *api, mien_faces **f, char *err, size_t errlen) {
  if (!api->faces) {
    mien_faces_options opt = {0};
    if (api->face_options) opt = *api->face_options;
    mien_status st = mien_faces_create(&opt, &api->faces, err, errlen);
    if (st != MIEN_OK) return st;
    api->faces_owned = 1;
  }
  *f = api->faces;
  return MIEN_OK;
}

mien_status op_detect_image(mien_api *api, const cJSON *req, const char *field, mien_image *img,
                            mien_face **faces, int *n, uint8_t sha256[32], char *err,
                            size_t errlen) {
  *faces = NULL, *n = 0;
  const uint8_t *bytes;
  size_t len;
  uint8_t *owned;
  mien_faces *f;
  /* The request is checked before the pipeline is made: a bad request is answered as such. */
  mien_status st = op_image(api, req, field, &bytes, &len, &owned, err, errlen);
  if (st == MIEN_OK && (st = op_faces(api, &f, err, errlen)) != MIEN_OK) free(owned);
  if (st != MIEN_OK) return st;
  if (sha256) mien_sha256(bytes, len, sha256);
  mien_image_info info;
  st = mien_faces_find(f, bytes, len, api->limits, 1, img, &info, faces, n, err, errlen);
  free(owned);
  return st;
}

mien_status op_image_search_begin(mien_api *api, const cJSON *req, op_search_params_fn params,
                                  op_image_search *s, char *err, size_t errlen) {
  mien_status st = op_collection(req, &s->coll, err, errlen);
  if (st == MIEN_OK) st = params(req, &s->max, &s->threshold, err, errlen);
  if (st == MIEN_OK) st = op_quality_filter(req, "NONE", &s->filter, err, errlen);
  if (st == MIEN_OK) st = op_collection_version(api, s->coll, NULL, s->version, err, errlen);
  if (st != MIEN_OK) return st;
  return op_detect_largest(api, req, &s->faces, &s->n, &s->w, &s->h, s->emb, err, errlen);
}

mien_status op_detect_largest(mien_api *api, const cJSON *req, mien_face **faces, int *n,
                              int *img_w, int *img_h, float emb[MIEN_EMBED_DIM], char *err,
                              size_t errlen) {
  mien_image img;
  mien_status st = op_detect_image(api, req, "Image", &img, faces, n, NULL, err, errlen);
  if (st != MIEN_OK) return st;
  *img_w = img.w, *img_h = img.h;
  if (*n > 0) {
    if (!(*faces)[0].has_landmarks)
      st = MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                     "the largest face in the image could not be aligned");
    else
      st = mien_faces_embed(api->faces, &img, &(*faces)[0], emb, err, errlen);
  }
  mien_image_free(&img);
  if (st != MIEN_OK) {
    free(*faces);
    *faces = NULL;
  }
  return st;
}

/* Rekognition's Attribute names that mien refuses, and why (docs/attributes.md). */
static const struct {
  const char *name, *why;
} refused_attributes[] = {
    {"AGE_RANGE", "mien never infers age from a face (README: what mien will not do)"},
    {"GENDER", "mien never infers gender from a face (README: what mien will not do)"},
    {"EMOTIONS", "mien never infers emotions from a face (README: what mien will not do)"},
    {"SMILE", "mien never infers smiles, an emotion proxy (README: what mien will not do)"},
    {"BEARD", "mien never infers facial hair (README: what mien will not do)"},
    {"MUSTACHE", "mien never infers facial hair (README: what mien will not do)"},
    {"EYEGLASSES", "not available: mien has no model for eyeglasses (docs/attributes.md)"},
    {"SUNGLASSES", "not available: mien has no model for sunglasses (docs/attributes.md)"},
    {"FACE_OCCLUDED", "not available: mien has no model for occlusion (docs/attributes.md)"},
    {"EYE_DIRECTION", "not available yet: mien returns an attribute only once its accuracy on "
                      "labelled faces is measured and stated (docs/attributes.md)"},
};

/* The attributes mien returns, measured from landmarks (docs/attributes.md). */
static const struct {
  const char *name;
  unsigned bit;
} returned_attributes[] = {
    {"EYES_OPEN", OP_ATTR_EYES_OPEN},
    {"MOUTH_OPEN", OP_ATTR_MOUTH_OPEN},
};

mien_status op_check_attributes(const cJSON *req, const char *field, unsigned *attrs, char *err,
                                size_t errlen) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(req, field), *v;
  *attrs = 0;
  if (!a || cJSON_IsNull(a)) return MIEN_OK;
  if (!cJSON_IsArray(a))
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER, "%s must be a list", field);
  cJSON_ArrayForEach(v, a) {
    if (!cJSON_IsString(v))
      return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER, "%s must be a list of strings",
                       field);
    if (!strcmp(v->valuestring, "DEFAULT")) continue;
    if (!strcmp(v->valuestring, "ALL")) {
      *attrs |= OP_ATTR_ALL;
      continue;
    }
    size_t k = 0, nk = sizeof returned_attributes / sizeof *returned_attributes;
    while (k < nk && strcmp(v->valuestring, returned_attributes[k].name)) k++;
    if (k < nk) {
      *attrs |= returned_attributes[k].bit;
      continue;
    }
    for (size_t i = 0; i < sizeof refused_attributes / sizeof *refused_attributes; i++)
      if (!strcmp(v->valuestring, refused_attributes[i].name))
        return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER, "%s %s is refused: %s", field,
                         refused_attributes[i].name, refused_attributes[i].why);
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                     "1 validation error detected: Value '%.100s' at '%s' failed to satisfy "
                     "constraint: Member must satisfy enum value set: [DEFAULT, ALL, AGE_RANGE, "
                     "BEARD, EMOTIONS, EYE_DIRECTION, EYEGLASSES, EYES_OPEN, GENDER, MOUTH_OPEN, "
                     "MUSTACHE, FACE_OCCLUDED, SMILE, SUNGLASSES]",
                     v->valuestring, field);
  }
  return MIEN_OK;
}

/* {"Value": open, "Confidence"} of rule for ratio. */
static void add_open(cJSON *detail, const char *name, const mien_attr_rule *rule, float ratio) {
  float confidence;
  cJSON *o = cJSON_AddObjectToObject(detail, name);
  cJSON_AddBoolToObject(o, "Value", mien_attr_decide(rule, ratio, &confidence));
  op_add_num(o, "Confidence", confidence);
}

cJSON *op_face_detail(const mien_face *face, int img_w, int img_h, unsigned attrs) {
  cJSON *d = mien_face_detail_json(face, img_w, img_h);
  if (!d || !face->has_landmarks) return d;
  if (attrs & OP_ATTR_EYES_OPEN)
    add_open(d, "EyesOpen", &mien_eyes_open_rule, mien_face_eye_openness(face));
  if (attrs & OP_ATTR_MOUTH_OPEN)
    add_open(d, "MouthOpen", &mien_mouth_open_rule, mien_face_mouth_openness(face));
  return d;
}

/* ---- DetectFaces ---- */

mien_status mien_op_detect_faces(mien_api *api, const cJSON *req, cJSON **resp, char *err,
                                 size_t errlen) {
  unsigned attrs;
  mien_status st = op_check_attributes(req, "Attributes", &attrs, err, errlen);
  const uint8_t *bytes;
  size_t len;
  uint8_t *owned = NULL;
  mien_faces *f;
  if (st == MIEN_OK) st = op_image(api, req, "Image", &bytes, &len, &owned, err, errlen);
  if (st == MIEN_OK && (st = op_faces(api, &f, err, errlen)) != MIEN_OK) free(owned);
  if (st != MIEN_OK) return st;
  /* Decoded at the reduction detection affords: a large JPEG costs a fraction of a full decode. */
  mien_image img;
  mien_image_info info;
  mien_face *faces = NULL;
  int n = 0;
  st = mien_faces_find(f, bytes, len, api->limits, 0, &img, &info, &faces, &n, err, errlen);
  free(owned);
  if (st != MIEN_OK) return st;
  mien_image_free(&img);
  if (st != MIEN_OK) return st;
  cJSON *r = cJSON_CreateObject();
  cJSON *arr = cJSON_AddArrayToObject(r, "FaceDetails");
  for (int i = 0; i < n; i++)
    cJSON_AddItemToArray(arr, op_face_detail(&faces[i], info.orig_w, info.orig_h, attrs));
  free(faces);
  return op_respond(MIEN_OK, r, resp);
}

/* ---- CompareFaces ---- */

/* The largest face of SourceImage that can be aligned, and its embedding. */
static mien_status compare_source(mien_api *api, const cJSON *req, cJSON *r,
                                  float emb[MIEN_EMBED_DIM], char *err, size_t errlen) {
  mien_image img;
  mien_face *faces;
  int n;
  mien_status st = op_detect_image(api, req, "SourceImage", &img, &faces, &n, NULL, err, errlen);
  if (st != MIEN_OK) return st;
  int si = 0; /* faces come largest first */
  while (si < n && !faces[si].has_landmarks) si++;
  if (si == n)
    st = MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                   "There are no faces in the source image that can be compared");
  else
    st = mien_faces_embed(api->faces, &img, &faces[si], emb, err, errlen);
  if (st == MIEN_OK)
    cJSON_AddItemToObject(r, "SourceImageFace", mien_face_summary_json(&faces[si], img.w, img.h));
  free(faces);
  mien_image_free(&img);
  return st;
}

/* Every face of TargetImage: a FaceMatch (most similar first) at or above threshold, else an
 * UnmatchedFace, as is a face that cannot be aligned. */
static mien_status compare_targets(mien_api *api, const cJSON *req, cJSON *r,
                                   const float semb[MIEN_EMBED_DIM], double threshold,
                                   const char *filter, char *err, size_t errlen) {
  mien_image img;
  mien_face *faces;
  int n;
  mien_status st = op_detect_image(api, req, "TargetImage", &img, &faces, &n, NULL, err, errlen);
  if (st != MIEN_OK) return st;
  cJSON *matches = cJSON_AddArrayToObject(r, "FaceMatches");
  cJSON *unmatched = cJSON_AddArrayToObject(r, "UnmatchedFaces");
  mien_scored *m = malloc((size_t)(n ? n : 1) * sizeof *m); /* tag: the target face */
  if (!m) st = MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  int nm = 0;
  for (int i = 0; st == MIEN_OK && i < n; i++) {
    cJSON *reasons = cJSON_CreateArray();
    int filtered = op_quality_reasons(&faces[i], filter, reasons) > 0;
    cJSON_Delete(reasons);
    if (filtered) continue; /* Rekognition leaves filtered faces out of both lists */
    float temb[MIEN_EMBED_DIM];
    float s = -1;
    if (faces[i].has_landmarks) {
      st = mien_faces_embed(api->faces, &img, &faces[i], temb, err, errlen);
      if (st != MIEN_OK) break;
      s = mien_similarity(mien_cosine(semb, temb));
    }
    if (s >= threshold)
      m[nm++] = (mien_scored){s, i};
    else
      cJSON_AddItemToArray(unmatched, mien_face_detail_json(&faces[i], img.w, img.h));
  }
  mien_scored_sort(m, nm, 1);
  for (int i = 0; st == MIEN_OK && i < nm; i++) {
    cJSON *fm = cJSON_CreateObject();
    op_add_num(fm, "Similarity", m[i].score);
    cJSON_AddItemToObject(fm, "Face", mien_face_detail_json(&faces[m[i].tag], img.w, img.h));
    cJSON_AddItemToArray(matches, fm);
  }
  free(m);
  free(faces);
  mien_image_free(&img);
  return st;
}

mien_status mien_op_compare_faces(mien_api *api, const cJSON *req, cJSON **resp, char *err,
                                  size_t errlen) {
  double threshold;
  const char *filter;
  mien_status st = op_number(req, "SimilarityThreshold", 0, 100, MIEN_FACE_MATCH_THRESHOLD,
                             &threshold, err, errlen);
  if (st == MIEN_OK) st = op_quality_filter(req, "NONE", &filter, err, errlen);
  /* Both images are required: say so before working on the first. */
  const char *fields[2] = {"SourceImage", "TargetImage"};
  for (int i = 0; st == MIEN_OK && i < 2; i++)
    if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(req, fields[i])))
      st = MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER, "%s is required", fields[i]);
  if (st != MIEN_OK) return st;
  cJSON *r = cJSON_CreateObject();
  float semb[MIEN_EMBED_DIM];
  st = compare_source(api, req, r, semb, err, errlen);
  if (st == MIEN_OK) st = compare_targets(api, req, r, semb, threshold, filter, err, errlen);
  /* Audited where there is a store (the server); `mien compare` touches no data directory. */
  if (st == MIEN_OK && api->store) {
    cJSON *fields = cJSON_CreateObject();
    cJSON_AddNumberToObject(fields, "matches",
                            cJSON_GetArraySize(cJSON_GetObjectItem(r, "FaceMatches")));
    cJSON_AddNumberToObject(fields, "unmatched",
                            cJSON_GetArraySize(cJSON_GetObjectItem(r, "UnmatchedFaces")));
    st = mien_store_audit(api->store, api->principal, "CompareFaces", NULL, fields, err, errlen);
  }
  return op_respond(st, r, resp);
}
