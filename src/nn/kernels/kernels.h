/* kernels.h - the contract between operators and per-ISA compute kernels.
 *
 * Operators (src/nn/ops.c) decide *what* to compute: shapes, fusion, how work is split across
 * threads. Kernels decide *how*: register tiling, packing, SIMD. Every kernel exists in a portable
 * C version (kernels/generic/) and may have faster variants (kernels/avx2/, compiled with
 * -mavx2 -mfma; kernels/avx512/, with AVX-512 F/BW/DQ/VL as well). cpu.c picks one `mien_kernels`
 * table at start-up from CPUID, or from MIEN_ISA=generic|avx2|avx512, and nothing else in mien
 * looks at the CPU. Because only files under kernels/<isa>/ are compiled with ISA flags, no
 * AVX2 or AVX-512 instruction can run on a CPU without it.
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

/* The geometry every convolution kernel works on: C input channels of H x W, an output of
 * OH x OW per channel, a KH x KW kernel with strides SH, SW and dilations DH, DW. */
typedef struct {
  int C, H, W, OH, OW;
  int KH, KW, SH, SW, DH, DW;
  int PT, PL; /* top/left padding; bottom/right follow from OH, OW */
} mien_conv_geom;

/* Depthwise 2-D convolution, one filter per channel, over channels [c0, c1). */
typedef struct {
  mien_conv_geom geo;
  const float *weight; /* [C][KH][KW] */
  const float *in;     /* [C][H][W] */
  float *out;          /* [C][OH][OW] */
  mien_epilogue ep;    /* residual, if any, is [C][OH][OW] */
} mien_dw_args;

/* im2col for a dense (group 1) convolution: writes the [C*KH*KW] x [OH*OW] matrix for output
 * columns [n0, n1) into col (row stride ldcol), zeros where the window leaves the image.
 * Column n0 lands in column 0 of col, so a thread can lower its chunk into its own buffer. */
typedef struct {
  mien_conv_geom geo;
  const float *in;
  float *col;
  size_t ldcol;
} mien_im2col_args;

/* Direct dense (group 1) convolution, for layers where im2col would cost more than the
 * arithmetic: few input channels (the first layer), few output channels (detection heads and
 * the narrow branches of RFB blocks) or tiny maps. The weights are reordered (by
 * mien_direct_pack, which pack_a calls at plan time) so that the 16 output channels of a block
 * are contiguous for each tap. */
#define MIEN_DIRECT_CO 16
typedef struct {
  mien_conv_geom geo;
  int CO;
  const float *wt; /* [ceil(CO / 16)][C * KH * KW][16], zero past CO: see mien_direct_pack */
  const float *in; /* [C][H][W] */
  float *out;      /* [CO][OH][OW]; residual, if any, likewise */
  mien_epilogue ep;
} mien_direct_args;

/* Floats of wt, and of the scratch conv_direct needs: the input rows that a band of
 * MIEN_DIRECT_BAND output rows reads, zero-padded and split into SW phases (so every tap is a
 * contiguous load), as wide as the output rounded up to 16 pixels needs. A band's rows stay in
 * L1 while all its output channels are computed. */
static inline size_t mien_direct_wt_size(int CO, int K) {
  return (size_t)(CO + MIEN_DIRECT_CO - 1) / MIEN_DIRECT_CO * MIEN_DIRECT_CO * (size_t)K;
}
static inline int mien_direct_phase_len(const mien_direct_args *a) {
  return (a->geo.OW + 15) / 16 * 16 + (a->geo.KW - 1) * a->geo.DW / a->geo.SW + 1;
}
#define MIEN_DIRECT_BAND 8 /* output rows whose input rows are padded at a time */
static inline size_t mien_direct_scratch(const mien_direct_args *a) {
  int rin = (MIEN_DIRECT_BAND - 1) * a->geo.SH + (a->geo.KH - 1) * a->geo.DH + 1;
  return (size_t)a->geo.C * (size_t)rin * (size_t)a->geo.SW * (size_t)mien_direct_phase_len(a);
}
/* pack_a appends the wt layout after the GEMM panels of the M x K weights it packs when this
 * holds (small M or K, so the copy is small), which lets a direct Conv use weights packed once
 * at plan time: they are the last mien_direct_wt_size(M, K) floats of the packed buffer. */
static inline int mien_direct_weights(int M, int K) {
  return M <= MIEN_DIRECT_CO || K <= 64;
}
/* w [CO][K] (a Conv's weights, row stride ldw) into the wt layout. */
static inline void mien_direct_pack(int CO, int K, const float *w, size_t ldw, float *wt) {
  for (int b = 0; b < CO; b += MIEN_DIRECT_CO)
    for (int k = 0; k < K; k++)
      for (int j = 0; j < MIEN_DIRECT_CO; j++)
        *wt++ = b + j < CO ? w[(size_t)(b + j) * ldw + k] : 0.0f;
}

typedef struct {
  const char *isa; /* "generic", "avx2" or "avx512" */
  /* Packed size (floats) of an M x K weight matrix, and the packing itself (A row-major, lda);
   * see mien_direct_weights for what it appends. */
  size_t (*pack_a_size)(int M, int K);
  void (*pack_a)(int M, int K, const float *a, size_t lda, float *packed);
  /* Scratch floats one sgemm call on up to n columns may use (per thread), e.g. a packed B. */
  size_t (*gemm_scratch_size)(int K, int n);
  void (*sgemm)(const mien_gemm_args *g, int n0, int n1, float *scratch);
  void (*dwconv)(const mien_dw_args *d, int c0, int c1);
  void (*im2col)(const mien_im2col_args *a, int n0, int n1);
  /* Output rows [oh0, oh1) of every channel; scratch holds mien_direct_scratch(a) floats. */
  void (*conv_direct)(const mien_direct_args *a, int oh0, int oh1, float *scratch);
} mien_kernels;

/* The table for this CPU (or MIEN_ISA), chosen once; thread-safe after the first call. */
const mien_kernels *mien_kernels_get(void);

/* Name of that table's ISA ("generic", "avx2" or "avx512"), for logs and benchmarks. */
const char *mien_isa_name(void);

/* Per-ISA tables; a table for an ISA the build did not include is NULL. */
extern const mien_kernels mien_kernels_generic;
extern const mien_kernels mien_kernels_avx2;
extern const mien_kernels mien_kernels_avx512;

#endif
