/* ops_layout.c - operators that move data without arithmetic: Reshape, Flatten, Unsqueeze,
 * Squeeze, Identity (views), Shape, Transpose, Concat, Slice, Gather.
 *
 * They work on any element type by size, so the same code serves float activations and the
 * int64 shape arithmetic that exporters emit (Shape -> Gather -> Unsqueeze -> Concat ->
 * Reshape). With static shapes the planner folds all of that at plan time; what is left at run
 * time is mostly transposes of detection heads. View ops share their input's memory in the
 * arena (the planner aliases them), so their run is a copy only when folding constants.
 */
#include <string.h>

#include "nn/ops.h"

int nn_axis(int64_t axis, int ndim) {
  if (axis < 0) axis += ndim;
  return axis >= 0 && axis < ndim ? (int)axis : -1;
}

/* Constant int64 input i of n as a list, or -1 with a message if it is not known at plan time. */
static int const_ints(const nn_node *n, nn_tensor **in, int i, int64_t *dst, int max, char *err,
                      size_t errlen) {
  if (i >= n->nin || n->in[i] < 0) return 0;
  if (!in[i]->data || in[i]->type != NN_I64)
    return nn_node_errf(n, err, errlen,
                        "input %d must be a constant int64 tensor (known at plan time)", i);
  int64_t cnt = nn_numel(&in[i]->s);
  if (cnt > max) return nn_node_errf(n, err, errlen, "input %d has too many values", i);
  memcpy(dst, in[i]->data, (size_t)cnt * sizeof *dst);
  return (int)cnt;
}

static void view_run(const nn_node *n, nn_tensor **in, nn_tensor **out, const nn_ctx *ctx) {
  (void)n, (void)ctx;
  if (out[0]->data != in[0]->data)
    memcpy(out[0]->data, in[0]->data, (size_t)nn_numel(&in[0]->s) * nn_dtype_size(in[0]->type));
}

static int reshape_infer(const nn_node *n, nn_tensor **in, nn_tensor **out, char *err,
                         size_t errlen) {
  int64_t sh[NN_MAX_DIMS];
  int cnt = const_ints(n, in, 1, sh, NN_MAX_DIMS, err, errlen);
  if (cnt < 0) return -1;
  int64_t known = 1, total = nn_numel(&in[0]->s);
  int infer_at = -1;
  for (int i = 0; i < cnt; i++) {
    if (sh[i] == 0 && i < in[0]->s.ndim) sh[i] = in[0]->s.d[i];
    if (sh[i] == -1 && infer_at < 0)
      infer_at = i;
    else if (sh[i] < 0 || (sh[i] > 0 && known > INT64_MAX / sh[i])) /* no overflow either */
      return nn_node_errf(n, err, errlen, "bad target shape");
    else
      known *= sh[i];
  }
  if (infer_at >= 0) sh[infer_at] = known ? total / known : 0;
  out[0]->s.ndim = cnt;
  memcpy(out[0]->s.d, sh, sizeof sh);
  if (nn_numel(&out[0]->s) != total)
    return nn_node_errf(n, err, errlen, "cannot reshape %lld elements to the target shape",
                        (long long)total);
  out[0]->type = in[0]->type;
  return 0;
}

static int flatten_infer(const nn_node *n, nn_tensor **in, nn_tensor **out, char *err,
                         size_t errlen) {
  const nn_shape *s = &in[0]->s;
  int axis = n->a.axis == s->ndim ? s->ndim : nn_axis(n->a.axis, s->ndim);
  if (axis < 0) return nn_node_errf(n, err, errlen, "axis out of range");
  int64_t outer = 1;
  for (int i = 0; i < axis; i++) outer *= s->d[i];
  out[0]->s = (nn_shape){2, {outer, outer ? nn_numel(s) / outer : 0}};
  out[0]->type = in[0]->type;
  return 0;
}

static int identity_infer(const nn_node *n, nn_tensor **in, nn_tensor **out, char *err,
                          size_t errlen) {
  (void)n, (void)err, (void)errlen;
  out[0]->s = in[0]->s;
  out[0]->type = in[0]->type;
  return 0;
}

/* Axes for Unsqueeze/Squeeze: the attribute before opset 13, the second input from 13. */
static int axes_of(const nn_node *n, nn_tensor **in, int64_t *axes, char *err, size_t errlen) {
  if (n->nin > 1) return const_ints(n, in, 1, axes, NN_MAX_DIMS, err, errlen);
  memcpy(axes, n->a.axes, sizeof n->a.axes);
  return (int)n->a.naxes;
}

static int unsqueeze_infer(const nn_node *n, nn_tensor **in, nn_tensor **out, char *err,
                           size_t errlen) {
  int64_t axes[NN_MAX_DIMS];
  int na = axes_of(n, in, axes, err, errlen);
  if (na < 0) return -1;
  int nd = in[0]->s.ndim + na;
  if (nd > NN_MAX_DIMS) return nn_node_errf(n, err, errlen, "too many dimensions");
  int is_new[NN_MAX_DIMS] = {0};
  for (int i = 0; i < na; i++) {
    int a = nn_axis(axes[i], nd);
    if (a < 0 || is_new[a]) return nn_node_errf(n, err, errlen, "bad axes");
    is_new[a] = 1;
  }
  out[0]->s.ndim = nd;
  for (int i = 0, j = 0; i < nd; i++) out[0]->s.d[i] = is_new[i] ? 1 : in[0]->s.d[j++];
  out[0]->type = in[0]->type;
  return 0;
}

static int squeeze_infer(const nn_node *n, nn_tensor **in, nn_tensor **out, char *err,
                         size_t errlen) {
  int64_t axes[NN_MAX_DIMS];
  int na = axes_of(n, in, axes, err, errlen);
  if (na < 0) return -1;
  const nn_shape *s = &in[0]->s;
  int drop[NN_MAX_DIMS] = {0};
  for (int i = 0; i < s->ndim; i++) drop[i] = na == 0 && s->d[i] == 1;
  for (int i = 0; i < na; i++) {
    int a = nn_axis(axes[i], s->ndim);
    if (a < 0 || s->d[a] != 1) return nn_node_errf(n, err, errlen, "bad axes");
    drop[a] = 1;
  }
  out[0]->s.ndim = 0;
  for (int i = 0; i < s->ndim; i++)
    if (!drop[i]) out[0]->s.d[out[0]->s.ndim++] = s->d[i];
  out[0]->type = in[0]->type;
  return 0;
}

static int shape_infer(const nn_node *n, nn_tensor **in, nn_tensor **out, char *err,
                       size_t errlen) {
  (void)n, (void)err, (void)errlen;
  out[0]->s = (nn_shape){1, {in[0]->s.ndim}};
  out[0]->type = NN_I64;
  return 0;
}

static void shape_run(const nn_node *n, nn_tensor **in, nn_tensor **out, const nn_ctx *ctx) {
  (void)n, (void)ctx;
  memcpy(out[0]->data, in[0]->s.d, (size_t)in[0]->s.ndim * sizeof(int64_t));
}

static int transpose_infer(const nn_node *n, nn_tensor **in, nn_tensor **out, char *err,
                           size_t errlen) {
  const nn_shape *s = &in[0]->s;
  if (n->a.nperm && n->a.nperm != s->ndim)
    return nn_node_errf(n, err, errlen, "perm has the wrong length");
  int seen[NN_MAX_DIMS] = {0};
  out[0]->s.ndim = s->ndim;
  for (int i = 0; i < s->ndim; i++) {
    int64_t p = n->a.nperm ? n->a.perm[i] : s->ndim - 1 - i;
    if (p < 0 || p >= s->ndim || seen[p]++) return nn_node_errf(n, err, errlen, "bad perm");
    out[0]->s.d[i] = s->d[p];
  }
  out[0]->type = in[0]->type;
  return 0;
}

/* Copies an N-d strided view: for every output index, the input offset is sum(idx * stride). */
static void strided_copy(const nn_shape *os, const int64_t *in_stride, int64_t in_offset,
                         const char *src, char *dst, size_t esz) {
  int nd = os->ndim;
  int64_t total = nn_numel(os), idx[NN_MAX_DIMS] = {0}, off = in_offset;
  if (total == 0) return;
  if (nd == 0) {
    memcpy(dst, src + off * esz, esz);
    return;
  }
  int64_t inner = os->d[nd - 1], is = in_stride[nd - 1];
  for (int64_t o = 0; o < total; o += inner) {
    if (esz == 4) {
      const float *s = (const float *)(src + off * 4);
      float *d = (float *)(dst + o * 4);
      for (int64_t j = 0; j < inner; j++) d[j] = s[j * is];
    } else {
      for (int64_t j = 0; j < inner; j++)
        memcpy(dst + (o + j) * esz, src + (off + j * is) * esz, esz);
    }
    for (int i = nd - 2; i >= 0; i--) {
      off += in_stride[i];
      if (++idx[i] < os->d[i]) break;
      off -= idx[i] * in_stride[i];
      idx[i] = 0;
    }
  }
}

static void dense_strides(const nn_shape *s, int64_t *st) {
  int64_t k = 1;
  for (int i = s->ndim - 1; i >= 0; i--) st[i] = k, k *= s->d[i];
}

static void transpose_run(const nn_node *n, nn_tensor **in, nn_tensor **out, const nn_ctx *ctx) {
  (void)ctx;
  const nn_shape *s = &in[0]->s;
  int64_t st[NN_MAX_DIMS], pst[NN_MAX_DIMS];
  dense_strides(s, st);
  for (int i = 0; i < s->ndim; i++) pst[i] = st[n->a.nperm ? n->a.perm[i] : s->ndim - 1 - i];
  strided_copy(&out[0]->s, pst, 0, in[0]->data, out[0]->data, nn_dtype_size(in[0]->type));
}

static int concat_infer(const nn_node *n, nn_tensor **in, nn_tensor **out, char *err,
                        size_t errlen) {
  const nn_shape *s0 = &in[0]->s;
  int axis = nn_axis(n->a.axis, s0->ndim);
  if (axis < 0) return nn_node_errf(n, err, errlen, "axis out of range");
  out[0]->s = *s0;
  out[0]->type = in[0]->type;
  for (int i = 1; i < n->nin; i++) {
    const nn_shape *s = &in[i]->s;
    if (s->ndim != s0->ndim || in[i]->type != in[0]->type)
      return nn_node_errf(n, err, errlen, "inputs differ in rank or type");
    for (int d = 0; d < s->ndim; d++)
      if (d != axis && s->d[d] != s0->d[d])
        return nn_node_errf(n, err, errlen, "inputs differ outside the concat axis");
    out[0]->s.d[axis] += s->d[axis];
  }
  return 0;
}

static void concat_run(const nn_node *n, nn_tensor **in, nn_tensor **out, const nn_ctx *ctx) {
  (void)ctx;
  const nn_shape *os = &out[0]->s;
  int axis = nn_axis(n->a.axis, os->ndim);
  size_t esz = nn_dtype_size(out[0]->type);
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; i++) outer *= os->d[i];
  for (int i = axis + 1; i < os->ndim; i++) inner *= os->d[i];
  char *dst = out[0]->data;
  size_t row = (size_t)(os->d[axis] * inner) * esz, at = 0;
  for (int i = 0; i < n->nin; i++) {
    size_t part = (size_t)(in[i]->s.d[axis] * inner) * esz;
    for (int64_t o = 0; o < outer; o++)
      memcpy(dst + o * row + at, (const char *)in[i]->data + o * part, part);
    at += part;
  }
}

/* Slice parameters for every axis: start and step (ends only matter for the output shape). */
typedef struct {
  int64_t start[NN_MAX_DIMS], step[NN_MAX_DIMS];
} slice_spec;

static int slice_resolve(const nn_node *n, nn_tensor **in, nn_shape *os, slice_spec *sp, char *err,
                         size_t errlen) {
  const nn_shape *s = &in[0]->s;
  int64_t st[NN_MAX_DIMS], en[NN_MAX_DIMS], ax[NN_MAX_DIMS], stp[NN_MAX_DIMS];
  int cnt;
  if (n->nin > 1) { /* opset >= 10: starts, ends, axes, steps are inputs */
    cnt = const_ints(n, in, 1, st, NN_MAX_DIMS, err, errlen);
    if (cnt < 0 || const_ints(n, in, 2, en, NN_MAX_DIMS, err, errlen) != cnt)
      return cnt < 0 ? -1 : nn_node_errf(n, err, errlen, "starts and ends differ in length");
    int na = const_ints(n, in, 3, ax, NN_MAX_DIMS, err, errlen);
    int ns = const_ints(n, in, 4, stp, NN_MAX_DIMS, err, errlen);
    if (na < 0 || ns < 0) return -1;
    if (na == 0)
      for (int i = 0; i < cnt; i++) ax[i] = i;
    if (ns == 0)
      for (int i = 0; i < cnt; i++) stp[i] = 1;
    if ((na && na != cnt) || (ns && ns != cnt))
      return nn_node_errf(n, err, errlen, "inputs differ in length");
  } else {
    cnt = (int)n->a.nstarts;
    memcpy(st, n->a.starts, sizeof st);
    memcpy(en, n->a.ends, sizeof en);
    for (int i = 0; i < cnt; i++) ax[i] = n->a.naxes ? n->a.axes[i] : i, stp[i] = 1;
  }
  *os = *s;
  for (int i = 0; i < s->ndim; i++) sp->start[i] = 0, sp->step[i] = 1;
  for (int i = 0; i < cnt; i++) {
    int a = nn_axis(ax[i], s->ndim);
    if (a < 0 || stp[i] == 0) return nn_node_errf(n, err, errlen, "bad axes or steps");
    int64_t d = s->d[a], b = st[i], e = en[i];
    if (b < 0) b += d;
    if (e < 0) e += d;
    if (stp[i] > 0) {
      b = b < 0 ? 0 : b > d ? d : b;
      e = e < 0 ? 0 : e > d ? d : e;
      os->d[a] = e > b ? (e - b + stp[i] - 1) / stp[i] : 0;
    } else {
      b = b < 0 ? -1 : b > d - 1 ? d - 1 : b;
      e = e < -1 ? -1 : e > d - 1 ? d - 1 : e;
      os->d[a] = b > e ? (b - e - stp[i] - 1) / -stp[i] : 0;
    }
    sp->start[a] = b;
    sp->step[a] = stp[i];
  }
  return 0;
}

static int slice_infer(const nn_node *n, nn_tensor **in, nn_tensor **out, char *err,
                       size_t errlen) {
  slice_spec sp;
  out[0]->type = in[0]->type;
  return slice_resolve(n, in, &out[0]->s, &sp, err, errlen);
}

static void slice_run(const nn_node *n, nn_tensor **in, nn_tensor **out, const nn_ctx *ctx) {
  (void)ctx;
  slice_spec sp;
  nn_shape os;
  slice_resolve(n, in, &os, &sp, NULL, 0);
  int64_t st[NN_MAX_DIMS], vst[NN_MAX_DIMS], off = 0;
  dense_strides(&in[0]->s, st);
  for (int i = 0; i < os.ndim; i++) vst[i] = st[i] * sp.step[i], off += sp.start[i] * st[i];
  strided_copy(&os, vst, off, in[0]->data, out[0]->data, nn_dtype_size(in[0]->type));
}

static int gather_infer(const nn_node *n, nn_tensor **in, nn_tensor **out, char *err,
                        size_t errlen) {
  const nn_shape *s = &in[0]->s, *is = &in[1]->s;
  int axis = nn_axis(n->a.axis, s->ndim);
  if (axis < 0 || in[1]->type != NN_I64) return nn_node_errf(n, err, errlen, "bad axis or indices");
  if (s->ndim - 1 + is->ndim > NN_MAX_DIMS)
    return nn_node_errf(n, err, errlen, "too many dimensions");
  nn_shape *os = &out[0]->s;
  os->ndim = 0;
  for (int i = 0; i < axis; i++) os->d[os->ndim++] = s->d[i];
  for (int i = 0; i < is->ndim; i++) os->d[os->ndim++] = is->d[i];
  for (int i = axis + 1; i < s->ndim; i++) os->d[os->ndim++] = s->d[i];
  out[0]->type = in[0]->type;
  if (in[1]->data)
    for (int64_t i = 0, cnt = nn_numel(is); i < cnt; i++) {
      int64_t k = ((const int64_t *)in[1]->data)[i];
      if (k < -s->d[axis] || k >= s->d[axis])
        return nn_node_errf(n, err, errlen, "index out of range");
    }
  return 0;
}

static void gather_run(const nn_node *n, nn_tensor **in, nn_tensor **out, const nn_ctx *ctx) {
  (void)ctx;
  const nn_shape *s = &in[0]->s;
  int axis = nn_axis(n->a.axis, s->ndim);
  size_t esz = nn_dtype_size(in[0]->type);
  int64_t outer = 1, inner = 1, cnt = nn_numel(&in[1]->s), d = s->d[axis];
  for (int i = 0; i < axis; i++) outer *= s->d[i];
  for (int i = axis + 1; i < s->ndim; i++) inner *= s->d[i];
  const int64_t *idx = in[1]->data;
  const char *src = in[0]->data;
  char *dst = out[0]->data;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < cnt; i++) {
      int64_t k = idx[i] < 0 ? idx[i] + d : idx[i];
      if (k < 0 || k >= d) k = 0; /* runtime indices out of range: defined, not a crash */
      memcpy(dst + ((o * cnt + i) * inner) * esz, src + ((o * d + k) * inner) * esz,
             (size_t)inner * esz);
    }
}

const nn_op_def nn_op_reshape = {"Reshape", reshape_infer, view_run, NULL, NULL};
const nn_op_def nn_op_flatten = {"Flatten", flatten_infer, view_run, NULL, NULL};
const nn_op_def nn_op_unsqueeze = {"Unsqueeze", unsqueeze_infer, view_run, NULL, NULL};
const nn_op_def nn_op_squeeze = {"Squeeze", squeeze_infer, view_run, NULL, NULL};
const nn_op_def nn_op_identity = {"Identity", identity_infer, view_run, NULL, NULL};
const nn_op_def nn_op_shape = {"Shape", shape_infer, shape_run, NULL, NULL};
const nn_op_def nn_op_transpose = {"Transpose", transpose_infer, transpose_run, NULL, NULL};
const nn_op_def nn_op_concat = {"Concat", concat_infer, concat_run, NULL, NULL};
const nn_op_def nn_op_slice = {"Slice", slice_infer, slice_run, NULL, NULL};
const nn_op_def nn_op_gather = {"Gather", gather_infer, gather_run, NULL, NULL};
