/* timing.c - the clock and the order statistics the benchmarks report. */
#include <stdlib.h>
#include <time.h>

#include "util/util.h"

double mien_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

void mien_sort_doubles(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
}

double mien_median(double *v, int n) {
  mien_sort_doubles(v, n);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
