/* avx512/conv_direct_avx512.c - direct dense convolution: conv_direct_impl.h over 16-float zmm
 * vectors, blocks of 8 output channels x 48 pixels (see there for the algorithm). */
#include "nn/kernels/avx512/simd.h"

#define DC_CB 8
#define DC_PV 3
#define MIEN_DIRECT_NAME mien_conv_direct_avx512

#include "nn/kernels/conv_direct_impl.h"
