/* avx2/dwconv_avx2.c - AVX2+FMA depthwise convolution: dwconv_impl.h over 8-float ymm vectors
 * (see there for the algorithm). */
#include "nn/kernels/avx2/simd.h"

#define MIEN_DW_NAME mien_dwconv_avx2

#include "nn/kernels/dwconv_impl.h"
