/* cpu.c - picks the kernel table once per process: AVX-512 when the CPU has AVX-512 F/BW/DQ/VL
 * and FMA, else AVX2 when it has AVX2 and FMA, else the portable one. MIEN_ISA=generic|avx2|avx512
 * overrides, so every path can be tested and compared on one machine; asking for an ISA the CPU
 * lacks falls back (with a warning) to the best one it has rather than crash on the first
 * illegal instruction. The CPU's features and MIEN_ISA are read by util/cpu.c, shared with the
 * search index.
 */
#include <pthread.h>

#include "nn/kernels/kernels.h"
#include "util/util.h"

static const mien_kernels *chosen;
static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;

/* The tables from the most capable down. */
static const mien_kernels *const tables[] = {&mien_kernels_avx512, &mien_kernels_avx2,
                                             &mien_kernels_generic};
#define NTABLES (int)(sizeof tables / sizeof *tables)

static void choose(void) {
  unsigned f = mien_cpu_features();
  int avx2 = (f & MIEN_CPU_AVX2) && (f & MIEN_CPU_FMA);
  const int has[NTABLES] = {avx2 && (f & MIEN_CPU_AVX512), avx2, 1};
  const char *names[NTABLES];
  for (int i = 0; i < NTABLES; i++) names[i] = tables[i]->isa;
  chosen = tables[mien_isa_choose(names, has, NTABLES, 1)];
}

const mien_kernels *mien_kernels_get(void) {
  pthread_once(&chosen_once, choose);
  return chosen;
}

const char *mien_isa_name(void) {
  return mien_kernels_get()->isa;
}
