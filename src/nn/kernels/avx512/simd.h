/* avx512/simd.h - AVX-512 helpers shared by the files in kernels/avx512/ (and only those:
 * including it elsewhere would put AVX-512 instructions outside the folder compiled for them). */
#ifndef MIEN_NN_KERNELS_AVX512_SIMD_H
#define MIEN_NN_KERNELS_AVX512_SIMD_H

#include <immintrin.h>

#include "nn/kernels/kernels.h"

/* The first n lanes (n may be <= 0 or >= 16), for masked loads and stores. */
static inline __mmask16 mien_mask16(int n) {
  return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* The activation for output channel m (slope is only read, and may be NULL, unless PRELU). */
static inline __m512 mien_act16(__m512 v, mien_act act, const float *slope, int m) {
  if (act == MIEN_ACT_RELU) return _mm512_max_ps(v, _mm512_setzero_ps());
  if (act == MIEN_ACT_PRELU)
    return _mm512_mask_mul_ps(v, _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ), v,
                              _mm512_set1_ps(slope[m]));
  return v;
}

/* The vector operations of dwconv_impl.h and conv_direct_impl.h. */
#define V __m512
#define VW 16
#define v_load(p) _mm512_loadu_ps(p)
#define v_loadn(p, n) _mm512_maskz_loadu_ps(mien_mask16(n), (p))
#define v_store(p, v) _mm512_storeu_ps((p), (v))
#define v_storen(p, v, n) _mm512_mask_storeu_ps((p), mien_mask16(n), (v))
#define v_set1(x) _mm512_set1_ps(x)
#define v_zero() _mm512_setzero_ps()
#define v_add(a, b) _mm512_add_ps((a), (b))
#define v_fmadd(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define v_act(v, act, slope, m) mien_act16((v), (act), (slope), (m))
#define v_hsum(v) _mm512_reduce_add_ps(v)

/* src[0..31] to e[0..15] (even columns) and o[0..15] (odd columns) */
static inline void v_deinterleave(const float *src, float *e, float *o) {
  __m512 a = _mm512_loadu_ps(src), b = _mm512_loadu_ps(src + 16);
  __m512i ei = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  __m512i oi = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  _mm512_storeu_ps(e, _mm512_permutex2var_ps(a, ei, b));
  _mm512_storeu_ps(o, _mm512_permutex2var_ps(a, oi, b));
}

void mien_dwconv_avx512(const mien_dw_args *d, int c0, int c1);
void mien_conv_direct_avx512(const mien_direct_args *a, int oh0, int oh1, float *scratch);

#endif
