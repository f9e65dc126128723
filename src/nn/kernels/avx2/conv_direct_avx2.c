/* avx2/conv_direct_avx2.c - direct dense convolution: conv_direct_impl.h over 8-float ymm
 * vectors, blocks of 4 output channels x 24 pixels (see there for the algorithm). */
#include "nn/kernels/avx2/simd.h"

#define DC_CB 4
#define DC_PV 3
#define MIEN_DIRECT_NAME mien_conv_direct_avx2

#include "nn/kernels/conv_direct_impl.h"
