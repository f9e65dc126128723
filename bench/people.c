/* people.c - the quality and speed of the people clustering (src/store/cluster.h), against the
 * two baselines docs/people.md compares it with; `make bench-people` runs it (bench/people.sh).
 *
 *   people lfw STORE COLLECTION INDEX.jsonl CACHE   LFW as one unlabelled collection
 *   people synth FACES [PER_IDENTITY] [BATCH]       speed on synthetic templates
 *
 * lfw: the faces of COLLECTION in the store at STORE (filled by `mien index COLLECTION
 * lfw/images`, whose output is INDEX.jsonl) are read once and cached in CACHE with their labels:
 * in each image the face nearest the centre is the named person (LFW's faces are centred); other
 * faces (bystanders) are clustered too but not scored. Every method clusters all faces; scores
 * are over the labelled ones: pairwise precision/recall/F1, BCubed precision/recall/F, groups,
 * singletons, and groups holding two faces of one photo.
 *   - mien: cluster.h at FaceMatchThreshold 70..95 (edge cosine: see EDGE_DROP);
 *   - Immich's rule with its defaults (maxDistance 0.5 cosine distance, minFaces 3): faces in
 *     order, a face with minFaces matches (itself included) within maxDistance is a core face; it
 *     takes the person of its first match that has one, else of the nearest face with a person,
 *     else a new person; non-core faces run afterwards and only take an existing person;
 *   - Chinese whispers as dlib runs it: unit-weight edges between faces above a cosine, labels
 *     propagated in random node order for 100 iterations.
 * All three use the same top-k neighbour search of the index (mien_index_search).
 *
 * synth: FACES synthetic templates (tests/people_synth.h, PER_IDENTITY faces each, genuine mean
 * cosine that of LFW) in one index; the clustering state knows them but holds no edges (a full
 * pass at 1M is N exact scans of N vectors: the time per search below gives its cost), then
 * BATCH new faces are added and the incremental update timed: their searches over all FACES,
 * and the regrouping of the parts they touch.
 *
 * Not built by CMake (a benchmark is not a test); bench/people.sh compiles it against the shared
 * library of the build it measures. Figures depend on the machine: docs/people.md says which. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "face/eval.h"
#include "people_synth.h" /* tests/ */
#include "store/cluster.h"
#include "store/people.h"
#include "store/store.h"
#include "util/util.h"

#define DIM MIEN_EMBED_DIM
#define NEIGHBOURS MIEN_PEOPLE_NEIGHBOURS
/* mien's edge cosine: the link cosine less this (PEOPLE_EDGE_DROP overrides it). */
static double EDGE_DROP = MIEN_PEOPLE_EDGE_MARGIN;

typedef struct {
  int n;
  float *emb;
  int *label; /* identity, -1: unlabelled */
  int *image;
  int nlabels;
} faceset;

/* ---- LFW: store + index log -> cache ---- */

typedef struct {
  char face_id[MIEN_UUID_LEN];
  int label, image;
} face_label;

static int by_face_id(const void *a, const void *b) {
  return strcmp(((const face_label *)a)->face_id, ((const face_label *)b)->face_id);
}

/* The labels of INDEX.jsonl: per line (one image) the face nearest the centre gets the identity
 * named by the file's directory. */
static face_label *read_labels(const char *path, int *n, int *nlabels) {
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  face_label *v = NULL;
  int cap = 0, image = 0;
  char **names = NULL;
  int nnames = 0;
  *n = 0;
  char *line = NULL;
  size_t lcap = 0;
  while (getline(&line, &lcap, f) > 0) {
    cJSON *j = cJSON_Parse(line);
    const char *file = cJSON_GetStringValue(cJSON_GetObjectItem(j, "File"));
    cJSON *recs = cJSON_GetObjectItem(j, "FaceRecords");
    if (!file || !recs) {
      cJSON_Delete(j);
      continue;
    }
    char dir[512];
    snprintf(dir, sizeof dir, "%s", file);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    const char *name = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
    int label = -1;
    for (int i = 0; i < nnames; i++)
      if (!strcmp(names[i], name)) label = i;
    if (label < 0) {
      names = realloc(names, (size_t)(nnames + 1) * sizeof *names);
      names[nnames] = strdup(name);
      label = nnames++;
    }
    int best = -1;
    double best_d = 1e9;
    cJSON *r;
    int k = 0;
    cJSON_ArrayForEach(r, recs) {
      cJSON *b = cJSON_GetObjectItem(cJSON_GetObjectItem(r, "Face"), "BoundingBox");
      double cx = cJSON_GetNumberValue(cJSON_GetObjectItem(b, "Left")) +
                  cJSON_GetNumberValue(cJSON_GetObjectItem(b, "Width")) / 2 - 0.5;
      double cy = cJSON_GetNumberValue(cJSON_GetObjectItem(b, "Top")) +
                  cJSON_GetNumberValue(cJSON_GetObjectItem(b, "Height")) / 2 - 0.5;
      if (cx * cx + cy * cy < best_d) best_d = cx * cx + cy * cy, best = k;
      k++;
    }
    k = 0;
    cJSON_ArrayForEach(r, recs) {
      if (*n == cap) v = realloc(v, (size_t)(cap = cap ? 2 * cap : 1024) * sizeof *v);
      const char *id =
          cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "Face"), "FaceId"));
      snprintf(v[*n].face_id, MIEN_UUID_LEN, "%s", id ? id : "");
      v[*n].label = k == best ? label : -1;
      v[(*n)++].image = image;
      k++;
    }
    image++;
    cJSON_Delete(j);
  }
  free(line);
  fclose(f);
  for (int i = 0; i < nnames; i++) free(names[i]);
  free(names);
  *nlabels = nnames;
  qsort(v, (size_t)*n, sizeof *v, by_face_id);
  return v;
}

static int lfw_from_store(const char *dir, const char *coll, const char *jsonl, faceset *fs) {
  int nl, nlabels;
  face_label *labels = read_labels(jsonl, &nl, &nlabels);
  if (!labels) return fprintf(stderr, "people: cannot read %s\n", jsonl), -1;
  char err[512];
  mien_store *s;
  if (mien_store_open(dir, &s, err, sizeof err) != MIEN_OK)
    return fprintf(stderr, "people: %s\n", err), -1;
  mien_face_record *page = malloc(1000 * sizeof *page);
  fs->emb = malloc((size_t)nl * DIM * sizeof *fs->emb);
  fs->label = malloc((size_t)nl * sizeof *fs->label);
  fs->image = malloc((size_t)nl * sizeof *fs->image);
  fs->n = 0, fs->nlabels = nlabels;
  int64_t after = 0;
  int n, more = 1;
  while (more && mien_store_list_faces(s, coll, after, 1000, NULL, 1, page, &n, &more, err,
                                       sizeof err) == MIEN_OK) {
    for (int i = 0; i < n && fs->n < nl; i++) {
      face_label key, *l;
      snprintf(key.face_id, sizeof key.face_id, "%s", page[i].face_id);
      l = bsearch(&key, labels, (size_t)nl, sizeof *labels, by_face_id);
      if (!l) continue;
      memcpy(fs->emb + (size_t)fs->n * DIM, page[i].emb, DIM * sizeof(float));
      fs->label[fs->n] = l->label, fs->image[fs->n++] = l->image;
    }
    if (n) after = page[n - 1].row;
  }
  free(page);
  free(labels);
  mien_store_close(s);
  return fs->n ? 0 : -1;
}

static int cache_write(const char *path, const faceset *fs) {
  FILE *f = fopen(path, "wb");
  int ok = f && fwrite(&fs->n, sizeof fs->n, 1, f) == 1 &&
           fwrite(&fs->nlabels, sizeof fs->nlabels, 1, f) == 1 &&
           fwrite(fs->label, sizeof *fs->label, (size_t)fs->n, f) == (size_t)fs->n &&
           fwrite(fs->image, sizeof *fs->image, (size_t)fs->n, f) == (size_t)fs->n &&
           fwrite(fs->emb, DIM * sizeof *fs->emb, (size_t)fs->n, f) == (size_t)fs->n;
  if (f && fclose(f)) ok = 0;
  return ok ? 0 : -1;
}

static int cache_read(const char *path, faceset *fs) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  int ok = fread(&fs->n, sizeof fs->n, 1, f) == 1 && fs->n > 0 && fs->n < 10000000 &&
           fread(&fs->nlabels, sizeof fs->nlabels, 1, f) == 1;
  if (ok) {
    fs->label = malloc((size_t)fs->n * sizeof *fs->label);
    fs->image = malloc((size_t)fs->n * sizeof *fs->image);
    fs->emb = malloc((size_t)fs->n * DIM * sizeof *fs->emb);
    ok = fread(fs->label, sizeof *fs->label, (size_t)fs->n, f) == (size_t)fs->n &&
         fread(fs->image, sizeof *fs->image, (size_t)fs->n, f) == (size_t)fs->n &&
         fread(fs->emb, DIM * sizeof *fs->emb, (size_t)fs->n, f) == (size_t)fs->n;
  }
  fclose(f);
  return ok ? 0 : -1;
}

/* ---- scores ---- */

typedef struct {
  double p, r, f1, bp, br, bf;
  int groups, singletons, photo_violations;
} scores;

typedef struct {
  int g, l;
} gl;

static int cmp_gl(const void *a, const void *b) {
  const gl *x = a, *y = b;
  if (x->g != y->g) return (x->g > y->g) - (x->g < y->g);
  return (x->l > y->l) - (x->l < y->l);
}

/* group[i]: the group of face i (any int). Scored over labelled faces. */
static scores score(const faceset *fs, const int *group) {
  scores s = {0};
  int n = fs->n;
  /* (group, label) sorted: counts per group, per label and per (group, label) */
  gl *v = malloc((size_t)n * sizeof *v);
  int m = 0;
  for (int i = 0; i < n; i++)
    if (fs->label[i] >= 0) v[m++] = (gl){group[i], fs->label[i]};
  int *ls = calloc((size_t)fs->nlabels, sizeof *ls);
  for (int i = 0; i < m; i++) ls[v[i].l]++;
  qsort(v, (size_t)m, sizeof *v, cmp_gl);
  for (int i = 0; i < m;) {
    int j = i;
    while (j < m && v[j].g == v[i].g) j++;
    s.groups++;
    s.singletons += j - i == 1;
    for (int a = i; a < j;) {
      int b = a;
      while (b < j && v[b].l == v[a].l) b++;
      double c = b - a, gsz = j - i, lsz = ls[v[a].l];
      s.bp += c * c / gsz;
      s.br += c * c / lsz;
      s.p += c * (c - 1) / 2; /* true pairs in groups */
      a = b;
    }
    double gsz = j - i;
    s.r += gsz * (gsz - 1) / 2; /* all pairs in groups */
    i = j;
  }
  double same = 0;
  for (int l = 0; l < fs->nlabels; l++) same += (double)ls[l] * (ls[l] - 1) / 2;
  double tp = s.p, inpairs = s.r;
  s.p = inpairs ? tp / inpairs : 1;
  s.r = same ? tp / same : 1;
  s.f1 = s.p + s.r ? 2 * s.p * s.r / (s.p + s.r) : 0;
  s.bp /= m, s.br /= m;
  s.bf = 2 * s.bp * s.br / (s.bp + s.br);
  /* two faces of one photo in a group, over all faces */
  gl *w = malloc((size_t)n * sizeof *w);
  for (int i = 0; i < n; i++) w[i] = (gl){group[i], fs->image[i]};
  qsort(w, (size_t)n, sizeof *w, cmp_gl);
  for (int i = 1; i < n; i++) s.photo_violations += w[i].g == w[i - 1].g && w[i].l == w[i - 1].l;
  free(w), free(v), free(ls);
  return s;
}

static void print_scores(const char *method, const char *param, const scores *s, double sec) {
  printf("| %s | %s | %.4f | %.4f | %.4f | %.4f | %d | %d | %d | %.2f |\n", method, param, s->p,
         s->r, s->f1, s->bf, s->groups, s->singletons, s->photo_violations, sec);
  fflush(stdout);
}

/* ---- the three methods ---- */

static mien_index *index_of(const faceset *fs) {
  mien_index *ix = mien_index_create(DIM);
  mien_index_reserve(ix, (size_t)fs->n);
  for (int i = 0; i < fs->n; i++) mien_index_add(ix, i + 1, fs->emb + (size_t)i * DIM);
  return ix;
}

/* mien: the product's clustering. Face i has id i + 1; order[] is the order faces are put in,
 * in `batches` updates (1: a full pass). */
static int mien_groups(const faceset *fs, const mien_index *ix, float link, int batches, int *group,
                       mien_cluster_stats *st) {
  mien_cluster_params p = {link, (float)(link - EDGE_DROP), NEIGHBOURS};
  mien_cluster *c = mien_cluster_create(&p);
  if (!c) return -1;
  for (int b = 0; b < batches; b++) {
    int lo = (int)((long)fs->n * b / batches), hi = (int)((long)fs->n * (b + 1) / batches);
    for (int i = lo; i < hi; i++) mien_cluster_put(c, i + 1, (uint64_t)fs->image[i] + 1, 0);
    /* the later faces are not in the state yet: a search may find them, the state ignores them */
    if (mien_cluster_update(c, ix, 0, 0, st)) return -1;
  }
  for (int i = 0; i < fs->n; i++) group[i] = (int)mien_cluster_group_of(c, i + 1);
  mien_cluster_free(c);
  return 0;
}

/* Immich's rule (see the top of the file). */
static void immich_groups(const faceset *fs, const mien_index *ix, float cosine, int min_faces,
                          int *group) {
  int n = fs->n, next = 0, k = NEIGHBOURS;
  int *person = malloc((size_t)n * sizeof *person);
  mien_hit *hits = malloc((size_t)k * sizeof *hits);
  for (int i = 0; i < n; i++) person[i] = -1;
  int *deferred = malloc((size_t)n * sizeof *deferred), nd = 0;
  for (int pass = 0; pass < 2; pass++) {
    int count = pass ? nd : n;
    for (int t = 0; t < count; t++) {
      int i = pass ? deferred[t] : t;
      const float *v = fs->emb + (size_t)i * DIM;
      int nh = mien_index_search(ix, v, min_faces, cosine, 1, hits);
      if (min_faces > 1 && nh <= 1) continue;
      int core = nh >= min_faces;
      if (!core && !pass) {
        deferred[nd++] = i;
        continue;
      }
      int p = -1;
      for (int h = 0; h < nh && p < 0; h++) p = person[hits[h].id - 1];
      if (p < 0) {
        int nh2 = mien_index_search(ix, v, k, cosine, 1, hits);
        for (int h = 0; h < nh2 && p < 0; h++)
          if (hits[h].id - 1 != i) p = person[hits[h].id - 1];
      }
      if (p < 0 && core) p = next++;
      if (p >= 0) person[i] = p;
    }
  }
  for (int i = 0; i < n; i++) group[i] = person[i] >= 0 ? person[i] : next + i; /* unassigned */
  free(person), free(hits), free(deferred);
}

/* Chinese whispers over the neighbour graph at `cosine`. */
static void whispers_groups(const faceset *fs, const mien_index *ix, float cosine, int *group) {
  int n = fs->n > 0 ? fs->n : 1, k = NEIGHBOURS + 1;
  int *start = malloc((size_t)(n + 1) * sizeof *start), *adj = NULL, na = 0, cap = 0;
  mien_hit *hits = malloc((size_t)k * sizeof *hits);
  for (int i = 0; i < n; i++) {
    start[i] = na;
    int nh = mien_index_search(ix, fs->emb + (size_t)i * DIM, k, cosine, 0, hits);
    for (int h = 0; h < nh; h++) {
      if (hits[h].id - 1 == i) continue;
      if (na == cap) adj = realloc(adj, (size_t)(cap = cap ? 2 * cap : 4096) * sizeof *adj);
      adj[na++] = (int)hits[h].id - 1;
    }
  }
  start[n] = na;
  int *order = malloc((size_t)n * sizeof *order), *count = calloc((size_t)n, sizeof *count);
  for (int i = 0; i < n; i++) group[i] = i, order[i] = i;
  unsigned short seed[3] = {1, 2, 3};
  for (int it = 0; it < 100; it++) {
    for (int i = n - 1; i > 0; i--) {
      int j = (int)(erand48(seed) * (i + 1)), t = order[i];
      order[i] = order[j], order[j] = t;
    }
    for (int t = 0; t < n; t++) {
      int i = order[t], best = group[i], best_c = 0;
      for (int e = start[i]; e < start[i + 1]; e++) count[group[adj[e]]]++;
      for (int e = start[i]; e < start[i + 1]; e++) {
        int g = group[adj[e]];
        if (count[g] > best_c || (count[g] == best_c && g < best)) best_c = count[g], best = g;
      }
      for (int e = start[i]; e < start[i + 1]; e++) count[group[adj[e]]] = 0;
      group[i] = best;
    }
  }
  free(start), free(adj), free(hits), free(order), free(count);
}

/* Genuine cosine mean and impostor cosine spread of the labelled faces (a sample of pairs). */
static void cosine_stats(const faceset *fs, double *gen_mean, double *imp_sd) {
  double gs = 0, is = 0, is2 = 0;
  long gn = 0, in = 0;
  unsigned short seed[3] = {7, 7, 7};
  for (int i = 0; i < fs->n; i++)
    for (int j = i + 1; j < fs->n; j++) {
      if (fs->label[i] < 0 || fs->label[j] < 0) continue;
      int same = fs->label[i] == fs->label[j];
      if (!same && erand48(seed) > 0.01) continue;
      double c = mien_cosine(fs->emb + (size_t)i * DIM, fs->emb + (size_t)j * DIM);
      if (same)
        gs += c, gn++;
      else
        is += c, is2 += c * c, in++;
    }
  *gen_mean = gs / (double)gn;
  *imp_sd = sqrt(is2 / (double)in - (is / (double)in) * (is / (double)in));
}

static int lfw(int argc, char **argv) {
  if (argc < 6) return fprintf(stderr, "usage: people lfw STORE COLLECTION INDEX.jsonl CACHE\n"), 2;
  faceset fs = {0};
  if (cache_read(argv[5], &fs) != 0) {
    if (lfw_from_store(argv[2], argv[3], argv[4], &fs) != 0 || cache_write(argv[5], &fs) != 0)
      return fprintf(stderr, "people: cannot read the LFW faces\n"), 1;
  }
  if (getenv("PEOPLE_EDGE_DROP")) EDGE_DROP = atof(getenv("PEOPLE_EDGE_DROP"));
  int labelled = 0;
  for (int i = 0; i < fs.n; i++) labelled += fs.label[i] >= 0;
  double gen_mean, imp_sd;
  cosine_stats(&fs, &gen_mean, &imp_sd);
  printf("LFW: %d faces (%d labelled, %d identities); genuine cosine mean %.4f, impostor sd "
         "%.4f\n\n",
         fs.n, labelled, fs.nlabels, gen_mean, imp_sd);
  printf("| method | parameter | pairwise P | pairwise R | pairwise F1 | BCubed F | groups | "
         "singletons | photo violations | seconds |\n|---|---|---:|---:|---:|---:|---:|---:|---:|"
         "---:|\n");
  mien_index *ix = index_of(&fs);
  int *group = malloc((size_t)fs.n * sizeof *group), *inc = malloc((size_t)fs.n * sizeof *inc);
  char param[64];
  float sims[16] = {70, 75, 80, 85, 90, 95};
  size_t nsims = 6;
  /* PEOPLE_SIMS=85,90: only these FaceMatchThresholds */
  const char *env = getenv("PEOPLE_SIMS");
  for (char *end; env && *env && (nsims = env == getenv("PEOPLE_SIMS") ? 0 : nsims) < 16;
       env = end + (*end == ',')) {
    sims[nsims++] = strtof(env, &end);
    if (end == env) break;
  }
  for (size_t t = 0; t < nsims; t++) {
    float link = mien_similarity_cosine(sims[t]);
    double t0 = mien_now_ms();
    mien_cluster_stats st;
    if (mien_groups(&fs, ix, link, 1, group, &st)) return 1;
    double sec = (mien_now_ms() - t0) / 1000;
    scores s = score(&fs, group);
    snprintf(param, sizeof param, "Similarity %.0f (cosine %.4f, edges %.4f)", sims[t], link,
             link - EDGE_DROP);
    print_scores("mien (average linkage)", param, &s, sec);
    /* incremental: the same faces in 8 updates */
    if (mien_groups(&fs, ix, link, 8, inc, NULL)) return 1;
    int differ = 0;
    for (int i = 0; i < fs.n; i++) differ += inc[i] != group[i];
    fprintf(stderr,
            "  Similarity %.0f: incremental (8 updates) vs full: %d of %d faces differ; "
            "%lld saturated searches\n",
            sims[t], differ, fs.n, (long long)st.saturated);
  }
  double t0 = mien_now_ms();
  immich_groups(&fs, ix, 0.5f, 3, group);
  scores s = score(&fs, group);
  print_scores("Immich (defaults)", "maxDistance 0.5, minFaces 3", &s, (mien_now_ms() - t0) / 1000);
  const float cw[] = {0.4181f, 0.4530f, 0.4878f, 0.5f, 0.6102f};
  for (size_t t = 0; t < sizeof cw / sizeof *cw; t++) {
    t0 = mien_now_ms();
    whispers_groups(&fs, ix, cw[t], group);
    s = score(&fs, group);
    snprintf(param, sizeof param, "cosine %.4f (Similarity %.0f)", cw[t], mien_similarity(cw[t]));
    print_scores("Chinese whispers", param, &s, (mien_now_ms() - t0) / 1000);
  }
  mien_index_free(ix);
  free(group), free(inc), free(fs.emb), free(fs.label), free(fs.image);
  return 0;
}

static int synth(int argc, char **argv) {
  long n = argc > 2 ? atol(argv[2]) : 1000000, per = argc > 3 ? atol(argv[3]) : 10;
  long batch = argc > 4 ? atol(argv[4]) : 1000;
  double noise = synth_noise_for(argc > 5 ? atof(argv[5]) : 0.62);
  if (n < 2 || per < 1 || batch < 1 || batch > n) return fprintf(stderr, "bad sizes\n"), 2;
  double t0 = mien_now_ms();
  mien_index *ix = mien_index_create(DIM);
  if (!ix || mien_index_reserve(ix, (size_t)n)) return fprintf(stderr, "out of memory\n"), 1;
  float centre[DIM], v[DIM];
  unsigned short seed[3] = {3, 1, 4};
  for (long i = 0; i < n; i++) {
    if (i % per == 0) synth_centre(seed, centre);
    synth_face(seed, centre, noise, v);
    mien_index_add(ix, i + 1, v);
  }
  printf("synthetic: %ld faces, %ld per identity, noise %.4f: made and indexed in %.1f s, %zu "
         "bytes per face in the index\n",
         n, per, noise, (mien_now_ms() - t0) / 1000, mien_index_bytes_per_vector(ix));
  mien_cluster_params p = {mien_similarity_cosine(MIEN_PEOPLE_THRESHOLD),
                           mien_similarity_cosine(MIEN_PEOPLE_THRESHOLD) - MIEN_PEOPLE_EDGE_MARGIN,
                           NEIGHBOURS};
  mien_cluster *c = mien_cluster_create(&p);
  /* the old faces: in the state, no edges (their update finds nothing in an empty index) */
  mien_index *empty = mien_index_create(DIM);
  t0 = mien_now_ms();
  for (long i = 0; i < n - batch; i++) mien_cluster_put(c, i + 1, (uint64_t)i + 1, 0);
  mien_cluster_update(c, empty, 0, 0, NULL);
  printf("state of %ld faces: %.1f s\n", n - batch, (mien_now_ms() - t0) / 1000);
  t0 = mien_now_ms();
  for (long i = n - batch; i < n; i++) mien_cluster_put(c, i + 1, (uint64_t)i + 1, 0);
  mien_cluster_stats st;
  if (mien_cluster_update(c, ix, 0, 0, &st)) return fprintf(stderr, "out of memory\n"), 1;
  double sec = (mien_now_ms() - t0) / 1000;
  printf("incremental update, %ld new faces into %ld: %.1f s (%.1f ms per new face, all cores); "
         "%lld faces regrouped, %lld edges; a full pass would take about %.0f s\n",
         batch, n, sec, sec * 1000 / (double)batch, (long long)st.regrouped, (long long)st.edges,
         sec / (double)batch * (double)n);
  mien_cluster_free(c);
  mien_index_free(empty);
  mien_index_free(ix);
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "lfw")) return lfw(argc, argv);
  if (argc > 1 && !strcmp(argv[1], "synth")) return synth(argc, argv);
  fprintf(stderr, "usage: people lfw STORE COLLECTION INDEX.jsonl CACHE | people synth [FACES "
                  "[PER_IDENTITY [BATCH [GENUINE_MEAN]]]]\n");
  return 2;
}
