/* plan.c - a net planned for concrete input sizes, and running it.
 *
 * Planning walks the (rewritten) nodes once in topological order:
 *  - prune: only nodes that lead to the wanted outputs are kept, so a caller can stop at any
 *    intermediate tensor (the detector stops at its head convolutions);
 *  - infer: each op sets its output shapes from its inputs';
 *  - fold: a node whose inputs are all constant (Shape counts as constant: shapes are static
 *    here) is executed now, so shape arithmetic never runs at inference time;
 *  - alias: view ops (Reshape, Flatten, ...) share their input's memory;
 *  - arena: every remaining tensor gets an offset in one buffer, assigned greedily by size
 *    among tensors whose lifetimes overlap, so peak memory is close to the live-set maximum.
 * Planning costs well under a millisecond for the face models, so the detector can be planned
 * for each image size it meets.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/fpu.h"
#include "nn/nn.h"

#define ARENA_ALIGN 64
#define MAX_TENSOR_ELEMS (1LL << 31)

static int is_view(nn_op op) {
  return op == OP_RESHAPE || op == OP_FLATTEN || op == OP_UNSQUEEZE || op == OP_SQUEEZE ||
         op == OP_IDENTITY;
}

/* Input views of node n over per-value tensors; the fused residual comes after the inputs. */
static int node_views(const nn_node *n, nn_tensor *vals, nn_tensor **in, nn_tensor **out) {
  static nn_tensor absent; /* omitted optional input: empty, never written */
  for (int j = 0; j < n->nin; j++) in[j] = n->in[j] >= 0 ? &vals[n->in[j]] : &absent;
  if (n->residual >= 0) in[n->nin] = &vals[n->residual];
  for (int j = 0; j < n->nout; j++) out[j] = &vals[n->out[j]];
  return n->nin + (n->residual >= 0);
}

typedef struct {
  size_t size, offset;
  int first, last, value;
} buffer;

static int by_size_desc(const void *a, const void *b) {
  const buffer *x = a, *y = b;
  return x->size < y->size ? 1 : x->size > y->size ? -1 : x->first - y->first;
}

/* Greedy placement: each buffer goes to the lowest offset that overlaps no placed buffer alive
 * at the same time. Returns the arena size. */
static size_t place_buffers(buffer *b, int n) {
  qsort(b, (size_t)n, sizeof *b, by_size_desc);
  size_t total = 0;
  for (int i = 0; i < n; i++) {
    size_t off = 0;
    for (int moved = 1; moved;) {
      moved = 0;
      for (int j = 0; j < i; j++) {
        if (b[j].last < b[i].first || b[i].last < b[j].first) continue;
        if (off < b[j].offset + b[j].size && b[j].offset < off + b[i].size) {
          off = b[j].offset + b[j].size;
          moved = 1;
        }
      }
    }
    b[i].offset = off;
    if (off + b[i].size > total) total = off + b[i].size;
  }
  return total;
}

static int fold_node(mien_plan *p, const nn_node *n, nn_tensor **in, nn_tensor **out,
                     const nn_op_def *def, char *err, size_t errlen) {
  size_t scratch = def->scratch ? def->scratch(n, in, out, p->net->k, 1) : 0;
  float *scr = scratch ? malloc(scratch * sizeof(float)) : NULL;
  void **f = realloc(p->folded, (size_t)(p->nfolded + n->nout) * sizeof *f);
  if (!f || (scratch && !scr)) {
    free(scr);
    if (f) p->folded = f;
    return nn_errf(err, errlen, "out of memory");
  }
  p->folded = f;
  for (int j = 0; j < n->nout; j++) {
    size_t bytes = (size_t)nn_numel(&out[j]->s) * nn_dtype_size(out[j]->type);
    out[j]->data = calloc(bytes ? bytes : 1, 1);
    if (!out[j]->data) {
      free(scr);
      return nn_errf(err, errlen, "out of memory");
    }
    p->folded[p->nfolded++] = out[j]->data;
  }
  nn_ctx ctx = {p->net->k, NULL, &scr, 1};
  def->run(n, in, out, &ctx);
  free(scr);
  return 0;
}

mien_status mien_plan_create(const mien_net *net, const int64_t *const *input_dims,
                             const int *input_ndims, const char *const *outputs, int noutputs,
                             mien_plan **out, char *err, size_t errlen) {
  const nn_graph *g = &net->g;
  *out = NULL;
  mien_plan *p = calloc(1, sizeof *p);
  char *wanted = calloc((size_t)g->nvalues, 1), *needed = calloc((size_t)g->nnodes, 1);
  int *known = calloc((size_t)g->nvalues, sizeof *known); /* 0 no, 1 runtime, 2 constant */
  int *base = malloc((size_t)g->nvalues * sizeof *base), *first = NULL, *last = NULL;
  buffer *bufs = NULL;
  mien_status st = MIEN_ERR_INVALID_PARAMETER;
  if (!p || !wanted || !needed || !known || !base) goto oom;
  p->net = net;
  p->vals = calloc((size_t)g->nvalues, sizeof *p->vals);
  p->slots = calloc((size_t)g->nvalues, sizeof *p->slots);
  p->steps = calloc((size_t)g->nnodes, sizeof *p->steps);
  if (!p->vals || !p->slots || !p->steps) goto oom;
  for (int v = 0; v < g->nvalues; v++) {
    base[v] = v;
    if (g->values[v].is_const) {
      p->vals[v] = g->values[v].t;
      known[v] = 2;
      p->slots[v] = (nn_slot){SLOT_CONST, 0, 0, g->values[v].t.data};
    }
  }
  for (int i = 0; i < g->ninputs; i++) {
    const nn_value *iv = &g->values[g->inputs[i]];
    nn_tensor *t = &p->vals[g->inputs[i]];
    if (input_ndims[i] != iv->declared_ndim && iv->declared_ndim) {
      nn_errf(err, errlen, "input '%s' needs %d dimensions, got %d", iv->name, iv->declared_ndim,
              input_ndims[i]);
      goto fail;
    }
    if (input_ndims[i] < 1 || input_ndims[i] > NN_MAX_DIMS) {
      nn_errf(err, errlen, "input '%s': bad number of dimensions", iv->name);
      goto fail;
    }
    t->type = NN_F32;
    t->s.ndim = input_ndims[i];
    for (int d = 0; d < input_ndims[i]; d++) {
      int64_t want = d < iv->declared_ndim ? iv->declared[d] : -1, got = input_dims[i][d];
      if (got < 1 || got > 65536 || (want > 0 && d < 2 && want != got)) {
        nn_errf(err, errlen, "input '%s' dimension %d is %lld, expected %lld", iv->name, d,
                (long long)got, (long long)want);
        goto fail;
      }
      t->s.d[d] = got;
    }
    if (nn_numel(&t->s) > MAX_TENSOR_ELEMS) {
      nn_errf(err, errlen, "input '%s' is too large", iv->name);
      goto fail;
    }
    known[g->inputs[i]] = 1;
    p->slots[g->inputs[i]] = (nn_slot){SLOT_INPUT, i, 0, NULL};
  }
  /* Wanted outputs, then every node that leads to them. */
  if (noutputs <= 0) {
    p->noutputs = g->noutputs;
    memcpy(p->outputs, g->outputs, sizeof p->outputs);
  } else {
    if (noutputs > NN_MAX_IO) {
      nn_errf(err, errlen, "at most %d outputs", NN_MAX_IO);
      goto fail;
    }
    for (int i = 0; i < noutputs; i++) {
      int v = nn_graph_find_value(g, outputs[i]);
      int produced = v >= 0 && (known[v] || g->values[v].is_const);
      for (int k = 0; v >= 0 && k < g->nnodes && !produced; k++)
        for (int j = 0; !g->nodes[k].dead && j < g->nodes[k].nout; j++)
          produced |= g->nodes[k].out[j] == v;
      if (!produced) {
        nn_errf(err, errlen, "tensor '%s' is not in the model (or was fused into a convolution)",
                outputs[i]);
        goto fail;
      }
      p->outputs[p->noutputs++] = v;
    }
  }
  for (int i = 0; i < p->noutputs; i++) wanted[p->outputs[i]] = 1;
  for (int k = g->nnodes - 1; k >= 0; k--) {
    const nn_node *n = &g->nodes[k];
    if (n->dead) continue;
    for (int j = 0; j < n->nout; j++) needed[k] |= wanted[n->out[j]];
    if (!needed[k]) continue;
    for (int j = 0; j < n->nin; j++)
      if (n->in[j] >= 0) wanted[n->in[j]] = 1;
    if (n->residual >= 0) wanted[n->residual] = 1;
  }
  /* Infer and fold in order. */
  for (int k = 0; k < g->nnodes; k++) {
    const nn_node *n = &g->nodes[k];
    if (n->dead || !needed[k]) continue;
    nn_tensor *in[NN_MAX_IO + 1], *outs[NN_MAX_IO];
    int nin = node_views(n, p->vals, in, outs);
    int all_const = 1;
    for (int j = 0; j < nin; j++) {
      int v = j < n->nin ? n->in[j] : n->residual;
      if (v < 0) continue;
      if (!known[v]) {
        nn_node_errf(n, err, errlen, "input '%s' is used before it is computed", g->values[v].name);
        st = MIEN_ERR_MODEL;
        goto fail;
      }
      all_const &= known[v] == 2;
    }
    const nn_op_def *def = nn_op_def_get(n->op);
    if (def->infer(n, in, outs, err, errlen)) {
      st = MIEN_ERR_MODEL;
      goto fail;
    }
    for (int j = 0; j < n->nout; j++)
      if (nn_numel(&outs[j]->s) > MAX_TENSOR_ELEMS || nn_numel(&outs[j]->s) < 0) {
        nn_node_errf(n, err, errlen, "output would have %lld elements",
                     (long long)nn_numel(&outs[j]->s));
        st = MIEN_ERR_MODEL;
        goto fail;
      }
    if (all_const || n->op == OP_SHAPE) {
      if (fold_node(p, n, in, outs, def, err, errlen)) goto oom;
      for (int j = 0; j < n->nout; j++) {
        known[n->out[j]] = 2;
        p->slots[n->out[j]] = (nn_slot){SLOT_CONST, 0, 0, outs[j]->data};
      }
      continue;
    }
    for (int j = 0; j < n->nout; j++) {
      known[n->out[j]] = 1;
      outs[j]->data = NULL;
    }
    if (is_view(n->op)) base[n->out[0]] = base[n->in[0]];
    double macs = def->macs ? def->macs(n, in, outs) : 0;
    size_t scr = def->scratch ? def->scratch(n, in, outs, net->k, 1) : 0;
    if (scr > p->scratch_floats) p->scratch_floats = scr;
    p->steps[p->nsteps++] = (nn_step){n, macs};
    p->macs += macs;
  }
  /* Lifetimes of arena buffers (per base value), in step indices. */
  first = malloc((size_t)g->nvalues * sizeof *first);
  last = malloc((size_t)g->nvalues * sizeof *last);
  bufs = malloc((size_t)g->nvalues * sizeof *bufs);
  if (!first || !last || !bufs) goto oom;
  for (int v = 0; v < g->nvalues; v++) first[v] = -1, last[v] = -1;
  for (int s = 0; s < p->nsteps; s++) {
    const nn_node *n = p->steps[s].node;
    for (int j = 0; j < n->nout; j++) {
      int b = base[n->out[j]];
      if (first[b] < 0) first[b] = s;
      if (last[b] < s) last[b] = s;
    }
    for (int j = 0; j <= n->nin; j++) {
      int v = j < n->nin ? n->in[j] : n->residual;
      if (v >= 0 && last[base[v]] < s) last[base[v]] = s;
    }
  }
  for (int i = 0; i < p->noutputs; i++) last[base[p->outputs[i]]] = p->nsteps;
  int nb = 0;
  for (int v = 0; v < g->nvalues; v++) {
    if (base[v] != v || first[v] < 0 || p->slots[v].kind != SLOT_NONE) continue;
    size_t bytes = (size_t)nn_numel(&p->vals[v].s) * nn_dtype_size(p->vals[v].type);
    bufs[nb++] =
        (buffer){(bytes + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN, 0, first[v], last[v], v};
  }
  p->arena_bytes = place_buffers(bufs, nb);
  for (int i = 0; i < nb; i++)
    p->slots[bufs[i].value] = (nn_slot){SLOT_ARENA, 0, bufs[i].offset, NULL};
  for (int v = 0; v < g->nvalues; v++)
    if (base[v] != v) p->slots[v] = p->slots[base[v]];
  st = MIEN_OK;
  *out = p;
  p = NULL;
  goto done;
oom:
  nn_errf(err, errlen, "out of memory while planning");
  st = MIEN_ERR_NOMEM;
fail:
done:
  mien_plan_free(p);
  free(wanted), free(needed), free(known), free(base), free(first), free(last), free(bufs);
  return st;
}

void mien_plan_free(mien_plan *p) {
  if (!p) return;
  for (int i = 0; i < p->nfolded; i++) free(p->folded[i]);
  free(p->folded), free(p->vals), free(p->slots), free(p->steps);
  free(p);
}

size_t mien_plan_arena_bytes(const mien_plan *p) {
  return p->arena_bytes;
}

double mien_plan_macs(const mien_plan *p) {
  return p->macs;
}

int mien_plan_output_count(const mien_plan *p) {
  return p->noutputs;
}

int mien_plan_output_dims(const mien_plan *p, int i, int64_t *dims, int max_dims) {
  if (i < 0 || i >= p->noutputs) return -1;
  const nn_shape *s = &p->vals[p->outputs[i]].s;
  for (int d = 0; d < s->ndim && d < max_dims; d++) dims[d] = s->d[d];
  return s->ndim;
}

mien_status mien_workspace_create(int threads, mien_workspace **out) {
  mien_workspace *ws = calloc(1, sizeof *ws);
  if (!ws) return MIEN_ERR_NOMEM;
  ws->ctx.k = mien_kernels_get();
  ws->ctx.nthreads = threads > 0 ? threads : mien_cpu_count();
  ws->ctx.pool = nn_pool_create(ws->ctx.nthreads);
  ws->ctx.scratch = calloc((size_t)ws->ctx.nthreads, sizeof *ws->ctx.scratch);
  if (!ws->ctx.pool || !ws->ctx.scratch) {
    mien_workspace_free(ws);
    return MIEN_ERR_NOMEM;
  }
  *out = ws;
  return MIEN_OK;
}

void nn_workspace_profile(mien_workspace *ws) {
  ws->profiling = 1;
}

void mien_workspace_free(mien_workspace *ws) {
  if (!ws) return;
  nn_pool_free(ws->ctx.pool);
  for (int i = 0; ws->ctx.scratch && i < ws->ctx.nthreads; i++) free(ws->ctx.scratch[i]);
  free(ws->ctx.scratch);
  free(ws->arena);
  free(ws->views);
  free(ws->profile);
  free(ws);
}

/* Grows the workspace to what the plan needs; memory is kept for later runs. */
static mien_status fit(mien_workspace *ws, const mien_plan *p) {
  if (p->arena_bytes > ws->arena_cap) {
    free(ws->arena);
    ws->arena = aligned_alloc(ARENA_ALIGN, p->arena_bytes);
    ws->arena_cap = ws->arena ? p->arena_bytes : 0;
    if (!ws->arena) return MIEN_ERR_NOMEM;
  }
  if (p->scratch_floats > ws->scratch_cap) {
    size_t bytes =
        (p->scratch_floats * sizeof(float) + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    for (int i = 0; i < ws->ctx.nthreads; i++) {
      free(ws->ctx.scratch[i]);
      ws->ctx.scratch[i] = aligned_alloc(ARENA_ALIGN, bytes);
      if (!ws->ctx.scratch[i]) {
        ws->scratch_cap = 0;
        return MIEN_ERR_NOMEM;
      }
    }
    ws->scratch_cap = p->scratch_floats;
  }
  int nv = p->net->g.nvalues;
  if (nv > ws->nviews) {
    free(ws->views);
    free(ws->profile);
    ws->views = calloc((size_t)nv, sizeof *ws->views);
    ws->profile = calloc((size_t)p->net->g.nnodes, sizeof *ws->profile);
    ws->nviews = ws->views && ws->profile ? nv : 0;
    if (!ws->nviews) return MIEN_ERR_NOMEM;
  }
  return MIEN_OK;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

mien_status mien_run(const mien_plan *p, mien_workspace *ws, const float *const *inputs) {
  mien_status st = fit(ws, p);
  if (st != MIEN_OK) return st;
  const nn_graph *g = &p->net->g;
  if (ws->ctx.k != p->net->k) return MIEN_ERR_INTERNAL; /* packed for another kernel table */
  for (int v = 0; v < g->nvalues; v++) {
    const nn_slot *s = &p->slots[v];
    ws->views[v] = p->vals[v];
    /* A graph whose computed tensors are all empty has no arena: no pointer arithmetic on NULL. */
    ws->views[v].data = s->kind == SLOT_ARENA   ? (ws->arena ? (char *)ws->arena + s->offset : NULL)
                        : s->kind == SLOT_INPUT ? (void *)inputs[s->input_index]
                                                : (void *)s->data;
  }
  unsigned fpu = nn_fpu_enter();
  for (int s = 0; s < p->nsteps; s++) {
    const nn_node *n = p->steps[s].node;
    nn_tensor *in[NN_MAX_IO + 1], *out[NN_MAX_IO];
    node_views(n, ws->views, in, out);
    /* Empty outputs (an empty Slice, say) need no work, and kernels need not meet them. */
    int64_t work = 0;
    for (int j = 0; j < n->nout; j++) work += nn_numel(&out[j]->s);
    if (work == 0) continue;
    double t0 = ws->profiling ? now_ms() : 0;
    nn_op_def_get(n->op)->run(n, in, out, &ws->ctx);
    if (ws->profiling) ws->profile[s] += now_ms() - t0;
  }
  nn_fpu_leave(fpu);
  for (int i = 0; i < p->noutputs; i++) ws->outputs[i] = ws->views[p->outputs[i]].data;
  return MIEN_OK;
}

const float *mien_workspace_output(const mien_workspace *ws, int i) {
  return i >= 0 && i < NN_MAX_IO ? ws->outputs[i] : NULL;
}
