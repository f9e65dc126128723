/* cpu.c - picks the kernel table once per process: AVX2 when the CPU has AVX2 and FMA, else the
 * portable one. MIEN_ISA=generic|avx2 overrides, so both paths can be tested and compared on one
 * machine; asking for an ISA the CPU lacks falls back (with a warning) rather than crash on the
 * first illegal instruction. This is the only place in mien that looks at the CPU.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/kernels/kernels.h"

static const mien_kernels *chosen;
static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;

static int cpu_has_avx2(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return 0;
#endif
}

static void choose(void) {
  const char *want = getenv("MIEN_ISA");
  int avx2 = cpu_has_avx2();
  chosen = avx2 ? &mien_kernels_avx2 : &mien_kernels_generic;
  if (!want || !*want) return;
  if (strcmp(want, "generic") == 0) {
    chosen = &mien_kernels_generic;
  } else if (strcmp(want, "avx2") == 0) {
    if (!avx2) fprintf(stderr, "mien: MIEN_ISA=avx2 but this CPU lacks AVX2/FMA; using generic\n");
  } else {
    fprintf(stderr, "mien: unknown MIEN_ISA=%s (expected generic or avx2); using %s\n", want,
            chosen->isa);
  }
}

const mien_kernels *mien_kernels_get(void) {
  pthread_once(&chosen_once, choose);
  return chosen;
}

const char *mien_isa_name(void) {
  return mien_kernels_get()->isa;
}
