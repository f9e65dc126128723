/* test_ops.c - the operator spec as tests: every operator mien supports, run end to end.
 *
 * Each case builds a tiny ONNX model in memory with protobuf-c (mb_* below: one builder for
 * every case), loads it with mien_net_load_buffer, plans it and runs it with 1 and with 3
 * threads on the active kernel table, and compares against values computed here
 * independently (plain double-precision loops written from the ONNX spec, or constants
 * worked out by hand). Covered: Conv geometry (kernel sizes, strides, pads, dilations,
 * depthwise, auto_pad), the Conv/Gemm fusions of rewrite.c against the unfused math,
 * elementwise and broadcasting ops, Gemm/MatMul, pooling and Resize, the layout ops and
 * plan-time shape folding, and the planner's contract (pruning, intermediate outputs,
 * errors naming the node, thread-count invariance).
 */
#include <stdarg.h>
#include <stdint.h>

#include "check.h"
#include "mien.h"
#include "nn/nn.h"
#include "onnx.pb-c.h"

#define TOL 1e-5
#define MB_MAX 64

/* Literal helpers: D(1,3,4,4) expands to "dims, ndim"; F/I make float and int64 arrays. */
#define I(...) ((const int64_t[]){__VA_ARGS__})
#define F(...) ((const float[]){__VA_ARGS__})
#define D(...) I(__VA_ARGS__), (int)(sizeof(I(__VA_ARGS__)) / sizeof(int64_t))

/* ---------------------------------------------------------------------------------------------
 * Model builder. Every protobuf object lives in the builder's allocation list; handing a
 * builder to sess_open or expect1 packs and frees it.
 * ------------------------------------------------------------------------------------------- */
typedef struct {
  Onnx__ModelProto model;
  Onnx__GraphProto graph;
  Onnx__OperatorSetIdProto opset, *opsets[1];
  Onnx__NodeProto *nodes[MB_MAX];
  Onnx__TensorProto *inits[MB_MAX];
  Onnx__ValueInfoProto *ins[MB_MAX], *outs[MB_MAX];
  void *mem[4096];
  int nmem;
  int64_t dims[MB_MAX][NN_MAX_DIMS]; /* planned dims per graph input */
  int ndims[MB_MAX];
  int const_nodes; /* constants become Constant nodes instead of initializers */
} mb;

static void *mb_alloc(mb *m, size_t n) {
  void *p = calloc(1, n ? n : 1);
  if (!p || m->nmem == (int)(sizeof m->mem / sizeof m->mem[0])) abort();
  return m->mem[m->nmem++] = p;
}

static char *mb_str(mb *m, const char *s, size_t len) {
  char *d = mb_alloc(m, len + 1);
  memcpy(d, s, len);
  return d;
}

static void mb_init(mb *m, int opset) {
  memset(m, 0, sizeof *m);
  onnx__model_proto__init(&m->model);
  onnx__graph_proto__init(&m->graph);
  onnx__operator_set_id_proto__init(&m->opset);
  m->opset.domain = "";
  m->opset.has_version = 1;
  m->opset.version = opset;
  m->opsets[0] = &m->opset;
  m->model.has_ir_version = 1;
  m->model.ir_version = 7;
  m->model.n_opset_import = 1;
  m->model.opset_import = m->opsets;
  m->model.graph = &m->graph;
  m->graph.name = "test";
  m->graph.node = m->nodes;
  m->graph.initializer = m->inits;
  m->graph.input = m->ins;
  m->graph.output = m->outs;
}

static void mb_free(mb *m) {
  for (int i = 0; i < m->nmem; i++) free(m->mem[i]);
  m->nmem = 0;
}

/* Splits "a,b,,c" into tokens (empty ones kept: an omitted optional input). */
static size_t mb_split(mb *m, const char *list, char ***out) {
  size_t n = *list ? 1 : 0;
  for (const char *p = list; *p; p++) n += *p == ',';
  *out = mb_alloc(m, n * sizeof **out);
  for (size_t i = 0; i < n; i++) {
    const char *e = strchr(list, ',');
    size_t len = e ? (size_t)(e - list) : strlen(list);
    (*out)[i] = mb_str(m, list, len);
    list += len + 1;
  }
  return n;
}

/* A graph input of float32 with the given dims; a negative dim is declared symbolic and
 * planned as its absolute value. */
static void mb_input(mb *m, const char *name, const int64_t *dims, int nd) {
  Onnx__ValueInfoProto *vi = mb_alloc(m, sizeof *vi);
  Onnx__TypeProto *tp = mb_alloc(m, sizeof *tp);
  Onnx__TypeProto__Tensor *tt = mb_alloc(m, sizeof *tt);
  Onnx__TensorShapeProto *sh = mb_alloc(m, sizeof *sh);
  onnx__value_info_proto__init(vi);
  onnx__type_proto__init(tp);
  onnx__type_proto__tensor__init(tt);
  onnx__tensor_shape_proto__init(sh);
  vi->name = mb_str(m, name, strlen(name));
  vi->type = tp;
  tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  tp->tensor_type = tt;
  tt->has_elem_type = 1;
  tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  tt->shape = sh;
  sh->n_dim = (size_t)nd;
  sh->dim = mb_alloc(m, (size_t)nd * sizeof *sh->dim);
  int k = (int)m->graph.n_input;
  for (int d = 0; d < nd; d++) {
    Onnx__TensorShapeProto__Dimension *dim = mb_alloc(m, sizeof *dim);
    onnx__tensor_shape_proto__dimension__init(dim);
    if (dims[d] < 0) {
      dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
      dim->dim_param = mb_str(m, "N", 1);
    } else {
      dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
      dim->dim_value = dims[d];
    }
    sh->dim[d] = dim;
    m->dims[k][d] = dims[d] < 0 ? -dims[d] : dims[d];
  }
  m->ndims[k] = nd;
  m->ins[m->graph.n_input++] = vi;
}

static void mb_output(mb *m, const char *name) {
  Onnx__ValueInfoProto *vi = mb_alloc(m, sizeof *vi);
  onnx__value_info_proto__init(vi);
  vi->name = mb_str(m, name, strlen(name));
  m->outs[m->graph.n_output++] = vi;
}

/* Attributes as "name=value" separated by spaces; the kind follows from the name. */
static Onnx__AttributeProto *mb_attr(mb *m, const char *spec, size_t len) {
  static const char *ints[] = {"kernel_shape", "strides", "pads",   "dilations",
                               "perm",         "axes",    "starts", "ends"};
  static const char *floats[] = {"alpha", "beta", "epsilon"};
  static const char *strs[] = {"auto_pad", "mode", "coordinate_transformation_mode",
                               "nearest_mode"};
  Onnx__AttributeProto *a = mb_alloc(m, sizeof *a);
  onnx__attribute_proto__init(a);
  const char *eq = memchr(spec, '=', len);
  if (!eq) abort();
  a->name = mb_str(m, spec, (size_t)(eq - spec));
  char *val = mb_str(m, eq + 1, len - (size_t)(eq + 1 - spec));
  a->has_type = 1;
  a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
  for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
    if (!strcmp(a->name, ints[i])) a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
  for (size_t i = 0; i < sizeof floats / sizeof *floats; i++)
    if (!strcmp(a->name, floats[i])) a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
  for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
    if (!strcmp(a->name, strs[i])) a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
  if (a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING) {
    a->has_s = 1;
    a->s.data = (uint8_t *)val;
    a->s.len = strlen(val);
  } else if (a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT) {
    a->has_f = 1;
    a->f = strtof(val, NULL);
  } else if (a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT) {
    a->has_i = 1;
    a->i = strtoll(val, NULL, 10);
  } else {
    a->ints = mb_alloc(m, NN_MAX_DIMS * sizeof *a->ints);
    for (char *p = val; *p && a->n_ints < NN_MAX_DIMS; p += *p == ',')
      a->ints[a->n_ints++] = strtoll(p, &p, 10);
  }
  return a;
}

/* A node named "n_<first output>"; ins/outs are comma lists, attrs "k=v k=v" or "". */
static Onnx__NodeProto *mb_node(mb *m, const char *op, const char *ins, const char *outs,
                                const char *attrs) {
  Onnx__NodeProto *n = mb_alloc(m, sizeof *n);
  onnx__node_proto__init(n);
  n->op_type = mb_str(m, op, strlen(op));
  n->n_input = mb_split(m, ins, &n->input);
  n->n_output = mb_split(m, outs, &n->output);
  n->name = mb_alloc(m, strlen(n->output[0]) + 3);
  sprintf(n->name, "n_%s", n->output[0]);
  n->attribute = mb_alloc(m, 16 * sizeof *n->attribute);
  for (const char *p = attrs; *p;) {
    while (*p == ' ') p++;
    size_t len = strcspn(p, " ");
    if (len) n->attribute[n->n_attribute++] = mb_attr(m, p, len);
    p += len;
  }
  if (m->graph.n_node == MB_MAX) abort();
  m->nodes[m->graph.n_node++] = n;
  return n;
}

/* A constant (initializer, or Constant node when m->const_nodes): f for float32, q for int64.
 * nd = 0 makes a scalar. */
static void mb_const(mb *m, const char *name, int is_float, const int64_t *dims, int nd,
                     const void *data) {
  const float *f = is_float ? data : NULL;
  const int64_t *q = is_float ? NULL : data;
  Onnx__TensorProto *t = mb_alloc(m, sizeof *t);
  onnx__tensor_proto__init(t);
  size_t n = 1;
  t->n_dims = (size_t)nd;
  t->dims = mb_alloc(m, (size_t)nd * sizeof *t->dims);
  for (int d = 0; d < nd; d++) n *= (size_t)(t->dims[d] = dims[d]);
  t->has_data_type = 1;
  if (f) {
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t->n_float_data = n;
    t->float_data = mb_alloc(m, n * sizeof *f);
    memcpy(t->float_data, f, n * sizeof *f);
  } else {
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    t->n_int64_data = n;
    t->int64_data = mb_alloc(m, n * sizeof *q);
    memcpy(t->int64_data, q, n * sizeof *q);
  }
  if (m->const_nodes) {
    Onnx__NodeProto *c = mb_node(m, "Constant", "", name, "");
    Onnx__AttributeProto *a = mb_alloc(m, sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = "value";
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
    a->t = t;
    c->attribute[c->n_attribute++] = a;
    return;
  }
  t->name = mb_str(m, name, strlen(name));
  m->inits[m->graph.n_initializer++] = t;
}
#define mb_const_f(m, name, ...) mb_const(m, name, 1, __VA_ARGS__)
#define mb_const_i(m, name, ...) mb_const(m, name, 0, __VA_ARGS__)

/* ---------------------------------------------------------------------------------------------
 * Running a built model and checking its outputs.
 * ------------------------------------------------------------------------------------------- */
typedef enum { AT_LOAD, AT_PLAN, AT_RUN, DONE } stage;

typedef struct {
  mien_net *net;
  mien_plan *plan;
  mien_workspace *ws;
  stage at; /* the stage that failed, or DONE */
  char err[512];
} sess;

static void sess_close(sess *s) {
  mien_workspace_free(s->ws);
  mien_plan_free(s->plan);
  mien_net_free(s->net);
  memset(s, 0, sizeof *s);
}

/* Plans an already loaded net for m's input dims, wanting `wanted` (comma list, NULL for the
 * graph outputs), and runs it with `threads` threads. Returns 1 when every stage succeeded. */
static int sess_replan(sess *s, mb *m, const char *wanted, int threads, const float *const *in) {
  mien_plan_free(s->plan);
  mien_workspace_free(s->ws);
  s->plan = NULL, s->ws = NULL;
  const int64_t *dp[MB_MAX];
  for (int i = 0; i < (int)m->graph.n_input; i++) dp[i] = m->dims[i];
  char **names = NULL;
  size_t nw = wanted ? mb_split(m, wanted, &names) : 0;
  s->at = AT_PLAN;
  if (mien_plan_create(s->net, dp, m->ndims, (const char *const *)names, (int)nw, &s->plan, s->err,
                       sizeof s->err) != MIEN_OK)
    return 0;
  s->at = AT_RUN;
  if (mien_workspace_create(threads, &s->ws) != MIEN_OK || mien_run(s->plan, s->ws, in) != MIEN_OK)
    return 0;
  s->at = DONE;
  return 1;
}

/* Packs m, loads it, then plans and runs it as sess_replan does. Frees m unless keep. */
static int sess_open_keep(sess *s, mb *m, const char *wanted, int threads, const float *const *in,
                          int keep) {
  memset(s, 0, sizeof *s);
  size_t len = onnx__model_proto__get_packed_size(&m->model);
  uint8_t *buf = malloc(len ? len : 1);
  onnx__model_proto__pack(&m->model, buf);
  s->at = AT_LOAD;
  int ok = mien_net_load_buffer(buf, len, &s->net, s->err, sizeof s->err) == MIEN_OK &&
           sess_replan(s, m, wanted, threads, in);
  free(buf);
  if (!keep) mb_free(m);
  return ok;
}
#define sess_open(s, m, wanted, threads, in) sess_open_keep(s, m, wanted, threads, in, 0)

/* Output i of a finished session against dims and want[] (relative tolerance tol). */
static void check_out_tol(const sess *s, int i, const int64_t *dims, int nd, const double *want,
                          const char *what, double tol) {
  int64_t got[NN_MAX_DIMS];
  int gnd = mien_plan_output_dims(s->plan, i, got, NN_MAX_DIMS);
  int same = gnd == nd;
  for (int d = 0; same && d < nd; d++) same = got[d] == dims[d];
  CHECK_MSG(same, "%s: output %d has rank %d, dims [%lld,%lld,%lld,%lld...], want rank %d", what, i,
            gnd, (long long)got[0], (long long)(gnd > 1 ? got[1] : 0),
            (long long)(gnd > 2 ? got[2] : 0), (long long)(gnd > 3 ? got[3] : 0), nd);
  if (!same || !want) return;
  size_t n = 1;
  for (int d = 0; d < nd; d++) n *= (size_t)dims[d];
  const float *y = mien_workspace_output(s->ws, i);
  int bad = 0;
  for (size_t k = 0; k < n; k++)
    if (!(fabs(y[k] - want[k]) <= tol * (1 + fabs(want[k]))) && bad++ < 3)
      CHECK_MSG(0, "%s: output %d [%zu] = %.7g, want %.7g", what, i, k, y[k], want[k]);
  CHECK_MSG(bad == 0, "%s: %d of %zu values differ", what, bad, n);
}
#define check_out(s, i, ...) check_out_tol(s, i, __VA_ARGS__, TOL)

/* Int64 output i of a finished session (shape arithmetic folded at plan time). */
static void check_out_i64(const sess *s, int i, const int64_t *want, int n, const char *what) {
  int64_t dims[NN_MAX_DIMS];
  int nd = mien_plan_output_dims(s->plan, i, dims, NN_MAX_DIMS);
  CHECK_MSG(nd == 1 && dims[0] == n, "%s: output %d is not a vector of %d", what, i, n);
  if (nd != 1 || dims[0] != n) return;
  const int64_t *q = (const void *)mien_workspace_output(s->ws, i);
  for (int k = 0; k < n; k++)
    CHECK_MSG(q[k] == want[k], "%s: [%d] = %lld, want %lld", what, k, (long long)q[k],
              (long long)want[k]);
}

/* The usual case: output 0 of m with 1 and with 3 threads against dims and want. Frees m. */
static void expect1(mb *m, const float *const *in, const int64_t *dims, int nd, const double *want,
                    const char *what) {
  for (int threads = 1; threads <= 3; threads += 2) {
    sess s;
    if (sess_open_keep(&s, m, NULL, threads, in, 1))
      check_out(&s, 0, dims, nd, want, what);
    else
      CHECK_MSG(0, "%s (%d threads): stage %d failed: %s", what, threads, s.at, s.err);
    sess_close(&s);
  }
  mb_free(m);
}

/* Expects the model to fail at stage `at` with a message containing every string given. */
static void expect_fail(mb *m, const char *wanted, stage at, const char *what, int nneedles, ...) {
  static const float x[4096];
  const float *in[MB_MAX];
  for (int i = 0; i < MB_MAX; i++) in[i] = x;
  sess s;
  int ok = sess_open(&s, m, wanted, 1, in);
  CHECK_MSG(!ok && s.at == at, "%s: expected failure at stage %d, got %s at %d (%s)", what, at,
            ok ? "success" : "failure", s.at, s.err);
  va_list ap;
  va_start(ap, nneedles);
  for (int i = 0; i < nneedles; i++) {
    const char *needle = va_arg(ap, const char *);
    CHECK_MSG(strstr(s.err, needle), "%s: message \"%s\" lacks \"%s\"", what, s.err, needle);
  }
  va_end(ap);
  sess_close(&s);
}

/* Deterministic values in [lo, hi). */
static float *rnd(size_t n, float lo, float hi, uint32_t seed) {
  float *p = malloc((n ? n : 1) * sizeof *p);
  uint32_t s = seed * 2654435761u + 12345u;
  for (size_t i = 0; i < n; i++) {
    s = s * 1664525u + 1013904223u;
    p[i] = lo + (hi - lo) * (float)(s >> 8) / 16777216.0f;
  }
  return p;
}

static double *dbl(size_t n) {
  return calloc(n ? n : 1, sizeof(double));
}

static double *dbl_of(const float *x, size_t n) {
  double *d = dbl(n);
  for (size_t i = 0; i < n; i++) d[i] = x[i];
  return d;
}

/* ---------------------------------------------------------------------------------------------
 * Conv: a naive direct convolution in double against the engine's three paths.
 * ------------------------------------------------------------------------------------------- */
typedef struct {
  const char *label;
  int c, h, w, co, kh, kw, sh, sw, dh, dw, group, bias;
  int pads[4];          /* top, left, bottom, right */
  const char *auto_pad; /* NULL, "SAME_UPPER" or "SAME_LOWER" */
} conv_case;

static void conv_axis(int in, int k, int s, int d, int p0, int p1, const char *auto_pad, int *out,
                      int *pad0) {
  int ext = d * (k - 1) + 1;
  if (auto_pad) {
    *out = (in + s - 1) / s;
    int total = (*out - 1) * s + ext - in;
    if (total < 0) total = 0;
    *pad0 = strcmp(auto_pad, "SAME_UPPER") == 0 ? total / 2 : total - total / 2;
  } else {
    *out = (int)floor((double)(in + p0 + p1 - ext) / s) + 1;
    *pad0 = p0;
  }
}

static void conv_geom(const conv_case *k, int *oh, int *ow, int *pt, int *pl) {
  conv_axis(k->h, k->kh, k->sh, k->dh, k->pads[0], k->pads[2], k->auto_pad, oh, pt);
  conv_axis(k->w, k->kw, k->sw, k->dw, k->pads[1], k->pads[3], k->auto_pad, ow, pl);
}

static void ref_conv(const conv_case *k, const float *x, const float *w, const float *b,
                     double *y) {
  int oh, ow, pt, pl, cpg = k->c / k->group, opg = k->co / k->group;
  conv_geom(k, &oh, &ow, &pt, &pl);
  for (int o = 0; o < k->co; o++)
    for (int oy = 0; oy < oh; oy++)
      for (int ox = 0; ox < ow; ox++) {
        double acc = b ? b[o] : 0;
        for (int ci = 0; ci < cpg; ci++) {
          int ic = o / opg * cpg + ci;
          for (int ky = 0; ky < k->kh; ky++)
            for (int kx = 0; kx < k->kw; kx++) {
              int iy = oy * k->sh - pt + ky * k->dh, ix = ox * k->sw - pl + kx * k->dw;
              if (iy < 0 || iy >= k->h || ix < 0 || ix >= k->w) continue;
              acc += (double)x[(ic * k->h + iy) * k->w + ix] *
                     w[((o * cpg + ci) * k->kh + ky) * k->kw + kx];
            }
        }
        y[(o * oh + oy) * ow + ox] = acc;
      }
}

/* Random weights (and bias) for k, added as "<out>_w", "<out>_b" with a Conv in -> out. */
typedef struct {
  float *w, *b;
} conv_params;

static conv_params add_conv(mb *m, const conv_case *k, const char *in, const char *out,
                            uint32_t seed) {
  conv_params p = {rnd((size_t)k->co * (k->c / k->group) * k->kh * k->kw, -1, 1, seed),
                   k->bias ? rnd((size_t)k->co, -1, 1, seed + 1) : NULL};
  char wn[64], bn[64], ins[200], attrs[300];
  snprintf(wn, sizeof wn, "%s_w", out);
  snprintf(bn, sizeof bn, "%s_b", out);
  mb_const_f(m, wn, D(k->co, k->c / k->group, k->kh, k->kw), p.w);
  if (p.b) mb_const_f(m, bn, D(k->co), p.b);
  snprintf(ins, sizeof ins, "%s,%s%s%s", in, wn, p.b ? "," : "", p.b ? bn : "");
  int n = snprintf(attrs, sizeof attrs, "kernel_shape=%d,%d strides=%d,%d dilations=%d,%d group=%d",
                   k->kh, k->kw, k->sh, k->sw, k->dh, k->dw, k->group);
  if (k->auto_pad)
    snprintf(attrs + n, sizeof attrs - (size_t)n, " auto_pad=%s", k->auto_pad);
  else
    snprintf(attrs + n, sizeof attrs - (size_t)n, " pads=%d,%d,%d,%d", k->pads[0], k->pads[1],
             k->pads[2], k->pads[3]);
  mb_node(m, "Conv", ins, out, attrs);
  return p;
}

static void conv_one(const conv_case *k) {
  mb m;
  mb_init(&m, 11);
  mb_input(&m, "x", D(1, k->c, k->h, k->w));
  conv_params p = add_conv(&m, k, "x", "y", 7);
  mb_output(&m, "y");
  int oh, ow, pt, pl;
  conv_geom(k, &oh, &ow, &pt, &pl);
  float *x = rnd((size_t)k->c * k->h * k->w, -1, 1, 3);
  double *want = dbl((size_t)k->co * oh * ow);
  ref_conv(k, x, p.w, p.b, want);
  expect1(&m, (const float *[]){x}, D(1, k->co, oh, ow), want, k->label);
  free(x), free(want), free(p.w), free(p.b);
}

static void test_conv(void) {
  static const conv_case cases[] = {
      /* label                  c  h   w co kh kw sh sw dh dw g  b  pads */
      {"conv 1x1 pointwise", 3, 13, 17, 5, 1, 1, 1, 1, 1, 1, 1, 1, {0}, NULL},
      {"conv 1x1 wide", 16, 31, 29, 32, 1, 1, 1, 1, 1, 1, 1, 1, {0}, NULL},
      {"conv 1x1 stride 2", 4, 13, 17, 6, 1, 1, 2, 2, 1, 1, 1, 1, {0}, NULL},
      {"conv 1x1 padded", 4, 5, 7, 3, 1, 1, 1, 1, 1, 1, 1, 0, {1, 1, 1, 1}, NULL},
      {"conv 3x3 s1 p1", 4, 13, 17, 8, 3, 3, 1, 1, 1, 1, 1, 1, {1, 1, 1, 1}, NULL},
      {"conv 3x3 s1 no bias", 3, 13, 17, 5, 3, 3, 1, 1, 1, 1, 1, 0, {1, 1, 1, 1}, NULL},
      {"conv 3x3 s2 p1", 4, 13, 17, 8, 3, 3, 2, 2, 1, 1, 1, 1, {1, 1, 1, 1}, NULL},
      {"conv 3x3 asym pads", 3, 13, 17, 4, 3, 3, 2, 2, 1, 1, 1, 1, {0, 1, 2, 0}, NULL},
      {"conv 3x3 odd channels", 19, 11, 9, 17, 3, 3, 1, 1, 1, 1, 1, 1, {1, 1, 1, 1}, NULL},
      {"conv 4x4 s2", 3, 13, 17, 5, 4, 4, 2, 2, 1, 1, 1, 1, {1, 1, 2, 2}, NULL},
      {"conv 7x7 s2 p3", 3, 13, 17, 4, 7, 7, 2, 2, 1, 1, 1, 1, {3, 3, 3, 3}, NULL},
      {"conv 1x3 s(1,2)", 3, 13, 17, 4, 1, 3, 1, 2, 1, 1, 1, 1, {0, 1, 0, 1}, NULL},
      {"conv 3x3 dilation 2", 3, 13, 17, 4, 3, 3, 1, 1, 2, 2, 1, 1, {2, 2, 2, 2}, NULL},
      {"conv 3x3 dilation 3 s2", 3, 13, 17, 4, 3, 3, 2, 2, 3, 3, 1, 1, {1, 3, 2, 0}, NULL},
      {"conv 3x3 dilation 5", 2, 13, 17, 3, 3, 3, 1, 1, 5, 5, 1, 1, {5, 5, 5, 5}, NULL},
      {"conv 3x3 dilation (2,3)", 2, 13, 17, 3, 3, 3, 1, 1, 2, 3, 1, 0, {0}, NULL},
      {"conv SAME_UPPER 3x3 s2", 3, 13, 17, 4, 3, 3, 2, 2, 1, 1, 1, 1, {0}, "SAME_UPPER"},
      {"conv SAME_UPPER 4x4 s1", 3, 13, 17, 4, 4, 4, 1, 1, 1, 1, 1, 1, {0}, "SAME_UPPER"},
      {"conv SAME_LOWER 4x4 s1", 3, 13, 17, 4, 4, 4, 1, 1, 1, 1, 1, 1, {0}, "SAME_LOWER"},
      {"depthwise 3x3 s1 p1", 6, 13, 17, 6, 3, 3, 1, 1, 1, 1, 6, 1, {1, 1, 1, 1}, NULL},
      {"depthwise 3x3 s2 no bias", 6, 13, 17, 6, 3, 3, 2, 2, 1, 1, 6, 0, {1, 1, 1, 1}, NULL},
      {"depthwise 4x4 s2", 5, 13, 17, 5, 4, 4, 2, 2, 1, 1, 5, 1, {1, 1, 2, 2}, NULL},
      {"depthwise 5x5 dilation 2", 4, 13, 17, 4, 5, 5, 1, 1, 2, 2, 4, 1, {4, 3, 2, 1}, NULL},
      {"depthwise 7x7 global", 8, 7, 7, 8, 7, 7, 1, 1, 1, 1, 8, 1, {0}, NULL},
      {"depthwise SAME_UPPER s2", 4, 13, 17, 4, 3, 3, 2, 2, 1, 1, 4, 1, {0}, "SAME_UPPER"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    RUN_AS(cases[i].label, conv_one(&cases[i]));
}

/* ---------------------------------------------------------------------------------------------
 * Fusions (rewrite.c): each fused graph must equal the unfused math.
 * ------------------------------------------------------------------------------------------- */
static const conv_case fz = {"fused", 3, 9, 11, 4, 3, 3, 1, 1, 1, 1, 1, 1, {1, 1, 1, 1}, NULL};
static const conv_case fz_dw = {"fused dw", 4, 9, 11,           4,   3, 3, 1, 1, 1,
                                1,          4, 1, {1, 1, 1, 1}, NULL};
static const conv_case fz_pw = {"fused 1x1", 3, 9, 11, 4, 1, 1, 1, 1, 1, 1, 1, 1, {0}, NULL};
#define FZ_N (4 * 9 * 11) /* outputs of every fz case: [1,4,9,11] */

/* Conv -> BatchNormalization (dense and depthwise). */
static void fuse_bn(const conv_case *k) {
  mb m;
  mb_init(&m, 11);
  mb_input(&m, "x", D(1, k->c, 9, 11));
  conv_params p = add_conv(&m, k, "x", "c", 11);
  const float gam[4] = {0.5f, -1.5f, 2, 1}, bet[4] = {0.1f, 0.2f, -0.3f, 0},
              mu[4] = {0.3f, -0.2f, 0, 1}, var[4] = {0.25f, 1, 4, 0.01f};
  mb_const_f(&m, "g", D(4), gam);
  mb_const_f(&m, "be", D(4), bet);
  mb_const_f(&m, "mu", D(4), mu);
  mb_const_f(&m, "var", D(4), var);
  mb_node(&m, "BatchNormalization", "c,g,be,mu,var", "y", "epsilon=0.001");
  mb_output(&m, "y");
  float *x = rnd((size_t)k->c * 99, -1, 1, 5);
  double *want = dbl(FZ_N);
  ref_conv(k, x, p.w, p.b, want);
  for (int i = 0; i < FZ_N; i++) {
    int c = i / 99;
    want[i] = (want[i] - mu[c]) / sqrt(var[c] + (double)0.001f) * gam[c] + bet[c];
  }
  expect1(&m, (const float *[]){x}, D(1, 4, 9, 11), want, "conv+bn");
  free(x), free(want), free(p.w), free(p.b);
}

/* Conv -> Mul/Div by a constant: `op` applies k on the side `left` says; k has shape kd. */
static void fuse_scale(const char *op, int left, const int64_t *kd, int knd) {
  mb m;
  mb_init(&m, 11);
  mb_input(&m, "x", D(1, 3, 9, 11));
  conv_params p = add_conv(&m, &fz, "x", "c", 13);
  const float kv[4] = {0.5f, -2, 4, 0.25f};
  mb_const_f(&m, "k", kd, knd, kv);
  mb_node(&m, op, left ? "k,c" : "c,k", "y", "");
  mb_output(&m, "y");
  int per_channel = knd > 0 && kd[0] == 4;
  float *x = rnd(3 * 99, -1, 1, 6);
  double *want = dbl(FZ_N);
  ref_conv(&fz, x, p.w, p.b, want);
  for (int i = 0; i < FZ_N; i++) {
    double kk = kv[per_channel ? i / 99 : 0];
    want[i] = op[0] == 'M' ? want[i] * kk : left ? kk / want[i] : want[i] / kk;
  }
  double tol = op[0] == 'D' && left ? 1e-3 : TOL; /* k / conv: near-zero denominators */
  for (int threads = 1; threads <= 3; threads += 2) {
    sess s;
    CHECK_MSG(sess_open_keep(&s, &m, NULL, threads, (const float *[]){x}, 1), "%s", s.err);
    if (s.at == DONE) check_out_tol(&s, 0, D(1, 4, 9, 11), want, op, tol);
    sess_close(&s);
  }
  mb_free(&m);
  free(x), free(want), free(p.w), free(p.b);
}

/* Conv -> Add(other runtime tensor) -> Relu, with the conv on either side of the Add. */
static void fuse_add_relu(const conv_case *k, int conv_left) {
  mb m;
  mb_init(&m, 11);
  mb_input(&m, "x", D(1, k->c, 9, 11));
  mb_input(&m, "r", D(1, 4, 9, 11));
  conv_params p = add_conv(&m, k, "x", "c", 17);
  mb_node(&m, "Add", conv_left ? "c,r" : "r,c", "s", "");
  mb_node(&m, "Relu", "s", "y", "");
  mb_output(&m, "y");
  float *x = rnd((size_t)k->c * 99, -1, 1, 8), *r = rnd(FZ_N, -1, 1, 9);
  double *want = dbl(FZ_N);
  ref_conv(k, x, p.w, p.b, want);
  for (int i = 0; i < FZ_N; i++) want[i] = fmax(0, want[i] + r[i]);
  expect1(&m, (const float *[]){x, r}, D(1, 4, 9, 11), want, "conv+add+relu");
  free(x), free(r), free(want), free(p.w), free(p.b);
}

/* Conv -> PRelu with a slope of shape sd: per channel [4,1,1], scalar [1], or [W] (which
 * broadcasts along the last axis, not the channels). The conv output is [1,4,5,4]. */
static void fuse_prelu(const int64_t *sd, int snd) {
  const conv_case k = {"prelu", 3, 5, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1, {1, 1, 1, 1}, NULL};
  mb m;
  mb_init(&m, 11);
  mb_input(&m, "x", D(1, 3, 5, 4));
  conv_params p = add_conv(&m, &k, "x", "c", 19);
  const float sl[4] = {0.1f, -0.5f, 2, 0.25f};
  mb_const_f(&m, "slope", sd, snd, sl);
  mb_node(&m, "PRelu", "c,slope", "y", "");
  mb_output(&m, "y");
  size_t sn = 1;
  for (int d = 0; d < snd; d++) sn *= (size_t)sd[d];
  int along_w = snd == 1 && sn == 4;
  float *x = rnd(3 * 20, -1, 1, 10);
  double want[80];
  ref_conv(&k, x, p.w, p.b, want);
  for (int i = 0; i < 80; i++) {
    double s = sl[sn == 1 ? 0 : along_w ? i % 4 : i / 20];
    want[i] = want[i] < 0 ? want[i] * s : want[i];
  }
  expect1(&m, (const float *[]){x}, D(1, 4, 5, 4), want, along_w ? "prelu slope [W]" : "prelu");
  free(x), free(p.w), free(p.b);
}

/* Gemm -> BatchNormalization and Gemm -> Relu. */
static void fuse_gemm(const char *after) {
  mb m;
  mb_init(&m, 11);
  mb_input(&m, "x", D(2, 6));
  float *w = rnd(5 * 6, -1, 1, 21), *b = rnd(5, -1, 1, 22), *x = rnd(12, -1, 1, 23);
  const float gam[5] = {0.5f, -1, 2, 1, 3}, bet[5] = {0.1f, 0, -0.3f, 1, 2},
              mu[5] = {0.3f, -0.2f, 0, 1, 0.5f}, var[5] = {0.25f, 1, 4, 0.5f, 2};
  mb_const_f(&m, "w", D(5, 6), w);
  mb_const_f(&m, "b", D(5), b);
  mb_node(&m, "Gemm", "x,w,b", "g", "transB=1 alpha=0.5 beta=2");
  if (!strcmp(after, "BatchNormalization")) {
    mb_const_f(&m, "ga", D(5), gam);
    mb_const_f(&m, "be", D(5), bet);
    mb_const_f(&m, "mu", D(5), mu);
    mb_const_f(&m, "var", D(5), var);
    mb_node(&m, after, "g,ga,be,mu,var", "y", "");
  } else {
    mb_node(&m, after, "g", "y", "");
  }
  mb_output(&m, "y");
  double want[10];
  for (int r = 0; r < 2; r++)
    for (int o = 0; o < 5; o++) {
      double acc = 0;
      for (int k = 0; k < 6; k++) acc += (double)x[r * 6 + k] * w[o * 6 + k];
      double v = 0.5 * acc + 2.0 * b[o];
      want[r * 5 + o] =
          after[0] == 'B' ? (v - mu[o]) / sqrt(var[o] + 1e-5) * gam[o] + bet[o] : fmax(v, 0);
    }
  expect1(&m, (const float *[]){x}, D(2, 5), want, after);
  free(w), free(b), free(x);
}

/* A conv output read by two nodes (and, in the second form, also a graph output) must not
 * be fused into either. */
static void fuse_two_consumers(int conv_is_output) {
  mb m;
  mb_init(&m, 11);
  mb_input(&m, "x", D(1, 3, 9, 11));
  conv_params p = add_conv(&m, &fz, "x", "c", 23);
  mb_node(&m, "Relu", "c", "y1", "");
  mb_const_f(&m, "k", NULL, 0, F(3));
  mb_node(&m, "Mul", "c,k", "y2", "");
  mb_output(&m, "y1");
  mb_output(&m, "y2");
  if (conv_is_output) mb_output(&m, "c");
  float *x = rnd(3 * 99, -1, 1, 12);
  double *c = dbl(FZ_N), *y1 = dbl(FZ_N), *y2 = dbl(FZ_N);
  ref_conv(&fz, x, p.w, p.b, c);
  for (int i = 0; i < FZ_N; i++) y1[i] = fmax(c[i], 0), y2[i] = 3 * c[i];
  sess s;
  CHECK_MSG(sess_open(&s, &m, NULL, 2, (const float *[]){x}), "%s", s.err);
  if (s.at == DONE) {
    check_out(&s, 0, D(1, 4, 9, 11), y1, "two consumers: relu");
    check_out(&s, 1, D(1, 4, 9, 11), y2, "two consumers: mul");
    if (conv_is_output) check_out(&s, 2, D(1, 4, 9, 11), c, "two consumers: conv");
  }
  sess_close(&s);
  free(x), free(c), free(y1), free(y2), free(p.w), free(p.b);
}

/* Conv -> Add of a tensor that broadcasts ([4,1,1] constant, or a [1,4,1,1] graph input). */
static void fuse_add_broadcast(int runtime) {
  mb m;
  mb_init(&m, 11);
  mb_input(&m, "x", D(1, 3, 9, 11));
  const float bv[4] = {1, -2, 0.5f, 3};
  if (runtime)
    mb_input(&m, "r", D(1, 4, 1, 1));
  else
    mb_const_f(&m, "r", D(4, 1, 1), bv);
  conv_params p = add_conv(&m, &fz, "x", "c", 29);
  mb_node(&m, "Add", "c,r", "y", "");
  mb_output(&m, "y");
  float *x = rnd(3 * 99, -1, 1, 13);
  double *want = dbl(FZ_N);
  ref_conv(&fz, x, p.w, p.b, want);
  for (int i = 0; i < FZ_N; i++) want[i] += bv[i / 99];
  expect1(&m, (const float *[]){x, bv}, D(1, 4, 9, 11), want,
          runtime ? "conv+add broadcast input" : "conv+add broadcast constant");
  free(x), free(want), free(p.w), free(p.b);
}

/* A residual block: two convs of one input added, then Relu; in both node orders. */
static void fuse_residual_block(int order) {
  const conv_case k1 = {"a", 3, 9, 11, 4, 3, 3, 1, 1, 1, 1, 1, 1, {1, 1, 1, 1}, NULL};
  mb m;
  mb_init(&m, 11);
  mb_input(&m, "x", D(1, 3, 9, 11));
  conv_params pa, pb;
  if (order) {
    pb = add_conv(&m, &fz_pw, "x", "b", 33);
    pa = add_conv(&m, &k1, "x", "a", 31);
  } else {
    pa = add_conv(&m, &k1, "x", "a", 31);
    pb = add_conv(&m, &fz_pw, "x", "b", 33);
  }
  mb_node(&m, "Add", "a,b", "s", "");
  mb_node(&m, "Relu", "s", "y", "");
  mb_output(&m, "y");
  float *x = rnd(3 * 99, -1, 1, 14);
  double *a = dbl(FZ_N), *b = dbl(FZ_N);
  ref_conv(&k1, x, pa.w, pa.b, a);
  ref_conv(&fz_pw, x, pb.w, pb.b, b);
  for (int i = 0; i < FZ_N; i++) a[i] = fmax(0, a[i] + b[i]);
  expect1(&m, (const float *[]){x}, D(1, 4, 9, 11), a, "residual block");
  free(x), free(a), free(b), free(pa.w), free(pa.b), free(pb.w), free(pb.b);
}

/* A tensor absorbed by a fusion can no longer be asked for; the refusal says so. */
static void fuse_intermediate_refused(void) {
  mb m;
  mb_init(&m, 11);
  mb_input(&m, "x", D(1, 3, 9, 11));
  conv_params p = add_conv(&m, &fz, "x", "c", 37);
  mb_node(&m, "Relu", "c", "y", "");
  mb_output(&m, "y");
  expect_fail(&m, "c", AT_PLAN, "fused tensor asked for", 2, "'c'", "fused");
  free(p.w), free(p.b);
}

static void test_fusions(void) {
  RUN_AS("conv -> batchnorm", fuse_bn(&fz));
  RUN_AS("depthwise -> batchnorm", fuse_bn(&fz_dw));
  RUN_AS("conv -> mul scalar []", fuse_scale("Mul", 0, NULL, 0));
  RUN_AS("conv -> mul scalar [1]", fuse_scale("Mul", 0, D(1)));
  RUN_AS("scalar [1] * conv", fuse_scale("Mul", 1, D(1)));
  RUN_AS("conv -> div scalar", fuse_scale("Div", 0, D(1)));
  RUN_AS("scalar / conv", fuse_scale("Div", 1, NULL, 0));
  RUN_AS("conv -> mul per channel [4,1,1]", fuse_scale("Mul", 0, D(4, 1, 1)));
  RUN_AS("conv -> add -> relu", fuse_add_relu(&fz, 1));
  RUN_AS("add(other, conv) -> relu", fuse_add_relu(&fz, 0));
  RUN_AS("depthwise -> add -> relu", fuse_add_relu(&fz_dw, 1));
  RUN_AS("conv 1x1 -> add -> relu", fuse_add_relu(&fz_pw, 1));
  RUN_AS("residual block a,b", fuse_residual_block(0));
  RUN_AS("residual block b,a", fuse_residual_block(1));
  RUN_AS("conv -> add constant [4,1,1]", fuse_add_broadcast(0));
  RUN_AS("conv -> add input [1,4,1,1]", fuse_add_broadcast(1));
  RUN_AS("conv -> prelu slope [4,1,1]", fuse_prelu(D(4, 1, 1)));
  RUN_AS("conv -> prelu slope [1]", fuse_prelu(D(1)));
  RUN_AS("conv -> prelu slope [W]", fuse_prelu(D(4)));
  RUN_AS("gemm -> batchnorm", fuse_gemm("BatchNormalization"));
  RUN_AS("gemm -> relu", fuse_gemm("Relu"));
  RUN_AS("conv with two consumers", fuse_two_consumers(0));
  RUN_AS("conv with two consumers and output", fuse_two_consumers(1));
  RUN_AS("fused tensor cannot be asked for", fuse_intermediate_refused());
}

/* ---------------------------------------------------------------------------------------------
 * Elementwise: activations, Softmax, binary ops with numpy broadcasting, int64 arithmetic.
 * ------------------------------------------------------------------------------------------- */
static void unary_one(const char *op) {
  mb m;
  mb_init(&m, 13);
  mb_input(&m, "x", D(2, 3, 4));
  mb_node(&m, op, "x", "y", "");
  mb_output(&m, "y");
  float *x = rnd(24, -3, 3, 30);
  double want[24];
  for (int i = 0; i < 24; i++)
    want[i] = op[0] == 'R'   ? fmax(x[i], 0)
              : op[0] == 'E' ? exp(x[i])
              : op[0] == 'S' ? 1 / (1 + exp(-(double)x[i]))
                             : x[i];
  expect1(&m, (const float *[]){x}, D(2, 3, 4), want, op);
  free(x);
}

/* PRelu standalone with a slope of shape sd broadcast to x [2,3,4]. */
static void prelu_one(const int64_t *sd, int snd) {
  mb m;
  mb_init(&m, 11);
  mb_input(&m, "x", D(2, 3, 4));
  float *sl = rnd(12, -1, 1, 31), *x = rnd(24, -3, 3, 32);
  mb_const_f(&m, "s", sd, snd, sl);
  mb_node(&m, "PRelu", "x,s", "y", "");
  mb_output(&m, "y");
  int64_t st[3];
  for (int d = 2, k = snd - 1, acc = 1; d >= 0; d--, k--) {
    int64_t n = k >= 0 ? sd[k] : 1;
    st[d] = n == 1 ? 0 : acc;
    acc *= (int)n;
  }
  double want[24];
  for (int i = 0; i < 24; i++) {
    double s = sl[i / 12 * st[0] + i / 4 % 3 * st[1] + i % 4 * st[2]];
    want[i] = x[i] < 0 ? x[i] * s : x[i];
  }
  expect1(&m, (const float *[]){x}, D(2, 3, 4), want, "prelu");
  free(sl), free(x);
}

/* Softmax on [2,3,4]: opset < 13 normalises the flattened [outer, rest] rows; 13 one axis. */
static void softmax_one(int opset, const char *attrs, int axis, int legacy) {
  mb m;
  mb_init(&m, opset);
  mb_input(&m, "x", D(2, 3, 4));
  mb_node(&m, "Softmax", "x", "y", attrs);
  mb_output(&m, "y");
  float *x = rnd(24, -5, 5, 33);
  x[5] = 90, x[6] = 88; /* large values: must not overflow */
  const int dims[3] = {2, 3, 4}, st[3] = {12, 4, 1};
  double want[24];
  for (int i = 0; i < 24; i++) {
    /* the group of i: every j equal to i outside the normalised axes */
    double sum = 0, mx = -1e300;
    for (int j = 0; j < 24; j++) {
      int same = 1;
      for (int d = 0; d < 3; d++) {
        int reduced = legacy ? d >= axis : d == axis;
        if (!reduced && j / st[d] % dims[d] != i / st[d] % dims[d]) same = 0;
      }
      if (same) mx = fmax(mx, x[j]);
    }
    for (int j = 0; j < 24; j++) {
      int same = 1;
      for (int d = 0; d < 3; d++) {
        int reduced = legacy ? d >= axis : d == axis;
        if (!reduced && j / st[d] % dims[d] != i / st[d] % dims[d]) same = 0;
      }
      if (same) sum += exp(x[j] - mx);
    }
    want[i] = exp(x[i] - mx) / sum;
  }
  expect1(&m, (const float *[]){x}, D(2, 3, 4), want, "softmax");
  free(x);
}

/* y = a <op> b on float inputs of shapes ad and bd; b is a constant when b_const. */
static void binary_one(const char *op, const int64_t *ad, int and_, const int64_t *bd, int bnd,
                       int b_const, const int64_t *yd, int ynd) {
  mb m;
  mb_init(&m, 13);
  size_t an = 1, bn = 1, yn = 1;
  for (int d = 0; d < and_; d++) an *= (size_t)ad[d];
  for (int d = 0; d < bnd; d++) bn *= (size_t)bd[d];
  for (int d = 0; d < ynd; d++) yn *= (size_t)yd[d];
  float *a = rnd(an, -2, 2, 40), *b = rnd(bn, 0.5f, 2, 41);
  mb_input(&m, "a", ad, and_);
  if (b_const)
    mb_const_f(&m, "b", bd, bnd, b);
  else
    mb_input(&m, "b", bd, bnd);
  mb_node(&m, op, "a,b", "y", "");
  mb_output(&m, "y");
  double *want = dbl(yn);
  for (size_t i = 0; i < yn; i++) {
    size_t ia = 0, ib = 0, rem = i, sa = 1, sb = 1;
    for (int d = ynd - 1; d >= 0; d--) {
      size_t idx = rem % (size_t)yd[d];
      rem /= (size_t)yd[d];
      int da = d - (ynd - and_), db = d - (ynd - bnd);
      if (da >= 0) ia += (ad[da] == 1 ? 0 : idx) * sa, sa *= (size_t)ad[da];
      if (db >= 0) ib += (bd[db] == 1 ? 0 : idx) * sb, sb *= (size_t)bd[db];
    }
    double x = a[ia], z = b[ib];
    want[i] = op[0] == 'A' ? x + z : op[0] == 'S' ? x - z : op[0] == 'M' ? x * z : x / z;
  }
  expect1(&m, b_const ? (const float *[]){a} : (const float *[]){a, b}, yd, ynd, want, op);
  free(a), free(b), free(want);
}

/* Shape arithmetic on int64 constants (Constant nodes) folded at plan time: Shape(x)=[2,3,4],
 * Gather [1,2] -> [3,4], *[2,1] -> [6,4], /[3,1] -> [2,4], +[1,0] -> [3,4], -[1,-2] -> [2,6],
 * Concat([2], .) -> [2,2,6], then Reshape(x) to it. */
static void int64_arith(void) {
  mb m;
  mb_init(&m, 13);
  m.const_nodes = 1;
  mb_input(&m, "x", D(2, 3, 4));
  mb_const_i(&m, "idx", D(2), I(1, 2));
  mb_const_i(&m, "k1", D(2), I(2, 1));
  mb_const_i(&m, "k2", D(2), I(3, 1));
  mb_const_i(&m, "k3", D(2), I(1, 0));
  mb_const_i(&m, "k4", D(2), I(1, -2));
  mb_const_i(&m, "k5", D(1), I(2));
  mb_node(&m, "Shape", "x", "s", "");
  mb_node(&m, "Gather", "s,idx", "g", "axis=0");
  mb_node(&m, "Mul", "g,k1", "m1", "");
  mb_node(&m, "Div", "m1,k2", "d1", "");
  mb_node(&m, "Add", "d1,k3", "a1", "");
  mb_node(&m, "Sub", "a1,k4", "s1", "");
  mb_node(&m, "Concat", "k5,s1", "shape", "axis=0");
  mb_node(&m, "Reshape", "x,shape", "y", "");
  mb_output(&m, "y");
  mb_output(&m, "m1");
  mb_output(&m, "d1");
  mb_output(&m, "shape");
  float *x = rnd(24, -1, 1, 42);
  double *want = dbl_of(x, 24);
  sess s;
  CHECK_MSG(sess_open(&s, &m, NULL, 1, (const float *[]){x}), "%s", s.err);
  if (s.at == DONE) {
    check_out(&s, 0, D(2, 2, 6), want, "int64 reshape");
    check_out_i64(&s, 1, I(6, 4), 2, "int64 mul");
    check_out_i64(&s, 2, I(2, 4), 2, "int64 div");
    check_out_i64(&s, 3, I(2, 2, 6), 3, "int64 concat");
    CHECK_MSG(s.plan->nsteps == 1, "%d steps left after folding (want the Reshape)",
              s.plan->nsteps);
  }
  sess_close(&s);
  free(x), free(want);
}

static void test_elementwise(void) {
  RUN_AS("relu", unary_one("Relu"));
  RUN_AS("sigmoid", unary_one("Sigmoid"));
  RUN_AS("exp", unary_one("Exp"));
  RUN_AS("identity", unary_one("Identity"));
  RUN_AS("dropout (inference identity)", unary_one("Dropout"));
  RUN_AS("prelu slope [3,1]", prelu_one(D(3, 1)));
  RUN_AS("prelu slope [4]", prelu_one(D(4)));
  RUN_AS("prelu slope [2,3,1]", prelu_one(D(2, 3, 1)));
  RUN_AS("prelu slope [1]", prelu_one(D(1)));
  RUN_AS("softmax opset 11 axis=1 (flattened 12)", softmax_one(11, "axis=1", 1, 1));
  RUN_AS("softmax opset 11 default axis", softmax_one(11, "", 1, 1));
  RUN_AS("softmax opset 11 axis=2", softmax_one(11, "axis=2", 2, 1));
  RUN_AS("softmax opset 11 axis=-2", softmax_one(11, "axis=-2", 1, 1));
  RUN_AS("softmax opset 13 axis=-1", softmax_one(13, "axis=-1", 2, 0));
  RUN_AS("softmax opset 13 default axis", softmax_one(13, "", 2, 0));
  RUN_AS("softmax opset 13 axis=1", softmax_one(13, "axis=1", 1, 0));
  RUN_AS("softmax opset 13 axis=0", softmax_one(13, "axis=0", 0, 0));
  RUN_AS("add [2,3,4]+[4]", binary_one("Add", D(2, 3, 4), D(4), 1, D(2, 3, 4)));
  RUN_AS("add same shape inputs", binary_one("Add", D(2, 3, 4), D(2, 3, 4), 0, D(2, 3, 4)));
  RUN_AS("mul [2,1,4]*[3,1]", binary_one("Mul", D(2, 1, 4), D(3, 1), 0, D(2, 3, 4)));
  RUN_AS("mul [3,1]*[2,1,4]", binary_one("Mul", D(3, 1), D(2, 1, 4), 0, D(2, 3, 4)));
  RUN_AS("sub scalar", binary_one("Sub", D(2, 3, 4), NULL, 0, 1, D(2, 3, 4)));
  RUN_AS("sub [1]", binary_one("Sub", D(2, 3, 4), D(1), 1, D(2, 3, 4)));
  RUN_AS("div [2,3,4]/[2,3,1]", binary_one("Div", D(2, 3, 4), D(2, 3, 1), 1, D(2, 3, 4)));
  RUN_AS("div [1,3,1,5]/[2,1,4,1]",
         binary_one("Div", D(1, 3, 1, 5), D(2, 1, 4, 1), 0, D(2, 3, 4, 5)));
  RUN_AS("int64 arithmetic on constants", int64_arith());
}

/* ---------------------------------------------------------------------------------------------
 * Gemm, MatMul, standalone BatchNormalization.
 * ------------------------------------------------------------------------------------------- */
/* y = alpha * x[M,K] * op(B) + beta * C, C of cn values (0: no C; 1; N). */
static void gemm_one(int M, int K, int N, int trans_b, float alpha, float beta, int cn) {
  mb m;
  mb_init(&m, 11);
  mb_input(&m, "x", D(M, K));
  float *x = rnd((size_t)M * K, -1, 1, 50), *b = rnd((size_t)K * N, -1, 1, 51),
        *c = rnd((size_t)N, -1, 1, 52);
  if (trans_b)
    mb_const_f(&m, "b", D(N, K), b);
  else
    mb_const_f(&m, "b", D(K, N), b);
  if (cn) mb_const_f(&m, "c", D(cn), c);
  char attrs[128];
  snprintf(attrs, sizeof attrs, "transA=0 transB=%d alpha=%g beta=%g", trans_b, alpha, beta);
  mb_node(&m, "Gemm", cn ? "x,b,c" : "x,b", "y", attrs);
  mb_output(&m, "y");
  double *want = dbl((size_t)M * N);
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      double acc = 0;
      for (int k = 0; k < K; k++) acc += (double)x[i * K + k] * b[trans_b ? j * K + k : k * N + j];
      want[i * N + j] = alpha * acc + (cn ? (double)beta * c[cn == 1 ? 0 : j] : 0);
    }
  expect1(&m, (const float *[]){x}, D(M, N), want, "gemm");
  free(x), free(b), free(c), free(want);
}

/* a[ad] x b[bd] with numpy matmul semantics; b a constant when b_const. */
static void matmul_one(const int64_t *ad, int and_, const int64_t *bd, int bnd, int b_const) {
  mb m;
  mb_init(&m, 13);
  int64_t M = ad[and_ - 2], K = ad[and_ - 1], N = bd[bnd - 1];
  int64_t batch = and_ == 3 ? ad[0] : 1, bbatch = bnd == 3 ? bd[0] : 1;
  float *a = rnd((size_t)(batch * M * K), -1, 1, 53), *b = rnd((size_t)(bbatch * K * N), -1, 1, 54);
  mb_input(&m, "a", ad, and_);
  if (b_const)
    mb_const_f(&m, "b", bd, bnd, b);
  else
    mb_input(&m, "b", bd, bnd);
  mb_node(&m, "MatMul", "a,b", "y", "");
  mb_output(&m, "y");
  double *want = dbl((size_t)(batch * M * N));
  for (int64_t t = 0; t < batch; t++)
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) {
        double acc = 0;
        for (int64_t k = 0; k < K; k++)
          acc += (double)a[(t * M + i) * K + k] * b[((bbatch > 1 ? t : 0) * K + k) * N + j];
        want[(t * M + i) * N + j] = acc;
      }
  int64_t yd[3] = {batch, M, N};
  expect1(&m, b_const ? (const float *[]){a} : (const float *[]){a, b}, yd + (and_ == 2), and_,
          want, "matmul");
  free(a), free(b), free(want);
}

/* BatchNormalization on its own (its input is a graph input, not a conv). */
static void batchnorm_one(const int64_t *xd, int nd) {
  mb m;
  mb_init(&m, 11);
  mb_input(&m, "x", xd, nd);
  size_t n = 1;
  for (int d = 0; d < nd; d++) n *= (size_t)xd[d];
  size_t inner = n / (size_t)(xd[0] * xd[1]);
  const float g[3] = {0.5f, -1, 2}, be[3] = {0.1f, 0, -0.3f}, mu[3] = {0.3f, -0.2f, 1},
              var[3] = {0.25f, 1, 4};
  mb_const_f(&m, "g", D(3), g);
  mb_const_f(&m, "be", D(3), be);
  mb_const_f(&m, "mu", D(3), mu);
  mb_const_f(&m, "var", D(3), var);
  mb_node(&m, "BatchNormalization", "x,g,be,mu,var", "y", "epsilon=0.01");
  mb_output(&m, "y");
  float *x = rnd(n, -2, 2, 55);
  double *want = dbl(n);
  for (size_t i = 0; i < n; i++) {
    size_t c = i / inner % 3;
    want[i] = (x[i] - mu[c]) / sqrt(var[c] + (double)0.01f) * g[c] + be[c];
  }
  expect1(&m, (const float *[]){x}, xd, nd, want, "batchnorm");
  free(x), free(want);
}

static void test_linear(void) {
  RUN_AS("gemm transB=0 alpha beta C[N]", gemm_one(3, 5, 4, 0, 0.5f, 2, 4));
  RUN_AS("gemm transB=1 C[1]", gemm_one(2, 5, 3, 1, 1, 0.5f, 1));
  RUN_AS("gemm transB=1 no C", gemm_one(1, 7, 6, 1, 1.5f, 1, 0));
  RUN_AS("gemm large K, N", gemm_one(3, 37, 19, 1, 1, 1, 19));
  RUN_AS("matmul 2-D const B", matmul_one(D(3, 5), D(5, 4), 1));
  RUN_AS("matmul 2-D input B", matmul_one(D(3, 5), D(5, 4), 0));
  RUN_AS("matmul batched 3-D", matmul_one(D(2, 3, 5), D(2, 5, 4), 0));
  RUN_AS("matmul 3-D x 2-D", matmul_one(D(2, 3, 5), D(5, 4), 1));
  RUN_AS("batchnorm [1,3,4,5]", batchnorm_one(D(1, 3, 4, 5)));
  RUN_AS("batchnorm [2,3,4]", batchnorm_one(D(2, 3, 4)));
  RUN_AS("batchnorm [2,3]", batchnorm_one(D(2, 3)));
}

/* ---------------------------------------------------------------------------------------------
 * MaxPool and Resize.
 * ------------------------------------------------------------------------------------------- */
typedef struct {
  const char *label;
  int h, w, k, s, d, ceil;
  int pads[4];
  const char *auto_pad;
} pool_case;

static void maxpool_one(const pool_case *p) {
  mb m;
  mb_init(&m, 11);
  mb_input(&m, "x", D(1, 2, p->h, p->w));
  char attrs[200];
  int n = snprintf(attrs, sizeof attrs, "kernel_shape=%d,%d strides=%d,%d ceil_mode=%d", p->k, p->k,
                   p->s, p->s, p->ceil);
  if (p->d > 1) n += snprintf(attrs + n, sizeof attrs - (size_t)n, " dilations=%d,%d", p->d, p->d);
  if (p->auto_pad)
    snprintf(attrs + n, sizeof attrs - (size_t)n, " auto_pad=%s", p->auto_pad);
  else
    snprintf(attrs + n, sizeof attrs - (size_t)n, " pads=%d,%d,%d,%d", p->pads[0], p->pads[1],
             p->pads[2], p->pads[3]);
  mb_node(&m, "MaxPool", "x", "y", attrs);
  mb_output(&m, "y");
  int oh, ow, pt, pl, ext = p->d * (p->k - 1) + 1;
  if (p->auto_pad) {
    conv_axis(p->h, p->k, p->s, p->d, 0, 0, p->auto_pad, &oh, &pt);
    conv_axis(p->w, p->k, p->s, p->d, 0, 0, p->auto_pad, &ow, &pl);
  } else {
    double fh = (double)(p->h + p->pads[0] + p->pads[2] - ext) / p->s,
           fw = (double)(p->w + p->pads[1] + p->pads[3] - ext) / p->s;
    oh = (int)(p->ceil ? ceil(fh) : floor(fh)) + 1, ow = (int)(p->ceil ? ceil(fw) : floor(fw)) + 1;
    pt = p->pads[0], pl = p->pads[1];
  }
  float *x = rnd((size_t)2 * p->h * p->w, -1, 1, 60);
  double *want = dbl((size_t)2 * oh * ow);
  for (int c = 0; c < 2; c++)
    for (int oy = 0; oy < oh; oy++)
      for (int ox = 0; ox < ow; ox++) {
        double mx = -INFINITY;
        for (int ky = 0; ky < p->k; ky++)
          for (int kx = 0; kx < p->k; kx++) {
            int iy = oy * p->s - pt + ky * p->d, ix = ox * p->s - pl + kx * p->d;
            if (iy >= 0 && iy < p->h && ix >= 0 && ix < p->w)
              mx = fmax(mx, x[(c * p->h + iy) * p->w + ix]);
          }
        want[(c * oh + oy) * ow + ox] = mx;
      }
  expect1(&m, (const float *[]){x}, D(1, 2, oh, ow), want, p->label);
  free(x), free(want);
}

/* Resize (opset 11) of x [1,2,h,w]: by scales (sizes NULL) or by sizes. coord: 0 asymmetric,
 * 1 half_pixel, 2 align_corners; attrs as given to the node (defaults apply where absent). */
static void resize_one(int h, int w, const float *scales, const int64_t *sizes, int linear,
                       int coord, int nearest_floor, const char *attrs) {
  mb m;
  mb_init(&m, 11);
  mb_input(&m, "x", D(1, 2, h, w));
  mb_const_f(&m, "roi", D(0), F(0));
  if (scales) {
    mb_const_f(&m, "scales", D(4), scales);
    mb_node(&m, "Resize", "x,roi,scales", "y", attrs);
  } else {
    mb_const_f(&m, "scales", D(0), F(0));
    mb_const_i(&m, "sizes", D(4), sizes);
    mb_node(&m, "Resize", "x,roi,scales,sizes", "y", attrs);
  }
  mb_output(&m, "y");
  int oh = scales ? (int)floor(h * (double)scales[2]) : (int)sizes[2];
  int ow = scales ? (int)floor(w * (double)scales[3]) : (int)sizes[3];
  double sy = scales ? scales[2] : (double)oh / h, sx = scales ? scales[3] : (double)ow / w;
  float *x = rnd((size_t)2 * h * w, -1, 1, 61);
  double *want = dbl((size_t)2 * oh * ow);
  for (int c = 0; c < 2; c++)
    for (int oy = 0; oy < oh; oy++)
      for (int ox = 0; ox < ow; ox++) {
        double f[2];
        const int o[2] = {oy, ox}, in[2] = {h, w}, out[2] = {oh, ow};
        const double sc[2] = {sy, sx};
        for (int a = 0; a < 2; a++)
          f[a] = coord == 2   ? (out[a] > 1 ? o[a] * (double)(in[a] - 1) / (out[a] - 1) : 0)
                 : coord == 1 ? (o[a] + 0.5) / sc[a] - 0.5
                              : o[a] / sc[a];
        const float *pl = x + c * h * w;
        double v;
        if (!linear) {
          int i[2];
          for (int a = 0; a < 2; a++) {
            double r = floor(f[a]);
            i[a] = (int)(nearest_floor || f[a] - r <= 0.5 ? r : r + 1);
            i[a] = i[a] < 0 ? 0 : i[a] >= in[a] ? in[a] - 1 : i[a];
          }
          v = pl[i[0] * w + i[1]];
        } else {
          int i0[2], i1[2];
          double t[2];
          for (int a = 0; a < 2; a++) {
            double g = fmin(fmax(f[a], 0), in[a] - 1);
            i0[a] = (int)floor(g);
            i1[a] = i0[a] + 1 < in[a] ? i0[a] + 1 : in[a] - 1;
            t[a] = g - i0[a];
          }
          double top = pl[i0[0] * w + i0[1]] * (1 - t[1]) + pl[i0[0] * w + i1[1]] * t[1];
          double bot = pl[i1[0] * w + i0[1]] * (1 - t[1]) + pl[i1[0] * w + i1[1]] * t[1];
          v = top * (1 - t[0]) + bot * t[0];
        }
        want[(c * oh + oy) * ow + ox] = v;
      }
  expect1(&m, (const float *[]){x}, D(1, 2, oh, ow), want, "resize");
  free(x), free(want);
}

static void test_spatial(void) {
  static const pool_case pools[] = {
      {"maxpool 2x2 s2", 6, 7, 2, 2, 1, 0, {0}, NULL},
      {"maxpool 3x3 s1 pad 1", 5, 6, 3, 1, 1, 0, {1, 1, 1, 1}, NULL},
      {"maxpool 2x2 s2 ceil_mode", 7, 7, 2, 2, 1, 1, {0}, NULL},
      {"maxpool 3x3 s2 ceil_mode", 8, 9, 3, 2, 1, 1, {0}, NULL},
      {"maxpool 3x3 s2 asym pads", 8, 9, 3, 2, 1, 0, {1, 0, 0, 1}, NULL},
      {"maxpool 2x2 dilation 2", 5, 6, 2, 1, 2, 0, {0}, NULL},
      {"maxpool 3x3 s2 SAME_UPPER", 7, 8, 3, 2, 1, 0, {0}, "SAME_UPPER"},
  };
  for (size_t i = 0; i < sizeof pools / sizeof *pools; i++)
    RUN_AS(pools[i].label, maxpool_one(&pools[i]));
  const char *yunet = "mode=nearest coordinate_transformation_mode=asymmetric nearest_mode=floor";
  RUN_AS("resize nearest asymmetric floor x2 (YuNet)",
         resize_one(3, 4, F(1, 1, 2, 2), NULL, 0, 0, 1, yunet));
  RUN_AS("resize nearest asymmetric floor x(2,3)",
         resize_one(3, 4, F(1, 1, 2, 3), NULL, 0, 0, 1, yunet));
  RUN_AS("resize nearest asymmetric floor by sizes",
         resize_one(3, 4, NULL, I(1, 2, 7, 9), 0, 0, 1, yunet));
  RUN_AS("resize nearest half_pixel round_prefer_floor by sizes",
         resize_one(4, 6, NULL, I(1, 2, 7, 9), 0, 1, 0,
                    "mode=nearest coordinate_transformation_mode=half_pixel"));
  RUN_AS("resize linear half_pixel x2",
         resize_one(3, 4, F(1, 1, 2, 2), NULL, 1, 1, 0,
                    "mode=linear coordinate_transformation_mode=half_pixel"));
  RUN_AS("resize linear half_pixel by sizes (down)",
         resize_one(6, 7, NULL, I(1, 2, 4, 3), 1, 1, 0,
                    "mode=linear coordinate_transformation_mode=half_pixel"));
  RUN_AS("resize linear align_corners by sizes",
         resize_one(3, 4, NULL, I(1, 2, 5, 7), 1, 2, 0,
                    "mode=linear coordinate_transformation_mode=align_corners"));
  RUN_AS("resize linear align_corners x2",
         resize_one(3, 4, F(1, 1, 2, 2), NULL, 1, 2, 0,
                    "mode=linear coordinate_transformation_mode=align_corners"));
  RUN_AS("resize linear half_pixel x1.5 (scale, not out/in)",
         resize_one(3, 5, F(1, 1, 1.5f, 1.5f), NULL, 1, 1, 0,
                    "mode=linear coordinate_transformation_mode=half_pixel"));
  RUN_AS("resize linear default coordinate mode (half_pixel)",
         resize_one(3, 4, F(1, 1, 2, 2), NULL, 1, 1, 0, "mode=linear"));
}

/* ---------------------------------------------------------------------------------------------
 * Layout ops: Reshape, Flatten, Transpose, Concat, Slice, Gather, Unsqueeze/Squeeze, Shape.
 * ------------------------------------------------------------------------------------------- */
/* x [2,3,4] through a Relu (so the view is of an arena tensor), then a view op, then Exp so
 * that the view is read by a computing op; want = exp(relu(x)) with the new dims. */
static void view_one(int opset, const char *op, const char *attrs, const int64_t *k, int kn,
                     const int64_t *yd, int ynd, const char *what) {
  mb m;
  mb_init(&m, opset);
  mb_input(&m, "x", D(2, 3, 4));
  mb_node(&m, "Relu", "x", "r", "");
  if (k) mb_const_i(&m, "k", D(kn), k);
  mb_node(&m, op, k ? "r,k" : "r", "v", attrs);
  mb_node(&m, "Exp", "v", "y", "");
  mb_output(&m, "y");
  float *x = rnd(24, -1, 1, 70);
  double want[24];
  for (int i = 0; i < 24; i++) want[i] = exp(fmax(x[i], 0));
  expect1(&m, (const float *[]){x}, yd, ynd, want, what);
  free(x);
}

/* Generic strided gather used as the reference for Transpose, Slice and Gather: output index
 * -> input flat index through per-axis index lists. */
static void ref_pick(const int64_t *xd, int nd, int64_t *const *pick, const int64_t *count,
                     const int *src_axis, const float *x, double *y) {
  int64_t st[NN_MAX_DIMS], total = 1, k = 1;
  for (int d = nd - 1; d >= 0; d--) st[d] = k, k *= xd[d];
  for (int d = 0; d < nd; d++) total *= count[d];
  for (int64_t o = 0; o < total; o++) {
    int64_t rem = o, off = 0;
    for (int d = nd - 1; d >= 0; d--) {
      off += pick[d][rem % count[d]] * st[src_axis[d]];
      rem /= count[d];
    }
    y[o] = x[off];
  }
}

static void transpose_one(const int64_t *xd, int nd, const int64_t *perm) {
  mb m;
  mb_init(&m, 11);
  mb_input(&m, "x", xd, nd);
  char attrs[64] = "";
  if (perm) {
    int n = snprintf(attrs, sizeof attrs, "perm=");
    for (int d = 0; d < nd; d++)
      n +=
          snprintf(attrs + n, sizeof attrs - (size_t)n, "%s%lld", d ? "," : "", (long long)perm[d]);
  }
  mb_node(&m, "Transpose", "x", "y", attrs);
  mb_output(&m, "y");
  int64_t yd[NN_MAX_DIMS], cnt[NN_MAX_DIMS], idx[NN_MAX_DIMS][16], *pick[NN_MAX_DIMS];
  int src[NN_MAX_DIMS];
  size_t n = 1;
  for (int d = 0; d < nd; d++) {
    src[d] = perm ? (int)perm[d] : nd - 1 - d;
    yd[d] = cnt[d] = xd[src[d]];
    for (int i = 0; i < cnt[d]; i++) idx[d][i] = i;
    pick[d] = idx[d];
    n *= (size_t)yd[d];
  }
  float *x = rnd(n, -1, 1, 71);
  double *want = dbl(n);
  ref_pick(xd, nd, pick, cnt, src, x, want);
  expect1(&m, (const float *[]){x}, yd, nd, want, "transpose");
  free(x), free(want);
}

/* Slice of x [3,4,5]: opset 11 inputs (axes/steps may be NULL), or opset 9 attributes when
 * attrs is given. The reference applies the ONNX clamping rules per axis. */
static void slice_one(int n, const int64_t *starts, const int64_t *ends, const int64_t *axes,
                      const int64_t *steps, const char *attrs) {
  static const int64_t xd[3] = {3, 4, 5};
  mb m;
  mb_init(&m, attrs ? 9 : 11);
  mb_input(&m, "x", xd, 3);
  if (attrs) {
    mb_node(&m, "Slice", "x", "y", attrs);
  } else {
    mb_const_i(&m, "st", D(n), starts);
    mb_const_i(&m, "en", D(n), ends);
    if (axes) mb_const_i(&m, "ax", D(n), axes);
    if (steps) mb_const_i(&m, "sp", D(n), steps);
    mb_node(&m, "Slice",
            steps  ? (axes ? "x,st,en,ax,sp" : "x,st,en,,sp")
            : axes ? "x,st,en,ax"
                   : "x,st,en",
            "y", "");
  }
  mb_output(&m, "y");
  int64_t idx[3][8], cnt[3], yd[3], *pick[3];
  const int src[3] = {0, 1, 2};
  for (int d = 0; d < 3; d++) {
    cnt[d] = xd[d];
    for (int i = 0; i < xd[d]; i++) idx[d][i] = i;
  }
  for (int i = 0; i < n; i++) {
    int a = (int)(axes ? (axes[i] < 0 ? axes[i] + 3 : axes[i]) : i);
    int64_t dim = xd[a], step = steps ? steps[i] : 1;
    int64_t b = starts[i] < 0 ? starts[i] + dim : starts[i],
            e = ends[i] < 0 ? ends[i] + dim : ends[i];
    if (step > 0) {
      b = b < 0 ? 0 : b > dim ? dim : b;
      e = e < 0 ? 0 : e > dim ? dim : e;
    } else {
      b = b < 0 ? 0 : b > dim - 1 ? dim - 1 : b;
      e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
    }
    cnt[a] = 0;
    for (int64_t k = b; step > 0 ? k < e : k > e; k += step) idx[a][cnt[a]++] = k;
  }
  size_t total = 1;
  for (int d = 0; d < 3; d++) total *= (size_t)(yd[d] = cnt[d]), pick[d] = idx[d];
  float *x = rnd(60, -1, 1, 72);
  double *want = dbl(total);
  ref_pick(xd, 3, pick, cnt, src, x, want);
  expect1(&m, (const float *[]){x}, yd, 3, want, "slice");
  free(x), free(want);
}

/* Gather from x [3,4] along axis with indices of shape id (nd 0: a scalar index). */
static void gather_one(int axis, const int64_t *id, int ind, const int64_t *indices) {
  mb m;
  mb_init(&m, 13);
  mb_input(&m, "x", D(3, 4));
  mb_const_i(&m, "i", id, ind, indices);
  char attrs[32];
  snprintf(attrs, sizeof attrs, "axis=%d", axis);
  mb_node(&m, "Gather", "x,i", "y", attrs);
  mb_output(&m, "y");
  int64_t ni = 1, yd[4];
  for (int d = 0; d < ind; d++) ni *= id[d];
  int a = axis < 0 ? axis + 2 : axis, ynd = 0;
  const int64_t xd[2] = {3, 4};
  for (int d = 0; d < a; d++) yd[ynd++] = xd[d];
  for (int d = 0; d < ind; d++) yd[ynd++] = id[d];
  for (int d = a + 1; d < 2; d++) yd[ynd++] = xd[d];
  float *x = rnd(12, -1, 1, 73);
  double want[64];
  int64_t outer = a == 0 ? 1 : 3, inner = a == 0 ? 4 : 1;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < ni; i++)
      for (int64_t j = 0; j < inner; j++) {
        int64_t k = indices[i] < 0 ? indices[i] + xd[a] : indices[i];
        want[(o * ni + i) * inner + j] = x[(o * xd[a] + k) * inner + j];
      }
  expect1(&m, (const float *[]){x}, yd, ynd, want, "gather");
  free(x);
}

/* Concat of float tensors along axis (inputs and constants mixed), and of int64 constants. */
static void concat_one(int axis) {
  mb m;
  mb_init(&m, 11);
  int a = axis < 0 ? axis + 3 : axis;
  int64_t d0[3] = {2, 3, 4}, d1[3] = {2, 3, 4}, d2[3] = {2, 3, 4};
  d1[a] = 1, d2[a] = 3;
  mb_input(&m, "a", d0, 3);
  float *x0 = rnd(24, -1, 1, 74), *x1 = rnd(12, -1, 1, 75), *x2 = rnd(36, -1, 1, 76);
  mb_const_f(&m, "b", d1, 3, x1);
  mb_input(&m, "c", d2, 3);
  char attrs[32];
  snprintf(attrs, sizeof attrs, "axis=%d", axis);
  mb_node(&m, "Concat", "a,b,c", "y", attrs);
  mb_output(&m, "y");
  int64_t yd[3] = {2, 3, 4};
  yd[a] = d0[a] + d1[a] + d2[a];
  double want[96];
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < a; d++) outer *= yd[d];
  for (int d = a + 1; d < 3; d++) inner *= yd[d];
  const float *src[3] = {x0, x1, x2};
  const int64_t len[3] = {d0[a], d1[a], d2[a]};
  for (int64_t o = 0, k = 0; o < outer; o++)
    for (int p = 0; p < 3; p++)
      for (int64_t i = 0; i < len[p] * inner; i++) want[k++] = src[p][o * len[p] * inner + i];
  expect1(&m, (const float *[]){x0, x2}, yd, 3, want, "concat");
  free(x0), free(x1), free(x2);
}

static void concat_int64(void) {
  mb m;
  mb_init(&m, 11);
  mb_input(&m, "x", D(1));
  mb_const_i(&m, "a", D(2), I(1, 2));
  mb_const_i(&m, "b", D(1), I(-3));
  mb_const_i(&m, "c", D(3), I(4, INT64_MAX, 6));
  mb_node(&m, "Concat", "a,b,c", "y", "axis=-1");
  mb_output(&m, "y");
  sess s;
  CHECK_MSG(sess_open(&s, &m, NULL, 1, (const float *[]){F(0)}), "%s", s.err);
  if (s.at == DONE) check_out_i64(&s, 0, I(1, 2, -3, 4, INT64_MAX, 6), 6, "concat int64");
  sess_close(&s);
}

/* Unsqueeze/Squeeze: attribute form (opset 11) and input form (opset 13) on x [3,4]. */
static void squeeze_forms(int opset) {
  mb m;
  mb_init(&m, opset);
  mb_input(&m, "x", D(3, 4));
  mb_node(&m, "Relu", "x", "r", "");
  if (opset < 13) {
    mb_node(&m, "Unsqueeze", "r", "u", "axes=0,-1"); /* [1,3,4,1] */
    mb_node(&m, "Squeeze", "u", "s1", "axes=3");     /* [1,3,4] */
    mb_node(&m, "Unsqueeze", "s1", "u2", "axes=2");  /* [1,3,1,4] */
    mb_node(&m, "Squeeze", "u2", "y", "");           /* [3,4]: every 1 dropped */
  } else {
    mb_const_i(&m, "a1", D(2), I(0, -1));
    mb_const_i(&m, "a2", D(1), I(-1));
    mb_const_i(&m, "a3", D(1), I(2));
    mb_node(&m, "Unsqueeze", "r,a1", "u", "");
    mb_node(&m, "Squeeze", "u,a2", "s1", "");
    mb_node(&m, "Unsqueeze", "s1,a3", "u2", "");
    mb_node(&m, "Squeeze", "u2", "y", "");
  }
  mb_output(&m, "y");
  mb_output(&m, "u");
  mb_output(&m, "s1");
  mb_output(&m, "u2");
  float *x = rnd(12, -1, 1, 77);
  double want[12];
  for (int i = 0; i < 12; i++) want[i] = fmax(x[i], 0);
  sess s;
  CHECK_MSG(sess_open(&s, &m, NULL, 1, (const float *[]){x}), "%s", s.err);
  if (s.at == DONE) {
    check_out(&s, 0, D(3, 4), want, "squeeze all");
    check_out(&s, 1, D(1, 3, 4, 1), want, "unsqueeze 0,-1");
    check_out(&s, 2, D(1, 3, 4), want, "squeeze -1");
    check_out(&s, 3, D(1, 3, 1, 4), want, "unsqueeze 2");
  }
  sess_close(&s);
  free(x);
}

/* Shape of a graph input, as int64. */
static void shape_op(void) {
  mb m;
  mb_init(&m, 13);
  mb_input(&m, "x", D(2, 3, 4, 5));
  mb_node(&m, "Shape", "x", "y", "");
  mb_output(&m, "y");
  float *x = rnd(120, -1, 1, 78);
  sess s;
  CHECK_MSG(sess_open(&s, &m, NULL, 1, (const float *[]){x}), "%s", s.err);
  if (s.at == DONE) check_out_i64(&s, 0, I(2, 3, 4, 5), 4, "shape");
  sess_close(&s);
  free(x);
}

/* Shape -> Gather -> Unsqueeze -> Concat -> Reshape, as exporters write a flatten of a
 * [1,3,H,W] input to [1,3,H*W]: folded at plan time to one Reshape, for two sizes. */
static void shape_chain(void) {
  mb m;
  mb_init(&m, 11);
  mb_input(&m, "x", D(1, 3, -1, -1));
  mb_const_i(&m, "i2", NULL, 0, I(2));
  mb_const_i(&m, "i3", NULL, 0, I(3));
  mb_const_i(&m, "head", D(2), I(1, 3));
  mb_node(&m, "Relu", "x", "r", "");
  mb_node(&m, "Shape", "r", "s", "");
  mb_node(&m, "Gather", "s,i2", "h", "axis=0");
  mb_node(&m, "Gather", "s,i3", "w", "axis=0");
  mb_node(&m, "Mul", "h,w", "hw", "");
  mb_node(&m, "Unsqueeze", "hw", "hw1", "axes=0");
  mb_node(&m, "Concat", "head,hw1", "shape", "axis=0");
  mb_node(&m, "Reshape", "r,shape", "y", "");
  mb_output(&m, "y");
  float *x = rnd(3 * 7 * 9, -1, 1, 79);
  double want[189];
  for (int i = 0; i < 189; i++) want[i] = fmax(x[i], 0);
  int64_t sizes[2][2] = {{5, 6}, {7, 9}};
  sess s;
  for (int t = 0; t < 2; t++) {
    m.dims[0][2] = sizes[t][0], m.dims[0][3] = sizes[t][1];
    int ok = t == 0 ? sess_open_keep(&s, &m, NULL, 1, (const float *[]){x}, 1)
                    : sess_replan(&s, &m, NULL, 1, (const float *[]){x});
    CHECK_MSG(ok, "%s", s.err);
    if (!ok) break;
    check_out(&s, 0, D(1, 3, sizes[t][0] * sizes[t][1]), want, "shape chain");
    CHECK_MSG(s.plan->nsteps == 2, "%d steps after folding (want Relu, Reshape)", s.plan->nsteps);
  }
  sess_close(&s);
  mb_free(&m);
  free(x);
}

static void test_layout(void) {
  RUN_AS("reshape [0,-1]", view_one(13, "Reshape", "", I(0, -1), 2, D(2, 12), "reshape 0,-1"));
  RUN_AS("reshape [-1,6]", view_one(13, "Reshape", "", I(-1, 6), 2, D(4, 6), "reshape -1,6"));
  RUN_AS("reshape [4,0,2]",
         view_one(13, "Reshape", "", I(4, 0, 2), 3, D(4, 3, 2), "reshape 4,0,2"));
  RUN_AS("reshape [24]", view_one(13, "Reshape", "", I(24), 1, D(24), "reshape 24"));
  RUN_AS("flatten axis 1", view_one(11, "Flatten", "axis=1", NULL, 0, D(2, 12), "flatten 1"));
  RUN_AS("flatten axis 0", view_one(11, "Flatten", "axis=0", NULL, 0, D(1, 24), "flatten 0"));
  RUN_AS("flatten default axis", view_one(11, "Flatten", "", NULL, 0, D(2, 12), "flatten"));
  RUN_AS("flatten axis -1", view_one(11, "Flatten", "axis=-1", NULL, 0, D(6, 4), "flatten -1"));
  RUN_AS("flatten axis 3 (rank)",
         view_one(11, "Flatten", "axis=3", NULL, 0, D(24, 1), "flatten 3"));
  RUN_AS("identity view", view_one(11, "Identity", "", NULL, 0, D(2, 3, 4), "identity"));
  RUN_AS("transpose [0,2,3,1]", transpose_one(D(1, 2, 3, 4), I(0, 2, 3, 1)));
  RUN_AS("transpose [2,0,1]", transpose_one(D(2, 3, 4), I(2, 0, 1)));
  RUN_AS("transpose default (reverse)", transpose_one(D(2, 3, 4), NULL));
  RUN_AS("transpose 2-D", transpose_one(D(5, 7), I(1, 0)));
  RUN_AS("concat axis 0", concat_one(0));
  RUN_AS("concat axis 1", concat_one(1));
  RUN_AS("concat axis -1", concat_one(-1));
  RUN_AS("concat int64", concat_int64());
  const int64_t big = INT64_MAX, small = INT64_MIN;
  RUN_AS("slice opset 9 attributes",
         slice_one(2, I(0, 1), I(2, 1000), I(0, 2), NULL, "starts=0,1 ends=2,1000 axes=0,2"));
  RUN_AS("slice opset 9 no axes",
         slice_one(2, I(1, -3), I(3, -1), NULL, NULL, "starts=1,-3 ends=3,-1"));
  RUN_AS("slice start 1, end INT64_MAX", slice_one(1, I(1), I(big), I(2), NULL, NULL));
  RUN_AS("slice negative starts/ends", slice_one(2, I(-3, 0), I(-1, 4), I(1, 2), NULL, NULL));
  RUN_AS("slice no axes", slice_one(2, I(0, 1), I(2, 3), NULL, NULL, NULL));
  RUN_AS("slice step 2", slice_one(2, I(0, 1), I(big, 5), I(1, 2), I(2, 2), NULL));
  RUN_AS("slice step -1 full reverse", slice_one(1, I(-1), I(small), I(0), I(-1), NULL));
  RUN_AS("slice step -2 axis -1", slice_one(1, I(4), I(0), I(-1), I(-2), NULL));
  RUN_AS("slice step -1 clamped start", slice_one(1, I(100), I(1), I(1), I(-1), NULL));
  RUN_AS("slice steps without axes", slice_one(2, I(2, 3), I(-big, -big), NULL, I(-1, -2), NULL));
  RUN_AS("slice empty", slice_one(1, I(3), I(1), I(2), NULL, NULL));
  RUN_AS("gather axis 0", gather_one(0, D(2), I(2, 0)));
  RUN_AS("gather axis 1 2-D indices", gather_one(1, D(2, 2), I(1, 3, -4, 0)));
  RUN_AS("gather negative indices", gather_one(0, D(3), I(-1, -3, 1)));
  RUN_AS("gather scalar index axis 1", gather_one(1, NULL, 0, I(-2)));
  RUN_AS("gather scalar index axis -2", gather_one(-2, NULL, 0, I(1)));
  RUN_AS("unsqueeze/squeeze attributes (opset 11)", squeeze_forms(11));
  RUN_AS("unsqueeze/squeeze inputs (opset 13)", squeeze_forms(13));
  RUN_AS("shape", shape_op());
  RUN_AS("shape->gather->unsqueeze->concat->reshape folded", shape_chain());
}

/* ---------------------------------------------------------------------------------------------
 * Planning: intermediate outputs, pruning, errors naming the node, thread invariance.
 * ------------------------------------------------------------------------------------------- */
static void plan_intermediate(void) {
  mb m;
  mb_init(&m, 11);
  mb_input(&m, "x", D(2, 5));
  mb_node(&m, "Relu", "x", "a", "");
  mb_node(&m, "Sigmoid", "a", "b", "");
  mb_node(&m, "Exp", "b", "c", "");
  mb_output(&m, "c");
  float *x = rnd(10, -2, 2, 80);
  double a[10], b[10];
  for (int i = 0; i < 10; i++) a[i] = fmax(x[i], 0), b[i] = 1 / (1 + exp(-a[i]));
  sess s;
  CHECK_MSG(sess_open(&s, &m, "b,a", 1, (const float *[]){x}), "%s", s.err);
  if (s.at == DONE) {
    CHECK(mien_plan_output_count(s.plan) == 2);
    CHECK_MSG(s.plan->nsteps == 2, "%d steps: Exp should be pruned", s.plan->nsteps);
    check_out(&s, 0, D(2, 5), b, "intermediate b");
    check_out(&s, 1, D(2, 5), a, "intermediate a");
  }
  sess_close(&s);
  free(x);
}

/* A branch that would fail at plan time is never inferred when its result is not wanted. */
static void plan_prunes_unused_branch(void) {
  for (int want_bad = 0; want_bad < 2; want_bad++) {
    mb m;
    mb_init(&m, 13);
    mb_input(&m, "x", D(2, 3));
    mb_const_i(&m, "bad", D(2), I(4, -1));
    mb_node(&m, "Relu", "x", "y", "");
    mb_node(&m, "Reshape", "x,bad", "z", "");
    mb_output(&m, "y");
    if (want_bad) {
      expect_fail(&m, "z", AT_PLAN, "unused branch asked for", 2, "n_z", "Reshape");
    } else {
      double want[6];
      float *x = rnd(6, -1, 1, 81);
      for (int i = 0; i < 6; i++) want[i] = fmax(x[i], 0);
      expect1(&m, (const float *[]){x}, D(2, 3), want, "unused branch pruned");
      free(x);
    }
  }
}

/* Each malformed model fails at the right stage with a message naming the node and op. */
typedef enum { E_LSTM, E_CHANNELS, E_KERNEL, E_RESHAPE, E_UNKNOWN_OUT, E_UNDEFINED_IN } err_case;

static void plan_error(err_case e) {
  mb m;
  mb_init(&m, 13);
  conv_params p = {NULL, NULL};
  const conv_case chans = {"chans", 3, 8, 8, 5, 3, 3, 1, 1, 1, 1, 1, 1, {1, 1, 1, 1}, NULL};
  const conv_case big = {"big", 3, 3, 3, 2, 4, 4, 2, 2, 1, 1, 1, 0, {0}, NULL};
  switch (e) {
  case E_LSTM:
    mb_input(&m, "x", D(1, 4));
    mb_node(&m, "LSTM", "x", "y", "");
    mb_output(&m, "y");
    expect_fail(&m, NULL, AT_LOAD, "unsupported op", 2, "n_y", "LSTM");
    break;
  case E_CHANNELS: /* weights for 3 input channels, input has 4 */
    mb_input(&m, "x", D(1, 4, 8, 8));
    p = add_conv(&m, &chans, "x", "y", 90);
    mb_output(&m, "y");
    expect_fail(&m, NULL, AT_PLAN, "conv channel mismatch", 3, "n_y", "Conv", "channels");
    break;
  case E_KERNEL: /* 4x4 stride 2 on 3x3: floor((3 - 4) / 2) + 1 = 0 outputs */
    mb_input(&m, "x", D(1, 3, 3, 3));
    p = add_conv(&m, &big, "x", "y", 91);
    mb_output(&m, "y");
    expect_fail(&m, NULL, AT_PLAN, "conv kernel larger than input", 2, "n_y", "Conv");
    break;
  case E_RESHAPE:
    mb_input(&m, "x", D(2, 3, 4));
    mb_const_i(&m, "shape", D(2), I(5, -1));
    mb_node(&m, "Reshape", "x,shape", "y", "");
    mb_output(&m, "y");
    expect_fail(&m, NULL, AT_PLAN, "impossible reshape", 2, "n_y", "Reshape");
    break;
  case E_UNKNOWN_OUT:
    mb_input(&m, "x", D(2, 3));
    mb_node(&m, "Relu", "x", "y", "");
    mb_output(&m, "y");
    expect_fail(&m, "nonexistent", AT_PLAN, "unknown tensor asked for", 1, "nonexistent");
    break;
  case E_UNDEFINED_IN:
    mb_input(&m, "x", D(2, 3));
    mb_node(&m, "Relu", "q", "y", "");
    mb_output(&m, "y");
    expect_fail(&m, NULL, AT_LOAD, "undefined input", 2, "n_y", "'q'");
    break;
  }
  free(p.w), free(p.b);
}

/* A small detector-like net on an input declared [1,3,H,W], planned for two sizes and run
 * with 1 and 2 threads: results must be identical. */
static void plan_threads(void) {
  const conv_case c1 = {"c1", 3, 37, 41, 16, 3, 3, 1, 1, 1, 1, 1, 1, {1, 1, 1, 1}, NULL};
  const conv_case c2 = {"c2", 16, 37, 41, 16, 3, 3, 2, 2, 1, 1, 16, 1, {1, 1, 1, 1}, NULL};
  const conv_case c3 = {"c3", 16, 19, 21, 8, 1, 1, 1, 1, 1, 1, 1, 1, {0}, NULL};
  mb m;
  mb_init(&m, 11);
  mb_input(&m, "x", D(1, 3, -37, -41));
  conv_params p1 = add_conv(&m, &c1, "x", "a", 92);
  mb_node(&m, "Relu", "a", "ar", "");
  conv_params p2 = add_conv(&m, &c2, "ar", "b", 93);
  mb_node(&m, "Relu", "b", "br", "");
  conv_params p3 = add_conv(&m, &c3, "br", "y", 94);
  mb_output(&m, "y");
  float *x = rnd(3 * 37 * 41, -1, 1, 95);
  size_t n = 8 * 19 * 21;
  float *y1 = malloc(n * sizeof *y1);
  sess s;
  for (int threads = 1; threads <= 2; threads++) {
    int ok = sess_open_keep(&s, &m, NULL, threads, (const float *[]){x}, 1);
    CHECK_MSG(ok, "%s", s.err);
    if (ok) check_out_tol(&s, 0, D(1, 8, 19, 21), NULL, "threads", 0);
    if (ok && threads == 1) memcpy(y1, mien_workspace_output(s.ws, 0), n * sizeof *y1);
    if (ok && threads == 2) {
      const float *y2 = mien_workspace_output(s.ws, 0);
      size_t diff = 0;
      for (size_t i = 0; i < n; i++) diff += y1[i] != y2[i];
      CHECK_MSG(diff == 0, "%zu of %zu values differ between 1 and 2 threads", diff, n);
    }
    /* the same net planned for another size */
    m.dims[0][2] = 20, m.dims[0][3] = 24;
    ok = ok && sess_replan(&s, &m, NULL, threads, (const float *[]){x});
    CHECK_MSG(ok, "replan: %s", s.err);
    if (ok) check_out_tol(&s, 0, D(1, 8, 10, 12), NULL, "replanned", 0);
    m.dims[0][2] = 37, m.dims[0][3] = 41;
    sess_close(&s);
  }
  mb_free(&m);
  free(x), free(y1), free(p1.w), free(p1.b), free(p2.w), free(p2.b), free(p3.w), free(p3.b);
}

static void test_planning(void) {
  RUN_AS("plan intermediate outputs", plan_intermediate());
  RUN_AS("plan prunes unused branch", plan_prunes_unused_branch());
  RUN_AS("error: unsupported op LSTM at load", plan_error(E_LSTM));
  RUN_AS("error: conv channel mismatch at plan", plan_error(E_CHANNELS));
  RUN_AS("error: conv kernel larger than input (stride 2)", plan_error(E_KERNEL));
  RUN_AS("error: impossible reshape at plan", plan_error(E_RESHAPE));
  RUN_AS("error: unknown output name", plan_error(E_UNKNOWN_OUT));
  RUN_AS("error: undefined node input at load", plan_error(E_UNDEFINED_IN));
  RUN_AS("1 and 2 threads identical, replanned sizes", plan_threads());
}

int main(void) {
  printf("kernels: %s\n", mien_isa());
  test_conv();
  test_fusions();
  test_elementwise();
  test_linear();
  test_spatial();
  test_layout();
  test_planning();
  return check_summary();
}
