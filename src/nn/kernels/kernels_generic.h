/* kernels_generic.h - private to src/nn/kernels: the portable kernels and helpers that the
 * ISA-specific tables reuse, and the scalar epilogue every kernel applies at its edges.
 *
 * Everything declared here is compiled without ISA flags (kernels/generic/), so calling it from
 * an AVX2 table is always safe; the static inline helpers are compiled into each caller.
 */
#ifndef MIEN_NN_KERNELS_GENERIC_H
#define MIEN_NN_KERNELS_GENERIC_H

#include "nn/kernels/kernels.h"

void mien_im2col_generic(const mien_im2col_args *a, int n0, int n1);
void mien_dwconv_generic(const mien_dw_args *d, int c0, int c1);
void mien_conv_direct_generic(const mien_direct_args *a, int oh0, int oh1, float *scratch);

/* act(v) for output channel m; bias and residual are already added. */
static inline float mien_act1(const mien_epilogue *ep, int m, float v) {
  if (ep->act == MIEN_ACT_RELU) return v > 0.0f ? v : 0.0f;
  if (ep->act == MIEN_ACT_PRELU) return v < 0.0f ? v * ep->slope[m] : v;
  return v;
}

/* Range [lo, hi) of output positions o whose input index o*stride + off + t*dil lies in [0, n)
 * for every tap t in [0, taps): the "interior" where no bounds check is needed. May be empty. */
static inline void mien_interior(int out_n, int n, int stride, int off, int taps, int dil, int *lo,
                                 int *hi) {
  int first = off < 0 ? (-off + stride - 1) / stride : 0;
  int last_in = n - 1 - off - (taps - 1) * dil; /* need o*stride <= last_in */
  int end = last_in < 0 ? 0 : last_in / stride + 1;
  if (end > out_n) end = out_n;
  if (first > end) first = end;
  *lo = first;
  *hi = end;
}

#endif
