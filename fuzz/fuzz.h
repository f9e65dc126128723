/* fuzz.h - libFuzzer's entry point, declared once for the fuzz targets and replay.c: the targets
 * are plain C files built twice, by clang with libFuzzer's main (MIEN_FUZZ) and by gcc with
 * replay.c's, and no header of either toolchain declares it. */
#ifndef MIEN_FUZZ_H
#define MIEN_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Runs one input and must not keep it; returns 0 (libFuzzer reserves other values). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant: says which and aborts, which both libFuzzer and replay count as a crash. */
#define FUZZ_ASSERT(cond)                                                                          \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);                 \
      abort();                                                                                     \
    }                                                                                              \
  } while (0)

#endif
