/* cpu.c - the one place mien asks the CPU what it can run, and the one reader of MIEN_ISA, for
 * both the inference kernels (src/nn/cpu.c) and the search index's dot products
 * (src/store/index_dot.c). Each keeps its own kernel families, most capable first; MIEN_ISA names
 * one to start from, and the choice goes down the list to the first this CPU supports, so that a
 * test can force every path on one machine and asking for an ISA the CPU lacks falls back rather
 * than crash on the first illegal instruction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

unsigned mien_cpu_features(void) {
  unsigned f = 0;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) f |= MIEN_CPU_AVX2;
  if (__builtin_cpu_supports("fma")) f |= MIEN_CPU_FMA;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    f |= MIEN_CPU_AVX512;
  if (__builtin_cpu_supports("avx512vnni")) f |= MIEN_CPU_AVX512_VNNI;
#endif
  return f;
}

int mien_isa_choose(const char *const *names, const int *supported, int n, int warn) {
  const char *want = getenv("MIEN_ISA");
  int best = 0, i = 0;
  while (best < n - 1 && !supported[best]) best++;
  if (!want || !*want) return best;
  while (i < n && strcmp(want, names[i]) != 0) i++;
  if (i == n) {
    if (warn)
      fprintf(stderr, "mien: unknown MIEN_ISA=%s (expected generic, avx2 or avx512); using %s\n",
              want, names[best]);
    return best;
  }
  int from = i;
  while (i < n - 1 && !supported[i]) i++;
  if (warn && i != from)
    fprintf(stderr, "mien: MIEN_ISA=%s but this CPU lacks it; using %s\n", want, names[i]);
  return i;
}
