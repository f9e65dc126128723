/* cluster.c - the people clustering of cluster.h: a neighbour graph kept across updates, and
 * average-linkage merging of the graph's connected parts that changed.
 *
 * Faces live in an array sorted by id (rows of an AUTOINCREMENT table arrive in order, so adding
 * is an append); lookups are binary searches, and removed faces are compacted away at the next
 * update. Each face keeps its edges as (neighbour id, cosine), both directions.
 *
 * Merging a part: every face starts alone; a heap holds candidate pairs of adjacent groups by
 * linkage (sum of the edges between them, plus edge_cosine for each pair without an edge, over
 * the pairs), ties by the groups' least face ids. The best pair merges when allowed (no photo,
 * no user in common conflict); the merged group's linkages are recomputed from its adjacency.
 * Cosines are floats summed in double: exact for any realistic count, so sums do not depend on
 * the order edges were found in, which keeps an update equal to a full pass. */
#include "store/cluster.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "mien.h"

typedef struct {
  int64_t id;
  float score;
} edge;

typedef struct {
  int64_t id, group;
  uint64_t image, owner;
  edge *adj;
  int nadj, capadj;
  uint8_t fresh, dirty, gone, mark;
  int local; /* the face's index in the part being merged, -1 otherwise */
} face;

struct mien_cluster {
  mien_cluster_params p;
  face *f;
  int64_t n, cap, ngone, nedges;
};

mien_cluster *mien_cluster_create(const mien_cluster_params *p) {
  if (!(p->edge_cosine <= p->link_cosine) || p->edge_cosine < -1 || p->link_cosine > 1 ||
      p->max_neighbours < 1)
    return NULL;
  mien_cluster *c = calloc(1, sizeof *c);
  if (c) c->p = *p;
  return c;
}

void mien_cluster_free(mien_cluster *c) {
  if (!c) return;
  for (int64_t i = 0; i < c->n; i++) free(c->f[i].adj);
  free(c->f);
  free(c);
}

const mien_cluster_params *mien_cluster_params_of(const mien_cluster *c) {
  return &c->p;
}

int64_t mien_cluster_count(const mien_cluster *c) {
  return c->n - c->ngone;
}

/* The slot of id, or -1 - (where it would go). */
static int64_t find(const mien_cluster *c, int64_t id) {
  int64_t lo = 0, hi = c->n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (c->f[mid].id < id)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < c->n && c->f[lo].id == id ? lo : -1 - lo;
}

static face *face_of(const mien_cluster *c, int64_t id) {
  int64_t s = find(c, id);
  return s >= 0 && !c->f[s].gone ? &c->f[s] : NULL;
}

int mien_cluster_put(mien_cluster *c, int64_t id, uint64_t image, uint64_t owner) {
  int64_t s = find(c, id);
  if (s >= 0 && !c->f[s].gone) {
    if (c->f[s].owner != owner) c->f[s].owner = owner, c->f[s].dirty = 1;
    return 0;
  }
  if (s >= 0) { /* removed in this round and back again: a face of its own once compacted */
    c->f[s] = (face){.id = id, .group = id, .image = image, .owner = owner, .fresh = 1};
    c->ngone--;
    return 0;
  }
  s = -1 - s;
  if (c->n == c->cap) {
    int64_t cap = c->cap ? 2 * c->cap : 64;
    face *f = realloc(c->f, (size_t)cap * sizeof *f);
    if (!f) return -1;
    c->f = f, c->cap = cap;
  }
  memmove(&c->f[s + 1], &c->f[s], (size_t)(c->n - s) * sizeof *c->f);
  c->f[s] = (face){.id = id, .group = id, .image = image, .owner = owner, .fresh = 1};
  c->n++;
  return 0;
}

static void drop_edge(mien_cluster *c, face *f, int64_t other) {
  for (int i = 0; i < f->nadj; i++)
    if (f->adj[i].id == other) {
      f->adj[i] = f->adj[--f->nadj];
      c->nedges--;
      return;
    }
}

void mien_cluster_remove(mien_cluster *c, int64_t id) {
  face *f = face_of(c, id);
  if (!f) return;
  for (int i = 0; i < f->nadj; i++) {
    face *g = face_of(c, f->adj[i].id);
    if (g) drop_edge(c, g, id), g->dirty = 1;
  }
  c->nedges -= f->nadj;
  free(f->adj);
  *f = (face){.id = id, .gone = 1};
  c->ngone++;
}

void mien_cluster_retain(mien_cluster *c, const int64_t *ids, int64_t n) {
  int64_t j = 0;
  for (int64_t s = 0; s < c->n; s++) {
    if (c->f[s].gone) continue;
    while (j < n && ids[j] < c->f[s].id) j++;
    if (j == n || ids[j] != c->f[s].id) mien_cluster_remove(c, c->f[s].id);
  }
}

void mien_cluster_reset(mien_cluster *c) {
  for (int64_t i = 0; i < c->n; i++) {
    face *f = &c->f[i];
    free(f->adj);
    f->adj = NULL, f->nadj = f->capadj = 0;
    f->fresh = !f->gone, f->dirty = 0, f->group = f->id;
  }
  c->nedges = 0;
}

static void compact(mien_cluster *c) {
  int64_t w = 0;
  for (int64_t r = 0; r < c->n; r++)
    if (!c->f[r].gone) c->f[w++] = c->f[r];
  c->n = w, c->ngone = 0;
}

/* Adds the edge f-other unless f has it. 0, or -1 when out of memory. */
static int add_edge(mien_cluster *c, face *f, int64_t other, float score) {
  for (int i = 0; i < f->nadj; i++)
    if (f->adj[i].id == other) return 0;
  if (f->nadj == f->capadj) {
    int cap = f->capadj ? 2 * f->capadj : 8;
    edge *a = realloc(f->adj, (size_t)cap * sizeof *a);
    if (!a) return -1;
    f->adj = a, f->capadj = cap;
  }
  f->adj[f->nadj++] = (edge){other, score};
  c->nedges++;
  return 0;
}

/* ---- searching the new faces ---- */

typedef struct {
  const mien_cluster *c;
  const mien_index *ix;
  const int64_t *slots; /* the fresh faces */
  int64_t n;
  int k;
  mien_hit *hits; /* k per fresh face */
  int *nhits;     /* -1: out of memory */
  atomic_llong next;
} search_job;

static void *search_worker(void *arg) {
  search_job *j = arg;
  for (int64_t i; (i = atomic_fetch_add(&j->next, 1)) < j->n;) {
    const float *v = mien_index_vector(j->ix, j->c->f[j->slots[i]].id);
    j->nhits[i] = v ? mien_index_search(j->ix, v, j->k, j->c->p.edge_cosine, 1,
                                        j->hits + (size_t)i * (size_t)j->k)
                    : 0;
  }
  return NULL;
}

/* Searches the fresh faces (slots) and adds their edges. */
static int search_fresh(mien_cluster *c, const mien_index *ix, const int64_t *slots, int64_t n,
                        int threads, mien_cluster_stats *stats) {
  /* The face finds itself too. A batch bounds the hits buffer. */
  int k = c->p.max_neighbours + 1, rc = 0;
  int64_t batch = 4096;
  mien_hit *hits = malloc((size_t)batch * (size_t)k * sizeof *hits);
  int *nhits = malloc((size_t)batch * sizeof *nhits);
  if (!hits || !nhits) rc = -1;
  if (threads <= 0) threads = mien_cpu_count();
  pthread_t *tid = malloc((size_t)threads * sizeof *tid);
  if (!tid) rc = -1;
  for (int64_t b0 = 0; rc == 0 && b0 < n; b0 += batch) {
    search_job j = {.c = c, .ix = ix, .slots = slots + b0, .k = k, .hits = hits, .nhits = nhits};
    j.n = n - b0 < batch ? n - b0 : batch;
    int started = 0;
    while (started < threads && started < j.n &&
           pthread_create(&tid[started], NULL, search_worker, &j) == 0)
      started++;
    if (started == 0) search_worker(&j);
    for (int t = 0; t < started; t++) pthread_join(tid[t], NULL);
    for (int64_t i = 0; rc == 0 && i < j.n; i++) {
      if (j.nhits[i] < 0) rc = -1;
      face *f = &c->f[j.slots[i]];
      stats->searched++;
      stats->saturated += j.nhits[i] == k;
      for (int h = 0; rc == 0 && h < j.nhits[i]; h++) {
        mien_hit *hit = &hits[(size_t)i * (size_t)k + (size_t)h];
        face *g = hit->id == f->id ? NULL : face_of(c, hit->id);
        if (g && (add_edge(c, f, g->id, hit->score) || add_edge(c, g, f->id, hit->score))) rc = -1;
      }
    }
  }
  free(tid);
  free(hits);
  free(nhits);
  return rc;
}

/* ---- merging the parts ---- */

typedef struct {
  int other;
  int cnt;
  double sum;
} link;

typedef struct {
  int64_t key; /* least face id */
  int64_t size;
  uint64_t owner;
  uint64_t *images; /* sorted */
  link *adj;
  int nadj, capadj;
  int parent, version, alive;
} group;

typedef struct {
  double linkage;
  int64_t k1, k2; /* the pair's least face ids, k1 < k2 */
  int a, b, va, vb;
} cand;

typedef struct {
  cand *v;
  size_t n, cap;
} heap;

/* Whether x comes out of the heap before y. */
static int before(const cand *x, const cand *y) {
  if (x->linkage != y->linkage) return x->linkage > y->linkage;
  if (x->k1 != y->k1) return x->k1 < y->k1;
  return x->k2 < y->k2;
}

static int heap_push(heap *h, cand c) {
  if (h->n == h->cap) {
    size_t cap = h->cap ? 2 * h->cap : 256;
    cand *v = realloc(h->v, cap * sizeof *v);
    if (!v) return -1;
    h->v = v, h->cap = cap;
  }
  size_t i = h->n++;
  while (i > 0 && before(&c, &h->v[(i - 1) / 2])) h->v[i] = h->v[(i - 1) / 2], i = (i - 1) / 2;
  h->v[i] = c;
  return 0;
}

static cand heap_pop(heap *h) {
  cand top = h->v[0], last = h->v[--h->n];
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1, best = i;
    const cand *b = &last;
    if (l < h->n && before(&h->v[l], b)) best = l, b = &h->v[l];
    if (l + 1 < h->n && before(&h->v[l + 1], b)) best = l + 1;
    if (best == i) break;
    h->v[i] = h->v[best];
    i = best;
  }
  if (h->n) h->v[i] = last;
  return top;
}

static int root(group *g, int i) {
  while (g[i].parent != i) i = g[i].parent = g[g[i].parent].parent;
  return i;
}

static int share_image(const group *a, const group *b) {
  for (int64_t i = 0, j = 0; i < a->size && j < b->size;) {
    if (a->images[i] == b->images[j]) return 1;
    if (a->images[i] < b->images[j])
      i++;
    else
      j++;
  }
  return 0;
}

/* Pushes the pair (a, b) joined by link l when it may merge. */
static int consider(const mien_cluster *c, group *g, heap *h, int a, int b, const link *l) {
  group *x = &g[a], *y = &g[b];
  double pairs = (double)x->size * (double)y->size;
  double linkage = (l->sum + (pairs - l->cnt) * c->p.edge_cosine) / pairs;
  if (linkage < c->p.link_cosine) return 0;
  if (x->owner && y->owner && x->owner != y->owner) return 0;
  if (share_image(x, y)) return 0;
  int first = x->key < y->key;
  cand cd = {linkage,   first ? x->key : y->key, first ? y->key : x->key, a, b, x->version,
             y->version};
  return heap_push(h, cd);
}

static link *link_to(group *g, int other) {
  for (int i = 0; i < g->nadj; i++)
    if (g->adj[i].other == other) return &g->adj[i];
  return NULL;
}

static int link_add(group *g, int other, int cnt, double sum) {
  link *l = link_to(g, other);
  if (l) {
    l->cnt += cnt, l->sum += sum;
    return 0;
  }
  if (g->nadj == g->capadj) {
    int cap = g->capadj ? 2 * g->capadj : 8;
    link *a = realloc(g->adj, (size_t)cap * sizeof *a);
    if (!a) return -1;
    g->adj = a, g->capadj = cap;
  }
  g->adj[g->nadj++] = (link){other, cnt, sum};
  return 0;
}

static void link_drop(group *g, int other) {
  link *l = link_to(g, other);
  if (l) *l = g->adj[--g->nadj];
}

/* Merges group b into a. */
static int merge(const mien_cluster *c, group *g, heap *h, int a, int b) {
  group *x = &g[a], *y = &g[b];
  uint64_t *images = malloc((size_t)(x->size + y->size) * sizeof *images);
  if (!images) return -1;
  int64_t i = 0, j = 0, k = 0;
  while (i < x->size || j < y->size)
    images[k++] = j >= y->size || (i < x->size && x->images[i] < y->images[j]) ? x->images[i++]
                                                                               : y->images[j++];
  free(x->images), free(y->images);
  x->images = images, y->images = NULL;
  x->size += y->size;
  x->key = x->key < y->key ? x->key : y->key;
  if (!x->owner) x->owner = y->owner;
  link_drop(x, b);
  for (int e = 0; e < y->nadj; e++) {
    link *l = &y->adj[e];
    if (l->other == a) continue;
    if (link_add(x, l->other, l->cnt, l->sum)) return -1;
    group *z = &g[l->other];
    link_drop(z, b);
    if (link_add(z, a, l->cnt, l->sum)) return -1;
  }
  free(y->adj);
  y->adj = NULL, y->nadj = 0;
  y->alive = 0, y->parent = a, y->version++;
  x->version++;
  for (int e = 0; e < x->nadj; e++)
    if (consider(c, g, h, a, x->adj[e].other, &x->adj[e])) return -1;
  return 0;
}

/* Regroups the faces of the given slots (whole parts of the graph, ascending ids). */
static int regroup(mien_cluster *c, const int64_t *slots, int64_t m) {
  group *g = calloc(m > 0 ? (size_t)m : 1, sizeof *g);
  heap h = {0};
  int rc = g ? 0 : -1;
  for (int64_t i = 0; rc == 0 && i < m; i++) {
    face *f = &c->f[slots[i]];
    f->local = (int)i;
    g[i] = (group){.key = f->id, .size = 1, .owner = f->owner, .parent = (int)i, .alive = 1};
    g[i].images = malloc(sizeof *g[i].images);
    if (!g[i].images)
      rc = -1;
    else
      g[i].images[0] = f->image;
  }
  for (int64_t i = 0; rc == 0 && i < m; i++) {
    face *f = &c->f[slots[i]];
    for (int e = 0; rc == 0 && e < f->nadj; e++)
      rc = link_add(&g[i], face_of(c, f->adj[e].id)->local, 1, f->adj[e].score);
  }
  for (int64_t i = 0; rc == 0 && i < m; i++)
    for (int e = 0; rc == 0 && e < g[i].nadj; e++)
      if (g[i].adj[e].other > i) rc = consider(c, g, &h, (int)i, g[i].adj[e].other, &g[i].adj[e]);
  while (rc == 0 && h.n) {
    cand cd = heap_pop(&h);
    if (!g[cd.a].alive || !g[cd.b].alive || g[cd.a].version != cd.va || g[cd.b].version != cd.vb)
      continue;
    rc = merge(c, g, &h, cd.a, cd.b);
  }
  for (int64_t i = 0; i < m; i++) {
    face *f = &c->f[slots[i]];
    if (rc == 0) f->group = g[root(g, (int)i)].key;
    f->local = -1;
  }
  for (int64_t i = 0; g && i < m; i++) free(g[i].images), free(g[i].adj);
  free(g);
  free(h.v);
  return rc;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* The slots of every face in a part with a dirty face (searched now, or changed), ascending
 * (marks cleared). */
static int affected(mien_cluster *c, int64_t **out, int64_t *m) {
  int64_t *v = NULL, n = 0, cap = 0, *stack = NULL, ns = 0, caps = 0;
  int rc = 0;
  for (int64_t s = 0; rc == 0 && s < c->n; s++) {
    if (!c->f[s].dirty || c->f[s].mark) continue;
    c->f[s].mark = 1;
    ns = 0;
    if (caps == 0 && !(stack = malloc((size_t)(caps = 64) * sizeof *stack))) rc = -1;
    if (rc == 0) stack[ns++] = s;
    while (rc == 0 && ns) {
      int64_t t = stack[--ns];
      if (n == cap) {
        int64_t *w = realloc(v, (size_t)(cap = cap ? 2 * cap : 64) * sizeof *w);
        if (!w)
          rc = -1;
        else
          v = w;
      }
      if (rc) break;
      v[n++] = t;
      face *f = &c->f[t];
      for (int e = 0; rc == 0 && e < f->nadj; e++) {
        int64_t u = find(c, f->adj[e].id);
        if (c->f[u].mark) continue;
        c->f[u].mark = 1;
        if (ns == caps) {
          int64_t *w = realloc(stack, (size_t)(caps *= 2) * sizeof *w);
          if (!w)
            rc = -1;
          else
            stack = w;
        }
        if (rc == 0) stack[ns++] = u;
      }
    }
  }
  free(stack);
  for (int64_t i = 0; i < n; i++) c->f[v[i]].mark = 0;
  if (rc) {
    free(v);
    return rc;
  }
  int64_t *sorted = v;
  /* Merges run in the parts' id order whatever order the walk found them in. */
  if (n > 1) qsort(sorted, (size_t)n, sizeof *sorted, cmp_i64); /* v is NULL when n is 0 */
  *out = sorted, *m = n;
  return 0;
}

int mien_cluster_update(mien_cluster *c, const mien_index *ix, int threads, int64_t max_searches,
                        mien_cluster_stats *stats) {
  mien_cluster_stats local = {0};
  if (!stats) stats = &local;
  *stats = (mien_cluster_stats){0};
  compact(c);
  int64_t *fresh = malloc((size_t)(c->n ? c->n : 1) * sizeof *fresh), nfresh = 0;
  int rc = fresh ? 0 : -1;
  for (int64_t s = 0; rc == 0 && s < c->n; s++)
    if (c->f[s].fresh) fresh[nfresh++] = s;
  if (max_searches > 0 && nfresh > max_searches) stats->pending = nfresh - max_searches;
  nfresh -= stats->pending;
  if (rc == 0) rc = search_fresh(c, ix, fresh, nfresh, threads, stats);
  for (int64_t i = 0; rc == 0 && i < nfresh; i++)
    c->f[fresh[i]].fresh = 0, c->f[fresh[i]].dirty = 1;
  free(fresh);
  int64_t *part = NULL, m = 0;
  if (rc == 0) rc = affected(c, &part, &m);
  if (rc == 0) rc = regroup(c, part, m);
  free(part);
  stats->regrouped = m;
  for (int64_t s = 0; s < c->n; s++) c->f[s].dirty = 0;
  if (rc) mien_cluster_reset(c);
  stats->edges = c->nedges / 2;
  return rc;
}

int64_t mien_cluster_group_of(const mien_cluster *c, int64_t id) {
  const face *f = face_of(c, id);
  return f ? f->group : 0;
}

typedef struct {
  int64_t group, id;
} member;

static int by_group(const void *a, const void *b) {
  const member *x = a, *y = b;
  if (x->group != y->group) return x->group < y->group ? -1 : 1;
  return (x->id > y->id) - (x->id < y->id);
}

int mien_cluster_groups(const mien_cluster *c, int64_t **ids, int64_t **start, int64_t *ngroups) {
  int64_t n = mien_cluster_count(c), k = 0, ng = 0;
  member *m = malloc((size_t)(n ? n : 1) * sizeof *m);
  *ids = malloc((size_t)(n ? n : 1) * sizeof **ids);
  *start = malloc((size_t)(n + 1) * sizeof **start);
  if (!m || !*ids || !*start) {
    free(m), free(*ids), free(*start);
    *ids = *start = NULL;
    return -1;
  }
  for (int64_t s = 0; s < c->n; s++)
    if (!c->f[s].gone) m[k++] = (member){c->f[s].group, c->f[s].id};
  if (n > 1) qsort(m, (size_t)n, sizeof *m, by_group);
  for (int64_t i = 0; i < n; i++) {
    if (i == 0 || m[i].group != m[i - 1].group) (*start)[ng++] = i;
    (*ids)[i] = m[i].id;
  }
  (*start)[ng] = n;
  *ngroups = ng;
  free(m);
  return 0;
}

int mien_cluster_describe(const mien_index *ix, const int64_t *ids, int64_t n, float *cohesion,
                          int64_t *representative) {
  int dim = mien_index_dim(ix);
  double *sum = calloc((size_t)dim, sizeof *sum);
  int64_t have = 0;
  if (!sum) return -1;
  for (int64_t i = 0; i < n; i++) {
    const float *v = mien_index_vector(ix, ids[i]);
    if (!v) continue;
    have++;
    for (int d = 0; d < dim; d++) sum[d] += v[d];
  }
  /* |sum v|^2 = sum |v|^2 + sum over ordered pairs i != j of v_i.v_j, |v| = 1. */
  double norm2 = 0, best = -2;
  for (int d = 0; d < dim; d++) norm2 += sum[d] * sum[d];
  *cohesion = have > 1 ? (float)((norm2 - (double)have) / ((double)have * (double)(have - 1))) : 1;
  *representative = 0;
  for (int64_t i = 0; i < n; i++) {
    const float *v = mien_index_vector(ix, ids[i]);
    if (!v) continue;
    double dot = 0;
    for (int d = 0; d < dim; d++) dot += v[d] * sum[d];
    if (dot > best || (dot == best && ids[i] < *representative))
      best = dot, *representative = ids[i];
  }
  free(sum);
  return have ? 0 : -1;
}
