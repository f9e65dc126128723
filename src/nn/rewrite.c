/* rewrite.c - graph rewrites done once per model, before any input size is known.
 *
 * Convolutions (and Gemms with constant weights) take over their neighbours so that each runs
 * as one kernel call with everything applied in the store:
 *   Conv -> BatchNormalization     folded into weights and bias
 *   Conv -> Mul/Div by a scalar    folded into weights and bias
 *   Conv -> Add(other tensor)      the other tensor becomes the Conv's residual input
 *   Conv -> Relu / PRelu           the activation, applied after bias and residual
 * A merged node takes the place of the node it absorbed (always the later one in topological
 * order, so every input it reads is computed before it). The absorbed intermediate tensor no
 * longer exists; a plan asking for it by name is refused with a message saying so.
 * Finally the weights of group-1 convolutions and Gemms are packed for the kernel table.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"

static const nn_value *const_input(const nn_graph *g, const nn_node *n, int i) {
  if (i >= n->nin || n->in[i] < 0 || !g->values[n->in[i]].is_const) return NULL;
  return &g->values[n->in[i]];
}

static float *dup_floats(const float *src, size_t n) {
  float *d = malloc((n ? n : 1) * sizeof *d);
  if (d && src) memcpy(d, src, n * sizeof *d);
  return d;
}

static int make_conv(nn_graph *g, nn_node *n, char *err, size_t errlen) {
  const nn_value *w = const_input(g, n, 1), *b = const_input(g, n, 2);
  if (!w || w->t.type != NN_F32 || w->t.s.ndim != 4)
    return nn_node_errf(n, err, errlen,
                        "weights must be a constant 4-D float tensor (2-D convolution)");
  if (n->nin > 2 && n->in[2] >= 0 &&
      (!b || b->t.type != NN_F32 || nn_numel(&b->t.s) != w->t.s.d[0]))
    return nn_node_errf(n, err, errlen,
                        "bias must be a constant with one value per output channel");
  nn_conv *c = calloc(1, sizeof *c);
  if (!c) return nn_node_errf(n, err, errlen, "out of memory");
  n->conv = c;
  c->co = (int)w->t.s.d[0];
  c->ci = (int)w->t.s.d[1];
  c->kh = (int)w->t.s.d[2];
  c->kw = (int)w->t.s.d[3];
  if ((n->a.kernel[0] && n->a.kernel[0] != c->kh) || (n->a.kernel[1] && n->a.kernel[1] != c->kw))
    return nn_node_errf(n, err, errlen, "kernel_shape does not match the weights");
  if (n->a.group != 1) {
    if (!(c->ci == 1 && n->a.group == c->co))
      return nn_node_errf(
          n, err, errlen,
          "grouped convolution with group=%lld is supported only as depthwise (group = channels)",
          (long long)n->a.group);
    c->depthwise = 1;
  }
  size_t wn = (size_t)nn_numel(&w->t.s);
  c->weight = dup_floats(w->t.data, wn);
  c->bias = calloc((size_t)c->co, sizeof *c->bias);
  if (!c->weight || !c->bias) return nn_node_errf(n, err, errlen, "out of memory");
  if (b) memcpy(c->bias, b->t.data, (size_t)c->co * sizeof *c->bias);
  n->nin = 1; /* weights now live in n->conv */
  return 0;
}

/* Gemm y = alpha * A * op(B) + beta * C with constant B and C becomes a 1x1 "conv" over a
 * [batch, K] input: weight [N][K], bias [N]. */
static int make_fc(nn_graph *g, nn_node *n, char *err, size_t errlen) {
  const nn_value *w = const_input(g, n, 1), *b = const_input(g, n, 2);
  if (!w || w->t.type != NN_F32 || w->t.s.ndim != 2) return 0; /* stays a generic Gemm */
  int64_t K = n->a.trans_b ? w->t.s.d[1] : w->t.s.d[0],
          N = n->a.trans_b ? w->t.s.d[0] : w->t.s.d[1];
  if (n->nin > 2 && n->in[2] >= 0 && (!b || (nn_numel(&b->t.s) != N && nn_numel(&b->t.s) != 1)))
    return nn_node_errf(n, err, errlen, "bias must be constant, one value or one per output");
  nn_conv *c = calloc(1, sizeof *c);
  if (!c) return nn_node_errf(n, err, errlen, "out of memory");
  n->conv = c;
  c->co = (int)N;
  c->ci = (int)K;
  c->kh = c->kw = 1;
  c->weight = malloc((size_t)(N * K) * sizeof(float));
  c->bias = calloc((size_t)N, sizeof(float));
  if (!c->weight || !c->bias) return nn_node_errf(n, err, errlen, "out of memory");
  const float *src = w->t.data;
  for (int64_t o = 0; o < N; o++)
    for (int64_t k = 0; k < K; k++)
      c->weight[o * K + k] = n->a.alpha * (n->a.trans_b ? src[o * K + k] : src[k * N + o]);
  if (b)
    for (int64_t o = 0; o < N; o++)
      c->bias[o] = n->a.beta * ((const float *)b->t.data)[nn_numel(&b->t.s) == 1 ? 0 : o];
  n->nin = 1;
  return 0;
}

/* How many node inputs (plus graph outputs) read each value; run before any fusion. */
static int *count_uses(const nn_graph *g) {
  int *uses = calloc((size_t)g->nvalues, sizeof *uses);
  if (!uses) return NULL;
  for (int i = 0; i < g->nnodes; i++)
    for (int j = 0; j < g->nodes[i].nin; j++)
      if (!g->nodes[i].dead && g->nodes[i].in[j] >= 0) uses[g->nodes[i].in[j]]++;
  for (int i = 0; i < g->noutputs; i++) uses[g->outputs[i]]++;
  return uses;
}

static int only_consumer(const nn_graph *g, int v, int from) {
  for (int i = from + 1; i < g->nnodes; i++) {
    const nn_node *n = &g->nodes[i];
    if (n->dead) continue;
    for (int j = 0; j < n->nin; j++)
      if (n->in[j] == v) return i;
  }
  return -1;
}

/* Scales output channel o's weights and bias by s[o] and adds t[o] to the bias. */
static void affine_fold(nn_conv *c, const float *s, const float *t) {
  size_t per = (size_t)(c->depthwise ? 1 : c->ci) * c->kh * c->kw;
  for (int o = 0; o < c->co; o++) {
    for (size_t k = 0; k < per; k++) c->weight[o * per + k] *= s[o];
    c->bias[o] = c->bias[o] * s[o] + t[o];
  }
}

/* Whether a constant of shape s broadcast against the output applies one value per output
 * channel: a scalar, or [C,1,1] / [1,C,1,1] after a Conv, [C] / [1,C] after a Gemm. A [C]
 * after a Conv broadcasts along W, not C. */
static int per_channel(const nn_shape *s, int co, int gemm) {
  int64_t n = nn_numel(s);
  if (n == 1) return 1;
  if (n != co) return 0;
  if (gemm) return s->ndim >= 1 && s->d[s->ndim - 1] == co;
  return s->ndim >= 3 && s->d[s->ndim - 3] == co;
}

/* Tries to merge consumer node `m` into the conv `n`; returns 1 if it did. */
static int absorb(nn_graph *g, nn_node *n, nn_node *m) {
  nn_conv *c = n->conv;
  int x = n->out[0];
  int fresh = c->act == MIEN_ACT_NONE && n->residual < 0;
  const nn_value *k1 = const_input(g, m, 1);
  if (m->op == OP_BATCHNORM && fresh && m->nin >= 5 && m->in[0] == x) {
    const nn_value *p[4];
    for (int i = 0; i < 4; i++) {
      p[i] = const_input(g, m, i + 1);
      if (!p[i] || p[i]->t.type != NN_F32 || nn_numel(&p[i]->t.s) != c->co) return 0;
    }
    float *s = malloc(2 * (size_t)c->co * sizeof *s), *t = s ? s + c->co : NULL;
    if (!s) return 0;
    const float *gam = p[0]->t.data, *bet = p[1]->t.data, *mu = p[2]->t.data, *var = p[3]->t.data;
    for (int o = 0; o < c->co; o++) {
      s[o] = gam[o] / sqrtf(var[o] + m->a.epsilon);
      t[o] = bet[o] - mu[o] * s[o];
    }
    affine_fold(c, s, t);
    free(s);
    return 1;
  }
  if ((m->op == OP_MUL || m->op == OP_DIV) && fresh && m->in[0] == x && k1 &&
      k1->t.type == NN_F32 && nn_numel(&k1->t.s) == 1) {
    float v = *(const float *)k1->t.data;
    if (m->op == OP_DIV) v = 1.0f / v;
    float *s = malloc(2 * (size_t)c->co * sizeof *s);
    if (!s) return 0;
    for (int o = 0; o < c->co; o++) s[o] = v, s[c->co + o] = 0;
    affine_fold(c, s, s + c->co);
    free(s);
    return 1;
  }
  if (m->op == OP_ADD && fresh && m->nin == 2) {
    int other = m->in[0] == x ? m->in[1] : m->in[0];
    if (other == x || g->values[other].is_const) return 0;
    /* The residual must have the Conv output's shape, which a tensor computed inside the
     * network has in every residual block; a graph input's shape is the caller's to choose
     * when planning (it may broadcast, e.g. [1,C,1,1]), so such an Add stays plain. */
    for (int i = 0; i < g->ninputs; i++)
      if (g->inputs[i] == other) return 0;
    n->residual = other;
    return 1;
  }
  if (m->op == OP_RELU && c->act == MIEN_ACT_NONE) {
    c->act = MIEN_ACT_RELU;
    return 1;
  }
  if (m->op == OP_PRELU && c->act == MIEN_ACT_NONE && m->in[0] == x && k1 && k1->t.type == NN_F32 &&
      per_channel(&k1->t.s, c->co, n->op == OP_GEMM)) {
    c->slope = malloc((size_t)c->co * sizeof *c->slope);
    if (!c->slope) return 0;
    for (int o = 0; o < c->co; o++)
      c->slope[o] = ((const float *)k1->t.data)[nn_numel(&k1->t.s) == 1 ? 0 : o];
    c->act = MIEN_ACT_PRELU;
    return 1;
  }
  return 0;
}

static void fuse(nn_graph *g, int *uses) {
  for (int i = 0; i < g->nnodes; i++) {
    if (g->nodes[i].dead || !g->nodes[i].conv) continue;
    int at = i;
    for (;;) {
      nn_node *n = &g->nodes[at];
      int x = n->out[0];
      if (uses[x] != 1) break;
      int j = only_consumer(g, x, at);
      if (j < 0) break;
      nn_node *m = &g->nodes[j];
      /* A fused Gemm has no residual path in its kernel call; keep it to BN and activations. */
      if (n->op == OP_GEMM && (m->op == OP_ADD || m->op == OP_MUL || m->op == OP_DIV)) break;
      if (!absorb(g, n, m)) break;
      /* The merged node moves to j: it takes m's output and place. */
      nn_node merged = *n;
      merged.out[0] = m->out[0];
      free(m->name), free(m->op_type);
      merged.name = n->name;
      *m = merged;
      memset(n, 0, sizeof *n);
      n->dead = 1;
      at = j;
    }
  }
}

/* Denormal weights cost a microcode assist per multiply and change nothing (see fpu.h). */
static void flush_denormals(float *w, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (fabsf(w[i]) < FLT_MIN) w[i] = 0.0f;
}

mien_status nn_rewrite(nn_graph *g, const mien_kernels *k, char *err, size_t errlen) {
  for (int i = 0; i < g->nnodes; i++) {
    nn_node *n = &g->nodes[i];
    if (n->op == OP_CONV && make_conv(g, n, err, errlen)) return MIEN_ERR_MODEL;
    if (n->op == OP_GEMM && !n->a.trans_a && make_fc(g, n, err, errlen)) return MIEN_ERR_MODEL;
  }
  int *uses = count_uses(g);
  if (!uses) return nn_errf(err, errlen, "out of memory"), MIEN_ERR_NOMEM;
  fuse(g, uses);
  free(uses);
  for (int i = 0; i < g->nnodes; i++) {
    nn_conv *c = g->nodes[i].conv;
    if (g->nodes[i].dead || !c) continue;
    int K = c->ci * c->kh * c->kw;
    flush_denormals(c->weight, (size_t)c->co * K); /* depthwise: ci = 1 */
    flush_denormals(c->bias, (size_t)c->co);
    if (c->slope) flush_denormals(c->slope, (size_t)c->co);
    if (c->depthwise) continue;
    c->packed = malloc(k->pack_a_size(c->co, K) * sizeof(float));
    if (!c->packed) return nn_errf(err, errlen, "out of memory"), MIEN_ERR_NOMEM;
    k->pack_a(c->co, K, c->weight, (size_t)K, c->packed);
  }
  return MIEN_OK;
}
