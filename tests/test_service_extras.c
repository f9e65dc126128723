/* test_service_extras.c - the public calls the `mien` program needs beyond Rekognition's
 * operations (mien.h's last block), as any embedding program would use them:
 * mien_service_detect_annotated gives DetectFaces' very response and a PNG of the image's size;
 * mien_service_time_detect finds DetectFaces' faces and times real work; mien_service_find_image
 * finds an image only once IndexFaces took it; mien_service_policy sets, reads and clears a
 * collection's policy (a bad value refused as the store refuses it); mien_store_copy_between
 * copies a store into a new one with matching counts and a valid audit chain. Needs the models;
 * photos from tests/data. Only reading a photo reaches past mien.h. */
#include <unistd.h>

#include "check.h"
#include "mien.h"
#include "util/util.h"

static mien_service *svc;
static char store_dir[256], copy_dir[300];

static uint8_t *photo(const char *name, size_t *len) {
  char path[256];
  uint8_t *b = mien_read_file(test_data_path(path, sizeof path, name), len);
  CHECK_MSG(b != NULL, "%s", path);
  return b;
}

/* Runs op with body, image standing for Image.Bytes; the status, the response in *out. */
static mien_status call(const char *op, const char *body, const uint8_t *image, size_t len,
                        char **out) {
  char err[512] = "";
  mien_call_context ctx = {.image = image, .image_len = len};
  return mien_service_call_with(svc, &ctx, op, body, strlen(body), out, err, sizeof err);
}

/* A PNG's width and height, from its IHDR chunk (0 when it is no PNG). */
static void png_size(const uint8_t *png, size_t len, uint32_t *w, uint32_t *h) {
  *w = *h = 0;
  if (!png || len < 24 || memcmp(png, "\x89PNG\r\n\x1a\n", 8) || memcmp(png + 12, "IHDR", 4))
    return;
  *w = (uint32_t)png[16] << 24 | (uint32_t)png[17] << 16 | (uint32_t)png[18] << 8 | png[19];
  *h = (uint32_t)png[20] << 24 | (uint32_t)png[21] << 16 | (uint32_t)png[22] << 8 | png[23];
}

static void test_annotated(void) {
  size_t len;
  uint8_t *jpeg = photo("group.jpg", &len);
  char *want = NULL, *json = NULL, err[512] = "";
  void *png = NULL;
  size_t png_len = 0;
  CHECK(call("DetectFaces", "{}", jpeg, len, &want) == MIEN_OK);
  mien_status st =
      mien_service_detect_annotated(svc, jpeg, len, &json, &png, &png_len, err, sizeof err);
  CHECK_MSG(st == MIEN_OK, "%s", err);
  CHECK(json && want && !strcmp(json, want)); /* the very DetectFaces response */
  uint32_t w, h;
  png_size(png, png_len, &w, &h);
  CHECK_MSG(w == 1000 && h == 560, "PNG %ux%u", w, h); /* group.jpg's size, full */
  mien_free(want), mien_free(json), mien_free(png);
  /* Not an image: Rekognition's error, nothing handed over. */
  st = mien_service_detect_annotated(svc, "not an image", 12, &json, &png, &png_len, err,
                                     sizeof err);
  CHECK(st == MIEN_ERR_INVALID_IMAGE_FORMAT && !json && !png && png_len == 0);
  free(jpeg);
}

static void test_time_detect(void) {
  size_t len;
  uint8_t *jpeg = photo("group.jpg", &len);
  char err[512] = "";
  mien_detect_timing t;
  mien_status st = mien_service_time_detect(svc, jpeg, len, 3, &t, err, sizeof err);
  CHECK_MSG(st == MIEN_OK, "%s", err);
  CHECK(t.faces == 3 && t.runs == 3 && t.decode_scale >= 1);
  CHECK(t.ms_min > 0 && t.ms_min <= t.ms_median && t.passes_ms_median > 0);
  CHECK(t.npasses >= 1 && t.npasses <= 8 && t.passes[0][0] >= t.passes[t.npasses - 1][0]);
  CHECK(mien_service_time_detect(svc, jpeg, len, 0, &t, err, sizeof err) ==
        MIEN_ERR_INVALID_PARAMETER);
  CHECK(mien_service_time_detect(svc, "x", 1, 2, &t, err, sizeof err) ==
        MIEN_ERR_INVALID_IMAGE_FORMAT);
  free(jpeg);
}

static void test_find_image(void) {
  char *out = NULL, err[512] = "", id[MIEN_UUID_LEN];
  CHECK(call("CreateCollection", "{\"CollectionId\":\"extras\"}", NULL, 0, &out) == MIEN_OK);
  mien_free(out);
  size_t len;
  uint8_t *jpeg = photo("hopper.jpg", &len);
  int found = -1;
  CHECK(mien_service_find_image(svc, "extras", jpeg, len, &found, id, err, sizeof err) == MIEN_OK);
  CHECK(found == 0);
  CHECK(call("IndexFaces", "{\"CollectionId\":\"extras\"}", jpeg, len, &out) == MIEN_OK);
  const char *image_id = out ? strstr(out, "\"ImageId\":\"") : NULL;
  CHECK(mien_service_find_image(svc, "extras", jpeg, len, &found, id, err, sizeof err) == MIEN_OK);
  CHECK(found == 1 && image_id && !strncmp(image_id + 11, id, 36));
  mien_free(out);
  /* Other bytes (one changed) are another image. */
  jpeg[len - 3] ^= 1;
  CHECK(mien_service_find_image(svc, "extras", jpeg, len, &found, id, err, sizeof err) == MIEN_OK);
  CHECK(found == 0);
  CHECK(mien_service_find_image(svc, "nope", jpeg, len, &found, id, err, sizeof err) ==
        MIEN_ERR_RESOURCE_NOT_FOUND);
  free(jpeg);
}

static void test_policy(void) {
  char err[512] = "";
  mien_collection_policy p;
  mien_status st = mien_service_policy(svc, "extras", NULL, NULL, 0, &p, err, sizeof err);
  CHECK_MSG(st == MIEN_OK, "%s", err);
  CHECK(!p.purpose[0] && p.retention_days == 0 && !p.consent_required);
  st = mien_service_policy(svc, "extras",
                           "{\"mien:purpose\":\"door\",\"mien:retention-days\":\"30\","
                           "\"mien:consent\":\"required\"}",
                           NULL, 0, &p, err, sizeof err);
  CHECK_MSG(st == MIEN_OK, "%s", err);
  CHECK(!strcmp(p.purpose, "door") && p.retention_days == 30 && p.consent_required);
  const char *clear[] = {"mien:retention-days"};
  st = mien_service_policy(svc, "extras", NULL, clear, 1, &p, err, sizeof err);
  CHECK(st == MIEN_OK && p.retention_days == 0 && !strcmp(p.purpose, "door"));
  CHECK(mien_service_policy(svc, "extras", "{\"mien:retention-days\":\"soon\"}", NULL, 0, &p, err,
                            sizeof err) == MIEN_ERR_INVALID_PARAMETER);
  CHECK(mien_service_policy(svc, "extras", "[1]", NULL, 0, &p, err, sizeof err) ==
        MIEN_ERR_INVALID_PARAMETER);
  CHECK(mien_service_policy(svc, "nope", NULL, NULL, 0, &p, err, sizeof err) ==
        MIEN_ERR_RESOURCE_NOT_FOUND);
}

static void test_store_copy(void) {
  char err[512] = "";
  mien_copy_report r;
  snprintf(copy_dir, sizeof copy_dir, "%s-copy", store_dir);
  mien_status st = mien_store_copy_between(store_dir, copy_dir, &r, err, sizeof err);
  CHECK_MSG(st == MIEN_OK, "%s", err);
  CHECK(r.ntables > 0 && r.counts_match && r.audit_valid && r.audit_records > 0);
  CHECK(strlen(r.audit_head) == 64);
  int faces = -1;
  for (int t = 0; t < r.ntables; t++) {
    CHECK(r.source_rows[t] == r.target_rows[t]);
    if (!strcmp(r.table[t], "faces")) faces = (int)r.target_rows[t];
  }
  CHECK_MSG(faces == 1, "faces copied: %d", faces);
}

int main(void) {
  char path[256];
  if (mien_find_model("fr_detect.onnx", path, sizeof path) != 0) {
    printf("models missing: skipped\n");
    return 77;
  }
  snprintf(store_dir, sizeof store_dir, "/tmp/mien_test_extras_XXXXXX");
  CHECK(mkdtemp(store_dir) != NULL);
  mien_service_config cfg;
  mien_service_config_init(&cfg);
  cfg.store = store_dir;
  char err[512] = "";
  mien_status st = mien_service_open(&cfg, &svc, err, sizeof err);
  CHECK_MSG(st == MIEN_OK, "open: %s", err);
  if (st != MIEN_OK) return check_summary();
  RUN(test_annotated);
  RUN(test_time_detect);
  RUN(test_find_image);
  RUN(test_policy);
  RUN(test_store_copy);
  mien_service_close(svc);
  char cmd[700];
  snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", store_dir, copy_dir);
  CHECK(system(cmd) == 0);
  return check_summary();
}
