/* replay.c - the main() that turns a fuzz target into an ordinary program: each file named on the
 * command line goes through LLVMFuzzerTestOneInput once, in order. Linked with every
 * fuzz/fuzz_<name>.c as replay_<name> in the normal and the sanitizer builds (gcc, no libFuzzer),
 * so tests/test_fuzz_regressions.sh can replay the seed corpora and every crash ever found
 * without clang: a bug once fixed stays fixed in each ctest configuration.
 *
 * Each file's name is printed before it runs, so when a replay crashes the last line names the
 * input that did it. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "util/util.h"

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s INPUT...\n", argv[0]);
    return 2;
  }
  for (int i = 1; i < argc; i++) {
    size_t len;
    uint8_t *data = mien_read_file(argv[i], &len);
    if (!data) {
      perror(argv[i]);
      return 1;
    }
    printf("run  %s\n", argv[i]);
    fflush(stdout);
    LLVMFuzzerTestOneInput(data, len);
    free(data);
  }
  printf("%d inputs replayed\n", argc - 1);
  return 0;
}
