/* onnx_load.c - ONNX protobuf bytes -> nn_graph.
 *
 * The protobuf decoding itself is protobuf-c's, generated at build time from Debian's
 * onnx.proto; this file only validates and translates: every tensor's size is checked against
 * its declared dims, every node input must name a known value, every attribute we read is
 * range-checked. Models come from users, so a corrupt file must end in a message naming the
 * node and op, never in a crash. Constant nodes and initializers become constant values;
 * int32/double constants are widened/narrowed to the two types ops handle (int64, float32).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"
#include "onnx.pb-c.h"

int nn_errf(char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

int nn_node_errf(const nn_node *n, char *err, size_t errlen, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return nn_errf(err, errlen, "node '%s' (%s): %s", n->name ? n->name : "?",
                 n->op_type ? n->op_type : "?", msg);
}

int64_t nn_numel(const nn_shape *s) {
  int64_t n = 1;
  for (int i = 0; i < s->ndim; i++) {
    /* -1 for shapes whose size overflows: planning refuses negative sizes */
    if (s->d[i] < 0 || (s->d[i] > 0 && n > INT64_MAX / s->d[i])) return -1;
    n *= s->d[i];
  }
  return n;
}

size_t nn_dtype_size(nn_dtype t) {
  return t == NN_I64 ? 8 : 4;
}

int nn_graph_find_value(const nn_graph *g, const char *name) {
  for (int i = g->nvalues - 1; i >= 0; i--)
    if (strcmp(g->values[i].name, name) == 0) return i;
  return -1;
}

static int add_value(nn_graph *g, const char *name) {
  if (g->nvalues == g->cap_values) {
    int cap = g->cap_values ? 2 * g->cap_values : 256;
    nn_value *v = realloc(g->values, (size_t)cap * sizeof *v);
    if (!v) return -1;
    g->values = v;
    g->cap_values = cap;
  }
  nn_value *v = &g->values[g->nvalues];
  memset(v, 0, sizeof *v);
  v->name = strdup(name);
  if (!v->name) return -1;
  return g->nvalues++;
}

/* Largest tensor we accept from a model file: 1 G elements keeps every size_t product safe. */
#define MAX_CONST_ELEMS (1LL << 30)

static int load_tensor(const Onnx__TensorProto *tp, nn_tensor *t, char *err, size_t errlen) {
  const char *name = tp->name ? tp->name : "?";
  if (tp->n_dims > NN_MAX_DIMS)
    return nn_errf(err, errlen, "tensor '%s': %zu dims (at most %d)", name, tp->n_dims,
                   NN_MAX_DIMS);
  t->s.ndim = (int)tp->n_dims;
  int64_t n = 1;
  for (size_t i = 0; i < tp->n_dims; i++) {
    if (tp->dims[i] < 0 || tp->dims[i] > MAX_CONST_ELEMS)
      return nn_errf(err, errlen, "tensor '%s': bad dimension %lld", name, (long long)tp->dims[i]);
    t->s.d[i] = tp->dims[i];
    n *= tp->dims[i];
    if (n > MAX_CONST_ELEMS) return nn_errf(err, errlen, "tensor '%s' is too large", name);
  }
  if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
    return nn_errf(err, errlen, "tensor '%s': external data is not supported", name);
  int dt = tp->data_type;
  int is_float =
      dt == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT || dt == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE;
  int is_int =
      dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT64 || dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT32;
  if (!is_float && !is_int)
    return nn_errf(err, errlen, "tensor '%s': data type %d is not supported", name, dt);
  t->type = is_float ? NN_F32 : NN_I64;
  size_t raw_elem =
      dt == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT || dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT32 ? 4
                                                                                               : 8;
  size_t have = dt == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT    ? tp->n_float_data
                : dt == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE ? tp->n_double_data
                : dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT64  ? tp->n_int64_data
                                                              : tp->n_int32_data;
  /* The data must match the dims before anything is allocated: dims alone may claim gigabytes. */
  if (tp->has_raw_data && tp->raw_data.len != (size_t)n * raw_elem)
    return nn_errf(err, errlen, "tensor '%s': %zu bytes of data for %lld elements", name,
                   tp->raw_data.len, (long long)n);
  if (!tp->has_raw_data && have != (size_t)n)
    return nn_errf(err, errlen, "tensor '%s': %zu values for %lld elements", name, have,
                   (long long)n);
  t->data = calloc((size_t)(n ? n : 1), nn_dtype_size(t->type));
  if (!t->data) return nn_errf(err, errlen, "out of memory for tensor '%s'", name);
  float *f = t->data;
  int64_t *q = t->data;
  if (tp->has_raw_data) {
    const uint8_t *r = tp->raw_data.data;
    for (int64_t i = 0; i < n; i++) {
      const uint8_t *p = r + i * raw_elem; /* ONNX raw data is little-endian, as is x86 */
      if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
        memcpy(&f[i], p, 4);
      else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE) {
        double d;
        memcpy(&d, p, 8);
        f[i] = (float)d;
      } else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT64)
        memcpy(&q[i], p, 8);
      else {
        int32_t v;
        memcpy(&v, p, 4);
        q[i] = v;
      }
    }
    return 0;
  }
  for (int64_t i = 0; i < n; i++) {
    if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
      f[i] = tp->float_data[i];
    else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE)
      f[i] = (float)tp->double_data[i];
    else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT64)
      q[i] = tp->int64_data[i];
    else
      q[i] = tp->int32_data[i];
  }
  return 0;
}

/* Copies an INTS attribute into dst (at most max), returns the count or -1 if too many. */
static int get_ints(const Onnx__AttributeProto *at, int64_t *dst, int max) {
  if (at->n_ints > (size_t)max) return -1;
  for (size_t i = 0; i < at->n_ints; i++) dst[i] = at->ints[i];
  return (int)at->n_ints;
}

static int str_is(const Onnx__AttributeProto *at, const char *s) {
  return at->s.len == strlen(s) && memcmp(at->s.data, s, at->s.len) == 0;
}

static int parse_attrs(nn_node *n, const Onnx__NodeProto *np, int opset, char *err, size_t errlen) {
  nn_attrs *a = &n->a;
  a->strides[0] = a->strides[1] = a->dilations[0] = a->dilations[1] = a->group = 1;
  a->alpha = a->beta = 1.0f;
  a->epsilon = 1e-5f;
  /* Softmax's default axis and meaning changed in opset 13 (see ops_math.c). */
  a->softmax_legacy = opset < 13;
  a->axis = n->op == OP_SOFTMAX ? (opset < 13 ? 1 : -1) : n->op == OP_FLATTEN ? 1 : 0;
  a->resize_nearest_floor = 0; /* ONNX default nearest_mode is round_prefer_floor */
  /* Resize-11+ defaults coordinate_transformation_mode to half_pixel; Resize-10 is asymmetric */
  a->resize_half_pixel = n->op == OP_RESIZE && opset >= 11;
  int got;
  for (size_t i = 0; i < np->n_attribute; i++) {
    const Onnx__AttributeProto *at = np->attribute[i];
    const char *k = at->name ? at->name : "";
    int bad = 0;
    if (!strcmp(k, "kernel_shape"))
      bad = (got = get_ints(at, a->kernel, 2)) != 2;
    else if (!strcmp(k, "strides"))
      bad = (got = get_ints(at, a->strides, 2)) != 2;
    else if (!strcmp(k, "dilations"))
      bad = (got = get_ints(at, a->dilations, 2)) != 2;
    else if (!strcmp(k, "pads"))
      bad = (got = get_ints(at, a->pads, 4)) != 4;
    else if (!strcmp(k, "group"))
      a->group = at->i;
    else if (!strcmp(k, "axis"))
      a->axis = at->i;
    else if (!strcmp(k, "perm"))
      bad = (a->nperm = get_ints(at, a->perm, NN_MAX_DIMS)) < 0;
    else if (!strcmp(k, "axes"))
      bad = (a->naxes = get_ints(at, a->axes, NN_MAX_DIMS)) < 0;
    else if (!strcmp(k, "starts"))
      bad = (a->nstarts = get_ints(at, a->starts, NN_MAX_DIMS)) < 0;
    else if (!strcmp(k, "ends"))
      bad = get_ints(at, a->ends, NN_MAX_DIMS) < 0;
    else if (!strcmp(k, "transA"))
      a->trans_a = at->i;
    else if (!strcmp(k, "transB"))
      a->trans_b = at->i;
    else if (!strcmp(k, "ceil_mode"))
      a->ceil_mode = at->i;
    else if (!strcmp(k, "alpha"))
      a->alpha = at->f;
    else if (!strcmp(k, "beta"))
      a->beta = at->f;
    else if (!strcmp(k, "epsilon"))
      a->epsilon = at->f;
    else if (!strcmp(k, "auto_pad"))
      a->auto_pad_same = str_is(at, "SAME_UPPER")   ? 1
                         : str_is(at, "SAME_LOWER") ? 2
                                                    : 0,
      bad = !(a->auto_pad_same || str_is(at, "NOTSET") || str_is(at, "VALID"));
    else if (!strcmp(k, "mode"))
      a->resize_linear = str_is(at, "linear") || str_is(at, "bilinear"),
      bad = n->op == OP_RESIZE && !a->resize_linear && !str_is(at, "nearest");
    else if (!strcmp(k, "coordinate_transformation_mode")) {
      a->resize_align_corners = str_is(at, "align_corners");
      a->resize_half_pixel = str_is(at, "half_pixel") || str_is(at, "pytorch_half_pixel");
      bad = !(a->resize_align_corners || a->resize_half_pixel || str_is(at, "asymmetric"));
    } else if (!strcmp(k, "nearest_mode")) {
      a->resize_nearest_floor = str_is(at, "floor");
      bad = !(a->resize_nearest_floor || str_is(at, "round_prefer_floor"));
    }
    if (bad) return nn_node_errf(n, err, errlen, "unsupported value of attribute '%s'", k);
  }
  if (n->op == OP_CONV || n->op == OP_MAXPOOL) {
    for (int i = 0; i < 2; i++)
      if (a->strides[i] < 1 || a->strides[i] > 64 || a->dilations[i] < 1 || a->dilations[i] > 64 ||
          a->kernel[i] < 0 || a->kernel[i] > 64)
        return nn_node_errf(n, err, errlen, "kernel, stride or dilation out of range");
    for (int i = 0; i < 4; i++)
      if (a->pads[i] < 0 || a->pads[i] > 64)
        return nn_node_errf(n, err, errlen, "padding out of range");
  }
  return 0;
}

mien_status nn_graph_load(nn_graph *g, const void *data, size_t len, char *err, size_t errlen) {
  memset(g, 0, sizeof *g);
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, data);
  if (!m) {
    nn_errf(
        err, errlen,
        "not a valid ONNX model: the protobuf could not be parsed (truncated or corrupt file?)");
    return MIEN_ERR_MODEL;
  }
  mien_status st = MIEN_ERR_MODEL;
  const Onnx__GraphProto *gp = m->graph;
  if (!gp) {
    nn_errf(err, errlen, "ONNX model has no graph");
    goto out;
  }
  g->opset = 0;
  for (size_t i = 0; i < m->n_opset_import; i++)
    if (!m->opset_import[i]->domain || !m->opset_import[i]->domain[0])
      g->opset = (int)m->opset_import[i]->version;
  for (size_t i = 0; i < gp->n_initializer; i++) {
    const Onnx__TensorProto *tp = gp->initializer[i];
    int v = add_value(g, tp->name ? tp->name : "");
    if (v < 0) goto oom;
    g->values[v].is_const = 1;
    if (load_tensor(tp, &g->values[v].t, err, errlen)) goto out;
  }
  for (size_t i = 0; i < gp->n_input; i++) {
    const Onnx__ValueInfoProto *vi = gp->input[i];
    if (!vi->name || nn_graph_find_value(g, vi->name) >= 0)
      continue; /* initializer listed as input */
    if (g->ninputs == NN_MAX_IO) {
      nn_errf(err, errlen, "model has more than %d inputs", NN_MAX_IO);
      goto out;
    }
    int v = add_value(g, vi->name);
    if (v < 0) goto oom;
    nn_value *val = &g->values[v];
    val->t.type = NN_F32;
    const Onnx__TypeProto *tp = vi->type;
    if (tp && tp->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE && tp->tensor_type->shape) {
      const Onnx__TensorShapeProto *sh = tp->tensor_type->shape;
      if (sh->n_dim > NN_MAX_DIMS) {
        nn_errf(err, errlen, "input '%s' has too many dims", vi->name);
        goto out;
      }
      val->declared_ndim = (int)sh->n_dim;
      for (size_t d = 0; d < sh->n_dim; d++)
        val->declared[d] =
            sh->dim[d]->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE
                ? sh->dim[d]->dim_value
                : -1;
    }
    g->inputs[g->ninputs++] = v;
  }
  for (size_t i = 0; i < gp->n_node; i++) {
    const Onnx__NodeProto *np = gp->node[i];
    const char *op_type = np->op_type ? np->op_type : "";
    if (np->domain && np->domain[0] && strcmp(np->domain, "ai.onnx")) {
      nn_errf(err, errlen, "node '%s' (%s): operator domain '%s' is not supported",
              np->name ? np->name : "?", op_type, np->domain);
      goto out;
    }
    if (!strcmp(op_type, "Constant")) {
      if (np->n_output != 1 || np->n_attribute != 1 || !np->attribute[0]->t) {
        nn_errf(err, errlen, "node '%s' (Constant): only a tensor 'value' is supported",
                np->name ? np->name : "?");
        goto out;
      }
      int v = add_value(g, np->output[0]);
      if (v < 0) goto oom;
      g->values[v].is_const = 1;
      if (load_tensor(np->attribute[0]->t, &g->values[v].t, err, errlen)) goto out;
      continue;
    }
    if (g->nnodes == g->cap_nodes) {
      int cap = g->cap_nodes ? 2 * g->cap_nodes : 128;
      nn_node *nn = realloc(g->nodes, (size_t)cap * sizeof *nn);
      if (!nn) goto oom;
      g->nodes = nn;
      g->cap_nodes = cap;
    }
    nn_node *n = &g->nodes[g->nnodes++];
    memset(n, 0, sizeof *n);
    n->residual = -1;
    n->name = strdup(np->name && np->name[0] ? np->name : np->n_output ? np->output[0] : "?");
    n->op_type = strdup(op_type);
    if (!n->name || !n->op_type) goto oom;
    if (nn_op_from_name(op_type, &n->op)) {
      nn_node_errf(n, err, errlen, "operator is not supported by mien");
      goto out;
    }
    if (np->n_input > NN_MAX_IO || np->n_output > NN_MAX_IO || np->n_output < 1) {
      nn_node_errf(n, err, errlen, "unsupported number of inputs or outputs");
      goto out;
    }
    n->nin = (int)np->n_input;
    for (size_t j = 0; j < np->n_input; j++) {
      if (!np->input[j][0]) {
        n->in[j] = -1;
        continue;
      }
      n->in[j] = nn_graph_find_value(g, np->input[j]);
      if (n->in[j] < 0) {
        nn_node_errf(n, err, errlen, "input '%s' is not produced by any earlier node",
                     np->input[j]);
        goto out;
      }
    }
    int lo, hi;
    if (nn_op_check_inputs(n->op, n->nin, n->in, &lo, &hi)) {
      nn_node_errf(n, err, errlen, "has %d inputs; %s takes %d to %d, the first %d given", n->nin,
                   op_type, lo, hi, lo);
      goto out;
    }
    n->nout = (int)np->n_output;
    for (size_t j = 0; j < np->n_output; j++) {
      int v = add_value(g, np->output[j]);
      if (v < 0) goto oom;
      n->out[j] = v;
    }
    if (parse_attrs(n, np, g->opset, err, errlen)) goto out;
  }
  for (size_t i = 0; i < gp->n_output; i++) {
    int v = gp->output[i]->name ? nn_graph_find_value(g, gp->output[i]->name) : -1;
    if (v < 0 || g->noutputs == NN_MAX_IO) {
      nn_errf(err, errlen, "graph output '%s' is not produced by any node",
              gp->output[i]->name ? gp->output[i]->name : "?");
      goto out;
    }
    g->outputs[g->noutputs++] = v;
  }
  if (g->ninputs == 0) {
    nn_errf(err, errlen, "model has no inputs");
    goto out;
  }
  st = MIEN_OK;
  goto out;
oom:
  nn_errf(err, errlen, "out of memory while loading the model");
  st = MIEN_ERR_NOMEM;
out:
  onnx__model_proto__free_unpacked(m, NULL);
  if (st != MIEN_OK) nn_graph_free(g);
  return st;
}

void nn_graph_free(nn_graph *g) {
  for (int i = 0; i < g->nvalues; i++) {
    free(g->values[i].name);
    if (g->values[i].is_const) free(g->values[i].t.data);
  }
  for (int i = 0; i < g->nnodes; i++) {
    nn_node *n = &g->nodes[i];
    free(n->name);
    free(n->op_type);
    if (n->conv) {
      free(n->conv->weight);
      free(n->conv->bias);
      free(n->conv->slope);
      free(n->conv->packed);
      free(n->conv);
    }
  }
  free(g->values);
  free(g->nodes);
  memset(g, 0, sizeof *g);
}
