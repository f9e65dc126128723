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

/* The vector operations of dwconv_impl.h and conv_direct_impl.h. */
#define V __m256
#define VW 8
#define v_load(p) _mm256_loadu_ps(p)
#define v_loadn(p, n) _mm256_maskload_ps((p), mien_mask8(n))
#define v_store(p, v) _mm256_storeu_ps((p), (v))
#define v_storen(p, v, n) _mm256_maskstore_ps((p), mien_mask8(n), (v))
#define v_set1(x) _mm256_set1_ps(x)
#define v_zero() _mm256_setzero_ps()
#define v_add(a, b) _mm256_add_ps((a), (b))
#define v_fmadd(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define v_act(v, act, slope, m) mien_act8((v), (act), (slope), (m))

static inline float v_hsum(__m256 s) {
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_movehdup_ps(h));
  return _mm_cvtss_f32(h);
}

/* src[0..15] to e[0..7] (even columns) and o[0..7] (odd columns) */
static inline void v_deinterleave(const float *src, float *e, float *o) {
  __m256 a = _mm256_loadu_ps(src), b = _mm256_loadu_ps(src + 8);
  __m256 ev = _mm256_shuffle_ps(a, b, 0x88), od = _mm256_shuffle_ps(a, b, 0xdd);
  /* shuffle_ps leaves pairs in order (0 1)(4 5)(2 3)(6 7); restore it */
  _mm256_storeu_ps(e, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), 0xd8)));
  _mm256_storeu_ps(o, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(od), 0xd8)));
}

void mien_dwconv_avx2(const mien_dw_args *d, int c0, int c1);
void mien_conv_direct_avx2(const mien_direct_args *a, int oh0, int oh1, float *scratch);

#endif
