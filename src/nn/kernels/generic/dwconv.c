/* generic/dwconv.c - portable depthwise convolution, any kernel size, stride, dilation, padding.
 *
 * Each output row is accumulated tap by tap: the row starts as bias + residual, then every tap
 * (kh, kw) adds w * input over the range of output columns whose input for that tap lies inside
 * the image, which is all that zero padding changes. That inner loop is a strided
 * multiply-add with no bounds checks, so compilers vectorise it for stride 1; the activation is
 * a last pass over the row. Reading the residual before the row is written lets out == residual.
 */
#include "nn/kernels/kernels_generic.h"

static void dw_row(const mien_dw_args *d, int c, int oh, const float *plane, const float *w,
                   float *o, const float *res) {
  float b = d->ep.bias ? d->ep.bias[c] : 0.0f;
  for (int ow = 0; ow < d->geo.OW; ow++) o[ow] = b + (res ? res[ow] : 0.0f);
  for (int kh = 0; kh < d->geo.KH; kh++) {
    int ih = oh * d->geo.SH - d->geo.PT + kh * d->geo.DH;
    if (ih < 0 || ih >= d->geo.H) continue;
    const float *row = plane + (size_t)ih * d->geo.W;
    for (int kw = 0; kw < d->geo.KW; kw++) {
      float wv = w[kh * d->geo.KW + kw];
      int off = kw * d->geo.DW - d->geo.PL, lo, hi;
      mien_interior(d->geo.OW, d->geo.W, d->geo.SW, off, 1, 1, &lo, &hi);
      if (d->geo.SW == 1) {
        for (int ow = lo; ow < hi; ow++) o[ow] += wv * row[ow + off];
      } else {
        for (int ow = lo; ow < hi; ow++) o[ow] += wv * row[ow * d->geo.SW + off];
      }
    }
  }
  if (d->ep.act != MIEN_ACT_NONE)
    for (int ow = 0; ow < d->geo.OW; ow++) o[ow] = mien_act1(&d->ep, c, o[ow]);
}

void mien_dwconv_generic(const mien_dw_args *d, int c0, int c1) {
  size_t in_plane = (size_t)d->geo.H * d->geo.W, out_plane = (size_t)d->geo.OH * d->geo.OW;
  for (int c = c0; c < c1; c++) {
    const float *plane = d->in + c * in_plane, *w = d->weight + (size_t)c * d->geo.KH * d->geo.KW;
    for (int oh = 0; oh < d->geo.OH; oh++) {
      size_t at = c * out_plane + (size_t)oh * d->geo.OW;
      dw_row(d, c, oh, plane, w, d->out + at, d->ep.residual ? d->ep.residual + at : NULL);
    }
  }
}
