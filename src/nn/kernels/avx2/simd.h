/* avx2/simd.h - AVX2 helpers shared by the files in kernels/avx2/ (and only those: including it
 * elsewhere would put AVX2 instructions outside the folder that is compiled for them). */
#ifndef MIEN_NN_KERNELS_AVX2_SIMD_H
#define MIEN_NN_KERNELS_AVX2_SIMD_H

#include <immintrin.h>

#include "nn/kernels/kernels.h"

/* All-ones in the first n lanes (n may be <= 0 or >= 8), for masked loads and stores. */
static inline __m256i mien_mask8(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* The activation for output channel m (slope is only read, and may be NULL, unless PRELU). */
static inline __m256 mien_act8(__m256 v, mien_act act, const float *slope, int m) {
  if (act == MIEN_ACT_RELU) return _mm256_max_ps(v, _mm256_setzero_ps());
  if (act == MIEN_ACT_PRELU) /* blendv picks by sign bit: negative lanes take v * slope */
    return _mm256_blendv_ps(v, _mm256_mul_ps(v, _mm256_broadcast_ss(slope + m)), v);
  return v;
}

void mien_dwconv_avx2(const mien_dw_args *d, int c0, int c1);

#endif
