/* ann.c - the IVF index of ann.h: two-level spherical k-means lists; per face a 4-bit PQ code
 * scanned first ("fast scan", ann_scan.h), an int8 code the best PQ estimates are re-ranked
 * with (the exact index's dot kernels, index_dot.h), and the best of those rescored in fp32.
 *
 * Why this shape (docs/search.md has the measurements): face templates are unit vectors whose
 * nearest neighbours are few and far above the crowd (a mate at cosine 0.3-0.6 among impostors
 * near 0), so a coarse partition finds them, but a low-quality probe needs 10-20 % of the lists
 * probed. Scanning that many 512-byte int8 codes is memory-bound (~50 ns a face); a PQ code of
 * 16-64 bytes summed through in-register tables costs ~1-3 ns, and its error (~0.03 in cosine)
 * only decides which few thousand faces are re-ranked with the int8 codes (+-0.005), of which a
 * few dozen are rescored exactly.
 *
 * The PQ code encodes r = v - alpha * c (c: the list's dequantised centroid, alpha: the mean
 * projection of the training faces on theirs), so <q, v> = alpha <q, c> + <q, r>: the table of
 * <q's sub-space m, centroid j> is the same for every list, computed and quantised to uint8 once
 * a query (one offset a sub-space, one scale), and the list's term is added when a threshold
 * is converted into that list's uint16 units. The scan keeps the best `rerank` estimates and
 * skips faces that do not beat the worst kept one (its threshold, in the kernel).
 *
 * Lists are separate growable arrays (codes aligned for the kernels, scales, ids, PQ blocks of
 * 32 faces); removal moves a list's last entry into the hole, its PQ nibbles too. There is no
 * id table: remove() is given the vector and re-derives its list, which is deterministic.
 */
#include "store/ann.h"

#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mien.h"
#include "store/ann_scan.h"
#include "store/index_dot.h"

#define KMEANS_ITERS 10
/* Groups a vector's list is looked for in: its best one alone misses lists near a border. */
#define ASSIGN_GROUPS 3
#define MAX_THREADS 64
#define FILE_MAGIC "MIENANN2" /* 2: with the PQ tier; a version-1 file is refused (retrained) */
/* The PQ tier: sub-spaces by default, centroids per sub-space (4 bits), k-means iterations,
 * and the most training residuals its codebooks are fitted on. */
#define PQ_M_DEFAULT 128
#define PQ_K 16
#define PQ_ITERS 16
#define PQ_TRAIN_MAX 65536

typedef struct {
  int8_t *codes; /* n x stride, aligned to INDEX_DOT_ALIGN */
  float *scales;
  int64_t *ids;
  uint8_t *pq; /* the PQ codes in fast-scan blocks (ann_scan.h): cap rounded up to 32 faces */
  uint32_t n, cap;
} ann_list;

struct mien_ann {
  int dim;
  size_t stride;
  uint32_t ngroups, nlists;
  int8_t *group_codes; /* ngroups x stride: the top centroids */
  float *group_scales;
  uint32_t *group_first; /* the lists of group g are group_first[g] .. group_first[g + 1] - 1 */
  int8_t *list_codes;    /* nlists x stride: the list centroids */
  float *list_scales;
  ann_list *lists;
  size_t count;
  int pq_m, dsub;  /* sub-spaces of the PQ tier, dimensions each (the last ones zero-padded) */
  float *codebook; /* pq_m x PQ_K x dsub: the residuals' sub-space centroids */
  /* The residual is v - pq_alpha * centroid: members lie at cosine ~0.5 to their (unit) list
   * centroid (1M faces), so subtracting their mean projection instead of all of it leaves less
   * to quantise (|v - c|^2 ~ 1 against 1 - 0.5^2). */
  float pq_alpha;
  /* A loaded index holds its lists in one mapping asked for huge pages ("the arena" below). */
  uint8_t *arena;
  size_t arena_bytes, arena_used;
  size_t pack_freed; /* heap freed by mien_ann_pack since mien_ann_trim */
};

/* --- small helpers ---------------------------------------------------------------------- */

typedef struct {
  float key;
  int64_t val;
} scored;

/* Min-heap of the best `cap` entries seen: heap[0] is the worst kept. */
static void top_push(scored *heap, int *n, int cap, scored x) {
  int i;
  if (*n < cap) {
    i = (*n)++;
    while (i > 0 && heap[(i - 1) / 2].key > x.key) heap[i] = heap[(i - 1) / 2], i = (i - 1) / 2;
  } else {
    if (x.key <= heap[0].key) return;
    i = 0;
    for (int c; (c = 2 * i + 1) < cap; i = c) {
      if (c + 1 < cap && heap[c + 1].key < heap[c].key) c++;
      if (heap[c].key >= x.key) break;
      heap[i] = heap[c];
    }
  }
  heap[i] = x;
}

/* Whether x ranks before y: the higher key, on a tie the lower value (lists are ranked
 * deterministically). */
static int ranks_before(scored x, scored y) {
  return x.key > y.key || (x.key == y.key && x.val < y.val);
}

static int best_first(const void *pa, const void *pb) {
  const scored *a = pa, *b = pb;
  return ranks_before(*a, *b) ? -1 : ranks_before(*b, *a);
}

/* Moves the k best of v[0..n) (distinct values) to v[0..k), in no order: quickselect, linear
 * where a heap of k would sift every one of n (a search ranks ~8,000 lists for 2,107, and keeps its
 * best 3,000 PQ estimates of ~1M). */
static void select_best(scored *v, int n, int k) {
  int lo = 0, hi = n; /* v[0..lo) rank before v[lo..n), v[0..hi) before v[hi..n) */
  while (lo < k && k < hi) {
    scored pivot = v[lo + (hi - lo) / 2];
    int i = lo, j = hi - 1;
    while (i <= j) {
      while (ranks_before(v[i], pivot)) i++;
      while (ranks_before(pivot, v[j])) j--;
      if (i <= j) {
        scored t = v[i];
        v[i++] = v[j], v[j--] = t;
      }
    }
    if (k <= j + 1)
      hi = j + 1;
    else if (k >= i)
      lo = i;
    else
      break;
  }
}

static void *alloc_codes(size_t rows, size_t stride) {
  size_t bytes = rows * stride;
  return aligned_alloc(INDEX_DOT_ALIGN, bytes ? bytes : INDEX_DOT_ALIGN);
}

/* The PQ block of face i of list l (its place in it: i % ANN_SCAN_BLOCK), and the bytes of
 * the blocks of a list of `faces`. */
static uint8_t *pq_block(const mien_ann *a, const ann_list *l, uint32_t i) {
  return l->pq + (size_t)(i / ANN_SCAN_BLOCK) * ANN_SCAN_BLOCK_BYTES(a->pq_m);
}

static size_t pq_bytes(const mien_ann *a, uint32_t faces) {
  return (size_t)((faces + ANN_SCAN_BLOCK - 1) / ANN_SCAN_BLOCK) * ANN_SCAN_BLOCK_BYTES(a->pq_m);
}

/* The bytes of a list's four arrays for cap faces. */
static size_t list_bytes(const mien_ann *a, uint32_t cap) {
  return (size_t)cap * (a->stride + sizeof(float) + sizeof(int64_t)) + pq_bytes(a, cap);
}

/* --- the arena of a loaded index ------------------------------------------------------------
 *
 * A search touches its lists' PQ blocks and ~3,000 int8 codes at random places in gigabytes: with
 * 4 KB pages each of those is a TLB miss whose page-table entries are rarely cached (at 10M
 * faces a process's first 500 searches, whose codes nothing had touched since the load,
 * re-ranked in 7.2 ms instead of 0.3: ~3.6 us a code; with huge pages the first searches run
 * as fast as later ones, and the scan ~10 % faster). A load knows every list's size, so it lays
 * the lists out in one mapping asked for huge pages (a hint: without them it is an ordinary
 * mapping). A list that outgrows its place moves to the heap (list_grow); the arena is unmapped
 * with the index. An index built by adds has its lists on the heap until mien_ann_pack moves
 * them into an arena sized for the faces it then holds. */

static int in_arena(const mien_ann *a, const void *p) {
  return a->arena && (const uint8_t *)p >= a->arena &&
         (const uint8_t *)p < a->arena + a->arena_bytes;
}

static void list_release(const mien_ann *a, void *p) {
  if (!in_arena(a, p)) free(p);
}

/* A list's four arrays, wherever they lie. */
static void list_free(const mien_ann *a, ann_list *x) {
  list_release(a, x->codes);
  list_release(a, x->scales);
  list_release(a, x->ids);
  list_release(a, x->pq);
}

/* bytes from the arena, aligned for the kernels; NULL when it is full (a short or lying file). */
static void *arena_take(mien_ann *a, size_t bytes) {
  size_t at = (a->arena_used + INDEX_DOT_ALIGN - 1) / INDEX_DOT_ALIGN * INDEX_DOT_ALIGN;
  if (!bytes) bytes = 1;
  if (at > a->arena_bytes || bytes > a->arena_bytes - at) return NULL;
  a->arena_used = at + bytes;
  return a->arena + at;
}

/* The arena for `count` faces: every face's code, scale, id and PQ nibbles, and per list the
 * alignment of its four arrays and its last PQ block's padding. */
static int arena_make(mien_ann *a, size_t count) {
  size_t face_bytes = a->stride + sizeof(float) + sizeof(int64_t) + (size_t)a->pq_m / 2;
  if (count > SIZE_MAX / 2 / face_bytes) return -1;
  size_t bytes = count * face_bytes +
                 (size_t)a->nlists * (4 * INDEX_DOT_ALIGN + ANN_SCAN_BLOCK_BYTES(a->pq_m));
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return -1;
#ifdef MADV_HUGEPAGE
  madvise(p, bytes, MADV_HUGEPAGE); /* a hint: failure changes nothing */
#endif
  a->arena = p;
  a->arena_bytes = bytes;
  a->arena_used = 0;
  return 0;
}

/* Room in the arena for a list of n faces, into *x's arrays (cap n); -1 when it does not fit
 * (*x unchanged). */
static int list_place(mien_ann *a, ann_list *x, uint32_t n) {
  size_t used = a->arena_used;
  int8_t *codes = arena_take(a, (size_t)n * a->stride);
  float *scales = arena_take(a, n * sizeof(float));
  int64_t *ids = arena_take(a, n * sizeof(int64_t));
  uint8_t *pq = arena_take(a, pq_bytes(a, n));
  if (!codes || !scales || !ids || !pq) {
    a->arena_used = used;
    return -1;
  }
  *x = (ann_list){codes, scales, ids, pq, x->n, n};
  return 0;
}

/* glibc keeps the list arrays a pack frees resident while they lie in the middle of its heaps
 * (a 10M pack without trims peaked at 13 GB, twice the index; trimmed every 256 MB, 7.2 GB).
 * A trim walks every free chunk (0.04-0.75 s at 10M, 25 trims 5.9 s), so the caller trims, out
 * of its locks, about every gigabyte. */
#define PACK_TRIM_BYTES ((size_t)1 << 30)

int mien_ann_pack(mien_ann *a, size_t from, size_t to) {
  if (!a->arena && arena_make(a, a->count)) return 0; /* no mapping: the heap serves as before */
  for (size_t l = from; l < to && l < a->nlists; l++) {
    ann_list *x = &a->lists[l], old = *x;
    if (in_arena(a, old.codes) || list_place(a, x, old.n)) continue;
    memcpy(x->codes, old.codes, (size_t)old.n * a->stride);
    memcpy(x->scales, old.scales, old.n * sizeof(float));
    memcpy(x->ids, old.ids, old.n * sizeof(int64_t));
    memcpy(x->pq, old.pq, pq_bytes(a, old.n));
    list_free(a, &old);
    a->pack_freed += list_bytes(a, old.cap);
  }
  return a->pack_freed >= PACK_TRIM_BYTES || (a->pack_freed && to >= a->nlists);
}

void mien_ann_trim(mien_ann *a) {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
  a->pack_freed = 0;
}

static int clamp_threads(int threads, size_t work) {
  if (threads <= 0) threads = mien_cpu_count();
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  if ((size_t)threads > work) threads = work ? (int)work : 1;
  return threads;
}

typedef void (*range_fn)(void *ctx, size_t begin, size_t end);
typedef struct {
  range_fn fn;
  void *ctx;
  size_t begin, end;
} range_job;

static void *range_run(void *arg) {
  range_job *j = arg;
  j->fn(j->ctx, j->begin, j->end);
  return NULL;
}

/* fn over [0, n) split into `threads` ranges (already clamped to n); range t gets the context
 * at ctx + t * ctx_size (ctx_size 0: all share one). The caller runs the first range, and any
 * that could not get a thread. */
static void parallel(int threads, size_t n, range_fn fn, void *ctx, size_t ctx_size) {
  range_job jobs[MAX_THREADS];
  pthread_t tid[MAX_THREADS];
  int started[MAX_THREADS] = {0};
  for (int t = 0; t < threads; t++) {
    jobs[t] = (range_job){fn, (char *)ctx + (size_t)t * ctx_size, n * (size_t)t / (size_t)threads,
                          n * (size_t)(t + 1) / (size_t)threads};
    started[t] = t > 0 && pthread_create(&tid[t], NULL, range_run, &jobs[t]) == 0;
  }
  for (int t = 0; t < threads; t++)
    if (!started[t]) range_run(&jobs[t]);
  for (int t = 0; t < threads; t++)
    if (started[t]) pthread_join(tid[t], NULL);
}

/* Index of the best of rows (codes x scales) for a query code: argmax of dot * scale. */
static uint32_t best_row(const int8_t *codes, const float *scales, size_t stride, uint32_t n,
                         const int8_t *q, int32_t *dots) {
  index_dot_get()->dots(codes, stride, n, q, dots);
  uint32_t best = 0;
  for (uint32_t i = 1; i < n; i++)
    if ((float)dots[i] * scales[i] > (float)dots[best] * scales[best]) best = i;
  return best;
}

/* --- training: spherical k-means over int8 codes of the sample ---------------------------- */

typedef struct {
  const float *v;    /* the sample, n x dim */
  const int8_t *q;   /* its codes, n x stride */
  const uint32_t *m; /* the members being clustered (indices into v) */
  int dim;
  size_t stride;
  uint32_t k;
  int8_t *ccodes; /* k x stride */
  float *cscales;
  uint32_t *assign; /* per member: its centroid */
} kmeans_ctx;

static void kmeans_assign(void *arg, size_t begin, size_t end) {
  kmeans_ctx *c = arg;
  int32_t *dots = malloc(c->k * sizeof *dots);
  if (!dots) abort(); /* a few KB; training has already allocated far more */
  for (size_t i = begin; i < end; i++)
    c->assign[i] =
        best_row(c->ccodes, c->cscales, c->stride, c->k, c->q + (size_t)c->m[i] * c->stride, dots);
  free(dots);
}

static void set_centroid(kmeans_ctx *c, uint32_t j, const float *v) {
  c->cscales[j] = index_quantise(v, c->dim, c->stride, c->ccodes + (size_t)j * c->stride).scale;
}

/* Clusters the n members into k (<= n) centroids, written as codes; assign gets each member's
 * centroid. -1 when out of memory. */
static int kmeans(kmeans_ctx *c, size_t n, int threads) {
  double *sum = malloc((size_t)c->k * (size_t)c->dim * sizeof *sum);
  uint32_t *size = malloc(c->k * sizeof *size);
  float *cent = malloc((size_t)c->dim * sizeof *cent);
  int rc = -1;
  if (!sum || !size || !cent) goto done;
  for (uint32_t j = 0; j < c->k; j++) /* spread over the members: they come in random order */
    set_centroid(c, j, c->v + (size_t)c->m[n * j / c->k] * (size_t)c->dim);
  for (int it = 0; it < KMEANS_ITERS; it++) {
    parallel(clamp_threads(threads, n), n, kmeans_assign, c, 0);
    if (it == KMEANS_ITERS - 1) break;
    memset(sum, 0, (size_t)c->k * (size_t)c->dim * sizeof *sum);
    memset(size, 0, c->k * sizeof *size);
    for (size_t i = 0; i < n; i++) {
      const float *v = c->v + (size_t)c->m[i] * (size_t)c->dim;
      double *s = sum + (size_t)c->assign[i] * (size_t)c->dim;
      for (int d = 0; d < c->dim; d++) s[d] += v[d];
      size[c->assign[i]]++;
    }
    for (uint32_t j = 0; j < c->k; j++) {
      if (!size[j]) continue; /* an empty cluster keeps its centroid */
      double n2 = 0;
      const double *s = sum + (size_t)j * (size_t)c->dim;
      for (int d = 0; d < c->dim; d++) n2 += s[d] * s[d];
      for (int d = 0; d < c->dim; d++) cent[d] = (float)(s[d] / sqrt(n2 > 0 ? n2 : 1));
      set_centroid(c, j, cent);
    }
  }
  rc = 0;
done:
  free(sum);
  free(size);
  free(cent);
  return rc;
}

static mien_ann *ann_alloc(int dim, uint32_t ngroups, uint32_t nlists, int pq_m) {
  mien_ann *a = calloc(1, sizeof *a);
  if (!a) return NULL;
  a->dim = dim;
  a->pq_m = pq_m;
  a->dsub = (dim + pq_m - 1) / pq_m;
  a->codebook = calloc((size_t)pq_m * PQ_K * (size_t)a->dsub, sizeof *a->codebook);
  a->stride = index_stride(dim);
  a->ngroups = ngroups;
  a->nlists = nlists;
  a->group_codes = alloc_codes(ngroups, a->stride);
  a->group_scales = calloc(ngroups, sizeof *a->group_scales);
  a->group_first = calloc(ngroups + 1, sizeof *a->group_first);
  a->list_codes = alloc_codes(nlists, a->stride);
  a->list_scales = calloc(nlists, sizeof *a->list_scales);
  a->lists = calloc(nlists, sizeof *a->lists);
  if (!a->group_codes || !a->group_scales || !a->group_first || !a->list_codes || !a->list_scales ||
      !a->lists || !a->codebook) {
    mien_ann_free(a);
    return NULL;
  }
  return a;
}

static int pq_train(mien_ann *a, const float *sample, size_t n, int threads);

mien_ann *mien_ann_train(int dim, const float *sample, size_t n, size_t nlists, int pq_m,
                         int threads) {
  if (dim < 1 || n < 1 || n >= UINT32_MAX) return NULL;
  if (pq_m <= 0) pq_m = PQ_M_DEFAULT;
  pq_m = pq_m < 4 ? 4 : pq_m > ANN_SCAN_MAX_M ? ANN_SCAN_MAX_M : pq_m / 4 * 4;
  if (nlists < 1) nlists = 1;
  if (nlists > n) nlists = n;
  uint32_t ngroups = (uint32_t)ceil(sqrt((double)nlists));
  size_t stride = index_stride(dim);
  int8_t *q = alloc_codes(n, stride), *ccodes = alloc_codes(nlists + ngroups, stride);
  uint32_t *m = malloc(n * sizeof *m), *assign = malloc(n * sizeof *assign);
  uint32_t *order = malloc(n * sizeof *order), *first = calloc(ngroups + 1, sizeof *first);
  float *cscales = malloc((nlists + ngroups) * sizeof *cscales);
  mien_ann *a = NULL;
  if (!q || !ccodes || !m || !assign || !order || !first || !cscales) goto done;
  for (size_t i = 0; i < n; i++) {
    index_quantise(sample + i * (size_t)dim, dim, stride, q + i * stride);
    m[i] = (uint32_t)i;
  }
  kmeans_ctx top = {sample, q, m, dim, stride, ngroups, ccodes, cscales, assign};
  if (kmeans(&top, n, threads)) goto done;
  /* Members of each group, contiguous in order[]; each group gets lists in proportion. */
  for (size_t i = 0; i < n; i++) first[assign[i] + 1]++;
  for (uint32_t g = 0; g < ngroups; g++) first[g + 1] += first[g];
  for (size_t i = 0; i < n; i++) order[first[assign[i]]++] = (uint32_t)i;
  for (uint32_t g = ngroups; g > 0; g--) first[g] = first[g - 1];
  first[0] = 0;
  uint32_t *sub = malloc(ngroups * sizeof *sub), total = 0;
  if (!sub) goto done;
  for (uint32_t g = 0; g < ngroups; g++) {
    size_t members = first[g + 1] - first[g];
    size_t k = (size_t)llround((double)nlists * (double)members / (double)n);
    sub[g] = (uint32_t)(k < 1 ? 1 : k > members ? members : k);
    if (!members) sub[g] = 0;
    total += sub[g];
  }
  a = ann_alloc(dim, ngroups, total, pq_m);
  if (!a) {
    free(sub);
    goto done;
  }
  memcpy(a->group_codes, ccodes, (size_t)ngroups * stride);
  memcpy(a->group_scales, cscales, ngroups * sizeof *cscales);
  uint32_t next = 0;
  for (uint32_t g = 0; g < ngroups; g++) {
    a->group_first[g] = next;
    if (!sub[g]) continue;
    kmeans_ctx c = {sample, q, order + first[g], dim, stride, sub[g], ccodes, cscales, assign};
    if (kmeans(&c, first[g + 1] - first[g], threads)) {
      mien_ann_free(a);
      a = NULL;
      break;
    }
    memcpy(a->list_codes + (size_t)next * stride, ccodes, (size_t)sub[g] * stride);
    memcpy(a->list_scales + next, cscales, sub[g] * sizeof *cscales);
    next += sub[g];
  }
  if (a) a->group_first[ngroups] = next;
  free(sub);
  if (a && pq_train(a, sample, n, threads)) {
    mien_ann_free(a);
    a = NULL;
  }
done:
  free(q);
  free(ccodes);
  free(m);
  free(assign);
  free(order);
  free(first);
  free(cscales);
  return a;
}

void mien_ann_free(mien_ann *a) {
  if (!a) return;
  for (uint32_t l = 0; a->lists && l < a->nlists; l++) list_free(a, &a->lists[l]);
  if (a->arena) munmap(a->arena, a->arena_bytes);
  free(a->codebook);
  free(a->lists);
  free(a->group_codes);
  free(a->group_scales);
  free(a->group_first);
  free(a->list_codes);
  free(a->list_scales);
  free(a);
}

size_t mien_ann_count(const mien_ann *a) {
  return a->count;
}

size_t mien_ann_lists(const mien_ann *a) {
  return a->nlists;
}

int mien_ann_pq_m(const mien_ann *a) {
  return a->pq_m;
}

size_t mien_ann_bytes_per_vector(const mien_ann *a) {
  size_t bytes = sizeof *a + (size_t)(a->ngroups + a->nlists) * (a->stride + sizeof(float)) +
                 (a->ngroups + 1) * sizeof(uint32_t) + a->nlists * sizeof(ann_list);
  bytes += (size_t)a->pq_m * PQ_K * (size_t)a->dsub * sizeof(float);
  for (uint32_t l = 0; l < a->nlists; l++) bytes += list_bytes(a, a->lists[l].cap);
  return a->count ? bytes / a->count : bytes;
}

/* The first stage (docs/search.md, "The first stage"), measured at these sizes: the share of
 * nprobe a search always scans before it may stop, and the margin (cosine) within which every
 * other list near the query's best one is scanned too, for recall@10 >= 0.991 at the fewest
 * faces (0.993 / 0.991 / 0.991 at 1M / 10M / 20M). A query whose best lists are few and far
 * above the rest has its top-10 in them; one among many near-equal lists needs them all. A fixed
 * share gave every query the depth of the worst: at 10M 0.93M faces at the median where the
 * margin scans 0.73M for the same recall. Between two sizes by log of the count; beyond either
 * end, the nearest. */
static const struct {
  double faces, share;
  float margin;
} first_stage[] = {{1e6, 0.45, 0.30f}, {1e7, 0.215, 0.24f}, {2e7, 0.5, 0}};

mien_ann_params mien_ann_default_params(const mien_ann *a) {
  /* Measured on LFW-calibrated synthetic faces (docs/search.md): a low-quality probe's mates
   * need 15-20 % of the lists probed for recall@1 and recall@10 >= 0.995 (1M: 800 of 4,000
   * lists; 10M: 2,000 of 12,647); the PQ estimates' error sets how deep the int8 re-rank must go
   * (M = 128: 2,000 candidates, and 3,000 buy back some of what an earlier stop costs; M = 64
   * needed 8,000, its error variance being about twice); the int8 estimates' +-0.005 lets 16
   * exact rescores give the exact top-10 (16 and 32 gave identical recall). Those many lists
   * are for the low-quality probes: 9 in 10 probes have found a mate at cosine >= 0.6 in the
   * first stage and stop there. */
  int nprobe = (int)(a->nlists / 6), scale = ANN_SCAN_MAX_M / a->pq_m;
  nprobe = nprobe < 16 ? 16 : nprobe;
  /* The two measured sizes around the count (the last two past the end), and how far along. */
  double n = a->count ? (double)a->count : 1;
  size_t i = 0, last = sizeof first_stage / sizeof *first_stage - 1;
  while (i + 1 < last && n > first_stage[i + 1].faces) i++;
  double t = log(n / first_stage[i].faces) / log(first_stage[i + 1].faces / first_stage[i].faces);
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  double share = first_stage[i].share + t * (first_stage[i + 1].share - first_stage[i].share);
  float margin =
      first_stage[i].margin + (float)t * (first_stage[i + 1].margin - first_stage[i].margin);
  return (mien_ann_params){.nprobe = nprobe,
                           .rescore = 16,
                           .threads = 1,
                           .rerank = 3000 * scale * scale,
                           .nprobe_first = (int)(nprobe * share),
                           .stop_score = 0.6f,
                           .first_margin = margin};
}

/* --- adds and removes --------------------------------------------------------------------- */

/* The list of a vector with code q: the best list of its ASSIGN_GROUPS best groups. */
static uint32_t list_of(const mien_ann *a, const int8_t *q, int32_t *dots) {
  int ng = a->ngroups < ASSIGN_GROUPS ? (int)a->ngroups : ASSIGN_GROUPS, n = 0;
  scored groups[ASSIGN_GROUPS];
  index_dot_get()->dots(a->group_codes, a->stride, a->ngroups, q, dots);
  for (uint32_t g = 0; g < a->ngroups; g++)
    if (a->group_first[g + 1] > a->group_first[g])
      top_push(groups, &n, ng, (scored){(float)dots[g] * a->group_scales[g], g});
  uint32_t best = 0;
  float best_score = -INFINITY;
  for (int i = 0; i < n; i++) {
    uint32_t g = (uint32_t)groups[i].val, l0 = a->group_first[g], nl = a->group_first[g + 1] - l0;
    uint32_t l = l0 + best_row(a->list_codes + (size_t)l0 * a->stride, a->list_scales + l0,
                               a->stride, nl, q, dots);
    float s = (float)dots[l - l0] * a->list_scales[l];
    if (s > best_score || (s == best_score && l < best)) best = l, best_score = s;
  }
  return best;
}

static int dots_rows(const mien_ann *a) {
  uint32_t most = a->ngroups;
  for (uint32_t g = 0; g < a->ngroups; g++)
    if (a->group_first[g + 1] - a->group_first[g] > most)
      most = a->group_first[g + 1] - a->group_first[g];
  return (int)most;
}

/* --- the PQ tier: residuals from the list centroid, 4 bits per sub-space --------------------- */

/* r = v - pq_alpha x the dequantised centroid of list l, zero-padded to pq_m x dsub. */
static void residual(const mien_ann *a, uint32_t l, const float *v, float *r) {
  const int8_t *c = a->list_codes + (size_t)l * a->stride;
  float s = a->list_scales[l] * a->pq_alpha;
  for (int d = 0; d < a->dim; d++) r[d] = v[d] - (float)c[d] * s;
  for (int d = a->dim; d < a->pq_m * a->dsub; d++) r[d] = 0;
}

/* The nearest of a sub-space's PQ_K centroids (L2) to x (dsub floats). */
static unsigned nearest(const float *centroids, int dsub, const float *x) {
  unsigned best = 0;
  float best_d = INFINITY;
  for (unsigned j = 0; j < PQ_K; j++) {
    float d2 = 0;
    for (int d = 0; d < dsub; d++) {
      float e = x[d] - centroids[j * (size_t)dsub + d];
      d2 += e * e;
    }
    if (d2 < best_d) best = j, best_d = d2;
  }
  return best;
}

/* The PQ code (pq_m bytes, one 4-bit code each) of v in list l; r: pq_m x dsub scratch. */
static void pq_encode(const mien_ann *a, uint32_t l, const float *v, float *r, uint8_t *code) {
  residual(a, l, v, r);
  for (int m = 0; m < a->pq_m; m++)
    code[m] = (uint8_t)nearest(a->codebook + (size_t)m * PQ_K * (size_t)a->dsub, a->dsub,
                               r + (size_t)m * (size_t)a->dsub);
}

typedef struct {
  mien_ann *a;
  const float *sample;
  size_t n; /* the sample's size; ns of it are used, spread over it */
  size_t ns;
  uint32_t *list; /* ns: each used sample vector's list */
  float *proj;    /* ns: its projection on the list's dequantised centroid */
  float *res;     /* ns x pq_m x dsub */
  int bad;
} pq_train_ctx;

static const float *pq_sample(const pq_train_ctx *c, size_t i) {
  return c->sample + (i * c->n / c->ns) * (size_t)c->a->dim;
}

static void pq_lists(void *arg, size_t begin, size_t end) {
  pq_train_ctx *c = arg;
  const mien_ann *a = c->a;
  int8_t *code = alloc_codes(1, a->stride);
  int32_t *dots = malloc((size_t)dots_rows(a) * sizeof *dots);
  for (size_t i = begin; code && dots && i < end; i++) {
    const float *v = pq_sample(c, i);
    index_quantise(v, a->dim, a->stride, code);
    uint32_t l = c->list[i] = list_of(a, code, dots);
    const int8_t *cl = a->list_codes + (size_t)l * a->stride;
    double p = 0;
    for (int d = 0; d < a->dim; d++) p += (double)v[d] * cl[d];
    c->proj[i] = (float)p * a->list_scales[l];
  }
  if (!code || !dots) c->bad = 1;
  free(code);
  free(dots);
}

static void pq_residuals(void *arg, size_t begin, size_t end) {
  pq_train_ctx *c = arg;
  size_t width = (size_t)c->a->pq_m * (size_t)c->a->dsub;
  for (size_t i = begin; i < end; i++)
    residual(c->a, c->list[i], pq_sample(c, i), c->res + i * width);
}

/* k-means (L2) of sub-spaces [begin, end) of the residuals into PQ_K centroids each. */
static void pq_kmeans(void *arg, size_t begin, size_t end) {
  pq_train_ctx *c = arg;
  mien_ann *a = c->a;
  size_t width = (size_t)a->pq_m * (size_t)a->dsub, dsub = (size_t)a->dsub;
  double *sum = malloc(PQ_K * dsub * sizeof *sum);
  size_t size[PQ_K];
  if (!sum) {
    c->bad = 1;
    return;
  }
  for (size_t m = begin; m < end; m++) {
    float *cent = a->codebook + m * PQ_K * dsub;
    for (size_t j = 0; j < PQ_K; j++) /* spread over the residuals: they come in mixed order */
      memcpy(cent + j * dsub, c->res + (c->ns * j / PQ_K) * width + m * dsub, dsub * sizeof *cent);
    for (int it = 0; it < PQ_ITERS; it++) {
      memset(sum, 0, PQ_K * dsub * sizeof *sum);
      memset(size, 0, sizeof size);
      for (size_t i = 0; i < c->ns; i++) {
        const float *x = c->res + i * width + m * dsub;
        unsigned j = nearest(cent, (int)dsub, x);
        for (size_t d = 0; d < dsub; d++) sum[j * dsub + d] += x[d];
        size[j]++;
      }
      for (size_t j = 0; j < PQ_K; j++) /* an empty cluster keeps its centroid */
        for (size_t d = 0; size[j] && d < dsub; d++)
          cent[j * dsub + d] = (float)(sum[j * dsub + d] / (double)size[j]);
    }
  }
  free(sum);
}

/* Fits the codebooks on the residuals of (up to PQ_TRAIN_MAX of) the training sample. */
static int pq_train(mien_ann *a, const float *sample, size_t n, int threads) {
  size_t ns = n < PQ_TRAIN_MAX ? n : PQ_TRAIN_MAX;
  pq_train_ctx c = {a,
                    sample,
                    n,
                    ns,
                    malloc(ns * sizeof(uint32_t)),
                    malloc(ns * sizeof(float)),
                    malloc(ns * (size_t)a->pq_m * (size_t)a->dsub * sizeof(float)),
                    0};
  int ok = c.list && c.proj && c.res;
  if (ok) parallel(clamp_threads(threads, ns), ns, pq_lists, &c, 0);
  ok = ok && !c.bad;
  if (ok) {
    double sum = 0;
    for (size_t i = 0; i < ns; i++) sum += c.proj[i];
    a->pq_alpha = (float)(sum / (double)ns);
    parallel(clamp_threads(threads, ns), ns, pq_residuals, &c, 0);
    parallel(clamp_threads(threads, (size_t)a->pq_m), (size_t)a->pq_m, pq_kmeans, &c, 0);
    ok = !c.bad;
  }
  free(c.list);
  free(c.proj);
  free(c.res);
  return ok ? 0 : -1;
}

typedef struct {
  const mien_ann *a;
  const float *v;
  int8_t *codes;
  float *scales;
  uint32_t *list;
  uint8_t *pq; /* per vector, pq_m codes */
  int bad;
} add_ctx;

static void add_assign(void *arg, size_t begin, size_t end) {
  add_ctx *c = arg;
  const mien_ann *a = c->a;
  int32_t *dots = malloc((size_t)dots_rows(a) * sizeof *dots);
  float *r = malloc((size_t)a->pq_m * (size_t)a->dsub * sizeof *r);
  if (!dots || !r) {
    c->bad = 1;
    free(dots);
    free(r);
    return;
  }
  for (size_t i = begin; i < end; i++) {
    const float *v = c->v + i * (size_t)a->dim;
    double n2;
    if (!index_usable(v, a->dim, &n2)) c->bad = 1;
    int8_t *code = c->codes + i * a->stride;
    c->scales[i] = index_quantise(v, a->dim, a->stride, code).scale;
    c->list[i] = list_of(a, code, dots);
    pq_encode(a, c->list[i], v, r, c->pq + i * (size_t)a->pq_m);
  }
  free(dots);
  free(r);
}

/* realloc for a list's array, which may lie in the arena (then copied out to the heap). */
static void *list_realloc(const mien_ann *a, void *p, size_t used, size_t bytes) {
  if (!in_arena(a, p)) return realloc(p, bytes);
  void *q = malloc(bytes);
  if (q) memcpy(q, p, used);
  return q;
}

static int list_grow(const mien_ann *a, ann_list *l) {
  size_t stride = a->stride;
  uint32_t cap = l->cap + l->cap / 4 + 16;
  uint8_t *pq = list_realloc(a, l->pq, pq_bytes(a, l->cap), pq_bytes(a, cap));
  if (!pq) return -1;
  memset(pq + pq_bytes(a, l->cap), 0, pq_bytes(a, cap) - pq_bytes(a, l->cap));
  l->pq = pq;
  int8_t *codes = alloc_codes(cap, stride);
  float *scales = list_realloc(a, l->scales, l->n * sizeof *scales, cap * sizeof *scales);
  if (scales) l->scales = scales;
  int64_t *ids = list_realloc(a, l->ids, l->n * sizeof *ids, cap * sizeof *ids);
  if (ids) l->ids = ids;
  if (!codes || !scales || !ids) {
    free(codes);
    return -1;
  }
  if (l->n) memcpy(codes, l->codes, (size_t)l->n * stride);
  list_release(a, l->codes);
  l->codes = codes;
  l->cap = cap;
  return 0;
}

/* Batches bound the scratch memory of a large add. */
#define ADD_BATCH 65536

int mien_ann_add(mien_ann *a, size_t n, const int64_t *ids, const float *v, int threads) {
  size_t batch = n < ADD_BATCH ? n : ADD_BATCH;
  add_ctx c = {a,
               NULL,
               alloc_codes(batch, a->stride),
               malloc(batch * sizeof(float)),
               malloc(batch * sizeof(uint32_t)),
               malloc(batch * (size_t)a->pq_m),
               0};
  int rc = c.codes && c.scales && c.list && c.pq ? 0 : -1;
  for (size_t b = 0; rc == 0 && b < n; b += batch) {
    size_t m = n - b < batch ? n - b : batch;
    c.v = v + b * (size_t)a->dim;
    parallel(clamp_threads(threads, m), m, add_assign, &c, 0);
    if (c.bad) rc = -1;
    for (size_t i = 0; rc == 0 && i < m; i++) {
      ann_list *l = &a->lists[c.list[i]];
      if (l->n == l->cap && list_grow(a, l)) {
        rc = -1;
        break;
      }
      memcpy(l->codes + (size_t)l->n * a->stride, c.codes + i * a->stride, a->stride);
      l->scales[l->n] = c.scales[i];
      for (int m = 0; m < a->pq_m; m++)
        ann_scan_set(pq_block(a, l, l->n), m, l->n % ANN_SCAN_BLOCK, c.pq[i * (size_t)a->pq_m + m]);
      l->ids[l->n++] = ids[b + i];
      a->count++;
    }
  }
  free(c.codes);
  free(c.scales);
  free(c.list);
  free(c.pq);
  return rc;
}

int mien_ann_remove(mien_ann *a, int64_t id, const float *v) {
  int8_t *code = alloc_codes(1, a->stride);
  int32_t *dots = malloc((size_t)dots_rows(a) * sizeof *dots);
  int rc = -1;
  if (code && dots) {
    index_quantise(v, a->dim, a->stride, code);
    ann_list *l = &a->lists[list_of(a, code, dots)];
    for (uint32_t i = 0; i < l->n; i++) {
      if (l->ids[i] != id) continue;
      uint32_t last = --l->n;
      memcpy(l->codes + (size_t)i * a->stride, l->codes + (size_t)last * a->stride, a->stride);
      l->scales[i] = l->scales[last];
      l->ids[i] = l->ids[last];
      for (int m = 0; m < a->pq_m; m++) {
        ann_scan_set(pq_block(a, l, i), m, i % ANN_SCAN_BLOCK,
                     ann_scan_code(pq_block(a, l, last), m, last % ANN_SCAN_BLOCK));
        ann_scan_set(pq_block(a, l, last), m, last % ANN_SCAN_BLOCK, 0);
      }
      memset(l->codes + (size_t)last * a->stride, 0, a->stride); /* no bytes of it remain */
      a->count--;
      rc = 0;
      break;
    }
  }
  free(code);
  free(dots);
  return rc;
}

/* --- search ------------------------------------------------------------------------------- */

/* The query's side of a search: its int8 code and scale, and the probed lists with their
 * coarse scores <q, centroid> (estimated from the int8 codes). */
typedef struct {
  const mien_ann *a;
  const int8_t *q;
  float qscale; /* q's int8 scale: int8 dots x a face's scale x qscale estimate <q, v> */
  const uint32_t *lists;
  const float *coarse;
  /* The PQ tier: the uint8 table (pq_m x 16), and est = coarse + bias + delta * sum. */
  const uint8_t *lut;
  float bias, delta;
} query_ctx;

/* One thread's part of a search: lists[begin..end) scanned into its own candidates. They are
 * appended to room for 2 x cap; when it is full the best cap stay (select_best) and `floor`
 * rises to the worst of them, which later candidates must beat (a heap of cap would sift each
 * one in: a tenth of a search's time at 10M faces). */
typedef struct {
  const query_ctx *qc;
  int cap;
  scored *cand; /* 2 x cap */
  int n;
  float floor; /* -inf until the first cut */
} scan_ctx;

/* Keeps the best cap of c's candidates. */
static void cut(scan_ctx *c) {
  if (c->n <= c->cap) return;
  select_best(c->cand, c->n, c->cap);
  c->n = c->cap;
  float worst = INFINITY;
  for (int i = 0; i < c->n; i++) worst = c->cand[i].key < worst ? c->cand[i].key : worst;
  c->floor = worst;
}

static void keep(scan_ctx *c, scored x) {
  if (x.key <= c->floor) return;
  c->cand[c->n++] = x;
  if (c->n == 2 * c->cap) cut(c);
}

/* Without the PQ tier (rerank 0): the int8 codes of every face of the lists; values are ids. */
static void scan_lists(void *arg, size_t begin, size_t end) {
  scan_ctx *c = arg;
  const mien_ann *a = c->qc->a;
  int32_t dots[256];
  for (size_t i = begin; i < end; i++) {
    const ann_list *l = &a->lists[c->qc->lists[i]];
    for (uint32_t r = 0; r < l->n; r += 256) {
      uint32_t m = l->n - r < 256 ? l->n - r : 256;
      index_dot_get()->dots(l->codes + (size_t)r * a->stride, a->stride, m, c->qc->q, dots);
      for (uint32_t j = 0; j < m; j++)
        keep(c, (scored){(float)dots[j] * l->scales[r + j], l->ids[r + j]});
    }
  }
}

/* Bytes the fast scan asks for ahead of where it reads: the hardware prefetcher does not
 * follow a scan from one list's allocation into the next, nor across 4 KB pages at once. */
#define PREFETCH_LEAD 4096

static void prefetch_bytes(const uint8_t *p, size_t bytes) {
  for (size_t o = 0; o < bytes; o += 64) __builtin_prefetch(p + o);
}

/* The fast scan: PQ estimates of every face of the lists, only those beating the floor kept;
 * values are (list << 32 | position) for the int8 rerank. */
static void scan_pq(void *arg, size_t begin, size_t end) {
  scan_ctx *c = arg;
  const query_ctx *qc = c->qc;
  const mien_ann *a = qc->a;
  ann_scan_fn scan = ann_scan_get()->scan;
  uint16_t sums[ANN_SCAN_BLOCK];
  size_t block_bytes = ANN_SCAN_BLOCK_BYTES(a->pq_m);
  uint32_t lead_faces = (uint32_t)(PREFETCH_LEAD / block_bytes) * ANN_SCAN_BLOCK;
  for (size_t i = begin; i < end; i++) {
    uint32_t li = qc->lists[i];
    const ann_list *l = &a->lists[li];
    float base = qc->coarse[i] + qc->bias;
    if (i + 1 < end) { /* the next list's first blocks, while this one is scanned */
      const ann_list *next = &a->lists[qc->lists[i + 1]];
      size_t bytes = pq_bytes(a, next->n);
      prefetch_bytes(next->pq, bytes < PREFETCH_LEAD ? bytes : PREFETCH_LEAD);
    }
    for (uint32_t r = 0; r < l->n; r += ANN_SCAN_BLOCK) {
      if (r + lead_faces < l->n) /* a lead ahead, in this list */
        prefetch_bytes(pq_block(a, l, r) + PREFETCH_LEAD, block_bytes);
      int thr = -1; /* the sum a face must exceed: the floor, in this list's units */
      if (c->floor > -INFINITY) {
        float t = floorf((c->floor - base) / qc->delta);
        if (t >= 32767) break; /* no face of this list can beat it */
        thr = t < -1 ? -1 : (int)t;
      }
      int n = l->n - r < ANN_SCAN_BLOCK ? (int)(l->n - r) : ANN_SCAN_BLOCK;
      uint32_t mask = scan(pq_block(a, l, r), a->pq_m, qc->lut, n, thr, sums);
      for (; mask; mask &= mask - 1) {
        int j = __builtin_ctz(mask);
        keep(c, (scored){base + qc->delta * (float)sums[j], (int64_t)li << 32 | (r + (uint32_t)j)});
      }
    }
  }
}

/* The PQ table of query q: lut[m][j] = <q's sub-space m, centroid j>, as uint8 with one offset
 * per sub-space (their sum is bias) and one scale (delta) for all. */
static void pq_table(const mien_ann *a, const float *q, uint8_t *lut, float *lutf, float *bias,
                     float *delta) {
  float lo[ANN_SCAN_MAX_M], range = 0;
  double sum_lo = 0;
  for (int m = 0; m < a->pq_m; m++) {
    const float *cent = a->codebook + (size_t)m * PQ_K * (size_t)a->dsub;
    lo[m] = INFINITY;
    float hi = -INFINITY;
    for (int j = 0; j < PQ_K; j++) {
      float s = 0;
      for (int d = 0; d < a->dsub; d++) {
        int x = m * a->dsub + d;
        s += x < a->dim ? q[x] * cent[j * a->dsub + d] : 0;
      }
      lutf[m * PQ_K + j] = s;
      lo[m] = s < lo[m] ? s : lo[m];
      hi = s > hi ? s : hi;
    }
    range = hi - lo[m] > range ? hi - lo[m] : range;
    sum_lo += lo[m];
  }
  *delta = range > 0 ? range / 255 : 1;
  *bias = (float)sum_lo;
  for (int m = 0; m < a->pq_m; m++)
    for (int j = 0; j < PQ_K; j++)
      lut[m * PQ_K + j] = (uint8_t)lrintf((lutf[m * PQ_K + j] - lo[m]) / *delta);
}

static int hit_order(const void *pa, const void *pb) {
  const mien_hit *a = pa, *b = pb;
  if (a->score != b->score) return a->score > b->score ? -1 : 1;
  return (a->id > b->id) - (a->id < b->id);
}

/* The best `cap` of the parts' candidates, gathered in part 0's (in no order); returns how
 * many. */
static int merge_parts(scan_ctx *part, int threads) {
  for (int t = 1; t < threads; t++)
    for (int i = 0; i < part[t].n; i++) keep(&part[0], part[t].cand[i]);
  cut(&part[0]);
  return part[0].n;
}

/* The ranked lists probe[from..to) into the search's order, best first (the scan's threshold
 * then rises early and later lists push few faces), with their coarse scores. */
static void order_lists(const mien_ann *a, float qscale, scored *probe, int from, int to,
                        uint32_t *lists, float *coarse) {
  qsort(probe + from, (size_t)(to - from), sizeof *probe, best_first);
  for (int i = from; i < to; i++)
    lists[i] = (uint32_t)probe[i].val, coarse[i] = probe[i].key * qscale * a->pq_alpha;
}

/* The int8 estimate of <q, face (list << 32 | position)>. */
static float int8_score(const query_ctx *qc, int64_t at) {
  const mien_ann *a = qc->a;
  const ann_list *l = &a->lists[at >> 32];
  uint32_t r = (uint32_t)at;
  int32_t dot;
  index_dot_get()->dots(l->codes + (size_t)r * a->stride, a->stride, 1, qc->q, &dot);
  return (float)dot * l->scales[r] * qc->qscale;
}

/* The best score among the parts' candidates so far (-inf when none), for the early stop:
 * with the PQ tier, the best int8 score of the STOP_CHECK best estimates (4-bit estimates are
 * shrunk towards the crowd: a mate at cosine 0.7 is often estimated near 0.5); without it the
 * candidates' keys are int8 scores already. */
#define STOP_CHECK 16
static float best_so_far(const query_ctx *qc, const scan_ctx *part, int threads, int pq) {
  scored top[STOP_CHECK];
  int n = 0;
  for (int t = 0; t < threads; t++)
    for (int i = 0; i < part[t].n; i++) top_push(top, &n, pq ? STOP_CHECK : 1, part[t].cand[i]);
  float best = -INFINITY;
  for (int i = 0; i < n; i++) {
    float s = pq ? int8_score(qc, top[i].val) : top[i].key * qc->qscale;
    best = s > best ? s : best;
  }
  return best;
}

/* The int8 re-rank gathers its candidates' codes (each at a random place) RERANK_BATCH at a
 * time into one buffer, asking memory for each RERANK_LEAD candidates ahead so the reads
 * overlap, and scores the batch with one call of the dot kernel. */
#define RERANK_BATCH 64
#define RERANK_LEAD 8

/* The PQ candidates (list << 32 | position) scored with their int8 codes; the best `rescore`
 * into heap (values ids); returns how many. Only the kept ones' ids are looked up. rows holds
 * RERANK_BATCH codes. */
static int rerank_int8(const query_ctx *qc, const scored *cand, int n, int rescore, int8_t *rows,
                       scored *heap) {
  const mien_ann *a = qc->a;
  int32_t dots[RERANK_BATCH];
  float scales[RERANK_BATCH];
  int nh = 0;
  for (int b = 0; b < n; b += RERANK_BATCH) {
    int m = n - b < RERANK_BATCH ? n - b : RERANK_BATCH;
    for (int i = 0; i < m; i++) {
      if (b + i + RERANK_LEAD < n) {
        int64_t ahead = cand[b + i + RERANK_LEAD].val;
        const ann_list *l = &a->lists[ahead >> 32];
        prefetch_bytes((const uint8_t *)l->codes + (size_t)(uint32_t)ahead * a->stride, a->stride);
        __builtin_prefetch(l->scales + (uint32_t)ahead);
      }
      int64_t at = cand[b + i].val;
      const ann_list *l = &a->lists[at >> 32];
      memcpy(rows + (size_t)i * a->stride, l->codes + (size_t)(uint32_t)at * a->stride, a->stride);
      scales[i] = l->scales[(uint32_t)at];
    }
    index_dot_get()->dots(rows, a->stride, (size_t)m, qc->q, dots);
    for (int i = 0; i < m; i++)
      top_push(heap, &nh, rescore,
               (scored){(float)dots[i] * scales[i] * qc->qscale, cand[b + i].val});
  }
  for (int i = 0; i < nh; i++) heap[i].val = a->lists[heap[i].val >> 32].ids[(uint32_t)heap[i].val];
  return nh;
}

/* The groups whose lists a search of nprobe lists ranks: GROUP_MARGIN times the groups those
 * lists would fill (a query's best lists are spread over more groups than that, but not over
 * all: 4x keeps every result of ranking all groups at 1M and 10M faces, 3x lost a probe's
 * mate at 1M, 2x several at 10M), at least 4. Ranking every list's centroid cost ~1 ms a search
 * at 10M faces (12,647 lists x 512 B). */
#define GROUP_MARGIN 4
static int probe_groups(const mien_ann *a, int nprobe) {
  double fill = (double)nprobe * a->ngroups / (a->nlists ? a->nlists : 1);
  int n = (int)ceil(GROUP_MARGIN * fill);
  n = n < 4 ? 4 : n;
  return n > (int)a->ngroups ? (int)a->ngroups : n;
}

int mien_ann_search(const mien_ann *a, const float *qv, int k, float min_score,
                    const mien_ann_params *p, mien_ann_fetch fetch, void *ctx, mien_hit *out) {
  if (k <= 0 || a->count == 0) return 0;
  double n2;
  if (!index_usable(qv, a->dim, &n2)) return 0; /* a query add would refuse matches nothing */
  int nprobe = p->nprobe < 1 ? 1 : p->nprobe > (int)a->nlists ? (int)a->nlists : p->nprobe;
  int rescore = p->rescore < k ? k : p->rescore;
  int rerank = p->rerank <= 0 ? 0 : p->rerank < rescore ? rescore : p->rerank;
  if ((size_t)rerank > a->count) rerank = (int)a->count; /* all: the PQ tier keeps everything */
  int cap = rerank ? rerank : rescore;                   /* what the scan keeps */
  /* The groups worth looking in: a query's best lists lie in its best groups. */
  int ngroups = probe_groups(a, nprobe);
  int threads = clamp_threads(p->threads, (size_t)nprobe);
  size_t lut_n = (size_t)a->pq_m * PQ_K;
  int8_t *q = alloc_codes(1, a->stride), *rows = alloc_codes(RERANK_BATCH, a->stride);
  int32_t *dots = malloc((size_t)dots_rows(a) * sizeof *dots);
  scored *groups = malloc((size_t)ngroups * sizeof *groups);
  scored *probe = malloc((size_t)a->nlists * sizeof *probe);
  uint32_t *lists = malloc((size_t)nprobe * sizeof *lists);
  float *coarse = malloc((size_t)nprobe * sizeof *coarse);
  scored *scanned = malloc((size_t)threads * 2 * (size_t)cap * sizeof *scanned);
  scored *best = malloc((size_t)rescore * sizeof *best);
  mien_hit *hits = malloc((size_t)rescore * sizeof *hits);
  float *buf = malloc((size_t)a->dim * sizeof *buf), *lutf = malloc(lut_n * sizeof *lutf);
  uint8_t *lut = malloc(lut_n);
  int n = -1, ng = 0, np = 0;
  if (!q || !rows || !dots || !groups || !probe || !lists || !coarse || !scanned || !best ||
      !hits || !buf || !lutf || !lut)
    goto done;
  float qscale = index_quantise(qv, a->dim, a->stride, q).scale;
  index_dot_get()->dots(a->group_codes, a->stride, a->ngroups, q, dots);
  for (uint32_t g = 0; g < a->ngroups; g++)
    top_push(groups, &ng, ngroups, (scored){(float)dots[g] * a->group_scales[g], g});
  for (int i = 0; i < ng; i++) {
    uint32_t g = (uint32_t)groups[i].val, l0 = a->group_first[g], nl = a->group_first[g + 1] - l0;
    index_dot_get()->dots(a->list_codes + (size_t)l0 * a->stride, a->stride, nl, q, dots);
    for (uint32_t j = 0; j < nl; j++)
      probe[np++] = (scored){(float)dots[j] * a->list_scales[l0 + j], l0 + j};
  }
  int ranked = np;
  np = np < nprobe ? np : nprobe;
  select_best(probe, ranked, np);
  int first = p->nprobe_first > 0 && p->nprobe_first < np ? p->nprobe_first : np;
  if (p->first_margin > 0 && first < np) { /* and every list near the query's best one */
    float top = -INFINITY, margin = p->first_margin / qscale; /* in the keys' units */
    for (int i = 0; i < np; i++) top = probe[i].key > top ? probe[i].key : top;
    int near = 0;
    for (int i = 0; i < np; i++) near += probe[i].key >= top - margin;
    first = near > first ? near : first;
  }
  select_best(probe, np, first); /* the rest is ordered only if the search goes on to it */
  query_ctx qc = {a, q, qscale, lists, coarse, lut, 0, 0};
  order_lists(a, qscale, probe, 0, first, lists, coarse);
  if (rerank) pq_table(a, qv, lut, lutf, &qc.bias, &qc.delta);
  scan_ctx part[MAX_THREADS];
  for (int t = 0; t < threads; t++)
    part[t] = (scan_ctx){&qc, cap, scanned + (size_t)t * 2 * (size_t)cap, 0, -INFINITY};
  range_fn scan = rerank ? scan_pq : scan_lists;
  parallel(threads, (size_t)first, scan, part, sizeof *part);
  if (first < np && best_so_far(&qc, part, threads, rerank > 0) < p->stop_score) {
    order_lists(a, qscale, probe, first, np, lists, coarse);
    query_ctx rest = qc; /* the remaining lists, into the same candidates */
    rest.lists += first, rest.coarse += first;
    for (int t = 0; t < threads; t++) part[t].qc = &rest;
    parallel(threads, (size_t)(np - first), scan, part, sizeof *part);
  }
  int nb = merge_parts(part, threads);
  const scored *cand = scanned;
  if (rerank) { /* the PQ tier's best `rerank`, narrowed to the best `rescore` by their int8 codes
                 */
    nb = rerank_int8(&qc, scanned, nb, rescore, rows, best);
    cand = best;
  }
  for (int i = 0; i < nb; i++) /* their reads started together (a 10M store's fp32 are on disk) */
    fetch(ctx, cand[i].val, NULL);
  size_t nh = 0;
  for (int i = 0; i < nb; i++) { /* the candidates, scored exactly */
    const float *v = fetch(ctx, cand[i].val, buf);
    if (!v) continue;
    float s = mien_index_score(v, qv, a->dim);
    if (s >= min_score) hits[nh++] = (mien_hit){cand[i].val, s};
  }
  qsort(hits, nh, sizeof *hits, hit_order);
  n = nh < (size_t)k ? (int)nh : k;
  memcpy(out, hits, (size_t)n * sizeof *out);
done:
  free(q);
  free(rows);
  free(dots);
  free(groups);
  free(probe);
  free(lists);
  free(coarse);
  free(scanned);
  free(best);
  free(hits);
  free(buf);
  free(lutf);
  free(lut);
  return n;
}

/* --- persistence -------------------------------------------------------------------------- */

typedef struct {
  char magic[8];
  uint32_t dim, ngroups, nlists, pq_m;
  uint64_t count;
} file_header;

static int put(FILE *f, const void *p, size_t bytes) {
  return bytes && fwrite(p, 1, bytes, f) != bytes ? -1 : 0;
}

static int get(FILE *f, void *p, size_t bytes) {
  return bytes && fread(p, 1, bytes, f) != bytes ? -1 : 0;
}

int mien_ann_save(const mien_ann *a, const char *path) {
  size_t len = strlen(path);
  char *tmp = malloc(len + 5);
  if (!tmp) return -1;
  memcpy(tmp, path, len);
  memcpy(tmp + len, ".tmp", 5);
  /* Private like the store's files: the codes are templates, a few bits short. */
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
  if (fd >= 0 && !f) close(fd);
  int rc = f ? 0 : -1;
  file_header h = {FILE_MAGIC, (uint32_t)a->dim,  a->ngroups,
                   a->nlists,  (uint32_t)a->pq_m, a->count};
  memcpy(h.magic, FILE_MAGIC, sizeof h.magic);
  if (!rc)
    rc = put(f, &h, sizeof h) || put(f, a->group_codes, (size_t)a->ngroups * a->stride) ||
         put(f, a->group_scales, a->ngroups * sizeof(float)) ||
         put(f, a->group_first, (a->ngroups + 1) * sizeof(uint32_t)) ||
         put(f, a->list_codes, (size_t)a->nlists * a->stride) ||
         put(f, a->list_scales, a->nlists * sizeof(float)) ||
         put(f, a->codebook, (size_t)a->pq_m * PQ_K * (size_t)a->dsub * sizeof(float)) ||
         put(f, &a->pq_alpha, sizeof a->pq_alpha);
  for (uint32_t l = 0; !rc && l < a->nlists; l++) {
    const ann_list *x = &a->lists[l];
    rc = put(f, &x->n, sizeof x->n) || put(f, x->codes, (size_t)x->n * a->stride) ||
         put(f, x->scales, x->n * sizeof(float)) || put(f, x->ids, x->n * sizeof(int64_t)) ||
         put(f, x->pq, pq_bytes(a, x->n));
  }
  if (f && (fflush(f) || fsync(fileno(f)))) rc = -1;
  if (f && fclose(f)) rc = -1;
  if (!rc && rename(tmp, path)) rc = -1;
  if (rc && fd >= 0) unlink(tmp);
  free(tmp);
  return rc;
}

mien_ann *mien_ann_load(const char *path, int dim) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  file_header h;
  mien_ann *a = NULL;
  if (get(f, &h, sizeof h) || memcmp(h.magic, FILE_MAGIC, sizeof h.magic) ||
      h.dim != (uint32_t)dim || h.ngroups < 1 || h.nlists < 1 || h.ngroups > (1u << 24) ||
      h.nlists > (1u << 26) || h.pq_m < 4 || h.pq_m > ANN_SCAN_MAX_M || h.pq_m % 4)
    goto fail;
  a = ann_alloc(dim, h.ngroups, h.nlists, (int)h.pq_m);
  if (!a || get(f, a->group_codes, (size_t)a->ngroups * a->stride) ||
      get(f, a->group_scales, a->ngroups * sizeof(float)) ||
      get(f, a->group_first, (a->ngroups + 1) * sizeof(uint32_t)) ||
      get(f, a->list_codes, (size_t)a->nlists * a->stride) ||
      get(f, a->list_scales, a->nlists * sizeof(float)) ||
      get(f, a->codebook, (size_t)a->pq_m * PQ_K * (size_t)a->dsub * sizeof(float)) ||
      get(f, &a->pq_alpha, sizeof a->pq_alpha) || !isfinite(a->pq_alpha))
    goto fail;
  for (uint32_t g = 0; g < a->ngroups; g++) /* the ranges must tile the lists */
    if (a->group_first[g] > a->group_first[g + 1]) goto fail;
  if (a->group_first[0] != 0 || a->group_first[a->ngroups] != a->nlists) goto fail;
  if (arena_make(a, h.count)) goto fail;
  uint64_t total = 0;
  for (uint32_t l = 0; l < a->nlists; l++) {
    ann_list *x = &a->lists[l];
    uint32_t n;
    if (get(f, &n, sizeof n) || n > h.count - total || list_place(a, x, n)) goto fail;
    if (get(f, x->codes, (size_t)n * a->stride) || get(f, x->scales, n * sizeof(float)) ||
        get(f, x->ids, n * sizeof(int64_t)) || get(f, x->pq, pq_bytes(a, n)))
      goto fail;
    x->n = n;
    total += n;
  }
  if (total != h.count || fgetc(f) != EOF) goto fail;
  a->count = total;
  fclose(f);
  return a;
fail:
  mien_ann_free(a);
  fclose(f);
  return NULL;
}

int mien_ann_each(const mien_ann *a,
                  int (*visit)(void *ctx, int64_t id, const int8_t *code, float scale), void *ctx) {
  for (uint32_t l = 0; l < a->nlists; l++) {
    const ann_list *x = &a->lists[l];
    for (uint32_t i = 0; i < x->n; i++) {
      int rc = visit(ctx, x->ids[i], x->codes + (size_t)i * a->stride, x->scales[i]);
      if (rc) return rc;
    }
  }
  return 0;
}
