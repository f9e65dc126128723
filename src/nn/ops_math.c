/* ops_math.c - elementwise and normalisation operators: Relu, Sigmoid, Exp, PRelu, Add, Sub,
 * Mul, Div (numpy broadcasting, float32 and int64), Softmax, BatchNormalization.
 *
 * These are memory-bound and, in the default models, mostly fused into Conv by rewrite.c; what
 * remains runs here as plain loops the compiler vectorises. Binary ops walk the output with
 * per-operand strides (0 along broadcast axes), innermost axis in a tight loop.
 */
#include <math.h>
#include <string.h>

#include "nn/ops.h"

static int same_shape_infer(const nn_node *n, nn_tensor **in, nn_tensor **out, char *err,
                            size_t errlen) {
  if (in[0]->type != NN_F32) return nn_node_errf(n, err, errlen, "input must be float32");
  out[0]->s = in[0]->s;
  out[0]->type = NN_F32;
  return 0;
}

static void relu_run(const nn_node *n, nn_tensor **in, nn_tensor **out, const nn_ctx *ctx) {
  (void)n, (void)ctx;
  const float *x = in[0]->data;
  float *y = out[0]->data;
  for (int64_t i = 0, e = nn_numel(&in[0]->s); i < e; i++) y[i] = x[i] > 0 ? x[i] : 0;
}

static void sigmoid_run(const nn_node *n, nn_tensor **in, nn_tensor **out, const nn_ctx *ctx) {
  (void)n, (void)ctx;
  const float *x = in[0]->data;
  float *y = out[0]->data;
  for (int64_t i = 0, e = nn_numel(&in[0]->s); i < e; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
}

static void exp_run(const nn_node *n, nn_tensor **in, nn_tensor **out, const nn_ctx *ctx) {
  (void)n, (void)ctx;
  const float *x = in[0]->data;
  float *y = out[0]->data;
  for (int64_t i = 0, e = nn_numel(&in[0]->s); i < e; i++) y[i] = expf(x[i]);
}

static int broadcast(const nn_shape *a, const nn_shape *b, nn_shape *out) {
  out->ndim = a->ndim > b->ndim ? a->ndim : b->ndim;
  for (int i = 0; i < out->ndim; i++) {
    int ia = i - (out->ndim - a->ndim), ib = i - (out->ndim - b->ndim);
    int64_t da = ia >= 0 ? a->d[ia] : 1, db = ib >= 0 ? b->d[ib] : 1;
    if (da != db && da != 1 && db != 1) return -1;
    out->d[i] = da == 1 ? db : da;
  }
  return 0;
}

static int binary_infer(const nn_node *n, nn_tensor **in, nn_tensor **out, char *err,
                        size_t errlen) {
  if (in[0]->type != in[1]->type)
    return nn_node_errf(n, err, errlen, "operands have different types");
  if (broadcast(&in[0]->s, &in[1]->s, &out[0]->s))
    return nn_node_errf(n, err, errlen, "shapes cannot be broadcast together");
  out[0]->type = in[0]->type;
  return 0;
}

/* Element strides of `in` as seen from an output of shape `out` (0 along broadcast axes). */
static void bcast_strides(const nn_shape *in, const nn_shape *out, int64_t *st) {
  int64_t s = 1;
  for (int i = out->ndim - 1; i >= 0; i--) {
    int ii = i - (out->ndim - in->ndim);
    int64_t d = ii >= 0 ? in->d[ii] : 1;
    st[i] = d == 1 ? 0 : s;
    s *= d;
  }
}

typedef enum { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV, BIN_PRELU } bin_kind;

#define BINARY_LOOP(T, EXPR)                                                                       \
  do {                                                                                             \
    const T *A = in[0]->data, *B = in[1]->data;                                                    \
    T *Y = out[0]->data;                                                                           \
    for (int64_t o = 0; o < outer; o++) {                                                          \
      int64_t oa = 0, ob = 0, rem = o;                                                             \
      for (int i = nd - 2; i >= 0; i--) {                                                          \
        int64_t idx = rem % ys->d[i];                                                              \
        rem /= ys->d[i];                                                                           \
        oa += idx * sa[i];                                                                         \
        ob += idx * sb[i];                                                                         \
      }                                                                                            \
      const T *pa = A + oa, *pb = B + ob;                                                          \
      T *py = Y + o * inner;                                                                       \
      for (int64_t j = 0; j < inner; j++) {                                                        \
        T a = pa[j * sa[nd - 1]], b = pb[j * sb[nd - 1]];                                          \
        py[j] = (EXPR);                                                                            \
      }                                                                                            \
    }                                                                                              \
  } while (0)

static void binary_run(bin_kind kind, nn_tensor **in, nn_tensor **out) {
  nn_shape full = out[0]->s, merged = {0, {0}};
  if (full.ndim == 0) full = (nn_shape){1, {1}}; /* scalars: view as [1] */
  int64_t fa[NN_MAX_DIMS], fb[NN_MAX_DIMS], sa[NN_MAX_DIMS], sb[NN_MAX_DIMS];
  bcast_strides(&in[0]->s, &full, fa);
  bcast_strides(&in[1]->s, &full, fb);
  /* Merge adjacent axes that both operands walk contiguously (or both broadcast), so that
   * same-shape and scalar cases become one flat loop. */
  for (int i = 0; i < full.ndim; i++) {
    int m = merged.ndim - 1;
    if (m >= 0 && sa[m] == fa[i] * full.d[i] && sb[m] == fb[i] * full.d[i]) {
      merged.d[m] *= full.d[i];
      sa[m] = fa[i], sb[m] = fb[i];
      continue;
    }
    merged.d[merged.ndim] = full.d[i];
    sa[merged.ndim] = fa[i], sb[merged.ndim] = fb[i];
    merged.ndim++;
  }
  const nn_shape *ys = &merged;
  int nd = merged.ndim;
  int64_t inner = ys->d[nd - 1], outer = nn_numel(ys) / (inner ? inner : 1);
  if (inner == 0) return;
  if (out[0]->type == NN_F32) {
    switch (kind) {
    case BIN_ADD:
      BINARY_LOOP(float, a + b);
      break;
    case BIN_SUB:
      BINARY_LOOP(float, a - b);
      break;
    case BIN_MUL:
      BINARY_LOOP(float, a *b);
      break;
    case BIN_DIV:
      BINARY_LOOP(float, a / b);
      break;
    case BIN_PRELU:
      BINARY_LOOP(float, a < 0 ? a * b : a);
      break;
    }
  } else {
    switch (kind) {
    case BIN_ADD:
      BINARY_LOOP(int64_t, a + b);
      break;
    case BIN_SUB:
      BINARY_LOOP(int64_t, a - b);
      break;
    case BIN_MUL:
      BINARY_LOOP(int64_t, a * b);
      break;
    case BIN_DIV:
      BINARY_LOOP(int64_t, b ? a / b : 0);
      break;
    case BIN_PRELU:
      break;
    }
  }
}

#define BINARY_OP(fn, kind)                                                                        \
  static void fn(const nn_node *n, nn_tensor **in, nn_tensor **out, const nn_ctx *ctx) {           \
    (void)n, (void)ctx;                                                                            \
    binary_run(kind, in, out);                                                                     \
  }
BINARY_OP(add_run, BIN_ADD)
BINARY_OP(sub_run, BIN_SUB)
BINARY_OP(mul_run, BIN_MUL)
BINARY_OP(div_run, BIN_DIV)
BINARY_OP(prelu_run, BIN_PRELU)

static int prelu_infer(const nn_node *n, nn_tensor **in, nn_tensor **out, char *err,
                       size_t errlen) {
  if (binary_infer(n, in, out, err, errlen)) return -1;
  if (nn_numel(&out[0]->s) != nn_numel(&in[0]->s))
    return nn_node_errf(n, err, errlen, "slope must broadcast to the input's shape");
  return 0;
}

/* Softmax before opset 13 flattens to 2-D at `axis` and normalises each row; from 13 it
 * normalises along `axis` alone. Both are "reduce over [lo, hi) axes" with a stride. */
static int softmax_infer(const nn_node *n, nn_tensor **in, nn_tensor **out, char *err,
                         size_t errlen) {
  if (nn_axis(n->a.axis, in[0]->s.ndim) < 0)
    return nn_node_errf(n, err, errlen, "axis out of range");
  return same_shape_infer(n, in, out, err, errlen);
}

static void softmax_run(const nn_node *n, nn_tensor **in, nn_tensor **out, const nn_ctx *ctx) {
  (void)ctx;
  const nn_shape *s = &in[0]->s;
  int axis = nn_axis(n->a.axis, s->ndim);
  int64_t outer = 1, len = 1, inner = 1;
  for (int i = 0; i < s->ndim; i++) {
    if (i < axis)
      outer *= s->d[i];
    else if (i == axis || n->a.softmax_legacy)
      len *= s->d[i];
    else
      inner *= s->d[i];
  }
  const float *x = in[0]->data;
  float *y = out[0]->data;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      const float *px = x + o * len * inner + i;
      float *py = y + o * len * inner + i;
      float m = -INFINITY, sum = 0;
      for (int64_t k = 0; k < len; k++) m = px[k * inner] > m ? px[k * inner] : m;
      for (int64_t k = 0; k < len; k++) sum += py[k * inner] = expf(px[k * inner] - m);
      for (int64_t k = 0; k < len; k++) py[k * inner] /= sum;
    }
}

/* BatchNormalization not folded into a Conv (inference mode, per channel of axis 1). */
static int batchnorm_infer(const nn_node *n, nn_tensor **in, nn_tensor **out, char *err,
                           size_t errlen) {
  if (in[0]->s.ndim < 2 || n->nin < 5) return nn_node_errf(n, err, errlen, "unsupported shape");
  for (int i = 1; i < 5; i++)
    if (nn_numel(&in[i]->s) != in[0]->s.d[1] || in[i]->type != NN_F32)
      return nn_node_errf(n, err, errlen, "parameters must have one value per channel");
  return same_shape_infer(n, in, out, err, errlen);
}

static void batchnorm_run(const nn_node *n, nn_tensor **in, nn_tensor **out, const nn_ctx *ctx) {
  (void)ctx;
  const nn_shape *s = &in[0]->s;
  int64_t C = s->d[1], inner = nn_numel(s) / (s->d[0] * C);
  const float *x = in[0]->data, *g = in[1]->data, *b = in[2]->data, *mu = in[3]->data,
              *var = in[4]->data;
  float *y = out[0]->data;
  for (int64_t o = 0; o < s->d[0]; o++)
    for (int64_t c = 0; c < C; c++) {
      float k = g[c] / sqrtf(var[c] + n->a.epsilon), d = b[c] - mu[c] * k;
      const float *px = x + (o * C + c) * inner;
      float *py = y + (o * C + c) * inner;
      for (int64_t i = 0; i < inner; i++) py[i] = px[i] * k + d;
    }
}

const nn_op_def nn_op_relu = {"Relu", same_shape_infer, relu_run, NULL, NULL};
const nn_op_def nn_op_sigmoid = {"Sigmoid", same_shape_infer, sigmoid_run, NULL, NULL};
const nn_op_def nn_op_exp = {"Exp", same_shape_infer, exp_run, NULL, NULL};
const nn_op_def nn_op_prelu = {"PRelu", prelu_infer, prelu_run, NULL, NULL};
const nn_op_def nn_op_add = {"Add", binary_infer, add_run, NULL, NULL};
const nn_op_def nn_op_sub = {"Sub", binary_infer, sub_run, NULL, NULL};
const nn_op_def nn_op_mul = {"Mul", binary_infer, mul_run, NULL, NULL};
const nn_op_def nn_op_div = {"Div", binary_infer, div_run, NULL, NULL};
const nn_op_def nn_op_softmax = {"Softmax", softmax_infer, softmax_run, NULL, NULL};
const nn_op_def nn_op_batchnorm = {"BatchNormalization", batchnorm_infer, batchnorm_run, NULL,
                                   NULL};
