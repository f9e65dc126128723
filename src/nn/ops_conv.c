/* ops_conv.c - Conv, Gemm and MatMul: the operators that carry almost all the arithmetic.
 *
 * After rewrite.c a Conv carries its weights (BatchNormalization folded in), its fused
 * activation and an optional residual input. Four execution paths, all through the kernel
 * table so that the ISA is chosen in one place:
 *   depthwise            kernels->dwconv, channels split across threads
 *   1x1, stride 1, no pad kernels->sgemm straight on the NCHW input (B = input, N = H*W)
 *   few in or out channels kernels->conv_direct, output rows split across threads: the first
 *                        layer (3 input channels), heads and narrow RFB branches (<= 16 output
 *                        channels), where the im2col matrix costs more than the arithmetic
 *   anything else        im2col of a column chunk into per-thread scratch, then sgemm
 * The GEMM paths split output columns (pixels) so that each thread reads the whole packed
 * weight matrix, which stays in L2, and writes disjoint output.
 */
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"
#include "nn/ops.h"

/* Output size and leading pads for one spatial axis, honouring auto_pad. */
static void axis_geom(int64_t in, int64_t k, int64_t s, int64_t d, const int64_t pads[2],
                      int auto_pad, int64_t *out, int64_t *pad_begin) {
  int64_t ext = d * (k - 1) + 1;
  if (auto_pad) {
    int64_t o = (in + s - 1) / s;
    int64_t total = (o - 1) * s + ext - in;
    if (total < 0) total = 0;
    *pad_begin = auto_pad == 1 ? total / 2 : total - total / 2;
    *out = o;
    return;
  }
  *pad_begin = pads[0];
  int64_t span = in + pads[0] + pads[1] - ext; /* C division truncates toward zero */
  *out = span < 0 ? 0 : span / s + 1;
}

int nn_conv_geometry(const nn_node *n, const nn_shape *in, int64_t kh, int64_t kw, int64_t *oh,
                     int64_t *ow, int64_t *pt, int64_t *pl) {
  const nn_attrs *a = &n->a;
  int64_t ph[2] = {a->pads[0], a->pads[2]}, pw[2] = {a->pads[1], a->pads[3]};
  axis_geom(in->d[2], kh, a->strides[0], a->dilations[0], ph, a->auto_pad_same, oh, pt);
  axis_geom(in->d[3], kw, a->strides[1], a->dilations[1], pw, a->auto_pad_same, ow, pl);
  return *oh >= 1 && *ow >= 1 ? 0 : -1;
}

static int conv_infer(const nn_node *n, nn_tensor **in, nn_tensor **out, char *err, size_t errlen) {
  const nn_conv *c = n->conv;
  const nn_shape *x = &in[0]->s;
  if (x->ndim != 4 || x->d[0] != 1)
    return nn_node_errf(n, err, errlen, "input must be 1xCxHxW (batch 1)");
  int64_t ci = c->depthwise ? c->co : c->ci;
  if (x->d[1] != ci)
    return nn_node_errf(n, err, errlen, "input has %lld channels, weights expect %lld",
                        (long long)x->d[1], (long long)ci);
  int64_t oh, ow, pt, pl;
  if (nn_conv_geometry(n, x, c->kh, c->kw, &oh, &ow, &pt, &pl))
    return nn_node_errf(n, err, errlen, "input %lldx%lld is smaller than the kernel",
                        (long long)x->d[2], (long long)x->d[3]);
  out[0]->type = NN_F32;
  out[0]->s = (nn_shape){4, {1, c->co, oh, ow}};
  if (n->residual >= 0 && nn_numel(&in[n->nin]->s) != nn_numel(&out[0]->s))
    return nn_node_errf(n, err, errlen,
                        "residual Add needs broadcasting, which is not supported after a Conv");
  return 0;
}

static double conv_macs(const nn_node *n, nn_tensor **in, nn_tensor **out) {
  (void)in;
  const nn_conv *c = n->conv;
  return (double)nn_numel(&out[0]->s) * (c->depthwise ? 1 : c->ci) * c->kh * c->kw;
}

/* Columns per im2col chunk: enough to amortise the kernel call, small enough that the chunk
 * (K x cols floats) stays in L2 next to the weights. */
static int im2col_chunk(int K, int N, int nthreads) {
  int per_thread = (N + nthreads - 1) / nthreads;
  int fit = (int)((128 * 1024 / sizeof(float)) / (size_t)K);
  int chunk = per_thread < fit ? per_thread : fit;
  chunk = (chunk + 15) / 16 * 16;
  return chunk < 16 ? 16 : chunk;
}

static int is_pointwise(const nn_node *n, const nn_tensor *x, const nn_tensor *y) {
  const nn_conv *c = n->conv;
  return c->kh == 1 && c->kw == 1 && x->s.d[2] == y->s.d[2] && x->s.d[3] == y->s.d[3] &&
         n->a.strides[0] == 1 && n->a.strides[1] == 1;
}

static int is_direct(const nn_node *n, const nn_tensor *x, const nn_tensor *y) {
  const nn_conv *c = n->conv;
  return !c->depthwise && !is_pointwise(n, x, y) && (c->ci <= 4 || c->co <= MIEN_DIRECT_CO) &&
         mien_direct_weights(c->co, c->ci * c->kh * c->kw);
}

/* The geometry of Conv n over input x, with C input channels (the input's, or c->ci). */
static mien_conv_geom kernel_geom(const nn_node *n, const nn_tensor *x, int C) {
  const nn_conv *c = n->conv;
  int64_t oh, ow, pt, pl;
  nn_conv_geometry(n, &x->s, c->kh, c->kw, &oh, &ow, &pt, &pl);
  return (mien_conv_geom){C,
                          (int)x->s.d[2],
                          (int)x->s.d[3],
                          (int)oh,
                          (int)ow,
                          c->kh,
                          c->kw,
                          (int)n->a.strides[0],
                          (int)n->a.strides[1],
                          (int)n->a.dilations[0],
                          (int)n->a.dilations[1],
                          (int)pt,
                          (int)pl};
}

static mien_direct_args direct_args(const nn_node *n, const nn_tensor *x, nn_tensor *y,
                                    mien_epilogue ep) {
  return (mien_direct_args){
      kernel_geom(n, x, (int)x->s.d[1]), n->conv->co, NULL, x->data, y ? y->data : NULL, ep};
}

static size_t conv_scratch(const nn_node *n, nn_tensor **in, nn_tensor **out, const mien_kernels *k,
                           int nthreads) {
  const nn_conv *c = n->conv;
  if (c->depthwise) return 0;
  if (is_direct(n, in[0], out[0])) {
    mien_direct_args d = direct_args(n, in[0], NULL, (mien_epilogue){0});
    return mien_direct_scratch(&d);
  }
  int K = c->ci * c->kh * c->kw, N = (int)(out[0]->s.d[2] * out[0]->s.d[3]);
  if (is_pointwise(n, in[0], out[0]))
    return k->gemm_scratch_size(K, (N + nthreads - 1) / nthreads + 16);
  int chunk = im2col_chunk(K, N, nthreads);
  return (size_t)K * chunk + k->gemm_scratch_size(K, chunk);
}

typedef struct {
  const nn_ctx *ctx;
  mien_gemm_args g;
  mien_im2col_args col; /* col.in == NULL: pointwise, B is the input itself */
  mien_dw_args dw;
  mien_direct_args direct;
  int chunk, ntasks;
} conv_job;

static void gemm_task(void *p, int task, int thread) {
  conv_job *j = p;
  const mien_kernels *k = j->ctx->k;
  int n0 = task * j->chunk, n1 = n0 + j->chunk < j->g.N ? n0 + j->chunk : j->g.N;
  if (n0 >= n1) return;
  float *scratch = j->ctx->scratch[thread];
  if (!j->col.in) {
    k->sgemm(&j->g, n0, n1, scratch);
    return;
  }
  /* im2col the chunk, then multiply it as a B of n1 - n0 columns, with C and the residual
   * shifted so that its column 0 lands at output column n0. */
  mien_im2col_args col = j->col;
  col.col = scratch;
  col.ldcol = (size_t)(n1 - n0);
  k->im2col(&col, n0, n1);
  mien_gemm_args g = j->g;
  g.N = n1 - n0;
  g.b = scratch;
  g.ldb = col.ldcol;
  g.c += n0;
  if (g.ep.residual) g.ep.residual += n0;
  k->sgemm(&g, 0, n1 - n0, scratch + (size_t)g.K * col.ldcol);
}

static void dw_task(void *p, int task, int thread) {
  (void)thread;
  conv_job *j = p;
  int c0 = task * j->chunk, c1 = c0 + j->chunk < j->dw.geo.C ? c0 + j->chunk : j->dw.geo.C;
  if (c0 < c1) j->ctx->k->dwconv(&j->dw, c0, c1);
}

static void direct_task(void *p, int task, int thread) {
  conv_job *j = p;
  int oh0 = task * j->chunk,
      oh1 = oh0 + j->chunk < j->direct.geo.OH ? oh0 + j->chunk : j->direct.geo.OH;
  if (oh0 < oh1) j->ctx->k->conv_direct(&j->direct, oh0, oh1, j->ctx->scratch[thread]);
}

static void conv_run(const nn_node *n, nn_tensor **in, nn_tensor **out, const nn_ctx *ctx) {
  const nn_conv *c = n->conv;
  const nn_tensor *x = in[0];
  nn_tensor *y = out[0];
  int64_t oh, ow, pt, pl;
  nn_conv_geometry(n, &x->s, c->kh, c->kw, &oh, &ow, &pt, &pl);
  mien_epilogue ep = {c->bias, n->residual >= 0 ? in[n->nin]->data : NULL, c->slope, c->act};
  conv_job j = {.ctx = ctx};
  int T = ctx->nthreads;
  if (c->depthwise) {
    j.dw = (mien_dw_args){kernel_geom(n, x, (int)x->s.d[1]), c->weight, x->data, y->data, ep};
    j.chunk = (j.dw.geo.C + T - 1) / T;
    nn_pool_run(ctx->pool, T, dw_task, &j);
    return;
  }
  int K = c->ci * c->kh * c->kw, N = (int)(oh * ow);
  if (is_direct(n, x, y)) {
    j.direct = direct_args(n, x, y, ep);
    j.direct.wt = c->packed + ctx->k->pack_a_size(c->co, K) - mien_direct_wt_size(c->co, K);
    j.chunk = (j.direct.geo.OH + T - 1) / T;
    nn_pool_run(ctx->pool, (j.direct.geo.OH + j.chunk - 1) / j.chunk, direct_task, &j);
    return;
  }
  j.g = (mien_gemm_args){c->co, N, K, c->packed, x->data, (size_t)N, y->data, (size_t)N, ep};
  if (is_pointwise(n, x, y)) {
    j.chunk = (N + T - 1) / T;
    if (T > 1) j.chunk = (j.chunk + 15) / 16 * 16;
  } else {
    j.col = (mien_im2col_args){kernel_geom(n, x, c->ci), x->data, NULL, 0};
    j.chunk = im2col_chunk(K, N, T);
  }
  nn_pool_run(ctx->pool, (N + j.chunk - 1) / j.chunk, gemm_task, &j);
}

/* Gemm after rewrite: a fully connected layer y[1 x co] = x[1 x ci] W^T + b, run as sgemm with
 * the weights as A and x as a single column. Gemms whose B is not a constant stay generic. */
static int gemm_infer(const nn_node *n, nn_tensor **in, nn_tensor **out, char *err, size_t errlen) {
  const nn_shape *x = &in[0]->s;
  if (!n->conv)
    return nn_node_errf(n, err, errlen,
                        "only Gemm with constant weights (B) and transA=0 is supported");
  if (x->ndim != 2 || x->d[1] != n->conv->ci || n->a.trans_a)
    return nn_node_errf(n, err, errlen, "input must be [batch, %d]", n->conv->ci);
  out[0]->type = NN_F32;
  out[0]->s = (nn_shape){2, {x->d[0], n->conv->co}};
  return 0;
}

static double gemm_macs(const nn_node *n, nn_tensor **in, nn_tensor **out) {
  (void)out;
  return (double)in[0]->s.d[0] * n->conv->co * n->conv->ci;
}

static size_t gemm_scratch(const nn_node *n, nn_tensor **in, nn_tensor **out, const mien_kernels *k,
                           int nthreads) {
  (void)in, (void)out, (void)nthreads;
  return k->gemm_scratch_size(n->conv->ci, 1);
}

static void gemm_run(const nn_node *n, nn_tensor **in, nn_tensor **out, const nn_ctx *ctx) {
  const nn_conv *c = n->conv;
  mien_epilogue ep = {c->bias, NULL, c->slope, c->act};
  for (int64_t b = 0; b < in[0]->s.d[0]; b++) {
    /* One row of x is a K x 1 column; the 1 x co output row is a co x 1 column. */
    mien_gemm_args g = {c->co,
                        1,
                        c->ci,
                        c->packed,
                        (float *)in[0]->data + b * c->ci,
                        1,
                        (float *)out[0]->data + b * c->co,
                        1,
                        ep};
    ctx->k->sgemm(&g, 0, 1, ctx->scratch[0]);
  }
}

/* MatMul with numpy semantics for the ranks models use: [..., M, K] x [K, N] or equal batch. */
static int matmul_infer(const nn_node *n, nn_tensor **in, nn_tensor **out, char *err,
                        size_t errlen) {
  const nn_shape *a = &in[0]->s, *b = &in[1]->s;
  if (a->ndim < 2 || b->ndim < 2 || a->d[a->ndim - 1] != b->d[b->ndim - 2] ||
      (b->ndim > 2 &&
       (b->ndim != a->ndim || nn_numel(a) / (a->d[a->ndim - 1] * a->d[a->ndim - 2]) !=
                                  nn_numel(b) / (b->d[b->ndim - 1] * b->d[b->ndim - 2]))))
    return nn_node_errf(n, err, errlen, "unsupported MatMul shapes");
  out[0]->type = NN_F32;
  out[0]->s = *a;
  out[0]->s.d[a->ndim - 1] = b->d[b->ndim - 1];
  return 0;
}

static double matmul_macs(const nn_node *n, nn_tensor **in, nn_tensor **out) {
  (void)n;
  return (double)nn_numel(&out[0]->s) * in[0]->s.d[in[0]->s.ndim - 1];
}

static void matmul_run(const nn_node *n, nn_tensor **in, nn_tensor **out, const nn_ctx *ctx) {
  (void)n, (void)ctx;
  const nn_shape *as = &in[0]->s, *bs = &in[1]->s;
  int64_t M = as->d[as->ndim - 2], K = as->d[as->ndim - 1], N = bs->d[bs->ndim - 1];
  int64_t batches = nn_numel(as) / (M * K), b_step = bs->ndim > 2 ? K * N : 0;
  const float *A = in[0]->data, *B = in[1]->data;
  float *C = out[0]->data;
  for (int64_t t = 0; t < batches; t++, A += M * K, B += b_step, C += M * N)
    for (int64_t i = 0; i < M; i++) {
      for (int64_t j = 0; j < N; j++) C[i * N + j] = 0;
      for (int64_t k = 0; k < K; k++)
        for (int64_t j = 0; j < N; j++) C[i * N + j] += A[i * K + k] * B[k * N + j];
    }
}

const nn_op_def nn_op_conv = {"Conv", conv_infer, conv_run, conv_scratch, conv_macs};
const nn_op_def nn_op_gemm = {"Gemm", gemm_infer, gemm_run, gemm_scratch, gemm_macs};
const nn_op_def nn_op_matmul = {"MatMul", matmul_infer, matmul_run, NULL, matmul_macs};
