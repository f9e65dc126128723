/* nn.h - the engine's internal model: values, nodes, plans.
 *
 * A model goes through three stages, each in its own file:
 *   onnx_load.c  protobuf bytes -> nn_graph (values, nodes with parsed attributes, constants)
 *   rewrite.c    shape-independent graph rewrites done once per model: BatchNormalization and
 *                constant scaling folded into Conv/Gemm weights, activations and residual Adds
 *                fused into the Conv, weights packed for the kernels
 *   plan.c       for concrete input sizes: shapes inferred, anything computable from constants
 *                (e.g. Shape->Gather->Concat->Reshape chains) folded, unneeded nodes pruned,
 *                an activation arena laid out by liveness
 * ops_*.c implement each operator twice over the same nn_tensor views: shape inference (infer)
 * and computation (run). Constant folding at plan time calls the same run functions.
 */
#ifndef MIEN_NN_H
#define MIEN_NN_H

#include <stdint.h>
#include <stddef.h>

#include "mien.h"
#include "nn/kernels/kernels.h"

#define NN_MAX_DIMS 8
#define NN_MAX_IO 16

typedef enum { NN_F32 = 1, NN_I64 = 7 } nn_dtype; /* values of onnx TensorProto.DataType */

typedef struct {
  int ndim;
  int64_t d[NN_MAX_DIMS];
} nn_shape;

/* A tensor as ops see it: shape, type and where the data lives. */
typedef struct {
  nn_shape s;
  nn_dtype type;
  void *data;
} nn_tensor;

typedef enum {
  OP_CONV,
  OP_RELU,
  OP_PRELU,
  OP_SIGMOID,
  OP_SOFTMAX,
  OP_EXP,
  OP_ADD,
  OP_SUB,
  OP_MUL,
  OP_DIV,
  OP_GEMM,
  OP_MATMUL,
  OP_BATCHNORM,
  OP_MAXPOOL,
  OP_RESIZE,
  OP_RESHAPE,
  OP_FLATTEN,
  OP_TRANSPOSE,
  OP_CONCAT,
  OP_SLICE,
  OP_GATHER,
  OP_UNSQUEEZE,
  OP_SQUEEZE,
  OP_SHAPE,
  OP_IDENTITY,
  OP_COUNT
} nn_op;

/* Parsed attributes; each op reads the fields it documents in ops_*.c. */
typedef struct {
  int64_t kernel[2], strides[2], pads[4], dilations[2], group; /* Conv, MaxPool */
  int64_t axis, perm[NN_MAX_DIMS], nperm;                      /* Concat, Softmax, Transpose.. */
  int64_t axes[NN_MAX_DIMS], naxes, starts[NN_MAX_DIMS], ends[NN_MAX_DIMS],
      nstarts; /* Slice (opset<10) */
  int64_t trans_a, trans_b, ceil_mode, auto_pad_same;
  float alpha, beta, epsilon;
  int softmax_legacy;
  int resize_linear, resize_align_corners, resize_half_pixel, resize_nearest_floor;
} nn_attrs;

/* A value: a named tensor. Constants carry data from load (initializers, Constant nodes). */
typedef struct {
  char *name;
  nn_tensor t;  /* shape and type known after planning (or at load for constants) */
  int is_const; /* data owned by the graph */
  int64_t declared[NN_MAX_DIMS]; /* graph inputs: declared dims, -1 where symbolic */
  int declared_ndim;
} nn_value;

/* Conv after rewrite.c: weights packed for the kernel table in use, epilogue fused. */
typedef struct {
  int co, ci, kh, kw, depthwise;
  float *weight; /* [co][ci][kh][kw], BN folded; the depthwise kernel reads this */
  float *bias;   /* [co] */
  float *slope;  /* [co] for PRELU */
  mien_act act;
  float *packed; /* pack_a(co, ci*kh*kw) for group-1 convs and Gemm */
} nn_conv;

typedef struct {
  nn_op op;
  char *name, *op_type;
  int nin, nout;
  int in[NN_MAX_IO], out[NN_MAX_IO]; /* value indices; -1 for an omitted optional input */
  int residual;                      /* fused Add operand (value index) or -1 */
  nn_attrs a;
  nn_conv *conv; /* OP_CONV and OP_GEMM after rewrite */
  int dead;      /* removed by a rewrite */
} nn_node;

typedef struct {
  nn_value *values;
  int nvalues, cap_values;
  nn_node *nodes;
  int nnodes, cap_nodes;
  int inputs[NN_MAX_IO], ninputs;
  int outputs[NN_MAX_IO], noutputs;
  int opset;
} nn_graph;

struct mien_net {
  nn_graph g;
  const mien_kernels *k;
};

/* One scheduled node of a plan; tensor views are rebuilt per workspace from value slots. */
typedef struct {
  const nn_node *node;
  double macs;
} nn_step;

/* Where a planned value lives at run time. */
typedef enum { SLOT_NONE, SLOT_CONST, SLOT_INPUT, SLOT_ARENA } nn_slot_kind;
typedef struct {
  nn_slot_kind kind;
  int input_index;  /* SLOT_INPUT */
  size_t offset;    /* SLOT_ARENA: bytes into the arena */
  const void *data; /* SLOT_CONST (owned by the graph or by the plan's folded constants) */
} nn_slot;

struct mien_plan {
  const mien_net *net;
  nn_tensor *vals; /* per graph value: planned shape and type (data unused here) */
  nn_slot *slots;
  nn_step *steps;
  int nsteps;
  void **folded; /* constants computed at plan time, owned */
  int nfolded;
  int outputs[NN_MAX_IO], noutputs;
  size_t arena_bytes, scratch_floats;
  double macs;
};

/* Everything a running op needs besides its tensors. */
typedef struct nn_pool nn_pool;
typedef struct {
  const mien_kernels *k;
  nn_pool *pool;
  float **scratch; /* one per thread */
  int nthreads;
} nn_ctx;

struct mien_workspace {
  nn_ctx ctx;
  void *arena;
  size_t arena_cap, scratch_cap;
  nn_tensor *views;
  int nviews;
  const float *outputs[NN_MAX_IO];
  int profiling; /* nn_workspace_profile: time every step into profile[step] (ms, summed) */
  double *profile;
};

/* From now on, mien_run with ws times every step (for mien-bench-engine --profile; a research
 * tool's switch, never set on the library's own paths). */
void nn_workspace_profile(mien_workspace *ws);
/* Prints the profile of the runs so far, per op type and per step, as JSON to f. */
void nn_profile_print(const mien_plan *p, const mien_workspace *ws, int runs, void *f);

/* Operator table: infer sets output shapes/types (inputs' shapes are known; constant inputs
 * have data), run computes. scratch_floats reports per-thread scratch a step needs. */
typedef struct {
  const char *name;
  int (*infer)(const nn_node *n, nn_tensor **in, nn_tensor **out, char *err, size_t errlen);
  void (*run)(const nn_node *n, nn_tensor **in, nn_tensor **out, const nn_ctx *ctx);
  size_t (*scratch)(const nn_node *n, nn_tensor **in, nn_tensor **out, const mien_kernels *k,
                    int nthreads);
  double (*macs)(const nn_node *n, nn_tensor **in, nn_tensor **out);
} nn_op_def;

const nn_op_def *nn_op_def_get(nn_op op);
int nn_op_from_name(const char *op_type, nn_op *op);
/* Whether a node of op with nin inputs (value indices in, -1 where omitted) has the inputs op
 * needs: 0, or -1 with *min and *max saying how many it takes. */
int nn_op_check_inputs(nn_op op, int nin, const int *in, int *min, int *max);

/* Helpers shared by ops and planner. */
int64_t nn_numel(const nn_shape *s);
size_t nn_dtype_size(nn_dtype t);
int nn_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int nn_node_errf(const nn_node *n, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* onnx_load.c */
mien_status nn_graph_load(nn_graph *g, const void *data, size_t len, char *err, size_t errlen);
void nn_graph_free(nn_graph *g);
int nn_graph_find_value(const nn_graph *g, const char *name);

/* rewrite.c */
mien_status nn_rewrite(nn_graph *g, const mien_kernels *k, char *err, size_t errlen);

/* pool.c: a fixed set of worker threads; nn_pool_run calls fn(ctx, task, thread) for every
 * task in [0, ntasks) across the workers and the caller, and returns when all are done. */
nn_pool *nn_pool_create(int nthreads);
void nn_pool_free(nn_pool *p);
void nn_pool_run(nn_pool *p, int ntasks, void (*fn)(void *ctx, int task, int thread), void *ctx);

#endif
