/* avx512/dwconv_avx512.c - AVX-512 depthwise convolution: dwconv_impl.h over 16-float zmm
 * vectors (see there for the algorithm); edges use mask registers. */
#include "nn/kernels/avx512/simd.h"

#define MIEN_DW_NAME mien_dwconv_avx512

#include "nn/kernels/dwconv_impl.h"
