/* ops_spatial.c - MaxPool and Resize over NCHW images (YuNet uses both; the default models
 * neither). Plain loops: they are a small share of any face model's time. */
#include <math.h>
#include <string.h>

#include "nn/ops.h"

/* Output size of pooled axis i (0: H, 1: W) and its leading pad, honouring auto_pad and
 * ceil_mode; -1 when the window does not fit. */
static int64_t pool_axis(const nn_attrs *a, int i, int64_t in, int64_t *pad_begin) {
  int64_t ext = a->dilations[i] * (a->kernel[i] - 1) + 1, s = a->strides[i];
  if (a->auto_pad_same) {
    int64_t out = (in + s - 1) / s, total = (out - 1) * s + ext - in;
    if (total < 0) total = 0;
    *pad_begin = a->auto_pad_same == 1 ? total / 2 : total - total / 2;
    return out;
  }
  *pad_begin = a->pads[i];
  int64_t span = in + a->pads[i] + a->pads[2 + i] - ext;
  return span < 0 ? -1 : (a->ceil_mode ? span + s - 1 : span) / s + 1;
}

static int maxpool_infer(const nn_node *n, nn_tensor **in, nn_tensor **out, char *err,
                         size_t errlen) {
  const nn_shape *s = &in[0]->s;
  const nn_attrs *a = &n->a;
  if (s->ndim != 4 || in[0]->type != NN_F32 || a->kernel[0] < 1 || a->kernel[1] < 1)
    return nn_node_errf(n, err, errlen, "only 2-D float pooling with a kernel_shape is supported");
  out[0]->s = *s;
  for (int i = 0; i < 2; i++) {
    int64_t pad;
    out[0]->s.d[2 + i] = pool_axis(a, i, s->d[2 + i], &pad);
    if (out[0]->s.d[2 + i] < 1)
      return nn_node_errf(n, err, errlen, "input smaller than the pooling window");
  }
  out[0]->type = NN_F32;
  return 0;
}

static void maxpool_run(const nn_node *n, nn_tensor **in, nn_tensor **out, const nn_ctx *ctx) {
  (void)ctx;
  const nn_attrs *a = &n->a;
  const nn_shape *s = &in[0]->s, *os = &out[0]->s;
  int64_t H = s->d[2], W = s->d[3], OH = os->d[2], OW = os->d[3], pt, pl;
  pool_axis(a, 0, H, &pt);
  pool_axis(a, 1, W, &pl);
  for (int64_t c = 0; c < s->d[0] * s->d[1]; c++) {
    const float *x = (const float *)in[0]->data + c * H * W;
    float *y = (float *)out[0]->data + c * OH * OW;
    for (int64_t oy = 0; oy < OH; oy++)
      for (int64_t ox = 0; ox < OW; ox++) {
        float m = -INFINITY;
        for (int64_t ky = 0; ky < a->kernel[0]; ky++) {
          int64_t iy = oy * a->strides[0] - pt + ky * a->dilations[0];
          if (iy < 0 || iy >= H) continue;
          for (int64_t kx = 0; kx < a->kernel[1]; kx++) {
            int64_t ix = ox * a->strides[1] - pl + kx * a->dilations[1];
            if (ix >= 0 && ix < W && x[iy * W + ix] > m) m = x[iy * W + ix];
          }
        }
        y[oy * OW + ox] = m;
      }
  }
}

/* Resize: opset 10 has (X, scales); 11+ has (X, roi, scales, sizes). Only H and W may change. */
static int resize_infer(const nn_node *n, nn_tensor **in, nn_tensor **out, char *err,
                        size_t errlen) {
  const nn_shape *s = &in[0]->s;
  if (s->ndim != 4 || in[0]->type != NN_F32)
    return nn_node_errf(n, err, errlen, "only NCHW float input is supported");
  int si = n->nin == 2 ? 1 : 2, zi = 3;
  out[0]->s = *s;
  out[0]->type = NN_F32;
  if (zi < n->nin && n->in[zi] >= 0 && nn_numel(&in[zi]->s) == 4) {
    if (!in[zi]->data || in[zi]->type != NN_I64)
      return nn_node_errf(n, err, errlen, "sizes must be known at plan time");
    memcpy(out[0]->s.d, in[zi]->data, 4 * sizeof(int64_t));
  } else if (si < n->nin && n->in[si] >= 0 && nn_numel(&in[si]->s) == 4) {
    if (!in[si]->data || in[si]->type != NN_F32)
      return nn_node_errf(n, err, errlen, "scales must be known at plan time");
    const float *sc = in[si]->data;
    for (int i = 0; i < 4; i++) {
      float d = floorf((float)s->d[i] * sc[i]);
      /* NaN and sizes beyond any tensor are refused before the cast, which they would overflow */
      if (!(d >= 0 && d <= 1e9f))
        return nn_node_errf(n, err, errlen, "scale %g gives no usable size", (double)sc[i]);
      out[0]->s.d[i] = (int64_t)d;
    }
  } else {
    return nn_node_errf(n, err, errlen, "needs 4 scales or 4 sizes");
  }
  if (out[0]->s.d[0] != s->d[0] || out[0]->s.d[1] != s->d[1] || out[0]->s.d[2] < 1 ||
      out[0]->s.d[3] < 1 || out[0]->s.d[2] > 65536 || out[0]->s.d[3] > 65536)
    return nn_node_errf(n, err, errlen, "only height and width may be resized");
  return 0;
}

/* Source coordinate of output index o for the node's coordinate transformation. */
static float src_coord(const nn_attrs *a, int64_t o, int64_t in, int64_t out, float scale) {
  if (a->resize_align_corners) return out > 1 ? (float)o * (float)(in - 1) / (float)(out - 1) : 0;
  return a->resize_half_pixel ? ((float)o + 0.5f) * scale - 0.5f : (float)o * scale;
}

static void resize_run(const nn_node *n, nn_tensor **in, nn_tensor **out, const nn_ctx *ctx) {
  (void)ctx;
  const nn_attrs *a = &n->a;
  const nn_shape *s = &in[0]->s, *os = &out[0]->s;
  int64_t H = s->d[2], W = s->d[3], OH = os->d[2], OW = os->d[3];
  /* input pixels per output pixel: 1 / scales[i] when scales were given (ONNX uses them as
   * they are, not out / in, which differs whenever in * scale is not an integer) */
  int si = n->nin == 2 ? 1 : 2, zi = 3;
  int by_sizes = zi < n->nin && n->in[zi] >= 0 && nn_numel(&in[zi]->s) == 4;
  const float *sc = by_sizes ? NULL : in[si]->data;
  float ry = sc ? 1.0f / sc[2] : (float)H / (float)OH,
        rx = sc ? 1.0f / sc[3] : (float)W / (float)OW;
  for (int64_t c = 0; c < s->d[0] * s->d[1]; c++) {
    const float *x = (const float *)in[0]->data + c * H * W;
    float *y = (float *)out[0]->data + c * OH * OW;
    for (int64_t oy = 0; oy < OH; oy++) {
      float fy = src_coord(a, oy, H, OH, ry);
      for (int64_t ox = 0; ox < OW; ox++) {
        float fx = src_coord(a, ox, W, OW, rx);
        if (!a->resize_linear) {
          int64_t iy = (int64_t)(a->resize_nearest_floor ? floorf(fy) : ceilf(fy - 0.5f));
          int64_t ix = (int64_t)(a->resize_nearest_floor ? floorf(fx) : ceilf(fx - 0.5f));
          iy = iy < 0 ? 0 : iy >= H ? H - 1 : iy;
          ix = ix < 0 ? 0 : ix >= W ? W - 1 : ix;
          y[oy * OW + ox] = x[iy * W + ix];
          continue;
        }
        float cy = fy < 0 ? 0 : fy, cx = fx < 0 ? 0 : fx;
        int64_t y0 = (int64_t)cy, x0 = (int64_t)cx;
        if (y0 > H - 1) y0 = H - 1;
        if (x0 > W - 1) x0 = W - 1;
        int64_t y1 = y0 + 1 < H ? y0 + 1 : H - 1, x1 = x0 + 1 < W ? x0 + 1 : W - 1;
        float wy = cy - (float)y0, wx = cx - (float)x0;
        if (wy > 1) wy = 1;
        if (wx > 1) wx = 1;
        float top = x[y0 * W + x0] * (1 - wx) + x[y0 * W + x1] * wx;
        float bot = x[y1 * W + x0] * (1 - wx) + x[y1 * W + x1] * wx;
        y[oy * OW + ox] = top * (1 - wy) + bot * wy;
      }
    }
  }
}

const nn_op_def nn_op_maxpool = {"MaxPool", maxpool_infer, maxpool_run, NULL, NULL};
const nn_op_def nn_op_resize = {"Resize", resize_infer, resize_run, NULL, NULL};
