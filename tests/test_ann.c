/* test_ann.c - the approximate index (src/store/ann.c) and the automatic switch to it in the
 * collection index (index.c), at small sizes so the whole case runs in seconds:
 *   - every fast-scan kernel (ann_scan.h) this CPU runs gives a plain reference's sums and masks;
 *   - an ANN probing every list and rescoring every candidate returns exactly the brute-force
 *     top-k, by the int8 scan and through the PQ tier: so it holds every vector once (no loss,
 *     no duplicate), and removes and re-adds take effect; each face's PQ code stays its own
 *     (every face is its own top-1 through a 20-candidate PQ cut);
 *   - save and load round-trip (the loaded index takes writes); damaged files and files of the
 *     version before the PQ tier are refused;
 *   - a restart: a collection index given the same vectors adopts the saved ANN (ANN at once,
 *     no build) and answers like the one saved; one whose vectors differ refuses it;
 *   - below the threshold the collection index answers bit for bit like the exact scan, and
 *     says EXACT, with its fp32 vectors in memory or off-heap in a file;
 *   - property: random adds, replaces and removes from a writer while the background build
 *     runs and reader threads search (a rwlock standing in for the store's), crossing the
 *     threshold up, down (back to EXACT) and up again; after each build the index says ANN and,
 *     probing everything, equals a brute-force model of what was written; after each fall,
 *     the exact scan (its codes, dropped while the ANN served, recomputed) equals it too.
 * Faces come from tests/people_synth.h (identities x images, LFW-like cosines).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

#include "check.h"
#include "people_synth.h"
#include "store/ann.h"
#include "store/ann_scan.h"
#include "store/index.h"

#define DIM MIEN_EMBED_DIM
#define K 10

static float *faces(int n, unsigned short seed[3]) {
  float *v = malloc((size_t)n * DIM * sizeof *v), c[DIM];
  for (int i = 0; v && i < n; i++) {
    if (i % 4 == 0) synth_centre(seed, c); /* four images per identity */
    synth_face(seed, c, synth_noise_for(0.6), v + (size_t)i * DIM);
  }
  return v;
}

static int before(mien_hit a, mien_hit b) {
  return a.score > b.score || (a.score == b.score && a.id < b.id);
}

/* Brute-force top-k over the live vectors of a model (live[i]: vector i is in). */
static int brute(const float *v, const int *live, int n, const float *q, int k, mien_hit *out) {
  int m = 0;
  for (int i = 0; i < n; i++) {
    if (!live[i]) continue;
    mien_hit h = {i, mien_index_score(v + (size_t)i * DIM, q, DIM)};
    int p;
    if (m < k)
      p = m++;
    else if (before(h, out[k - 1]))
      p = k - 1;
    else
      continue;
    for (; p > 0 && before(h, out[p - 1]); p--) out[p] = out[p - 1];
    out[p] = h;
  }
  return m;
}

static int same(const mien_hit *a, int na, const mien_hit *b, int nb) {
  if (na != nb) return 0;
  for (int i = 0; i < na; i++)
    if (a[i].id != b[i].id || a[i].score != b[i].score) return 0;
  return 1;
}

typedef struct {
  const float *v;
} model_fetch;

static const float *fetch(void *ctx, int64_t id, float *buf) {
  return buf ? ((model_fetch *)ctx)->v + (size_t)id * DIM : NULL; /* buf NULL: a hint */
}

/* Every search setting that must be exact: probing every list and rescoring every candidate,
 * by the int8 scan (rerank 0) and through the PQ tier (rerank >= count). */
static void check_exact(const mien_ann *a, const float *v, const int *live, int n,
                        const char *what) {
  mien_ann_params int8 = {.nprobe = 1 << 20, .rescore = n, .threads = 1},
                  pq = {.nprobe = 1 << 20, .rescore = n, .threads = 1, .rerank = n};
  model_fetch mf = {v};
  mien_hit want[K], got[K];
  for (int j = 0; j < 40; j++) {
    const float *q = v + (size_t)(j * 73 % n) * DIM;
    int nw = brute(v, live, n, q, K, want);
    int ng = mien_ann_search(a, q, K, -1, &int8, fetch, &mf, got);
    CHECK_MSG(same(want, nw, got, ng), "%s: int8 scan, query %d", what, j);
    ng = mien_ann_search(a, q, K, -1, &pq, fetch, &mf, got);
    CHECK_MSG(same(want, nw, got, ng), "%s: PQ tier, query %d", what, j);
  }
}

/* The PQ codes belong to their faces: a stored face, as the query, is its own top-1 when only
 * the best 20 PQ estimates go on (its cosine 1 is far above any other's). A face whose codes
 * were lost or swapped (a remove moving the wrong nibbles, a load misplacing blocks) is not. */
static void check_pq_codes(const mien_ann *a, const float *v, const int *live, int n,
                           const char *what) {
  mien_ann_params p = {.nprobe = 1 << 20, .rescore = K, .threads = 1, .rerank = 2 * K};
  model_fetch mf = {v};
  mien_hit got[1];
  int wrong = 0;
  for (int i = 0; i < n; i++)
    if (live[i])
      wrong += mien_ann_search(a, v + (size_t)i * DIM, 1, -1, &p, fetch, &mf, got) != 1 ||
               got[0].id != i;
  CHECK_MSG(wrong == 0, "%s: %d faces not their own top-1 through the PQ tier", what, wrong);
}

static void test_ann_complete(void) {
  enum { N = 3000 };
  unsigned short seed[3] = {1, 2, 3};
  float *v = faces(N, seed);
  int *live = malloc(N * sizeof *live);
  int64_t *ids = malloc(N * sizeof *ids);
  CHECK(v && live && ids);
  for (int i = 0; i < N; i++) ids[i] = i, live[i] = 1;
  mien_ann *a = mien_ann_train(DIM, v, N, 60, 0, 2);
  CHECK(a != NULL);
  CHECK(mien_ann_add(a, N, ids, v, 2) == 0);
  check_pq_codes(a, v, live, N, "added");
  /* The lists are ranked before a quarter of them is taken: a stored face as the query scores
   * its own list's centroid near the top, so it finds itself (lists taken in another order,
   * three quarters of these searches would not). */
  mien_ann_params quarter = {.nprobe = 15, .rescore = K, .threads = 1};
  model_fetch mf = {v};
  int lost = 0;
  for (int i = 0; i < N; i += 37) {
    mien_hit top[1];
    lost += mien_ann_search(a, v + (size_t)i * DIM, 1, -1, &quarter, fetch, &mf, top) != 1 ||
            top[0].id != i;
  }
  CHECK_MSG(lost == 0, "%d faces not found probing the best quarter of the lists", lost);
  for (int i = 0; i < N; i += 7) { /* remove some: list ends move into the holes */
    CHECK(mien_ann_remove(a, i, v + (size_t)i * DIM) == 0);
    live[i] = 0;
  }
  CHECK(mien_ann_remove(a, 0, v) == -1); /* already gone */
  CHECK(mien_ann_count(a) == N - (N + 6) / 7);
  check_exact(a, v, live, N, "after removes");
  check_pq_codes(a, v, live, N, "after removes");
  for (int i = 0; i < N; i += 14) { /* and add half of them back, into partial blocks */
    CHECK(mien_ann_add(a, 1, &ids[i], v + (size_t)i * DIM, 1) == 0);
    live[i] = 1;
  }
  check_exact(a, v, live, N, "after re-adds");
  check_pq_codes(a, v, live, N, "after re-adds");
  /* A realistic probe finds a face's own identity: the default parameters work at all. */
  mien_ann_params def = mien_ann_default_params(a);
  mien_hit want[K], got[K];
  CHECK(def.rerank > 0); /* the PQ tier is what searches use */
  CHECK(mien_ann_search(a, v + 1 * DIM, 1, -1, &def, fetch, &mf, got) == 1 && got[0].id / 4 == 0);

  /* A built index packed into its arena in two steps, with writes between (a packed list that
   * grows moves back to the heap): the same answers as on the heap, and every face in place. */
  mien_ann_params p8 = {.nprobe = 8, .rescore = 20, .threads = 1, .rerank = 200};
  enum { Q = 10 };
  mien_hit heap[Q][K];
  int nheap[Q];
  for (int j = 0; j < Q; j++)
    nheap[j] = mien_ann_search(a, v + (size_t)(j * 131 % N) * DIM, K, -1, &p8, fetch, &mf, heap[j]);
  CHECK(mien_ann_pack(a, 0, 30) == 0); /* no trim due: a few KB freed, lists left */
  for (int j = 0; j < Q; j++) {
    int n = mien_ann_search(a, v + (size_t)(j * 131 % N) * DIM, K, -1, &p8, fetch, &mf, got);
    CHECK(same(heap[j], nheap[j], got, n));
  }
  for (int i = 2; i < N; i += 5) /* out and back in: lists shrink, then grow past their cap */
    if (live[i])
      CHECK(mien_ann_remove(a, i, v + (size_t)i * DIM) == 0 &&
            mien_ann_add(a, 1, &ids[i], v + (size_t)i * DIM, 1) == 0);
  for (int i = 3; i < N; i += 11)
    if (!live[i]) {
      CHECK(mien_ann_add(a, 1, &ids[i], v + (size_t)i * DIM, 1) == 0);
      live[i] = 1;
    }
  CHECK(mien_ann_pack(a, 30, mien_ann_lists(a)) == 1); /* the last list: trim now */
  mien_ann_trim(a);
  if (mien_ann_pack(a, 0, mien_ann_lists(a))) /* the lists that grew out, back where room is left */
    mien_ann_trim(a);
  CHECK(mien_ann_pack(a, 0, mien_ann_lists(a)) == 0); /* nothing left to move */
  check_exact(a, v, live, N, "packed");
  check_pq_codes(a, v, live, N, "packed");

  char path[] = "/tmp/mien-test-ann-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  CHECK(mien_ann_save(a, path) == 0);
  mien_ann *b = mien_ann_load(path, DIM);
  CHECK(b != NULL && mien_ann_count(b) == mien_ann_count(a));
  CHECK(mien_ann_load(path, DIM + 1) == NULL); /* another dimension */
  if (b) {
    check_exact(b, v, live, N, "loaded");
    check_pq_codes(b, v, live, N, "loaded");
    mien_ann_params p = {.nprobe = 8,
                         .rescore = 20,
                         .threads = 1,
                         .rerank = 200}; /* approximate: the same answers as before saving */
    for (int j = 0; j < 10; j++) {
      const float *q = v + (size_t)(j * 131 % N) * DIM;
      int na = mien_ann_search(a, q, K, -1, &p, fetch, &mf, want);
      int nb = mien_ann_search(b, q, K, -1, &p, fetch, &mf, got);
      CHECK(same(want, na, got, nb));
    }
    for (int i = 1; i < N; i += 14) { /* the loaded lists take removes and adds */
      CHECK(mien_ann_remove(b, i, v + (size_t)i * DIM) == 0);
      live[i] = 0;
    }
    CHECK(mien_ann_add(b, 1, &ids[7], v + 7 * DIM, 1) == 0);
    live[7] = 1;
    check_exact(b, v, live, N, "loaded, then written");
    check_pq_codes(b, v, live, N, "loaded, then written");
  }
  FILE *f = fopen(path, "r+b"); /* a version-1 file (before the PQ tier) is refused */
  CHECK(f && fwrite("MIENANN1", 1, 8, f) == 8);
  if (f) fclose(f);
  CHECK(mien_ann_load(path, DIM) == NULL);
  CHECK(mien_ann_save(a, path) == 0);
  CHECK(truncate(path, 5000) == 0); /* short file */
  CHECK(mien_ann_load(path, DIM) == NULL);
  unlink(path);
  mien_ann_free(a);
  mien_ann_free(b);
  free(v);
  free(live);
  free(ids);
}

/* Every fast-scan kernel this CPU runs gives the sums and masks of a plain reference, on random
 * blocks and tables (entries up to 255: the largest sums), full blocks and partial tails. */
/* The early stop: never reached (stop_score above any estimate) a search is the full one,
 * always reached (below any) it is a search of the first lists alone, or of all of them where
 * the first stage's margin takes every list in; on 2 threads too, where the two stages split
 * the lists differently from one pass. 16 lists: 4 groups, all of which every search here
 * ranks, so the first 3 of 12 lists are the 3 best, as a search of 3 has. And where it is
 * decided: a stored face as the query scores 1, a stop at 0.95 is taken. */
static void test_early_stop(void) {
  enum { N = 2000 };
  unsigned short seed[3] = {4, 5, 6};
  float *v = faces(N, seed);
  int64_t *ids = malloc(N * sizeof *ids);
  CHECK(v && ids);
  for (int i = 0; i < N; i++) ids[i] = i;
  mien_ann *a = mien_ann_train(DIM, v, N, 16, 0, 2);
  CHECK(a != NULL && mien_ann_add(a, N, ids, v, 2) == 0);
  model_fetch mf = {v};
  mien_hit want[K], got[K];
  for (int threads = 1; threads <= 2; threads++) {
    for (int pq = 0; pq <= 1; pq++) { /* the int8 scan, the PQ tier */
      mien_ann_params full = mien_ann_default_params(a);
      full.threads = threads, full.nprobe = 12, full.nprobe_first = 0, full.first_margin = 0;
      full.rerank = pq ? full.rerank : 0;
      mien_ann_params first = full, never = full, always = full, sure = full;
      first.nprobe = 3;
      never.nprobe_first = always.nprobe_first = sure.nprobe_first = 3;
      never.stop_score = 2, always.stop_score = -2, sure.stop_score = 0.95f;
      mien_ann_params wide = always; /* every list within the margin: all 12 before the stop */
      wide.first_margin = 2;
      int differ = 0;
      for (int j = 0; j < 40; j++) {
        const float *q = v + (size_t)(j * 71 % N) * DIM;
        int nw = mien_ann_search(a, q, K, -1, &full, fetch, &mf, want);
        int ng = mien_ann_search(a, q, K, -1, &never, fetch, &mf, got);
        CHECK_MSG(nw > 0 && same(want, nw, got, ng), "never reached, query %d, pq %d", j, pq);
        ng = mien_ann_search(a, q, K, -1, &wide, fetch, &mf, got);
        CHECK_MSG(same(want, nw, got, ng), "a margin over every list, query %d, pq %d", j, pq);
        int nf = mien_ann_search(a, q, K, -1, &first, fetch, &mf, got);
        ng = mien_ann_search(a, q, K, -1, &always, fetch, &mf, want);
        CHECK_MSG(ng > 0 && same(want, ng, got, nf), "always reached, query %d, pq %d", j, pq);
        nf = mien_ann_search(a, q, K, -1, &sure, fetch, &mf, got);
        CHECK_MSG(same(want, ng, got, nf), "a stored face stops at 0.95, query %d, pq %d", j, pq);
        differ += !same(want, ng, got, mien_ann_search(a, q, K, -1, &full, fetch, &mf, got));
      }
      CHECK(differ > 0); /* 3 lists of 16 miss some of the 12 lists' answers */
    }
  }
  mien_ann_free(a);
  free(ids);
  free(v);
}

static void test_scan_kernels(void) {
  static const int ms[] = {4, 32, 64, ANN_SCAN_MAX_M}, ns[] = {32, 31, 17, 1};
  unsigned short seed[3] = {9, 8, 7};
  uint8_t block[ANN_SCAN_BLOCK_BYTES(ANN_SCAN_MAX_M)], lut[ANN_SCAN_MAX_M * 16];
  int tested = 0;
  for (int ki = 0; ann_scan_kernels[ki]; ki++) {
    const ann_scan_kernel *k = ann_scan_kernels[ki];
    if (!ann_scan_supported(k)) {
      printf("  (%s: not on this CPU)\n", k->isa);
      continue;
    }
    tested++;
    for (int t = 0; t < 64; t++) {
      int m = ms[t % 4], n = ns[t / 4 % 4];
      for (size_t i = 0; i < sizeof block; i++) block[i] = (uint8_t)nrand48(seed);
      for (size_t i = 0; i < sizeof lut; i++) lut[i] = t % 8 == 0 ? 255 : (uint8_t)nrand48(seed);
      uint16_t want[ANN_SCAN_BLOCK], got[ANN_SCAN_BLOCK];
      uint32_t want_mask = 0;
      for (int j = 0; j < ANN_SCAN_BLOCK; j++) {
        want[j] = 0;
        for (int s = 0; s < m; s++) want[j] += lut[s * 16 + ann_scan_code(block, s, j)];
      }
      int thr = t % 3 == 0 ? -1 : want[nrand48(seed) % ANN_SCAN_BLOCK];
      for (int j = 0; j < n; j++) want_mask |= (uint32_t)(want[j] > thr) << j;
      uint32_t mask = k->scan(block, m, lut, n, thr, got);
      CHECK_MSG(!memcmp(want, got, sizeof want), "%s: sums, m %d", k->isa, m);
      CHECK_MSG(mask == want_mask, "%s: mask %08x, want %08x (m %d, n %d, thr %d)", k->isa, mask,
                want_mask, m, n, thr);
    }
  }
  CHECK(tested >= 1);
}

/* Whether this process maps an unnamed file of /tmp (O_TMPFILE: "/tmp/#INODE (deleted)"). */
static int maps_tmpfile(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[512];
  int found = 0;
  while (f && fgets(line, sizeof line, f)) found |= strstr(line, " /tmp/#") != NULL;
  if (f) fclose(f);
  return found;
}

static void test_below_threshold_is_exact(void) {
  enum { N = 2500 };
  unsigned short seed[3] = {4, 5, 6};
  float *v = faces(N, seed);
  int *live = malloc(N * sizeof *live);
  mien_index *ix = mien_index_create(DIM);
  CHECK(v && live && ix);
  mien_index_set_ann(ix, N + 1, 0, 0, 0);
  for (int i = 0; i < N; i++) {
    live[i] = 1;
    CHECK(mien_index_add(ix, i, v + (size_t)i * DIM) == 0);
  }
  mien_index_wait(ix);
  float recall;
  CHECK(!strcmp(mien_index_kind(ix, &recall), "EXACT") && recall == 1.0f);
  /* The same with the fp32 vectors off-heap in a file, and after removes (the moved ones). */
  mien_index *off = mien_index_create(DIM);
  CHECK(off && mien_index_vectors_in(off, "/tmp", N / 2) == 0);
  CHECK(mien_index_vectors_in(off, "/tmp", 0) == -1); /* once */
  for (int i = 0; i < N; i++) {
    CHECK(mien_index_add(off, i, v + (size_t)i * DIM) == 0);
    if (i == 100) CHECK(!maps_tmpfile()); /* a small index keeps them in memory */
  }
  CHECK(maps_tmpfile()); /* moved into the file on the way */
  CHECK(mien_index_bytes_per_vector(off) + DIM * sizeof(float) ==
        mien_index_bytes_per_vector(ix)); /* not RAM */
  for (int i = 0; i < N; i += 9) {
    CHECK(mien_index_remove(ix, i) == 0 && mien_index_remove(off, i) == 0);
    live[i] = 0;
  }
  mien_hit want[K], got[K];
  for (int j = 0; j < 30; j++) {
    const float *q = v + (size_t)(j * 37 % N) * DIM;
    int nw = brute(v, live, N, q, K, want);
    CHECK(same(want, nw, got, mien_index_search(ix, q, K, -1, 1, got)));
    CHECK(same(want, nw, got, mien_index_search(off, q, K, -1, 1, got)));
  }
  mien_index_free(off);
  mien_index_free(ix);
  free(v);
  free(live);
}

/* A restart: vectors 0..n-1 (vector `changed` replaced by the next one) added to a new index
 * with the build held, then offered the ANN saved at path. */
static mien_index *reopen(const float *v, int n, int changed, const char *path, int *adopted) {
  mien_index *ix = mien_index_create(DIM);
  CHECK(ix != NULL);
  mien_index_set_ann(ix, SIZE_MAX, 0, 0, 0);
  for (int i = 0; i < n; i++) /* changed: that one's vector is another's */
    CHECK(mien_index_add(ix, i, v + (size_t)(i == changed ? i + 1 : i) * DIM) == 0);
  *adopted = mien_index_load_ann(ix, path) == 0;
  return ix;
}

static void test_restart_adopts_saved_ann(void) {
  enum { N = 3000, THRESHOLD = 2500 };
  unsigned short seed[3] = {10, 11, 12};
  float *v = faces(N + 1, seed);
  mien_index *ix = mien_index_create(DIM);
  CHECK(v && ix);
  char path[] = "/tmp/mien-test-ann-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  CHECK(mien_index_save_ann(ix, path) == 1); /* no ANN yet: nothing saved */
  mien_index_set_ann(ix, THRESHOLD, 0, 0, 0);
  for (int i = 0; i < N; i++) CHECK(mien_index_add(ix, i, v + (size_t)i * DIM) == 0);
  mien_index_wait(ix);
  float recall;
  CHECK(!strcmp(mien_index_kind(ix, &recall), "ANN"));
  CHECK(mien_index_save_ann(ix, path) == 0);

  int adopted;
  mien_index *again = reopen(v, N, -1, path, &adopted);
  CHECK(adopted);
  /* ANN before any build could have run (the threshold is still held), with its recall. */
  CHECK(!strcmp(mien_index_kind(again, &recall), "ANN") && recall > 0.5f);
  mien_index_set_ann(again, THRESHOLD, 0, 0, 0); /* as the store does after the load */
  mien_hit want[K], got[K];
  for (int j = 0; j < 30; j++) { /* default parameters: the same lists, the same answers */
    const float *q = v + (size_t)(j * 89 % N) * DIM;
    int nw = mien_index_search(ix, q, K, -1, 1, want);
    CHECK_MSG(same(want, nw, got, mien_index_search(again, q, K, -1, 1, got)), "query %d", j);
  }
  mien_index_free(again);

  mien_index *changed = reopen(v, N, 17, path, &adopted); /* a write after the save */
  CHECK(!adopted && !strcmp(mien_index_kind(changed, &recall), "EXACT"));
  mien_index_set_ann(changed, THRESHOLD, 0, 0, 0); /* refused: built as before */
  mien_index_wait(changed);
  CHECK(!strcmp(mien_index_kind(changed, &recall), "ANN"));
  mien_index_free(changed);
  mien_index *fewer = reopen(v, N - 1, -1, path, &adopted);
  CHECK(!adopted);
  mien_index_free(fewer);

  unlink(path);
  mien_index_free(ix);
  free(v);
}

/* --- property: writes during builds ------------------------------------------------------- */

typedef struct {
  mien_index *ix;
  pthread_rwlock_t *lock;
  const float *q;
  atomic_int stop;
  long searches;
} reader;

static void *read_loop(void *arg) {
  reader *r = arg;
  mien_hit hits[K];
  while (!r->stop) {
    pthread_rwlock_rdlock(r->lock);
    mien_index_search(r->ix, r->q + (size_t)(r->searches % 50) * DIM, K, 0.3f, 1, hits);
    pthread_rwlock_unlock(r->lock);
    r->searches++;
    usleep(100); /* glibc's rwlock prefers readers: leave the writer gaps, as clients do */
  }
  return NULL;
}

static unsigned short rng[3] = {7, 8, 9};

/* One random write under the lock: add a missing vector (when growing), replace one (a new
 * version of it, in slot id + N: replace_pct % of the time) or remove one. The model tracks
 * which of the 2N vectors are in. */
static void random_write(mien_index *ix, pthread_rwlock_t *lock, const float *v, int *live, int n,
                         int growing, int replace_pct) {
  int i = (int)(erand48(rng) * n);
  int in = live[i] || live[i + n];
  if (!in && !growing) return;
  pthread_rwlock_wrlock(lock);
  if (!in || erand48(rng) * 100 < replace_pct) { /* add, or replace with the other version */
    int version = live[i] ? i + n : i;
    CHECK(mien_index_add(ix, i, v + (size_t)version * DIM) == 0);
    live[i] = version == i, live[i + n] = version != i;
  } else {
    CHECK(mien_index_remove(ix, i) == 0);
    live[i] = live[i + n] = 0;
  }
  pthread_rwlock_unlock(lock);
}

/* After a build (want "ANN": probing everything it equals the model, ids mod n: versions) or a
 * fall (want "EXACT": the exact scan, on the codes recomputed after the ANN's lean spell). */
static void check_against_model(mien_index *ix, const float *v, const int *live, int n,
                                const char *when, const char *want_kind) {
  mien_index_wait(ix);
  float recall;
  const char *kind = mien_index_kind(ix, &recall);
  CHECK_MSG(!strcmp(kind, want_kind), "%s: %s", when, kind);
  CHECK_MSG(recall > 0.5f && recall <= 1.0f, "%s: recall %g", when, recall);
  mien_hit want[K], got[K];
  for (int j = 0; j < 25; j++) {
    const float *q = v + (size_t)(j * 97 % (2 * n)) * DIM;
    int nw = brute(v, live, 2 * n, q, K, want);
    for (int i = 0; i < nw; i++) want[i].id %= n;
    int ng = mien_index_search(ix, q, K, -1, 1, got);
    CHECK_MSG(same(want, nw, got, ng), "%s: query %d", when, j);
  }
  /* Every vector once: each finds itself first, and no stale copy of a replaced one second. */
  int bad = 0;
  for (int i = 0; i < 2 * n; i++) {
    if (!live[i]) continue;
    int ng = mien_index_search(ix, v + (size_t)i * DIM, 2, -1, 1, got);
    bad += ng < 1 || got[0].id != i % n || (ng == 2 && got[1].id == got[0].id);
  }
  CHECK_MSG(bad == 0, "%s: %d vectors missing or doubled", when, bad);
}

static void test_writes_during_builds(void) {
  enum { N = 5000, THRESHOLD = 2500 };
  float *v = faces(2 * N, rng);
  int *live = calloc(2 * N, sizeof *live);
  mien_index *ix = mien_index_create(DIM);
  pthread_rwlock_t lock;
  pthread_rwlock_init(&lock, NULL);
  CHECK(v && live && ix);
  /* Probe every list, re-rank every PQ candidate, rescore the best 200 int8 estimates: a top-10
   * a vector is missing from (int8 estimates are within 0.01) shows. */
  mien_index_set_ann(ix, THRESHOLD, 1 << 20, 200, 1 << 20);
  reader r[2] = {{ix, &lock, v, 0, 0}, {ix, &lock, v + 50 * DIM, 0, 0}};
  pthread_t t[2];
  for (int i = 0; i < 2; i++) CHECK(pthread_create(&t[i], NULL, read_loop, &r[i]) == 0);

  float recall;
  for (int round = 0; round < 2; round++) {
    /* Up to the threshold; then churn (adds, replaces, removes) all through the build, until
     * it is published, and for a while after. */
    while ((int)mien_index_count(ix) < THRESHOLD) random_write(ix, &lock, v, live, N, 1, 0);
    for (int after = 0; after < 400; after += !strcmp(mien_index_kind(ix, &recall), "ANN")) {
      random_write(ix, &lock, v, live, N, 1, 50);
      usleep(20);
    }
    check_against_model(ix, v, live, N, round ? "second rise" : "first rise", "ANN");
    /* Down below half the threshold: exact again. */
    while ((int)mien_index_count(ix) >= THRESHOLD / 2 - 10)
      random_write(ix, &lock, v, live, N, 0, 30);
    check_against_model(ix, v, live, N, round ? "second fall" : "first fall", "EXACT");
  }
  for (int i = 0; i < 2; i++) {
    r[i].stop = 1;
    pthread_join(t[i], NULL);
    CHECK(r[i].searches > 0);
  }
  mien_index_free(ix);
  pthread_rwlock_destroy(&lock);
  free(v);
  free(live);
}

int main(void) {
  RUN(test_scan_kernels);
  RUN(test_ann_complete);
  RUN(test_early_stop);
  RUN(test_below_threshold_is_exact);
  RUN(test_restart_adopts_saved_ann);
  RUN(test_writes_during_builds);
  return check_summary();
}
