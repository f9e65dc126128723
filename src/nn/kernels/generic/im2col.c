/* generic/im2col.c - lowers a dense convolution to a matrix for sgemm. Memory-bound, so one
 * portable version serves every ISA: the inner loop is a plain copy (memcpy when stride 1) over
 * the run of output columns whose taps stay inside the image, with zeros around it.
 *
 * Column n is output pixel (n / OW, n % OW). Only columns [n0, n1) are written, column n at
 * col[row * ldcol + n - n0]: a thread lowers its chunk into its own buffer of n1 - n0 columns.
 */
#include <string.h>

#include "nn/kernels/kernels_generic.h"

/* One row (c, kh, kw) of the matrix, output columns [n0, n1) into dst[0, n1 - n0). */
static void im2col_row(const mien_im2col_args *a, const float *plane, int kh, int kw, float *dst,
                       int n0, int n1) {
  int off = kw * a->geo.DW - a->geo.PL, lo, hi;
  mien_interior(a->geo.OW, a->geo.W, a->geo.SW, off, 1, 1, &lo, &hi);
  for (int n = n0; n < n1;) {
    int oh = n / a->geo.OW, ow = n % a->geo.OW;
    int end = n1 - n < a->geo.OW - ow ? n1 : n + (a->geo.OW - ow); /* rest of this output row */
    int ih = oh * a->geo.SH - a->geo.PT + kh * a->geo.DH;
    float *d = dst + (n - n0);
    if (ih < 0 || ih >= a->geo.H) {
      memset(d, 0, sizeof(float) * (size_t)(end - n));
      n = end;
      continue;
    }
    /* zeros left of the image, the run inside it, zeros right of it */
    int left = lo - ow > 0 ? (lo - ow < end - n ? lo - ow : end - n) : 0;
    for (int i = 0; i < left; i++) *d++ = 0.0f;
    n += left, ow += left;
    int run = (end - n) < (hi - ow) ? end - n : hi - ow;
    if (run > 0) {
      const float *src =
          plane + (size_t)ih * a->geo.W + (ow * a->geo.SW + off); /* in bounds: ow >= lo */
      if (a->geo.SW == 1) {
        memcpy(d, src, sizeof(float) * (size_t)run);
      } else {
        for (int i = 0; i < run; i++) d[i] = src[(size_t)i * a->geo.SW];
      }
      d += run, n += run;
    }
    for (; n < end; n++) *d++ = 0.0f;
  }
}

void mien_im2col_generic(const mien_im2col_args *a, int n0, int n1) {
  float *dst = a->col;
  for (int c = 0; c < a->geo.C; c++) {
    const float *plane = a->in + (size_t)c * a->geo.H * a->geo.W;
    for (int kh = 0; kh < a->geo.KH; kh++)
      for (int kw = 0; kw < a->geo.KW; kw++, dst += a->ldcol)
        im2col_row(a, plane, kh, kw, dst, n0, n1);
  }
}
