/* gemm_driver.h - A packing and the cache blocking around a register-tile micro-kernel, shared
 * by every ISA.
 *
 * Each ISA supplies a micro-kernel that computes one tile of C (panel height x NR) over a K
 * block from an A panel (packed once, at plan time, by mien_pack_a2) and a B panel (packed here,
 * per call, into scratch), and stores it through the epilogue. The loops around it are the
 * classic Goto/BLIS ones:
 *
 *   for each NC column block of [n0, n1)        (bounds the scratch)
 *     for each KC block of K                     (a kc x NR B panel stays in L1)
 *       pack B[kc x nc] into NR-column panels    (contiguous, zero-padded past n1; or, for
 *                                                 small M, B is read in place)
 *       for each MC row block                    (the mc x kc A block stays in L2)
 *         for each NR panel of B
 *           for each A panel: micro-kernel
 *
 * The sizes target Zen3 (32 KB L1d, 512 KB L2 per core) and are conservative for larger caches.
 * This header is included by files compiled with different ISA flags; it holds only static
 * inline code so each includer gets its own copy.
 */
#ifndef MIEN_NN_GEMM_DRIVER_H
#define MIEN_NN_GEMM_DRIVER_H

#include <stdint.h>
#include <string.h>

#include "nn/kernels/kernels_generic.h"

#define MIEN_GEMM_KC 256          /* max K block: a 256 x 16 B panel is 16 KB, half of L1 */
#define MIEN_GEMM_NC 128          /* columns packed per block: 128 KB of scratch at most */
#define MIEN_GEMM_MC_BYTES 196608 /* A block kept in L2 while B panels stream through */
#define MIEN_GEMM_ALIGN 16        /* floats: scratch is realigned to 64 bytes (a cache line) */

/* What the micro-kernel needs to store one tile; pointers are already offset to the tile. */
typedef struct {
  float *c;
  const float *res; /* residual tile or NULL */
  size_t ldc;
  const float *bias;  /* bias[r] for tile row r, or NULL */
  const float *slope; /* PRELU slopes for the tile rows */
  mien_act act;
  int pr;     /* rows in this A panel: the register tile's height */
  int mr, nr; /* valid rows and columns; the rest of the register tile is discarded */
  /* The first K block adds bias and residual, later ones add C's partial sum, the last one
   * applies the activation. Reading the residual before C is first written lets the caller
   * pass residual == c (an in-place Add). */
  int first, last;
} mien_tile;

/* b is the top-left of the kc x NR block of B, rows ldb floats apart: NR in a packed panel, or
 * the caller's row stride when the driver reads B in place. */
typedef void (*mien_micro_fn)(int kc, const float *a, const float *b, size_t ldb,
                              const mien_tile *t);

/* A is packed in panels of mr rows up to row `split`, then of mr2 rows, the last one
 * zero-padded. Mixing two heights makes most M exact: with 6 and 4, every even M is a sum of
 * 6s and 4s (32 = 6*4 + 4*2), so no FMAs are spent on padding rows. split is the multiple of mr
 * that leaves the least padding in the mr2 panels (the larger one on a tie). */
static inline int mien_gemm_split(int M, int mr, int mr2) {
  int s = M / mr * mr, best = s, waste = (mr2 - (M - s) % mr2) % mr2;
  if (s >= mr && (mr2 - (M - s + mr) % mr2) % mr2 < waste) best = s - mr;
  return best;
}

/* Rows in the panel that starts at row ir. */
static inline int mien_panel_rows(int ir, int split, int mr, int mr2) {
  return ir < split ? mr : mr2;
}

static inline size_t mien_pack_a_size2(int M, int K, int mr, int mr2) {
  int split = mien_gemm_split(M, mr, mr2);
  return ((size_t)split + (size_t)((M - split + mr2 - 1) / mr2 * mr2)) * (size_t)K +
         (mien_direct_weights(M, K) ? mien_direct_wt_size(M, K) : 0);
}

/* Each panel holds its rows as K consecutive groups of panel-height floats (column k of the
 * panel), so a K block of a panel is one contiguous run; the panel at row ir starts at ir * K.
 * The conv_direct layout follows the panels when mien_direct_weights(M, K). */
static inline void mien_pack_a2(int M, int K, const float *a, size_t lda, float *packed, int mr,
                                int mr2) {
  int split = mien_gemm_split(M, mr, mr2);
  for (int p = 0; p < M; p += mien_panel_rows(p, split, mr, mr2)) {
    int pr = mien_panel_rows(p, split, mr, mr2);
    for (int k = 0; k < K; k++)
      for (int r = 0; r < pr; r++) *packed++ = p + r < M ? a[(size_t)(p + r) * lda + k] : 0.0f;
  }
  if (mien_direct_weights(M, K)) mien_direct_pack(M, K, a, lda, packed);
}

/* K is cut into equal blocks of at most MIEN_GEMM_KC so the last block is not a sliver. */
static inline int mien_gemm_kc(int K) {
  int nk = (K + MIEN_GEMM_KC - 1) / MIEN_GEMM_KC;
  return (K + nk - 1) / nk;
}

static inline size_t mien_gemm_scratch(int K, int n, int nr) {
  int nc = n < MIEN_GEMM_NC ? n : MIEN_GEMM_NC;
  return (size_t)mien_gemm_kc(K) * (size_t)((nc + nr - 1) / nr * nr) + MIEN_GEMM_ALIGN;
}

/* B[kc x nc] (row stride ldb) into nr-wide panels of kc rows, zero-filling past nc so the
 * micro-kernel never needs a column bound. */
static inline void mien_pack_b(const float *b, size_t ldb, int kc, int nc, int nr, float *dst) {
  for (int j = 0; j < nc; j += nr) {
    int w = nc - j < nr ? nc - j : nr;
    const float *src = b + j;
    if (w == nr) {
      for (int k = 0; k < kc; k++, dst += nr)
        memcpy(dst, src + (size_t)k * ldb, sizeof(float) * nr);
    } else { /* a loop, not memcpy + memset: two library calls per row of a few floats */
      for (int k = 0; k < kc; k++, dst += nr)
        for (int i = 0; i < nr; i++) dst[i] = i < w ? src[(size_t)k * ldb + i] : 0.0f;
    }
  }
}

/* Rows [ir, ir + mr) of column n from y (a panel's dot products) through the epilogue: the
 * store of the GEMV paths, which skip the tiles. */
static inline void mien_gemv_store(const mien_gemm_args *g, int ir, int mr, int n, const float *y) {
  const mien_epilogue *ep = &g->ep;
  mien_epilogue act = {NULL, NULL, ep->slope ? ep->slope + ir : NULL, ep->act};
  for (int r = 0; r < mr; r++) {
    size_t at = (size_t)(ir + r) * g->ldc + n;
    float v =
        y[r] + (ep->bias ? ep->bias[ir + r] : 0.0f) + (ep->residual ? ep->residual[at] : 0.0f);
    g->c[at] = mien_act1(&act, r, v);
  }
}

/* A panel's dot products for one column of C: y[r] = sum over k of a[k * pr + r] * b[k * ldb]
 * for the pr rows of the panel at a (y has room for MIEN_GEMV_Y floats). */
#define MIEN_GEMV_Y 16
typedef void (*mien_gemv_panel_fn)(int K, int pr, const float *a, const float *b, size_t ldb,
                                   float *y);

/* Column n of C when N == 1 (a fully connected layer): dot products straight from the A panels
 * (mr rows, then mr2), skipping B packing and the tiles. */
static inline __attribute__((always_inline)) void
mien_gemv_drive(const mien_gemm_args *g, int n, int mr, int mr2, mien_gemv_panel_fn panel) {
  int M = g->M, K = g->K, split = mien_gemm_split(M, mr, mr2);
  for (int ir = 0, pr; ir < M; ir += pr) {
    pr = mien_panel_rows(ir, split, mr, mr2);
    float y[MIEN_GEMV_Y];
    panel(K, pr, g->a_packed + (size_t)ir * K, g->b + n, g->ldb, y);
    mien_gemv_store(g, ir, M - ir < pr ? M - ir : pr, n, y);
  }
}

/* pack == 0 reads B in place (rows ldb apart) instead of packing it: for small M, where the
 * copy costs more than it saves; the micro-kernel must then bound its loads by t->nr itself. */
static inline __attribute__((always_inline)) void mien_gemm_drive(const mien_gemm_args *g, int n0,
                                                                  int n1, float *scratch, int mr,
                                                                  int mr2, int nr,
                                                                  mien_micro_fn micro, int pack) {
  const mien_epilogue *ep = &g->ep;
  int M = g->M, K = g->K, kcmax = mien_gemm_kc(K), split = mien_gemm_split(M, mr, mr2);
  int mc = MIEN_GEMM_MC_BYTES / (int)sizeof(float) / kcmax; /* rows of A per L2 block */
  float *bp = (float *)(((uintptr_t)scratch + MIEN_GEMM_ALIGN * sizeof(float) - 1) &
                        ~(uintptr_t)(MIEN_GEMM_ALIGN * sizeof(float) - 1));
  mien_tile t;
  t.ldc = g->ldc;
  t.act = ep->act;
  for (int jc = n0; jc < n1; jc += MIEN_GEMM_NC) {
    int nc = n1 - jc < MIEN_GEMM_NC ? n1 - jc : MIEN_GEMM_NC;
    for (int pc = 0; pc < K; pc += kcmax) {
      int kc = K - pc < kcmax ? K - pc : kcmax;
      const float *bsrc = g->b + (size_t)pc * g->ldb + jc;
      if (pack) mien_pack_b(bsrc, g->ldb, kc, nc, nr, bp);
      t.first = pc == 0;
      t.last = pc + kc == K;
      for (int ic = 0, iend; ic < M; ic = iend) {
        for (iend = ic; iend < M && iend - ic < mc;) iend += mien_panel_rows(iend, split, mr, mr2);
        for (int jr = 0; jr < nc; jr += nr) {
          const float *bpan = pack ? bp + (size_t)(jr / nr) * kc * nr : bsrc + jr;
          size_t col = (size_t)(jc + jr);
          t.nr = nc - jr < nr ? nc - jr : nr;
          for (int ir = ic; ir < iend; ir += t.pr) {
            size_t off = (size_t)ir * g->ldc + col;
            t.pr = mien_panel_rows(ir, split, mr, mr2);
            t.mr = M - ir < t.pr ? M - ir : t.pr;
            t.c = g->c + off;
            t.res = ep->residual ? ep->residual + off : NULL;
            t.bias = ep->bias ? ep->bias + ir : NULL;
            t.slope = ep->slope ? ep->slope + ir : NULL;
            micro(kc, g->a_packed + (size_t)ir * K + (size_t)pc * t.pr, bpan,
                  pack ? (size_t)nr : g->ldb, &t);
          }
        }
      }
    }
  }
}

/* The table entries pack_a_size, pack_a and gemm_scratch_size of an ISA whose A panels are mr
 * rows (mr2 for the last ones) and whose B panels are nr columns: each ISA instantiates them, as
 * static functions, with its register tile. */
#define MIEN_GEMM_TABLE_ENTRIES(mr, mr2, nr)                                                       \
  static size_t pack_a_size(int M, int K) {                                                        \
    return mien_pack_a_size2(M, K, mr, mr2);                                                       \
  }                                                                                                \
  static void pack_a(int M, int K, const float *a, size_t lda, float *packed) {                    \
    mien_pack_a2(M, K, a, lda, packed, mr, mr2);                                                   \
  }                                                                                                \
  static size_t scratch_size(int K, int n) {                                                       \
    return mien_gemm_scratch(K, n, nr);                                                            \
  }

/* The kernel table mien_kernels_<isa> of an ISA: the entries above, its sgemm, dwconv and
 * conv_direct (mien_dwconv_<isa>, mien_conv_direct_<isa>) and the portable im2col, which is
 * memory-bound and serves every ISA. */
#define MIEN_KERNEL_TABLE(name)                                                                    \
  const mien_kernels mien_kernels_##name = {                                                       \
      .isa = #name,                                                                                \
      .pack_a_size = pack_a_size,                                                                  \
      .pack_a = pack_a,                                                                            \
      .gemm_scratch_size = scratch_size,                                                           \
      .sgemm = sgemm,                                                                              \
      .dwconv = mien_dwconv_##name,                                                                \
      .im2col = mien_im2col_generic,                                                               \
      .conv_direct = mien_conv_direct_##name,                                                      \
  }

#endif
