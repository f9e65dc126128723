/* dwconv_impl.h - the SIMD depthwise convolution, written once over a vector of VW floats and
 * instantiated by kernels/avx2/ (VW 8, ymm) and kernels/avx512/ (VW 16, zmm). The includer
 * defines the vector type and operations listed below, then includes this file, which defines
 * MIEN_DW_NAME(const mien_dw_args *, int c0, int c1).
 *
 *   V, VW                 vector type and its lanes
 *   v_load(p), v_loadn(p, n), v_store(p, v), v_storen(p, v, n)
 *                         unaligned loads and stores; the _n forms touch the first n lanes only
 *                         (n may be <= 0 or >= VW)
 *   v_set1(x), v_zero(), v_add(a, b), v_fmadd(a, b, c) = a * b + c, v_hsum(v)
 *   v_act(v, act, slope, m) the activation of channel m
 *   v_deinterleave(src, e, o) src[0 .. 2VW) to its even (e) and odd (o) elements
 *
 * Vectorised along the output width, VW pixels per vector, over blocks of 4 output rows x 2VW
 * (or VW) pixels: 8 independent accumulators, what two pipes of 4-cycle FMAs need, even on
 * narrow maps.
 *
 * Each input row is copied once into a zero-padded row of a small ring on the stack, so every
 * load of the inner loop, borders included, is a plain unaligned load and padding costs no
 * branches; rows outside the image point at a row of zeros. For stride 2 the copy also splits
 * the row into its even and odd columns, which turns every tap into a contiguous load, with the
 * shuffles paid once per input row instead of once per tap. 3x3 and 4x4 kernels are
 * instantiated with constant sizes so the tap loops unroll, and undilated 3x3 ones load each
 * input row of a block once for all the output rows that read it (dw_block_rows). A kernel that
 * covers the whole input (the 7x7 "global depthwise" of MobileFaceNet) is a dot product per
 * channel. Strides above 2, and rows too wide for the ring, use the generic kernel.
 */
#include <string.h>

#include "nn/kernels/kernels_generic.h"

#define DW_RING 8192 /* floats (32 KB) of stack for the padded rows */
#define DW_RB 4      /* output rows per block */
#define DW_MAX_R 64  /* input rows one block may read */
#define DW_MAX_KH 16

/* The ring: R rows of L floats, then one row of zeros. R is the number of input rows one block
 * of DW_RB output rows reads. With stride 2 a row is its even padded columns followed, at
 * +half, by its odd ones. */
typedef struct {
  float *ring;
  int R, L, half;
} dw_ring;

static void dw_copy_row(const mien_dw_args *d, const dw_ring *g, const float *src, float *dst) {
  int PL = d->geo.PL, W = d->geo.W;
  if (d->geo.SW == 1) { /* inline, not memcpy: rows of small maps are a few vectors */
    int n = g->L - PL < W ? g->L - PL : W, x = 0;
    for (; x + VW <= n; x += VW) v_store(dst + PL + x, v_load(src + x));
    if (x < n) v_storen(dst + PL + x, v_loadn(src + x, n - x), n - x);
    return;
  }
  /* padded column i = x + PL goes to half (i & 1) at i >> 1; pairs start on even i */
  float *e = dst, *o = dst + g->half;
  int x = PL & 1;
  if (x) o[PL >> 1] = src[0];
  for (; x + 2 * VW <= W && (x + PL) / 2 + VW <= g->half; x += 2 * VW)
    v_deinterleave(src + x, e + (x + PL) / 2, o + (x + PL) / 2);
  if (x < W && W >= 2 * VW) { /* redo the 2VW that end the row (same parity), not go scalar */
    int y = W - 2 * VW - ((W - 2 * VW - x) & 1);
    if (y >= (PL & 1) && (y + PL) / 2 + VW <= g->half) {
      v_deinterleave(src + y, e + (y + PL) / 2, o + (y + PL) / 2);
      x = y + 2 * VW;
    }
  }
  if (x < W && W < 2 * VW && (x + PL) / 2 + VW <= g->half) { /* a short row: via a buffer */
    float t[2 * VW];
    v_store(t, v_loadn(src + x, W - x));
    v_store(t + VW, v_loadn(src + x + VW, W - x - VW));
    v_deinterleave(t, e + (x + PL) / 2, o + (x + PL) / 2); /* zeros past W: right padding */
    x = W;
  }
  for (; x < W && (x + PL) >> 1 < g->half; x++) ((x + PL) & 1 ? o : e)[(x + PL) >> 1] = src[x];
}

static inline void dw_store(const mien_dw_args *d, int c, float *o, V v, int n) {
  v = v_act(v, d->ep.act, d->ep.slope, c);
  if (n >= VW)
    v_store(o, v);
  else
    v_storen(o, v, n);
}

/* The accumulators of a block of output rows [oh, oh + DW_RB) x pixels [ow, ow + VW * G) start
 * as bias + residual; n[g] is the number of valid pixels in chunk g. acc[j][1] also serves as
 * the second (odd-tap) accumulator when G == 1, so it starts at zero then. */
static inline __attribute__((always_inline)) void dw_acc_init(const mien_dw_args *d,
                                                              V acc[DW_RB][2], V bias,
                                                              const float *res, int oh, int ow,
                                                              const int n[2], const int G) {
  for (int j = 0; j < DW_RB; j++) {
    acc[j][1] = v_zero();
    for (int g = 0; g < G; g++) {
      acc[j][g] = bias;
      if (res && oh + j < d->geo.OH) {
        const float *r = res + (size_t)(oh + j) * d->geo.OW + ow + VW * g;
        acc[j][g] = v_add(bias, n[g] >= VW ? v_load(r) : v_loadn(r, n[g]));
      }
    }
  }
}

/* The block's rows through the epilogue into out; rows past OH are dropped, pixels past OW are
 * not stored. With G == 1 the two accumulators of a row are summed first. */
static inline __attribute__((always_inline)) void dw_acc_store(const mien_dw_args *d, int c,
                                                               V acc[DW_RB][2], float *out, int oh,
                                                               int ow, const int n[2],
                                                               const int G) {
  for (int j = 0; j < DW_RB; j++) {
    if (oh + j >= d->geo.OH) break;
    float *o = out + (size_t)(oh + j) * d->geo.OW + ow;
    if (G == 2) {
      dw_store(d, c, o, acc[j][0], n[0]);
      dw_store(d, c, o + VW, acc[j][1], n[1]);
    } else {
      dw_store(d, c, o, v_add(acc[j][0], acc[j][1]), n[0]);
    }
  }
}

/* Output rows [oh, oh + DW_RB) x pixels [ow, ow + VW * G) of channel c; rp[j * KH + kh] is the
 * ring row that kernel row kh reads for output row oh + j. Rows past OH and pixels past OW are
 * computed but not stored. With one chunk (G == 1) the odd taps go to a second accumulator,
 * so that there are still eight FMA chains. */
static inline __attribute__((always_inline)) void
dw_block(const mien_dw_args *d, int c, const float *const *rp, const float *w, int half, V bias,
         float *out, const float *res, int oh, int ow, const int KH, const int KW, const int SW,
         const int G) {
  V acc[DW_RB][2];
  int n[2] = {d->geo.OW - ow, d->geo.OW - ow - VW};
  dw_acc_init(d, acc, bias, res, oh, ow, n, G);
  for (int kh = 0; kh < KH; kh++)
    for (int kw = 0; kw < KW; kw++) {
      V wv = v_set1(w[kh * KW + kw]);
      int t = kw * d->geo.DW, col = ow + (SW == 1 ? t : (t & 1) * half + (t >> 1));
      for (int j = 0; j < DW_RB; j++) {
        const float *x = rp[j * KH + kh] + col;
        if (G == 2) {
          acc[j][0] = v_fmadd(wv, v_load(x), acc[j][0]);
          acc[j][1] = v_fmadd(wv, v_load(x + VW), acc[j][1]);
        } else if (kw & 1) {
          acc[j][1] = v_fmadd(wv, v_load(x), acc[j][1]);
        } else {
          acc[j][0] = v_fmadd(wv, v_load(x), acc[j][0]);
        }
      }
    }
  dw_acc_store(d, c, acc, out, oh, ow, n, G);
}

/* dw_block for 3x3 kernels whose rows do not dilate (DH == 1), with SH == SW constant: the block
 * walks its R input rows once and each loaded vector feeds every output row that reads it (up
 * to KH of them): a 3x3 stride-1 block loads 6 rows instead of 12, and loads rather than FMAs
 * bound this kernel. The weights are broadcast once per block. rowp[r] is input row r of the
 * block. */
static inline __attribute__((always_inline)) void
dw_block_rows(const mien_dw_args *d, int c, const float *const *rowp, const float *w, int half,
              V bias, float *out, const float *res, int oh, int ow, const int KH, const int KW,
              const int SW, const int G) {
  V acc[DW_RB][2], wv[9]; /* only instantiated for 3x3 kernels */
  int n[2] = {d->geo.OW - ow, d->geo.OW - ow - VW};
  dw_acc_init(d, acc, bias, res, oh, ow, n, G);
#pragma GCC unroll 16
  for (int t = 0; t < KH * KW; t++) wv[t] = v_set1(w[t]);
    /* fully unrolled, so that acc and wv stay in registers and the kh tests fold away */
#pragma GCC unroll 16
  for (int r = 0; r < (DW_RB - 1) * SW + KH; r++)
#pragma GCC unroll 4
    for (int kw = 0; kw < KW; kw++) {
      int t = kw * d->geo.DW, col = ow + (SW == 1 ? t : (t & 1) * half + (t >> 1));
      V x0 = v_load(rowp[r] + col), x1 = G == 2 ? v_load(rowp[r] + col + VW) : x0;
#pragma GCC unroll 4
      for (int j = 0; j < DW_RB; j++) {
        int kh = r - j * SW;
        if (kh < 0 || kh >= KH) continue;
        if (G == 2) {
          acc[j][0] = v_fmadd(wv[kh * KW + kw], x0, acc[j][0]);
          acc[j][1] = v_fmadd(wv[kh * KW + kw], x1, acc[j][1]);
        } else {
          acc[j][kw & 1] = v_fmadd(wv[kh * KW + kw], x0, acc[j][kw & 1]);
        }
      }
    }
  dw_acc_store(d, c, acc, out, oh, ow, n, G);
}

/* rows: use dw_block_rows (3x3 with constant SW, DH == 1 and SH == SW). */
static inline __attribute__((always_inline)) void dw_channel(const mien_dw_args *d, int c,
                                                             const dw_ring *g, const int KH,
                                                             const int KW, const int SW,
                                                             const int rows) {
  const float *plane = d->in + (size_t)c * d->geo.H * d->geo.W,
              *w = d->weight + (size_t)c * KH * KW;
  size_t at = (size_t)c * d->geo.OH * d->geo.OW;
  float *out = d->out + at;
  const float *res = d->ep.residual ? d->ep.residual + at : NULL;
  const float *zero = g->ring + (size_t)g->R * g->L, *rowp[DW_MAX_R];
  V bias = v_set1(d->ep.bias ? d->ep.bias[c] : 0.0f);
  int owr = (d->geo.OW + VW - 1) / VW * VW,
      next = 0;                              /* next: first input row not yet in the ring */
  int s0 = (g->R - d->geo.PT % g->R) % g->R; /* ring slot of the block's first input row */
  for (int oh = 0; oh < d->geo.OH; oh += DW_RB) {
    int ih = oh * d->geo.SH - d->geo.PT, s = s0;
    for (s0 += DW_RB * d->geo.SH; s0 >= g->R;) s0 -= g->R; /* no division per block: small maps */
    /* the R rows of a block are distinct mod R, so a copy only evicts rows above the block */
    for (int i = 0; i < g->R; i++, s = s + 1 == g->R ? 0 : s + 1) {
      int r = ih + i;
      float *slot = g->ring + (size_t)s * g->L;
      if (r < 0 || r >= d->geo.H) {
        rowp[i] = zero;
        continue;
      }
      if (r >= next) dw_copy_row(d, g, plane + (size_t)r * d->geo.W, slot);
      rowp[i] = slot;
    }
    next = ih + g->R > next ? ih + g->R : next;
    int ow = 0;
    if (rows) { /* constant sizes, DH == 1, SH == SW */
      for (; ow + 2 * VW <= owr; ow += 2 * VW)
        dw_block_rows(d, c, rowp, w, g->half, bias, out, res, oh, ow, KH, KW, SW, 2);
      if (ow < owr) dw_block_rows(d, c, rowp, w, g->half, bias, out, res, oh, ow, KH, KW, SW, 1);
      continue;
    }
    const float *rp[DW_RB * DW_MAX_KH];
    for (int j = 0; j < DW_RB; j++)
      for (int kh = 0; kh < KH; kh++) rp[j * KH + kh] = rowp[j * d->geo.SH + kh * d->geo.DH];
    for (; ow + 2 * VW <= owr; ow += 2 * VW)
      dw_block(d, c, rp, w, g->half, bias, out, res, oh, ow, KH, KW, SW, 2);
    if (ow < owr) dw_block(d, c, rp, w, g->half, bias, out, res, oh, ow, KH, KW, SW, 1);
  }
}

/* The kernel covers the whole (unpadded) input and the output is 1x1: a dot product. */
static void dw_global(const mien_dw_args *d, int c0, int c1) {
  int n = d->geo.H * d->geo.W;
  for (int c = c0; c < c1; c++) {
    const float *x = d->in + (size_t)c * n, *w = d->weight + (size_t)c * n;
    V s0 = v_zero(), s1 = v_zero();
    int i = 0;
    for (; i + 2 * VW <= n; i += 2 * VW) {
      s0 = v_fmadd(v_load(x + i), v_load(w + i), s0);
      s1 = v_fmadd(v_load(x + i + VW), v_load(w + i + VW), s1);
    }
    for (; i < n; i += VW) s0 = v_fmadd(v_loadn(x + i, n - i), v_loadn(w + i, n - i), s0);
    float v = v_hsum(v_add(s0, s1)) + (d->ep.bias ? d->ep.bias[c] : 0.0f) +
              (d->ep.residual ? d->ep.residual[c] : 0.0f);
    d->out[c] = mien_act1(&d->ep, c, v);
  }
}

void MIEN_DW_NAME(const mien_dw_args *d, int c0, int c1) {
  if (d->geo.KH == d->geo.H && d->geo.KW == d->geo.W && d->geo.OH == 1 && d->geo.OW == 1 &&
      d->geo.PT == 0 && d->geo.PL == 0 && (d->geo.KH == 1 || d->geo.DH == 1) &&
      (d->geo.KW == 1 || d->geo.DW == 1)) {
    dw_global(d, c0, c1);
    return;
  }
  /* A ring row must reach the last lane of the last VW-pixel chunk for the widest tap. */
  int SW = d->geo.SW, owr = (d->geo.OW + VW - 1) / VW * VW, reach = (d->geo.KW - 1) * d->geo.DW;
  float ring[DW_RING];
  dw_ring g = {ring, (DW_RB - 1) * d->geo.SH + (d->geo.KH - 1) * d->geo.DH + 1, 0, 0};
  if (SW == 2) {
    g.half = owr + reach / 2 + 1;
    g.L = 2 * g.half;
  } else {
    g.L = owr + reach;
  }
  if (SW > 2 || g.R > DW_MAX_R || d->geo.KH > DW_MAX_KH || (size_t)(g.R + 1) * g.L > DW_RING) {
    mien_dwconv_generic(d, c0, c1);
    return;
  }
  memset(ring, 0, sizeof(float) * (size_t)(g.R + 1) * g.L);
  int rows = d->geo.DH == 1 && d->geo.SH == SW;
  for (int c = c0; c < c1; c++) {
    if (d->geo.KH == 3 && d->geo.KW == 3 && SW == 1 && rows)
      dw_channel(d, c, &g, 3, 3, 1, 1);
    else if (d->geo.KH == 3 && d->geo.KW == 3 && SW == 2 && rows)
      dw_channel(d, c, &g, 3, 3, 2, 1);
    else if (d->geo.KH == 3 && d->geo.KW == 3 && SW == 1)
      dw_channel(d, c, &g, 3, 3, 1, 0);
    else if (d->geo.KH == 3 && d->geo.KW == 3 && SW == 2)
      dw_channel(d, c, &g, 3, 3, 2, 0);
    else if (d->geo.KH == 4 && d->geo.KW == 4 && SW == 1)
      dw_channel(d, c, &g, 4, 4, 1, 0);
    else if (d->geo.KH == 4 && d->geo.KW == 4 && SW == 2)
      dw_channel(d, c, &g, 4, 4, 2, 0);
    else
      dw_channel(d, c, &g, d->geo.KH, d->geo.KW, SW, 0);
  }
}
