/* index_dot.h - the int8 dot-product kernels that the index scan runs over every stored vector,
 * one per ISA, chosen once per process at run time (index_dot.c). Internal to src/store; the
 * tests use it to run every kernel this CPU has in one process.
 */
#ifndef MIEN_STORE_INDEX_DOT_H
#define MIEN_STORE_INDEX_DOT_H

#include <stddef.h>
#include <stdint.h>

/* Row codes are padded to a multiple of this many bytes (zeros) and aligned to it, so kernels
 * run whole 64-byte vectors with aligned loads and no tails. */
#define INDEX_DOT_ALIGN 64

/* out[r] = sum_j rows[r * stride + j] * q[j] for r < nrows, j < stride. stride is a multiple of
 * INDEX_DOT_ALIGN, rows and q are aligned to it, and every code lies in -127..127 (never -128:
 * the AVX2 kernel's pairwise int16 sums then cannot saturate). Exact for stride <= 65536. */
typedef void (*index_dot_fn)(const int8_t *rows, size_t stride, size_t nrows, const int8_t *q,
                             int32_t *out);

typedef struct {
  const char *isa; /* "generic", "avx2", "avx512": the names MIEN_ISA takes */
  index_dot_fn dots;
} index_dot_kernel;

/* The kernel for this process: the most capable one the CPU runs, no more capable than
 * MIEN_ISA=generic|avx2|avx512 names (read once; an unknown name caps nothing). */
const index_dot_kernel *index_dot_get(void);

/* All kernels, most capable first, NULL-terminated, and whether this CPU can run one. */
extern const index_dot_kernel *const index_dot_kernels[];
int index_dot_supported(const index_dot_kernel *k);

/* Bytes of codes per vector of dim floats: dim rounded up to INDEX_DOT_ALIGN. */
size_t index_stride(int dim);

/* Whether v can be indexed or searched: finite, and small enough (|v| <= 1e15; L2-normalised
 * vectors have 1) that no score or bound overflows a float. *norm2 gets |v|^2. */
int index_usable(const float *v, int dim, double *norm2);

/* The int8 code of a vector: q = round(v * 127 / max|v|), one scale per vector, and the norms
 * the exact index bounds its estimates with (index.c explains the bound). */
typedef struct {
  float scale; /* code * scale = dequantised value */
  float err;   /* |e|: the norm of the quantisation error, rounded up */
  float norm;  /* |v'|: the norm of the dequantised vector, rounded up */
} index_code_meta;

/* Quantises v into codes (stride bytes, zero padded) and returns its metadata. */
index_code_meta index_quantise(const float *v, int dim, size_t stride, int8_t *codes);

/* Rounds a non-negative double up to a float that is >= it, so bounds stay bounds. */
float index_round_up(double x);

/* Makes k (which must be supported) the kernel of later searches. For tests: not thread-safe
 * against running searches. */
void index_dot_set(const index_dot_kernel *k);

#endif
