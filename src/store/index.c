/* index.c - the in-memory search index of a collection: exact top-k by cosine.
 *
 * Each vector is kept twice: as fp32 (for exact scores) and as int8 codes with one scale per
 * vector, q = round(v * 127 / max|v|), which is a quarter of the bytes and what a search scans.
 * The scan only estimates scores; what makes results exact is a proven bound on the estimate's
 * error. With v = v' + e (v' the dequantised codes) and the query likewise q = q' + f,
 *     v.q - v'.q' = e.q + v'.f,  so  |v.q - v'.q'| <= |e| |q| + |v'| |f|   (Cauchy-Schwarz).
 * |e| and |v'| are stored per vector, |q| and |f| computed per query, so each vector gets an
 * interval [lo, hi] that holds its exact score. Any k vectors all have exact scores >= the k-th
 * largest lo (T), so the k-th best exact score is >= T, and every vector of the exact top-k
 * (ties included) has hi >= T. The scan keeps those candidates, rescores them exactly and
 * sorts: the result is the exact top-k whatever the data, however many candidates it takes.
 *
 * "Exact" is index_score(): the fp32 vectors' dot product accumulated in double, in a fixed
 * order, then rounded to float. mien_index_score exports it so references compare bit for bit.
 *
 * Rows are split across threads; each thread finds the exact top-k of its rows and the caller
 * merges them. Storage lives in anonymous mappings: 64-byte aligned rows for the SIMD loads,
 * growth by mremap without copying (no 1.5x peak while a 2.6 GB index grows), and huge pages
 * for the codes, which saves TLB misses in a scan of hundreds of MB. An open-addressing table maps
 * ids to slots; removal moves the last vector into the hole, so slots stay dense.
 */
#include "store/index.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mien.h"
#include "store/index_dot.h"

/* Beyond this the int32 sums of the kernels could overflow (127 * 255 * 65536 < 2^31). */
#define MAX_DIM 65536
/* Rows per kernel call: a small int32 buffer on the stack, a short stretch of metadata. */
#define BLOCK 256
/* With threads <= 0, a thread gets at least this many bytes of codes to scan: starting one
 * costs about as much as scanning 4 MB (~10k faces of 512) on the machine this was tuned on. */
#define MIN_THREAD_BYTES (4 << 20)
/* More threads than this only cost memory: a scan saturates the memory bus long before. */
#define MAX_THREADS 256
#define EMPTY UINT32_MAX

typedef struct {
  float scale; /* code * scale = dequantised value */
  float err;   /* |e|: the norm of the quantisation error, rounded up */
  float norm;  /* |v'|: the norm of the dequantised vector, rounded up */
} vec_meta;

typedef struct {
  void *p;
  size_t bytes;
} region;

struct mien_index {
  int dim;
  size_t stride; /* bytes of codes per vector: dim rounded up to INDEX_DOT_ALIGN */
  size_t count, cap;
  region codes, vecs, meta, ids; /* int8[cap][stride], float[cap][dim], vec_meta[], int64_t[] */
  uint32_t *buckets;             /* slot of each id, EMPTY; linear probing */
  size_t nbuckets;               /* a power of two, at least twice count */
};

static int8_t *codes_of(const mien_index *ix, size_t slot) {
  return (int8_t *)ix->codes.p + slot * ix->stride;
}
static float *vec_of(const mien_index *ix, size_t slot) {
  return (float *)ix->vecs.p + slot * (size_t)ix->dim;
}
static vec_meta *meta_of(const mien_index *ix) {
  return ix->meta.p;
}
static int64_t *ids_of(const mien_index *ix) {
  return ix->ids.p;
}

/* Rounds a non-negative double up to a float that is >= it, so bounds stay bounds. */
static float up(double x) {
  float f = (float)x;
  return (double)f < x ? nextafterf(f, INFINITY) : f;
}

static float index_score(const float *a, const float *b, int dim) {
  /* Float products are exact in double; four running sums let the loop vectorise while the
   * order, and so the result, stays fixed. */
  double s[4] = {0, 0, 0, 0};
  int i = 0;
  for (; i + 4 <= dim; i += 4)
    for (int j = 0; j < 4; j++) s[j] += (double)a[i + j] * b[i + j];
  for (; i < dim; i++) s[0] += (double)a[i] * b[i];
  return (float)((s[0] + s[1]) + (s[2] + s[3]));
}

float mien_index_score(const float *a, const float *b, int dim) {
  return index_score(a, b, dim);
}

/* Whether v can be indexed or searched: finite, and small enough (|v| <= 1e15; L2-normalised
 * vectors have 1) that no score or bound overflows a float. *norm2 gets |v|^2. */
static int usable(const float *v, int dim, double *norm2) {
  double s = 0;
  for (int i = 0; i < dim; i++) s += (double)v[i] * v[i];
  *norm2 = s;
  return s <= 1e30; /* false for NaN and infinities too */
}

/* Quantises v into codes (stride bytes, zero padded) and returns its metadata. */
static vec_meta quantise(const float *v, int dim, size_t stride, int8_t *codes) {
  float maxabs = 0;
  for (int i = 0; i < dim; i++) maxabs = fabsf(v[i]) > maxabs ? fabsf(v[i]) : maxabs;
  vec_meta m = {maxabs / 127.0f, 0, 0};
  double err2 = 0, norm2 = 0;
  /* A subnormal scale gets all-zero codes (its inverse could overflow); err then is |v|. */
  float inv = m.scale >= FLT_MIN ? 1.0f / m.scale : 0;
  memset(codes, 0, stride);
  for (int i = 0; i < dim; i++) {
    long c = lrintf(v[i] * inv);
    c = c > 127 ? 127 : c < -127 ? -127 : c;
    codes[i] = (int8_t)c;
    double d = (double)m.scale * (double)c; /* exact: 24-bit by 8-bit product */
    err2 += ((double)v[i] - d) * ((double)v[i] - d);
    norm2 += d * d;
  }
  /* The double sums carry relative errors near 1e-13; the search's margin covers them. */
  m.err = up(sqrt(err2));
  m.norm = up(sqrt(norm2));
  return m;
}

/* --- storage ---------------------------------------------------------------------------- */

/* huge: ask for huge pages, for the codes that every search scans: it saves about 12% of a scan
 * in TLB misses. Not for the rest: faulting in huge pages made adds twice as slow. */
static int region_reserve(region *r, size_t bytes, int huge) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t want = (bytes + page - 1) / page * page;
  if (want <= r->bytes) return 0;
  void *p = r->bytes ? mremap(r->p, r->bytes, want, MREMAP_MAYMOVE)
                     : mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return -1;
#ifdef MADV_HUGEPAGE
  if (huge) madvise(p, want, MADV_HUGEPAGE); /* a hint: failure changes nothing */
#endif
  r->p = p;
  r->bytes = want;
  return 0;
}

static void region_free(region *r) {
  if (r->bytes) munmap(r->p, r->bytes);
}

static uint64_t hash_id(int64_t id) { /* splitmix64's finaliser: ids are often sequential */
  uint64_t x = (uint64_t)id;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* The bucket that holds id, or the empty one where it would go. */
static size_t bucket_of(const mien_index *ix, int64_t id) {
  size_t mask = ix->nbuckets - 1, b = hash_id(id) & mask;
  const int64_t *ids = ids_of(ix);
  while (ix->buckets[b] != EMPTY && ids[ix->buckets[b]] != id) b = (b + 1) & mask;
  return b;
}

static int rehash(mien_index *ix, size_t nbuckets) {
  uint32_t *old = ix->buckets;
  ix->buckets = malloc(nbuckets * sizeof *ix->buckets);
  if (!ix->buckets) {
    ix->buckets = old;
    return -1;
  }
  free(old);
  ix->nbuckets = nbuckets;
  memset(ix->buckets, 0xff, nbuckets * sizeof *ix->buckets);
  for (size_t s = 0; s < ix->count; s++) ix->buckets[bucket_of(ix, ids_of(ix)[s])] = (uint32_t)s;
  return 0;
}

/* Empties bucket b, shifting later members of its probe run back so lookups still find them. */
static void bucket_delete(mien_index *ix, size_t b) {
  size_t mask = ix->nbuckets - 1, hole = b;
  for (size_t i = (b + 1) & mask; ix->buckets[i] != EMPTY; i = (i + 1) & mask) {
    size_t home = hash_id(ids_of(ix)[ix->buckets[i]]) & mask;
    /* An entry may fill the hole unless its home lies cyclically in (hole, i]. */
    if (((i - home) & mask) >= ((i - hole) & mask)) {
      ix->buckets[hole] = ix->buckets[i];
      hole = i;
    }
  }
  ix->buckets[hole] = EMPTY;
}

/* Keeps nbuckets >= 2 * cap, so adds below cap never need the table to grow. */
int mien_index_reserve(mien_index *ix, size_t n) {
  if (n <= ix->cap) return 0;
  if (n >= EMPTY) return -1;
  size_t nb = ix->nbuckets;
  while (nb < 2 * n) nb *= 2;
  if (region_reserve(&ix->codes, n * ix->stride, 1) ||
      region_reserve(&ix->vecs, n * (size_t)ix->dim * sizeof(float), 0) ||
      region_reserve(&ix->meta, n * sizeof(vec_meta), 0) ||
      region_reserve(&ix->ids, n * sizeof(int64_t), 0) || (nb != ix->nbuckets && rehash(ix, nb)))
    return -1;
  ix->cap = n;
  return 0;
}

mien_index *mien_index_create(int dim) {
  if (dim < 1 || dim > MAX_DIM) return NULL;
  mien_index *ix = calloc(1, sizeof *ix);
  if (!ix) return NULL;
  ix->dim = dim;
  ix->stride = ((size_t)dim + INDEX_DOT_ALIGN - 1) / INDEX_DOT_ALIGN * INDEX_DOT_ALIGN;
  if (rehash(ix, 16)) {
    free(ix);
    return NULL;
  }
  return ix;
}

void mien_index_free(mien_index *ix) {
  if (!ix) return;
  region_free(&ix->codes);
  region_free(&ix->vecs);
  region_free(&ix->meta);
  region_free(&ix->ids);
  free(ix->buckets);
  free(ix);
}

int mien_index_dim(const mien_index *ix) {
  return ix->dim;
}

size_t mien_index_count(const mien_index *ix) {
  return ix->count;
}

size_t mien_index_bytes_per_vector(const mien_index *ix) {
  size_t table = ix->count ? ix->nbuckets * sizeof *ix->buckets / ix->count : 2 * sizeof(uint32_t);
  return ix->stride + (size_t)ix->dim * sizeof(float) + sizeof(vec_meta) + sizeof(int64_t) + table;
}

int mien_index_add(mien_index *ix, int64_t id, const float *v) {
  double norm2;
  if (!usable(v, ix->dim, &norm2)) return -1;
  size_t b = bucket_of(ix, id), slot;
  if (ix->buckets[b] != EMPTY) {
    slot = ix->buckets[b];
  } else {
    if (ix->count == ix->cap) {
      if (mien_index_reserve(ix, ix->cap ? 2 * ix->cap : 64)) return -1;
      b = bucket_of(ix, id);
    }
    slot = ix->count++;
    ix->buckets[b] = (uint32_t)slot;
    ids_of(ix)[slot] = id;
  }
  memcpy(vec_of(ix, slot), v, (size_t)ix->dim * sizeof *v);
  meta_of(ix)[slot] = quantise(v, ix->dim, ix->stride, codes_of(ix, slot));
  return 0;
}

int mien_index_remove(mien_index *ix, int64_t id) {
  size_t b = bucket_of(ix, id);
  if (ix->buckets[b] == EMPTY) return -1;
  size_t slot = ix->buckets[b], last = ix->count - 1;
  bucket_delete(ix, b);
  if (slot != last) { /* move the last vector into the hole and repoint its bucket */
    int64_t moved = ids_of(ix)[last];
    ix->buckets[bucket_of(ix, moved)] = (uint32_t)slot;
    ids_of(ix)[slot] = moved;
    meta_of(ix)[slot] = meta_of(ix)[last];
    memcpy(codes_of(ix, slot), codes_of(ix, last), ix->stride);
    memcpy(vec_of(ix, slot), vec_of(ix, last), (size_t)ix->dim * sizeof(float));
  }
  ix->count--;
  return 0;
}

const float *mien_index_vector(const mien_index *ix, int64_t id) {
  size_t b = bucket_of(ix, id);
  return ix->buckets[b] == EMPTY ? NULL : vec_of(ix, ix->buckets[b]);
}

/* --- search ----------------------------------------------------------------------------- */

typedef struct {
  const float *v;
  int8_t *codes;
  float scale;
  /* hi/lo of a vector = est +- (err * a + norm * b + REL * |est|). a and b are |q| and |f| with
   * margins for float rounding: of est (a few ulp of |est|), of the exact score (an ulp of
   * |v||q| <= (err + norm) |q|), of the bound's own arithmetic and of the double sums behind
   * err and norm. Each is below 1e-6 relative; REL and the 1e-5s are 10x that. TINY covers
   * the absolute rounding of subnormal results. */
  float a, b;
  float min_score;
  int k;
} query;
#define REL 1e-5f
#define TINY 1e-30f

typedef struct {
  uint32_t slot;
  float hi;
} cand;

typedef struct {
  const mien_index *ix;
  const query *q;
  index_dot_fn dots;
  size_t begin, end;
  int threaded;   /* scanned by a thread of its own, to be joined */
  mien_hit *hits; /* out: this range's exact top-k, best first */
  int nhits;      /* out: how many; -1 when out of memory */
} scan_job;

/* Min-heap of the best lower bounds seen: heap[0] is the k-th largest once n == k. */
static void heap_push(float *heap, int *n, int cap, float x) {
  int i;
  if (*n < cap) {
    i = (*n)++;
    while (i > 0 && heap[(i - 1) / 2] > x) heap[i] = heap[(i - 1) / 2], i = (i - 1) / 2;
  } else {
    i = 0;
    for (int c; (c = 2 * i + 1) < cap; i = c) {
      if (c + 1 < cap && heap[c + 1] < heap[c]) c++;
      if (heap[c] >= x) break;
      heap[i] = heap[c];
    }
  }
  heap[i] = x;
}

static int hit_order(const void *pa, const void *pb) {
  const mien_hit *a = pa, *b = pb;
  if (a->score != b->score) return a->score > b->score ? -1 : 1;
  return (a->id > b->id) - (a->id < b->id);
}

/* Drops candidates whose upper bound fell below t; returns how many remain. */
static size_t prune(cand *c, size_t n, float t) {
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (c[i].hi >= t) c[m++] = c[i];
  return m;
}

static void *scan(void *arg) {
  scan_job *j = arg;
  const mien_index *ix = j->ix;
  const query *q = j->q;
  const vec_meta *meta = meta_of(ix);
  size_t rows = j->end - j->begin;
  int heapcap = (size_t)q->k < rows ? q->k : (int)rows, nheap = 0;
  size_t ncand = 0, candcap = 1024;
  float *heap = malloc((size_t)heapcap * sizeof *heap);
  cand *c = malloc(candcap * sizeof *c);
  j->hits = NULL;
  j->nhits = -1;
  if (!heap || !c) goto done;
  float t = q->min_score; /* a candidate needs hi >= t */
  int32_t dot[BLOCK];
  for (size_t b = j->begin; b < j->end; b += BLOCK) {
    size_t m = j->end - b < BLOCK ? j->end - b : BLOCK;
    j->dots(codes_of(ix, b), ix->stride, m, q->codes, dot);
    for (size_t i = 0; i < m; i++) {
      const vec_meta *vm = &meta[b + i];
      float est = vm->scale * q->scale * (float)dot[i];
      float bound = vm->err * q->a + vm->norm * q->b + REL * fabsf(est) + TINY;
      if (est + bound < t) continue;
      if (ncand == candcap) { /* prune with the threshold as it is now; grow if that fails */
        ncand = prune(c, ncand, t);
        if (ncand > candcap / 2) {
          cand *g = realloc(c, 2 * candcap * sizeof *c);
          if (!g) goto done;
          c = g, candcap *= 2;
        }
      }
      c[ncand++] = (cand){(uint32_t)(b + i), est + bound};
      if (nheap < heapcap || est - bound > heap[0]) {
        heap_push(heap, &nheap, heapcap, est - bound);
        if (nheap == heapcap && nheap == q->k) t = fmaxf(q->min_score, heap[0]);
      }
    }
  }
  ncand = prune(c, ncand, t);
  j->hits = malloc((ncand ? ncand : 1) * sizeof *j->hits);
  if (!j->hits) goto done;
  size_t n = 0;
  for (size_t i = 0; i < ncand; i++) {
    float s = index_score(vec_of(ix, c[i].slot), q->v, ix->dim);
    if (s >= q->min_score) j->hits[n++] = (mien_hit){ids_of(ix)[c[i].slot], s};
  }
  qsort(j->hits, n, sizeof *j->hits, hit_order);
  j->nhits = n < (size_t)q->k ? (int)n : q->k;
done:
  free(heap);
  free(c);
  return NULL;
}

int mien_index_search(const mien_index *ix, const float *qv, int k, float min_score, int threads,
                      mien_hit *out) {
  double qn2;
  if (k <= 0 || ix->count == 0 || !usable(qv, ix->dim, &qn2)) return 0;
  query q = {.v = qv, .min_score = min_score, .k = k};
  q.codes = aligned_alloc(INDEX_DOT_ALIGN, ix->stride);
  if (!q.codes) return -1;
  vec_meta qm = quantise(qv, ix->dim, ix->stride, q.codes);
  q.scale = qm.scale;
  q.a = up(sqrt(qn2) * (1 + 2e-5));
  q.b = up(qm.err * (1 + 1e-5) + sqrt(qn2) * 1e-5);

  /* As many threads as asked for, if there are rows for them; "one per core" only as many as
   * pay for themselves. */
  size_t most = ix->count;
  if (threads <= 0) {
    threads = mien_cpu_count();
    most = ix->count * ix->stride / MIN_THREAD_BYTES;
  }
  if ((size_t)threads > most) threads = most ? (int)most : 1;
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  scan_job *jobs = calloc((size_t)threads, sizeof *jobs);
  pthread_t *tid = calloc((size_t)threads, sizeof *tid);
  int n = -1;
  if (!jobs || !tid) goto done;
  const index_dot_fn dots = index_dot_get()->dots;
  for (int t = 0; t < threads; t++) {
    jobs[t] = (scan_job){.ix = ix,
                         .q = &q,
                         .dots = dots,
                         .begin = ix->count * (size_t)t / (size_t)threads,
                         .end = ix->count * (size_t)(t + 1) / (size_t)threads};
    /* the caller scans the first range itself, and any range a thread could not start for */
    jobs[t].threaded = t > 0 && pthread_create(&tid[t], NULL, scan, &jobs[t]) == 0;
  }
  for (int t = 0; t < threads; t++)
    if (!jobs[t].threaded) scan(&jobs[t]);
  for (int t = 0; t < threads; t++)
    if (jobs[t].threaded) pthread_join(tid[t], NULL);

  /* Every range's top-k together hold the global top-k. */
  size_t total = 0;
  for (int t = 0; t < threads; t++) {
    if (jobs[t].nhits < 0) goto done;
    total += (size_t)jobs[t].nhits;
  }
  mien_hit *all = malloc((total ? total : 1) * sizeof *all);
  if (!all) goto done;
  total = 0;
  for (int t = 0; t < threads; t++) {
    memcpy(all + total, jobs[t].hits, (size_t)jobs[t].nhits * sizeof *all);
    total += (size_t)jobs[t].nhits;
  }
  qsort(all, total, sizeof *all, hit_order);
  n = total < (size_t)k ? (int)total : k;
  memcpy(out, all, (size_t)n * sizeof *out);
  free(all);
done:
  for (int t = 0; jobs && t < threads; t++) free(jobs[t].hits);
  free(jobs);
  free(tid);
  free(q.codes);
  return n;
}
