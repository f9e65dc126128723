/* avx2/dwconv_avx2.c - AVX2+FMA depthwise convolution.
 *
 * Vectorised along the output width, 8 pixels per ymm, over blocks of 4 output rows x 16 (or 8)
 * pixels: 8 independent accumulators, what two pipes of 4-cycle FMAs need, even on 7-wide maps.
 *
 * Each input row is copied once into a zero-padded row of a small ring on the stack, so every
 * load of the inner loop, borders included, is a plain unaligned load and padding costs no
 * branches; rows outside the image point at a row of zeros. For stride 2 the copy also splits
 * the row into its even and odd columns, which turns every tap into a contiguous load, with the
 * shuffles paid once per input row instead of once per tap. 3x3 and 4x4 kernels are
 * instantiated with constant sizes so the tap loops unroll. A kernel that covers the whole input
 * (the 7x7 "global depthwise" of MobileFaceNet) is a dot product per channel. Strides above 2,
 * and rows too wide for the ring, use the generic kernel.
 */
#include <string.h>

#include "nn/kernels/avx2/simd.h"
#include "nn/kernels/kernels_generic.h"

#define RING 8192 /* floats (32 KB) of stack for the padded rows */
#define RB 4      /* output rows per block */
#define MAX_R 64  /* input rows one block may read */
#define MAX_KH 16

/* The ring: R rows of L floats, then one row of zeros. R is the number of input rows one block
 * of RB output rows reads. With stride 2 a row is its even padded columns followed, at +half,
 * by its odd ones. */
typedef struct {
  float *ring;
  int R, L, half;
} dw_ring;

/* src[0..15] to e[0..7] (even columns) and o[0..7] (odd columns) */
static inline void deinterleave16(const float *src, float *e, float *o) {
  __m256 a = _mm256_loadu_ps(src), b = _mm256_loadu_ps(src + 8);
  __m256 ev = _mm256_shuffle_ps(a, b, 0x88), od = _mm256_shuffle_ps(a, b, 0xdd);
  /* shuffle_ps leaves pairs in order (0 1)(4 5)(2 3)(6 7); restore it */
  _mm256_storeu_ps(e, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), 0xd8)));
  _mm256_storeu_ps(o, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(od), 0xd8)));
}

static void copy_row(const mien_dw_args *d, const dw_ring *g, const float *src, float *dst) {
  int PL = d->PL, W = d->W;
  if (d->SW == 1) { /* inline, not memcpy: rows of small maps are a few vectors */
    int n = g->L - PL < W ? g->L - PL : W, x = 0;
    for (; x + 8 <= n; x += 8) _mm256_storeu_ps(dst + PL + x, _mm256_loadu_ps(src + x));
    if (x < n) {
      __m256i m = mien_mask8(n - x);
      _mm256_maskstore_ps(dst + PL + x, m, _mm256_maskload_ps(src + x, m));
    }
    return;
  }
  /* padded column i = x + PL goes to half (i & 1) at i >> 1; pairs start on even i */
  float *e = dst, *o = dst + g->half;
  int x = PL & 1;
  if (x) o[PL >> 1] = src[0];
  for (; x + 16 <= W && (x + PL) / 2 + 8 <= g->half; x += 16)
    deinterleave16(src + x, e + (x + PL) / 2, o + (x + PL) / 2);
  if (x < W && W >= 16) { /* redo the 16 that end the row (same parity) rather than go scalar */
    int y = W - 16 - ((W - 16 - x) & 1);
    if (y >= (PL & 1) && (y + PL) / 2 + 8 <= g->half) {
      deinterleave16(src + y, e + (y + PL) / 2, o + (y + PL) / 2);
      x = y + 16;
    }
  }
  for (; x < W && (x + PL) >> 1 < g->half; x++) ((x + PL) & 1 ? o : e)[(x + PL) >> 1] = src[x];
}

static inline void dw_store(const mien_dw_args *d, int c, float *o, __m256 v, int n) {
  v = mien_act8(v, d->ep.act, d->ep.slope, c);
  if (n >= 8)
    _mm256_storeu_ps(o, v);
  else
    _mm256_maskstore_ps(o, mien_mask8(n), v);
}

/* Output rows [oh, oh + RB) x pixels [ow, ow + 8 * G) of channel c; rp[j * KH + kh] is the
 * ring row that kernel row kh reads for output row oh + j. Rows past OH and pixels past OW are
 * computed but not stored. With one chunk (G == 1) the odd taps go to a second accumulator,
 * so that there are still eight FMA chains. */
static inline __attribute__((always_inline)) void
dw_block(const mien_dw_args *d, int c, const float *const *rp, const float *w, int half,
         __m256 bias, float *out, const float *res, int oh, int ow, const int KH, const int KW,
         const int SW, const int G) {
  __m256 acc[RB][2];
  int n[2] = {d->OW - ow, d->OW - ow - 8};
  for (int j = 0; j < RB; j++) {
    acc[j][1] = _mm256_setzero_ps();
    for (int g = 0; g < G; g++) {
      acc[j][g] = bias;
      if (res && oh + j < d->OH) {
        const float *r = res + (size_t)(oh + j) * d->OW + ow + 8 * g;
        acc[j][g] = _mm256_add_ps(bias, n[g] >= 8 ? _mm256_loadu_ps(r)
                                                  : _mm256_maskload_ps(r, mien_mask8(n[g])));
      }
    }
  }
  for (int kh = 0; kh < KH; kh++)
    for (int kw = 0; kw < KW; kw++) {
      __m256 wv = _mm256_broadcast_ss(w + kh * KW + kw);
      int t = kw * d->DW, col = ow + (SW == 1 ? t : (t & 1) * half + (t >> 1));
      for (int j = 0; j < RB; j++) {
        const float *x = rp[j * KH + kh] + col;
        if (G == 2) {
          acc[j][0] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x), acc[j][0]);
          acc[j][1] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + 8), acc[j][1]);
        } else if (kw & 1) {
          acc[j][1] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x), acc[j][1]);
        } else {
          acc[j][0] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x), acc[j][0]);
        }
      }
    }
  for (int j = 0; j < RB; j++) {
    if (oh + j >= d->OH) break;
    float *o = out + (size_t)(oh + j) * d->OW + ow;
    if (G == 2) {
      dw_store(d, c, o, acc[j][0], n[0]);
      dw_store(d, c, o + 8, acc[j][1], n[1]);
    } else {
      dw_store(d, c, o, _mm256_add_ps(acc[j][0], acc[j][1]), n[0]);
    }
  }
}

static inline __attribute__((always_inline)) void dw_channel(const mien_dw_args *d, int c,
                                                             const dw_ring *g, const int KH,
                                                             const int KW, const int SW) {
  const float *plane = d->in + (size_t)c * d->H * d->W, *w = d->weight + (size_t)c * KH * KW;
  size_t at = (size_t)c * d->OH * d->OW;
  float *out = d->out + at;
  const float *res = d->ep.residual ? d->ep.residual + at : NULL;
  const float *zero = g->ring + (size_t)g->R * g->L, *rowp[MAX_R];
  __m256 bias = _mm256_set1_ps(d->ep.bias ? d->ep.bias[c] : 0.0f);
  int owr = (d->OW + 7) / 8 * 8, next = 0; /* next: first input row not yet in the ring */
  int s0 = (g->R - d->PT % g->R) % g->R;   /* ring slot of the block's first input row */
  for (int oh = 0; oh < d->OH; oh += RB) {
    int ih = oh * d->SH - d->PT, s = s0;
    for (s0 += RB * d->SH; s0 >= g->R;) s0 -= g->R; /* no division per block: small maps */
    /* the R rows of a block are distinct mod R, so a copy only evicts rows above the block */
    for (int i = 0; i < g->R; i++, s = s + 1 == g->R ? 0 : s + 1) {
      int r = ih + i;
      float *slot = g->ring + (size_t)s * g->L;
      if (r < 0 || r >= d->H) {
        rowp[i] = zero;
        continue;
      }
      if (r >= next) copy_row(d, g, plane + (size_t)r * d->W, slot);
      rowp[i] = slot;
    }
    next = ih + g->R > next ? ih + g->R : next;
    const float *rp[RB * MAX_KH];
    for (int j = 0; j < RB; j++)
      for (int kh = 0; kh < KH; kh++) rp[j * KH + kh] = rowp[j * d->SH + kh * d->DH];
    int ow = 0;
    for (; ow + 16 <= owr; ow += 16)
      dw_block(d, c, rp, w, g->half, bias, out, res, oh, ow, KH, KW, SW, 2);
    if (ow < owr) dw_block(d, c, rp, w, g->half, bias, out, res, oh, ow, KH, KW, SW, 1);
  }
}

/* The kernel covers the whole (unpadded) input and the output is 1x1: a dot product. */
static void dw_global(const mien_dw_args *d, int c0, int c1) {
  int n = d->H * d->W;
  for (int c = c0; c < c1; c++) {
    const float *x = d->in + (size_t)c * n, *w = d->weight + (size_t)c * n;
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
      s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(w + i), s0);
      s1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(w + i + 8), s1);
    }
    for (; i < n; i += 8) {
      __m256i m = mien_mask8(n - i);
      s0 = _mm256_fmadd_ps(_mm256_maskload_ps(x + i, m), _mm256_maskload_ps(w + i, m), s0);
    }
    __m256 s = _mm256_add_ps(s0, s1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    float v = _mm_cvtss_f32(h) + (d->ep.bias ? d->ep.bias[c] : 0.0f) +
              (d->ep.residual ? d->ep.residual[c] : 0.0f);
    d->out[c] = mien_act1(&d->ep, c, v);
  }
}

void mien_dwconv_avx2(const mien_dw_args *d, int c0, int c1) {
  if (d->KH == d->H && d->KW == d->W && d->OH == 1 && d->OW == 1 && d->PT == 0 && d->PL == 0 &&
      (d->KH == 1 || d->DH == 1) && (d->KW == 1 || d->DW == 1)) {
    dw_global(d, c0, c1);
    return;
  }
  /* A ring row must reach the last lane of the last 8-pixel chunk for the widest tap. */
  int SW = d->SW, owr = (d->OW + 7) / 8 * 8, reach = (d->KW - 1) * d->DW;
  float ring[RING];
  dw_ring g = {ring, (RB - 1) * d->SH + (d->KH - 1) * d->DH + 1, 0, 0};
  if (SW == 2) {
    g.half = owr + reach / 2 + 1;
    g.L = 2 * g.half;
  } else {
    g.L = owr + reach;
  }
  if (SW > 2 || g.R > MAX_R || d->KH > MAX_KH || (size_t)(g.R + 1) * g.L > RING) {
    mien_dwconv_generic(d, c0, c1);
    return;
  }
  memset(ring, 0, sizeof(float) * (size_t)(g.R + 1) * g.L);
  for (int c = c0; c < c1; c++) {
    if (d->KH == 3 && d->KW == 3 && SW == 1)
      dw_channel(d, c, &g, 3, 3, 1);
    else if (d->KH == 3 && d->KW == 3 && SW == 2)
      dw_channel(d, c, &g, 3, 3, 2);
    else if (d->KH == 4 && d->KW == 4 && SW == 1)
      dw_channel(d, c, &g, 4, 4, 1);
    else if (d->KH == 4 && d->KW == 4 && SW == 2)
      dw_channel(d, c, &g, 4, 4, 2);
    else
      dw_channel(d, c, &g, d->KH, d->KW, SW);
  }
}
