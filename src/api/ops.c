/* ops.c - the operation table, the request checks every operation shares (Rekognition's id
 * patterns, lengths, ranges and error messages), and the collection operations:
 * CreateCollection, DescribeCollection, ListCollections, DeleteCollection, and the tag
 * operations (ListTagsForResource, TagResource, UntagResource), through which a collection's
 * privacy policy (mien: tags, docs/privacy.md) is read and changed with Rekognition's own API. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/ops.h"
#include "util/util.h"

/* The tag operations, below. */
static mien_status list_tags(mien_api *, const cJSON *, cJSON **, char *, size_t);
static mien_status tag_resource(mien_api *, const cJSON *, cJSON **, char *, size_t);
static mien_status untag_resource(mien_api *, const cJSON *, cJSON **, char *, size_t);

const mien_op mien_ops[] = {
    {"DetectFaces", mien_op_detect_faces},
    {"CompareFaces", mien_op_compare_faces},
    {"CreateCollection", mien_op_create_collection},
    {"DescribeCollection", mien_op_describe_collection},
    {"ListCollections", mien_op_list_collections},
    {"DeleteCollection", mien_op_delete_collection},
    {"IndexFaces", mien_op_index_faces},
    {"ListFaces", mien_op_list_faces},
    {"DeleteFaces", mien_op_delete_faces},
    {"SearchFaces", mien_op_search_faces},
    {"SearchFacesByImage", mien_op_search_faces_by_image},
    {"CreateUser", mien_op_create_user},
    {"DeleteUser", mien_op_delete_user},
    {"ListUsers", mien_op_list_users},
    {"AssociateFaces", mien_op_associate_faces},
    {"DisassociateFaces", mien_op_disassociate_faces},
    {"SearchUsers", mien_op_search_users},
    {"SearchUsersByImage", mien_op_search_users_by_image},
    {"ListTagsForResource", list_tags},
    {"TagResource", tag_resource},
    {"UntagResource", untag_resource},
    /* mien extensions: proposed users from unlabelled faces (docs/people.md) */
    {"ProposeUsers", mien_op_propose_users},
    {"AcceptProposal", mien_op_accept_proposal},
    /* stored video (ops_video.c); streaming video is refused */
    {"StartFaceDetection", mien_op_start_face_detection},
    {"GetFaceDetection", mien_op_get_face_detection},
    {"StartFaceSearch", mien_op_start_face_search},
    {"GetFaceSearch", mien_op_get_face_search},
    {"CreateStreamProcessor", mien_op_stream_refused},
    {"DeleteStreamProcessor", mien_op_stream_refused},
    {"DescribeStreamProcessor", mien_op_stream_refused},
    {"ListStreamProcessors", mien_op_stream_refused},
    {"StartStreamProcessor", mien_op_stream_refused},
    {"StopStreamProcessor", mien_op_stream_refused},
    {"UpdateStreamProcessor", mien_op_stream_refused},
    {NULL, NULL},
};

const mien_op *mien_op_find(const char *name) {
  for (const mien_op *op = mien_ops; op->name; op++)
    if (!strcmp(op->name, name)) return op;
  return NULL;
}

void mien_api_release(mien_api *api) {
  if (api->faces_owned) mien_faces_free(api->faces);
  api->faces = NULL;
  api->faces_owned = 0;
}

/* ---- request fields ---- */

static int id_char(int c, op_id_kind kind) {
  switch (kind) {
  case ID_COLLECTION:
    return isalnum(c) || c == '_' || c == '.' || c == '-';
  case ID_USER:
    return isalnum(c) || c == '_' || c == '.' || c == '-' || c == ':';
  case ID_TOKEN:
    return c >= 0x20 && c < 0x7f;
  case ID_CLIENT_TOKEN:
    return isalnum(c) || c == '-' || c == '_';
  }
  return 0;
}

static const char *pattern_text(op_id_kind kind) {
  return kind == ID_COLLECTION     ? "[a-zA-Z0-9_.\\-]+"
         : kind == ID_USER         ? "[a-zA-Z0-9_.\\-:]+"
         : kind == ID_CLIENT_TOKEN ? "^[a-zA-Z0-9-_]+$"
                                   : "printable ASCII";
}

mien_status op_string(const cJSON *req, const char *name, int required, op_id_kind kind, int maxlen,
                      const char **out, char *err, size_t errlen) {
  *out = NULL;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, name);
  if (!v || cJSON_IsNull(v)) {
    if (!required) return MIEN_OK;
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER, "%s is required", name);
  }
  if (!cJSON_IsString(v))
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER, "%s must be a string", name);
  const char *s = v->valuestring;
  size_t len = strlen(s);
  if (len < 1 || len > (size_t)maxlen)
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                     "1 validation error detected: Value '%.300s' at '%s' failed to satisfy "
                     "constraint: Member must have length between 1 and %d",
                     s, name, maxlen);
  for (const char *p = s; *p; p++)
    if (!id_char((unsigned char)*p, kind))
      return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                       "1 validation error detected: Value '%.300s' at '%s' failed to satisfy "
                       "constraint: Member must satisfy regular expression pattern: %s",
                       s, name, pattern_text(kind));
  *out = s;
  return MIEN_OK;
}

mien_status op_number(const cJSON *req, const char *name, double lo, double hi, double def,
                      double *out, char *err, size_t errlen) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, name);
  *out = def;
  if (!v || cJSON_IsNull(v)) return MIEN_OK;
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER, "%s must be a number", name);
  if (v->valuedouble < lo || v->valuedouble > hi)
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                     "1 validation error detected: Value '%g' at '%s' failed to satisfy "
                     "constraint: Member must have value between %g and %g",
                     v->valuedouble, name, lo, hi);
  *out = v->valuedouble;
  return MIEN_OK;
}

mien_status op_int(const cJSON *req, const char *name, long lo, long hi, long def, long *out,
                   char *err, size_t errlen) {
  double d;
  mien_status st = op_number(req, name, (double)lo, (double)hi, (double)def, &d, err, errlen);
  if (st != MIEN_OK) return st;
  if (d != floor(d))
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER, "%s must be an integer", name);
  *out = (long)d;
  return MIEN_OK;
}

int op_is_uuid(const char *s) {
  for (int i = 0; i < 36; i++) {
    int dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !(isdigit((unsigned char)s[i]) || (s[i] >= 'a' && s[i] <= 'f')))
      return 0;
  }
  return s[36] == '\0';
}

mien_status op_face_ids(const cJSON *req, const char *name, int max, const char ***ids, int *n,
                        char *err, size_t errlen) {
  *ids = NULL, *n = 0;
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(req, name);
  if (!a || cJSON_IsNull(a))
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER, "%s is required", name);
  int count = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : -1;
  if (count < 1 || count > max)
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                     "%s must be a list of 1 to %d FaceIds", name, max);
  const char **out = malloc((size_t)count * sizeof *out);
  if (!out) return MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  const cJSON *v;
  cJSON_ArrayForEach(v, a) {
    if (!cJSON_IsString(v) || !op_is_uuid(v->valuestring)) {
      free(out);
      return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                       "1 validation error detected: Value at '%s' failed to satisfy "
                       "constraint: Member must satisfy regular expression pattern: "
                       "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                       name);
    }
    out[(*n)++] = v->valuestring;
  }
  *ids = out;
  return MIEN_OK;
}

mien_status op_collection(const cJSON *req, const char **id, char *err, size_t errlen) {
  if (!cJSON_IsObject(req))
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER, "the request must be a JSON object");
  return op_string(req, "CollectionId", 1, ID_COLLECTION, MIEN_COLLECTION_ID_MAX, id, err, errlen);
}

mien_status op_model_version(char *out, size_t outlen, char *err, size_t errlen) {
  char name[32], sha[65];
  mien_status st = mien_store_model(name, sha, err, errlen);
  if (st == MIEN_OK) mien_store_model_version(sha, out, outlen);
  return st;
}

mien_status op_collection_version(mien_api *api, const char *coll, mien_collection_info *info,
                                  char version[64], char *err, size_t errlen) {
  mien_collection_info local;
  if (!info) info = &local;
  mien_status st = mien_store_describe_collection(api->store, coll, info, err, errlen);
  if (st == MIEN_OK) mien_store_model_version(info->model_sha256, version, 64);
  return st;
}

/* The check digits of a page token. */
static void page_check(const char *op, const char *coll, const char *key, char out[17]) {
  mien_sha256_ctx c;
  uint8_t h[32];
  mien_sha256_init(&c);
  mien_sha256_update(&c, op, strlen(op) + 1);
  mien_sha256_update(&c, coll, strlen(coll) + 1);
  mien_sha256_update(&c, key, strlen(key));
  mien_sha256_final(&c, h);
  for (int i = 0; i < 8; i++) snprintf(out + 2 * i, 3, "%02x", h[i]);
}

void op_page_token(const char *op, const char *coll, const char *key,
                   char out[OP_PAGE_TOKEN_MAX + 1]) {
  page_check(op, coll, key, out);
  snprintf(out + 16, OP_PAGE_TOKEN_MAX + 1 - 16, "%s", key);
}

mien_status op_page_after(const cJSON *req, const char *op, const char *coll,
                          char key[OP_PAGE_TOKEN_MAX + 1], char *err, size_t errlen) {
  const char *token;
  key[0] = 0;
  mien_status st = op_string(req, "NextToken", 0, ID_TOKEN, OP_PAGE_TOKEN_MAX, &token, err, errlen);
  if (st != MIEN_OK || !token) return st;
  char check[17];
  size_t len = strlen(token);
  if (len > 16) page_check(op, coll, token + 16, check);
  if (len <= 16 || memcmp(token, check, 16))
    return MIEN_FAIL(err, errlen, MIEN_ERR_PAGINATION_TOKEN,
                     "Invalid Pagination Token: '%.300s' is not a NextToken that %s gave for this "
                     "request",
                     token, op);
  memcpy(key, token + 16, len - 16 + 1);
  return MIEN_OK;
}

const char *op_collection_arn(const mien_api *api, const char *coll, char out[OP_ARN_MAX]) {
  snprintf(out, OP_ARN_MAX, "arn:aws:rekognition:%s:%s:collection/%s",
           api->region ? api->region : MIEN_DEFAULT_REGION, MIEN_ACCOUNT_ID, coll);
  return out;
}

mien_status op_respond(mien_status st, cJSON *r, cJSON **resp) {
  if (st != MIEN_OK) {
    cJSON_Delete(r);
    return st;
  }
  *resp = r;
  return MIEN_OK;
}

void op_add_num(cJSON *o, const char *name, double v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.6g", v);
  cJSON_AddNumberToObject(o, name, strtod(buf, NULL));
}

cJSON *op_face_json(const mien_face_record *r, const char *model_version) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddStringToObject(o, "FaceId", r->face_id);
  cJSON *b = cJSON_AddObjectToObject(o, "BoundingBox");
  op_add_num(b, "Width", r->width);
  op_add_num(b, "Height", r->height);
  op_add_num(b, "Left", r->left);
  op_add_num(b, "Top", r->top);
  cJSON_AddStringToObject(o, "ImageId", r->image_id);
  if (r->external_image_id[0]) cJSON_AddStringToObject(o, "ExternalImageId", r->external_image_id);
  op_add_num(o, "Confidence", r->confidence);
  if (model_version) cJSON_AddStringToObject(o, "IndexFacesModelVersion", model_version);
  if (r->user_id[0]) cJSON_AddStringToObject(o, "UserId", r->user_id);
  return o;
}

/* ---- collections ---- */

/* Tags: a map of up to 50 string keys (1-128 characters, not starting with "aws:") to string
 * values (0-256 characters), as TagResource documents; *tags = NULL when absent and not
 * required. The mien: keys are checked by the store. */
static mien_status parse_tags(const cJSON *req, int required, const cJSON **tags, char *err,
                              size_t errlen) {
  const cJSON *t = *tags = cJSON_GetObjectItemCaseSensitive(req, "Tags");
  if (!t || cJSON_IsNull(t)) {
    *tags = NULL;
    return required ? MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER, "Tags is required")
                    : MIEN_OK;
  }
  if (!cJSON_IsObject(t))
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER, "Tags must be an object");
  if (cJSON_GetArraySize(t) > MIEN_TAGS_MAX || (required && cJSON_GetArraySize(t) < 1))
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER, "Tags must have 1 to %d entries",
                     MIEN_TAGS_MAX);
  const cJSON *v;
  cJSON_ArrayForEach(v, t) {
    size_t klen = strlen(v->string);
    if (klen < 1 || klen > 128 || !strncmp(v->string, "aws:", 4))
      return MIEN_FAIL(
          err, errlen, MIEN_ERR_INVALID_PARAMETER,
          "tag key '%.200s' must have 1 to 128 characters and not start with aws:", v->string);
    if (!cJSON_IsString(v) || strlen(v->valuestring) > 256)
      return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                       "tag '%.200s' must have a string value of at most 256 characters",
                       v->string);
  }
  return MIEN_OK;
}

mien_status mien_op_create_collection(mien_api *api, const cJSON *req, cJSON **resp, char *err,
                                      size_t errlen) {
  *resp = NULL;
  const char *id;
  const cJSON *t;
  mien_status st = op_collection(req, &id, err, errlen);
  if (st == MIEN_OK) st = parse_tags(req, 0, &t, err, errlen);
  if (st != MIEN_OK) return st;
  char *tags = t ? cJSON_PrintUnformatted(t) : NULL;
  if (t && !tags) return MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  mien_collection_info info;
  st = mien_store_create_collection(api->store, api->principal, id, tags, &info, err, errlen);
  free(tags);
  if (st != MIEN_OK) return st;
  char version[64], arn[OP_ARN_MAX];
  mien_store_model_version(info.model_sha256, version, sizeof version);
  cJSON *r = *resp = cJSON_CreateObject();
  cJSON_AddNumberToObject(r, "StatusCode", 200);
  cJSON_AddStringToObject(r, "CollectionArn", op_collection_arn(api, id, arn));
  cJSON_AddStringToObject(r, "FaceModelVersion", version);
  cJSON_AddStringToObject(r, "FaceModelSha256", info.model_sha256);
  return MIEN_OK;
}

mien_status mien_op_describe_collection(mien_api *api, const cJSON *req, cJSON **resp, char *err,
                                        size_t errlen) {
  *resp = NULL;
  const char *id;
  mien_collection_info info;
  mien_status st = op_collection(req, &id, err, errlen);
  char version[64], arn[OP_ARN_MAX];
  if (st == MIEN_OK) st = op_collection_version(api, id, &info, version, err, errlen);
  if (st != MIEN_OK) return st;
  cJSON *r = *resp = cJSON_CreateObject();
  cJSON_AddNumberToObject(r, "FaceCount", (double)info.face_count);
  cJSON_AddNumberToObject(r, "UserCount", (double)info.user_count);
  cJSON_AddStringToObject(r, "FaceModelVersion", version);
  cJSON_AddStringToObject(r, "FaceModelSha256", info.model_sha256);
  cJSON_AddStringToObject(r, "CollectionARN", op_collection_arn(api, id, arn));
  cJSON_AddNumberToObject(r, "CreationTimestamp", info.created);
  cJSON_AddStringToObject(r, "SearchIndexType", info.index_kind); /* mien: docs/search.md */
  cJSON_AddNumberToObject(r, "SearchIndexRecall", info.index_recall);
  return MIEN_OK;
}

mien_status mien_op_list_collections(mien_api *api, const cJSON *req, cJSON **resp, char *err,
                                     size_t errlen) {
  *resp = NULL;
  if (!cJSON_IsObject(req))
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER, "the request must be a JSON object");
  long max;
  char after[OP_PAGE_TOKEN_MAX + 1];
  mien_status st =
      op_int(req, "MaxResults", 0, MIEN_MAX_RESULTS, MIEN_MAX_RESULTS, &max, err, errlen);
  /* The token is the last CollectionId of the previous page. */
  if (st == MIEN_OK) st = op_page_after(req, "ListCollections", "", after, err, errlen);
  if (st != MIEN_OK) return st;
  mien_collection_info *infos = malloc((size_t)(max ? max : 1) * sizeof *infos);
  if (!infos) return MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  int n, more;
  st = mien_store_list_collections(api->store, after, (int)max, infos, &n, &more, err, errlen);
  if (st == MIEN_OK) {
    cJSON *r = *resp = cJSON_CreateObject();
    cJSON *ids = cJSON_AddArrayToObject(r, "CollectionIds");
    cJSON *versions = cJSON_AddArrayToObject(r, "FaceModelVersions");
    for (int i = 0; i < n; i++) {
      char version[64];
      mien_store_model_version(infos[i].model_sha256, version, sizeof version);
      cJSON_AddItemToArray(ids, cJSON_CreateString(infos[i].id));
      cJSON_AddItemToArray(versions, cJSON_CreateString(version));
    }
    char next[OP_PAGE_TOKEN_MAX + 1];
    if (more && n) op_page_token("ListCollections", "", infos[n - 1].id, next);
    if (more && n) cJSON_AddStringToObject(r, "NextToken", next);
  }
  free(infos);
  return st;
}

mien_status mien_op_delete_collection(mien_api *api, const cJSON *req, cJSON **resp, char *err,
                                      size_t errlen) {
  *resp = NULL;
  const char *id;
  mien_status st = op_collection(req, &id, err, errlen);
  if (st == MIEN_OK) st = mien_store_delete_collection(api->store, api->principal, id, err, errlen);
  if (st != MIEN_OK) return st;
  *resp = cJSON_CreateObject();
  cJSON_AddNumberToObject(*resp, "StatusCode", 200);
  return MIEN_OK;
}

/* ---- tags ---- */

/* The collection a ResourceArn names: anything ending in ":collection/ID" (mien's own ARNs and
 * AWS-shaped ones alike), the id checked as CollectionId. */
static mien_status arn_collection(const cJSON *req, char id[MIEN_COLLECTION_ID_MAX + 1], char *err,
                                  size_t errlen) {
  const char *arn;
  mien_status st = op_string(req, "ResourceArn", 1, ID_TOKEN, 2048, &arn, err, errlen);
  if (st != MIEN_OK) return st;
  const char *p = strstr(arn, ":collection/");
  size_t n = p ? strlen(p + 12) : 0;
  int ok = n >= 1 && n <= MIEN_COLLECTION_ID_MAX;
  for (size_t i = 0; ok && i < n; i++) ok = id_char((unsigned char)p[12 + i], ID_COLLECTION);
  if (!ok)
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                     "ResourceArn '%.300s' is not a collection ARN (...:collection/ID)", arn);
  memcpy(id, p + 12, n + 1);
  return MIEN_OK;
}

static mien_status list_tags(mien_api *api, const cJSON *req, cJSON **resp, char *err,
                             size_t errlen) {
  *resp = NULL;
  char id[MIEN_COLLECTION_ID_MAX + 1], *json = NULL;
  mien_status st = arn_collection(req, id, err, errlen);
  if (st == MIEN_OK) st = mien_store_get_tags(api->store, id, &json, err, errlen);
  if (st != MIEN_OK) return st;
  *resp = cJSON_CreateObject();
  cJSON_AddItemToObject(*resp, "Tags", cJSON_Parse(json));
  free(json);
  return MIEN_OK;
}

static mien_status tag_resource(mien_api *api, const cJSON *req, cJSON **resp, char *err,
                                size_t errlen) {
  *resp = NULL;
  char id[MIEN_COLLECTION_ID_MAX + 1];
  const cJSON *tags;
  mien_status st = arn_collection(req, id, err, errlen);
  if (st == MIEN_OK) st = parse_tags(req, 1, &tags, err, errlen);
  if (st == MIEN_OK)
    st = mien_store_set_tags(api->store, api->principal, "TagResource", id, tags, NULL, 0, err,
                             errlen);
  if (st == MIEN_OK) *resp = cJSON_CreateObject();
  return st;
}

static mien_status untag_resource(mien_api *api, const cJSON *req, cJSON **resp, char *err,
                                  size_t errlen) {
  *resp = NULL;
  char id[MIEN_COLLECTION_ID_MAX + 1];
  mien_status st = arn_collection(req, id, err, errlen);
  if (st != MIEN_OK) return st;
  const cJSON *keys = cJSON_GetObjectItemCaseSensitive(req, "TagKeys"), *k;
  int n = cJSON_IsArray(keys) ? cJSON_GetArraySize(keys) : -1;
  if (n < 0 || n > MIEN_TAGS_MAX)
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                     "TagKeys must be a list of 0 to %d keys", MIEN_TAGS_MAX);
  const char **names = malloc((size_t)(n ? n : 1) * sizeof *names);
  if (!names) return MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  int i = 0;
  cJSON_ArrayForEach(k, keys) {
    size_t len = cJSON_IsString(k) ? strlen(k->valuestring) : 0;
    if (len < 1 || len > 128) {
      free(names);
      return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                       "each of TagKeys must be a string of 1 to 128 characters");
    }
    names[i++] = k->valuestring;
  }
  st = mien_store_set_tags(api->store, api->principal, "UntagResource", id, NULL, names, n, err,
                           errlen);
  free(names);
  if (st == MIEN_OK) *resp = cJSON_CreateObject();
  return st;
}
