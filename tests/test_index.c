/* test_index.c - the collection search index (src/store/index.c) returns exactly what a
 * brute-force scan returns, ids, scores and order, for every int8 kernel this CPU has, with 1 to
 * 3 threads, on random data and on data built to defeat the int8 pre-scan: near-ties that
 * quantise alike, duplicates, coordinates on rounding boundaries, rounding errors aligned with
 * the query, removes and re-adds; in dimensions 3 to 512.
 */
#include <stdint.h>

#include "check.h"
#include "store/index.h"
#include "store/index_dot.h"

static uint64_t rng = 88172645463325252ull;

static double uniform(void) { /* xorshift64*, in [0, 1) */
  rng ^= rng >> 12, rng ^= rng << 25, rng ^= rng >> 27;
  return (double)((rng * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static float gauss(void) { /* Irwin-Hall: close enough to spread vectors over the sphere */
  return (float)(uniform() + uniform() + uniform() + uniform() - 2.0);
}

static void normalise(float *v, int dim) {
  double s = 0;
  for (int i = 0; i < dim; i++) s += (double)v[i] * v[i];
  for (int i = 0; s > 0 && i < dim; i++) v[i] = (float)(v[i] / sqrt(s));
}

static void random_unit(float *v, int dim) {
  for (int i = 0; i < dim; i++) v[i] = gauss();
  normalise(v, dim);
}

/* v = unit(base + noise * random): a near-duplicate of base. */
static void near(float *v, const float *base, float noise, int dim) {
  for (int i = 0; i < dim; i++) v[i] = base[i] + noise * gauss();
  normalise(v, dim);
}

/* The reference: every live (id, vector), scanned in full. */
typedef struct {
  int dim;
  size_t n;
  int64_t *ids;
  float *v;
} ref;

static ref ref_make(int dim, size_t cap) {
  return (ref){dim, 0, malloc(cap * sizeof(int64_t)), malloc(cap * (size_t)dim * sizeof(float))};
}

static void ref_free(ref *r) {
  free(r->ids);
  free(r->v);
}

static size_t ref_find(const ref *r, int64_t id) {
  size_t i = 0;
  while (i < r->n && r->ids[i] != id) i++;
  return i;
}

/* Adds (or replaces) to both the index and the reference. */
static void put(mien_index *ix, ref *r, int64_t id, const float *v) {
  size_t i = ref_find(r, id);
  if (i == r->n) r->ids[r->n++] = id;
  memcpy(r->v + i * (size_t)r->dim, v, (size_t)r->dim * sizeof *v);
  CHECK(mien_index_add(ix, id, v) == 0);
}

static void drop(mien_index *ix, ref *r, int64_t id) {
  size_t i = ref_find(r, id);
  CHECK(mien_index_remove(ix, id) == (i < r->n ? 0 : -1));
  if (i == r->n) return;
  r->n--;
  r->ids[i] = r->ids[r->n];
  memmove(r->v + i * (size_t)r->dim, r->v + r->n * (size_t)r->dim, (size_t)r->dim * sizeof *r->v);
}

static int hit_order(const void *pa, const void *pb) {
  const mien_hit *a = pa, *b = pb;
  if (a->score != b->score) return a->score > b->score ? -1 : 1;
  return (a->id > b->id) - (a->id < b->id);
}

static int brute(const ref *r, const float *q, int k, float min_score, mien_hit *out) {
  mien_hit *all = malloc((r->n + 1) * sizeof *all);
  size_t n = 0;
  for (size_t i = 0; i < r->n; i++) {
    float s = mien_index_score(r->v + i * (size_t)r->dim, q, r->dim);
    if (s >= min_score) all[n++] = (mien_hit){r->ids[i], s};
  }
  qsort(all, n, sizeof *all, hit_order);
  int m = n < (size_t)k ? (int)n : k;
  memcpy(out, all, (size_t)m * sizeof *out);
  free(all);
  return m;
}

/* Searches with 1, 2 and 3 threads and one per core, and compares with the brute force, hit by
 * hit. */
static void same(const mien_index *ix, const ref *r, const float *q, int k, float min_score) {
  mien_hit *want = malloc((size_t)k * sizeof *want), *got = malloc((size_t)k * sizeof *got);
  int nw = brute(r, q, k, min_score, want);
  CHECK(mien_index_count(ix) == r->n);
  for (int threads = 0; threads <= 3; threads++) {
    int ng = mien_index_search(ix, q, k, min_score, threads, got);
    CHECK_MSG(ng == nw, "dim %d k %d min %g threads %d: %d hits, want %d", r->dim, k,
              (double)min_score, threads, ng, nw);
    for (int i = 0; i < ng && i < nw; i++)
      CHECK_MSG(got[i].id == want[i].id && got[i].score == want[i].score,
                "dim %d k %d threads %d: hit %d is %lld %.9g, want %lld %.9g", r->dim, k, threads,
                i, (long long)got[i].id, (double)got[i].score, (long long)want[i].id,
                (double)want[i].score);
  }
  free(want);
  free(got);
}

/* Random unit vectors, some near-duplicates of the queries. */
static void test_random(void) {
  static const int dims[] = {3, 100, 128, 512};
  for (size_t d = 0; d < sizeof dims / sizeof *dims; d++) {
    int dim = dims[d];
    size_t n = dim < 64 ? 5000 : 2000;
    mien_index *ix = mien_index_create(dim);
    ref r = ref_make(dim, n);
    float *v = malloc((size_t)dim * sizeof *v), *q = malloc(8 * (size_t)dim * sizeof *q);
    for (int i = 0; i < 8; i++) random_unit(q + i * dim, dim);
    for (size_t i = 0; i < n; i++) {
      if (i % 97 == 0)
        near(v, q + (i / 97 % 8) * (size_t)dim, (float)(i % 5) * 0.02f, dim);
      else
        random_unit(v, dim);
      put(ix, &r, (int64_t)(i * 7919 % n) - 100, v);
    }
    for (int i = 0; i < 8; i++) {
      same(ix, &r, q + i * dim, 10, -1.0f);
      same(ix, &r, q + i * dim, 1 + i * 9, 0.5f);
    }
    random_unit(v, dim);
    same(ix, &r, v, 25, -1.0f);
    ref_free(&r);
    mien_index_free(ix);
    free(v);
    free(q);
  }
}

/* Thousands of vectors within 1e-5 of one another quantise to the same codes, so only the
 * exact rescoring tells them apart; exact duplicates tie and go by id. */
static void test_near_ties(void) {
  const int dim = 512;
  mien_index *ix = mien_index_create(dim);
  ref r = ref_make(dim, 4000);
  float base[512], v[512];
  random_unit(base, dim);
  for (int i = 0; i < 2000; i++) {
    near(v, base, 1e-5f, dim);
    put(ix, &r, 5000 - i, v);
  }
  for (int i = 0; i < 60; i++) put(ix, &r, 9000 - 3 * i, base);
  for (int i = 0; i < 1500; i++) {
    random_unit(v, dim);
    put(ix, &r, 20000 + i, v);
  }
  same(ix, &r, base, 10, -1.0f);
  same(ix, &r, base, 100, 0.9f);
  near(v, base, 1e-5f, dim);
  same(ix, &r, v, 30, -1.0f);
  ref_free(&r);
  mien_index_free(ix);
}

/* Every coordinate exactly halfway between two int8 codes: the largest quantisation error
 * there is, in stored vectors and queries alike. */
static void halfway(float *v, int dim) {
  for (int i = 0; i < dim; i++) {
    double c = (double)(int)(uniform() * 126) + 0.5;
    v[i] = (float)(uniform() < 0.5 ? -c : c);
  }
  v[(int)(uniform() * dim)] = 127;
  normalise(v, dim);
}

static void test_rounding_boundaries(void) {
  const int dim = 512;
  mien_index *ix = mien_index_create(dim);
  ref r = ref_make(dim, 3000);
  float v[512], q[512];
  halfway(q, dim);
  for (int i = 0; i < 3000; i++) {
    if (i % 3)
      halfway(v, dim);
    else
      near(v, q, 0.02f, dim);
    put(ix, &r, i, v);
  }
  same(ix, &r, q, 10, -1.0f);
  halfway(q, dim);
  same(ix, &r, q, 50, -1.0f);
  ref_free(&r);
  mien_index_free(ix);
}

/* Rounding errors all along the query, where the error bound is nearly tight: A vectors round
 * down by 0.49 of a step on every coordinate, B vectors up by 0.49 with codes one higher on half
 * the coordinates. The int8 estimate ranks every B above every A, the exact score every A above
 * every B; only a bound at least half as large as the proven one keeps the A vectors. */
static void test_aligned_errors(void) {
  enum { dim = 64 };
  mien_index *ix = mien_index_create(dim);
  ref r = ref_make(dim, 300);
  float q[dim], v[dim];
  int code[dim];
  for (int i = 0; i < dim; i++) {
    q[i] = uniform() < 0.5 ? -0.125f : 0.125f; /* quantises without error */
    code[i] = 20 + (int)(uniform() * 80);
  }
  for (int n = 0; n < 300; n++) {
    int a = n % 30 == 0;
    for (int i = 0; i < dim; i++) {
      int up = !a && uniform() < 0.5; /* about half of the codes, different ones each time */
      v[i] = copysignf(i == 0 ? 127.0f : (float)(code[i] + up) + (a ? 0.49f : -0.49f), q[i]);
    }
    put(ix, &r, n, v);
  }
  same(ix, &r, q, 10, -1.0f);
  ref_free(&r);
  mien_index_free(ix);
}

static void test_small(void) {
  const int dim = 8;
  mien_index *ix = mien_index_create(dim);
  ref r = ref_make(dim, 8);
  float v[8], zero[8] = {0}, q[8];
  mien_hit hits[10];
  random_unit(q, dim);
  CHECK(mien_index_search(ix, q, 10, -1.0f, 0, hits) == 0); /* empty */
  for (int i = 0; i < 5; i++) {
    random_unit(v, dim);
    put(ix, &r, i * 10, v);
  }
  put(ix, &r, 99, zero);
  same(ix, &r, q, 10, -1.0f);    /* k > count */
  same(ix, &r, q, 10, 0.0f);     /* the zero vector scores 0 and passes 0 */
  same(ix, &r, q, 10, 0.3f);     /* some filtered out */
  same(ix, &r, q, 3, 2.0f);      /* all filtered out */
  same(ix, &r, zero, 10, -1.0f); /* a zero query ties everything at 0 */
  CHECK(mien_index_search(ix, q, 0, -1.0f, 0, hits) == 0);
  CHECK(mien_index_search(ix, q, 10, -1.0f, 0, hits) == 6);
  v[3] = NAN;
  CHECK(mien_index_add(ix, 7, v) == -1);
  CHECK(mien_index_search(ix, v, 10, -1.0f, 1, hits) == 0);
  v[3] = INFINITY;
  CHECK(mien_index_add(ix, 7, v) == -1);
  CHECK(mien_index_count(ix) == 6);
  CHECK(mien_index_dim(ix) == dim);
  CHECK(mien_index_create(0) == NULL);
  ref_free(&r);
  mien_index_free(ix);
}

static void test_remove_readd(void) {
  const int dim = 64;
  const size_t n = 6000;
  mien_index *ix = mien_index_create(dim);
  ref r = ref_make(dim, n);
  float v[64], q[64];
  random_unit(q, dim);
  for (size_t i = 0; i < n; i++) {
    near(v, q, (float)(i % 7) * 0.1f, dim);
    put(ix, &r, (int64_t)i, v);
  }
  for (size_t i = 0; i < n; i += 2) drop(ix, &r, (int64_t)(i * 31 % n)); /* half, scattered */
  drop(ix, &r, -5);                                                      /* absent */
  same(ix, &r, q, 20, -1.0f);
  for (size_t i = 0; i < n; i += 3) { /* re-add some removed ids, replace some live ones */
    near(v, q, 0.05f, dim);
    put(ix, &r, (int64_t)i, v);
  }
  same(ix, &r, q, 40, 0.2f);
  put(ix, &r, 1, q); /* replaced by the query itself: now the best */
  same(ix, &r, q, 5, -1.0f);
  while (r.n) drop(ix, &r, r.ids[r.n / 2]);
  mien_hit hits[4];
  CHECK(mien_index_count(ix) == 0);
  CHECK(mien_index_search(ix, q, 4, -1.0f, 2, hits) == 0);
  put(ix, &r, 3, q);
  same(ix, &r, q, 4, -1.0f);
  ref_free(&r);
  mien_index_free(ix);
}

/* The kernel against the portable one at the code extremes, and the score against long double. */
static void test_kernel_and_score(void) {
  const index_dot_kernel *k = index_dot_get(), *generic = NULL;
  for (int i = 0; index_dot_kernels[i]; i++)
    if (!strcmp(index_dot_kernels[i]->isa, "generic")) generic = index_dot_kernels[i];
  size_t stride = 576, rows = 9;
  int8_t *codes = aligned_alloc(64, rows * stride), *q = aligned_alloc(64, stride);
  for (size_t i = 0; i < rows * stride; i++)
    codes[i] = (int8_t)(i < stride ? 127 : uniform() * 255 - 127);
  for (size_t i = 0; i < stride; i++) q[i] = (int8_t)(i % 2 ? -127 : uniform() * 255 - 127);
  int32_t a[9], b[9];
  for (size_t s = 64; s <= stride; s += 256) {
    k->dots(codes, s, rows, q, a);
    generic->dots(codes, s, rows, q, b);
    for (size_t i = 0; i < rows; i++)
      CHECK_MSG(a[i] == b[i], "%s stride %zu row %zu", k->isa, s, i);
  }
  free(codes);
  free(q);
  float x[512], y[512];
  random_unit(x, 512);
  random_unit(y, 512);
  long double s = 0;
  for (int i = 0; i < 512; i++) s += (long double)x[i] * y[i];
  CHECK_NEAR(mien_index_score(x, y, 512), s, 1e-7);
  mien_index *ix = mien_index_create(512);
  for (int i = 0; i < 1000; i++) mien_index_add(ix, i, x);
  size_t bpv = mien_index_bytes_per_vector(ix);
  CHECK_MSG(bpv >= 512 + 2048 + 8 && bpv <= 2650, "%zu bytes per vector", bpv);
  mien_index_free(ix);
}

/* The kernel chosen before any override is one this CPU runs, and MIEN_ISA=generic gets the
 * portable one. */
static void test_dispatch(void) {
  const char *want = getenv("MIEN_ISA");
  const index_dot_kernel *k = index_dot_get();
  CHECK(index_dot_supported(k));
  if (want && !strcmp(want, "generic")) CHECK(!strcmp(k->isa, "generic"));
}

int main(void) {
  RUN(test_dispatch);
  for (int i = 0; index_dot_kernels[i]; i++) {
    const index_dot_kernel *k = index_dot_kernels[i];
    if (!index_dot_supported(k)) {
      printf("SKIP %s (not on this CPU)\n", k->isa);
      continue;
    }
    index_dot_set(k);
    char label[64];
#define RUN_ISA(fn)                                                                                \
  do {                                                                                             \
    snprintf(label, sizeof label, "%s %s", #fn, k->isa);                                           \
    RUN_AS(label, fn());                                                                           \
  } while (0)
    RUN_ISA(test_kernel_and_score);
    RUN_ISA(test_small);
    RUN_ISA(test_random);
    RUN_ISA(test_near_ties);
    RUN_ISA(test_rounding_boundaries);
    RUN_ISA(test_aligned_errors);
    RUN_ISA(test_remove_readd);
  }
  return check_summary();
}
