/* ann_scan.c - the fast-scan kernels of ann_scan.h: a portable one, AVX2 and AVX-512BW. As in
 * index_dot.c, the SIMD kernels are compiled with function-level target attributes and only
 * called after mien_cpu_features (util/cpu.c) said yes.
 *
 * The SIMD kernels split each code byte into its two nibbles (faces 0-15 and 16-31), look both
 * up in the register holding those sub-spaces' 16-entry tables (pshufb works per 128-bit lane,
 * one sub-space a lane), widen the uint8 results to uint16 and add them into four accumulators
 * (faces 0-7, 8-15, 16-23, 24-31), whose lanes (different sub-spaces) are added at the end.
 * Every sum is exact, so all kernels agree bit for bit (tests/test_ann.c).
 */
#include "store/ann_scan.h"
#include "util/util.h"

#include <pthread.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define ANN_SCAN_X86 1
#endif

static uint32_t scan_generic(const uint8_t *block, int m, const uint8_t *lut, int n, int thr,
                             uint16_t *sums) {
  unsigned s[ANN_SCAN_BLOCK] = {0};
  for (int k = 0; k < m; k++) /* a row at a time: each byte holds faces j and j + 16 */
    for (int j = 0; j < 16; j++) {
      uint8_t b = block[k * 16 + j];
      s[j] += lut[k * 16 + (b & 15)];
      s[j + 16] += lut[k * 16 + (b >> 4)];
    }
  uint32_t mask = 0;
  for (int j = 0; j < ANN_SCAN_BLOCK; j++) {
    sums[j] = (uint16_t)s[j];
    if (j < n && (int)s[j] > thr) mask |= 1u << j;
  }
  return mask;
}

#ifdef ANN_SCAN_X86
/* The mask of faces whose sums (4 x 8 uint16: faces 0-7, 8-15, 16-23, 24-31) exceed thr. */
__attribute__((target("avx2"))) static uint32_t
sums_mask(__m128i s0, __m128i s1, __m128i s2, __m128i s3, int n, int thr, uint16_t *sums) {
  _mm_storeu_si128((__m128i *)sums, s0);
  _mm_storeu_si128((__m128i *)(sums + 8), s1);
  _mm_storeu_si128((__m128i *)(sums + 16), s2);
  _mm_storeu_si128((__m128i *)(sums + 24), s3);
  __m128i t = _mm_set1_epi16((short)thr);
  uint32_t lo =
      (uint32_t)_mm_movemask_epi8(_mm_packs_epi16(_mm_cmpgt_epi16(s0, t), _mm_cmpgt_epi16(s1, t)));
  uint32_t hi =
      (uint32_t)_mm_movemask_epi8(_mm_packs_epi16(_mm_cmpgt_epi16(s2, t), _mm_cmpgt_epi16(s3, t)));
  uint32_t mask = lo | hi << 16;
  return n >= ANN_SCAN_BLOCK ? mask : mask & ((1u << n) - 1);
}

__attribute__((target("avx2"))) static uint32_t
scan_avx2(const uint8_t *block, int m, const uint8_t *lut, int n, int thr, uint16_t *sums) {
  const __m256i low = _mm256_set1_epi8(0x0f), zero = _mm256_setzero_si256();
  __m256i a0 = zero, a1 = zero, a2 = zero, a3 = zero;
  for (int k = 0; k < m; k += 2) { /* sub-spaces k (low lane) and k + 1 (high lane) */
    __m256i v = _mm256_loadu_si256((const __m256i *)(block + k * 16));
    __m256i t = _mm256_loadu_si256((const __m256i *)(lut + k * 16));
    __m256i rl = _mm256_shuffle_epi8(t, _mm256_and_si256(v, low));
    __m256i rh = _mm256_shuffle_epi8(t, _mm256_and_si256(_mm256_srli_epi16(v, 4), low));
    a0 = _mm256_add_epi16(a0, _mm256_unpacklo_epi8(rl, zero));
    a1 = _mm256_add_epi16(a1, _mm256_unpackhi_epi8(rl, zero));
    a2 = _mm256_add_epi16(a2, _mm256_unpacklo_epi8(rh, zero));
    a3 = _mm256_add_epi16(a3, _mm256_unpackhi_epi8(rh, zero));
  }
#define LANES2(a) _mm_add_epi16(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1))
  return sums_mask(LANES2(a0), LANES2(a1), LANES2(a2), LANES2(a3), n, thr, sums);
#undef LANES2
}

__attribute__((target("avx512f,avx512bw"))) static __m128i lanes4(__m512i a) {
  __m256i h = _mm256_add_epi16(_mm512_castsi512_si256(a), _mm512_extracti64x4_epi64(a, 1));
  return _mm_add_epi16(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

__attribute__((target("avx512f,avx512bw"))) static uint32_t
scan_avx512(const uint8_t *block, int m, const uint8_t *lut, int n, int thr, uint16_t *sums) {
  const __m512i low = _mm512_set1_epi8(0x0f), zero = _mm512_setzero_si512();
  __m512i a0 = zero, a1 = zero, a2 = zero, a3 = zero;
  for (int k = 0; k < m; k += 4) { /* sub-spaces k .. k + 3, one a lane */
    __m512i v = _mm512_loadu_si512(block + k * 16);
    __m512i t = _mm512_loadu_si512(lut + k * 16);
    __m512i rl = _mm512_shuffle_epi8(t, _mm512_and_si512(v, low));
    __m512i rh = _mm512_shuffle_epi8(t, _mm512_and_si512(_mm512_srli_epi16(v, 4), low));
    a0 = _mm512_add_epi16(a0, _mm512_unpacklo_epi8(rl, zero));
    a1 = _mm512_add_epi16(a1, _mm512_unpackhi_epi8(rl, zero));
    a2 = _mm512_add_epi16(a2, _mm512_unpacklo_epi8(rh, zero));
    a3 = _mm512_add_epi16(a3, _mm512_unpackhi_epi8(rh, zero));
  }
  return sums_mask(lanes4(a0), lanes4(a1), lanes4(a2), lanes4(a3), n, thr, sums);
}
#endif

static const ann_scan_kernel k_generic = {"generic", scan_generic};
#ifdef ANN_SCAN_X86
static const ann_scan_kernel k_avx2 = {"avx2", scan_avx2};
static const ann_scan_kernel k_avx512 = {"avx512", scan_avx512};
#endif

const ann_scan_kernel *const ann_scan_kernels[] = {
#ifdef ANN_SCAN_X86
    &k_avx512, &k_avx2,
#endif
    &k_generic, NULL};

int ann_scan_supported(const ann_scan_kernel *k) {
#ifdef ANN_SCAN_X86
  unsigned f = mien_cpu_features();
  if (k == &k_avx2) return (f & MIEN_CPU_AVX2) != 0;
  if (k == &k_avx512) return (f & MIEN_CPU_AVX512) != 0;
#endif
  return k == &k_generic;
}

static const ann_scan_kernel *chosen;
static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;

static void choose(void) {
  const char *names[8];
  int has[8], n = 0;
  for (; ann_scan_kernels[n]; n++)
    names[n] = ann_scan_kernels[n]->isa, has[n] = ann_scan_supported(ann_scan_kernels[n]);
  chosen = ann_scan_kernels[mien_isa_choose(names, has, n, 0)];
}

const ann_scan_kernel *ann_scan_get(void) {
  pthread_once(&chosen_once, choose);
  return chosen;
}
