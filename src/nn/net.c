/* net.c - the public face of the engine: loading a model, describing it, CPU facts, and the
 * profile printer used by mien-bench-engine --profile. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/nn.h"

mien_status mien_net_load_buffer(const void *data, size_t len, mien_net **out, char *err,
                                 size_t errlen) {
  *out = NULL;
  mien_net *net = calloc(1, sizeof *net);
  if (!net) return MIEN_ERR_NOMEM;
  net->k = mien_kernels_get();
  mien_status st = nn_graph_load(&net->g, data, len, err, errlen);
  if (st == MIEN_OK) st = nn_rewrite(&net->g, net->k, err, errlen);
  if (st != MIEN_OK) {
    mien_net_free(net);
    return st;
  }
  *out = net;
  return MIEN_OK;
}

mien_status mien_net_load(const char *path, mien_net **out, char *err, size_t errlen) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return nn_errf(err, errlen, "cannot open model '%s'", path), MIEN_ERR_IO;
  void *buf = NULL;
  long len = -1;
  if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
    buf = malloc(len ? (size_t)len : 1);
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) len = -1;
  }
  fclose(f);
  if (!buf || len < 0) {
    free(buf);
    return nn_errf(err, errlen, "cannot read model '%s'", path), MIEN_ERR_IO;
  }
  char inner[512] = "";
  mien_status st = mien_net_load_buffer(buf, (size_t)len, out, inner, sizeof inner);
  free(buf);
  if (st != MIEN_OK) nn_errf(err, errlen, "%s: %s", path, inner);
  return st;
}

void mien_net_free(mien_net *net) {
  if (!net) return;
  nn_graph_free(&net->g);
  free(net);
}

int mien_net_input_count(const mien_net *net) {
  return net->g.ninputs;
}

const char *mien_net_input_name(const mien_net *net, int i) {
  return i >= 0 && i < net->g.ninputs ? net->g.values[net->g.inputs[i]].name : NULL;
}

int mien_net_input_dims(const mien_net *net, int i, int64_t *dims, int max_dims) {
  if (i < 0 || i >= net->g.ninputs) return -1;
  const nn_value *v = &net->g.values[net->g.inputs[i]];
  for (int d = 0; d < v->declared_ndim && d < max_dims; d++) dims[d] = v->declared[d];
  return v->declared_ndim;
}

int mien_net_output_count(const mien_net *net) {
  return net->g.noutputs;
}

const char *mien_net_output_name(const mien_net *net, int i) {
  return i >= 0 && i < net->g.noutputs ? net->g.values[net->g.outputs[i]].name : NULL;
}

const char *mien_isa(void) {
  return mien_kernels_get()->isa;
}

int mien_cpu_count(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

void nn_profile_print(const mien_plan *p, const mien_workspace *ws, int runs, void *fp) {
  FILE *f = fp;
  double by_op[OP_COUNT] = {0}, total = 0;
  for (int s = 0; s < p->nsteps; s++) {
    by_op[p->steps[s].node->op] += ws->profile[s];
    total += ws->profile[s];
  }
  fprintf(f, "{\"total_ms\":%.4f,\"by_op\":{", total / runs);
  for (int o = 0, first = 1; o < OP_COUNT; o++)
    if (by_op[o] > 0)
      fprintf(f, "%s\"%s\":%.4f", first ? "" : ",", nn_op_def_get((nn_op)o)->name, by_op[o] / runs),
          first = 0;
  fprintf(f, "},\"steps\":[");
  for (int s = 0; s < p->nsteps; s++) {
    const nn_node *n = p->steps[s].node;
    const nn_tensor *y = &p->vals[n->out[0]];
    fprintf(f, "%s{\"name\":\"%s\",\"op\":\"%s\",\"out\":[", s ? "," : "", n->name, n->op_type);
    for (int d = 0; d < y->s.ndim; d++) fprintf(f, "%s%lld", d ? "," : "", (long long)y->s.d[d]);
    fprintf(f, "],\"ms\":%.4f,\"gflops\":%.1f}", ws->profile[s] / runs,
            ws->profile[s] > 0 ? 2 * p->steps[s].macs * runs / (ws->profile[s] * 1e6) : 0.0);
  }
  fprintf(f, "]}\n");
}
