/* ops.c - the operator registry: ONNX op_type names to definitions, indexed by nn_op so that
 * running a step is one array load. */
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
