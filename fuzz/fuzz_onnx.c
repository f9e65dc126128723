/* fuzz_onnx.c - libFuzzer target for model files: the input is the bytes of an .onnx file, which
 * mien_net_load_buffer parses (protobuf-c), checks and rewrites (folding BatchNormalization and
 * scales into convolutions, fusing activations, packing weights). A model that loads is then
 * planned for small input sizes (shape inference, constant folding, pruning, arena layout), and
 * run once when the plan is cheap, so mutated shapes and attributes reach the kernels too.
 *
 * Input sizes: the declared ones where they are small and fixed, 4 for symbolic or large ones,
 * 1x3x8x8 for an input without a declared shape. Runs are skipped above ~50 M multiply-adds or a
 * 64 MiB arena so each input stays well under the timeout; planning is always tried, since a
 * hostile file must fail there cleanly rather than allocate or overflow.
 *
 * Beyond not crashing: a failed load leaves no net and says why, as does a failed plan. */
#include "fuzz.h"
#include "mien.h"

#define MAX_IN 16
#define MAX_DIMS 8

/* Plans (and maybe runs) net for small inputs. */
static void plan_and_run(const mien_net *net) {
  static mien_workspace *ws; /* grows to the largest plan; kept like a server's */
  int n = mien_net_input_count(net);
  FUZZ_ASSERT(n >= 0);
  if (n > MAX_IN) return;
  int64_t dims[MAX_IN][MAX_DIMS];
  const int64_t *dimp[MAX_IN];
  int nd[MAX_IN];
  int64_t elems[MAX_IN];
  for (int i = 0; i < n; i++) {
    nd[i] = mien_net_input_dims(net, i, dims[i], MAX_DIMS);
    if (nd[i] > MAX_DIMS) return;
    if (nd[i] <= 0) {
      nd[i] = 4;
      dims[i][0] = 1, dims[i][1] = 3, dims[i][2] = dims[i][3] = 8;
    }
    elems[i] = 1;
    for (int d = 0; d < nd[i]; d++) {
      if (dims[i][d] < 1 || dims[i][d] > 32) dims[i][d] = 4;
      elems[i] *= dims[i][d];
    }
    dimp[i] = dims[i];
  }
  mien_plan *plan;
  char err[512] = "";
  mien_status st = mien_plan_create(net, dimp, nd, NULL, 0, &plan, err, sizeof err);
  if (st != MIEN_OK) {
    FUZZ_ASSERT(plan == NULL);
    FUZZ_ASSERT(st == MIEN_ERR_NOMEM || err[0] != '\0');
    return;
  }
  FUZZ_ASSERT(plan != NULL);
  if (mien_plan_arena_bytes(plan) <= (64u << 20) && mien_plan_macs(plan) <= 5e7 &&
      (ws || mien_workspace_create(1, &ws) == MIEN_OK)) {
    float *in[MAX_IN] = {0};
    int ok = 1;
    for (int i = 0; i < n && ok; i++) {
      ok = (in[i] = malloc((size_t)elems[i] * sizeof(float))) != NULL;
      for (int64_t k = 0; ok && k < elems[i]; k++) in[i][k] = (float)(k % 17) / 8 - 1;
    }
    if (ok && mien_run(plan, ws, (const float *const *)in) == MIEN_OK) {
      for (int o = 0; o < mien_plan_output_count(plan); o++) {
        /* Every output is there, except an empty one, which may have no data at all. */
        int64_t dims[8], numel = 1;
        int nd = mien_plan_output_dims(plan, o, dims, 8);
        for (int d = 0; d < nd; d++) numel *= dims[d];
        FUZZ_ASSERT(mien_workspace_output(ws, o) != NULL || numel == 0);
      }
    }
    for (int i = 0; i < n; i++) free(in[i]);
  }
  mien_plan_free(plan);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mien_net *net;
  char err[512] = "";
  mien_status st = mien_net_load_buffer(data, size, &net, err, sizeof err);
  if (st != MIEN_OK) {
    FUZZ_ASSERT(net == NULL);
    FUZZ_ASSERT(st == MIEN_ERR_NOMEM || err[0] != '\0');
    return 0;
  }
  plan_and_run(net);
  mien_net_free(net);
  return 0;
}
