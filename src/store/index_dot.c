/* index_dot.c - int8 dot products of one query against many stored rows: the inner loop of the
 * index scan (exact index.c and approximate ann.c), and the int8 quantiser behind them. A portable
 * kernel, an AVX2 one and an AVX-512 VNNI one; the SIMD kernels are compiled with function-level
 * target attributes and only ever called after mien_cpu_features (util/cpu.c) said yes, so the
 * binary still runs on CPUs without them.
 *
 * The scan is memory-bound (each row is read once per query), so the kernels only need to keep
 * up with the memory bus; they favour simplicity over register blocking.
 */
#include "store/index_dot.h"
#include "util/util.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define INDEX_DOT_X86 1
#endif

static void dots_generic(const int8_t *rows, size_t stride, size_t nrows, const int8_t *q,
                         int32_t *out) {
  for (size_t r = 0; r < nrows; r++) {
    const int8_t *row = rows + r * stride;
    int32_t acc = 0;
    /* Whole 64-byte chunks: a fixed trip count lets gcc -O2 vectorise the inner loop. */
    for (size_t j = 0; j < stride; j += INDEX_DOT_ALIGN)
      for (size_t l = 0; l < INDEX_DOT_ALIGN; l++) acc += (int32_t)row[j + l] * q[j + l];
    out[r] = acc;
  }
}

#ifdef INDEX_DOT_X86
/* AVX2 has no signed x signed byte multiply: maddubs takes |row| as unsigned and moves the row's
 * sign onto the query (vpsignb), giving exact int16 pair sums (|x| <= 2 * 127 * 127). */
__attribute__((target("avx2"))) static void dots_avx2(const int8_t *rows, size_t stride,
                                                      size_t nrows, const int8_t *q, int32_t *out) {
  const __m256i ones = _mm256_set1_epi16(1);
  for (size_t r = 0; r < nrows; r++) {
    const int8_t *row = rows + r * stride;
    __m256i acc = _mm256_setzero_si256();
    for (size_t j = 0; j < stride; j += 32) {
      __m256i v = _mm256_load_si256((const __m256i *)(row + j));
      __m256i w = _mm256_load_si256((const __m256i *)(q + j));
      __m256i p = _mm256_maddubs_epi16(_mm256_abs_epi8(v), _mm256_sign_epi8(w, v));
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, ones));
    }
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    out[r] = _mm_cvtsi128_si32(s);
  }
}

/* vpdpbusd multiplies unsigned by signed bytes into int32 without saturation. The row is made
 * unsigned by adding 128 (xor 0x80), so every sum gains 128 * sum(q), computed once a call and
 * subtracted: one vpdpbusd per 64 bytes of a row instead of a second one for the correction.
 * Rows are read one after another: interleaving four rows' loads (to overlap their vpdpbusd
 * chains) made the memory-bound exact scan half again slower; the core overlaps consecutive
 * rows' chains anyway. */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void
dots_avx512(const int8_t *rows, size_t stride, size_t nrows, const int8_t *q, int32_t *out) {
  const __m512i bias = _mm512_set1_epi8((char)0x80);
  __m512i c = _mm512_setzero_si512();
  for (size_t j = 0; j < stride; j += 64)
    c = _mm512_dpbusd_epi32(c, bias, _mm512_load_si512(q + j));
  int32_t corr = _mm512_reduce_add_epi32(c);
  for (size_t r = 0; r < nrows; r++) {
    const int8_t *row = rows + r * stride;
    __m512i acc = _mm512_setzero_si512();
    for (size_t j = 0; j < stride; j += 64) {
      __m512i u = _mm512_xor_si512(_mm512_load_si512(row + j), bias);
      acc = _mm512_dpbusd_epi32(acc, u, _mm512_load_si512(q + j));
    }
    out[r] = _mm512_reduce_add_epi32(acc) - corr;
  }
}
#endif

static const index_dot_kernel k_generic = {"generic", dots_generic};
#ifdef INDEX_DOT_X86
static const index_dot_kernel k_avx2 = {"avx2", dots_avx2};
static const index_dot_kernel k_avx512 = {"avx512", dots_avx512};
#endif

const index_dot_kernel *const index_dot_kernels[] = {
#ifdef INDEX_DOT_X86
    &k_avx512, &k_avx2,
#endif
    &k_generic, NULL};

int index_dot_supported(const index_dot_kernel *k) {
#ifdef INDEX_DOT_X86
  unsigned f = mien_cpu_features();
  if (k == &k_avx2) return (f & MIEN_CPU_AVX2) != 0;
  if (k == &k_avx512) return (f & MIEN_CPU_AVX512) && (f & MIEN_CPU_AVX512_VNNI);
#endif
  return k == &k_generic;
}

static const index_dot_kernel *chosen;
static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;

static void choose(void) {
  const char *names[8];
  int has[8], n = 0;
  for (; index_dot_kernels[n]; n++)
    names[n] = index_dot_kernels[n]->isa, has[n] = index_dot_supported(index_dot_kernels[n]);
  /* The engine already warned about a MIEN_ISA it cannot honour. */
  chosen = index_dot_kernels[mien_isa_choose(names, has, n, 0)];
}

const index_dot_kernel *index_dot_get(void) {
  pthread_once(&chosen_once, choose);
  return chosen;
}

void index_dot_set(const index_dot_kernel *k) {
  pthread_once(&chosen_once, choose);
  chosen = k;
}

size_t index_stride(int dim) {
  return ((size_t)dim + INDEX_DOT_ALIGN - 1) / INDEX_DOT_ALIGN * INDEX_DOT_ALIGN;
}

int index_usable(const float *v, int dim, double *norm2) {
  double s = 0;
  for (int i = 0; i < dim; i++) s += (double)v[i] * v[i];
  *norm2 = s;
  return s <= 1e30; /* false for NaN and infinities too */
}

float index_round_up(double x) {
  float f = (float)x;
  return (double)f < x ? nextafterf(f, INFINITY) : f;
}

index_code_meta index_quantise(const float *v, int dim, size_t stride, int8_t *codes) {
  float maxabs = 0;
  for (int i = 0; i < dim; i++) maxabs = fabsf(v[i]) > maxabs ? fabsf(v[i]) : maxabs;
  index_code_meta m = {maxabs / 127.0f, 0, 0};
  double err2 = 0, norm2 = 0;
  /* A subnormal scale gets all-zero codes (its inverse could overflow); err then is |v|. */
  float inv = m.scale >= FLT_MIN ? 1.0f / m.scale : 0;
  memset(codes, 0, stride);
  for (int i = 0; i < dim; i++) {
    long c = lrintf(v[i] * inv);
    c = c > 127 ? 127 : c < -127 ? -127 : c;
    codes[i] = (int8_t)c;
    double d = (double)m.scale * (double)c; /* exact: 24-bit by 8-bit product */
    err2 += ((double)v[i] - d) * ((double)v[i] - d);
    norm2 += d * d;
  }
  /* The double sums carry relative errors near 1e-13; the search's margin covers them. */
  m.err = index_round_up(sqrt(err2));
  m.norm = index_round_up(sqrt(norm2));
  return m;
}
