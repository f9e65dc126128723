/* test_kernels.c - every kernel table against naive reference loops written here.
 *
 * sgemm over a grid of awkward shapes (sizes around the 4/6/8/16 tile edges, K across several
 * K blocks, M across several row blocks, N across several column blocks), column sub-ranges,
 * padded strides and every epilogue; depthwise convolution over the fast paths (3x3 / 4x4 at
 * stride 1 and 2, global 7x7 and 4x4) and the general ones (dilation, odd strides, asymmetric
 * padding, channel sub-ranges); im2col with strides, dilations, padding and column chunks;
 * direct convolution over the first-layer, RFB-branch and head shapes, vector and block edges,
 * other kernels and strides, and row sub-ranges, with the weights pack_a appends.
 * Buffers are exactly the size the contract promises, so ASan catches any overrun, and
 * everything a call must not touch is filled with a sentinel and checked afterwards.
 */
#include <stdint.h>

#include "check.h"
#include "nn/kernels/kernels.h"

#define SENTINEL 1234.5f

static const mien_kernels *tables[3];
static int ntables;

static uint32_t rng = 12345;
static float frand(void) {
  rng = rng * 1664525u + 1013904223u;
  return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}
static float *rand_buf(size_t n) {
  float *p = malloc(sizeof(float) * (n ? n : 1));
  for (size_t i = 0; i < n; i++) p[i] = frand();
  return p;
}
static float *fill_buf(size_t n, float v) {
  float *p = malloc(sizeof(float) * (n ? n : 1));
  for (size_t i = 0; i < n; i++) p[i] = v;
  return p;
}

static double ref_act(mien_act act, double v, const float *slope, int m) {
  if (act == MIEN_ACT_RELU) return v > 0 ? v : 0;
  if (act == MIEN_ACT_PRELU) return v < 0 ? v * slope[m] : v;
  return v;
}

/* Epilogue variant e (0..11): bits choose bias and residual, e / 4 the activation. */
typedef struct {
  float *bias, *res, *slope;
  mien_epilogue ep;
} epi;
static epi make_epi(int e, int rows, size_t res_len) {
  epi x = {0};
  if (e & 1) x.bias = rand_buf((size_t)rows);
  if (e & 2) x.res = rand_buf(res_len);
  x.slope = rand_buf((size_t)rows);
  x.ep.bias = x.bias;
  x.ep.residual = x.res;
  x.ep.act = (mien_act)(e / 4 % 3);
  x.ep.slope = x.ep.act == MIEN_ACT_PRELU ? x.slope : NULL;
  return x;
}
static void free_epi(epi *x) {
  free(x->bias);
  free(x->res);
  free(x->slope);
}

static int cmp_fail; /* report only the first few mismatches per case */
static void expect(double got, double want, double scale, const char *what, int i, int j) {
  double tol = 1e-5 * scale + 1e-6;
  if (fabs(got - want) <= tol || cmp_fail > 5) return;
  cmp_fail++;
  CHECK_MSG(0, "%s [%d,%d]: got %.7g want %.7g (tol %g)", what, i, j, got, want, tol);
}

/* got against acc plus the bias of row m and the residual at `at`, through the activation of x. */
static void expect_epi(const epi *x, double got, double acc, double mag, int m, size_t at,
                       const char *what) {
  if (x->bias) acc += x->bias[m], mag += fabs(x->bias[m]);
  if (x->res) acc += x->res[at], mag += fabs(x->res[at]);
  expect(got, ref_act(x->ep.act, acc, x->slope, m), mag, what, m, (int)at);
}

/* The taps of one input plane (weights w[KH][KW]) for output pixel (oh, ow), in double, into
 * acc; mag sums their magnitudes, for the tolerance. */
static void ref_taps(const mien_conv_geom *g, const float *plane, const float *w, int oh, int ow,
                     double *acc, double *mag) {
  for (int kh = 0; kh < g->KH; kh++)
    for (int kw = 0; kw < g->KW; kw++) {
      int ih = oh * g->SH - g->PT + kh * g->DH, iw = ow * g->SW - g->PL + kw * g->DW;
      if (ih < 0 || ih >= g->H || iw < 0 || iw >= g->W) continue;
      double p = (double)plane[(size_t)ih * g->W + iw] * w[kh * g->KW + kw];
      *acc += p;
      *mag += fabs(p);
    }
}

/* ---- sgemm ---- */

static void gemm_case(const mien_kernels *kt, int M, int N, int K, int ldb_pad, int ldc_pad, int n0,
                      int n1, int e, int in_place) {
  size_t ldb = (size_t)N + ldb_pad, ldc = (size_t)N + ldc_pad;
  float *a = rand_buf((size_t)M * K), *b = rand_buf((size_t)K * ldb);
  float *ap = malloc(sizeof(float) * kt->pack_a_size(M, K));
  kt->pack_a(M, K, a, (size_t)K, ap);
  epi x = make_epi(e, M, (size_t)M * ldc);
  float *c = in_place && x.res ? x.res : fill_buf((size_t)M * ldc, SENTINEL);
  float *orig = malloc(sizeof(float) * (size_t)M * ldc);
  memcpy(orig, c, sizeof(float) * (size_t)M * ldc);
  const float *res = in_place && x.res ? orig : x.res;
  size_t ss = kt->gemm_scratch_size(K, n1 - n0);
  float *scratch = ss ? malloc(sizeof(float) * ss) : NULL;
  mien_gemm_args g = {M, N, K, ap, b, ldb, c, ldc, x.ep};
  kt->sgemm(&g, n0, n1, scratch);
  char what[96];
  snprintf(what, sizeof what, "%s sgemm M%d N%d K%d [%d,%d) e%d%s", kt->isa, M, N, K, n0, n1, e,
           in_place ? " in-place" : "");
  cmp_fail = 0;
  for (int m = 0; m < M; m++)
    for (size_t n = 0; n < ldc; n++) {
      size_t at = (size_t)m * ldc + n;
      if ((int)n < n0 || (int)n >= n1) {
        expect(c[at], orig[at], 0, what, m, (int)n);
        continue;
      }
      double s = 0, mag = 0;
      for (int k = 0; k < K; k++) {
        double p = (double)a[(size_t)m * K + k] * b[(size_t)k * ldb + n];
        s += p;
        mag += fabs(p);
      }
      if (x.bias) s += x.bias[m], mag += fabs(x.bias[m]);
      if (res) s += res[at], mag += fabs(res[at]);
      expect(c[at], ref_act(x.ep.act, s, x.slope, m), mag, what, m, (int)n);
    }
  if (c != x.res) free(c);
  free(orig);
  free(scratch);
  free(ap);
  free(a);
  free(b);
  free_epi(&x);
}

static void test_gemm_grid(void) {
  static const int ms[] = {1, 3, 4, 5, 6, 7, 12, 17, 33};
  static const int ns[] = {1, 3, 7, 8, 9, 15, 16, 17, 33, 49};
  static const int ks[] = {1, 2, 3, 7, 17, 64};
  int e = 0;
  for (int t = 0; t < ntables; t++)
    for (size_t i = 0; i < sizeof ms / sizeof *ms; i++)
      for (size_t j = 0; j < sizeof ns / sizeof *ns; j++)
        for (size_t k = 0; k < sizeof ks / sizeof *ks; k++, e++)
          gemm_case(tables[t], ms[i], ns[j], ks[k], (int)(e % 3) * 5, (int)(e % 2) * 3, 0, ns[j],
                    e % 12, 0);
}

/* Shapes of the real models and the block boundaries: several K blocks (K > 256), several
 * row blocks (M > 192 at K 256), several column blocks (N > 512). */
static void test_gemm_large(void) {
  static const int shapes[][3] = {
      {128, 3136, 64}, {64, 784, 128}, {512, 196, 128}, {128, 49, 256}, {128, 49, 512},
      {512, 1, 512},   {32, 1200, 16}, {8, 1200, 64},   {12, 300, 64},  {64, 80, 256},
      {100, 100, 100}, {513, 33, 257}, {17, 37, 4608},  {3, 1100, 27},  {200, 700, 513},
  };
  for (int t = 0; t < ntables; t++)
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
      int M = shapes[i][0], N = shapes[i][1], K = shapes[i][2];
      gemm_case(tables[t], M, N, K, 0, 0, 0, N, (int)i % 12, 0);
      if (N > 3) gemm_case(tables[t], M, N, K, 7, 5, N / 3, N - N / 4, (int)(i + 5) % 12, 0);
    }
}

/* Around the AVX-512 tile edges (12/8-row panels, 16/32-column tiles) and the M at which it
 * switches from reading B in place to packing it. */
static void test_gemm_tiles(void) {
  static const int ms[] = {8, 16, 20, 24, 36, 48, 49, 60};
  static const int ns[] = {16, 31, 32, 33, 48, 65};
  int e = 0;
  for (int t = 0; t < ntables; t++)
    for (size_t i = 0; i < sizeof ms / sizeof *ms; i++)
      for (size_t j = 0; j < sizeof ns / sizeof *ns; j++, e++)
        gemm_case(tables[t], ms[i], ns[j], e % 2 ? 5 : 300, (int)(e % 3) * 7, (int)(e % 2) * 3, 0,
                  ns[j], e % 12, 0);
}

static void test_gemm_epilogues(void) {
  for (int t = 0; t < ntables; t++)
    for (int e = 0; e < 12; e++) {
      gemm_case(tables[t], 13, 45, 300, 3, 2, 0, 45, e, 0);
      gemm_case(tables[t], 7, 40, 20, 0, 0, 3, 38, e, 0);
    }
}

/* residual == c (an in-place Add), also across K blocks */
static void test_gemm_in_place(void) {
  for (int t = 0; t < ntables; t++)
    for (int e = 2; e < 12; e += 4) {
      gemm_case(tables[t], 19, 70, 600, 0, 4, 5, 61, e, 1);
      gemm_case(tables[t], 6, 16, 8, 0, 0, 0, 16, e + 1, 1);
    }
}

/* Every column split a threaded caller might use, chunk by chunk into one C. */
static void test_gemm_split(void) {
  int M = 23, N = 101, K = 45;
  for (int t = 0; t < ntables; t++)
    for (int chunk = 1; chunk <= 40; chunk += 13) {
      const mien_kernels *kt = tables[t];
      float *a = rand_buf((size_t)M * K), *b = rand_buf((size_t)K * N);
      float *ap = malloc(sizeof(float) * kt->pack_a_size(M, K));
      float *c1 = fill_buf((size_t)M * N, 0), *c2 = fill_buf((size_t)M * N, 0);
      float *s = malloc(sizeof(float) * kt->gemm_scratch_size(K, N));
      kt->pack_a(M, K, a, (size_t)K, ap);
      mien_gemm_args g = {M, N, K, ap, b, (size_t)N, c1, (size_t)N, {0}};
      kt->sgemm(&g, 0, N, s);
      g.c = c2;
      for (int n0 = 0; n0 < N; n0 += chunk) kt->sgemm(&g, n0, n0 + chunk < N ? n0 + chunk : N, s);
      CHECK_MSG(memcmp(c1, c2, sizeof(float) * (size_t)M * N) == 0, "%s split %d", kt->isa, chunk);
      free(a), free(b), free(ap), free(c1), free(c2), free(s);
    }
}

/* ---- depthwise ---- */

typedef struct {
  int C, H, W, KH, KW, SH, SW, DH, DW, PT, PL, PB, PR, c0, c1;
} dw_shape;

static void dw_case(const mien_kernels *kt, dw_shape s, int e) {
  int OH = (s.H + s.PT + s.PB - s.DH * (s.KH - 1) - 1) / s.SH + 1;
  int OW = (s.W + s.PL + s.PR - s.DW * (s.KW - 1) - 1) / s.SW + 1;
  size_t osz = (size_t)s.C * OH * OW;
  float *in = rand_buf((size_t)s.C * s.H * s.W), *w = rand_buf((size_t)s.C * s.KH * s.KW);
  float *out = fill_buf(osz, SENTINEL);
  epi x = make_epi(e, s.C, osz);
  mien_dw_args d = {
      {s.C, s.H, s.W, OH, OW, s.KH, s.KW, s.SH, s.SW, s.DH, s.DW, s.PT, s.PL}, w, in, out, x.ep};
  int c0 = s.c1 ? s.c0 : 0, c1 = s.c1 ? s.c1 : s.C;
  kt->dwconv(&d, c0, c1);
  char what[128];
  snprintf(what, sizeof what, "%s dw C%d %dx%d k%dx%d s%d,%d d%d,%d p%d,%d,%d,%d e%d", kt->isa, s.C,
           s.H, s.W, s.KH, s.KW, s.SH, s.SW, s.DH, s.DW, s.PT, s.PL, s.PB, s.PR, e);
  cmp_fail = 0;
  for (int c = 0; c < s.C; c++)
    for (int oh = 0; oh < OH; oh++)
      for (int ow = 0; ow < OW; ow++) {
        size_t at = ((size_t)c * OH + oh) * OW + ow;
        if (c < c0 || c >= c1) {
          expect(out[at], SENTINEL, 0, what, c, (int)at);
          continue;
        }
        double acc = 0, mag = 0;
        ref_taps(&d.geo, in + (size_t)c * s.H * s.W, w + (size_t)c * s.KH * s.KW, oh, ow, &acc,
                 &mag);
        expect_epi(&x, out[at], acc, mag, c, at, what);
      }
  free(in), free(w), free(out);
  free_epi(&x);
}

static void test_dwconv(void) {
  static const dw_shape shapes[] = {
      /* 3x3 stride 1 pad 1: the MobileFaceNet / RFB maps, and widths around the 8/32 chunks */
      {5, 56, 56, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},
      {3, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},
      {2, 15, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},
      {2, 8, 10, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},
      {2, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},
      {2, 4, 100, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},
      {2, 5, 41, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0},
      {6, 6, 33, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 5},
      /* 3x3 stride 2: symmetric and TF-style asymmetric padding, odd and even sizes */
      {4, 56, 56, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0},
      {2, 120, 160, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0},
      {3, 15, 21, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 0, 0},
      {3, 9, 75, 3, 3, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0},
      {2, 14, 14, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0},
      {5, 15, 20, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0}, /* rows shorter than two vectors */
      {3, 8, 10, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0},
      {3, 9, 31, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 0, 0},
      {2, 7, 33, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0},
      /* dilation */
      {3, 30, 40, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 0, 0},
      {2, 20, 50, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0},
      {2, 12, 80, 3, 3, 1, 1, 3, 5, 3, 5, 3, 5, 0, 0},
      /* 4x4 and 7x7, global (output 1x1) and not */
      {5, 4, 4, 4, 4, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0},
      {3, 17, 45, 4, 4, 1, 1, 1, 1, 1, 1, 2, 2, 0, 0},
      {3, 16, 40, 4, 4, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0},
      {9, 7, 7, 7, 7, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0},
      {9, 7, 7, 7, 7, 1, 1, 1, 1, 0, 0, 0, 0, 2, 7},
      {2, 10, 12, 7, 7, 1, 1, 1, 1, 3, 3, 3, 3, 0, 0},
      /* the general path: other sizes, strides above 2, windows wider than the border buffer */
      {3, 19, 23, 5, 5, 3, 3, 1, 1, 2, 2, 2, 2, 0, 0},
      {2, 11, 13, 2, 3, 1, 2, 1, 1, 0, 1, 0, 1, 0, 0},
      {2, 9, 70, 3, 3, 1, 1, 1, 30, 1, 1, 1, 1, 0, 0},
      {2, 9, 70, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0},
      {2, 33, 9, 3, 1, 2, 1, 1, 1, 1, 0, 1, 0, 0, 0},
      {1, 3, 3000, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, /* too wide for the AVX2 row ring */
  };
  int e = 0;
  for (int t = 0; t < ntables; t++)
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
      for (int j = 0; j < 3; j++, e++) dw_case(tables[t], shapes[i], (e * 5) % 12);
}

/* ---- im2col ---- */

typedef struct {
  int C, H, W, KH, KW, SH, SW, DH, DW, PT, PL, PB, PR, n0, n1, pad;
} i2c_shape;

static void im2col_case(const mien_kernels *kt, i2c_shape s) {
  int OH = (s.H + s.PT + s.PB - s.DH * (s.KH - 1) - 1) / s.SH + 1;
  int OW = (s.W + s.PL + s.PR - s.DW * (s.KW - 1) - 1) / s.SW + 1;
  int N = OH * OW, rows = s.C * s.KH * s.KW, n0 = s.n1 ? s.n0 : 0, n1 = s.n1 ? s.n1 : N;
  size_t ld = (size_t)(n1 - n0) + s.pad; /* column n lands at n - n0 */
  float *in = rand_buf((size_t)s.C * s.H * s.W), *col = fill_buf((size_t)rows * ld, SENTINEL);
  mien_im2col_args a = {
      {s.C, s.H, s.W, OH, OW, s.KH, s.KW, s.SH, s.SW, s.DH, s.DW, s.PT, s.PL}, in, col, ld};
  kt->im2col(&a, n0, n1);
  char what[128];
  snprintf(what, sizeof what, "%s im2col C%d %dx%d k%dx%d s%d,%d d%d,%d p%d,%d [%d,%d)", kt->isa,
           s.C, s.H, s.W, s.KH, s.KW, s.SH, s.SW, s.DH, s.DW, s.PT, s.PL, n0, n1);
  cmp_fail = 0;
  for (int r = 0; r < rows; r++) {
    int c = r / (s.KH * s.KW), kh = r / s.KW % s.KH, kw = r % s.KW;
    for (size_t j = 0; j < ld; j++) {
      int n = n0 + (int)j;
      float want = SENTINEL;
      if (n < n1) {
        int ih = n / OW * s.SH - s.PT + kh * s.DH, iw = n % OW * s.SW - s.PL + kw * s.DW;
        want = ih >= 0 && ih < s.H && iw >= 0 && iw < s.W ? in[((size_t)c * s.H + ih) * s.W + iw]
                                                          : 0.0f;
      }
      expect(col[(size_t)r * ld + j], want, 0, what, r, n);
    }
  }
  free(in), free(col);
}

static void test_im2col(void) {
  static const i2c_shape shapes[] = {
      {3, 24, 32, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0, 0},
      {3, 17, 23, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 5, 97, 3},
      {8, 30, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0},
      {8, 30, 40, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 0, 0, 5},
      {4, 30, 40, 3, 3, 1, 1, 3, 3, 3, 3, 3, 3, 100, 1111, 0},
      {4, 30, 40, 3, 3, 1, 1, 5, 5, 5, 5, 5, 5, 0, 0, 1},
      {2, 9, 11, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0},
      {2, 9, 11, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0, 7, 8, 0},
      {2, 19, 23, 5, 5, 3, 3, 1, 1, 2, 2, 2, 2, 0, 0, 2},
      {2, 6, 7, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 1, 8, 0},
      {1, 5, 5, 7, 7, 1, 1, 1, 1, 3, 3, 3, 3, 0, 0, 0},
      {2, 12, 13, 3, 2, 2, 3, 2, 1, 1, 0, 1, 2, 3, 20, 4},
  };
  for (int t = 0; t < ntables; t++)
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) im2col_case(tables[t], shapes[i]);
}

/* ---- direct convolution ---- */

typedef struct {
  int C, H, W, CO, KH, KW, SH, SW, DH, DW, PT, PL, PB, PR, oh0, oh1;
} direct_shape;

static void direct_case(const mien_kernels *kt, direct_shape s, int e) {
  int OH = (s.H + s.PT + s.PB - s.DH * (s.KH - 1) - 1) / s.SH + 1;
  int OW = (s.W + s.PL + s.PR - s.DW * (s.KW - 1) - 1) / s.SW + 1;
  int K = s.C * s.KH * s.KW, oh0 = s.oh1 ? s.oh0 : 0, oh1 = s.oh1 ? s.oh1 : OH;
  size_t osz = (size_t)s.CO * OH * OW;
  float *in = rand_buf((size_t)s.C * s.H * s.W), *w = rand_buf((size_t)s.CO * K);
  float *out = fill_buf(osz, SENTINEL);
  /* the weights as pack_a leaves them at the end of its buffer */
  float *ap = malloc(sizeof(float) * kt->pack_a_size(s.CO, K));
  kt->pack_a(s.CO, K, w, (size_t)K, ap);
  epi x = make_epi(e, s.CO, osz);
  mien_direct_args a = {{s.C, s.H, s.W, OH, OW, s.KH, s.KW, s.SH, s.SW, s.DH, s.DW, s.PT, s.PL},
                        s.CO,
                        NULL,
                        in,
                        out,
                        x.ep};
  CHECK(mien_direct_weights(s.CO, K));
  a.wt = ap + kt->pack_a_size(s.CO, K) - mien_direct_wt_size(s.CO, K);
  float *scratch = malloc(sizeof(float) * mien_direct_scratch(&a));
  kt->conv_direct(&a, oh0, oh1, scratch);
  char what[160];
  snprintf(what, sizeof what,
           "%s direct C%d %dx%d CO%d k%dx%d s%d,%d d%d,%d p%d,%d,%d,%d e%d rows[%d,%d)", kt->isa,
           s.C, s.H, s.W, s.CO, s.KH, s.KW, s.SH, s.SW, s.DH, s.DW, s.PT, s.PL, s.PB, s.PR, e, oh0,
           oh1);
  cmp_fail = 0;
  for (int co = 0; co < s.CO; co++)
    for (int oh = 0; oh < OH; oh++)
      for (int ow = 0; ow < OW; ow++) {
        size_t at = ((size_t)co * OH + oh) * OW + ow;
        if (oh < oh0 || oh >= oh1) {
          expect(out[at], SENTINEL, 0, what, co, (int)at);
          continue;
        }
        double acc = 0, mag = 0;
        for (int c = 0; c < s.C; c++)
          ref_taps(&a.geo, in + (size_t)c * s.H * s.W, w + (size_t)co * K + (size_t)c * s.KH * s.KW,
                   oh, ow, &acc, &mag);
        expect_epi(&x, out[at], acc, mag, co, at, what);
      }
  free(in), free(w), free(out), free(ap), free(scratch);
  free_epi(&x);
}

static void test_conv_direct(void) {
  static const direct_shape shapes[] = {
      /* the first layers: 3 channels, stride 2, 16 and 64 outputs */
      {3, 24, 32, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0},
      {3, 17, 23, 64, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0},
      {3, 40, 100, 16, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 3, 17},
      /* RFB branches: few outputs, dilations, 30x40-like widths */
      {8, 12, 40, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},
      {16, 11, 40, 16, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 0, 0},
      {8, 10, 40, 12, 3, 3, 1, 1, 3, 3, 3, 3, 3, 3, 0, 0},
      {12, 9, 41, 16, 3, 3, 1, 1, 5, 5, 5, 5, 5, 5, 2, 7},
      /* heads on tiny maps, many input channels */
      {64, 4, 5, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},
      {40, 8, 10, 12, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},
      {5, 9, 3, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 8}, /* narrower than every vector */
      {7, 11, 9, 20, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0},
      /* widths around the vector and block edges, odd output channel counts */
      {2, 5, 16, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},
      {2, 5, 47, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},
      {2, 5, 49, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},
      {2, 6, 97, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},
      {4, 3, 33, 33, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},
      /* other kernels, strides and padding */
      {2, 13, 17, 5, 5, 5, 3, 3, 1, 1, 2, 2, 2, 2, 0, 0},
      {3, 12, 13, 4, 2, 3, 2, 1, 1, 2, 0, 1, 1, 2, 1, 4},
      {1, 7, 7, 3, 7, 7, 1, 1, 1, 1, 3, 3, 3, 3, 0, 0},
      {2, 9, 20, 4, 1, 17, 1, 1, 1, 1, 0, 8, 0, 8, 0, 0}, /* a wide 1x17 kernel */
      {3, 30, 20, 5, 3, 3, 1, 2, 1, 1, 1, 1, 1, 1, 0, 0},
  };
  int e = 0;
  for (int t = 0; t < ntables; t++)
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
      for (int j = 0; j < 2; j++, e++) direct_case(tables[t], shapes[i], (e * 5) % 12);
}

/* ---- selection ---- */

static void test_select(void) {
  /* Runs first, before anything calls mien_kernels_get, so the override is what it sees. */
  setenv("MIEN_ISA", "generic", 1);
  const mien_kernels *k = mien_kernels_get();
  CHECK(k == &mien_kernels_generic);
  CHECK(strcmp(mien_isa_name(), "generic") == 0);
  CHECK(mien_kernels_get() == k);
}

int main(void) {
  tables[ntables++] = &mien_kernels_generic;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    tables[ntables++] = &mien_kernels_avx2;
  else
    printf("  CPU lacks AVX2/FMA: testing the generic kernels only\n");
  if (ntables == 2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    tables[ntables++] = &mien_kernels_avx512;
  else
    printf("  CPU lacks AVX-512: not testing the avx512 kernels\n");
#endif
  RUN(test_select);
  RUN(test_gemm_grid);
  RUN(test_gemm_large);
  RUN(test_gemm_tiles);
  RUN(test_gemm_epilogues);
  RUN(test_gemm_in_place);
  RUN(test_gemm_split);
  RUN(test_dwconv);
  RUN(test_im2col);
  RUN(test_conv_direct);
  return check_summary();
}
