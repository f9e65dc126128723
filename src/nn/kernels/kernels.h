/* kernels.h - the contract between operators and per-ISA compute kernels.
 *
 * Operators (src/nn/ops.c) decide *what* to compute: shapes, fusion, how work is split across
 * threads. Kernels decide *how*: register tiling, packing, SIMD. Every kernel exists in a portable
 * C version (kernels/generic/) and may have faster variants (kernels/avx2/, compiled with
 * -mavx2 -mfma). cpu.c fills one `mien_kernels` table at start-up from CPUID, or from
 * MIEN_ISA=generic|avx2, and nothing else in mien looks at the CPU. Because only files under
 * kernels/<isa>/ are compiled with ISA flags, no AVX2 instruction can run on a CPU without it.
 *
 * All tensors are float32, NCHW, batch 1, densely packed unless a stride says otherwise.
 */
#ifndef MIEN_NN_KERNELS_H
#define MIEN_NN_KERNELS_H

#include <stddef.h>

typedef enum { MIEN_ACT_NONE = 0, MIEN_ACT_RELU, MIEN_ACT_PRELU } mien_act;

/* What happens to each accumulator before it is stored, row m (= output channel m):
 *   y = act(acc + bias[m] + residual[...])
 * act is applied last so that Conv -> Add -> Relu fuses; PRELU uses slope[m]. */
typedef struct {
  const float *bias;     /* [M] or NULL */
  const float *residual; /* same layout and stride as the output, or NULL */
  const float *slope;    /* [M] when act == MIEN_ACT_PRELU */
  mien_act act;
} mien_epilogue;

/* C[M x N] = A[M x K] * B[K x N], then the epilogue. A is the weight matrix, packed once at
 * plan time by pack_a; B and C are row-major with row strides ldb and ldc (floats). The caller
 * splits the work across threads by column ranges [n0, n1): a kernel call touches only those
 * columns of B, C and residual. */
typedef struct {
  int M, N, K;
  const float *a_packed; /* from pack_a */
  const float *b;
  size_t ldb;
  float *c;
  size_t ldc;
  mien_epilogue ep;
} mien_gemm_args;

/* Depthwise 2-D convolution, one filter per channel, over channels [c0, c1). */
typedef struct {
  int C, H, W, OH, OW;
  int KH, KW, SH, SW, DH, DW;
  int PT, PL;          /* top/left padding; bottom/right follow from OH, OW */
  const float *weight; /* [C][KH][KW] */
  const float *in;     /* [C][H][W] */
  float *out;          /* [C][OH][OW] */
  mien_epilogue ep;    /* residual, if any, is [C][OH][OW] */
} mien_dw_args;

/* im2col for a dense (group 1) convolution: writes the [C*KH*KW] x [OH*OW] matrix for output
 * columns [n0, n1) into col (row stride ldcol), zeros where the window leaves the image.
 * Column n0 lands in column 0 of col, so a thread can lower its chunk into its own buffer. */
typedef struct {
  int C, H, W, OH, OW;
  int KH, KW, SH, SW, DH, DW, PT, PL;
  const float *in;
  float *col;
  size_t ldcol;
} mien_im2col_args;

typedef struct {
  const char *isa; /* "generic" or "avx2" */
  /* Packed size (floats) of an M x K weight matrix, and the packing itself (A row-major, lda). */
  size_t (*pack_a_size)(int M, int K);
  void (*pack_a)(int M, int K, const float *a, size_t lda, float *packed);
  /* Scratch floats one sgemm call on up to n columns may use (per thread), e.g. a packed B. */
  size_t (*gemm_scratch_size)(int K, int n);
  void (*sgemm)(const mien_gemm_args *g, int n0, int n1, float *scratch);
  void (*dwconv)(const mien_dw_args *d, int c0, int c1);
  void (*im2col)(const mien_im2col_args *a, int n0, int n1);
} mien_kernels;

/* The table for this CPU (or MIEN_ISA), chosen once; thread-safe after the first call. */
const mien_kernels *mien_kernels_get(void);

/* Name of that table's ISA ("generic" or "avx2"), for logs and benchmarks. */
const char *mien_isa_name(void);

/* Per-ISA tables; a table for an ISA the build did not include is NULL. */
extern const mien_kernels mien_kernels_generic;
extern const mien_kernels mien_kernels_avx2;

#endif
