/* avx512/gemm_avx512.c - AVX-512 sgemm: 12x32 and 8x32 register tiles in the blocking of
 * gemm_driver.h.
 *
 * 12 rows x 2 zmm = 24 accumulators, plus 2 B loads and a broadcast A value, fit the 32 zmm
 * registers; each k step issues 24 FMAs against 2 loads and 12 broadcasts, which keeps both
 * 512-bit FMA pipes busy. A is packed in 12-row panels with 8-row ones at the end (every
 * multiple of 4 from 8 up is then exact: 16 = 8 + 8, 64 = 4 * 12 + 2 * 8). Tiles with at most 16
 * valid columns run a one-zmm-wide variant. Edges use masked loads and stores, which cost the same
 * as plain ones on Intel cores, so a tile never needs a scalar tail.
 *
 * For small M (at most four panels) B is read in place rather than packed: each B element is
 * then used by a few micro-kernel calls only, and the copy would cost about as much as it
 * saves. A single column (fully connected layers) is a GEMV straight from the A panels.
 */
#include "nn/kernels/avx512/simd.h"
#include "nn/kernels/gemm_driver.h"
#include "nn/kernels/kernels_generic.h"

#define MR 12
#define MR2 8
#define NR 32

MIEN_GEMM_TABLE_ENTRIES(MR, MR2, NR)

/* 16 columns of tile row r through the epilogue and into C; m masks the valid columns. */
static inline void finish(__m512 v, const mien_tile *t, int r, float *c, const float *res,
                          __mmask16 m) {
  if (t->first) {
    if (t->bias) v = _mm512_add_ps(v, _mm512_set1_ps(t->bias[r]));
    if (res) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, res));
  } else {
    v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, c));
  }
  if (t->last) v = mien_act16(v, t->act, t->slope, r);
  _mm512_mask_storeu_ps(c, m, v);
}

/* Tile row r (its accumulators passed by value, so they never leave registers). */
static inline __attribute__((always_inline)) void store_row(const mien_tile *t, int r, __m512 a0,
                                                            __m512 a1, const int nv) {
  float *c = t->c + (size_t)r * t->ldc;
  const float *res = t->res ? t->res + (size_t)r * t->ldc : NULL;
  finish(a0, t, r, c, res, mien_mask16(t->nr));
  if (nv > 1) finish(a1, t, r, c + 16, res ? res + 16 : NULL, mien_mask16(t->nr - 16));
}

/* The pr x (16 * nv) tile. B rows are ldb apart; unless packed (zero-padded to NR columns) the
 * loads are masked to the tile's valid columns, so nothing past column n1 is read. */
static inline __attribute__((always_inline)) void tile(int kc, const float *a, const float *b,
                                                       size_t ldb, const mien_tile *t, const int pr,
                                                       const int nv, const int masked) {
  __m512 acc[MR][2];
  __mmask16 m0 = mien_mask16(t->nr), m1 = mien_mask16(t->nr - 16);
  for (int r = 0; r < pr; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int k = 0; k < kc; k++, a += pr, b += ldb) {
    __m512 b0 = masked ? _mm512_maskz_loadu_ps(m0, b) : _mm512_loadu_ps(b);
    __m512 b1 = nv < 2 ? b0 : masked ? _mm512_maskz_loadu_ps(m1, b + 16) : _mm512_loadu_ps(b + 16);
    for (int r = 0; r < pr; r++) {
      __m512 av = _mm512_set1_ps(a[r]);
      acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
      if (nv > 1) acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
    }
  }
  /* rows one by one with constant indices: a loop over acc[r] would make gcc keep the whole
   * accumulator array in memory */
#define ROW(r)                                                                                     \
  if (pr > r && t->mr > r) store_row(t, r, acc[r][0], acc[r][1], nv)
  ROW(0);
  ROW(1);
  ROW(2);
  ROW(3);
  ROW(4);
  ROW(5);
  ROW(6);
  ROW(7);
  ROW(8);
  ROW(9);
  ROW(10);
  ROW(11);
#undef ROW
}

static inline __attribute__((always_inline)) void micro_any(int kc, const float *a, const float *b,
                                                            size_t ldb, const mien_tile *t,
                                                            const int masked) {
  int wide = t->nr > 16;
  if (t->pr == MR) {
    if (wide)
      tile(kc, a, b, ldb, t, MR, 2, masked && t->nr < NR);
    else
      tile(kc, a, b, ldb, t, MR, 1, masked);
  } else {
    if (wide)
      tile(kc, a, b, ldb, t, MR2, 2, masked && t->nr < NR);
    else
      tile(kc, a, b, ldb, t, MR2, 1, masked);
  }
}

static void micro_packed(int kc, const float *a, const float *b, size_t ldb, const mien_tile *t) {
  micro_any(kc, a, b, ldb, t, 0);
}

static void micro_inplace(int kc, const float *a, const float *b, size_t ldb, const mien_tile *t) {
  if (t->nr == NR)
    micro_any(kc, a, b, ldb, t, 0);
  else
    micro_any(kc, a, b, ldb, t, 1);
}

/* One column of C, as a panel-height vector: each k adds column k of the A panel times b[k].
 * Four accumulators hide the FMA latency. */
static void gemv_panel(int K, int pr, const float *a, const float *b, size_t ldb, float *y) {
  __mmask16 m = mien_mask16(pr);
  __m512 s[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                 _mm512_setzero_ps()};
  int k = 0;
  for (; k + 4 <= K; k += 4)
    for (int u = 0; u < 4; u++)
      s[u] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + (size_t)(k + u) * pr),
                             _mm512_set1_ps(b[(size_t)(k + u) * ldb]), s[u]);
  for (; k < K; k++)
    s[0] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + (size_t)k * pr),
                           _mm512_set1_ps(b[(size_t)k * ldb]), s[0]);
  _mm512_storeu_ps(y, _mm512_add_ps(_mm512_add_ps(s[0], s[1]), _mm512_add_ps(s[2], s[3])));
}

static void sgemm(const mien_gemm_args *g, int n0, int n1, float *scratch) {
  if (g->N == 1) /* not n1 - n0: results must not depend on how columns are split */
    mien_gemv_drive(g, n0, MR, MR2, gemv_panel);
  else if (g->M <= 4 * MR)
    mien_gemm_drive(g, n0, n1, scratch, MR, MR2, NR, micro_inplace, 0);
  else
    mien_gemm_drive(g, n0, n1, scratch, MR, MR2, NR, micro_packed, 1);
}

MIEN_KERNEL_TABLE(avx512); /* mien_kernels_avx512 */
