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

MIEN_GEMM_TABLE_ENTRIES(MR, MR, NR)

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

/* One column (a fully connected layer): the dot products of an A panel, always MR rows here. */
static void gemv_panel(int K, int pr, const float *a, const float *b, size_t ldb, float *y) {
  (void)pr;
  float acc[MR] = {0};
  for (int k = 0; k < K; k++, a += MR)
    for (int r = 0; r < MR; r++) acc[r] += a[r] * b[(size_t)k * ldb];
  for (int r = 0; r < MR; r++) y[r] = acc[r];
}

static void sgemm(const mien_gemm_args *g, int n0, int n1, float *scratch) {
  if (g->N == 1) /* not n1 - n0: results must not depend on how columns are split */
    mien_gemv_drive(g, n0, MR, MR, gemv_panel);
  else
    mien_gemm_drive(g, n0, n1, scratch, MR, MR, NR, micro, 1);
}

MIEN_KERNEL_TABLE(generic); /* mien_kernels_generic */
