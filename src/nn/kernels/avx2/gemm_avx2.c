/* avx2/gemm_avx2.c - AVX2+FMA sgemm: 6x16 and 4x16 register tiles in the blocking of
 * gemm_driver.h.
 *
 * 6 rows x 2 ymm = 12 accumulators, plus 2 B loads and 1 A broadcast, uses 15 of the 16 ymm
 * registers; each k step issues 12 FMAs against 2 loads + 6 broadcasts, enough to keep both FMA
 * pipes busy. A is packed in 6-row panels with 4-row panels at the end (see mien_gemm_split),
 * 4x16 still having the 8 independent chains two pipes of 4-cycle FMAs need. Tiles with at most
 * 8 valid columns (N = 49 ends with 1) run a one-ymm-wide variant that does half the work, and a
 * single column (fully connected layers) is a GEMV straight from the A panels. Full tiles store
 * with plain unaligned stores (masked stores are slow on AMD); the tiles on the right edge use
 * masked loads and stores.
 */
#include "nn/kernels/avx2/simd.h"
#include "nn/kernels/gemm_driver.h"
#include "nn/kernels/kernels_generic.h"

#define MR 6
#define MR2 4
#define NR 16

MIEN_GEMM_TABLE_ENTRIES(MR, MR2, NR)

/* 8 columns of tile row r through the epilogue; m masks the valid columns unless full. */
static inline __m256 finish(__m256 v, const mien_tile *t, int r, const float *c, const float *res,
                            __m256i m, int full) {
  if (t->first) {
    if (t->bias) v = _mm256_add_ps(v, _mm256_broadcast_ss(t->bias + r));
    if (res) v = _mm256_add_ps(v, full ? _mm256_loadu_ps(res) : _mm256_maskload_ps(res, m));
  } else {
    v = _mm256_add_ps(v, full ? _mm256_loadu_ps(c) : _mm256_maskload_ps(c, m));
  }
  return t->last ? mien_act8(v, t->act, t->slope, r) : v;
}

/* Tile row r (its nv accumulators passed by value, so they never leave registers). */
static inline __attribute__((always_inline)) void store_row(const mien_tile *t, int r, __m256 a0,
                                                            __m256 a1, const int nv, int full) {
  __m256i m0 = full ? _mm256_setzero_si256() : mien_mask8(t->nr);
  __m256i m1 = full ? _mm256_setzero_si256() : mien_mask8(t->nr - 8);
  float *c = t->c + (size_t)r * t->ldc;
  const float *res = t->res ? t->res + (size_t)r * t->ldc : NULL;
  __m256 y0 = finish(a0, t, r, c, res, m0, full);
  if (full)
    _mm256_storeu_ps(c, y0);
  else
    _mm256_maskstore_ps(c, m0, y0);
  if (nv < 2) return;
  __m256 y1 = finish(a1, t, r, c + 8, res ? res + 8 : NULL, m1, full);
  if (full)
    _mm256_storeu_ps(c + 8, y1);
  else
    _mm256_maskstore_ps(c + 8, m1, y1);
}

/* Rows one by one with constant indices: a loop over acc[r] would make gcc keep the whole
 * accumulator array in memory, storing it on every k step. */
static inline __attribute__((always_inline)) void store(const mien_tile *t, __m256 acc[MR][2],
                                                        const int pr, const int nv, int full) {
#define ROW(r)                                                                                     \
  if (pr > r && t->mr > r) store_row(t, r, acc[r][0], acc[r][1], nv, full)
  ROW(0);
  ROW(1);
  ROW(2);
  ROW(3);
  ROW(4);
  ROW(5);
#undef ROW
}

/* The pr x (8 * nv) tile; b panels are NR wide whatever nv is. */
static inline __attribute__((always_inline)) void tile(int kc, const float *a, const float *b,
                                                       size_t ldb, const mien_tile *t, const int pr,
                                                       const int nv) {
  __m256 acc[MR][2];
  for (int r = 0; r < pr; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (int k = 0; k < kc; k++, a += pr, b += ldb) {
    __m256 b0 = _mm256_load_ps(b), b1 = nv > 1 ? _mm256_load_ps(b + 8) : b0;
    for (int r = 0; r < pr; r++) {
      __m256 av = _mm256_broadcast_ss(a + r);
      acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
      if (nv > 1) acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
    }
  }
  if (t->nr == 8 * nv)
    store(t, acc, pr, nv, 1);
  else
    store(t, acc, pr, nv, 0);
}

static void micro(int kc, const float *a, const float *b, size_t ldb, const mien_tile *t) {
  int wide = t->nr > 8;
  if (t->pr == MR) {
    if (wide)
      tile(kc, a, b, ldb, t, MR, 2);
    else
      tile(kc, a, b, ldb, t, MR, 1);
  } else {
    if (wide)
      tile(kc, a, b, ldb, t, MR2, 2);
    else
      tile(kc, a, b, ldb, t, MR2, 1);
  }
}

/* One column of C, as a panel-height vector: each k adds column k of the A panel times b[k].
 * Four accumulators hide the FMA latency; a 1-column tile would waste 15/16 of its FMAs. */
static void gemv_panel(int K, int pr, const float *a, const float *b, size_t ldb, float *y) {
  __m256i m = mien_mask8(pr);
  __m256 s[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                 _mm256_setzero_ps()};
  int k = 0;
  for (; k + 4 <= K; k += 4)
    for (int u = 0; u < 4; u++)
      s[u] = _mm256_fmadd_ps(_mm256_maskload_ps(a + (size_t)(k + u) * pr, m),
                             _mm256_broadcast_ss(b + (size_t)(k + u) * ldb), s[u]);
  for (; k < K; k++)
    s[0] = _mm256_fmadd_ps(_mm256_maskload_ps(a + (size_t)k * pr, m),
                           _mm256_broadcast_ss(b + (size_t)k * ldb), s[0]);
  _mm256_storeu_ps(y, _mm256_add_ps(_mm256_add_ps(s[0], s[1]), _mm256_add_ps(s[2], s[3])));
}

static void sgemm(const mien_gemm_args *g, int n0, int n1, float *scratch) {
  if (g->N == 1) /* not n1 - n0: results must not depend on how columns are split */
    mien_gemv_drive(g, n0, MR, MR2, gemv_panel);
  else
    mien_gemm_drive(g, n0, n1, scratch, MR, MR2, NR, micro, 1);
}

MIEN_KERNEL_TABLE(avx2); /* mien_kernels_avx2 */
