/* check.h - the whole test framework: CHECK macros, named cases, skip, and a summary line.
 * Each tests/test_*.c is one ctest case; its exit code is the verdict (77 = skipped all). */
#ifndef MIEN_TEST_CHECK_H
#define MIEN_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures_, check_cases_, check_skips_, check_failed_cases_;

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                     \
      check_failures_++;                                                                           \
    }                                                                                              \
  } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);                     \
      fprintf(stderr, __VA_ARGS__);                                                                \
      fputc('\n', stderr);                                                                         \
      check_failures_++;                                                                           \
    }                                                                                              \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                                                      \
  CHECK_MSG(fabs((double)(a) - (double)(b)) <= (tol), "%g vs %g (tol %g)", (double)(a),            \
            (double)(b), (double)(tol))

/* Runs one case and reports it under `label`; a case that calls TEST_SKIP counts as skipped. */
#define RUN_AS(label, call)                                                                        \
  do {                                                                                             \
    int before_ = check_failures_, skips_ = check_skips_;                                          \
    call;                                                                                          \
    check_cases_++;                                                                                \
    check_failed_cases_ += check_failures_ != before_;                                             \
    printf("%s %s\n",                                                                              \
           check_failures_ != before_ ? "FAIL"                                                     \
           : check_skips_ != skips_   ? "SKIP"                                                     \
                                      : "ok  ",                                                      \
           label);                                                                                 \
    fflush(stdout);                                                                                \
  } while (0)
#define RUN(fn) RUN_AS(#fn, fn())

#define TEST_SKIP(...)                                                                             \
  do {                                                                                             \
    printf("  skipped: ");                                                                         \
    printf(__VA_ARGS__);                                                                           \
    printf("\n");                                                                                  \
    check_skips_++;                                                                                \
    return;                                                                                        \
  } while (0)

/* The exit code: 1 on any failure, 77 (ctest: Skipped) when every case skipped, else 0. */
static inline int check_summary(void) {
  printf("%d passed, %d failed, %d skipped\n", check_cases_ - check_skips_ - check_failed_cases_,
         check_failed_cases_, check_skips_);
  return check_failures_ ? 1 : check_cases_ && check_skips_ == check_cases_ ? 77 : 0;
}

/* The photos shipped with the tests (tests/data/README.md; ctest runs in the source tree), into
 * buf. */
static inline const char *test_data_path(char *buf, size_t n, const char *name) {
  snprintf(buf, n, "tests/data/%s", name);
  return buf;
}

/* The evaluation data beside the checkout (../shared): LFW and the annotated sets. */
static inline const char *shared_dir(void) {
  const char *s = getenv("MIEN_SHARED");
  return s ? s : "../shared";
}

static inline int file_exists(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f) fclose(f);
  return f != NULL;
}

#endif
