/* bench_kernels.c - GFLOP/s of each kernel table on the shapes of the shipped models, one thread.
 *
 * Not built by CMake (a benchmark is not a test). Build and run from the repository root:
 *
 *   gcc -std=c11 -O3 -D_GNU_SOURCE -Isrc -c src/nn/kernels/generic/?*.c
 *   gcc -std=c11 -O3 -D_GNU_SOURCE -Isrc -mavx2 -mfma -c src/nn/kernels/avx2/?*.c
 *   gcc -std=c11 -O3 -D_GNU_SOURCE -Isrc -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx2 -mfma \
 *       -c src/nn/kernels/avx512/?*.c
 *   gcc -std=c11 -O2 -D_GNU_SOURCE -Isrc bench/bench_kernels.c src/nn/cpu.c *.o -lpthread \
 *       -o bench_kernels
 *   rm -f *.o && ./bench_kernels [chunk]
 *
 * Every table the CPU supports is measured (generic, avx2, avx512). Each shape runs for 0.3 s
 * per table and reports its fastest call. With a chunk argument,
 * sgemm is called on column ranges of that many columns, as a threaded operator would, to show
 * what a per-call chunk size costs. The "model" lines sum each model's sgemm shapes with their
 * multiplicities: the time the sgemm part of one inference takes on one thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/kernels/kernels.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *rand_buf(size_t n) {
  float *p = malloc(sizeof(float) * n);
  for (size_t i = 0; i < n; i++) p[i] = (float)(rand() % 2001 - 1000) / 1000.0f;
  return p;
}

typedef void (*run_fn)(void *ctx);

/* Fastest single call over 0.3 s of calls: the machine may be shared, and the minimum is the
 * figure least disturbed by other processes. */
static double best_time(run_fn fn, void *ctx) {
  double best = 1e30, t0 = now();
  for (int i = 0; i < 3 || now() - t0 < 0.3; i++) {
    double t = now();
    fn(ctx);
    t = now() - t;
    if (t < best) best = t;
  }
  return best;
}

typedef struct {
  const mien_kernels *k;
  mien_gemm_args g;
  float *scratch;
  int chunk;
} gemm_ctx;

static void run_gemm(void *p) {
  gemm_ctx *x = p;
  int N = x->g.N, step = x->chunk ? x->chunk : N;
  for (int n0 = 0; n0 < N; n0 += step)
    x->k->sgemm(&x->g, n0, n0 + step < N ? n0 + step : N, x->scratch);
}

static double bench_gemm(const mien_kernels *k, int M, int N, int K, int chunk) {
  gemm_ctx x = {k, {M, N, K, NULL, NULL, (size_t)N, NULL, (size_t)N, {0}}, NULL, chunk};
  float *a = rand_buf((size_t)M * K), *ap = malloc(sizeof(float) * k->pack_a_size(M, K));
  float *b = rand_buf((size_t)K * N), *c = malloc(sizeof(float) * (size_t)M * N);
  float *bias = rand_buf((size_t)M);
  k->pack_a(M, K, a, (size_t)K, ap);
  x.g.a_packed = ap;
  x.g.b = b;
  x.g.c = c;
  x.g.ep.bias = bias;
  x.g.ep.act = MIEN_ACT_RELU;
  x.scratch = malloc(sizeof(float) * k->gemm_scratch_size(K, chunk ? chunk : N));
  double t = best_time(run_gemm, &x);
  free(a), free(ap), free(b), free(c), free(bias), free(x.scratch);
  return t;
}

typedef struct {
  const mien_kernels *k;
  mien_dw_args d;
} dw_ctx;

static void run_dw(void *p) {
  dw_ctx *x = p;
  x->k->dwconv(&x->d, 0, x->d.geo.C);
}

static double bench_dw(const mien_kernels *k, int C, int H, int W, int KS, int S, int P) {
  int OH = (H + 2 * P - KS) / S + 1, OW = (W + 2 * P - KS) / S + 1;
  dw_ctx x = {k, {{C, H, W, OH, OW, KS, KS, S, S, 1, 1, P, P}, NULL, NULL, NULL, {0}}};
  float *w = rand_buf((size_t)C * KS * KS), *in = rand_buf((size_t)C * H * W);
  float *out = malloc(sizeof(float) * (size_t)C * OH * OW), *bias = rand_buf((size_t)C);
  x.d.weight = w;
  x.d.in = in;
  x.d.out = out;
  x.d.ep.bias = bias;
  x.d.ep.act = MIEN_ACT_RELU;
  double t = best_time(run_dw, &x);
  free(w), free(in), free(out), free(bias);
  return t;
}

static const struct {
  const char *model;
  int M, K, N, times;
} gemms[] = {
    {"mfn", 128, 64, 3136, 1}, {"mfn", 256, 64, 784, 1},   {"mfn", 128, 64, 784, 4},
    {"mfn", 64, 128, 784, 5},  {"mfn", 512, 128, 196, 1},  {"mfn", 256, 128, 196, 6},
    {"mfn", 128, 256, 196, 7}, {"mfn", 256, 128, 49, 2},   {"mfn", 128, 256, 49, 2},
    {"mfn", 512, 128, 49, 1},  {"mfn", 128, 512, 49, 1},   {"mfn", 512, 512, 1, 1},
    {"mfn", 64, 27, 3136, 1},  {"rfb", 32, 16, 19200, 1},  {"rfb", 32, 32, 4800, 2},
    {"rfb", 64, 32, 1200, 1},  {"rfb", 64, 64, 1200, 3},   {"rfb", 64, 48, 1200, 1},
    {"rfb", 8, 64, 1200, 1},   {"rfb", 12, 64, 1200, 1},   {"rfb", 6, 64, 1200, 1},
    {"rfb", 128, 64, 300, 1},  {"rfb", 128, 128, 300, 2},  {"rfb", 256, 128, 80, 1},
    {"rfb", 256, 256, 80, 1},  {"rfb", 64, 256, 80, 1},    {"rfb", 16, 27, 19200, 1},
    {"rfb", 16, 144, 1200, 1}, {"big", 256, 256, 3136, 1},
};

typedef struct {
  const mien_kernels *k;
  mien_direct_args a;
  float *scratch;
} direct_ctx;

static void run_direct(void *p) {
  direct_ctx *x = p;
  x->k->conv_direct(&x->a, 0, x->a.geo.OH, x->scratch);
}

/* Direct convolution, 3x3 with padding = dilation, weights as pack_a leaves them. */
static double bench_direct(const mien_kernels *k, int C, int H, int W, int CO, int S, int D) {
  int OH = (H - 1) / S + 1, OW = (W - 1) / S + 1, K = C * 9;
  direct_ctx x = {k, {{C, H, W, OH, OW, 3, 3, S, S, D, D, D, D}, CO, NULL, NULL, NULL, {0}}, NULL};
  float *w = rand_buf((size_t)CO * K), *ap = malloc(sizeof(float) * k->pack_a_size(CO, K));
  float *in = rand_buf((size_t)C * H * W), *out = malloc(sizeof(float) * (size_t)CO * OH * OW);
  float *bias = rand_buf((size_t)CO);
  k->pack_a(CO, K, w, (size_t)K, ap);
  x.a.wt = ap + k->pack_a_size(CO, K) - mien_direct_wt_size(CO, K);
  x.a.in = in;
  x.a.out = out;
  x.a.ep.bias = bias;
  x.a.ep.act = MIEN_ACT_RELU;
  x.scratch = malloc(sizeof(float) * mien_direct_scratch(&x.a));
  double t = best_time(run_direct, &x);
  free(w), free(ap), free(in), free(out), free(bias), free(x.scratch);
  return t;
}

static const struct {
  int C, H, W, CO, S, D;
} directs[] = {
    {3, 240, 320, 16, 2, 1}, {3, 112, 112, 64, 2, 1}, {8, 30, 40, 16, 1, 1},
    {16, 30, 40, 16, 1, 2},  {12, 30, 40, 16, 1, 3},  {256, 4, 5, 12, 1, 1},
};

static const struct {
  int C, H, W, K, S, P;
} dws[] = {
    {64, 56, 56, 3, 1, 1}, {128, 28, 28, 3, 1, 1},  {256, 14, 14, 3, 1, 1},
    {256, 7, 7, 3, 1, 1},  {64, 56, 56, 3, 2, 1},   {128, 28, 28, 3, 2, 1},
    {512, 7, 7, 7, 1, 0},  {16, 120, 160, 3, 1, 1}, {32, 120, 160, 3, 2, 1},
    {32, 60, 80, 3, 1, 1}, {64, 30, 40, 3, 1, 1},   {128, 15, 20, 3, 1, 1},
    {256, 8, 10, 3, 1, 1}, {128, 15, 20, 3, 2, 1},  {64, 8, 10, 3, 2, 1},
};

int main(int argc, char **argv) {
  int chunk = argc > 1 ? atoi(argv[1]) : 0;
  const mien_kernels *tabs[3] = {&mien_kernels_generic};
  int nt = 1;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    tabs[nt++] = &mien_kernels_avx2;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
      tabs[nt++] = &mien_kernels_avx512;
  }
#endif
  double total[2][3] = {{0}};
  printf("sgemm (bias + relu epilogue)%s\n%-4s %5s %5s %6s", chunk ? ", chunked" : "", "", "M", "K",
         "N");
  for (int t = 0; t < nt; t++) printf(" %10s", tabs[t]->isa);
  printf("\n");
  for (size_t i = 0; i < sizeof gemms / sizeof *gemms; i++) {
    double flop = 2.0 * gemms[i].M * gemms[i].K * gemms[i].N;
    printf("%-4s %5d %5d %6d", gemms[i].model, gemms[i].M, gemms[i].K, gemms[i].N);
    for (int t = 0; t < nt; t++) {
      double s = bench_gemm(tabs[t], gemms[i].M, gemms[i].N, gemms[i].K, chunk);
      printf(" %10.1f", flop / s * 1e-9);
      int m = strcmp(gemms[i].model, "mfn") == 0 ? 0 : strcmp(gemms[i].model, "rfb") == 0 ? 1 : -1;
      if (m >= 0) total[m][t] += s * gemms[i].times;
    }
    printf("  GFLOP/s\n");
  }
  for (int m = 0; m < 2; m++) {
    printf("model %s sgemm total:", m ? "rfb" : "mfn");
    for (int t = 0; t < nt; t++) printf(" %s %.3f ms", tabs[t]->isa, total[m][t] * 1e3);
    printf("\n");
  }
  printf("\ndirect 3x3 (bias + relu)\n%5s %4s %4s %4s %2s %2s", "C", "H", "W", "CO", "s", "d");
  for (int t = 0; t < nt; t++) printf(" %10s", tabs[t]->isa);
  printf("\n");
  for (size_t i = 0; i < sizeof directs / sizeof *directs; i++) {
    int OH = (directs[i].H - 1) / directs[i].S + 1, OW = (directs[i].W - 1) / directs[i].S + 1;
    double flop = 2.0 * directs[i].CO * OH * OW * directs[i].C * 9;
    printf("%5d %4d %4d %4d %2d %2d", directs[i].C, directs[i].H, directs[i].W, directs[i].CO,
           directs[i].S, directs[i].D);
    for (int t = 0; t < nt; t++)
      printf(" %10.1f", flop /
                            bench_direct(tabs[t], directs[i].C, directs[i].H, directs[i].W,
                                         directs[i].CO, directs[i].S, directs[i].D) *
                            1e-9);
    printf("  GFLOP/s\n");
  }
  printf("\ndepthwise (bias + relu)\n%5s %4s %4s %2s %2s", "C", "H", "W", "k", "s");
  for (int t = 0; t < nt; t++) printf(" %10s", tabs[t]->isa);
  printf("\n");
  for (size_t i = 0; i < sizeof dws / sizeof *dws; i++) {
    int OH = (dws[i].H + 2 * dws[i].P - dws[i].K) / dws[i].S + 1;
    int OW = (dws[i].W + 2 * dws[i].P - dws[i].K) / dws[i].S + 1;
    double flop = 2.0 * dws[i].C * OH * OW * dws[i].K * dws[i].K;
    printf("%5d %4d %4d %2d %2d", dws[i].C, dws[i].H, dws[i].W, dws[i].K, dws[i].S);
    for (int t = 0; t < nt; t++)
      printf(" %10.1f",
             flop / bench_dw(tabs[t], dws[i].C, dws[i].H, dws[i].W, dws[i].K, dws[i].S, dws[i].P) *
                 1e-9);
    printf("  GFLOP/s\n");
  }
  return 0;
}
