/* generic/gemm.c - portable sgemm: a 4x8 C micro-kernel in the blocking of gemm_driver.h.
 *
 * The micro-kernel is plain C that compilers vectorise for the baseline ISA (two SSE registers
 * per row on x86-64, NEON elsewhere); 4x8 keeps its 32 accumulators within 16 vector registers.
 * The blocking around it is gemm_driver.h, the same as for the SIMD versions.
 */
#include "nn/kernels/gemm_driver.h"
#include "nn/kernels/kernels_generic.h"

#define MR 4
#define NR 8

static size_t pack_a_size(int M, int K) {
  return mien_pack_a_size2(M, K, MR, MR);
}

static void pack_a(int M, int K, const float *a, size_t lda, float *packed) {
  mien_pack_a2(M, K, a, lda, packed, MR, MR);
}

static size_t scratch_size(int K, int n) {
  return mien_gemm_scratch(K, n, NR);
}

static void micro(int kc, const float *a, const float *b, size_t ldb, const mien_tile *t) {
  float acc[MR][NR] = {{0}};
  for (int k = 0; k < kc; k++, a += MR, b += ldb)
    for (int r = 0; r < MR; r++)
      for (int j = 0; j < NR; j++) acc[r][j] += a[r] * b[j];
  mien_epilogue ep = {NULL, NULL, t->slope, t->act};
  for (int r = 0; r < t->mr; r++) {
    float *c = t->c + (size_t)r * t->ldc;
    const float *res = t->res ? t->res + (size_t)r * t->ldc : NULL;
    float base = t->bias ? t->bias[r] : 0.0f;
    for (int j = 0; j < t->nr; j++) {
      float v = acc[r][j] + (t->first ? base + (res ? res[j] : 0.0f) : c[j]);
      c[j] = t->last ? mien_act1(&ep, r, v) : v;
    }
  }
}

/* One column (a fully connected layer): dot products straight from the A panels. */
static void gemv(const mien_gemm_args *g, int n) {
  for (int ir = 0; ir < g->M; ir += MR) {
    const float *a = g->a_packed + (size_t)ir * g->K;
    float y[MR] = {0};
    for (int k = 0; k < g->K; k++, a += MR)
      for (int r = 0; r < MR; r++) y[r] += a[r] * g->b[(size_t)k * g->ldb + n];
    mien_gemv_store(g, ir, g->M - ir < MR ? g->M - ir : MR, n, y);
  }
}

static void sgemm(const mien_gemm_args *g, int n0, int n1, float *scratch) {
  if (g->N == 1) /* not n1 - n0: results must not depend on how columns are split */
    gemv(g, n0);
  else
    mien_gemm_drive(g, n0, n1, scratch, MR, MR, NR, micro, 1);
}

const mien_kernels mien_kernels_generic = {
    .isa = "generic",
    .pack_a_size = pack_a_size,
    .pack_a = pack_a,
    .gemm_scratch_size = scratch_size,
    .sgemm = sgemm,
    .dwconv = mien_dwconv_generic,
    .im2col = mien_im2col_generic,
    .conv_direct = mien_conv_direct_generic,
};
