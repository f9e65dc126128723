/* ops.h - the operator definitions, one nn_op_def per ONNX operator (see nn.h). */
#ifndef MIEN_NN_OPS_H
#define MIEN_NN_OPS_H

#include "nn/nn.h"

extern const nn_op_def nn_op_conv, nn_op_gemm, nn_op_matmul;
extern const nn_op_def nn_op_relu, nn_op_prelu, nn_op_sigmoid, nn_op_exp, nn_op_softmax;
extern const nn_op_def nn_op_add, nn_op_sub, nn_op_mul, nn_op_div, nn_op_batchnorm;
extern const nn_op_def nn_op_maxpool, nn_op_resize;
extern const nn_op_def nn_op_reshape, nn_op_flatten, nn_op_transpose, nn_op_concat, nn_op_slice,
    nn_op_gather, nn_op_unsqueeze, nn_op_squeeze, nn_op_shape, nn_op_identity;

/* Conv output size and leading pads for a 1xCxHxW input; -1 if the kernel does not fit. */
int nn_conv_geometry(const nn_node *n, const nn_shape *in, int64_t kh, int64_t kw, int64_t *oh,
                     int64_t *ow, int64_t *pt, int64_t *pl);

/* Normalises a possibly negative axis against ndim (rank+1 for Unsqueeze); -1 if out of range. */
int nn_axis(int64_t axis, int ndim);

#endif
