/* conv_direct_impl.h - direct dense convolution, written once over a vector of VW floats (the
 * operations are listed in dwconv_impl.h) and instantiated by every kernel table. The includer
 * also defines DC_CB and DC_PV (a block is DC_CB output channels x DC_PV vectors of pixels, its
 * accumulators filling the registers: 8 x 3 zmm with AVX-512, 4 x 3 ymm with AVX2; at most 3
 * vectors) and MIEN_DIRECT_NAME, the function this file defines.
 *
 * Vectorised along the output width: each tap of a block costs DC_PV input loads and DC_CB
 * weight broadcasts for DC_CB * DC_PV FMAs, with no im2col matrix written or read; rows that
 * end in a partial block use fewer vectors, and maps at most VW wide put DC_PV output rows in a
 * block instead. The input rows a band of output rows reads are first copied into scratch,
 * zero-padded and split into their SW phases (even and odd columns for stride 2), so that every
 * tap of every block, borders included, is a plain unaligned load; each output row then gets
 * all its channels while its input rows are in L1.
 */
#include <string.h>

#include "nn/kernels/kernels_generic.h"

/* Input row src of a channel (NULL: outside the image) into dst: SW phases of lph floats,
 * padded column x (input column x - PL) at dst[(x % SW) * lph + x / SW]. */
static void dc_copy_row(const mien_direct_args *a, const float *src, float *dst, int lph) {
  int SW = a->geo.SW, PL = a->geo.PL, n = SW * lph;
  memset(dst, 0, sizeof(float) * (size_t)n);
  if (!src) return;
  int x0 = PL, x1 = PL + a->geo.W < n ? PL + a->geo.W : n; /* padded columns with input */
  if (SW == 1) {
    int x = x0;
    for (; x + VW <= x1; x += VW) v_store(dst + x, v_load(src + x - PL));
    if (x < x1) v_storen(dst + x, v_loadn(src + x - PL, x1 - x), x1 - x);
    return;
  }
  int x = x0;
  if (SW == 2) {
    if (x & 1) dst[lph + x / 2] = src[x - PL], x++;
    for (; x + 2 * VW <= x1; x += 2 * VW)
      v_deinterleave(src + x - PL, dst + x / 2, dst + lph + x / 2);
  }
  for (; x < x1; x++) dst[(x % SW) * lph + x / SW] = src[x - PL];
}

/* PV vectors of pixels of channels co .. co + n (n <= CB) of the block whose weights are wb (16
 * per tap, this pass's first at wb[0]): [ow, ow + PV * VW) of output row oh, or, with ROWS (maps
 * at most VW wide), [ow, ow + VW) of output rows oh .. oh + PV, which keeps narrow maps from
 * spending a block's broadcasts on one vector. rows is the first padded input row of channel 0
 * that output row oh reads, channel planes `plane` floats apart, the rows of consecutive output
 * rows `rstep` floats apart. Taps go kw outermost so that the phase and offset of a tap in the
 * padded rows are computed KW times per block, not once per tap. */
static inline __attribute__((always_inline)) void
dc_block(const mien_direct_args *a, const float *wb, const float *rows, size_t plane, int lph,
         size_t rstep, int oh, int ow, int co, int n, const int CB, const int PV, const int ROWS) {
  V acc[DC_CB][DC_PV];
#pragma GCC unroll 16
  for (int j = 0; j < CB; j++)
#pragma GCC unroll 4
    for (int p = 0; p < PV; p++) acc[j][p] = v_zero();
  size_t kstep = (size_t)a->geo.DH * a->geo.SW * lph, wstep = (size_t)a->geo.KW * MIEN_DIRECT_CO;
  size_t pstep = ROWS ? rstep : VW; /* between the block's vectors in the padded rows */
  for (int kw = 0; kw < a->geo.KW; kw++) {
    int t = kw * a->geo.DW;
    const float *w = wb + (size_t)kw * MIEN_DIRECT_CO;
    const float *r0 = rows + (t % a->geo.SW) * lph + t / a->geo.SW + ow;
    for (int c = 0; c < a->geo.C; c++, r0 += plane) {
      const float *r = r0;
      for (int kh = 0; kh < a->geo.KH; kh++, r += kstep, w += wstep) {
        V x[DC_PV];
#pragma GCC unroll 4
        for (int p = 0; p < PV; p++) x[p] = v_load(r + p * pstep);
#pragma GCC unroll 16
        for (int j = 0; j < CB; j++) {
          V wj = v_set1(w[j]);
#pragma GCC unroll 4
          for (int p = 0; p < PV; p++) acc[j][p] = v_fmadd(wj, x[p], acc[j][p]);
        }
      }
    }
  }
#pragma GCC unroll 4
  for (int p = 0; p < PV; p++) {
    int px = a->geo.OW - ow - (ROWS ? 0 : p * VW);
    if (px <= 0) break;
#pragma GCC unroll 16
    for (int j = 0; j < CB; j++) {
      if (j >= n) break;
      size_t at = ((size_t)(co + j) * a->geo.OH + oh + (ROWS ? p : 0)) * a->geo.OW + ow +
                  (ROWS ? 0 : (size_t)p * VW);
      V v = acc[j][p];
      if (a->ep.bias) v = v_add(v, v_set1(a->ep.bias[co + j]));
      if (a->ep.residual)
        v = v_add(v, px >= VW ? v_load(a->ep.residual + at) : v_loadn(a->ep.residual + at, px));
      v = v_act(v, a->ep.act, a->ep.slope, co + j);
      if (px >= VW)
        v_store(a->out + at, v);
      else
        v_storen(a->out + at, v, px);
    }
  }
}

/* All blocks of nr output rows from oh (nr > 1 only for maps at most VW wide) for channels
 * co .. co + n, n <= CB. */
static inline __attribute__((always_inline)) void
dc_rows(const mien_direct_args *a, const float *wb, const float *rows, size_t plane, int lph,
        size_t rstep, int oh, int nr, int co, int n, const int CB) {
  if (nr == DC_PV) {
    dc_block(a, wb, rows, plane, lph, rstep, oh, 0, co, n, CB, DC_PV, 1);
  } else if (nr == 2) {
    dc_block(a, wb, rows, plane, lph, rstep, oh, 0, co, n, CB, 2, 1);
  } else {
    for (int ow = 0; ow < a->geo.OW; ow += DC_PV * VW) {
      int vecs = (a->geo.OW - ow + VW - 1) / VW; /* the row ends within the padded width */
      if (vecs >= DC_PV)
        dc_block(a, wb, rows, plane, lph, rstep, oh, ow, co, n, CB, DC_PV, 0);
      else if (vecs == 2)
        dc_block(a, wb, rows, plane, lph, rstep, oh, ow, co, n, CB, 2, 0);
      else
        dc_block(a, wb, rows, plane, lph, rstep, oh, ow, co, n, CB, 1, 0);
    }
  }
}

void MIEN_DIRECT_NAME(const mien_direct_args *a, int oh0, int oh1, float *scratch) {
  int lph = mien_direct_phase_len(a), SW = a->geo.SW, K = a->geo.C * a->geo.KH * a->geo.KW;
  size_t rstep = (size_t)a->geo.SH * SW * lph; /* between the padded rows of consecutive outputs */
  for (int b0 = oh0, b1; b0 < oh1; b0 = b1) {  /* bands of MIEN_DIRECT_BAND output rows */
    b1 = b0 + MIEN_DIRECT_BAND < oh1 ? b0 + MIEN_DIRECT_BAND : oh1;
    int rin = (b1 - b0 - 1) * a->geo.SH + (a->geo.KH - 1) * a->geo.DH + 1;
    size_t plane = (size_t)rin * SW * lph;
    for (int c = 0; c < a->geo.C; c++)
      for (int r = 0; r < rin; r++) {
        int ih = b0 * a->geo.SH - a->geo.PT + r;
        const float *src =
            ih >= 0 && ih < a->geo.H ? a->in + ((size_t)c * a->geo.H + ih) * a->geo.W : NULL;
        dc_copy_row(a, src, scratch + c * plane + (size_t)r * SW * lph, lph);
      }
    /* all channels of an output row (or of a few, on narrow maps) while its inputs are in L1 */
    for (int oh = b0, nr; oh < b1; oh += nr) {
      const float *rows = scratch + (size_t)(oh - b0) * rstep;
      nr = a->geo.OW > VW ? 1 : b1 - oh < DC_PV ? b1 - oh : DC_PV; /* output rows in this step */
      for (int co = 0; co < a->CO; co += DC_CB) {
        const float *wb =
            a->wt + (size_t)(co / MIEN_DIRECT_CO) * K * MIEN_DIRECT_CO + co % MIEN_DIRECT_CO;
        int n = a->CO - co < DC_CB ? a->CO - co : DC_CB;
        if (2 * n > DC_CB)
          dc_rows(a, wb, rows, plane, lph, rstep, oh, nr, co, n, DC_CB);
        else /* half the accumulators when at most half of DC_CB channels are left */
          dc_rows(a, wb, rows, plane, lph, rstep, oh, nr, co, n, DC_CB / 2);
      }
    }
  }
}
