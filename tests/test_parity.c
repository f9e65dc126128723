/* test_parity.c - mien's outputs against ONNX Runtime's, for every default model and YuNet.
 *
 * Each case feeds a model a fixed input (deterministic random tensors, or photos of tests/data
 * prepared by src/image) and compares every output with ONNX Runtime's, stored in
 * tests/fixtures/parity/ by scripts/gen-parity-fixtures: max |mien - ort| must stay within
 * 1e-4 of the output's scale (its largest magnitude). ctest runs this once per kernel table
 * (MIEN_ISA=avx2 and generic).
 *
 * `test_parity --dump-cases DIR` writes the inputs and DIR/cases.tsv for the fixture script.
 */
#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>

#include "check.h"
#include "image/image.h"
#include "mien.h"
#include "util/util.h"

#define FIXTURES "tests/fixtures/parity"

typedef enum { IN_RANDOM, IN_PHOTO } input_kind;

typedef struct {
  const char *name, *model, *outputs; /* outputs: comma-separated tensor names */
  int64_t dims[4];
  input_kind kind;
  float lo, hi;      /* IN_RANDOM: uniform range */
  const char *photo; /* IN_PHOTO: under tests/data; crop x,y,w,h in pixels (0 = whole) */
  int crop[4];
  float mean, scale;
  int gray, bgr;
} parity_case;

#define RANDOM(lo_, hi_) .kind = IN_RANDOM, .lo = lo_, .hi = hi_
#define GROUP_PHOTO "group.jpg"
#define PORTRAIT "collins.jpg" /* her face: about 90x113 px at 181,64 */
static const parity_case cases[] = {
    {"detect_random", "fr_detect.onnx", "scores,boxes", {1, 3, 240, 320}, RANDOM(-1, 1)},
    {"detect_heads_random",
     "fr_detect.onnx",
     "319,333,365,379,405,419,437,449",
     {1, 3, 240, 320},
     RANDOM(-1, 1)},
    {"detect_photo",
     "fr_detect.onnx",
     "scores,boxes",
     {1, 3, 240, 320},
     .kind = IN_PHOTO,
     .photo = GROUP_PHOTO,
     .mean = 127,
     .scale = 1 / 128.0f},
    {"landmark_random", "fr_landmark.onnx", "output", {1, 1, 64, 64}, RANDOM(0, 1)},
    {"landmark_face",
     "fr_landmark.onnx",
     "output",
     {1, 1, 64, 64},
     .kind = IN_PHOTO,
     .photo = PORTRAIT,
     .crop = {181, 64, 90, 113},
     .scale = 1 / 256.0f,
     .gray = 1},
    {"feature_random", "fr_feature.onnx", "output", {1, 3, 112, 112}, RANDOM(-1, 1)},
    {"feature_face",
     "fr_feature.onnx",
     "output",
     {1, 3, 112, 112},
     .kind = IN_PHOTO,
     .photo = PORTRAIT,
     .crop = {177, 52, 98, 130},
     .mean = 127,
     .scale = 1 / 128.0f},
    {"yunet_random", "yunet", "cls_8,obj_16,bbox_32,kps_8", {1, 3, 256, 320}, RANDOM(0, 255)},
    {"yunet_photo",
     "yunet",
     "cls_8,cls_16,cls_32,obj_8,bbox_8,bbox_16,kps_8,kps_32",
     {1, 3, 256, 320},
     .kind = IN_PHOTO,
     .photo = GROUP_PHOTO,
     .scale = 1,
     .bgr = 1},
};
#define NCASES (int)(sizeof cases / sizeof *cases)

static int model_path(const parity_case *c, char *out, size_t n) {
  if (!strcmp(c->model, "yunet")) {
    snprintf(out, n, "%s/data/yunet/face_detection_yunet_2023mar.onnx", shared_dir());
    return file_exists(out) ? 0 : -1;
  }
  return mien_find_model(c->model, out, n);
}

static size_t numel(const parity_case *c) {
  return (size_t)(c->dims[0] * c->dims[1] * c->dims[2] * c->dims[3]);
}

/* The case's input tensor, or NULL (with *why) when its data is not available. */
static float *make_input(const parity_case *c, const char **why) {
  float *x = malloc(numel(c) * sizeof *x);
  if (c->kind == IN_RANDOM) {
    uint32_t s = 0x9E3779B9u ^ (uint32_t)strlen(c->name) * 2654435761u;
    for (size_t i = 0; i < numel(c); i++) {
      s ^= s << 13, s ^= s >> 17, s ^= s << 5;
      x[i] = c->lo + (c->hi - c->lo) * (float)(s >> 8) / 16777216.0f;
    }
    return x;
  }
  char path[1024];
  test_data_path(path, sizeof path, c->photo);
  size_t len;
  uint8_t *bytes = mien_read_file(path, &len);
  mien_image img;
  mien_image_limits lim;
  mien_image_limits_default(&lim);
  char err[256];
  if (!bytes ||
      mien_image_decode(bytes, len, &lim, 0, &img, NULL, err, sizeof err) != MIEN_IMG_OK) {
    free(bytes);
    free(x);
    *why = "photo not available (tests/data incomplete?)";
    return NULL;
  }
  free(bytes);
  const int *cr = c->crop;
  int whole = cr[2] == 0;
  mien_image_resize_to_tensor(&img, whole ? 0 : cr[0], whole ? 0 : cr[1], whole ? img.w : cr[2],
                              whole ? img.h : cr[3], (int)c->dims[3], (int)c->dims[2], c->mean,
                              c->scale, c->gray, c->bgr, x);
  mien_image_free(&img);
  return x;
}

static float *read_fixture(const char *name, const char *output, size_t *n) {
  char path[512];
  snprintf(path, sizeof path, FIXTURES "/%s.%s.f32", name, output);
  size_t len;
  uint8_t *b = mien_read_file(path, &len);
  *n = len / sizeof(float);
  return (float *)b;
}

static void check_case(const parity_case *c) {
  char path[1024], err[512];
  if (model_path(c, path, sizeof path)) TEST_SKIP("%s: model not found (%s)", c->name, path);
  const char *why = "";
  float *x = make_input(c, &why);
  if (!x) TEST_SKIP("%s: %s", c->name, why);
  mien_net *net;
  mien_status st = mien_net_load(path, &net, err, sizeof err);
  CHECK_MSG(st == MIEN_OK, "%s", err);
  if (st != MIEN_OK) {
    free(x);
    return;
  }
  char names[256];
  snprintf(names, sizeof names, "%s", c->outputs);
  const char *outs[16];
  int nout = 0;
  for (char *t = strtok(names, ","); t && nout < 16; t = strtok(NULL, ",")) outs[nout++] = t;
  const int64_t *dp = c->dims;
  int nd = 4;
  mien_plan *plan;
  st = mien_plan_create(net, &dp, &nd, outs, nout, &plan, err, sizeof err);
  CHECK_MSG(st == MIEN_OK, "%s: %s", c->name, err);
  mien_workspace *ws;
  if (st == MIEN_OK && mien_workspace_create(1, &ws) == MIEN_OK) {
    const float *in = x;
    CHECK(mien_run(plan, ws, &in) == MIEN_OK);
    for (int o = 0; o < nout; o++) {
      size_t n;
      float *ref = read_fixture(c->name, outs[o], &n);
      CHECK_MSG(ref != NULL, "%s: fixture for output %s missing (scripts/gen-parity-fixtures)",
                c->name, outs[o]);
      if (!ref) continue;
      int64_t dims[8];
      int od = mien_plan_output_dims(plan, o, dims, 8);
      size_t cnt = 1;
      for (int d = 0; d < od; d++) cnt *= (size_t)dims[d];
      CHECK_MSG(cnt == n, "%s.%s: %zu values, reference has %zu", c->name, outs[o], cnt, n);
      const float *y = mien_workspace_output(ws, o);
      double scale = 0, worst = 0, dot = 0, yy = 0, rr = 0;
      for (size_t i = 0; i < n && cnt == n; i++) {
        double d = fabs((double)y[i] - ref[i]);
        scale = fabs(ref[i]) > scale ? fabs(ref[i]) : scale;
        worst = d > worst ? d : worst;
        dot += (double)y[i] * ref[i], yy += (double)y[i] * y[i], rr += (double)ref[i] * ref[i];
      }
      /* Embeddings are compared by cosine: the bar is >= 0.9999 against ORT's. */
      if (!strcmp(c->model, "fr_feature.onnx"))
        CHECK_MSG(dot / sqrt(yy * rr) >= 0.9999, "%s: cosine with ONNX Runtime %.6f", c->name,
                  dot / sqrt(yy * rr));
      CHECK_MSG(worst <= 1e-4 * (scale > 0 ? scale : 1), "%s.%s: max abs error %.3g, scale %.3g",
                c->name, outs[o], worst, scale);
      printf("  %-20s %-8s max|err| %.2e  scale %.3g  (%s)\n", c->name, outs[o], worst, scale,
             mien_isa());
      free(ref);
    }
    mien_workspace_free(ws);
  }
  mien_plan_free(plan);
  mien_net_free(net);
  free(x);
}

static int dump_cases(const char *dir) {
  char path[1024];
  mkdir(dir, 0755);
  snprintf(path, sizeof path, "%s/cases.tsv", dir);
  FILE *tsv = fopen(path, "w");
  if (!tsv) return perror(path), 1;
  for (int i = 0; i < NCASES; i++) {
    const parity_case *c = &cases[i];
    char model[1024], full[PATH_MAX];
    const char *why = "";
    float *x;
    if (model_path(c, model, sizeof model) || !realpath(model, full) ||
        !(x = make_input(c, &why))) {
      fprintf(stderr, "skipping %s: model or data missing %s\n", c->name, why);
      continue;
    }
    snprintf(path, sizeof path, "%s/%s.input.f32", dir, c->name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(x, sizeof *x, numel(c), f) != numel(c)) return perror(path), 1;
    fclose(f);
    free(x);
    fprintf(tsv, "%s\t%s\tinput\t%lld,%lld,%lld,%lld\t%s.input.f32\t%s\n", c->name, full,
            (long long)c->dims[0], (long long)c->dims[1], (long long)c->dims[2],
            (long long)c->dims[3], c->name, c->outputs);
  }
  fclose(tsv);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "--dump-cases")) return dump_cases(argv[2]);
  for (int i = 0; i < NCASES; i++) RUN_AS(cases[i].name, check_case(&cases[i]));
  return check_summary();
}
