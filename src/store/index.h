/* index.h - the in-memory search index of one collection: exact top-k by cosine over
 * L2-normalised embeddings, kept in sync with the store on every write.
 *
 * Internally a compact copy (int8) is scanned first and the best candidates are rescored with
 * the exact fp32 vectors, so results equal an exact fp32 search (tests check this). Past
 * MIEN_ANN_THRESHOLD vectors a background thread builds an approximate index (ann.h) that
 * searches then use instead; callers see no difference in the API (docs/search.md).
 * The exact index is rebuilt from the store when a collection opens; the ANN can be saved and
 * adopted again (mien_index_save_ann / mien_index_load_ann), which the store does.
 * Not thread-safe for writers: callers serialise add/remove against searches (a rwlock in the
 * store layer); searches may run concurrently with each other. The background build takes its
 * own locks.
 */
#ifndef MIEN_STORE_INDEX_H
#define MIEN_STORE_INDEX_H

#include <stddef.h>
#include <stdint.h>

typedef struct mien_index mien_index;

typedef struct {
  int64_t id;  /* the caller's id for the vector (the store's face row id) */
  float score; /* cosine similarity, -1..1 */
} mien_hit;

mien_index *mien_index_create(int dim);
void mien_index_free(mien_index *ix);
int mien_index_dim(const mien_index *ix);
size_t mien_index_count(const mien_index *ix);
/* Bytes of memory per stored vector (all copies), for `mien bench search`. */
size_t mien_index_bytes_per_vector(const mien_index *ix);

/* Adds (or replaces) the vector for id; 0, or -1 when out of memory (or when v is not finite
 * or its norm exceeds 1e15). */
int mien_index_add(mien_index *ix, int64_t id, const float *v);
/* Removes id; 0, or -1 when absent. */
int mien_index_remove(mien_index *ix, int64_t id);
/* The fp32 vector stored for id (dim floats, valid until the next add or remove), or NULL. */
const float *mien_index_vector(const mien_index *ix, int64_t id);

/* The k best vectors with score >= min_score, best first, into out[k]; returns how many.
 * threads <= 0: one per core. Exact: equal to a brute-force fp32 scan (ties by id).
 * Returns -1 when out of memory (0 for a query that add would refuse). */
int mien_index_search(const mien_index *ix, const float *q, int k, float min_score, int threads,
                      mien_hit *out);

/* Keeps the fp32 vectors off-heap once the index has room for `from` of them: in an unnamed
 * file in dir (O_TMPFILE, mode 0600, gone with the index), mapped, instead of anonymous memory.
 * Searches touch only the few they rescore, so the page cache holds those and the kernel may
 * evict the rest: a large collection's templates do not pin 2 KB of RAM per face beside its
 * codes (small ones keep no file, nor a descriptor). Once per index; 0, or -1 (out of memory,
 * or called before). Where dir cannot hold such a file they stay in memory. */
int mien_index_vectors_in(mien_index *ix, const char *dir, size_t from);
/* Makes room for n vectors (e.g. the count of a collection being loaded), so that adding up to
 * n allocates nothing more; 0, or -1 when out of memory. */
int mien_index_reserve(mien_index *ix, size_t n);
/* The exact score that search ranks by: the dot product of the fp32 vectors accumulated in
 * double in a fixed order, rounded to float. Brute-force references use it to compare results
 * bit for bit. */
float mien_index_score(const float *a, const float *b, int dim);

/* Automatic approximate search (ann.h): from this many vectors on, a background thread builds
 * an ANN index and searches use it once it is complete; below half of it, exact scans again.
 * docs/search.md: chosen where the exact scan passes ~20 ms a query on one core. */
#define MIEN_ANN_THRESHOLD 1000000

/* "EXACT" or "ANN": what searches use now, and *recall its recall@10 against the exact scan as
 * measured when it was built (1 for EXACT). */
const char *mien_index_kind(const mien_index *ix, float *recall);
/* Overrides the threshold (0: MIEN_ANN_THRESHOLD) and the ANN's nprobe, rescore and rerank (0:
 * its defaults; mien_ann_params), e.g. for tests at small sizes; may start a build. */
void mien_index_set_ann(mien_index *ix, size_t threshold, int nprobe, int rescore, int rerank);
/* Waits for a running build to finish (tests, benchmarks); may start the next one. */
void mien_index_wait(mien_index *ix);

/* Persistence of the ANN, so a restart does not retrain (the store saves it beside the
 * collection at close and adopts it at load, docs/search.md). Save: the ANN searches use now
 * to path (mien_ann_save); 0, 1 when there is none (exact scans), -1 on error. Load: adopts
 * the ANN saved at path if it indexes exactly this index's vectors (the same ids, each with
 * the same int8 code: a file from before a write, or another collection's, is refused) and no
 * build is running; 0, or -1 (nothing changes). Hold the threshold (mien_index_set_ann) while
 * the vectors are added, or a build starts part-way and the load is refused. */
int mien_index_save_ann(mien_index *ix, const char *path);
int mien_index_load_ann(mien_index *ix, const char *path);

#endif
