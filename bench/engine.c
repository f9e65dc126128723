/* engine.c - mien-bench-engine (formerly `mien bench`): how fast the engine runs each model, like
 * llama-bench. A research tool beside the `mien` program: it reaches the engine's insides (the
 * per-layer profile, the face pipeline's landmark and embedding stages), which mien.h does not
 * show; its flags and output are those `mien bench` had, so results stay comparable.
 *
 * Each configuration is timed as the median of N runs after a warm-up, on deterministic random
 * input. "layers" splits every layer across the threads (one inference at a time: latency);
 * "faces" runs one independent inference per thread (throughput, as when embedding many
 * faces). bench/engine.sh runs ONNX Runtime on the same models and inputs in the same run and
 * prints the ratios. --embed IMAGE times the per-face work after detection instead (what
 * `mien embed --bench` did; bench/embed.sh).
 */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "face/detect.h"
#include "face/embed.h"
#include "mien.h"
#include "nn/nn.h"
#include "util/util.h"

typedef struct {
  const char *model;
  long long dims[8];
  int ndim;
} bench_model;

static const bench_model defaults[] = {
    {"fr_detect.onnx", {1, 3, 240, 320}, 4},
    {"fr_landmark.onnx", {1, 1, 64, 64}, 4},
    {"fr_feature.onnx", {1, 3, 112, 112}, 4},
};

typedef struct {
  const mien_plan *plan;
  const float *input;
  int runs;
  double ms;
} faces_job;

static void *faces_thread(void *arg) {
  faces_job *j = arg;
  mien_workspace *ws;
  if (mien_workspace_create(1, &ws) != MIEN_OK) return NULL;
  mien_run(j->plan, ws, &j->input); /* warm-up */
  double t0 = mien_now_ms();
  for (int i = 0; i < j->runs; i++) mien_run(j->plan, ws, &j->input);
  j->ms = mien_now_ms() - t0;
  mien_workspace_free(ws);
  return NULL;
}

static int bench_one(const char *path, const long long *dims, int ndim, int threads, int runs,
                     int warmup, int faces, int json, int profile) {
  char err[512];
  mien_net *net;
  mien_status st = mien_net_load(path, &net, err, sizeof err);
  if (st != MIEN_OK) {
    fprintf(stderr, "mien-bench-engine: %s\n", err);
    return cli_exit_code(st);
  }
  int64_t d64[8];
  for (int i = 0; i < ndim; i++) d64[i] = dims[i];
  const int64_t *dp = d64;
  mien_plan *plan;
  st = mien_plan_create(net, &dp, &ndim, NULL, 0, &plan, err, sizeof err);
  if (st != MIEN_OK) {
    fprintf(stderr, "mien-bench-engine: %s: %s\n", path, err);
    mien_net_free(net);
    return cli_exit_code(st);
  }
  size_t n = 1;
  for (int i = 0; i < ndim; i++) n *= (size_t)dims[i];
  float *input = malloc(n * sizeof *input);
  double *ms = malloc((size_t)runs * sizeof *ms);
  uint32_t x = 2463534242u;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    input[i] = (float)(x >> 8) / 8388608.0f - 1.0f;
  }
  double median, p10, p90, per_s;
  if (faces) { /* one inference per thread at a time, all threads busy */
    pthread_t tid[64];
    faces_job jobs[64];
    int t = threads > 64 ? 64 : threads;
    double t0 = mien_now_ms();
    for (int i = 0; i < t; i++) {
      jobs[i] = (faces_job){plan, input, runs, 0};
      pthread_create(&tid[i], NULL, faces_thread, &jobs[i]);
    }
    for (int i = 0; i < t; i++) pthread_join(tid[i], NULL);
    double wall = mien_now_ms() - t0;
    median = p10 = p90 = jobs[0].ms / runs;
    per_s = 1000.0 * t * runs / wall;
  } else {
    mien_workspace *ws;
    mien_workspace_create(threads, &ws);
    if (profile) nn_workspace_profile(ws);
    const float *in = input;
    for (int i = 0; i < warmup; i++) mien_run(plan, ws, &in);
    if (ws->profiling) memset(ws->profile, 0, (size_t)net->g.nnodes * sizeof *ws->profile);
    for (int i = 0; i < runs; i++) {
      double t0 = mien_now_ms();
      mien_run(plan, ws, &in);
      ms[i] = mien_now_ms() - t0;
    }
    if (profile) nn_profile_print(plan, ws, runs, stderr);
    mien_workspace_free(ws);
    mien_sort_doubles(ms, runs);
    median = ms[runs / 2];
    p10 = ms[runs / 10];
    p90 = ms[runs * 9 / 10];
    per_s = 1000.0 / median;
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  if (json) {
    printf("{\"model\":\"%s\",\"shape\":[", name);
    for (int i = 0; i < ndim; i++) printf("%s%lld", i ? "," : "", dims[i]);
    printf("],\"threads\":%d,\"parallel\":\"%s\",\"isa\":\"%s\",\"runs\":%d,\"ms_median\":%.4f,"
           "\"ms_p10\":%.4f,\"ms_p90\":%.4f,\"per_second\":%.1f,\"gflops\":%.2f,\"mmacs\":%.2f,"
           "\"arena_bytes\":%zu,\"max_rss_bytes\":%ld}\n",
           threads, faces ? "faces" : "layers", mien_isa(), runs, median, p10, p90, per_s,
           2 * mien_plan_macs(plan) / (median * 1e6), mien_plan_macs(plan) / 1e6,
           mien_plan_arena_bytes(plan), ru.ru_maxrss * 1024L);
  } else {
    printf("%-18s %-8s threads %-2d %-6s %8.3f ms  (p10 %.3f, p90 %.3f)  %6.1f GFLOP/s  %7.1f/s  "
           "arena %.2f MB\n",
           name, faces ? "faces" : "layers", threads, mien_isa(), median, p10, p90,
           2 * mien_plan_macs(plan) / (median * 1e6), per_s, mien_plan_arena_bytes(plan) / 1e6);
  }
  fflush(stdout);
  free(input);
  free(ms);
  mien_plan_free(plan);
  mien_net_free(net);
  return EXIT_OK;
}

/* ---- --embed: the per-face work after detection ---- */

/* Times landmarks and align + embed per face over `runs` passes over the image's faces. */
static int embed_bench(mien_faces *f, const mien_image *img, const mien_face *faces, int n,
                       int runs, int threads) {
  if (n == 0) return cli_fail(NULL, MIEN_ERR_INVALID_PARAMETER, "no face to time in the image");
  double *lm = malloc((size_t)runs * sizeof *lm), *em = malloc((size_t)runs * sizeof *em);
  char err[512] = "";
  mien_status st = lm && em ? MIEN_OK : MIEN_ERR_NOMEM;
  float emb[MIEN_EMBED_DIM];
  for (int r = 0; st == MIEN_OK && r < runs; r++) {
    double t0 = mien_now_ms(), t_lm = 0;
    for (int i = 0; st == MIEN_OK && i < n; i++) {
      mien_face face = faces[i];
      double a = mien_now_ms();
      st = mien_face_landmarks(f, img, &face);
      t_lm += mien_now_ms() - a;
      if (st == MIEN_OK) st = mien_faces_embed(f, img, &face, emb, err, sizeof err);
    }
    lm[r] = t_lm / n, em[r] = (mien_now_ms() - t0 - t_lm) / n;
  }
  int rc = st == MIEN_OK ? EXIT_OK : cli_fail(NULL, st, err[0] ? err : "landmarks failed");
  if (rc == EXIT_OK) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "faces", n);
    cJSON_AddNumberToObject(root, "runs", runs);
    cJSON_AddNumberToObject(root, "threads", threads);
    double l = mien_median(lm, runs), e = mien_median(em, runs);
    cJSON_AddItemToObject(root, "landmarks_ms", cli_json_number(l, 4));
    cJSON_AddItemToObject(root, "align_embed_ms", cli_json_number(e, 4));
    cJSON_AddItemToObject(root, "per_face_ms", cli_json_number(l + e, 4));
    rc = cli_print_json(stdout, root);
  }
  free(lm);
  free(em);
  return rc;
}

/* Decodes and detects the image at path, then times its faces (embed_bench). */
static int bench_embed(const char *path, int runs, int threads) {
  char err[512] = "";
  mien_faces_options opt = {.threads = threads};
  mien_faces *f = NULL;
  mien_image img = {0};
  mien_face *faces = NULL;
  int n = 0;
  size_t len;
  uint8_t *bytes = mien_read_file(path, &len);
  mien_status st = bytes ? mien_faces_create(&opt, &f, err, sizeof err)
                         : MIEN_FAIL(err, sizeof err, MIEN_ERR_IO, "cannot read %s", path);
  if (st == MIEN_OK) st = mien_decode_image(bytes, len, &img, err, sizeof err);
  free(bytes);
  if (st == MIEN_OK) st = mien_faces_detect(f, &img, &faces, &n, err, sizeof err);
  int rc = st == MIEN_OK
               ? embed_bench(f, &img, faces, n, runs, threads ? threads : mien_cpu_count())
               : cli_fail("mien-bench-engine", st, err);
  free(faces);
  mien_image_free(&img);
  mien_faces_free(f);
  return rc;
}

/* Parses "1,3,240,320" into dims; returns the count or -1. */
static int parse_dims(const char *s, long long *dims, int max) {
  int n = 0;
  while (*s) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || v < 1 || n == max) return -1;
    dims[n++] = v;
    s = *end == ',' ? end + 1 : end;
    if (*end && *end != ',') return -1;
  }
  return n ? n : -1;
}

static void bench_usage(FILE *f) {
  fprintf(f,
          "usage: mien-bench-engine [--model PATH --shape 1,3,H,W] [--threads N] [--runs N]\n"
          "                         [--warmup N] [--parallel layers|faces] [--json] [--profile]\n"
          "       mien-bench-engine --embed IMAGE [--runs N] [--threads N]\n\n"
          "Without --model, times the three default models at 1 thread and at one thread per\n"
          "core. --profile prints per-layer times as JSON on stderr.\n"
          "--embed IMAGE: instead, time the per-face work after detection (landmarks, then\n"
          "alignment and embedding) RUNS times and print the medians in ms (bench/embed.sh).\n"
          "The search index has its own benchmark: build/mien-bench-search (make bench-search).\n");
}

int main(int argc, char **argv) {
  static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                       {"shape", required_argument, 0, 's'},
                                       {"threads", required_argument, 0, 't'},
                                       {"runs", required_argument, 0, 'r'},
                                       {"warmup", required_argument, 0, 'w'},
                                       {"parallel", required_argument, 0, 'p'},
                                       {"json", no_argument, 0, 'j'},
                                       {"profile", no_argument, 0, 'P'},
                                       {"embed", required_argument, 0, 'e'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *model = NULL, *embed = NULL;
  long long dims[8];
  int ndim = 0, threads = 0, runs = 30, warmup = 5, faces = 0, json = 0, profile = 0, c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'm':
      model = optarg;
      break;
    case 's':
      ndim = parse_dims(optarg, dims, 8);
      break;
    case 't':
      threads = atoi(optarg);
      break;
    case 'r':
      runs = atoi(optarg);
      break;
    case 'w':
      warmup = atoi(optarg);
      break;
    case 'p':
      faces = !strcmp(optarg, "faces");
      break;
    case 'j':
      json = 1;
      break;
    case 'P':
      profile = 1;
      break;
    case 'e':
      embed = optarg;
      break;
    case 'h':
      bench_usage(stdout);
      return EXIT_OK;
    default:
      bench_usage(stderr);
      return EXIT_USAGE;
    }
  }
  if (runs < 1 || warmup < 0 || threads < 0 || (model && ndim < 1) || optind < argc ||
      (embed && model)) {
    bench_usage(stderr);
    return EXIT_USAGE;
  }
  if (embed) return bench_embed(embed, runs, threads);
  if (model)
    return bench_one(model, dims, ndim, threads ? threads : mien_cpu_count(), runs, warmup, faces,
                     json, profile);
  int rc = EXIT_OK;
  for (size_t i = 0; i < sizeof defaults / sizeof *defaults && rc == EXIT_OK; i++) {
    char path[1024];
    if (mien_find_model(defaults[i].model, path, sizeof path)) {
      fprintf(stderr, "mien-bench-engine: %s\n", path);
      return EXIT_SETUP;
    }
    int counts[2] = {1, threads ? threads : mien_cpu_count()};
    for (int k = 0; k < 2 && rc == EXIT_OK; k++) {
      if (k == 1 && counts[1] == 1) break;
      rc = bench_one(path, defaults[i].dims, defaults[i].ndim, counts[k], runs, warmup, faces, json,
                     profile);
    }
  }
  return rc;
}
