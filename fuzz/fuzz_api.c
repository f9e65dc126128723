/* fuzz_api.c - libFuzzer target for the operations' JSON requests, the body a client POSTs. The
 * first byte picks the operation (its index in mien_ops[], modulo their number, so the table may
 * grow); the rest is the request body, parsed as the server and `mien call` parse it
 * (mien_op_parse_request) and run by the operation as the server runs it, against a real store.
 *
 * State lives as long as the process, as in the server: one data directory (under $TMPDIR, else
 * /dev/shm when it exists, so synchronous=FULL costs little), one face pipeline with one thread,
 * one bucket. A sequence of inputs can therefore create a collection, index a face, associate it
 * with a user and search, which single requests never reach. Two things help the fuzzer get there:
 *   - bucket "b" holds face.jpg and face2.jpg (LFW photos, copied from ../shared when present),
 *     junk.jpg (text) and a sub-directory, so Image.S3Object reaches detection cheaply (a mutated
 *     base64 photo almost never decodes); links escape.jpg and up/ lead out of the bucket, to
 *     outside.jpg, whose size would show in the error if any Name ever reached it;
 *   - a string value "$face" is replaced by the first FaceId the last successful IndexFaces
 *     returned: FaceIds are random UUIDs no mutation would guess.
 * Every RESET inputs the data directory is emptied, so the store does not grow without bound.
 *
 * A body the parser accepts must parse again once printed back (no duplicate key, no invalid
 * UTF-8 got through it; fuzz/seeds.py's parser-* seeds sit at that edge).
 *
 * Beyond not crashing, leaking or hanging, each response must keep the operation's contract:
 * MIEN_OK with a response object, or an error with a message and no response, and never
 * InternalServerError (a bug by definition). Images are held to small limits to keep runs fast.
 * MIEN_FUZZ_VERBOSE=1 prints each operation's outcome, to see what a corpus reaches. */
#include "api/ops.h"
#include "fuzz.h"
#include "scratch.h"
#include "util/util.h"

#define RESET 1000
/* The size of outside.jpg, above every limit: an error quoting it means it was read. */
#define OUTSIDE_BYTES 1048573
#define OUTSIDE_TEXT "1048573 bytes"

static char dir[256], data_dir[300];
static mien_api api;
static mien_buckets buckets;
static char face_id[MIEN_UUID_LEN];
static const mien_image_limits limits = {
    .max_bytes = 256 << 10, .max_side = 640, .max_pixels = 640 * 480, .min_side = 80};

static void open_store(void) {
  char err[512];
  if (mien_store_open(data_dir, &api.store, err, sizeof err) != MIEN_OK) {
    fprintf(stderr, "fuzz_api: cannot open a store in %s: %s\n", data_dir, err);
    abort();
  }
}

static void cleanup(void) {
  mien_api_release(&api);
  mien_store_close(api.store);
  fuzz_remove_tree(dir);
}

/* Copies file src into the bucket as name, when src exists. */
static void copy_in(const char *bucket, const char *name, const char *src) {
  size_t len;
  uint8_t *bytes = mien_read_file(src, &len);
  if (bytes) fuzz_put(bucket, name, bytes, len);
  free(bytes);
}

static void init(void) {
  fuzz_scratch_dir("api", dir, sizeof dir);
  snprintf(data_dir, sizeof data_dir, "%s/data", dir);
  open_store();
  atexit(cleanup);

  char err[512], bucket[300], spec[320], src[512];
  snprintf(bucket, sizeof bucket, "%s/bucket", dir);
  mkdir(bucket, 0700);
  snprintf(spec, sizeof spec, "%s/d", bucket);
  mkdir(spec, 0700);
  const char *shared = getenv("MIEN_SHARED") ? getenv("MIEN_SHARED") : "../shared";
  snprintf(src, sizeof src, "%s/data/lfw/images/AJ_Cook/AJ_Cook_0001.jpg", shared);
  copy_in(bucket, "face.jpg", src);
  snprintf(src, sizeof src, "%s/data/lfw/images/Aaron_Sorkin/Aaron_Sorkin_0001.jpg", shared);
  copy_in(bucket, "face2.jpg", src);
  fuzz_put(bucket, "junk.jpg", "not an image\n", 13);
  /* Outside the bucket, and bigger than the limit: reading it would fail, quoting its size. */
  fuzz_put(dir, "outside.jpg", NULL, OUTSIDE_BYTES);
  fuzz_link(bucket, "escape.jpg", "../outside.jpg");
  fuzz_link(bucket, "up", "..");
  snprintf(spec, sizeof spec, "b=%s", bucket);
  if (mien_buckets_add(&buckets, spec, err, sizeof err) != MIEN_OK) {
    fprintf(stderr, "fuzz_api: %s\n", err);
    abort();
  }

  /* Without the models image operations fail with ModelException and everything else runs. */
  mien_faces_options opt = {.threads = 1};
  if (mien_faces_create(&opt, &api.faces, err, sizeof err) == MIEN_OK)
    api.faces_owned = 1;
  else
    fprintf(stderr, "fuzz_api: no face pipeline, image operations will fail: %s\n", err);
  api.limits = &limits;
  api.buckets = &buckets;
  api.principal = "fuzz";
}

/* Empties the data directory (every collection, face, user and the audit log). */
static void reset(void) {
  mien_store_close(api.store);
  fuzz_remove_tree(data_dir);
  open_store();
  face_id[0] = '\0';
}

/* Replaces each string "$face" in the tree by the remembered FaceId. */
static void substitute(cJSON *item) {
  for (; item; item = item->next) {
    if (cJSON_IsString(item) && face_id[0] && !strcmp(item->valuestring, "$face"))
      cJSON_SetValuestring(item, face_id);
    substitute(item->child);
  }
}

/* Remembers the first FaceId an IndexFaces response gives. */
static void remember(const cJSON *resp) {
  const cJSON *records = cJSON_GetObjectItemCaseSensitive(resp, "FaceRecords");
  const cJSON *face = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(records, 0), "Face");
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(face, "FaceId");
  if (cJSON_IsString(id)) snprintf(face_id, sizeof face_id, "%s", id->valuestring);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int runs, nops, verbose;
  if (!nops) {
    init();
    verbose = getenv("MIEN_FUZZ_VERBOSE") != NULL;
    while (mien_ops[nops].name) nops++;
  }
  if (size < 1) return 0;
  if (++runs % RESET == 0) reset();
  const mien_op *op = &mien_ops[data[0] % nops];
  cJSON *req, *resp = NULL;
  char err[1024] = "";
  mien_status st = mien_op_parse_request((const char *)data + 1, size - 1, &req, err, sizeof err);
  if (st != MIEN_OK) {
    FUZZ_ASSERT(req == NULL && err[0] != '\0');
    FUZZ_ASSERT(st == MIEN_ERR_SERIALIZATION || st == MIEN_ERR_INVALID_PARAMETER);
    return 0;
  }
  /* What the parser accepts has one meaning: printed back, it parses again. A key given twice or
   * a byte of invalid UTF-8 that slipped through would be refused the second time. */
  char *again = cJSON_PrintUnformatted(req);
  cJSON *req2 = NULL;
  FUZZ_ASSERT(again != NULL);
  FUZZ_ASSERT(mien_op_parse_request(again, strlen(again), &req2, err, sizeof err) == MIEN_OK);
  cJSON_Delete(req2);
  free(again);
  substitute(req);
  st = op->run(&api, req, &resp, err, sizeof err);
  if (verbose) fprintf(stderr, "%s: %s %s\n", op->name, mien_status_name(st), err);
  if (st == MIEN_OK) {
    FUZZ_ASSERT(cJSON_IsObject(resp));
    char *text = cJSON_PrintUnformatted(resp);
    FUZZ_ASSERT(text != NULL);
    free(text);
    if (op->run == mien_op_index_faces) remember(resp);
    cJSON_Delete(resp);
  } else {
    if (st == MIEN_ERR_INTERNAL) fprintf(stderr, "%s: %s\n", op->name, err);
    FUZZ_ASSERT(st != MIEN_ERR_INTERNAL);
    FUZZ_ASSERT(resp == NULL);
    FUZZ_ASSERT(err[0] != '\0');
    /* Only outside.jpg has OUTSIDE_BYTES; the message echoes no request text under this type. */
    FUZZ_ASSERT(st != MIEN_ERR_IMAGE_TOO_LARGE || !strstr(err, OUTSIDE_TEXT));
  }
  cJSON_Delete(req);
  return 0;
}
