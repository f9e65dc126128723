/* ann.c - the IVF index of ann.h: two-level spherical k-means lists of int8 codes, scanned with
 * the exact index's dot kernels (index_dot.h), the best candidates rescored in fp32.
 *
 * Why this shape (docs/search.md has the measurements): face templates are unit vectors whose
 * nearest neighbours are few and far above the crowd (a mate at cosine 0.6 among impostors
 * near 0), so a coarse partition finds them by probing a few percent of the lists, and int8
 * codes estimate cosines to about +-0.005, which ranks the candidates well enough that
 * rescoring a few dozen exactly gives the true order. The scan stays the memory-bound int8 loop
 * the exact index already tuned, over nprobe lists instead of every row.
 *
 * Lists are separate growable arrays (codes aligned for the kernels, scales, ids); removal
 * moves a list's last entry into the hole. There is no id table: remove() is given the vector
 * and re-derives its list, which is deterministic, so the index costs ~530 bytes per face.
 */
#include "store/ann.h"

#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mien.h"
#include "store/index_dot.h"

#define KMEANS_ITERS 10
/* Groups a vector's list is looked for in: its best one alone misses lists near a border. */
#define ASSIGN_GROUPS 3
#define MAX_THREADS 64
#define FILE_MAGIC "MIENANN1"

typedef struct {
  int8_t *codes; /* n x stride, aligned to INDEX_DOT_ALIGN */
  float *scales;
  int64_t *ids;
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

static void *alloc_codes(size_t rows, size_t stride) {
  size_t bytes = rows * stride;
  return aligned_alloc(INDEX_DOT_ALIGN, bytes ? bytes : INDEX_DOT_ALIGN);
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

static mien_ann *ann_alloc(int dim, uint32_t ngroups, uint32_t nlists) {
  mien_ann *a = calloc(1, sizeof *a);
  if (!a) return NULL;
  a->dim = dim;
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
      !a->lists) {
    mien_ann_free(a);
    return NULL;
  }
  return a;
}

mien_ann *mien_ann_train(int dim, const float *sample, size_t n, size_t nlists, int threads) {
  if (dim < 1 || n < 1 || n >= UINT32_MAX) return NULL;
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
  a = ann_alloc(dim, ngroups, total);
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
  for (uint32_t l = 0; a->lists && l < a->nlists; l++) {
    free(a->lists[l].codes);
    free(a->lists[l].scales);
    free(a->lists[l].ids);
  }
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

size_t mien_ann_bytes_per_vector(const mien_ann *a) {
  size_t bytes = sizeof *a + (size_t)(a->ngroups + a->nlists) * (a->stride + sizeof(float)) +
                 (a->ngroups + 1) * sizeof(uint32_t) + a->nlists * sizeof(ann_list);
  for (uint32_t l = 0; l < a->nlists; l++)
    bytes += a->lists[l].cap * (a->stride + sizeof(float) + sizeof(int64_t));
  return a->count ? bytes / a->count : bytes;
}

mien_ann_params mien_ann_default_params(const mien_ann *a) {
  /* Measured on LFW-calibrated synthetic faces at 1M (docs/search.md): probing 3.2 % of the
   * lists gives recall@1 of mates and recall@10 about 0.94 at ~2 ms a query; recall grows
   * slowly beyond (6.4 %: 0.96-0.97 at 3x the time). */
  int nprobe = (int)(a->nlists * 8 / 250);
  return (mien_ann_params){nprobe < 16 ? 16 : nprobe, 64, 1};
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

typedef struct {
  const mien_ann *a;
  const float *v;
  int8_t *codes;
  float *scales;
  uint32_t *list;
  int bad;
} add_ctx;

static void add_assign(void *arg, size_t begin, size_t end) {
  add_ctx *c = arg;
  const mien_ann *a = c->a;
  int32_t *dots = malloc((size_t)dots_rows(a) * sizeof *dots);
  if (!dots) {
    c->bad = 1;
    return;
  }
  for (size_t i = begin; i < end; i++) {
    const float *v = c->v + i * (size_t)a->dim;
    double n2;
    if (!index_usable(v, a->dim, &n2)) c->bad = 1;
    int8_t *code = c->codes + i * a->stride;
    c->scales[i] = index_quantise(v, a->dim, a->stride, code).scale;
    c->list[i] = list_of(a, code, dots);
  }
  free(dots);
}

static int list_grow(ann_list *l, size_t stride) {
  uint32_t cap = l->cap + l->cap / 4 + 16;
  int8_t *codes = alloc_codes(cap, stride);
  float *scales = realloc(l->scales, cap * sizeof *scales);
  if (scales) l->scales = scales;
  int64_t *ids = realloc(l->ids, cap * sizeof *ids);
  if (ids) l->ids = ids;
  if (!codes || !scales || !ids) {
    free(codes);
    return -1;
  }
  if (l->n) memcpy(codes, l->codes, (size_t)l->n * stride);
  free(l->codes);
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
               0};
  int rc = c.codes && c.scales && c.list ? 0 : -1;
  for (size_t b = 0; rc == 0 && b < n; b += batch) {
    size_t m = n - b < batch ? n - b : batch;
    c.v = v + b * (size_t)a->dim;
    parallel(clamp_threads(threads, m), m, add_assign, &c, 0);
    if (c.bad) rc = -1;
    for (size_t i = 0; rc == 0 && i < m; i++) {
      ann_list *l = &a->lists[c.list[i]];
      if (l->n == l->cap && list_grow(l, a->stride)) {
        rc = -1;
        break;
      }
      memcpy(l->codes + (size_t)l->n * a->stride, c.codes + i * a->stride, a->stride);
      l->scales[l->n] = c.scales[i];
      l->ids[l->n++] = ids[b + i];
      a->count++;
    }
  }
  free(c.codes);
  free(c.scales);
  free(c.list);
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

/* One thread's part of a search: lists[begin..end) scanned into its own heap. */
typedef struct {
  const mien_ann *a;
  const int8_t *q;
  const uint32_t *lists;
  int rescore;
  scored *heap; /* the best `rescore` estimates */
  int nheap;
} scan_ctx;

static void scan_lists(void *arg, size_t begin, size_t end) {
  scan_ctx *c = arg;
  const mien_ann *a = c->a;
  int32_t dots[256];
  for (size_t i = begin; i < end; i++) {
    const ann_list *l = &a->lists[c->lists[i]];
    for (uint32_t r = 0; r < l->n; r += 256) {
      uint32_t m = l->n - r < 256 ? l->n - r : 256;
      index_dot_get()->dots(l->codes + (size_t)r * a->stride, a->stride, m, c->q, dots);
      for (uint32_t j = 0; j < m; j++)
        top_push(c->heap, &c->nheap, c->rescore,
                 (scored){(float)dots[j] * l->scales[r + j], l->ids[r + j]});
    }
  }
}

static int hit_order(const void *pa, const void *pb) {
  const mien_hit *a = pa, *b = pb;
  if (a->score != b->score) return a->score > b->score ? -1 : 1;
  return (a->id > b->id) - (a->id < b->id);
}

int mien_ann_search(const mien_ann *a, const float *qv, int k, float min_score,
                    const mien_ann_params *p, mien_ann_fetch fetch, void *ctx, mien_hit *out) {
  if (k <= 0 || a->count == 0) return 0;
  double n2;
  if (!index_usable(qv, a->dim, &n2)) return 0; /* a query add would refuse matches nothing */
  int nprobe = p->nprobe < 1 ? 1 : p->nprobe > (int)a->nlists ? (int)a->nlists : p->nprobe;
  int rescore = p->rescore < k ? k : p->rescore;
  /* The groups worth looking in: a query's best lists lie in its best groups. */
  int ngroups = nprobe / 2 < 4 ? 4 : nprobe / 2;
  if (ngroups > (int)a->ngroups) ngroups = (int)a->ngroups;
  int threads = clamp_threads(p->threads, (size_t)nprobe);
  int8_t *q = alloc_codes(1, a->stride);
  int32_t *dots = malloc((size_t)dots_rows(a) * sizeof *dots);
  scored *groups = malloc((size_t)ngroups * sizeof *groups);
  scored *probe = malloc((size_t)nprobe * sizeof *probe);
  uint32_t *lists = malloc((size_t)nprobe * sizeof *lists);
  scored *heap = malloc((size_t)threads * (size_t)rescore * sizeof *heap);
  mien_hit *hits = malloc((size_t)rescore * sizeof *hits);
  float *buf = malloc((size_t)a->dim * sizeof *buf);
  int n = -1, ng = 0, np = 0;
  if (!q || !dots || !groups || !probe || !lists || !heap || !hits || !buf) goto done;
  index_quantise(qv, a->dim, a->stride, q);
  index_dot_get()->dots(a->group_codes, a->stride, a->ngroups, q, dots);
  for (uint32_t g = 0; g < a->ngroups; g++)
    top_push(groups, &ng, ngroups, (scored){(float)dots[g] * a->group_scales[g], g});
  for (int i = 0; i < ng; i++) {
    uint32_t g = (uint32_t)groups[i].val, l0 = a->group_first[g], nl = a->group_first[g + 1] - l0;
    index_dot_get()->dots(a->list_codes + (size_t)l0 * a->stride, a->stride, nl, q, dots);
    for (uint32_t j = 0; j < nl; j++)
      top_push(probe, &np, nprobe, (scored){(float)dots[j] * a->list_scales[l0 + j], l0 + j});
  }
  for (int i = 0; i < np; i++) lists[i] = (uint32_t)probe[i].val;
  scan_ctx part[MAX_THREADS];
  for (int t = 0; t < threads; t++)
    part[t] = (scan_ctx){a, q, lists, rescore, heap + (size_t)t * (size_t)rescore, 0};
  parallel(threads, (size_t)np, scan_lists, part, sizeof *part);
  /* The best `rescore` estimates of all parts (part 0's heap gathers them), scored exactly. */
  int nb = part[0].nheap;
  for (int t = 1; t < threads; t++)
    for (int i = 0; i < part[t].nheap; i++) top_push(heap, &nb, rescore, part[t].heap[i]);
  size_t nh = 0;
  for (int i = 0; i < nb; i++) {
    const float *v = fetch(ctx, heap[i].val, buf);
    if (!v) continue;
    float s = mien_index_score(v, qv, a->dim);
    if (s >= min_score) hits[nh++] = (mien_hit){heap[i].val, s};
  }
  qsort(hits, nh, sizeof *hits, hit_order);
  n = nh < (size_t)k ? (int)nh : k;
  memcpy(out, hits, (size_t)n * sizeof *out);
done:
  free(q);
  free(dots);
  free(groups);
  free(probe);
  free(lists);
  free(heap);
  free(hits);
  free(buf);
  return n;
}

/* --- persistence -------------------------------------------------------------------------- */

typedef struct {
  char magic[8];
  uint32_t dim, ngroups, nlists, reserved;
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
  file_header h = {FILE_MAGIC, (uint32_t)a->dim, a->ngroups, a->nlists, 0, a->count};
  memcpy(h.magic, FILE_MAGIC, sizeof h.magic);
  if (!rc)
    rc = put(f, &h, sizeof h) || put(f, a->group_codes, (size_t)a->ngroups * a->stride) ||
         put(f, a->group_scales, a->ngroups * sizeof(float)) ||
         put(f, a->group_first, (a->ngroups + 1) * sizeof(uint32_t)) ||
         put(f, a->list_codes, (size_t)a->nlists * a->stride) ||
         put(f, a->list_scales, a->nlists * sizeof(float));
  for (uint32_t l = 0; !rc && l < a->nlists; l++) {
    const ann_list *x = &a->lists[l];
    rc = put(f, &x->n, sizeof x->n) || put(f, x->codes, (size_t)x->n * a->stride) ||
         put(f, x->scales, x->n * sizeof(float)) || put(f, x->ids, x->n * sizeof(int64_t));
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
      h.nlists > (1u << 26))
    goto fail;
  a = ann_alloc(dim, h.ngroups, h.nlists);
  if (!a || get(f, a->group_codes, (size_t)a->ngroups * a->stride) ||
      get(f, a->group_scales, a->ngroups * sizeof(float)) ||
      get(f, a->group_first, (a->ngroups + 1) * sizeof(uint32_t)) ||
      get(f, a->list_codes, (size_t)a->nlists * a->stride) ||
      get(f, a->list_scales, a->nlists * sizeof(float)))
    goto fail;
  for (uint32_t g = 0; g < a->ngroups; g++) /* the ranges must tile the lists */
    if (a->group_first[g] > a->group_first[g + 1]) goto fail;
  if (a->group_first[0] != 0 || a->group_first[a->ngroups] != a->nlists) goto fail;
  uint64_t total = 0;
  for (uint32_t l = 0; l < a->nlists; l++) {
    ann_list *x = &a->lists[l];
    uint32_t n;
    if (get(f, &n, sizeof n) || n > h.count - total) goto fail;
    x->codes = alloc_codes(n, a->stride);
    x->scales = malloc((n ? n : 1) * sizeof(float));
    x->ids = malloc((n ? n : 1) * sizeof(int64_t));
    if (!x->codes || !x->scales || !x->ids) goto fail;
    x->cap = n;
    if (get(f, x->codes, (size_t)n * a->stride) || get(f, x->scales, n * sizeof(float)) ||
        get(f, x->ids, n * sizeof(int64_t)))
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
