/* test_engine.c - the engine's contract beyond numerical parity: hostile model files fail
 * cleanly, plans stop at named tensors and adapt to input sizes, threads do not change results,
 * and the arena is smaller than keeping every tensor. */
#include <stdint.h>
#include <time.h>

#include "check.h"
#include "mien.h"
#include "util/util.h"

static uint8_t *load_model_bytes(const char *name, size_t *len) {
  char path[1024];
  if (mien_find_model(name, path, sizeof path)) return NULL;
  return mien_read_file(path, len);
}

static void truncated_models_fail_cleanly(void) {
  size_t len;
  uint8_t *b = load_model_bytes("fr_landmark.onnx", &len);
  if (!b) TEST_SKIP("models not fetched");
  char err[512];
  int failures = 0;
  for (int i = 0; i < 64; i++) {
    size_t cut = len * (size_t)i / 64;
    mien_net *net = NULL;
    err[0] = 0;
    mien_status st = mien_net_load_buffer(b, cut, &net, err, sizeof err);
    failures += st != MIEN_OK;
    CHECK_MSG(st == MIEN_OK || err[0], "cut at %zu: failure without a message", cut);
    CHECK(st != MIEN_OK || net != NULL);
    mien_net_free(net);
  }
  CHECK_MSG(failures >= 60, "only %d of 64 truncations were refused", failures);
  free(b);
}

static void bit_flipped_models_never_crash(void) {
  size_t len;
  uint8_t *b = load_model_bytes("fr_landmark.onnx", &len);
  if (!b) TEST_SKIP("models not fetched");
  uint32_t s = 12345;
  char err[512];
  int refused = 0;
  for (int i = 0; i < 200; i++) {
    uint8_t *c = malloc(len);
    memcpy(c, b, len);
    for (int k = 0; k < 1 + i % 8; k++) {
      s ^= s << 13, s ^= s >> 17, s ^= s << 5;
      c[s % len] ^= (uint8_t)(1u << (s >> 29));
    }
    mien_net *net = NULL;
    if (mien_net_load_buffer(c, len, &net, err, sizeof err) == MIEN_OK) {
      /* Loaded: flipped bits landed in weights or names. Planning and running must still be
       * safe, whatever the numbers. */
      int64_t d[4] = {1, 1, 64, 64};
      const int64_t *dp = d;
      int nd = 4;
      mien_plan *p;
      if (mien_plan_create(net, &dp, &nd, NULL, 0, &p, err, sizeof err) == MIEN_OK) {
        mien_workspace *ws;
        float *x = calloc(64 * 64, sizeof *x);
        const float *in = x;
        if (mien_workspace_create(1, &ws) == MIEN_OK) mien_run(p, ws, &in), mien_workspace_free(ws);
        free(x);
        mien_plan_free(p);
      } else {
        refused++;
      }
      mien_net_free(net);
    } else {
      refused++;
      CHECK(err[0] != 0);
    }
    free(c);
  }
  printf("  %d of 200 corrupted models refused, the rest ran safely\n", refused);
  free(b);
}

static void garbage_is_not_a_model(void) {
  char err[512] = "";
  mien_net *net;
  const char text[] = "this is not an onnx model";
  CHECK(mien_net_load_buffer(text, sizeof text, &net, err, sizeof err) == MIEN_ERR_MODEL);
  CHECK(strstr(err, "ONNX") != NULL);
  CHECK(mien_net_load_buffer(text, 0, &net, err, sizeof err) == MIEN_ERR_MODEL);
  CHECK(mien_net_load("/nonexistent/model.onnx", &net, err, sizeof err) == MIEN_ERR_IO);
  CHECK(strstr(err, "/nonexistent/model.onnx") != NULL);
}

static mien_net *load(const char *name) {
  char path[1024], err[512];
  mien_net *net = NULL;
  if (mien_find_model(name, path, sizeof path) == 0) mien_net_load(path, &net, err, sizeof err);
  return net;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The declared interface of a model, as a caller sees it before planning. */
static void model_interface_is_described(void) {
  mien_net *net = load("fr_detect.onnx");
  if (!net) TEST_SKIP("models not fetched");
  int64_t d[8];
  CHECK(mien_net_input_count(net) == 1);
  CHECK(!strcmp(mien_net_input_name(net, 0), "input"));
  CHECK(mien_net_input_dims(net, 0, d, 8) == 4);
  CHECK(d[0] == 1 && d[1] == 3 && d[2] == 240 && d[3] == 320);
  CHECK(mien_net_input_name(net, 1) == NULL && mien_net_input_dims(net, 1, d, 8) == -1);
  CHECK(mien_net_output_count(net) == 2);
  CHECK(!strcmp(mien_net_output_name(net, 0), "scores"));
  CHECK(!strcmp(mien_net_output_name(net, 1), "boxes"));
  CHECK(mien_net_output_name(net, 2) == NULL);
  mien_net_free(net);
}

/* The detector's backbone is fully convolutional: stopping at the 8 head convolutions works at
 * any size, and the heads scale with it. */
static void detector_heads_at_any_size(void) {
  mien_net *net = load("fr_detect.onnx");
  if (!net) TEST_SKIP("models not fetched");
  const char *heads[] = {"319", "333", "365", "379", "405", "419", "437", "449"};
  static const int64_t sizes[][2] = {{240, 320}, {480, 640}, {97, 131}, {1080, 1920}};
  char err[512];
  for (int i = 0; i < 4; i++) {
    int64_t d[4] = {1, 3, sizes[i][0], sizes[i][1]};
    const int64_t *dp = d;
    int nd = 4;
    mien_plan *p;
    double t0 = now_ms();
    mien_status st = mien_plan_create(net, &dp, &nd, heads, 8, &p, err, sizeof err);
    double ms = now_ms() - t0;
    CHECK_MSG(st == MIEN_OK, "%s", err);
    if (st != MIEN_OK) continue;
    int64_t od[8];
    CHECK(mien_plan_output_count(p) == 8);
    CHECK(mien_plan_output_dims(p, 0, od, 8) == 4);
    CHECK(od[1] == 6 && od[2] == (sizes[i][0] + 7) / 8 && od[3] == (sizes[i][1] + 7) / 8);
    printf("  %lldx%lld planned in %.2f ms, arena %.1f MB, %.0f M MACs\n", (long long)sizes[i][1],
           (long long)sizes[i][0], ms, mien_plan_arena_bytes(p) / 1e6, mien_plan_macs(p) / 1e6);
    mien_plan_free(p);
  }
  /* The full graph has priors baked for 320x240 and refuses other sizes with a message. */
  int64_t d[4] = {1, 3, 480, 640};
  const int64_t *dp = d;
  int nd = 4;
  mien_plan *p = NULL;
  CHECK(mien_plan_create(net, &dp, &nd, NULL, 0, &p, err, sizeof err) == MIEN_ERR_MODEL);
  CHECK(strstr(err, "node") != NULL);
  const char *missing = "no_such_tensor";
  CHECK(mien_plan_create(net, &dp, &nd, &missing, 1, &p, err, sizeof err) != MIEN_OK);
  CHECK(strstr(err, "no_such_tensor") != NULL);
  mien_net_free(net);
}

static void threads_do_not_change_results(void) {
  mien_net *net = load("fr_feature.onnx");
  if (!net) TEST_SKIP("models not fetched");
  int64_t d[4] = {1, 3, 112, 112};
  const int64_t *dp = d;
  int nd = 4;
  mien_plan *p;
  char err[512];
  CHECK(mien_plan_create(net, &dp, &nd, NULL, 0, &p, err, sizeof err) == MIEN_OK);
  float *x = malloc(3 * 112 * 112 * sizeof *x), out1[512];
  for (int i = 0; i < 3 * 112 * 112; i++) x[i] = (float)((i * 7919) % 255) / 128.0f - 1.0f;
  const float *in = x;
  mien_workspace *w1, *w2;
  CHECK(mien_workspace_create(1, &w1) == MIEN_OK && mien_workspace_create(2, &w2) == MIEN_OK);
  CHECK(mien_run(p, w1, &in) == MIEN_OK);
  memcpy(out1, mien_workspace_output(w1, 0), sizeof out1);
  for (int rep = 0; rep < 3; rep++) {
    CHECK(mien_run(p, w2, &in) == MIEN_OK);
    const float *o2 = mien_workspace_output(w2, 0);
    double worst = 0;
    for (int i = 0; i < 512; i++) worst = fmax(worst, fabs((double)out1[i] - o2[i]));
    CHECK_MSG(worst < 1e-5, "2 threads differ from 1 by %g", worst);
  }
  /* The arena holds the live set, not every tensor: MobileFaceNet's largest activation is
   * 128x56x56 floats (1.6 MB); all of them together are over 10 MB. */
  CHECK(mien_plan_arena_bytes(p) < 4u << 20);
  mien_workspace_free(w1), mien_workspace_free(w2);
  mien_plan_free(p);
  mien_net_free(net);
  free(x);
}

int main(void) {
  RUN(garbage_is_not_a_model);
  RUN(truncated_models_fail_cleanly);
  RUN(bit_flipped_models_never_crash);
  RUN(model_interface_is_described);
  RUN(detector_heads_at_any_size);
  RUN(threads_do_not_change_results);
  return check_summary();
}
