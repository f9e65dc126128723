/* resample.c - image to model input tensor: bilinear resize of a crop (detector, landmarks) and
 * bilinear affine warp (face alignment), both writing planar float with mean/scale applied.
 * These run on every image, so the resize is separable: each source row needed is resampled
 * horizontally once, into one of two cached rows, and each output row blends two of those.
 * Plain loops over precomputed taps; the compiler vectorises what it can. */
#include <math.h>
#include <stdlib.h>

#include "image/internal.h"

static int usable(const mien_image *img) {
  return img && img->rgb && img->w > 0 && img->h > 0;
}

/* One output coordinate's two taps: byte (or row) offsets into the source and their weights.
 * A tap that falls outside the image has weight 0 and a harmless in-range offset. */
typedef struct {
  int i0, i1;
  float w0, w1;
} tap;

/* OpenCV INTER_LINEAR's sampling along one axis: output o of n covers the crop of length c
 * starting at image coordinate start; taps are clamped to the crop's ends, and crop pixels
 * outside the image (0..limit-1) read as zero. Offsets are in units of `unit`. */
static void make_taps(tap *t, int n, long start, int c, int limit, int unit) {
  double ratio = (double)c / n;
  for (int o = 0; o < n; o++) {
    double u = (o + 0.5) * ratio - 0.5;
    long i = (long)floor(u);
    float f = (float)(u - (double)i);
    if (i < 0) i = 0, f = 0;
    if (i >= c - 1) i = c - 1, f = 0;
    long a = start + i, b = start + i + (f > 0);
    int ina = a >= 0 && a < limit, inb = b >= 0 && b < limit;
    t[o].i0 = ina ? (int)a * unit : 0;
    t[o].i1 = inb ? (int)b * unit : 0;
    t[o].w0 = ina ? 1 - f : 0;
    t[o].w1 = inb ? f : 0;
  }
}

typedef struct {
  int src_row[2]; /* which image row each slot holds; -1 = none yet */
  float *buf[2];  /* 3 * ow floats: the row resampled horizontally, RGB interleaved */
} row_cache;

static void hresample(float *dst, const uint8_t *src, const tap *tx, int ow) {
  for (int x = 0; x < ow; x++) {
    const uint8_t *a = src + tx[x].i0, *b = src + tx[x].i1;
    float w0 = tx[x].w0, w1 = tx[x].w1;
    dst[3 * x] = w0 * a[0] + w1 * b[0];
    dst[3 * x + 1] = w0 * a[1] + w1 * b[1];
    dst[3 * x + 2] = w0 * a[2] + w1 * b[2];
  }
}

/* Returns image row r resampled horizontally, computing it into the slot not holding `keep`. */
static const float *cached_row(row_cache *rc, const mien_image *img, const tap *tx, int ow, int r,
                               int keep) {
  for (int s = 0; s < 2; s++)
    if (rc->src_row[s] == r) return rc->buf[s];
  int s = rc->src_row[0] == keep ? 1 : 0;
  hresample(rc->buf[s], img->rgb + (size_t)3 * img->w * r, tx, ow);
  rc->src_row[s] = r;
  return rc->buf[s];
}

mien_img_status mien_image_resize_to_tensor(const mien_image *img, int x0, int y0, int cw, int ch,
                                            int ow, int oh, float mean, float scale, int gray,
                                            int bgr, float *out) {
  if (!usable(img) || cw <= 0 || ch <= 0 || ow <= 0 || oh <= 0) return MIEN_IMG_BAD_ARGUMENT;
  tap *tx = malloc(sizeof *tx * (size_t)ow), *ty = malloc(sizeof *ty * (size_t)oh);
  float *rows = malloc(sizeof *rows * (size_t)6 * ow);
  if (!tx || !ty || !rows) {
    free(tx);
    free(ty);
    free(rows);
    return MIEN_IMG_NOMEM;
  }
  make_taps(tx, ow, x0, cw, img->w, 3);
  make_taps(ty, oh, y0, ch, img->h, 1);
  row_cache rc = {{-1, -1}, {rows, rows + (size_t)3 * ow}};

  const size_t plane = (size_t)ow * oh;
  float *p0 = out, *p1 = out + plane, *p2 = out + 2 * plane;
  if (bgr) p0 = out + 2 * plane, p2 = out;
  const float bias = -mean * scale;
  for (int y = 0; y < oh; y++) {
    float w0 = ty[y].w0 * scale, w1 = ty[y].w1 * scale;
    /* A zero-weight row (outside the image) can be any row; reuse the other tap's. */
    int r0 = ty[y].i0, r1 = w1 != 0 ? ty[y].i1 : r0;
    if (w0 == 0) r0 = r1;
    const float *a = cached_row(&rc, img, tx, ow, r0, r1);
    const float *b = cached_row(&rc, img, tx, ow, r1, r0);
    size_t o = (size_t)ow * y;
    if (gray) {
      for (int x = 0; x < ow; x++) {
        float r = w0 * a[3 * x] + w1 * b[3 * x], g = w0 * a[3 * x + 1] + w1 * b[3 * x + 1],
              bl = w0 * a[3 * x + 2] + w1 * b[3 * x + 2];
        out[o + x] = 0.299f * r + 0.587f * g + 0.114f * bl + bias;
      }
    } else {
      for (int x = 0; x < ow; x++) {
        p0[o + x] = w0 * a[3 * x] + w1 * b[3 * x] + bias;
        p1[o + x] = w0 * a[3 * x + 1] + w1 * b[3 * x + 1] + bias;
        p2[o + x] = w0 * a[3 * x + 2] + w1 * b[3 * x + 2] + bias;
      }
    }
  }
  free(tx);
  free(ty);
  free(rows);
  return MIEN_IMG_OK;
}

mien_img_status mien_image_warp_affine_to_tensor(const mien_image *img, const float M[6], int ow,
                                                 int oh, float mean, float scale, float *out) {
  if (!usable(img) || ow <= 0 || oh <= 0) return MIEN_IMG_BAD_ARGUMENT;
  const size_t plane = (size_t)ow * oh;
  const float bias = -mean * scale;
  const int w = img->w, h = img->h;
  for (int y = 0; y < oh; y++) {
    for (int x = 0; x < ow; x++) {
      double sx = (double)M[0] * x + (double)M[1] * y + M[2];
      double sy = (double)M[3] * x + (double)M[4] * y + M[5];
      float v[3] = {0, 0, 0};
      /* Written so NaN also lands here: nothing of the image within one pixel. */
      if (sx > -1 && sx < w && sy > -1 && sy < h) {
        int ix = (int)floor(sx), iy = (int)floor(sy);
        float fx = (float)(sx - ix), fy = (float)(sy - iy);
        float wt[4] = {(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy};
        for (int k = 0; k < 4; k++) {
          int px = ix + (k & 1), py = iy + (k >> 1);
          if (px < 0 || px >= w || py < 0 || py >= h) continue;
          const uint8_t *s = img->rgb + ((size_t)w * py + px) * 3;
          v[0] += wt[k] * s[0];
          v[1] += wt[k] * s[1];
          v[2] += wt[k] * s[2];
        }
      }
      size_t o = (size_t)ow * y + x;
      out[o] = v[0] * scale + bias;
      out[plane + o] = v[1] * scale + bias;
      out[2 * plane + o] = v[2] * scale + bias;
    }
  }
  return MIEN_IMG_OK;
}
