/* fpu.h - denormal floats flushed to zero while the engine computes.
 *
 * The default models carry thousands of denormal weights (fr_feature ~9k, fr_landmark ~27k);
 * on x86 every multiply that touches one takes a microcode assist, about 100x slower, which
 * made fr_feature 4x slower in ONNX Runtime here. rewrite.c zeroes such weights and these
 * helpers set FTZ/DAZ for the duration of a run (restoring the caller's mode afterwards), so
 * denormal activations cannot appear either. Results change by less than 1e-38.
 */
#ifndef MIEN_NN_FPU_H
#define MIEN_NN_FPU_H

#if defined(__SSE__)
#include <xmmintrin.h>
#define NN_FTZ_DAZ 0x8040u /* MXCSR flush-to-zero (bit 15) | denormals-are-zero (bit 6) */
static inline unsigned nn_fpu_enter(void) {
  unsigned old = _mm_getcsr();
  _mm_setcsr(old | NN_FTZ_DAZ);
  return old;
}
static inline void nn_fpu_leave(unsigned old) {
  _mm_setcsr(old);
}
#else
static inline unsigned nn_fpu_enter(void) {
  return 0;
}
static inline void nn_fpu_leave(unsigned old) {
  (void)old;
}
#endif

#endif
