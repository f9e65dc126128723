/* bench_search.c - `mien bench search`: how fast a collection's index answers a 1:N search.
 *
 * Fills an index with N deterministic random unit vectors, a few of them near-duplicates of the
 * queries (cosines 0.95 down to 0.5, like a person's other photos) so the top-k is not just
 * noise, then times Q searches with one thread and with all of them. Reports the median ms per
 * query, memory per face and the time the adds took, and checks a few queries against a
 * brute-force scan: the index must return exactly the same hits. Faces are regenerated from
 * their number for that check, so the benchmark holds no second copy of a 2 GB collection.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/cli.h"
#include "mien.h"
#include "store/index.h"
#include "store/index_dot.h"
#include "util/util.h"

#define DUPS_PER_QUERY 4 /* near-duplicates of each query among the faces */
#define VERIFY 3         /* queries checked against the brute force */
#define BATCH 4096       /* faces generated, then added under the clock, at a time */
#define QUERY_SEED 0x5eed0000000ull

static uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* A unit vector from seed, plus noise * (unit-variance noise) added to base when base is set:
 * Irwin-Hall sums of four uniforms, cheap enough for 512 million coordinates. */
static void make_vector(uint64_t seed, const float *base, float noise, int dim, float *v) {
  uint64_t s = splitmix(seed) | 1;
  double n2 = 0;
  for (int i = 0; i < dim; i++) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    float g =
        (float)((s & 0xffff) + (s >> 16 & 0xffff) + (s >> 32 & 0xffff) + (s >> 48)) / 65536.0f -
        2.0f;
    g *= 1.7320508f; /* the sum of four uniforms has variance 1/3 */
    v[i] = base ? base[i] + noise * g : g;
    n2 += (double)v[i] * v[i];
  }
  for (int i = 0; i < dim; i++) v[i] = (float)(v[i] / sqrt(n2));
}

typedef struct {
  long faces, gap; /* near-duplicate d sits at face d * gap + gap / 2 */
  int dim, queries;
  const float *q; /* the queries, queries x dim */
} dataset;

static void make_face(const dataset *ds, long i, float *v) {
  long d = i / ds->gap;
  if (i % ds->gap == ds->gap / 2 && d < (long)ds->queries * DUPS_PER_QUERY) {
    static const float cosine[DUPS_PER_QUERY] = {0.95f, 0.85f, 0.7f, 0.5f};
    float c = cosine[d / ds->queries];
    make_vector((uint64_t)i, ds->q + (d % ds->queries) * ds->dim,
                sqrtf((1 / (c * c) - 1) / (float)ds->dim), ds->dim, v);
  } else {
    make_vector((uint64_t)i, NULL, 0, ds->dim, v);
  }
}

/* Whether hit a ranks before b: higher score, then lower id. */
static int before(mien_hit a, mien_hit b) {
  return a.score > b.score || (a.score == b.score && a.id < b.id);
}

/* Regenerates every face and keeps each checked query's top-k; then compares with the index. */
static int verify(const mien_index *ix, const dataset *ds, int nq, int k, int threads) {
  mien_hit *want = malloc((size_t)nq * (size_t)k * sizeof *want);
  mien_hit *got = malloc((size_t)k * sizeof *got);
  int *n = calloc((size_t)nq, sizeof *n), exact = want && got && n;
  float *v = malloc((size_t)ds->dim * sizeof *v);
  for (long i = 0; exact && v && i < ds->faces; i++) {
    make_face(ds, i, v);
    for (int j = 0; j < nq; j++) { /* insertion into the sorted top-k of query j */
      const float *qj = ds->q + (size_t)j * (size_t)ds->dim;
      mien_hit h = {i, mien_index_score(v, qj, ds->dim)}, *w = want + (size_t)j * (size_t)k;
      if (n[j] == k && !before(h, w[k - 1])) continue;
      int p = n[j] < k ? n[j]++ : k - 1;
      for (; p > 0 && before(h, w[p - 1]); p--) w[p] = w[p - 1];
      w[p] = h;
    }
  }
  for (int j = 0; exact && j < nq; j++) {
    int m = mien_index_search(ix, ds->q + (size_t)j * (size_t)ds->dim, k, -1.0f, threads, got);
    exact = m == n[j];
    for (int i = 0; exact && i < m; i++) {
      mien_hit w = want[(size_t)j * (size_t)k + (size_t)i];
      exact = got[i].id == w.id && got[i].score == w.score;
    }
  }
  free(want);
  free(got);
  free(n);
  free(v);
  return exact;
}

/* Median ms per query over all queries, after one untimed search. */
static double time_queries(const mien_index *ix, const dataset *ds, int k, int threads,
                           mien_hit *hits) {
  double *ms = malloc((size_t)ds->queries * sizeof *ms);
  if (!ms) return NAN;
  mien_index_search(ix, ds->q, k, -1.0f, threads, hits);
  for (int j = 0; j < ds->queries; j++) {
    double t0 = mien_now_ms();
    mien_index_search(ix, ds->q + (size_t)j * (size_t)ds->dim, k, -1.0f, threads, hits);
    ms[j] = mien_now_ms() - t0;
  }
  double med = mien_median(ms, ds->queries);
  free(ms);
  return med;
}

static void usage(FILE *f) {
  fprintf(f, "usage: mien bench search [--faces N] [--dim D] [--queries Q] [--k K] [--threads T]\n"
             "                         [--json]\n\n"
             "Times exact top-K search over N random unit vectors (default 100000 x 512, 50\n"
             "queries, K 10) with 1 thread and with T (default: one per core), and checks the\n"
             "hits of a few queries against a brute-force scan (\"exact\").\n");
}

int cmd_bench_search(int argc, char **argv) {
  static const struct option opts[] = {
      {"faces", required_argument, 0, 'n'},   {"dim", required_argument, 0, 'd'},
      {"queries", required_argument, 0, 'q'}, {"k", required_argument, 0, 'k'},
      {"threads", required_argument, 0, 't'}, {"json", no_argument, 0, 'j'},
      {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
  long faces = 100000;
  int dim = 512, queries = 50, k = 10, threads = 0, json = 0, c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'n':
      faces = atol(optarg);
      break;
    case 'd':
      dim = atoi(optarg);
      break;
    case 'q':
      queries = atoi(optarg);
      break;
    case 'k':
      k = atoi(optarg);
      break;
    case 't':
      threads = atoi(optarg);
      break;
    case 'j':
      json = 1;
      break;
    default:
      return cli_usage(usage, c == 'h');
    }
  }
  if (faces < 1 || dim < 1 || queries < 1 || k < 1 || threads < 0 || optind < argc) {
    usage(stderr);
    return EXIT_USAGE;
  }
  if (!threads) threads = mien_cpu_count();
  mien_index *ix = mien_index_create(dim);
  dataset ds = {faces, 0, dim, queries, NULL};
  ds.gap = faces / ((long)queries * DUPS_PER_QUERY);
  if (ds.gap < 1) ds.gap = 1;
  float *q = malloc((size_t)queries * (size_t)dim * sizeof *q);
  float *batch = malloc((size_t)BATCH * (size_t)dim * sizeof *batch);
  mien_hit *hits = malloc((size_t)k * sizeof *hits);
  if (!ix || !q || !batch || !hits || mien_index_reserve(ix, (size_t)faces)) {
    fprintf(stderr, "mien bench search: out of memory (or --dim above 65536)\n");
    mien_index_free(ix), free(q), free(batch), free(hits);
    return EXIT_FAILURE_GENERIC;
  }
  for (int j = 0; j < queries; j++)
    make_vector(QUERY_SEED + (uint64_t)j, NULL, 0, dim, q + (size_t)j * (size_t)dim);
  ds.q = q;

  double build_ms = 0;
  for (long b = 0; b < faces; b += BATCH) {
    long m = faces - b < BATCH ? faces - b : BATCH;
    for (long i = 0; i < m; i++) make_face(&ds, b + i, batch + (size_t)i * (size_t)dim);
    double t0 = mien_now_ms();
    for (long i = 0; i < m; i++) mien_index_add(ix, b + i, batch + (size_t)i * (size_t)dim);
    build_ms += mien_now_ms() - t0;
  }
  free(batch);

  double ms1 = time_queries(ix, &ds, k, 1, hits);
  double msn = threads > 1 ? time_queries(ix, &ds, k, threads, hits) : ms1;
  int exact = verify(ix, &ds, queries < VERIFY ? queries : VERIFY, k, threads);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  size_t bpv = mien_index_bytes_per_vector(ix);
  const char *isa = index_dot_get()->isa;
  if (json)
    printf("{\"faces\":%ld,\"dim\":%d,\"queries\":%d,\"k\":%d,\"isa\":\"%s\",\"threads\":%d,"
           "\"ms_per_query_1_thread\":%.3f,\"ms_per_query\":%.3f,\"bytes_per_face\":%zu,"
           "\"build_s\":%.3f,\"max_rss_bytes\":%ld,\"exact\":%s}\n",
           faces, dim, queries, k, isa, threads, ms1, msn, bpv, build_ms / 1000,
           ru.ru_maxrss * 1024L, exact ? "true" : "false");
  else
    printf("search %ld x %d, k %d, %s: %.3f ms/query with 1 thread, %.3f ms with %d; "
           "%zu bytes/face; build %.2f s; max RSS %.2f GB; exact: %s\n",
           faces, dim, k, isa, ms1, msn, threads, bpv, build_ms / 1000, ru.ru_maxrss * 1024.0 / 1e9,
           exact ? "true" : "false");
  mien_index_free(ix);
  free(q);
  free(hits);
  return exact ? EXIT_OK : EXIT_FAILURE_GENERIC;
}
