/* cpu.c - picks the kernel table once per process: AVX-512 when the CPU has AVX-512 F/BW/DQ/VL
 * and FMA, else AVX2 when it has AVX2 and FMA, else the portable one. MIEN_ISA=generic|avx2|avx512
 * overrides, so every path can be tested and compared on one machine; asking for an ISA the CPU
 * lacks falls back (with a warning) to the best one it has rather than crash on the first
 * illegal instruction. This is the only place in mien that looks at the CPU.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/kernels/kernels.h"

static const mien_kernels *chosen;
static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;

/* The tables from the most capable down; has[i] says whether this CPU can run tables[i]. */
static const mien_kernels *const tables[] = {&mien_kernels_avx512, &mien_kernels_avx2,
                                             &mien_kernels_generic};
#define NTABLES (int)(sizeof tables / sizeof *tables)

static void cpu_support(int has[NTABLES]) {
  has[0] = has[1] = 0;
  has[2] = 1;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  has[1] = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  has[0] = has[1] && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#endif
}

static void choose(void) {
  const char *want = getenv("MIEN_ISA");
  int has[NTABLES], best = 0, i;
  cpu_support(has);
  while (!has[best]) best++;
  chosen = tables[best];
  if (!want || !*want) return;
  for (i = 0; i < NTABLES && strcmp(want, tables[i]->isa) != 0; i++) continue;
  if (i == NTABLES)
    fprintf(stderr, "mien: unknown MIEN_ISA=%s (expected generic, avx2 or avx512); using %s\n",
            want, chosen->isa);
  else if (!has[i])
    fprintf(stderr, "mien: MIEN_ISA=%s but this CPU lacks it; using %s\n", want, chosen->isa);
  else
    chosen = tables[i];
}

const mien_kernels *mien_kernels_get(void) {
  pthread_once(&chosen_once, choose);
  return chosen;
}

const char *mien_isa_name(void) {
  return mien_kernels_get()->isa;
}
