/* ann.h - the approximate search index for large collections: IVF lists whose faces are
 * scanned as 4-bit product-quantised codes, the best re-ranked with their int8 codes, the best of
 * those rescored exactly from full-precision templates that live elsewhere.
 *
 * The index keeps, per face, a 512-byte int8 code, a scale, the id and a PQ code (pq_m / 2
 * bytes: 64 by default) of the face's residual from its list's centroid: about 620-680 bytes
 * with 512-d templates and the lists' spare capacity, against 2,588 for the exact index. The
 * fp32 templates are not held: a search asks the caller for the few it rescores (a memory-mapped
 * file, the store), so results carry exact scores and exact order among the candidates; what is
 * approximate is only which faces become candidates (the lists probed, the PQ estimates' cut).
 * docs/search.md measures recall and speed against the exact scan and FAISS.
 *
 * Coarse quantiser: two-level spherical k-means. `groups` top centroids each own a range of
 * list centroids; a vector goes to the best list of its best groups, so that assigning one
 * costs a few hundred dot products instead of one per list (10M adds in minutes on 2 cores).
 *
 * Not thread-safe for writers: callers serialise add/remove against searches; searches may run
 * concurrently with each other.
 */
#ifndef MIEN_STORE_ANN_H
#define MIEN_STORE_ANN_H

#include <stddef.h>
#include <stdint.h>

#include "store/index.h"

typedef struct mien_ann mien_ann;

/* The fp32 template of id for rescoring: a pointer valid until the search returns (into buf,
 * dim floats, or a mapping), or NULL when id is gone (the candidate is dropped). A search first
 * calls it with buf NULL for every candidate it will rescore: a hint to start reading it (the
 * return value is ignored), so that templates not in memory are read at once, not one by one. */
typedef const float *(*mien_ann_fetch)(void *ctx, int64_t id, float *buf);

typedef struct {
  int nprobe;  /* lists scanned per query */
  int rescore; /* candidates rescored exactly (at least k) */
  int threads; /* <= 0: one per core */
  /* PQ candidates re-ranked with their int8 codes (at least rescore); 0: no PQ tier, the int8
   * codes of the probed lists are scanned instead (slower; the exact answer probing all). */
  int rerank;
  /* Early stop: after its first stage a search ends when its best estimate so far is >=
   * stop_score (a face that close is the person: the remaining lists would mostly reorder
   * weaker candidates). The first stage is the best nprobe_first lists and every other probed
   * list whose centroid's cosine to the query is within first_margin of the best list's (0:
   * none more): a query among many near-equal lists has its neighbours spread over them all
   * (docs/search.md, "The first stage"). nprobe_first 0 or >= nprobe: always all nprobe. */
  int nprobe_first;
  float stop_score;
  float first_margin;
} mien_ann_params;

/* Trains the coarse quantiser on n sample vectors (L2-normalised, dim floats each) for about
 * nlists lists, and the PQ tier's codebooks (pq_m sub-spaces: a multiple of 4 up to 128, <= 0
 * the default) on their residuals; threads <= 0: one per core. NULL when out of memory or
 * n < 1. */
mien_ann *mien_ann_train(int dim, const float *sample, size_t n, size_t nlists, int pq_m,
                         int threads);
void mien_ann_free(mien_ann *ann);
size_t mien_ann_count(const mien_ann *ann);
size_t mien_ann_lists(const mien_ann *ann);
/* Sub-spaces of its PQ tier (4 bits each: pq_m / 2 bytes per face). */
int mien_ann_pq_m(const mien_ann *ann);
/* Bytes of RAM per indexed vector: codes, scales, ids, the lists' spare capacity and the
 * centroids, all divided by the count. */
size_t mien_ann_bytes_per_vector(const mien_ann *ann);
/* The parameters a search should use at this size for recall@10 >= 0.99 (docs/search.md). */
mien_ann_params mien_ann_default_params(const mien_ann *ann);

/* Moves lists [from, to) (of mien_ann_lists) into one mapping asked for huge pages, made by the
 * first call and sized for the vectors then indexed, laid out as a load lays them: a built
 * index then searches as fast as a loaded one from its first search (docs/search.md, "Huge
 * pages"). Callable in steps between adds and removes; a list that does not fit stays where it
 * is, and nothing changes when the mapping cannot be made. Returns 1 when mien_ann_trim is due
 * (about a gigabyte freed since the last, or the last list packed), else 0. */
int mien_ann_pack(mien_ann *ann, size_t from, size_t to);
/* Hands the heap packs freed back to the system (the C library keeps it resident otherwise: a
 * pack would hold the index twice). Slow (up to ~1 s at 10M faces): call it outside locks. */
void mien_ann_trim(mien_ann *ann);

/* Adds n vectors; the caller guarantees the ids are not in the index. Assignment runs on
 * `threads` threads (<= 0: one per core). 0, or -1 when out of memory or a vector is not
 * finite (none is added then... except those before it: callers treat -1 as fatal). */
int mien_ann_add(mien_ann *ann, size_t n, const int64_t *ids, const float *v, int threads);
/* Removes id, whose vector was v (it finds the list without a table of ids); 0, or -1 when
 * absent. */
int mien_ann_remove(mien_ann *ann, int64_t id, const float *v);

/* The k best candidates, rescored with fetch, with score >= min_score, best first (ties by
 * id), into out[k]; returns how many, or -1 when out of memory. */
int mien_ann_search(const mien_ann *ann, const float *q, int k, float min_score,
                    const mien_ann_params *p, mien_ann_fetch fetch, void *ctx, mien_hit *out);

/* Saves the whole index to path (written to path.tmp, then renamed) / loads it; the file is
 * what a restart reads instead of retraining. 0 / the index, or -1 / NULL on any error (a file
 * that is short, from another version or another dim included). */
int mien_ann_save(const mien_ann *ann, const char *path);
mien_ann *mien_ann_load(const char *path, int dim);
/* Calls visit for every indexed vector (its id, int8 code and scale) until one returns
 * nonzero, which is returned; 0 when all were visited. How a loaded index is checked against
 * the vectors it is meant to hold (index.c). */
int mien_ann_each(const mien_ann *ann,
                  int (*visit)(void *ctx, int64_t id, const int8_t *code, float scale), void *ctx);

#endif
