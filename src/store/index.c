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
 *
 * Large collections: the fp32 vectors can live off-heap in an unnamed file mapping
 * (mien_index_vectors_in: searches read only the few they rescore), and while the ANN serves
 * (past the threshold, "automatic ANN" below) the int8 codes are dropped, so RAM per face is the
 * ANN's codes plus ids and the table (~640 bytes, docs/search.md) instead of 2.6 KB.
 */
#include "store/index.h"

#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mien.h"
#include "store/ann.h"
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
  void *p;
  size_t bytes;
  int backed; /* a shared mapping of the file fd (mien_index_vectors_in), else anonymous */
  int fd;
} region;

struct mien_index {
  int dim;
  size_t stride; /* bytes of codes per vector: dim rounded up to INDEX_DOT_ALIGN */
  size_t count, cap;
  region codes, vecs, meta,
      ids;           /* int8[cap][stride], float[cap][dim], index_code_meta[], int64_t[] */
  uint32_t *buckets; /* slot of each id, EMPTY; linear probing */
  size_t nbuckets;   /* a power of two, at least twice count */

  /* The approximate layer (ann.h) of a large index; see "automatic ANN" below. */
  pthread_mutex_t build_mu;  /* writers against the builder: all of the above, building, cursor */
  pthread_rwlock_t ann_lock; /* searches (read) against the builder publishing ann */
  mien_ann *ann;             /* searched instead of the scan when set */
  mien_ann *building;        /* being filled by the builder: it holds the slots below cursor */
  size_t cursor;
  size_t trained_at; /* count when ann was trained */
  float recall;      /* ann's recall@10 against the exact scan, measured when it was built */
  pthread_t builder;
  int builder_started, builder_done, cancel;
  size_t threshold; /* ann from this many vectors on; exact again below half of it */
  char *vecs_dir;   /* mien_index_vectors_in: vecs go to a file there ... */
  size_t vecs_from; /* ... once the index has room for this many */
  int lean;         /* while ann serves: codes (and their meta) are not kept; see lean_begin */
  mien_ann_params params;
};

static int8_t *codes_of(const mien_index *ix, size_t slot) {
  return (int8_t *)ix->codes.p + slot * ix->stride;
}
static float *vec_of(const mien_index *ix, size_t slot) {
  return (float *)ix->vecs.p + slot * (size_t)ix->dim;
}
static index_code_meta *meta_of(const mien_index *ix) {
  return ix->meta.p;
}
static int64_t *ids_of(const mien_index *ix) {
  return ix->ids.p;
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

/* --- storage ---------------------------------------------------------------------------- */

/* huge: ask for huge pages, for the codes that every search scans: it saves about 12% of a scan
 * in TLB misses. Not for the rest: faulting in huge pages made adds twice as slow. */
static int region_reserve(region *r, size_t bytes, int huge) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t want = (bytes + page - 1) / page * page;
  if (want <= r->bytes) return 0;
  if (r->backed && ftruncate(r->fd, (off_t)want)) return -1; /* the file first, then its map */
  void *p = r->bytes ? mremap(r->p, r->bytes, want, MREMAP_MAYMOVE)
            : r->backed
                ? mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0)
                : mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return -1;
#ifdef MADV_HUGEPAGE
  if (huge) madvise(p, want, MADV_HUGEPAGE); /* a hint: failure changes nothing */
#endif
  r->p = p;
  r->bytes = want;
  return 0;
}

/* Moves an anonymous region into a new unnamed file in dir, mapped shared; 0, or -1 (it stays
 * where it was). */
static int region_to_file(region *r, const char *dir) {
  int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  void *p = NULL;
  if (r->bytes &&
      (ftruncate(fd, (off_t)r->bytes) ||
       (p = mmap(NULL, r->bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED)) {
    close(fd);
    return -1;
  }
  if (r->bytes) {
    memcpy(p, r->p, r->bytes);
    munmap(r->p, r->bytes);
  }
  *r = (region){p, r->bytes, 1, fd};
  return 0;
}

static void region_free(region *r) {
  if (r->bytes) munmap(r->p, r->bytes);
  if (r->backed) close(r->fd);
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
static int reserve(mien_index *ix, size_t n) {
  /* Off-heap from vecs_from vectors on: small collections keep no file (nor a descriptor). */
  if (ix->vecs_dir && !ix->vecs.backed && n >= ix->vecs_from)
    region_to_file(&ix->vecs, ix->vecs_dir); /* failing, they stay in memory */
  if (n <= ix->cap) return 0;
  if (n >= EMPTY) return -1;
  size_t nb = ix->nbuckets;
  while (nb < 2 * n) nb *= 2;
  if ((!ix->lean && region_reserve(&ix->codes, n * ix->stride, 1)) ||
      region_reserve(&ix->vecs, n * (size_t)ix->dim * sizeof(float), 0) ||
      region_reserve(&ix->meta, n * sizeof(index_code_meta), 0) ||
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
  ix->stride = index_stride(dim);
  if (rehash(ix, 16)) {
    free(ix);
    return NULL;
  }
  pthread_mutex_init(&ix->build_mu, NULL);
  pthread_rwlock_init(&ix->ann_lock, NULL);
  ix->threshold = MIEN_ANN_THRESHOLD;
  return ix;
}

static void builder_stop(mien_index *ix);

void mien_index_free(mien_index *ix) {
  if (!ix) return;
  builder_stop(ix);
  mien_ann_free(ix->ann);
  pthread_mutex_destroy(&ix->build_mu);
  pthread_rwlock_destroy(&ix->ann_lock);
  region_free(&ix->codes);
  region_free(&ix->vecs);
  region_free(&ix->meta);
  region_free(&ix->ids);
  free(ix->vecs_dir);
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
  size_t vecs = ix->vecs.backed ? 0 : (size_t)ix->dim * sizeof(float); /* off-heap: not RAM */
  return (ix->lean ? 0 : ix->stride) + vecs + sizeof(index_code_meta) + sizeof(int64_t) + table +
         (ix->ann ? mien_ann_bytes_per_vector(ix->ann) : 0);
}

/* The approximate layers' side of a write, under build_mu: `ann` follows every change; the
 * index being built follows changes to the slots it has copied (below cursor). */
static int ann_follow_add(mien_index *ix, int64_t id, const float *v, size_t slot) {
  if (ix->building && slot < ix->cursor && mien_ann_add(ix->building, 1, &id, v, 1))
    ix->cancel = 1; /* out of memory: this build cannot be complete */
  return ix->ann ? mien_ann_add(ix->ann, 1, &id, v, 1) : 0;
}

static void ann_follow_remove(mien_index *ix, int64_t id, const float *v, size_t slot) {
  if (ix->ann) mien_ann_remove(ix->ann, id, v);
  if (ix->building && slot < ix->cursor) mien_ann_remove(ix->building, id, v);
}

static void builder_check(mien_index *ix);

static int add_locked(mien_index *ix, int64_t id, const float *v) {
  double norm2;
  if (!index_usable(v, ix->dim, &norm2)) return -1;
  size_t b = bucket_of(ix, id), slot;
  if (ix->buckets[b] != EMPTY) {
    slot = ix->buckets[b];
    ann_follow_remove(ix, id, vec_of(ix, slot), slot); /* replaced: out with the old vector */
  } else {
    if (ix->count == ix->cap) {
      if (reserve(ix, ix->cap ? 2 * ix->cap : 64)) return -1;
      b = bucket_of(ix, id);
    }
    slot = ix->count++;
    ix->buckets[b] = (uint32_t)slot;
    ids_of(ix)[slot] = id;
  }
  memcpy(vec_of(ix, slot), v, (size_t)ix->dim * sizeof *v);
  if (!ix->lean) meta_of(ix)[slot] = index_quantise(v, ix->dim, ix->stride, codes_of(ix, slot));
  return ann_follow_add(ix, id, v, slot);
}

int mien_index_add(mien_index *ix, int64_t id, const float *v) {
  pthread_mutex_lock(&ix->build_mu);
  int rc = add_locked(ix, id, v);
  builder_check(ix);
  pthread_mutex_unlock(&ix->build_mu);
  return rc;
}

int mien_index_vectors_in(mien_index *ix, const char *dir, size_t from) {
  pthread_mutex_lock(&ix->build_mu);
  int rc = -1;
  if (!ix->vecs_dir && (ix->vecs_dir = strdup(dir))) {
    ix->vecs_from = from;
    rc = reserve(ix, ix->cap); /* moves them now if there are enough already */
  }
  pthread_mutex_unlock(&ix->build_mu);
  return rc;
}

int mien_index_reserve(mien_index *ix, size_t n) {
  pthread_mutex_lock(&ix->build_mu);
  int rc = reserve(ix, n);
  pthread_mutex_unlock(&ix->build_mu);
  return rc;
}

int mien_index_remove(mien_index *ix, int64_t id) {
  pthread_mutex_lock(&ix->build_mu);
  size_t b = bucket_of(ix, id);
  if (ix->buckets[b] == EMPTY) {
    pthread_mutex_unlock(&ix->build_mu);
    return -1;
  }
  size_t slot = ix->buckets[b], last = ix->count - 1;
  ann_follow_remove(ix, id, vec_of(ix, slot), slot);
  /* The last vector moves into the hole: one the builder has not copied yet must not land
   * below its cursor, where it would never be copied. */
  if (ix->building && slot < ix->cursor && last >= ix->cursor &&
      mien_ann_add(ix->building, 1, &ids_of(ix)[last], vec_of(ix, last), 1))
    ix->cancel = 1; /* out of memory: this build cannot be complete */
  bucket_delete(ix, b);
  if (slot != last) { /* move the last vector into the hole and repoint its bucket */
    int64_t moved = ids_of(ix)[last];
    ix->buckets[bucket_of(ix, moved)] = (uint32_t)slot;
    ids_of(ix)[slot] = moved;
    meta_of(ix)[slot] = meta_of(ix)[last];
    if (!ix->lean) memcpy(codes_of(ix, slot), codes_of(ix, last), ix->stride);
    memcpy(vec_of(ix, slot), vec_of(ix, last), (size_t)ix->dim * sizeof(float));
  }
  /* No bytes of the removed vector stay behind the last slot (nor in a backing file). */
  if (!ix->lean) memset(codes_of(ix, last), 0, ix->stride);
  memset(vec_of(ix, last), 0, (size_t)ix->dim * sizeof(float));
  ix->count--;
  if (ix->cursor > ix->count) ix->cursor = ix->count;
  builder_check(ix);
  pthread_mutex_unlock(&ix->build_mu);
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
  const index_code_meta *meta = meta_of(ix);
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
      const index_code_meta *vm = &meta[b + i];
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

static int exact_search(const mien_index *ix, const float *qv, int k, float min_score, int threads,
                        mien_hit *out) {
  double qn2;
  if (k <= 0 || ix->count == 0 || !index_usable(qv, ix->dim, &qn2)) return 0;
  query q = {.v = qv, .min_score = min_score, .k = k};
  q.codes = aligned_alloc(INDEX_DOT_ALIGN, ix->stride);
  if (!q.codes) return -1;
  index_code_meta qm = index_quantise(qv, ix->dim, ix->stride, q.codes);
  q.scale = qm.scale;
  q.a = index_round_up(sqrt(qn2) * (1 + 2e-5));
  q.b = index_round_up(qm.err * (1 + 1e-5) + sqrt(qn2) * 1e-5);

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

/* --- automatic ANN ---------------------------------------------------------------------------
 *
 * Past `threshold` vectors (MIEN_ANN_THRESHOLD, docs/search.md says how it was chosen) a
 * background thread trains an approximate index (ann.h) and fills it from the slots, a chunk at
 * a time under build_mu, so writers wait at most one chunk and searches never wait (they go on
 * scanning exactly until the new index is published). While it fills, writers keep it right:
 * a change to a slot it has already copied is applied to it too, and a remove that moves a
 * not-yet-copied last vector below the cursor hands that vector over. Once published, writers
 * update it like the rest. It is retrained when the collection has doubled or halved since,
 * and dropped (exact scans again) below half the threshold, so a collection does not flap.
 * Below the threshold nothing of this runs: results are the exact scan's, bit for bit.
 */

/* Faces the fill copies per hold of build_mu: a few ms of assignment work. */
#define FILL_CHUNK 256
/* Lists packed per hold (~0.5 MB each at 10M faces). */
#define PACK_LISTS 8
/* Training sample per list (k-means wants tens of points per centroid). */
#define SAMPLE_PER_LIST 32
/* Stored vectors whose exact and approximate top-10 are compared when an index is built. */
#define RECALL_QUERIES 16

static size_t lists_for(size_t n) {
  return (size_t)(4 * sqrt((double)n)) + 1;
}

/* The ANN's rescoring source: the fp32 vectors the index holds. A large index's lie in a file
 * mapping (mien_index_vectors_in) whose pages the kernel may have dropped: a hint (buf NULL)
 * asks for them ahead. */
static const float *fetch_vector(void *ctx, int64_t id, float *buf) {
  const float *v = mien_index_vector(ctx, id);
  if (!buf && v) {
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), at = (uintptr_t)v & ~(page - 1);
    size_t bytes = (uintptr_t)(v + ((const mien_index *)ctx)->dim) - at;
    madvise((void *)at, bytes, MADV_WILLNEED); /* a hint: failure changes nothing */
    return NULL;
  }
  return v;
}

static mien_ann_params params_for(const mien_index *ix, const mien_ann *ann, int threads) {
  mien_ann_params p = mien_ann_default_params(ann);
  if (ix->params.nprobe > 0) /* exactly these lists (tests): no early stop */
    p.nprobe = ix->params.nprobe, p.nprobe_first = 0;
  if (ix->params.rescore > 0) p.rescore = ix->params.rescore;
  if (ix->params.rerank > 0) p.rerank = ix->params.rerank;
  p.threads = threads;
  return p;
}

/* recall@10 of the published ann against the exact scan, for RECALL_QUERIES stored vectors as
 * queries; each pair of searches holds build_mu (writers wait one exact scan; they keep ann
 * current meanwhile), so writes go on between them. */
static float measure_recall(mien_index *ix) {
  mien_hit want[10], got[10];
  long found = 0, total = 0;
  for (int j = 0; j < RECALL_QUERIES; j++) {
    pthread_mutex_lock(&ix->build_mu);
    const mien_ann *ann = ix->ann;
    if (ann && ix->count >= 10 && !ix->cancel) {
      size_t slot = ix->count * (size_t)(2 * j + 1) / (2 * RECALL_QUERIES);
      const float *q = vec_of(ix, slot);
      mien_ann_params p = params_for(ix, ann, 1);
      /* Lean, the reference is the ann probing every list (as exact as the scan, tests). */
      mien_ann_params all = {.nprobe = (int)mien_ann_lists(ann), .rescore = 256, .threads = 1};
      int nw = ix->lean ? mien_ann_search(ann, q, 10, -1, &all, fetch_vector, ix, want)
                        : exact_search(ix, q, 10, -1, 1, want);
      int ng = mien_ann_search(ann, q, 10, -1, &p, fetch_vector, ix, got);
      for (int w = 0; w < nw; w++)
        for (int g = 0; g < ng; g++) found += want[w].id == got[g].id;
      total += nw > 0 ? nw : 0;
    }
    pthread_mutex_unlock(&ix->build_mu);
  }
  return total ? (float)found / (float)total : NAN;
}

/* Lean: once an ann serves, the exact scan's int8 codes (512 bytes a face) only cost RAM, so
 * they are dropped (their meta goes stale) and recomputed from the fp32 vectors when the index
 * falls back to exact scans. With build_mu held; writers skip the codes meanwhile. */
static void lean_begin(mien_index *ix) {
  if (ix->lean || !ix->ann) return;
  region_free(&ix->codes);
  ix->codes = (region){0};
  ix->lean = 1;
}

/* The codes back for exact scans; 0, or -1 when out of memory (the index stays lean). */
static int lean_end(mien_index *ix) {
  if (!ix->lean) return 0;
  if (region_reserve(&ix->codes, ix->cap * ix->stride, 1)) return -1;
  for (size_t slot = 0; slot < ix->count; slot++)
    meta_of(ix)[slot] = index_quantise(vec_of(ix, slot), ix->dim, ix->stride, codes_of(ix, slot));
  ix->lean = 0;
  return 0;
}

/* Makes ann the one searches use, with build_mu held (it was trained now: trained_at); returns
 * the one it replaces. */
static mien_ann *publish(mien_index *ix, mien_ann *ann) {
  pthread_rwlock_wrlock(&ix->ann_lock); /* waits for searches in flight */
  mien_ann *old = ix->ann;
  ix->ann = ann;
  ix->recall = NAN; /* until record_recall */
  ix->trained_at = ix->count;
  pthread_rwlock_unlock(&ix->ann_lock);
  return old;
}

/* Measures the published ann's recall and records it for mien_index_kind; without build_mu. */
static void record_recall(mien_index *ix) {
  float recall = measure_recall(ix);
  pthread_mutex_lock(&ix->build_mu);
  pthread_rwlock_wrlock(&ix->ann_lock);
  ix->recall = recall;
  pthread_rwlock_unlock(&ix->ann_lock);
  pthread_mutex_unlock(&ix->build_mu);
}

static void *builder_main(void *arg) {
  mien_index *ix = arg;
  pthread_mutex_lock(&ix->build_mu);
  size_t n = ix->count, nlists = lists_for(n);
  size_t m = n < nlists * SAMPLE_PER_LIST ? n : nlists * SAMPLE_PER_LIST;
  float *sample = malloc(m * (size_t)ix->dim * sizeof *sample);
  /* The sample is spread over the slots (copied under build_mu in one go: ~1 ms per 1000). */
  for (size_t i = 0; sample && i < m && i < ix->count; i++)
    memcpy(sample + i * (size_t)ix->dim, vec_of(ix, i * ix->count / m),
           (size_t)ix->dim * sizeof *sample);
  pthread_mutex_unlock(&ix->build_mu);
  mien_ann *ann = sample ? mien_ann_train(ix->dim, sample, m, nlists, 0, 1) : NULL;
  free(sample);
  pthread_mutex_lock(&ix->build_mu);
  ix->building = ann;
  ix->cursor = 0;
  /* Filled, then packed as a load lays it out (mien_ann_pack: its first searches as fast as a
   * loaded index's); faces written while it is packed are added before it goes on. */
  size_t packed = 0, lists = ann ? mien_ann_lists(ann) : 0;
  while (ann && !ix->cancel && (ix->cursor < ix->count || packed < lists)) {
    int trim = 0;
    if (ix->cursor < ix->count) {
      size_t end = ix->cursor + FILL_CHUNK < ix->count ? ix->cursor + FILL_CHUNK : ix->count;
      if (mien_ann_add(ann, end - ix->cursor, ids_of(ix) + ix->cursor, vec_of(ix, ix->cursor), 1))
        break;
      ix->cursor = end;
    } else {
      trim = mien_ann_pack(ann, packed, packed + PACK_LISTS);
      packed += PACK_LISTS;
    }
    pthread_mutex_unlock(&ix->build_mu); /* writers get their turn between chunks */
    /* Slow, so unlocked: the heap locks itself, and only the builder touches ann's count. */
    if (trim) mien_ann_trim(ann);
    pthread_mutex_lock(&ix->build_mu);
  }
  ix->building = NULL;
  if (ann && !ix->cancel && ix->cursor == ix->count) { /* complete: publish it */
    ann = publish(ix, ann);
    pthread_mutex_unlock(&ix->build_mu);
    mien_ann_free(ann);
    ann = NULL;
    record_recall(ix);
    pthread_mutex_lock(&ix->build_mu);
    lean_begin(ix);
  }
  ix->builder_done = 1;
  pthread_mutex_unlock(&ix->build_mu);
  mien_ann_free(ann);
  return NULL;
}

/* Joins a finished builder; with build_mu held. */
static void builder_reap(mien_index *ix) {
  if (ix->builder_started && ix->builder_done) {
    pthread_join(ix->builder, NULL);
    ix->builder_started = ix->builder_done = 0;
    ix->cancel = 0;
  }
}

/* After a write, with build_mu held: start, retrain or drop the approximate index. */
static void builder_check(mien_index *ix) {
  builder_reap(ix);
  size_t n = ix->count;
  if (ix->ann && n < ix->threshold / 2 && lean_end(ix) == 0) { /* else: keep serving ann */
    pthread_rwlock_wrlock(&ix->ann_lock);
    mien_ann_free(ix->ann);
    ix->ann = NULL;
    pthread_rwlock_unlock(&ix->ann_lock);
  }
  if (ix->builder_started) {
    if (n < ix->threshold / 2) ix->cancel = 1;
    return;
  }
  int want = n >= ix->threshold && (!ix->ann || n >= 2 * ix->trained_at || 2 * n <= ix->trained_at);
  if (want && pthread_create(&ix->builder, NULL, builder_main, ix) == 0) ix->builder_started = 1;
}

static void builder_stop(mien_index *ix) {
  pthread_mutex_lock(&ix->build_mu);
  ix->cancel = 1;
  int started = ix->builder_started;
  pthread_mutex_unlock(&ix->build_mu);
  if (started) pthread_join(ix->builder, NULL);
  ix->builder_started = ix->builder_done = 0;
  ix->cancel = 0;
}

int mien_index_search(const mien_index *ix, const float *qv, int k, float min_score, int threads,
                      mien_hit *out) {
  mien_index *w = (mien_index *)ix; /* the locks only */
  pthread_rwlock_rdlock(&w->ann_lock);
  int n;
  if (ix->ann) {
    mien_ann_params p = params_for(ix, ix->ann, threads);
    n = mien_ann_search(ix->ann, qv, k, min_score, &p, fetch_vector, w, out);
  } else {
    n = exact_search(ix, qv, k, min_score, threads, out);
  }
  pthread_rwlock_unlock(&w->ann_lock);
  return n;
}

const char *mien_index_kind(const mien_index *ix, float *recall) {
  mien_index *w = (mien_index *)ix;
  pthread_rwlock_rdlock(&w->ann_lock);
  const char *kind = ix->ann ? "ANN" : "EXACT";
  *recall = ix->ann ? ix->recall : 1.0f;
  pthread_rwlock_unlock(&w->ann_lock);
  return kind;
}

void mien_index_set_ann(mien_index *ix, size_t threshold, int nprobe, int rescore, int rerank) {
  pthread_mutex_lock(&ix->build_mu);
  ix->threshold = threshold ? threshold : MIEN_ANN_THRESHOLD;
  ix->params.nprobe = nprobe;
  ix->params.rescore = rescore;
  ix->params.rerank = rerank;
  builder_check(ix);
  pthread_mutex_unlock(&ix->build_mu);
}

void mien_index_wait(mien_index *ix) {
  /* Polls rather than joins: a writer's builder_check may reap the thread first. */
  for (;;) {
    pthread_mutex_lock(&ix->build_mu);
    builder_check(ix); /* reaps a finished build; what changed meanwhile may start another */
    int running = ix->builder_started;
    pthread_mutex_unlock(&ix->build_mu);
    if (!running) return;
    usleep(1000);
  }
}

/* --- persistence of the ANN --------------------------------------------------------------- */

int mien_index_save_ann(mien_index *ix, const char *path) {
  pthread_mutex_lock(&ix->build_mu); /* writers change ann under it */
  int rc = ix->ann ? mien_ann_save(ix->ann, path) : 1;
  pthread_mutex_unlock(&ix->build_mu);
  return rc;
}

typedef struct {
  const mien_index *ix;
  uint8_t *seen; /* per slot: an id listed twice would hide another that is missing */
} adopt_check;

/* An entry of the loaded ANN against the index: its id is here, once, with the same code. */
static int adopt_visit(void *arg, int64_t id, const int8_t *code, float scale) {
  adopt_check *c = arg;
  const mien_index *ix = c->ix;
  uint32_t slot = ix->buckets[bucket_of(ix, id)];
  if (slot == EMPTY || c->seen[slot]++ || meta_of(ix)[slot].scale != scale ||
      memcmp(codes_of(ix, slot), code, ix->stride))
    return -1;
  return 0;
}

int mien_index_load_ann(mien_index *ix, const char *path) {
  mien_ann *ann = mien_ann_load(path, ix->dim);
  if (!ann) return -1;
  pthread_mutex_lock(&ix->build_mu);
  adopt_check c = {ix, calloc(ix->count ? ix->count : 1, 1)};
  int ok = c.seen && !ix->ann && !ix->builder_started && mien_ann_count(ann) == ix->count &&
           mien_ann_each(ann, adopt_visit, &c) == 0;
  free(c.seen);
  if (ok) ann = publish(ix, ann); /* NULL: there was none; retrained once the count doubles */
  pthread_mutex_unlock(&ix->build_mu);
  mien_ann_free(ann);
  if (!ok) return -1;
  record_recall(ix);
  pthread_mutex_lock(&ix->build_mu);
  lean_begin(ix);
  pthread_mutex_unlock(&ix->build_mu);
  return 0;
}
