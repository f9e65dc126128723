/* test_service.c - the public service API of include/mien.h, as an embedding program uses it:
 * a service opened from a config on a temporary store; operations by name with Rekognition's
 * JSON and errors ({"__type", "Message"} for an unknown operation, a body that is not JSON, a
 * missing collection); the typed detect (encoded bytes and an RGB buffer) giving the numbers
 * DetectFaces gives; embeddings (unit length, a face like itself); CompareFaces typed (the same
 * person above Rekognition's default threshold, another person below); the admin calls (audit
 * chain after an IndexFaces, purge); and the status table; what `mien serve` runs on (workers
 * handed out in arrival order, upkeep, health, reading a file beneath a directory). Needs the
 * models; photos from tests/data. Only decoding an RGB buffer, base64 and the arrival-order
 * check (which holds a worker through service_internal.h) reach past mien.h. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/service_internal.h"
#include "check.h"
#include "face/face.h"
#include "mien.h"
#include "util/util.h"

static mien_service *svc;
static char store_dir[256];

static uint8_t *photo(const char *name, size_t *len) {
  char path[256];
  uint8_t *b = mien_read_file(test_data_path(path, sizeof path, name), len);
  CHECK_MSG(b != NULL, "%s", path);
  return b;
}

/* Runs op with body; returns the status, the response in *out (free it). */
static mien_status call(const char *op, const char *body, char **out) {
  char err[512] = "";
  return mien_service_call(svc, op, body, strlen(body), out, err, sizeof err);
}

/* {"Image":{"Bytes":"<base64 of name>"}} with extra fields before it. */
static char *image_request(const char *extra, const char *field, const char *name) {
  size_t len;
  uint8_t *b = photo(name, &len);
  char *b64 = b ? mien_b64_encode(b, len) : NULL;
  free(b);
  if (!b64) return NULL;
  size_t n = strlen(b64) + strlen(extra) + 64;
  char *body = malloc(n);
  snprintf(body, n, "{%s\"%s\":{\"Bytes\":\"%s\"}}", extra, field, b64);
  free(b64);
  return body;
}

static void test_errors(void) {
  char *out = NULL;
  CHECK(call("NoSuchOperation", "{}", &out) == MIEN_ERR_INVALID_PARAMETER);
  CHECK(out && strstr(out, "\"__type\":\"InvalidParameterException\""));
  mien_free(out);
  CHECK(call("ListCollections", "[1,2", &out) == MIEN_ERR_SERIALIZATION);
  CHECK(out && strstr(out, "\"__type\":\"SerializationException\""));
  mien_free(out);
  CHECK(call("DescribeCollection", "{\"CollectionId\":\"nope\"}", &out) ==
        MIEN_ERR_RESOURCE_NOT_FOUND);
  CHECK(out && strstr(out, "\"__type\":\"ResourceNotFoundException\"") && strstr(out, "Message"));
  mien_free(out);
  CHECK(!strcmp(mien_status_name(MIEN_OK), "OK"));
  CHECK(!strcmp(mien_status_name(MIEN_ERR_IDEMPOTENT_MISMATCH),
                "IdempotentParameterMismatchException"));
  CHECK(!strcmp(mien_status_name((mien_status)999), "InternalServerError"));
  int nops = 0;
  while (mien_service_operation(nops)) nops++;
  CHECK(nops > 20 && !strcmp(mien_service_operation(0), "DetectFaces"));
  CHECK(strlen(mien_service_model_version(svc)) > 0);
  char dir[4096];
  setenv("MIEN_DATA", "/srv/mien-test-data", 1);
  CHECK(mien_default_store(dir, sizeof dir) == 0 && !strcmp(dir, "/srv/mien-test-data"));
  unsetenv("MIEN_DATA");
}

/* DetectFaces by name and the typed detect agree on the group photo's faces. */
static void test_detect(void) {
  char *body = image_request("", "Image", "group.jpg"), *out = NULL;
  CHECK(body && call("DetectFaces", body, &out) == MIEN_OK);
  free(body);
  size_t len;
  uint8_t *jpeg = photo("group.jpg", &len);
  mien_face_detail *faces = NULL;
  int n = 0;
  char err[512] = "";
  mien_status st = mien_service_detect(svc, jpeg, len, &faces, &n, err, sizeof err);
  CHECK_MSG(st == MIEN_OK, "%s", err);
  CHECK(n == 3);
  /* The first FaceDetail's box, as the operation printed it (6 significant digits). */
  const char *w = out ? strstr(out, "\"Width\":") : NULL;
  CHECK(w && n > 0);
  if (w && n > 0) CHECK_NEAR(strtod(w + 8, NULL), faces[0].width, 1e-5);
  const char *c = out ? strstr(out, "\"Confidence\":") : NULL;
  if (c && n > 0) CHECK_NEAR(strtod(c + 13, NULL), faces[0].confidence, 1e-3);
  for (int i = 0; i < n; i++) {
    CHECK(faces[i].has_landmarks && faces[i].confidence > 50);
    CHECK(faces[i].left > 0 && faces[i].left + faces[i].width < 1);
  }
  mien_free(out);

  /* The same image as RGB pixels, with a padded stride. */
  mien_image img;
  CHECK(mien_decode_image(jpeg, len, &img, err, sizeof err) == MIEN_OK);
  size_t stride = (size_t)img.w * 3 + 5;
  uint8_t *padded = calloc(stride * (size_t)img.h, 1);
  for (int y = 0; y < img.h; y++)
    memcpy(padded + y * stride, img.rgb + (size_t)y * img.w * 3, (size_t)img.w * 3);
  mien_face_detail *rf = NULL;
  int rn = 0;
  st = mien_service_detect_rgb(svc, padded, img.w, img.h, stride, &rf, &rn, err, sizeof err);
  CHECK_MSG(st == MIEN_OK, "%s", err);
  CHECK(rn == n);
  if (rn > 0 && n > 0) CHECK_NEAR(rf[0].left, faces[0].left, 0.01);
  mien_free(rf);
  CHECK(mien_service_detect_rgb(svc, padded, img.w, img.h, 3, &rf, &rn, err, sizeof err) ==
        MIEN_ERR_INVALID_PARAMETER);
  mien_free(rf);
  free(padded);
  mien_image_free(&img);

  static const uint8_t junk[] = "not an image at all";
  CHECK(mien_service_detect(svc, junk, sizeof junk, &rf, &rn, err, sizeof err) ==
        MIEN_ERR_INVALID_IMAGE_FORMAT);
  mien_free(faces);
  free(jpeg);
}

static void test_embed_compare(void) {
  size_t la, lb, lc;
  uint8_t *a = photo("collins.jpg", &la), *b = photo("collins-2.jpg", &lb),
          *c = photo("hopper.jpg", &lc);
  mien_face_detail *faces = NULL, src;
  float *emb = NULL;
  int n = 0;
  char err[512] = "";
  CHECK(mien_service_embed(svc, a, la, &faces, &emb, &n, err, sizeof err) == MIEN_OK);
  CHECK(n == 1);
  if (n == 1) {
    double norm = 0;
    for (int i = 0; i < MIEN_EMBEDDING_DIM; i++) norm += emb[i] * emb[i];
    CHECK_NEAR(norm, 1.0, 1e-3);
    CHECK(mien_embedding_similarity(emb, emb) > 99);
  }
  mien_free(faces);
  mien_free(emb);
  mien_face_match *m = NULL;
  CHECK(mien_service_compare(svc, a, la, b, lb, &src, &m, &n, err, sizeof err) == MIEN_OK);
  CHECK(n == 1 && m[0].similarity >= 80 && src.confidence > 50);
  mien_free(m);
  CHECK(mien_service_compare(svc, a, la, c, lc, &src, &m, &n, err, sizeof err) == MIEN_OK);
  CHECK(n >= 1 && m[0].similarity < 80);
  mien_free(m);
  free(a), free(b), free(c);
}

/* IndexFaces through the call, then the audit chain holds it and a purge finds nothing due. */
static void test_collection_admin(void) {
  char *out = NULL;
  CHECK(call("CreateCollection", "{\"CollectionId\":\"svc\"}", &out) == MIEN_OK);
  CHECK(out && strstr(out, "CollectionArn"));
  mien_free(out);
  char *body = image_request("\"CollectionId\":\"svc\",", "Image", "collins.jpg");
  CHECK(body && call("IndexFaces", body, &out) == MIEN_OK);
  CHECK(out && strstr(out, "\"FaceRecords\":[{"));
  mien_free(out);
  free(body);
  body = image_request("\"CollectionId\":\"svc\",", "Image", "collins-2.jpg");
  CHECK(body && call("SearchFacesByImage", body, &out) == MIEN_OK);
  CHECK(out && strstr(out, "\"FaceMatches\":[{"));
  mien_free(out);
  free(body);
  mien_audit_report r;
  char err[512] = "";
  CHECK(mien_service_audit_verify(svc, 0, NULL, &r, err, sizeof err) == MIEN_OK);
  CHECK(r.valid && r.records >= 2 && strlen(r.head) == 64 && r.first_bad_record == 0);
  int64_t purged = -1;
  CHECK(mien_service_purge(svc, &purged, err, sizeof err) == MIEN_OK && purged == 0);
}

/* A service with no store detects but refuses what needs collections, touching no directory. */
static void test_no_store(void) {
  mien_service_config cfg;
  mien_service_config_init(&cfg);
  cfg.no_store = 1;
  cfg.store = "/nonexistent/never/created";
  mien_service *s;
  char err[512] = "", *out = NULL;
  CHECK(mien_service_open(&cfg, &s, err, sizeof err) == MIEN_OK);
  if (!s) return;
  CHECK(mien_service_call(s, "ListCollections", "{}", 2, &out, err, sizeof err) ==
        MIEN_ERR_INVALID_PARAMETER);
  CHECK(out && strstr(out, "needs a store"));
  mien_free(out);
  char *body = image_request("", "Image", "collins.jpg");
  CHECK(body &&
        mien_service_call(s, "DetectFaces", body, strlen(body), &out, err, sizeof err) == MIEN_OK);
  CHECK(out && strstr(out, "\"FaceDetails\":[{"));
  mien_free(out);
  free(body);
  CHECK(mien_service_purge(s, NULL, err, sizeof err) == MIEN_ERR_INVALID_PARAMETER);
  CHECK(access("/nonexistent/never", F_OK) != 0);
  mien_service_close(s);
}

/* With one worker busy detecting, a call that cannot borrow it within the queue timeout is
 * answered ThrottlingException, not queued forever. */
typedef struct {
  mien_service *svc;
  atomic_int stop;
} busy_job;

/* Detects on the group photo until told to stop: the one worker is busy nearly all the time. */
static void *keep_busy(void *arg) {
  busy_job *j = arg;
  size_t len;
  uint8_t *jpeg = photo("group.jpg", &len);
  mien_face_detail *f;
  int n;
  for (int i = 0; jpeg && i < 1000 && !atomic_load(&j->stop); i++)
    if (mien_service_detect(j->svc, jpeg, len, &f, &n, NULL, 0) == MIEN_OK) mien_free(f);
  free(jpeg);
  return NULL;
}

static void test_throttling(void) {
  mien_service_config cfg;
  mien_service_config_init(&cfg);
  cfg.no_store = 1, cfg.workers = 1, cfg.queue_timeout_ms = 1;
  busy_job j = {.stop = 0};
  char err[512] = "";
  CHECK(mien_service_open(&cfg, &j.svc, err, sizeof err) == MIEN_OK);
  if (!j.svc) return;
  CHECK(mien_service_warm(j.svc, err, sizeof err) == MIEN_OK);
  pthread_t t;
  CHECK(pthread_create(&t, NULL, keep_busy, &j) == 0);
  int throttled = 0;
  static const uint8_t junk[] = "x";
  for (int i = 0; i < 100000 && !throttled; i++) {
    mien_face_detail *f = NULL;
    int n;
    mien_status st = mien_service_detect(j.svc, junk, 1, &f, &n, err, sizeof err);
    throttled = st == MIEN_ERR_THROTTLED;
    mien_free(f);
    if (!throttled) usleep(100);
  }
  atomic_store(&j.stop, 1);
  pthread_join(t, NULL);
  CHECK_MSG(throttled, "no call was throttled while the only worker was busy");
  mien_service_close(j.svc);
}

/* Workers go to calls in the order they came: with the one worker held, calls queued one after
 * the other get it in that order, and a call made just after it is given back waits behind
 * them instead of taking it (a free-for-all on release would let it overtake). */
typedef struct {
  mien_service *svc;
  int id;
  atomic_int *next; /* the order in which the worker was had */
  int *order;
} queued_call;

static int waiting(mien_service *s) {
  pthread_mutex_lock(&s->mu);
  int n = 0;
  for (service_waiter *w = s->head; w; w = w->next) n++;
  pthread_mutex_unlock(&s->mu);
  return n;
}

static void *borrow_once(void *arg) {
  queued_call *c = arg;
  int w;
  if (service_borrow(c->svc, 0, &w, NULL, 0) != MIEN_OK) return NULL;
  c->order[atomic_fetch_add(c->next, 1)] = c->id;
  usleep(1000);
  service_give_back(c->svc, w);
  return NULL;
}

static void test_arrival_order(void) {
  mien_service_config cfg;
  mien_service_config_init(&cfg);
  cfg.no_store = 1, cfg.workers = 1, cfg.queue_timeout_ms = 20000;
  mien_service *s;
  char err[512] = "";
  CHECK(mien_service_open(&cfg, &s, err, sizeof err) == MIEN_OK);
  if (!s) return;
  int held, order[4] = {-1, -1, -1, -1};
  atomic_int next = 0;
  CHECK(service_borrow(s, 0, &held, err, sizeof err) == MIEN_OK);
  pthread_t t[3];
  queued_call c[3];
  for (int i = 0; i < 3; i++) {
    c[i] = (queued_call){s, i, &next, order};
    CHECK(pthread_create(&t[i], NULL, borrow_once, &c[i]) == 0);
    for (int k = 0; k < 20000 && waiting(s) < i + 1; k++) usleep(100);
    CHECK_MSG(waiting(s) == i + 1, "call %d did not queue", i);
  }
  service_give_back(s, held);
  int w;
  CHECK(service_borrow(s, 0, &w, err, sizeof err) == MIEN_OK);
  order[atomic_fetch_add(&next, 1)] = 3;
  service_give_back(s, w);
  for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < 4; i++)
    CHECK_MSG(order[i] == i, "the worker went to %d, %d, %d, %d (arrival order: 0, 1, 2, 3)",
              order[0], order[1], order[2], order[3]);
  mien_service_close(s);
}

/* What mien serve's reaper and GET /health ask of the service, and its static files. */
static void test_serving(void) {
  char err[512] = "";
  mien_maintenance_report m = {.erasure_pending = -1};
  CHECK_MSG(mien_service_maintain(svc, 1, &m, err, sizeof err) == MIEN_OK, "%s", err);
  CHECK(m.erasure_pending == 0 && m.faces_purged >= 0 && m.video_jobs_purged == 0);
  mien_health h;
  CHECK_MSG(mien_service_health(svc, &h, err, sizeof err) == MIEN_OK, "%s", err);
  CHECK(h.reachable && !strcmp(h.backend, "sqlite") && !h.following);

  char dir[300], path[400];
  snprintf(dir, sizeof dir, "%s/web", store_dir);
  CHECK(mkdir(dir, 0700) == 0);
  snprintf(path, sizeof path, "%s/index.html", dir);
  FILE *f = fopen(path, "w");
  CHECK(f && fputs("<p>hi</p>", f) >= 0 && fclose(f) == 0);
  snprintf(path, sizeof path, "%s/outside.txt", store_dir);
  f = fopen(path, "w");
  CHECK(f && fputs("secret", f) >= 0 && fclose(f) == 0);
  uint8_t *b = NULL;
  size_t n = 0;
  CHECK(mien_read_beneath(dir, "index.html", 100, &b, &n) == MIEN_OK && n == 9 &&
        !memcmp(b, "<p>hi</p>", 9));
  mien_free(b);
  CHECK(mien_read_beneath(dir, "index.html", 8, &b, &n) == MIEN_ERR_RESOURCE_NOT_FOUND && !b);
  CHECK(mien_read_beneath(dir, "../outside.txt", 100, &b, &n) == MIEN_ERR_RESOURCE_NOT_FOUND);
  CHECK(mien_read_beneath(dir, ".", 100, &b, &n) == MIEN_ERR_RESOURCE_NOT_FOUND);
  CHECK(mien_read_beneath(dir, "none.html", 100, &b, &n) == MIEN_ERR_RESOURCE_NOT_FOUND);
  char web[4096];
  CHECK_MSG(mien_find_data("web", web, sizeof web) == 0, "%s", web);
}

int main(void) {
  char path[256];
  if (mien_find_model("fr_detect.onnx", path, sizeof path) != 0) {
    printf("models missing: skipped\n");
    return 77;
  }
  snprintf(store_dir, sizeof store_dir, "/tmp/mien_test_service_XXXXXX");
  CHECK(mkdtemp(store_dir) != NULL);
  mien_service_config cfg;
  mien_service_config_init(&cfg);
  cfg.store = store_dir;
  cfg.workers = 2;
  char err[512] = "";
  mien_status st = mien_service_open(&cfg, &svc, err, sizeof err);
  CHECK_MSG(st == MIEN_OK, "open: %s", err);
  if (st != MIEN_OK) return check_summary();
  RUN(test_errors);
  RUN(test_detect);
  RUN(test_embed_compare);
  RUN(test_collection_admin);
  RUN(test_no_store);
  RUN(test_throttling);
  RUN(test_arrival_order);
  RUN(test_serving);
  mien_service_close(svc);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", store_dir);
  CHECK(system(cmd) == 0);
  return check_summary();
}
