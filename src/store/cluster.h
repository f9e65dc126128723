/* cluster.h - grouping a collection's faces into people, for ProposeUsers (docs/people.md).
 *
 * The faces form a neighbour graph: an edge joins two faces whose cosine is at least
 * edge_cosine, found with the search index's top-k search (each face's max_neighbours best), never
 * by comparing all pairs here. Groups are then merged greedily by average linkage over that
 * graph, a pair missing from it counting as edge_cosine (the most it can be), while the linkage
 * is at least link_cosine, and never so that one group holds two faces of one photo or faces of
 * two users. A group's name is its least face id.
 *
 * Incremental: the state keeps the graph. New faces are searched and only the connected parts of
 * the graph they touch are regrouped; a face removed, or whose user changed, regroups its part.
 * The merge order inside a part depends only on the part (linkage, then least face ids), and
 * edges between old faces never change, so an update gives the groups a full pass gives, except
 * when a face has more than max_neighbours neighbours above edge_cosine (the ties documented in
 * docs/people.md). An update may search only some of the new faces (a budget); the rest wait for
 * the next, and once none waits the groups are again a full pass's. Not thread-safe: the caller
 * serialises calls, and holds the index still (no add or remove) during mien_cluster_update and
 * mien_cluster_describe. */
#ifndef MIEN_STORE_CLUSTER_H
#define MIEN_STORE_CLUSTER_H

#include <stdint.h>

#include "store/index.h"

typedef struct mien_cluster mien_cluster;

typedef struct {
  float link_cosine; /* merge while the average linkage is at least this */
  float edge_cosine; /* the neighbour graph's threshold, at most link_cosine */
  int max_neighbours;
} mien_cluster_params;

typedef struct {
  int64_t searched;  /* faces whose neighbours were searched */
  int64_t regrouped; /* faces in the parts that were regrouped */
  int64_t saturated; /* searches that returned max_neighbours hits (ties may differ) */
  int64_t edges;     /* edges of the graph now */
  int64_t pending;   /* new faces not searched yet (max_searches) */
} mien_cluster_stats;

/* NULL when out of memory or the params are out of range. */
mien_cluster *mien_cluster_create(const mien_cluster_params *p);
void mien_cluster_free(mien_cluster *c);
const mien_cluster_params *mien_cluster_params_of(const mien_cluster *c);
/* Faces known (removed ones excluded). */
int64_t mien_cluster_count(const mien_cluster *c);

/* Declares the face with index id `id`, from the photo `image` (any key naming it), associated
 * with `owner` (any non-zero key naming the user; 0: none). A new face is searched at the next
 * update; a known one whose owner changed has its part regrouped. 0, or -1 when out of memory. */
int mien_cluster_put(mien_cluster *c, int64_t id, uint64_t image, uint64_t owner);
/* Forgets face id (nothing when unknown); its neighbours' part is regrouped at the next update. */
void mien_cluster_remove(mien_cluster *c, int64_t id);
/* Forgets every face whose id is not among the n ascending ids (mien_cluster_remove). */
void mien_cluster_retain(mien_cluster *c, const int64_t *ids, int64_t n);
/* Forgets the graph: the next update is a full pass. */
void mien_cluster_reset(mien_cluster *c);
/* Searches the new faces in ix (their vectors are read from it; `threads` searches at once, 0:
 * one per core), at most max_searches of them, the oldest first (0: all), and regroups what
 * changed. Faces left unsearched (stats->pending) are searched by later updates; until then they
 * have only the edges other faces' searches gave them. stats may be NULL. 0, or -1 when out of
 * memory (the state is then reset, so that the next update is a full pass). */
int mien_cluster_update(mien_cluster *c, const mien_index *ix, int threads, int64_t max_searches,
                        mien_cluster_stats *stats);

/* The group of face id (its least face id), or 0 when the face is unknown. */
int64_t mien_cluster_group_of(const mien_cluster *c, int64_t id);
/* All groups, singletons included: *ids (malloc'ed) holds every face id, group after group,
 * groups by their name and ids ascending within one; group g is ids[start[g]] to
 * ids[start[g + 1] - 1] (*start malloc'ed, ngroups + 1 entries). 0, or -1 when out of memory. */
int mien_cluster_groups(const mien_cluster *c, int64_t **ids, int64_t **start, int64_t *ngroups);

/* For the n faces ids of one group: *cohesion, their mean pairwise cosine (1 for one face), and
 * *representative, the face nearest their mean direction (ties: the least id). Vectors are read
 * from ix; faces missing from it are left out. -1 when none is in ix. */
int mien_cluster_describe(const mien_index *ix, const int64_t *ids, int64_t n, float *cohesion,
                          int64_t *representative);

#endif
