/* ops.c - the operator registry: ONNX op_type names to definitions, indexed by nn_op so that
 * running a step is one array load. */
#include <stdint.h>
#include <string.h>

#include "nn/ops.h"

static const nn_op_def *const defs[OP_COUNT] = {
    [OP_CONV] = &nn_op_conv,
    [OP_RELU] = &nn_op_relu,
    [OP_PRELU] = &nn_op_prelu,
    [OP_SIGMOID] = &nn_op_sigmoid,
    [OP_SOFTMAX] = &nn_op_softmax,
    [OP_EXP] = &nn_op_exp,
    [OP_ADD] = &nn_op_add,
    [OP_SUB] = &nn_op_sub,
    [OP_MUL] = &nn_op_mul,
    [OP_DIV] = &nn_op_div,
    [OP_GEMM] = &nn_op_gemm,
    [OP_MATMUL] = &nn_op_matmul,
    [OP_BATCHNORM] = &nn_op_batchnorm,
    [OP_MAXPOOL] = &nn_op_maxpool,
    [OP_RESIZE] = &nn_op_resize,
    [OP_RESHAPE] = &nn_op_reshape,
    [OP_FLATTEN] = &nn_op_flatten,
    [OP_TRANSPOSE] = &nn_op_transpose,
    [OP_CONCAT] = &nn_op_concat,
    [OP_SLICE] = &nn_op_slice,
    [OP_GATHER] = &nn_op_gather,
    [OP_UNSQUEEZE] = &nn_op_unsqueeze,
    [OP_SQUEEZE] = &nn_op_squeeze,
    [OP_SHAPE] = &nn_op_shape,
    [OP_IDENTITY] = &nn_op_identity,
};

/* How many inputs each operator takes (ONNX's operator schemas, for the opsets mien reads); the
 * first min must be present. Checked once at load, so no infer or run function meets a node
 * with fewer inputs than it reads. */
static const struct {
  int8_t min, max;
} arity[OP_COUNT] = {
    [OP_CONV] = {2, 3},
    [OP_RELU] = {1, 1},
    [OP_PRELU] = {2, 2},
    [OP_SIGMOID] = {1, 1},
    [OP_SOFTMAX] = {1, 1},
    [OP_EXP] = {1, 1},
    [OP_ADD] = {2, 2},
    [OP_SUB] = {2, 2},
    [OP_MUL] = {2, 2},
    [OP_DIV] = {2, 2},
    [OP_GEMM] = {2, 3},
    [OP_MATMUL] = {2, 2},
    [OP_BATCHNORM] = {5, 5},
    [OP_MAXPOOL] = {1, 1},
    [OP_RESIZE] = {1, 4},
    [OP_RESHAPE] = {2, 2},
    [OP_FLATTEN] = {1, 1},
    [OP_TRANSPOSE] = {1, 1},
    [OP_CONCAT] = {1, NN_MAX_IO},
    [OP_SLICE] = {1, 5},
    [OP_GATHER] = {2, 2},
    [OP_UNSQUEEZE] = {1, 2},
    [OP_SQUEEZE] = {1, 2},
    [OP_SHAPE] = {1, 1},
    [OP_IDENTITY] = {1, 3}, /* Dropout's optional ratio and training_mode */
};

int nn_op_check_inputs(nn_op op, int nin, const int *in, int *min, int *max) {
  *min = arity[op].min, *max = arity[op].max;
  if (nin < *min || nin > *max) return -1;
  for (int j = 0; j < *min; j++)
    if (in[j] < 0) return -1;
  return 0;
}

const nn_op_def *nn_op_def_get(nn_op op) {
  return op < OP_COUNT ? defs[op] : NULL;
}

int nn_op_from_name(const char *op_type, nn_op *op) {
  for (int i = 0; i < OP_COUNT; i++)
    if (!strcmp(defs[i]->name, op_type)) {
      *op = (nn_op)i;
      return 0;
    }
  if (!strcmp(op_type, "Dropout")) { /* inference: the identity */
    *op = OP_IDENTITY;
    return 0;
  }
  return -1;
}
