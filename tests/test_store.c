/* test_store.c - the store and Rekognition's collection, face and user operations, through the
 * operation table the CLI and server use: every operation's fields, defaults and errors; the
 * schema and reopening; model versions never mixed; erasure (a deleted template's bytes are
 * nowhere under the data directory after a checkpoint); and identification on public LFW
 * (rank-1 rate). Photos: tests/data (README.md there; the photo cases skip only when the models
 * are unusable); the LFW evaluation reads $MIEN_SHARED/data (default ../shared/data) and skips
 * without it. Each case uses its own temporary data directory. */
#include <dirent.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "api/ops.h"
#include "check.h"
#include "op_call.h"
#include "image/image.h"
#include "util/util.h"

static char lfw[1024];
static mien_faces *shared_faces; /* one pipeline for every case: loading it takes a while */

/* ---- a temporary store and calls into it ---- */

typedef struct {
  char dir[256];
  mien_api api;
  char err[1024];
  mien_status st;
} fixture;

static void fx_open(fixture *f) {
  memset(f, 0, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/mien_test_store_XXXXXX");
  CHECK(mkdtemp(f->dir) != NULL);
  CHECK(mien_store_open(f->dir, &f->api.store, f->err, sizeof f->err) == MIEN_OK);
  f->api.faces = shared_faces;
}

static void fx_close(fixture *f) {
  mien_store_close(f->api.store);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
  CHECK(system(cmd) == 0);
}

/* Runs op on the JSON body made from fmt; image (a path or NULL) stands for Image.Bytes.
 * Returns the response (NULL on error; f->st and f->err say why). */
static cJSON *call(fixture *f, const char *op, const char *image, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static cJSON *call(fixture *f, const char *op, const char *image, const char *fmt, ...) {
  uint8_t *bytes = image ? mien_read_file(image, &f->api.image_len) : NULL;
  f->api.image = bytes;
  va_list ap;
  va_start(ap, fmt);
  cJSON *resp = op_vcall(&f->api, op, &f->st, f->err, sizeof f->err, fmt, ap);
  va_end(ap);
  f->api.image = NULL;
  free(bytes);
  return resp;
}

/* Expects op to fail with st. */
#define CHECK_ERR(f, st_, op, image, ...)                                                          \
  do {                                                                                             \
    cJSON *r_ = call(f, op, image, __VA_ARGS__);                                                   \
    CHECK_MSG((f)->st == (st_) && !r_, "%s: got %s (%s), wanted %s", op,                           \
              mien_status_name((f)->st), (f)->err, mien_status_name(st_));                         \
    cJSON_Delete(r_);                                                                              \
  } while (0)

/* One expected failure: the status, the image (a path or NULL) and the request body. */
typedef struct {
  mien_status st;
  const char *image, *body;
} err_case;

/* CHECK_ERR for each of the n cases of op. */
static void check_errs(fixture *f, const char *op, const err_case *c, int n) {
  for (int i = 0; i < n; i++) {
    cJSON *r = call(f, op, c[i].image, "%s", c[i].body);
    CHECK_MSG(f->st == c[i].st && !r, "%s %s: got %s (%s), wanted %s", op, c[i].body,
              mien_status_name(f->st), f->err, mien_status_name(c[i].st));
    cJSON_Delete(r);
  }
}

static const cJSON *get(const cJSON *o, const char *path) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *tok = strtok(buf, "."); tok && o; tok = strtok(NULL, ".")) {
    char *end;
    long i = strtol(tok, &end, 10);
    o = *end ? cJSON_GetObjectItemCaseSensitive(o, tok) : cJSON_GetArrayItem(o, (int)i);
  }
  return o;
}
static const char *str(const cJSON *o, const char *path) {
  const cJSON *v = get(o, path);
  return cJSON_IsString(v) ? v->valuestring : "";
}
static double num(const cJSON *o, const char *path) {
  const cJSON *v = get(o, path);
  return cJSON_IsNumber(v) ? v->valuedouble : -1;
}
static int len(const cJSON *o, const char *path) {
  const cJSON *v = get(o, path);
  return cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
}

static void create(fixture *f, const char *id) {
  cJSON *r = call(f, "CreateCollection", NULL, "{\"CollectionId\":\"%s\"}", id);
  CHECK_MSG(r != NULL, "CreateCollection %s: %s", id, f->err);
  cJSON_Delete(r);
}

/* Indexes image into coll; returns the first FaceId into face_id (when not NULL). */
static int index_image(fixture *f, const char *coll, const char *image, const char *external,
                       char face_id[MIEN_UUID_LEN]) {
  cJSON *r =
      call(f, "IndexFaces", image,
           "{\"CollectionId\":\"%s\",\"ExternalImageId\":\"%s\",\"MaxFaces\":1}", coll, external);
  CHECK_MSG(r != NULL, "IndexFaces %s: %s", image, f->err);
  int n = len(r, "FaceRecords");
  if (face_id) snprintf(face_id, MIEN_UUID_LEN, "%s", str(r, "FaceRecords.0.Face.FaceId"));
  cJSON_Delete(r);
  return n;
}

static void lfw_path(char *out, size_t cap, const char *who, int i) {
  snprintf(out, cap, "%s/%s/%s_%04d.jpg", lfw, who, who, i);
}

#define SKIP_WITHOUT_MODELS()                                                                      \
  if (!shared_faces) TEST_SKIP("models unusable (make models)")

/* ---- collections ---- */

static void test_collections(void) {
  fixture f;
  fx_open(&f);
  cJSON *r = call(&f, "CreateCollection", NULL, "{\"CollectionId\":\"photos.1_a-b\"}");
  CHECK(r && num(r, "StatusCode") == 200);
  CHECK(strstr(str(r, "CollectionArn"), "collection/photos.1_a-b") != NULL);
  CHECK(!strcmp(str(r, "FaceModelVersion"), "1.0"));
  cJSON_Delete(r);
  CHECK_ERR(&f, MIEN_ERR_RESOURCE_EXISTS, "CreateCollection", NULL,
            "{\"CollectionId\":\"photos.1_a-b\"}");
  CHECK_ERR(&f, MIEN_ERR_INVALID_PARAMETER, "CreateCollection", NULL, "{\"CollectionId\":\"\"}");
  CHECK_ERR(&f, MIEN_ERR_INVALID_PARAMETER, "CreateCollection", NULL, "{\"CollectionId\":\"a b\"}");
  CHECK_ERR(&f, MIEN_ERR_INVALID_PARAMETER, "CreateCollection", NULL, "{\"CollectionId\":\"a:b\"}");
  CHECK_ERR(&f, MIEN_ERR_INVALID_PARAMETER, "CreateCollection", NULL, "{\"CollectionId\":7}");
  CHECK_ERR(&f, MIEN_ERR_INVALID_PARAMETER, "CreateCollection", NULL, "{}");
  char longid[300];
  memset(longid, 'x', 256), longid[256] = '\0';
  CHECK_ERR(&f, MIEN_ERR_INVALID_PARAMETER, "CreateCollection", NULL, "{\"CollectionId\":\"%s\"}",
            longid);
  longid[255] = '\0';
  create(&f, longid);
  CHECK_ERR(&f, MIEN_ERR_INVALID_PARAMETER, "CreateCollection", NULL,
            "{\"CollectionId\":\"t\",\"Tags\":{\"aws:x\":\"y\"}}");
  r = call(&f, "CreateCollection", NULL, "{\"CollectionId\":\"t\",\"Tags\":{\"team\":\"a\"}}");
  CHECK(r != NULL);
  cJSON_Delete(r);

  r = call(&f, "DescribeCollection", NULL, "{\"CollectionId\":\"t\"}");
  CHECK(r && num(r, "FaceCount") == 0 && num(r, "UserCount") == 0);
  CHECK(num(r, "CreationTimestamp") > 1.6e9 && strstr(str(r, "CollectionARN"), "collection/t"));
  CHECK(!strcmp(str(r, "FaceModelVersion"), "1.0"));
  cJSON_Delete(r);
  CHECK_ERR(&f, MIEN_ERR_RESOURCE_NOT_FOUND, "DescribeCollection", NULL,
            "{\"CollectionId\":\"nope\"}");

  /* Three collections, listed one per page. */
  r = call(&f, "ListCollections", NULL, "{}");
  CHECK(r && len(r, "CollectionIds") == 3 && len(r, "FaceModelVersions") == 3);
  CHECK(!get(r, "NextToken"));
  cJSON_Delete(r);
  char token[300] = "";
  int seen = 0;
  for (int page = 0; page < 5; page++) {
    r = page ? call(&f, "ListCollections", NULL, "{\"MaxResults\":1,\"NextToken\":\"%s\"}", token)
             : call(&f, "ListCollections", NULL, "{\"MaxResults\":1}");
    CHECK(r && len(r, "CollectionIds") <= 1);
    seen += len(r, "CollectionIds");
    int more = get(r, "NextToken") != NULL;
    snprintf(token, sizeof token, "%s", str(r, "NextToken"));
    cJSON_Delete(r);
    if (!more) break;
  }
  CHECK(seen == 3);
  CHECK_ERR(&f, MIEN_ERR_INVALID_PARAMETER, "ListCollections", NULL, "{\"MaxResults\":4097}");
  CHECK_ERR(&f, MIEN_ERR_PAGINATION_TOKEN, "ListCollections", NULL, "{\"NextToken\":\"a b\"}");

  r = call(&f, "DeleteCollection", NULL, "{\"CollectionId\":\"t\"}");
  CHECK(r && num(r, "StatusCode") == 200);
  cJSON_Delete(r);
  CHECK_ERR(&f, MIEN_ERR_RESOURCE_NOT_FOUND, "DeleteCollection", NULL, "{\"CollectionId\":\"t\"}");
  CHECK_ERR(&f, MIEN_ERR_RESOURCE_NOT_FOUND, "DescribeCollection", NULL,
            "{\"CollectionId\":\"t\"}");
  fx_close(&f);
}

/* ---- faces ---- */

/* Writes a uniform gray PNG (no face) to path. */
static void write_blank_image(const char *path) {
  mien_image img = {200, 200, malloc(200 * 200 * 3)};
  memset(img.rgb, 128, 200 * 200 * 3);
  CHECK(mien_image_write_png(path, &img) == 0);
  free(img.rgb);
}

static void test_faces(void) {
  SKIP_WITHOUT_MODELS();
  fixture f;
  fx_open(&f);
  create(&f, "c");
  char a1[1100], a2[1100], b1[1100], group[1100], blank[300], bad[300];
  /* Collins twice (the second photo is the first transformed), Hopper, and the group photo whose
   * largest face is Hopper's. */
  test_data_path(a1, sizeof a1, "collins.jpg");
  test_data_path(a2, sizeof a2, "collins-2.jpg");
  test_data_path(b1, sizeof b1, "hopper.jpg");
  test_data_path(group, sizeof group, "group.jpg");
  snprintf(blank, sizeof blank, "%s/blank.png", f.dir);
  snprintf(bad, sizeof bad, "%s/bad.jpg", f.dir);
  write_blank_image(blank);
  FILE *fp = fopen(bad, "wb");
  fputs("not an image", fp);
  fclose(fp);

  /* IndexFaces: the response's fields. */
  cJSON *r = call(&f, "IndexFaces", a1,
                  "{\"CollectionId\":\"c\",\"ExternalImageId\":\"collins:1\","
                  "\"DetectionAttributes\":[\"DEFAULT\"]}");
  CHECK_MSG(r != NULL, "%s", f.err);
  CHECK(len(r, "FaceRecords") == 1 && len(r, "UnindexedFaces") == 0);
  char a1_face[MIEN_UUID_LEN], a1_image[MIEN_UUID_LEN];
  snprintf(a1_face, sizeof a1_face, "%s", str(r, "FaceRecords.0.Face.FaceId"));
  snprintf(a1_image, sizeof a1_image, "%s", str(r, "FaceRecords.0.Face.ImageId"));
  CHECK(op_is_uuid(a1_face) && op_is_uuid(a1_image));
  CHECK(!strcmp(str(r, "FaceRecords.0.Face.ExternalImageId"), "collins:1"));
  CHECK(num(r, "FaceRecords.0.Face.Confidence") > 90);
  CHECK(num(r, "FaceRecords.0.Face.BoundingBox.Width") > 0.1);
  CHECK(get(r, "FaceRecords.0.FaceDetail.Landmarks") && get(r, "FaceRecords.0.FaceDetail.Pose"));
  CHECK(!strcmp(str(r, "FaceModelVersion"), "1.0"));
  cJSON_Delete(r);
  char a2_face[MIEN_UUID_LEN], b1_face[MIEN_UUID_LEN];
  CHECK(index_image(&f, "c", a2, "collins2", a2_face) == 1);
  CHECK(index_image(&f, "c", b1, "hopper1", b1_face) == 1);

  /* MaxFaces: the larger face is indexed, the other reported. */
  r = call(&f, "IndexFaces", group, "{\"CollectionId\":\"c\",\"MaxFaces\":1}");
  CHECK_MSG(r && len(r, "FaceRecords") == 1 && len(r, "UnindexedFaces") >= 1, "%s", f.err);
  CHECK(!strcmp(str(r, "UnindexedFaces.0.Reasons.0"), "EXCEEDS_MAX_FACES"));
  CHECK(get(r, "UnindexedFaces.0.FaceDetail.BoundingBox") != NULL);
  cJSON_Delete(r);
  r = call(&f, "IndexFaces", blank, "{\"CollectionId\":\"c\",\"QualityFilter\":\"HIGH\"}");
  CHECK(r && len(r, "FaceRecords") == 0 && len(r, "UnindexedFaces") == 0);
  cJSON_Delete(r);

  /* IndexFaces errors. */
  /* The last: Image.Bytes as base64 ("not an image"); then one over 5 MB. */
  const err_case index_errs[] = {
      {MIEN_ERR_INVALID_IMAGE_FORMAT, bad, "{\"CollectionId\":\"c\"}"},
      {MIEN_ERR_RESOURCE_NOT_FOUND, a1, "{\"CollectionId\":\"zz\"}"},
      {MIEN_ERR_INVALID_PARAMETER, a1, "{\"CollectionId\":\"c\",\"MaxFaces\":0}"},
      {MIEN_ERR_INVALID_PARAMETER, a1, "{\"CollectionId\":\"c\",\"QualityFilter\":\"BEST\"}"},
      {MIEN_ERR_INVALID_PARAMETER, a1, "{\"CollectionId\":\"c\",\"ExternalImageId\":\"a/b\"}"},
      {MIEN_ERR_INVALID_PARAMETER, a1,
       "{\"CollectionId\":\"c\",\"DetectionAttributes\":[\"AGE_RANGE\"]}"},
      {MIEN_ERR_INVALID_PARAMETER, NULL, "{\"CollectionId\":\"c\"}"},
      {MIEN_ERR_INVALID_PARAMETER, NULL, "{\"CollectionId\":\"c\",\"Image\":{\"Bytes\":\"@@@@\"}}"},
      {MIEN_ERR_INVALID_S3_OBJECT, NULL,
       "{\"CollectionId\":\"c\",\"Image\":{\"S3Object\":{\"Bucket\":\"b\",\"Name\":\"n\"}}}"},
      {MIEN_ERR_INVALID_IMAGE_FORMAT, NULL,
       "{\"CollectionId\":\"c\",\"Image\":{\"Bytes\":\"bm90IGFuIGltYWdl\"}}"},
  };
  check_errs(&f, "IndexFaces", index_errs, (int)(sizeof index_errs / sizeof *index_errs));
  size_t big = (6u << 20) / 3 * 4;
  char *huge = malloc(big + 100);
  snprintf(huge, 100, "{\"CollectionId\":\"c\",\"Image\":{\"Bytes\":\"");
  size_t at = strlen(huge);
  memset(huge + at, 'A', big);
  strcpy(huge + at + big, "\"}}");
  cJSON *req = cJSON_Parse(huge), *resp = NULL;
  CHECK(mien_op_index_faces(&f.api, req, &resp, f.err, sizeof f.err) == MIEN_ERR_IMAGE_TOO_LARGE);
  cJSON_Delete(req);
  free(huge);

  /* ListFaces: all, pages, FaceIds, errors. */
  r = call(&f, "ListFaces", NULL, "{\"CollectionId\":\"c\"}");
  CHECK(r && len(r, "Faces") == 4 && !get(r, "NextToken"));
  CHECK(!strcmp(str(r, "FaceModelVersion"), "1.0"));
  CHECK(!strcmp(str(r, "Faces.0.FaceId"), a1_face) && !strcmp(str(r, "Faces.0.ImageId"), a1_image));
  CHECK(!strcmp(str(r, "Faces.0.ExternalImageId"), "collins:1"));
  CHECK(get(r, "Faces.0.IndexFacesModelVersion") && get(r, "Faces.0.BoundingBox.Left"));
  cJSON_Delete(r);
  r = call(&f, "ListFaces", NULL, "{\"CollectionId\":\"c\",\"MaxResults\":3}");
  CHECK(r && len(r, "Faces") == 3 && get(r, "NextToken"));
  char token[64];
  snprintf(token, sizeof token, "%s", str(r, "NextToken"));
  cJSON_Delete(r);
  r = call(&f, "ListFaces", NULL, "{\"CollectionId\":\"c\",\"MaxResults\":3,\"NextToken\":\"%s\"}",
           token);
  CHECK(r && len(r, "Faces") == 1 && !get(r, "NextToken"));
  cJSON_Delete(r);
  r = call(&f, "ListFaces", NULL, "{\"CollectionId\":\"c\",\"FaceIds\":[\"%s\",\"%s\"]}", b1_face,
           "00000000-0000-4000-8000-000000000000");
  CHECK(r && len(r, "Faces") == 1 && !strcmp(str(r, "Faces.0.FaceId"), b1_face));
  cJSON_Delete(r);
  const err_case list_errs[] = {
      {MIEN_ERR_PAGINATION_TOKEN, NULL, "{\"CollectionId\":\"c\",\"NextToken\":\"x\"}"},
      {MIEN_ERR_INVALID_PARAMETER, NULL, "{\"CollectionId\":\"c\",\"MaxResults\":5000}"},
      {MIEN_ERR_INVALID_PARAMETER, NULL, "{\"CollectionId\":\"c\",\"FaceIds\":[\"not-a-uuid\"]}"},
      {MIEN_ERR_RESOURCE_NOT_FOUND, NULL, "{\"CollectionId\":\"zz\"}"},
  };
  check_errs(&f, "ListFaces", list_errs, (int)(sizeof list_errs / sizeof *list_errs));

  /* SearchFaces: the other photo of the same person, not the face itself. */
  r = call(&f, "SearchFaces", NULL, "{\"CollectionId\":\"c\",\"FaceId\":\"%s\"}", a1_face);
  CHECK_MSG(r != NULL, "%s", f.err);
  CHECK(!strcmp(str(r, "SearchedFaceId"), a1_face) && len(r, "FaceMatches") == 1);
  CHECK(!strcmp(str(r, "FaceMatches.0.Face.FaceId"), a2_face));
  CHECK(num(r, "FaceMatches.0.Similarity") >= 80 && num(r, "FaceMatches.0.Similarity") <= 100);
  CHECK(get(r, "FaceModelVersion") != NULL);
  cJSON_Delete(r);
  r = call(&f, "SearchFaces", NULL,
           "{\"CollectionId\":\"c\",\"FaceId\":\"%s\",\"FaceMatchThreshold\":0,\"MaxFaces\":2}",
           a1_face);
  CHECK(r && len(r, "FaceMatches") == 2);
  CHECK(num(r, "FaceMatches.0.Similarity") >= num(r, "FaceMatches.1.Similarity"));
  cJSON_Delete(r);
  CHECK_ERR(&f, MIEN_ERR_INVALID_PARAMETER, "SearchFaces", NULL,
            "{\"CollectionId\":\"c\",\"FaceId\":\"00000000-0000-4000-8000-000000000000\"}");
  CHECK_ERR(&f, MIEN_ERR_INVALID_PARAMETER, "SearchFaces", NULL,
            "{\"CollectionId\":\"c\",\"FaceId\":\"xyz\"}");
  CHECK_ERR(&f, MIEN_ERR_INVALID_PARAMETER, "SearchFaces", NULL,
            "{\"CollectionId\":\"c\",\"FaceId\":\"%s\",\"FaceMatchThreshold\":101}", a1_face);
  CHECK_ERR(&f, MIEN_ERR_INVALID_PARAMETER, "SearchFaces", NULL,
            "{\"CollectionId\":\"c\",\"FaceId\":\"%s\",\"MaxFaces\":4097}", a1_face);

  /* SearchFacesByImage: the largest face, its box and confidence. */
  r = call(&f, "SearchFacesByImage", a2, "{\"CollectionId\":\"c\",\"MaxFaces\":1}");
  CHECK_MSG(r != NULL, "%s", f.err);
  CHECK(len(r, "FaceMatches") == 1 && !strcmp(str(r, "FaceMatches.0.Face.FaceId"), a2_face));
  CHECK(num(r, "FaceMatches.0.Similarity") > 99);
  CHECK(num(r, "SearchedFaceBoundingBox.Width") > 0.1 && num(r, "SearchedFaceConfidence") > 90);
  cJSON_Delete(r);
  const err_case search_errs[] = {
      {MIEN_ERR_INVALID_PARAMETER, blank, "{\"CollectionId\":\"c\"}"},
      {MIEN_ERR_INVALID_IMAGE_FORMAT, bad, "{\"CollectionId\":\"c\"}"},
      {MIEN_ERR_RESOURCE_NOT_FOUND, a1, "{\"CollectionId\":\"zz\"}"},
  };
  check_errs(&f, "SearchFacesByImage", search_errs,
             (int)(sizeof search_errs / sizeof *search_errs));

  /* DeleteFaces: one deleted, one unknown; the deleted face is no longer found. */
  r = call(&f, "DeleteFaces", NULL,
           "{\"CollectionId\":\"c\",\"FaceIds\":[\"%s\",\"00000000-0000-4000-8000-000000000000\"]}",
           a2_face);
  CHECK(r && len(r, "DeletedFaces") == 1 && !strcmp(str(r, "DeletedFaces.0"), a2_face));
  CHECK(len(r, "UnsuccessfulFaceDeletions") == 1);
  CHECK(!strcmp(str(r, "UnsuccessfulFaceDeletions.0.Reasons.0"), "FACE_NOT_FOUND"));
  cJSON_Delete(r);
  r = call(&f, "SearchFaces", NULL, "{\"CollectionId\":\"c\",\"FaceId\":\"%s\"}", a1_face);
  CHECK(r && len(r, "FaceMatches") == 0);
  cJSON_Delete(r);
  r = call(&f, "DescribeCollection", NULL, "{\"CollectionId\":\"c\"}");
  CHECK(r && num(r, "FaceCount") == 3);
  cJSON_Delete(r);
  CHECK_ERR(&f, MIEN_ERR_INVALID_PARAMETER, "DeleteFaces", NULL,
            "{\"CollectionId\":\"c\",\"FaceIds\":[]}");

  /* Reopened, the index is rebuilt from the store. */
  mien_store_close(f.api.store);
  CHECK(mien_store_open(f.dir, &f.api.store, f.err, sizeof f.err) == MIEN_OK);
  r = call(&f, "SearchFacesByImage", a1, "{\"CollectionId\":\"c\",\"MaxFaces\":1}");
  CHECK(r && !strcmp(str(r, "FaceMatches.0.Face.FaceId"), a1_face));
  cJSON_Delete(r);
  fx_close(&f);
}

/* ---- users ---- */

/* Adds n faces with random embeddings (for the quota), their ids into ids. */
static void add_random_faces(fixture *f, const char *coll, int n, char (*ids)[MIEN_UUID_LEN]) {
  float *emb = malloc((size_t)n * MIEN_EMBED_DIM * sizeof *emb);
  mien_new_face *nf = malloc((size_t)n * sizeof *nf);
  for (int i = 0; i < n; i++) {
    float *e = emb + (size_t)i * MIEN_EMBED_DIM, norm = 0;
    for (int d = 0; d < MIEN_EMBED_DIM; d++)
      e[d] = (float)rand() / RAND_MAX - 0.5f, norm += e[d] * e[d];
    for (int d = 0; d < MIEN_EMBED_DIM; d++) e[d] /= sqrtf(norm);
    nf[i] = (mien_new_face){0.1f, 0.1f, 0.5f, 0.5f, 99.0f, e};
  }
  uint8_t sha[32] = {(uint8_t)n};
  char image_id[MIEN_UUID_LEN];
  CHECK(mien_store_index_image(f->api.store, coll, sha, NULL, nf, n, image_id, ids, f->err,
                               sizeof f->err) == MIEN_OK);
  free(emb), free(nf);
}

static void test_users(void) {
  SKIP_WITHOUT_MODELS();
  fixture f;
  fx_open(&f);
  create(&f, "c");
  char p[1100], a1[MIEN_UUID_LEN], a2[MIEN_UUID_LEN], a3[MIEN_UUID_LEN], b1[MIEN_UUID_LEN];
  test_data_path(p, sizeof p, "collins.jpg"), index_image(&f, "c", p, "collins1", a1);
  test_data_path(p, sizeof p, "collins-2.jpg"), index_image(&f, "c", p, "collins2", a2);
  test_data_path(p, sizeof p, "collins-3.jpg"), index_image(&f, "c", p, "collins3", a3);
  test_data_path(p, sizeof p, "hopper.jpg"), index_image(&f, "c", p, "hopper1", b1);

  cJSON *r = call(&f, "CreateUser", NULL, "{\"CollectionId\":\"c\",\"UserId\":\"collins\"}");
  CHECK(r && cJSON_GetArraySize(r) == 0);
  cJSON_Delete(r);
  CHECK_ERR(&f, MIEN_ERR_CONFLICT, "CreateUser", NULL,
            "{\"CollectionId\":\"c\",\"UserId\":\"collins\"}");
  CHECK_ERR(&f, MIEN_ERR_INVALID_PARAMETER, "CreateUser", NULL,
            "{\"CollectionId\":\"c\",\"UserId\":\"a b\"}");
  CHECK_ERR(&f, MIEN_ERR_INVALID_PARAMETER, "CreateUser", NULL, "{\"CollectionId\":\"c\"}");
  CHECK_ERR(&f, MIEN_ERR_RESOURCE_NOT_FOUND, "CreateUser", NULL,
            "{\"CollectionId\":\"zz\",\"UserId\":\"u\"}");
  cJSON_Delete(call(&f, "CreateUser", NULL, "{\"CollectionId\":\"c\",\"UserId\":\"other:1\"}"));

  r = call(&f, "ListUsers", NULL, "{\"CollectionId\":\"c\"}");
  CHECK(r && len(r, "Users") == 2 && !strcmp(str(r, "Users.0.UserId"), "collins"));
  CHECK(!strcmp(str(r, "Users.0.UserStatus"), "CREATED"));
  cJSON_Delete(r);
  r = call(&f, "ListUsers", NULL, "{\"CollectionId\":\"c\",\"MaxResults\":1}");
  char next[300];
  snprintf(next, sizeof next, "%s", str(r, "NextToken"));
  CHECK(r && len(r, "Users") == 1 && *next);
  cJSON_Delete(r);
  r = call(&f, "ListUsers", NULL, "{\"CollectionId\":\"c\",\"MaxResults\":1,\"NextToken\":\"%s\"}",
           next);
  CHECK(r && len(r, "Users") == 1 && !strcmp(str(r, "Users.0.UserId"), "other:1"));
  cJSON_Delete(r);
  CHECK_ERR(&f, MIEN_ERR_INVALID_PARAMETER, "ListUsers", NULL,
            "{\"CollectionId\":\"c\",\"MaxResults\":501}");

  /* AssociateFaces: the first face is taken as is, the second must match it; Hopper does not,
   * an unknown face is not found. */
  r = call(&f, "AssociateFaces", NULL,
           "{\"CollectionId\":\"c\",\"UserId\":\"collins\",\"FaceIds\":[\"%s\"]}", a1);
  CHECK(r && len(r, "AssociatedFaces") == 1 && !strcmp(str(r, "AssociatedFaces.0.FaceId"), a1));
  CHECK(!strcmp(str(r, "UserStatus"), "ACTIVE"));
  cJSON_Delete(r);
  r = call(
      &f, "AssociateFaces", NULL,
      "{\"CollectionId\":\"c\",\"UserId\":\"collins\",\"FaceIds\":[\"%s\",\"%s\",\"%s\",\"%s\","
      "\"00000000-0000-4000-8000-000000000000\"]}",
      a1, a2, a3, b1);
  CHECK_MSG(r != NULL, "%s", f.err);
  CHECK(len(r, "AssociatedFaces") == 2 && len(r, "UnsuccessfulFaceAssociations") == 2);
  CHECK(!strcmp(str(r, "UnsuccessfulFaceAssociations.0.FaceId"), b1));
  CHECK(!strcmp(str(r, "UnsuccessfulFaceAssociations.0.Reasons.0"), "LOW_MATCH_CONFIDENCE"));
  CHECK(num(r, "UnsuccessfulFaceAssociations.0.Confidence") < 75);
  CHECK(!strcmp(str(r, "UnsuccessfulFaceAssociations.1.Reasons.0"), "FACE_NOT_FOUND"));
  cJSON_Delete(r);
  r = call(&f, "AssociateFaces", NULL,
           "{\"CollectionId\":\"c\",\"UserId\":\"other:1\",\"FaceIds\":[\"%s\"]}", a1);
  CHECK(r && !strcmp(str(r, "UnsuccessfulFaceAssociations.0.Reasons.0"),
                     "ASSOCIATED_TO_A_DIFFERENT_USER"));
  CHECK(!strcmp(str(r, "UnsuccessfulFaceAssociations.0.UserId"), "collins"));
  CHECK(!strcmp(str(r, "UserStatus"), "CREATED"));
  cJSON_Delete(r);
  CHECK_ERR(&f, MIEN_ERR_RESOURCE_NOT_FOUND, "AssociateFaces", NULL,
            "{\"CollectionId\":\"c\",\"UserId\":\"nobody\",\"FaceIds\":[\"%s\"]}", b1);
  CHECK_ERR(&f, MIEN_ERR_INVALID_PARAMETER, "AssociateFaces", NULL,
            "{\"CollectionId\":\"c\",\"UserId\":\"collins\",\"FaceIds\":[\"%s\"],"
            "\"UserMatchThreshold\":-1}",
            b1);

  /* A user's face cannot be deleted; ListFaces by user. */
  r = call(&f, "DeleteFaces", NULL, "{\"CollectionId\":\"c\",\"FaceIds\":[\"%s\"]}", a1);
  CHECK(r && len(r, "DeletedFaces") == 0);
  CHECK(!strcmp(str(r, "UnsuccessfulFaceDeletions.0.Reasons.0"), "ASSOCIATED_TO_AN_EXISTING_USER"));
  CHECK(!strcmp(str(r, "UnsuccessfulFaceDeletions.0.UserId"), "collins"));
  cJSON_Delete(r);
  r = call(&f, "ListFaces", NULL, "{\"CollectionId\":\"c\",\"UserId\":\"collins\"}");
  CHECK(r && len(r, "Faces") == 3 && !strcmp(str(r, "Faces.0.UserId"), "collins"));
  cJSON_Delete(r);

  /* SearchUsers by face, by user; SearchUsersByImage. */
  r = call(&f, "SearchUsers", NULL, "{\"CollectionId\":\"c\",\"FaceId\":\"%s\"}", a2);
  CHECK(r && len(r, "UserMatches") == 1 && !strcmp(str(r, "UserMatches.0.User.UserId"), "collins"));
  CHECK(!strcmp(str(r, "UserMatches.0.User.UserStatus"), "ACTIVE"));
  CHECK(!strcmp(str(r, "SearchedFace.FaceId"), a2) && get(r, "FaceModelVersion"));
  cJSON_Delete(r);
  r = call(&f, "SearchUsers", NULL, "{\"CollectionId\":\"c\",\"UserId\":\"collins\"}");
  CHECK(r && len(r, "UserMatches") == 1 && !strcmp(str(r, "SearchedUser.UserId"), "collins"));
  cJSON_Delete(r);
  r = call(&f, "SearchUsers", NULL, "{\"CollectionId\":\"c\",\"FaceId\":\"%s\"}", b1);
  CHECK(r && len(r, "UserMatches") == 0);
  cJSON_Delete(r);
  CHECK_ERR(&f, MIEN_ERR_INVALID_PARAMETER, "SearchUsers", NULL,
            "{\"CollectionId\":\"c\",\"FaceId\":\"%s\",\"UserId\":\"collins\"}", a1);
  CHECK_ERR(&f, MIEN_ERR_INVALID_PARAMETER, "SearchUsers", NULL, "{\"CollectionId\":\"c\"}");
  CHECK_ERR(&f, MIEN_ERR_RESOURCE_NOT_FOUND, "SearchUsers", NULL,
            "{\"CollectionId\":\"c\",\"UserId\":\"nobody\"}");
  CHECK_ERR(&f, MIEN_ERR_INVALID_PARAMETER, "SearchUsers", NULL,
            "{\"CollectionId\":\"c\",\"UserId\":\"collins\",\"MaxUsers\":0}");
  test_data_path(p, sizeof p, "collins-3.jpg");
  r = call(&f, "SearchUsersByImage", p, "{\"CollectionId\":\"c\"}");
  CHECK_MSG(r && len(r, "UserMatches") == 1, "%s", f.err);
  CHECK(!strcmp(str(r, "UserMatches.0.User.UserId"), "collins") &&
        num(r, "UserMatches.0.Similarity") >= 80);
  CHECK(get(r, "SearchedFace.FaceDetail.BoundingBox") && len(r, "UnsearchedFaces") >= 0);
  cJSON_Delete(r);

  /* DisassociateFaces, then DeleteUser. */
  r = call(&f, "DisassociateFaces", NULL,
           "{\"CollectionId\":\"c\",\"UserId\":\"collins\",\"FaceIds\":[\"%s\",\"%s\"]}", a1, b1);
  CHECK(r && len(r, "DisassociatedFaces") == 1 &&
        !strcmp(str(r, "DisassociatedFaces.0.FaceId"), a1));
  CHECK(!strcmp(str(r, "UnsuccessfulFaceDisassociations.0.FaceId"), b1));
  CHECK(!strcmp(str(r, "UserStatus"), "ACTIVE"));
  cJSON_Delete(r);
  r = call(&f, "DescribeCollection", NULL, "{\"CollectionId\":\"c\"}");
  CHECK(r && num(r, "UserCount") == 2);
  cJSON_Delete(r);
  r = call(&f, "DeleteUser", NULL, "{\"CollectionId\":\"c\",\"UserId\":\"collins\"}");
  CHECK(r != NULL);
  cJSON_Delete(r);
  CHECK_ERR(&f, MIEN_ERR_RESOURCE_NOT_FOUND, "DeleteUser", NULL,
            "{\"CollectionId\":\"c\",\"UserId\":\"collins\"}");
  r = call(&f, "ListFaces", NULL, "{\"CollectionId\":\"c\",\"FaceIds\":[\"%s\"]}", a2);
  CHECK(r && len(r, "Faces") == 1 && !get(r, "Faces.0.UserId"));
  cJSON_Delete(r);

  /* At most 100 faces per user: a request that would pass it changes nothing. */
  char(*ids)[MIEN_UUID_LEN] = malloc(101 * sizeof *ids);
  add_random_faces(&f, "c", 101, ids);
  char body[8000];
  int n = snprintf(
      body, sizeof body,
      "{\"CollectionId\":\"c\",\"UserId\":\"other:1\",\"UserMatchThreshold\":0,\"FaceIds\":[");
  for (int i = 0; i < 100; i++)
    n += snprintf(body + n, sizeof body - n, "%s\"%s\"", i ? "," : "", ids[i]);
  snprintf(body + n, sizeof body - n, "]}");
  r = call(&f, "AssociateFaces", NULL, "%s", body);
  CHECK_MSG(r && len(r, "AssociatedFaces") == 100, "%s", f.err);
  cJSON_Delete(r);
  CHECK_ERR(&f, MIEN_ERR_QUOTA, "AssociateFaces", NULL,
            "{\"CollectionId\":\"c\",\"UserId\":\"other:1\",\"UserMatchThreshold\":0,\"FaceIds\":["
            "\"%s\"]}",
            ids[100]);
  free(ids);
  fx_close(&f);
}

/* ---- the store itself ---- */

static int sql_int(const char *dir, const char *sql, char *text, size_t cap) {
  char path[300];
  snprintf(path, sizeof path, "%s/mien.db", dir);
  sqlite3 *db;
  int v = -1;
  if (sqlite3_open(path, &db) == SQLITE_OK) {
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW) {
      v = sqlite3_column_int(q, 0);
      if (text) snprintf(text, cap, "%s", (const char *)sqlite3_column_text(q, 0));
    }
    sqlite3_finalize(q);
  }
  sqlite3_close(db);
  return v;
}

/* Schema version, pragmas, and a collection of another face model refused. */
static void test_schema_and_model(void) {
  fixture f;
  fx_open(&f);
  create(&f, "c");
  char mode[32] = "";
  CHECK(sql_int(f.dir, "PRAGMA user_version", NULL, 0) == 5); /* 4: video jobs, 5: access keys */
  sql_int(f.dir, "PRAGMA journal_mode", mode, sizeof mode);
  CHECK(!strcmp(mode, "wal"));
  mien_store_close(f.api.store);
  char sql[200];
  snprintf(sql, sizeof sql, "UPDATE collections SET model_sha256 = '%064d' RETURNING 1", 0);
  CHECK(sql_int(f.dir, sql, NULL, 0) == 1);
  CHECK(mien_store_open(f.dir, &f.api.store, f.err, sizeof f.err) == MIEN_OK);
  float q[MIEN_EMBED_DIM] = {1};
  mien_face_record rec;
  float cos;
  int n;
  CHECK(mien_store_search(f.api.store, "c", q, 1, -1, 0, 0, &rec, &cos, &n, f.err, sizeof f.err) ==
        MIEN_ERR_INVALID_PARAMETER);
  CHECK(strstr(f.err, "model") != NULL);
  char ids[1][MIEN_UUID_LEN], image_id[MIEN_UUID_LEN];
  uint8_t sha[32] = {0};
  mien_new_face nf = {0, 0, 1, 1, 99, q};
  CHECK(mien_store_index_image(f.api.store, "c", sha, NULL, &nf, 1, image_id, ids, f.err,
                               sizeof f.err) == MIEN_ERR_INVALID_PARAMETER);
  fx_close(&f);
}

/* Whether any 64-byte piece of the template occurs in any file under dir. */
static int template_found(const char *dir, const float *emb) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int found = 0;
  while (d && !found && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    size_t n;
    uint8_t *bytes = mien_read_file(p, &n);
    for (int k = 0; bytes && !found && k < MIEN_EMBED_DIM * 4 / 64; k++)
      found = memmem(bytes, n, (const uint8_t *)emb + 64 * k, 64) != NULL;
    free(bytes);
  }
  if (d) closedir(d);
  return found;
}

static void test_erasure(void) {
  fixture f;
  fx_open(&f);
  create(&f, "c");
  char keep[30][MIEN_UUID_LEN], gone[1][MIEN_UUID_LEN];
  add_random_faces(&f, "c", 30, keep);
  float emb[MIEN_EMBED_DIM], norm = 0;
  for (int d = 0; d < MIEN_EMBED_DIM; d++) emb[d] = (float)(d % 7) - 3.1f, norm += emb[d] * emb[d];
  for (int d = 0; d < MIEN_EMBED_DIM; d++) emb[d] /= sqrtf(norm);
  mien_new_face nf = {0.1f, 0.2f, 0.3f, 0.4f, 99.5f, emb};
  uint8_t sha[32] = {42};
  char image_id[MIEN_UUID_LEN];
  CHECK(mien_store_index_image(f.api.store, "c", sha, NULL, &nf, 1, image_id, gone, f.err,
                               sizeof f.err) == MIEN_OK);
  add_random_faces(&f, "c", 30, keep);
  CHECK(mien_store_checkpoint(f.api.store, f.err, sizeof f.err) == MIEN_OK);
  CHECK_MSG(template_found(f.dir, emb), "the scan must find the stored template");
  cJSON *r =
      call(&f, "DeleteFaces", NULL, "{\"CollectionId\":\"c\",\"FaceIds\":[\"%s\"]}", gone[0]);
  CHECK(r && len(r, "DeletedFaces") == 1);
  cJSON_Delete(r);
  CHECK(mien_store_checkpoint(f.api.store, f.err, sizeof f.err) == MIEN_OK);
  CHECK_MSG(!template_found(f.dir, emb), "a deleted template's bytes remain under %s", f.dir);
  mien_store_close(f.api.store);
  CHECK_MSG(!template_found(f.dir, emb), "a deleted template's bytes remain after closing");
  CHECK(sql_int(f.dir, "SELECT count(*) FROM faces", NULL, 0) == 60);
  CHECK(mien_store_open(f.dir, &f.api.store, f.err, sizeof f.err) == MIEN_OK);
  fx_close(&f);
}

/* ---- identification on LFW ---- */

static int count_images(const char *who) {
  char p[1100];
  snprintf(p, sizeof p, "%s/%s", lfw, who);
  DIR *d = opendir(p);
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d))) n += e->d_name[0] != '.';
  if (d) closedir(d);
  return n;
}

static int by_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Enrols image 1 of the first 300 identities with two or more images and one image of 300
 * identities with one (distractors); searches with up to 3 other images of each enrolled
 * identity. Rank-1: the best match is the same identity. */
static void test_lfw_identification(void) {
  SKIP_WITHOUT_MODELS();
  if (!*lfw) TEST_SKIP("LFW photos absent (set MIEN_SHARED)");
  DIR *d = opendir(lfw);
  char **names = NULL;
  int nn = 0, cap = 0;
  struct dirent *e;
  while (d && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    if (nn == cap) names = realloc(names, (size_t)(cap = cap ? 2 * cap : 4096) * sizeof *names);
    names[nn++] = strdup(e->d_name);
  }
  if (d) closedir(d);
  qsort(names, (size_t)nn, sizeof *names, by_str);
  fixture f;
  fx_open(&f);
  create(&f, "lfw");
  double t0 = mien_now_ms();
  int enrolled = 0, distractors = 0, probes = 0, hits = 0, unindexed = 0;
  char p[1100];
  for (int i = 0; i < nn && (enrolled < 300 || distractors < 300); i++) {
    int n = count_images(names[i]);
    int *counter = n >= 2 ? &enrolled : &distractors;
    if (*counter >= 300) continue;
    lfw_path(p, sizeof p, names[i], 1);
    char ext[16];
    snprintf(ext, sizeof ext, "%d", i);
    cJSON *r = call(&f, "IndexFaces", p,
                    "{\"CollectionId\":\"lfw\",\"ExternalImageId\":\"%s\","
                    "\"MaxFaces\":1,\"QualityFilter\":\"NONE\"}",
                    ext);
    int ok = r && len(r, "FaceRecords") == 1;
    *counter += ok;
    unindexed += !ok;
    cJSON_Delete(r);
    for (int k = 2; ok && n >= 2 && k <= n && k <= 4; k++) {
      lfw_path(p, sizeof p, names[i], k);
      r = call(&f, "SearchFacesByImage", p,
               "{\"CollectionId\":\"lfw\",\"MaxFaces\":1,"
               "\"FaceMatchThreshold\":0}");
      if (!r) continue; /* no face found: counted as a miss */
      probes++;
      hits += !strcmp(str(r, "FaceMatches.0.Face.ExternalImageId"), ext);
      cJSON_Delete(r);
    }
  }
  double sec = (mien_now_ms() - t0) / 1000;
  printf("  LFW identification: %d enrolled + %d distractors, %d probes: rank-1 %.2f%% "
         "(%d unindexed, %.1f s)\n",
         enrolled, distractors, probes, probes ? 100.0 * hits / probes : 0.0, unindexed, sec);
  CHECK(enrolled == 300 && probes > 500);
  CHECK_MSG(hits >= 0.95 * probes, "rank-1 %d/%d", hits, probes);
  for (int i = 0; i < nn; i++) free(names[i]);
  free(names);
  fx_close(&f);
}

int main(void) {
  snprintf(lfw, sizeof lfw, "%s/data/lfw/images", shared_dir());
  char probe[1100];
  snprintf(probe, sizeof probe, "%s/Aaron_Sorkin/Aaron_Sorkin_0001.jpg", lfw);
  if (!file_exists(probe)) lfw[0] = '\0';
  char err[512];
  mien_faces_options opt = {0};
  if (mien_faces_create(&opt, &shared_faces, err, sizeof err) != MIEN_OK) {
    printf("  models unusable (%s): photo cases skipped\n", err);
    shared_faces = NULL;
  }
  RUN(test_collections);
  RUN(test_schema_and_model);
  RUN(test_erasure);
  RUN(test_faces);
  RUN(test_users);
  RUN(test_lfw_identification);
  mien_faces_free(shared_faces);
  return check_summary();
}
