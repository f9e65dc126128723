/* ann_scan.h - the "fast scan" kernels of the ANN index (ann.c): 4-bit product-quantised codes
 * of 32 faces at a time summed through a per-query table of uint8 partial scores held in
 * registers, one kernel per ISA, chosen once per process at run time like index_dot.h's.
 * Internal to src/store; the tests run every kernel this CPU has on the same blocks.
 *
 * A block holds 32 faces' codes for M sub-spaces (M a multiple of 4, at most ANN_SCAN_MAX_M), 16
 * bytes per sub-space: byte j of sub-space m holds face j's code in its low nibble and face
 * j + 16's in its high one. So one 16-byte row is one table lookup (pshufb) for 16 faces, and
 * a 32-byte (AVX2) or 64-byte (AVX-512) load covers 2 or 4 sub-spaces.
 */
#ifndef MIEN_STORE_ANN_SCAN_H
#define MIEN_STORE_ANN_SCAN_H

#include <stddef.h>
#include <stdint.h>

#define ANN_SCAN_BLOCK 32 /* faces per block */
/* Sums of M uint8 entries stay below 32768, so signed 16-bit compares hold. */
#define ANN_SCAN_MAX_M 128

/* Bytes of one block of M sub-spaces. */
#define ANN_SCAN_BLOCK_BYTES(m) ((size_t)(m)*16)

/* sums[j] = sum over m < M of lut[m * 16 + code(block, face j, sub-space m)] for j < 32; returns
 * the mask of faces j < n (n <= 32) whose sum is > thr (thr in -1..32767). lut holds M x 16
 * bytes. */
typedef uint32_t (*ann_scan_fn)(const uint8_t *block, int m, const uint8_t *lut, int n, int thr,
                                uint16_t *sums);

typedef struct {
  const char *isa; /* "generic", "avx2", "avx512": the names MIEN_ISA takes */
  ann_scan_fn scan;
} ann_scan_kernel;

/* The kernel for this process: the most capable the CPU runs, capped by MIEN_ISA. */
const ann_scan_kernel *ann_scan_get(void);

/* All kernels, most capable first, NULL-terminated, and whether this CPU can run one. */
extern const ann_scan_kernel *const ann_scan_kernels[];
int ann_scan_supported(const ann_scan_kernel *k);

/* Face j's code of sub-space m in a block / sets it (the other nibble of its byte kept). */
static inline unsigned ann_scan_code(const uint8_t *block, int m, int j) {
  uint8_t b = block[m * 16 + (j & 15)];
  return j < 16 ? b & 15u : b >> 4;
}

static inline void ann_scan_set(uint8_t *block, int m, int j, unsigned code) {
  uint8_t *b = &block[m * 16 + (j & 15)];
  *b = j < 16 ? (uint8_t)((*b & 0xf0) | code) : (uint8_t)((*b & 0x0f) | code << 4);
}

#endif
