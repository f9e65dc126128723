/* search.c - the search benchmark (build/mien-bench-search, `make bench-search`): the exact index
 * and the ANN index (src/store/index.h, ann.h) on LFW-calibrated synthetic faces, and the data
 * bench/search_faiss.cpp measures FAISS on in the same run. White-box: it links the internals.
 *
 *   mien-bench-search calibrate [--identities N]     synthetic vs LFW cosine distributions
 *   mien-bench-search run --faces N [--index exact,ann] [--queries Q] [--nprobe A,B,..]
 *                         [--rerank A,B,..] [--rescore A,B,..] [--first A,..] [--stop S,..]
 *                         [--margin C,..] [--pq M]
 *                         [--dir DIR] [--keep] [--reuse] [--no-save] [--per P]
 *
 * Faces: identities x P images (P = 2 by default) of unit 512-d templates, generated from their
 * number alone (so a 20 GB collection is streamed, never held). An identity has a centre; an
 * image is q * centre + sqrt(1 - q^2) * noise, normalised, where q (the image's quality) is
 * qmax - spread * Exp(1) and centre and noise are random vectors with a power-law spectrum
 * (coordinate i has scale (i + 1)^-alpha) turned by a fixed randomised Hadamard rotation, so no
 * axis is special. alpha sets the impostor spread (the participation ratio of the spectrum is
 * the effective dimension: 87 gives LFW's impostor s.d. of 0.107), qmax and spread the genuine
 * distribution; `calibrate` prints both against the LFW figures of docs/similarity.md, and
 * docs/search.md records the fit.
 *
 * Probes: image P of Q identities spread over the collection (not in it); its mates are the
 * identity's P images. The faces go to DIR/faces.f32 (fp32, N x 512: what the ANN rescores from,
 * read with pread as a store would), probes to DIR/probes.f32, the exact top-10 of each probe
 * (computed by the exact index over 1M-face blocks) to DIR/truth.bin, so FAISS sees the same.
 * DIR is deleted at the end unless --keep; --reuse runs again on a kept DIR of the same size and
 * queries (no generation; the ground truth and the ANN index of an earlier run if it left them:
 * at 10M they take most of an hour), e.g. to measure other search settings, and keeps it.
 *
 * The ANN sweep runs every combination of --nprobe, --rerank (0: no PQ tier, the int8 scan
 * of the probed lists; old and new in one run), --rescore, --first, --margin and --stop (the early
 * stop: after its first stage, the --first best lists and any other whose centroid is within
 * --margin in cosine of the best one's, a search whose best estimate is >= --stop ends; --first 0:
 * never); --pq sets the PQ tier's sub-spaces (default 128, mien's), and the index is kept as
 * DIR/ann-pqM.idx for --reuse (--no-save: measured as built, neither saved nor loaded, no
 * cold-load time).
 *
 * Reported per index (JSON lines): recall@1 of true mates (of the probes whose exact top-1 is a
 * mate, the share whose top-1 is a mate too: the person is identified), recall@10 against the exact
 * top-10, ms per query p50/p99 with 1 thread and with all, RAM bytes per face, build seconds and
 * inserts per second; for the ANN also its save and cold-load time.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mien.h"
#include "store/ann.h"
#include "store/index.h"
#include "util/util.h"

#define DIM 512
#define TOPK 10
#define CHUNK 16384          /* faces generated or read at a time */
#define TRUTH_BLOCK 1000000L /* faces per exact-index block for the ground truth */

/* --- the generator -------------------------------------------------------------------------- */

typedef struct {
  double alpha;  /* spectrum exponent */
  double qmax;   /* best image quality */
  double spread; /* mean shortfall of quality below qmax */
  double beta;   /* weight of an identity's cluster direction in its centre */
  int per;       /* images per identity in the collection */
} synth;

/* Identities fall into this many clusters (think of groups of similar-looking people): pairs
 * within one are closer, which gives the impostor distribution LFW's heavier-than-Gaussian tail
 * and the data the structure an IVF partition meets in real collections. */
#define CLUSTERS 16

static const synth SYNTH_DEFAULT = {0.385, 0.905, 0.085, 0.42, 2};

static float spectrum[DIM];
static float signs[2][DIM];

static uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static double uniform(uint64_t *s) { /* (0, 1) */
  *s = mix(*s);
  return ((double)(*s >> 11) + 0.5) / 9007199254740992.0;
}

static void synth_init(const synth *p) {
  uint64_t s = 0x5157a7e5;
  for (int i = 0; i < DIM; i++) {
    spectrum[i] = (float)pow(i + 1, -p->alpha);
    signs[0][i] = uniform(&s) < 0.5 ? -1.0f : 1.0f;
    signs[1][i] = uniform(&s) < 0.5 ? -1.0f : 1.0f;
  }
}

static void hadamard(float *v) { /* unnormalised, in place; DIM is a power of two */
  for (int h = 1; h < DIM; h *= 2)
    for (int i = 0; i < DIM; i += 2 * h)
      for (int j = i; j < i + h; j++) {
        float a = v[j], b = v[j + h];
        v[j] = a + b, v[j + h] = a - b;
      }
}

static void normalise(float *v) {
  double n2 = 0;
  for (int i = 0; i < DIM; i++) n2 += (double)v[i] * v[i];
  for (int i = 0; i < DIM; i++) v[i] = (float)(v[i] / sqrt(n2));
}

/* A unit random vector with the spectrum, rotated: sums of four uniforms per coordinate are
 * Gaussian enough after two Hadamard mixes, and cheap for 10 billion coordinates. */
static void random_direction(uint64_t seed, float *v) {
  uint64_t s = mix(seed) | 1;
  for (int i = 0; i < DIM; i++) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    float g =
        (float)((s & 0xffff) + (s >> 16 & 0xffff) + (s >> 32 & 0xffff) + (s >> 48)) / 65536.0f -
        2.0f;
    v[i] = g * spectrum[i] * signs[0][i];
  }
  hadamard(v);
  for (int i = 0; i < DIM; i++) v[i] *= signs[1][i];
  hadamard(v);
  normalise(v);
}

/* Image `img` of identity `id`. */
static void synth_face(const synth *p, uint64_t id, int img, float *v) {
  float c[DIM], m[DIM];
  random_direction(mix(id) ^ 0xce47e, c);
  random_direction(0xc1a55 + mix(id) % CLUSTERS, m);
  for (int i = 0; i < DIM; i++) c[i] += (float)p->beta * m[i];
  normalise(c);
  uint64_t s = mix(id * 64 + (uint64_t)img + 1);
  random_direction(s, v);
  double q = p->qmax + p->spread * log(uniform(&s)); /* qmax - spread * Exp(1) */
  if (q < 0) q = 0;
  double r = sqrt(1 - q * q);
  for (int i = 0; i < DIM; i++) v[i] = (float)(q * c[i] + r * v[i]);
  normalise(v);
}

static float dot(const float *a, const float *b) {
  return mien_index_score(a, b, DIM);
}

/* LFW, docs/similarity.md: the share of genuine pairs at or above each cosine (TAR) and of
 * impostor pairs (FAR). */
static const struct {
  double cosine, tar, far;
} LFW[] = {{0.0083, 0.99998, 0.5},     {0.2509, 0.99465, 9.98e-3}, {0.3066, 0.99084, 2.53e-3},
           {0.3624, 0.98331, 5.52e-4}, {0.4181, 0.96722, 9.97e-5}, {0.4878, 0.92969, 9.94e-6},
           {0.6102, 0.75648, 1.49e-6}, {0.7081, 0.43914, 9.57e-7}};

static int cmd_calibrate(const synth *p, long identities) {
  synth_init(p);
  size_t n = (size_t)identities * 2;
  float *v = malloc(n * DIM * sizeof *v);
  if (!v) return 1;
  for (long i = 0; i < identities; i++)
    for (int j = 0; j < 2; j++) synth_face(p, (uint64_t)i, j, v + ((size_t)i * 2 + j) * DIM);
  size_t nl = sizeof LFW / sizeof *LFW, ngen = (size_t)identities, nimp = 0;
  size_t gen[8] = {0}, imp[8] = {0};
  double isum = 0, isum2 = 0;
  for (long i = 0; i < identities; i++) {
    float g = dot(v + (size_t)i * 2 * DIM, v + ((size_t)i * 2 + 1) * DIM);
    for (size_t t = 0; t < nl; t++) gen[t] += g >= LFW[t].cosine;
    for (long j = i + 1; j < identities && j < i + 400; j++) { /* impostors: nearby ids */
      float c = dot(v + (size_t)i * 2 * DIM, v + (size_t)j * 2 * DIM + DIM);
      isum += c, isum2 += (double)c * c, nimp++;
      for (size_t t = 0; t < nl; t++) imp[t] += c >= LFW[t].cosine;
    }
  }
  double mean = isum / (double)nimp;
  printf("synthetic: alpha %.3f qmax %.3f spread %.3f beta %.3f; %zu genuine, %zu impostor pairs; "
         "impostor mean %.4f s.d. %.4f (LFW: median 0.0083, s.d. ~0.107)\n",
         p->alpha, p->qmax, p->spread, p->beta, ngen, nimp, mean,
         sqrt(isum2 / (double)nimp - mean * mean));
  printf("%8s %10s %10s %10s %10s\n", "cosine", "TAR lfw", "TAR synth", "FAR lfw", "FAR synth");
  for (size_t t = 0; t < nl; t++)
    printf("%8.4f %10.5f %10.5f %10.2e %10.2e\n", LFW[t].cosine, LFW[t].tar,
           (double)gen[t] / (double)ngen, LFW[t].far, (double)imp[t] / (double)nimp);
  free(v);
  return 0;
}

/* --- the data files --------------------------------------------------------------------------- */

typedef struct {
  synth p;
  long faces, identities;
  int queries, threads;
  char dir[512];
  int fd;          /* faces.f32 */
  float *probes;   /* queries x DIM */
  long *probe_id;  /* identity of each probe */
  mien_hit *truth; /* queries x TOPK */
  int *ntruth;
  int truth_done; /* 0 with --no-truth: recall@10 is not measured */
  int reuse;      /* --reuse: DIR's faces and truth from an earlier --keep run of the same size */
  int pq_m;       /* --pq: the ANN's PQ sub-spaces */
  int no_save;    /* --no-save: the ANN is measured as built, not saved and loaded */
} bench;

static void path(const bench *b, const char *name, char *out, size_t size) {
  snprintf(out, size, "%s/%s", b->dir, name);
}

/* Where face i lies in faces.f32. */
static off_t face_offset(long i) {
  return (off_t)i * DIM * (off_t)sizeof(float);
}

static int read_faces(const bench *b, long first, long n, float *v) {
  size_t bytes = (size_t)n * DIM * sizeof *v, done = 0;
  off_t off = face_offset(first);
  while (done < bytes) {
    ssize_t r = pread(b->fd, (char *)v + done, bytes - done, off + (off_t)done);
    if (r <= 0) return -1;
    done += (size_t)r;
  }
  return 0;
}

static int write_file(const bench *b, const char *name, const void *p, size_t bytes) {
  char f[600];
  path(b, name, f, sizeof f);
  FILE *fp = fopen(f, "wb");
  int rc = fp && fwrite(p, 1, bytes, fp) == bytes ? 0 : -1;
  if (fp && fclose(fp)) rc = -1;
  return rc;
}

static void face_of(const bench *b, long i, float *v) {
  synth_face(&b->p, (uint64_t)(i / b->p.per), (int)(i % b->p.per), v);
}

typedef struct {
  const bench *b;
  long first, n;
  float *out;
} gen_job;

static void *gen_run(void *arg) {
  gen_job *j = arg;
  for (long i = 0; i < j->n; i++) face_of(j->b, j->first + i, j->out + (size_t)i * DIM);
  return NULL;
}

/* Faces first .. first + n - 1 into out, on b->threads threads. */
static void gen_faces(const bench *b, long first, long n, float *out) {
  gen_job jobs[64];
  pthread_t tid[64];
  int t, nt = b->threads < 64 ? b->threads : 64;
  for (t = 0; t < nt; t++) {
    long lo = n * t / nt, hi = n * (t + 1) / nt;
    jobs[t] = (gen_job){b, first + lo, hi - lo, out + (size_t)lo * DIM};
    if (t && pthread_create(&tid[t], NULL, gen_run, &jobs[t])) jobs[t].b = NULL;
  }
  gen_run(&jobs[0]);
  for (t = 1; t < nt; t++) {
    if (jobs[t].b)
      pthread_join(tid[t], NULL);
    else
      gen_run(&(gen_job){b, jobs[t].first, jobs[t].n, jobs[t].out});
  }
}

static int generate(bench *b) {
  char f[600];
  path(b, "faces.f32", f, sizeof f);
  b->fd = open(f, b->reuse ? O_RDONLY | O_CLOEXEC : O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  float *chunk = malloc((size_t)CHUNK * DIM * sizeof *chunk);
  struct stat st;
  if (b->fd < 0 || !chunk || fstat(b->fd, &st)) return -1;
  if (b->reuse && st.st_size != face_offset(b->faces)) {
    fprintf(stderr, "--reuse: %s does not hold %ld faces\n", f, b->faces);
    return -1;
  }
  for (long c = b->reuse ? b->faces : 0; c < b->faces; c += CHUNK) {
    long m = b->faces - c < CHUNK ? b->faces - c : CHUNK;
    gen_faces(b, c, m, chunk);
    size_t bytes = (size_t)m * DIM * sizeof *chunk;
    if (pwrite(b->fd, chunk, bytes, face_offset(c)) != (ssize_t)bytes) {
      free(chunk);
      return -1;
    }
  }
  free(chunk);
  b->probes = malloc((size_t)b->queries * DIM * sizeof *b->probes);
  b->probe_id = malloc((size_t)b->queries * sizeof *b->probe_id);
  if (!b->probes || !b->probe_id) return -1;
  for (int j = 0; j < b->queries; j++) {
    b->probe_id[j] = (long)((double)b->identities * (j + 0.5) / b->queries);
    synth_face(&b->p, (uint64_t)b->probe_id[j], b->p.per, b->probes + (size_t)j * DIM);
  }
  return write_file(b, "probes.f32", b->probes, (size_t)b->queries * DIM * sizeof(float));
}

static int hit_before(mien_hit a, mien_hit b) {
  return a.score > b.score || (a.score == b.score && a.id < b.id);
}

static int is_mate(const bench *b, int j, int64_t id) {
  return id / b->p.per == b->probe_id[j];
}

/* truth.bin of an earlier run (its probes are this run's: they come from the same numbers). */
static int read_truth(bench *b) {
  char f[600];
  path(b, "truth.bin", f, sizeof f);
  FILE *fp = fopen(f, "rb");
  size_t n = (size_t)b->queries * TOPK;
  int rc = fp && fread(b->truth, sizeof *b->truth, n, fp) == n && fgetc(fp) == EOF ? 0 : -1;
  if (fp) fclose(fp);
  for (int j = 0; !rc && j < b->queries; j++) /* unfilled slots (faces < 10) are zeroed */
    while (b->ntruth[j] < TOPK && b->truth[(size_t)j * TOPK + b->ntruth[j]].score != 0)
      b->ntruth[j]++;
  if (rc) fprintf(stderr, "--reuse: no truth of %d queries in %s: computing it\n", b->queries, f);
  b->truth_done = !rc;
  return rc;
}

/* The exact top-10 of every probe: the exact index over blocks of the file, merged. */
static int ground_truth(bench *b) {
  b->truth = calloc((size_t)b->queries * TOPK, sizeof *b->truth);
  b->ntruth = calloc((size_t)b->queries, sizeof *b->ntruth);
  float *chunk = malloc((size_t)CHUNK * DIM * sizeof *chunk);
  if (!b->truth || !b->ntruth || !chunk) return -1;
  if (b->reuse && read_truth(b) == 0) { /* else computed (a --no-truth run's directory) */
    free(chunk);
    return 0;
  }
  mien_hit got[TOPK];
  for (long blk = 0; blk < b->faces; blk += TRUTH_BLOCK) {
    long end = blk + TRUTH_BLOCK < b->faces ? blk + TRUTH_BLOCK : b->faces;
    mien_index *ix = mien_index_create(DIM);
    if (!ix || mien_index_reserve(ix, (size_t)(end - blk))) return -1;
    for (long c = blk; c < end; c += CHUNK) {
      long m = end - c < CHUNK ? end - c : CHUNK;
      if (read_faces(b, c, m, chunk)) return -1;
      for (long i = 0; i < m; i++) mien_index_add(ix, c + i, chunk + (size_t)i * DIM);
    }
    for (int j = 0; j < b->queries; j++) {
      int n = mien_index_search(ix, b->probes + (size_t)j * DIM, TOPK, -1, b->threads, got);
      mien_hit *t = b->truth + (size_t)j * TOPK;
      for (int i = 0; i < n; i++) { /* insert into the sorted top-10 */
        if (b->ntruth[j] == TOPK && !hit_before(got[i], t[TOPK - 1])) continue;
        int p = b->ntruth[j] < TOPK ? b->ntruth[j]++ : TOPK - 1;
        for (; p > 0 && hit_before(got[i], t[p - 1]); p--) t[p] = t[p - 1];
        t[p] = got[i];
      }
    }
    mien_index_free(ix);
  }
  free(chunk);
  b->truth_done = 1;
  int ceiling = 0; /* the probes the exact scan identifies: what recall@1 is counted on */
  for (int j = 0; j < b->queries; j++)
    ceiling += b->ntruth[j] && is_mate(b, j, b->truth[j * TOPK].id);
  fprintf(stderr, "exact top-1 is a mate for %d of %d probes\n", ceiling, b->queries);
  return write_file(b, "truth.bin", b->truth, (size_t)b->queries * TOPK * sizeof *b->truth);
}

/* --- measuring an index ----------------------------------------------------------------------- */

typedef int (*search_fn)(void *ix, const float *q, int threads, mien_hit *out);

typedef struct {
  double recall1, recall10, mate_rate, p50[2], p99[2];
} quality;

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double quantile(double *v, int n, double q) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  int i = (int)ceil(q * n) - 1;
  return v[i < 0 ? 0 : i];
}

static quality measure(const bench *b, search_fn search, void *ix) {
  quality r = {0};
  double *ms = malloc((size_t)b->queries * sizeof *ms);
  mien_hit got[TOPK];
  long mates = 0, found = 0, inter = 0;
  for (int pass = 0; pass < 2; pass++) {
    int threads = pass ? b->threads : 1;
    search(ix, b->probes, threads, got); /* warm-up */
    for (int j = 0; j < b->queries; j++) {
      double t0 = mien_now_ms();
      int n = search(ix, b->probes + (size_t)j * DIM, threads, got);
      ms[j] = mien_now_ms() - t0;
      if (pass) continue;
      const mien_hit *t = b->truth + (size_t)j * TOPK;
      for (int i = 0; i < n; i++)
        for (int w = 0; w < b->ntruth[j]; w++) inter += got[i].id == t[w].id;
      if (!b->ntruth[j]) { /* no exact truth (--no-truth): is the top-1 a mate at all */
        mates++;
        found += n > 0 && is_mate(b, j, got[0].id);
      } else if (is_mate(b, j, t[0].id)) {
        mates++;
        found += n > 0 && is_mate(b, j, got[0].id);
      }
    }
    r.p50[pass] = quantile(ms, b->queries, 0.5);
    r.p99[pass] = quantile(ms, b->queries, 0.99);
  }
  r.recall10 = b->truth_done ? (double)inter / ((double)b->queries * TOPK) : NAN;
  r.recall1 = mates ? (double)found / (double)mates : NAN;
  r.mate_rate = (double)mates / b->queries;
  free(ms);
  return r;
}

static long max_rss(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss * 1024L;
}

/* x in fmt for a JSON line, null when it was not measured (NaN: a reused index was not built). */
static const char *num(double x, const char *fmt, char buf[24]) {
  if (!isfinite(x)) return "null";
  snprintf(buf, 24, fmt, x);
  return buf;
}

static void report(const bench *b, const char *index, const char *extra, quality q, size_t bpf,
                   double build_s, double inserts_s) {
  char build[24], inserts[24];
  printf("{\"index\":\"%s\",\"faces\":%ld,\"queries\":%d,\"threads\":%d,%s"
         "\"recall1_mates\":%.4f,\"recall10_vs_exact\":%.4f,\"exact_top1_is_mate\":%.4f,"
         "\"p50_ms_1t\":%.3f,\"p99_ms_1t\":%.3f,\"p50_ms_all\":%.3f,\"p99_ms_all\":%.3f,"
         "\"ram_bytes_per_face\":%zu,\"build_s\":%s,\"inserts_per_s\":%s,"
         "\"max_rss_bytes\":%ld}\n",
         index, b->faces, b->queries, b->threads, extra, q.recall1, q.recall10, q.mate_rate,
         q.p50[0], q.p99[0], q.p50[1], q.p99[1], bpf, num(build_s, "%.2f", build),
         num(inserts_s, "%.0f", inserts), max_rss());
  fflush(stdout);
}

static int exact_search(void *ix, const float *q, int threads, mien_hit *out) {
  return mien_index_search(ix, q, TOPK, -1, threads, out);
}

static int run_exact(const bench *b) {
  mien_index *ix = mien_index_create(DIM);
  float *chunk = malloc((size_t)CHUNK * DIM * sizeof *chunk);
  if (!ix || !chunk || mien_index_reserve(ix, (size_t)b->faces)) {
    fprintf(stderr, "exact: out of memory at %ld faces\n", b->faces);
    return -1;
  }
  double add_ms = 0;
  for (long c = 0; c < b->faces; c += CHUNK) {
    long m = b->faces - c < CHUNK ? b->faces - c : CHUNK;
    if (read_faces(b, c, m, chunk)) return -1;
    double t0 = mien_now_ms();
    for (long i = 0; i < m; i++) mien_index_add(ix, c + i, chunk + (size_t)i * DIM);
    add_ms += mien_now_ms() - t0;
  }
  free(chunk);
  quality q = measure(b, exact_search, ix);
  report(b, "exact", "", q, mien_index_bytes_per_vector(ix), add_ms / 1000,
         (double)b->faces / (add_ms / 1000));
  mien_index_free(ix);
  return 0;
}

typedef struct {
  const bench *b;
  mien_ann *ann;
  mien_ann_params p;
} ann_run;

/* Rescoring reads the template from faces.f32, as the store's file would be read; a hint
 * (buf NULL) asks the kernel to start reading it. */
static const float *fetch_face(void *ctx, int64_t id, float *buf) {
  const bench *b = ctx;
  if (!buf) {
    posix_fadvise(b->fd, face_offset(id), DIM * sizeof *buf, POSIX_FADV_WILLNEED);
    return NULL;
  }
  return read_faces(b, id, 1, buf) ? NULL : buf;
}

static int ann_search(void *arg, const float *q, int threads, mien_hit *out) {
  ann_run *r = arg;
  mien_ann_params p = r->p;
  p.threads = threads;
  return mien_ann_search(r->ann, q, TOPK, -1, &p, fetch_face, (void *)r->b, out);
}

static size_t default_lists(long faces) {
  return (size_t)(4 * sqrt((double)faces));
}

typedef struct {
  double train_ms, add_ms, save_ms;
  size_t bytes_per_face;
} ann_build;

#define PACK_STEP 256 /* lists packed between trims' checks */

/* Trains and fills the ANN from faces.f32 and saves it to f; with --no-save (at 20M faces the
 * 12 GB file does not fit beside the 41 GB of templates on a small disk) hands it back in *kept
 * instead. */
static int build_ann(const bench *b, const char *f, ann_build *out, mien_ann **kept) {
  size_t nlists = default_lists(b->faces);
  long nsample = (long)nlists * 32 < b->faces ? (long)nlists * 32 : b->faces;
  float *sample = malloc((size_t)nsample * DIM * sizeof *sample);
  float *chunk = malloc((size_t)CHUNK * DIM * sizeof *chunk);
  int64_t *ids = malloc(CHUNK * sizeof *ids);
  if (!sample || !chunk || !ids) return -1;
  /* The sample: faces spread over the whole file (a store would sample its rows alike). */
  for (long i = 0; i < nsample; i++)
    if (read_faces(b, (long)((double)i * b->faces / nsample), 1, sample + (size_t)i * DIM))
      return -1;
  double t0 = mien_now_ms();
  mien_ann *ann = mien_ann_train(DIM, sample, (size_t)nsample, nlists, b->pq_m, b->threads);
  out->train_ms = mien_now_ms() - t0;
  free(sample);
  if (!ann) return -1;
  fprintf(stderr, "ann: trained %zu lists on %ld faces in %.1f s\n", mien_ann_lists(ann), nsample,
          out->train_ms / 1000); /* progress: a 10M-face build takes many minutes */
  out->add_ms = 0;
  for (long c = 0; c < b->faces; c += CHUNK) {
    long m = b->faces - c < CHUNK ? b->faces - c : CHUNK;
    if (read_faces(b, c, m, chunk)) return -1;
    for (long i = 0; i < m; i++) ids[i] = c + i;
    t0 = mien_now_ms();
    if (mien_ann_add(ann, (size_t)m, ids, chunk, b->threads)) return -1;
    out->add_ms += mien_now_ms() - t0;
    if ((c + m) % 1000000 < CHUNK && c + m < b->faces) /* progress, about every million */
      fprintf(stderr, "ann: %ld added, %.0f/s\n", c + m, (double)(c + m) / (out->add_ms / 1000));
  }
  free(chunk);
  free(ids);
  out->bytes_per_face = mien_ann_bytes_per_vector(ann);
  fprintf(stderr, "ann: added %ld faces in %.1f s, %zu bytes of RAM per face\n", b->faces,
          out->add_ms / 1000, out->bytes_per_face);
  if (b->no_save) { /* measured as built, packed as the store packs the index it builds */
    t0 = mien_now_ms();
    for (size_t l = 0; l < mien_ann_lists(ann); l += PACK_STEP) /* trimmed as the store does */
      if (mien_ann_pack(ann, l, l + PACK_STEP)) mien_ann_trim(ann);
    out->bytes_per_face = mien_ann_bytes_per_vector(ann); /* the lists' spare room is gone */
    fprintf(stderr, "ann: packed in %.1f s, %zu bytes of RAM per face\n",
            (mien_now_ms() - t0) / 1000, out->bytes_per_face);
    *kept = ann;
    return 0;
  }
  t0 = mien_now_ms();
  int rc = mien_ann_save(ann, f);
  out->save_ms = mien_now_ms() - t0;
  mien_ann_free(ann);
  return rc;
}

/* The sweep's settings: the default where a list is empty. */
typedef struct {
  int nprobe[32], nnprobe, rerank[32], nrerank, rescore[32], nrescore, first[32], nfirst;
  float stop[32], margin[32];
  int nstop, nmargin;
} ann_sweep;

/* Combination i's entry of a sweep list of n (the default, -1, when empty); i moves on. */
static int pick(int *i, int n) {
  if (!n) return -1;
  int k = *i % n;
  *i /= n;
  return k;
}

static void ann_file(const bench *b, char *f, size_t size) {
  char name[32];
  snprintf(name, sizeof name, "ann-pq%d.idx", b->pq_m);
  path(b, name, f, size);
}

static int run_ann(const bench *b, const ann_sweep *sw) {
  char f[600];
  ann_file(b, f, sizeof f);
  /* --reuse with the index an earlier --keep run saved: measure queries only. */
  ann_build built = {NAN, NAN, NAN, 0};
  double t0 = mien_now_ms();
  mien_ann *ann = b->reuse ? mien_ann_load(f, DIM) : NULL;
  if (ann) {
    built.bytes_per_face = mien_ann_bytes_per_vector(ann);
  } else {
    mien_ann *kept = NULL;
    if (build_ann(b, f, &built, &kept)) {
      fprintf(stderr, "ann: build or save failed\n");
      return -1;
    }
    /* Everything below runs on the index as a restart would load it (but with --no-save). */
    t0 = mien_now_ms();
    ann = kept ? kept : mien_ann_load(f, DIM);
  }
  double load_ms = b->no_save ? NAN : mien_now_ms() - t0;
  if (!ann) {
    fprintf(stderr, "ann: load failed\n");
    return -1;
  }
  fprintf(stderr, "ann: saved in %.1f s, loaded in %.1f s\n", built.save_ms / 1000, load_ms / 1000);
  ann_run r = {b, ann, mien_ann_default_params(ann)};
  const mien_ann_params def = r.p;
  int combos = 1;
  for (int i = 0; i < 6; i++) {
    int n = (int[]){sw->nmargin, sw->nstop, sw->nfirst, sw->nrescore, sw->nrerank, sw->nnprobe}[i];
    combos *= n ? n : 1;
  }
  for (int n = 0; n < combos; n++) { /* every combination of the lists given; else defaults */
    int i = n, k;
    r.p = def;
    if ((k = pick(&i, sw->nmargin)) >= 0) r.p.first_margin = sw->margin[k];
    if ((k = pick(&i, sw->nstop)) >= 0) r.p.stop_score = sw->stop[k];
    if ((k = pick(&i, sw->nfirst)) >= 0) r.p.nprobe_first = sw->first[k];
    if ((k = pick(&i, sw->nrescore)) >= 0) r.p.rescore = sw->rescore[k];
    if ((k = pick(&i, sw->nrerank)) >= 0) r.p.rerank = sw->rerank[k];
    if ((k = pick(&i, sw->nnprobe)) >= 0) r.p.nprobe = sw->nprobe[k];
    quality q = measure(b, ann_search, &r);
    char extra[320], train[24], save[24], load[24];
    snprintf(extra, sizeof extra,
             "\"lists\":%zu,\"pq_m\":%d,\"nprobe\":%d,\"rerank\":%d,\"rescore\":%d,"
             "\"nprobe_first\":%d,\"stop_score\":%.3f,\"first_margin\":%.3f,"
             "\"train_s\":%s,\"save_s\":%s,\"cold_load_s\":%s,",
             mien_ann_lists(ann), mien_ann_pq_m(ann), r.p.nprobe, r.p.rerank, r.p.rescore,
             r.p.nprobe_first, r.p.stop_score, r.p.first_margin,
             num(built.train_ms / 1000, "%.2f", train), num(built.save_ms / 1000, "%.2f", save),
             num(load_ms / 1000, "%.2f", load));
    report(b, "ann", extra, q, built.bytes_per_face, (built.train_ms + built.add_ms) / 1000,
           (double)b->faces / (built.add_ms / 1000));
  }
  mien_ann_free(ann);
  return 0;
}

static int rm_dir(const bench *b) {
  static const char *const files[] = {"faces.f32", "probes.f32", "truth.bin"};
  char f[600];
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    path(b, files[i], f, sizeof f);
    unlink(f);
  }
  ann_file(b, f, sizeof f);
  unlink(f);
  return rmdir(b->dir);
}

/* "A,B,..." into out[32]; returns how many. */
static int float_list(char *s, float *out) {
  int n = 0;
  while (*s && n < 32) {
    out[n++] = strtof(s, &s);
    s += *s == ',';
  }
  return n;
}

static int int_list(char *s, int *out) {
  float v[32];
  int n = float_list(s, v);
  for (int i = 0; i < n; i++) out[i] = (int)v[i];
  return n;
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: mien-bench-search calibrate [--identities N] [--alpha A] [--qmax Q] "
          "[--spread S]\n"
          "       mien-bench-search run [--faces N] [--index exact,ann] [--queries Q]\n"
          "                             [--nprobe A,..] [--rerank A,..] [--rescore A,..]\n"
          "                             [--first A,..] [--stop S,..] [--margin C,..]\n"
          "                             [--pq M] [--per P] [--threads T]\n"
          "                             [--dir DIR] [--keep] [--no-truth] [--reuse] [--no-save]\n");
}

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"faces", required_argument, 0, 'n'},   {"index", required_argument, 0, 'i'},
      {"queries", required_argument, 0, 'q'}, {"nprobe", required_argument, 0, 'p'},
      {"rerank", required_argument, 0, 'r'},  {"rescore", required_argument, 0, 'S'},
      {"first", required_argument, 0, 'F'},   {"stop", required_argument, 0, 'X'},
      {"margin", required_argument, 0, 'G'},  {"pq", required_argument, 0, 'M'},
      {"per", required_argument, 0, 'P'},     {"threads", required_argument, 0, 't'},
      {"dir", required_argument, 0, 'd'},     {"keep", no_argument, 0, 'k'},
      {"no-truth", no_argument, 0, 'T'},      {"identities", required_argument, 0, 'I'},
      {"reuse", no_argument, 0, 'R'},         {"no-save", no_argument, 0, 'N'},
      {"alpha", required_argument, 0, 'a'},   {"qmax", required_argument, 0, 'Q'},
      {"spread", required_argument, 0, 's'},  {"beta", required_argument, 0, 'b'},
      {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  bench b = {.p = SYNTH_DEFAULT, .faces = 100000, .queries = 500, .fd = -1, .pq_m = 128};
  const char *indexes = "exact,ann", *dir = NULL;
  int keep = 0, no_truth = 0, c;
  ann_sweep sw = {.nnprobe = 0};
  long identities = 20000;
  optind = 2;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'n':
      b.faces = atol(optarg);
      break;
    case 'i':
      indexes = optarg;
      break;
    case 'q':
      b.queries = atoi(optarg);
      break;
    case 'p':
      sw.nnprobe = int_list(optarg, sw.nprobe);
      break;
    case 'r':
      sw.nrerank = int_list(optarg, sw.rerank);
      break;
    case 'S':
      sw.nrescore = int_list(optarg, sw.rescore);
      break;
    case 'F':
      sw.nfirst = int_list(optarg, sw.first);
      break;
    case 'X':
      sw.nstop = float_list(optarg, sw.stop);
      break;
    case 'G':
      sw.nmargin = float_list(optarg, sw.margin);
      break;
    case 'M':
      b.pq_m = atoi(optarg);
      break;
    case 'P':
      b.p.per = atoi(optarg);
      break;
    case 't':
      b.threads = atoi(optarg);
      break;
    case 'd':
      dir = optarg;
      break;
    case 'k':
      keep = 1;
      break;
    case 'T':
      no_truth = 1;
      break;
    case 'N':
      b.no_save = 1;
      break;
    case 'R':
      b.reuse = keep = 1;
      break;
    case 'I':
      identities = atol(optarg);
      break;
    case 'a':
      b.p.alpha = atof(optarg);
      break;
    case 'Q':
      b.p.qmax = atof(optarg);
      break;
    case 's':
      b.p.spread = atof(optarg);
      break;
    case 'b':
      b.p.beta = atof(optarg);
      break;
    default:
      usage(c == 'h' ? stdout : stderr);
      return c == 'h' ? 0 : 2;
    }
  }
  if (!strcmp(cmd, "calibrate")) return cmd_calibrate(&b.p, identities < 2 ? 2 : identities);
  if (strcmp(cmd, "run") || b.faces < TOPK || b.queries < 1 || b.p.per < 1) {
    usage(stderr);
    return 2;
  }
  if (b.threads <= 0) b.threads = mien_cpu_count();
  b.identities = (b.faces + b.p.per - 1) / b.p.per;
  if (dir)
    snprintf(b.dir, sizeof b.dir, "%s", dir);
  else
    snprintf(b.dir, sizeof b.dir, "/tmp/mien-bench-search-%ld", (long)getpid());
  if (mkdir(b.dir, 0700) && errno != EEXIST) {
    perror(b.dir);
    return 1;
  }
  synth_init(&b.p);
  double t0 = mien_now_ms();
  int rc = generate(&b);
  fprintf(stderr, "generated %ld faces in %.1f s\n", b.faces, (mien_now_ms() - t0) / 1000);
  t0 = mien_now_ms();
  if (!rc && no_truth) { /* sizes where exact blocks take too long: mates only */
    b.ntruth = calloc((size_t)b.queries, sizeof *b.ntruth);
    b.truth = calloc((size_t)b.queries * TOPK, sizeof *b.truth);
    rc = b.ntruth && b.truth ? 0 : -1;
  } else if (!rc) {
    rc = ground_truth(&b);
  }
  fprintf(stderr, "ground truth in %.1f s\n", (mien_now_ms() - t0) / 1000);
  if (!rc && strstr(indexes, "exact")) rc = run_exact(&b);
  if (!rc && strstr(indexes, "ann")) rc = run_ann(&b, &sw);
  if (rc) fprintf(stderr, "mien-bench-search: failed\n");
  if (b.fd >= 0) close(b.fd);
  if (!keep) rm_dir(&b);
  free(b.probes);
  free(b.probe_id);
  free(b.truth);
  free(b.ntruth);
  return rc ? 1 : 0;
}
