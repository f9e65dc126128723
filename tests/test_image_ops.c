/* test_image_ops.c - the operations that take images without a collection, and where images
 * come from: DetectFaces and CompareFaces through the operation table the CLI and server share
 * (fields, thresholds, Rekognition's errors), Image.Bytes base64 in both alphabets, and
 * Image.S3Object read from a bucket directory that no Name may leave (.., absolute paths,
 * symbolic links out). Photos: tests/data (README.md there); the cases needing them skip only when
 * the models are unusable. */
#include <stdarg.h>
#include <unistd.h>

#include "api/ops.h"
#include "check.h"
#include "op_call.h"
#include "util/util.h"

static char photos[1024];
static mien_api api;

/* Runs op on the JSON body made from fmt. Returns the response, or NULL with *st and err set. */
static cJSON *call(const char *op, mien_status *st, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static cJSON *call(const char *op, mien_status *st, char *err, size_t errlen, const char *fmt,
                   ...) {
  va_list ap;
  va_start(ap, fmt);
  cJSON *resp = op_vcall(&api, op, st, err, errlen, fmt, ap);
  va_end(ap);
  return resp;
}

/* {"Bytes":"<base64 of the photo>"}, malloc'ed. */
static char *image_bytes(const char *name) {
  char path[1200];
  snprintf(path, sizeof path, "%s/%s", photos, name);
  size_t len;
  uint8_t *bytes = mien_read_file(path, &len);
  CHECK_MSG(bytes != NULL, "cannot read %s", path);
  char *b64 = mien_b64_encode(bytes, len), *json;
  CHECK(asprintf(&json, "{\"Bytes\":\"%s\"}", b64) > 0);
  free(b64);
  free(bytes);
  return json;
}

static int array_len(const cJSON *o, const char *name) {
  return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, name));
}

#define CHECK_STATUS(st, want, err)                                                                \
  CHECK_MSG((st) == (want), "got %s (%s), wanted %s", mien_status_name(st), err,                   \
            mien_status_name(want))

static void test_base64(void) {
  const char *text = "any carnal pleas";
  for (size_t n = 0; n <= strlen(text); n++) {
    char *enc = mien_b64_encode((const uint8_t *)text, n);
    size_t len;
    uint8_t *dec = mien_b64_decode(enc, &len);
    CHECK_MSG(dec && len == n && !memcmp(dec, text, n), "round trip of %zu bytes: %s", n, enc);
    free(enc);
    free(dec);
  }
  char *enc = mien_b64_encode((const uint8_t *)"\xfb\xff", 2);
  CHECK(!strcmp(enc, "+/8="));
  free(enc);
  size_t len;
  uint8_t *url = mien_b64_decode("-_8", &len); /* URL alphabet, no padding */
  CHECK(url && len == 2 && url[0] == 0xfb && url[1] == 0xff);
  free(url);
  CHECK(mien_b64_decode("ab$d", &len) == NULL);
}

static void test_detect_faces(void) {
  if (!*photos) TEST_SKIP("models unusable (make models)");
  char err[1024];
  mien_status st;
  char *img = image_bytes("group.jpg");
  cJSON *r =
      call("DetectFaces", &st, err, sizeof err, "{\"Image\":%s,\"Attributes\":[\"ALL\"]}", img);
  CHECK_STATUS(st, MIEN_OK, err);
  CHECK(array_len(r, "FaceDetails") == 3);
  const cJSON *face = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "FaceDetails"), 0);
  const char *fields[] = {"BoundingBox", "Landmarks", "Pose", "Quality", "Confidence"};
  for (int i = 0; i < 5; i++) CHECK_MSG(cJSON_HasObjectItem(face, fields[i]), "%s", fields[i]);
  CHECK(!cJSON_HasObjectItem(face, "Gender") && !cJSON_HasObjectItem(face, "AgeRange"));
  cJSON_Delete(r);

  const char *bad[][2] = {
      {"{}", "Image is required"},
      {"{\"Image\":{\"Bytes\":\"@@@\"}}", "not valid base64"},
      {"{\"Image\":{\"Bytes\":42}}", "base64 string"},
      {"{\"Image\":{\"Bytes\":\"aGVsbG8=\",\"S3Object\":{}}}", "not both"},
  };
  for (int i = 0; i < 4; i++) {
    r = call("DetectFaces", &st, err, sizeof err, "%s", bad[i][0]);
    CHECK_MSG(!r && st == MIEN_ERR_INVALID_PARAMETER && strstr(err, bad[i][1]), "%s: %s (%s)",
              bad[i][0], mien_status_name(st), err);
  }
  r = call("DetectFaces", &st, err, sizeof err, "{\"Image\":%s,\"Attributes\":[\"GENDER\"]}", img);
  CHECK_MSG(!r && st == MIEN_ERR_INVALID_PARAMETER && strstr(err, "never infers"), "%s", err);
  r = call("DetectFaces", &st, err, sizeof err, "{\"Image\":{\"Bytes\":\"bm90IGFuIGltYWdl\"}}");
  CHECK_STATUS(st, MIEN_ERR_INVALID_IMAGE_FORMAT, err);
  /* A limit below the photo's size: refused before decoding. */
  mien_image_limits lim;
  mien_image_limits_default(&lim);
  lim.max_bytes = 1000;
  api.limits = &lim;
  r = call("DetectFaces", &st, err, sizeof err, "{\"Image\":%s}", img);
  CHECK_STATUS(st, MIEN_ERR_IMAGE_TOO_LARGE, err);
  api.limits = NULL;
  free(img);
}

static void test_compare_faces(void) {
  if (!*photos) TEST_SKIP("models unusable (make models)");
  char err[1024];
  mien_status st;
  /* The second photo of Hopper is the first transformed (tests/data/README.md). */
  char *hopper = image_bytes("hopper.jpg"), *hopper2 = image_bytes("hopper-2.jpg");
  char *collins = image_bytes("collins.jpg"), *group = image_bytes("group.jpg");
  cJSON *r = call("CompareFaces", &st, err, sizeof err, "{\"SourceImage\":%s,\"TargetImage\":%s}",
                  hopper, hopper2);
  CHECK_STATUS(st, MIEN_OK, err);
  CHECK(array_len(r, "FaceMatches") == 1 && array_len(r, "UnmatchedFaces") == 0);
  const cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "FaceMatches"), 0);
  double sim = cJSON_GetObjectItemCaseSensitive(m, "Similarity")->valuedouble;
  CHECK_MSG(sim >= 80 && sim <= 100, "same person: Similarity %g", sim);
  CHECK(cJSON_HasObjectItem(cJSON_GetObjectItemCaseSensitive(r, "SourceImageFace"), "BoundingBox"));
  cJSON_Delete(r);

  /* Two strangers: no match at the default threshold, a match at threshold 0. */
  r = call("CompareFaces", &st, err, sizeof err, "{\"SourceImage\":%s,\"TargetImage\":%s}", collins,
           hopper);
  CHECK_STATUS(st, MIEN_OK, err);
  CHECK(array_len(r, "FaceMatches") == 0 && array_len(r, "UnmatchedFaces") == 1);
  cJSON_Delete(r);
  r = call("CompareFaces", &st, err, sizeof err,
           "{\"SourceImage\":%s,\"TargetImage\":%s,\"SimilarityThreshold\":0}", collins, hopper);
  CHECK(r && array_len(r, "FaceMatches") == 1 && array_len(r, "UnmatchedFaces") == 0);
  cJSON_Delete(r);
  /* Collins among two strangers: she matches, they do not; at threshold 0 all three do. */
  r = call("CompareFaces", &st, err, sizeof err, "{\"SourceImage\":%s,\"TargetImage\":%s}", collins,
           group);
  CHECK_STATUS(st, MIEN_OK, err);
  CHECK(array_len(r, "FaceMatches") == 1 && array_len(r, "UnmatchedFaces") == 2);
  cJSON_Delete(r);
  r = call("CompareFaces", &st, err, sizeof err,
           "{\"SourceImage\":%s,\"TargetImage\":%s,\"SimilarityThreshold\":0}", collins, group);
  CHECK(r && array_len(r, "FaceMatches") == 3 && array_len(r, "UnmatchedFaces") == 0);
  cJSON_Delete(r);

  r = call("CompareFaces", &st, err, sizeof err,
           "{\"SourceImage\":%s,\"TargetImage\":%s,\"SimilarityThreshold\":101}", collins, group);
  CHECK_STATUS(st, MIEN_ERR_INVALID_PARAMETER, err);
  r = call("CompareFaces", &st, err, sizeof err, "{\"SourceImage\":%s}", collins);
  CHECK_MSG(!r && st == MIEN_ERR_INVALID_PARAMETER && strstr(err, "TargetImage"), "%s", err);
  free(hopper);
  free(hopper2);
  free(collins);
  free(group);
}

/* A face-free image: the source of a CompareFaces with nothing to compare. */
static void test_compare_no_source_face(void) {
  if (!*photos) TEST_SKIP("models unusable (make models)");
  char dir[] = "/tmp/mien_test_image_ops_XXXXXX", path[64], err[1024];
  CHECK(mkdtemp(dir) != NULL);
  snprintf(path, sizeof path, "%s/blank.png", dir);
  mien_image blank = {128, 128, calloc(128 * 128, 3)};
  CHECK(mien_image_write_png(path, &blank) == 0);
  free(blank.rgb);
  size_t len;
  uint8_t *bytes = mien_read_file(path, &len);
  char *b64 = mien_b64_encode(bytes, len), *collins = image_bytes("collins.jpg");
  mien_status st;
  cJSON *r = call("CompareFaces", &st, err, sizeof err,
                  "{\"SourceImage\":{\"Bytes\":\"%s\"},\"TargetImage\":%s}", b64, collins);
  CHECK_MSG(!r && st == MIEN_ERR_INVALID_PARAMETER && strstr(err, "no faces in the source"), "%s",
            err);
  free(b64);
  free(bytes);
  free(collins);
  unlink(path);
  rmdir(dir);
}

static void test_s3_object(void) {
  char root[] = "/tmp/mien_test_buckets_XXXXXX", cmd[2600], err[1024];
  CHECK(mkdtemp(root) != NULL);
  /* root/bucket holds the photo, a link to it, a link out, and a sub-folder; root/secret.jpg
   * lies outside the bucket. */
  snprintf(cmd, sizeof cmd,
           "cd %s && mkdir -p bucket/sub && printf 'not an image' > bucket/sub/text.jpg && "
           "printf 'outside' > secret.jpg && ln -s ../secret.jpg bucket/out.jpg && "
           "ln -s /etc/passwd bucket/passwd",
           root);
  CHECK(system(cmd) == 0);
  if (*photos) {
    snprintf(cmd, sizeof cmd, "cp %s/collins.jpg %s/bucket/ && ln -s collins.jpg %s/bucket/l.jpg",
             photos, root, root);
    CHECK(system(cmd) == 0);
  }
  mien_buckets bs = {0};
  char spec[600];
  snprintf(spec, sizeof spec, "photos=%s/bucket", root);
  CHECK(mien_buckets_add(&bs, spec, err, sizeof err) == MIEN_OK);
  CHECK(mien_buckets_add(&bs, spec, err, sizeof err) == MIEN_ERR_INVALID_PARAMETER);
  CHECK(mien_buckets_add(&bs, "nodir=/nonexistent", err, sizeof err) == MIEN_ERR_INVALID_PARAMETER);
  CHECK(mien_buckets_add(&bs, "=/tmp", err, sizeof err) == MIEN_ERR_INVALID_PARAMETER);
  api.buckets = &bs;
  mien_status st;
  const char *refused[] = {"../secret.jpg",        "out.jpg",    "passwd", "/etc/passwd", "sub",
                           "sub/../../secret.jpg", "missing.jpg"};
  for (int i = 0; i < 7; i++) {
    cJSON *r =
        call("DetectFaces", &st, err, sizeof err,
             "{\"Image\":{\"S3Object\":{\"Bucket\":\"photos\",\"Name\":\"%s\"}}}", refused[i]);
    CHECK_MSG(!r && st == MIEN_ERR_INVALID_S3_OBJECT, "%s: %s (%s)", refused[i],
              mien_status_name(st), err);
  }
  cJSON *r = call("DetectFaces", &st, err, sizeof err,
                  "{\"Image\":{\"S3Object\":{\"Bucket\":\"other\",\"Name\":\"x.jpg\"}}}");
  CHECK_STATUS(st, MIEN_ERR_INVALID_S3_OBJECT, err);
  r = call("DetectFaces", &st, err, sizeof err,
           "{\"Image\":{\"S3Object\":{\"Bucket\":\"photos\",\"Name\":\"sub/text.jpg\"}}}");
  CHECK_STATUS(st, MIEN_ERR_INVALID_IMAGE_FORMAT, err); /* inside the bucket: read, then refused */
  r = call("DetectFaces", &st, err, sizeof err,
           "{\"Image\":{\"S3Object\":{\"Bucket\":\"photos\"}}}");
  CHECK_MSG(st == MIEN_ERR_INVALID_PARAMETER && strstr(err, "Name"), "%s", err);
  if (*photos) {
    const char *ok[] = {"collins.jpg", "l.jpg", "sub/../collins.jpg"};
    for (int i = 0; i < 3; i++) {
      r = call("DetectFaces", &st, err, sizeof err,
               "{\"Image\":{\"S3Object\":{\"Bucket\":\"photos\",\"Name\":\"%s\"}}}", ok[i]);
      CHECK_MSG(r && array_len(r, "FaceDetails") == 1, "%s: %s", ok[i], err);
      cJSON_Delete(r);
    }
  }
  api.buckets = NULL;
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  CHECK(system(cmd) == 0);
}

int main(void) {
  snprintf(photos, sizeof photos, "tests/data");
  char err[512];
  mien_faces_options opt = {0};
  if (mien_faces_create(&opt, &api.faces, err, sizeof err) != MIEN_OK) {
    printf("  models unusable (%s): photo cases skipped\n", err);
    photos[0] = 0;
  }
  RUN(test_base64);
  RUN(test_detect_faces);
  RUN(test_compare_faces);
  RUN(test_compare_no_source_face);
  RUN(test_s3_object);
  mien_faces_free(api.faces);
  return check_summary();
}
