/* people.h - proposed users: a collection's faces grouped into people (cluster.h) and read back
 * as proposals for ProposeUsers and AcceptProposal (docs/people.md).
 *
 * Each collection keeps its grouping state in memory beside its index: the first proposal after
 * the store opens (or after the threshold changes) is a full pass, later ones search only the
 * faces added since and regroup what they touch. Nothing is stored: a proposal is recomputed each
 * time, and its ProposalId is a hash of its sorted FaceIds, so the same faces give the same id
 * in any process and a changed group gets a new one. */
#ifndef MIEN_STORE_PEOPLE_H
#define MIEN_STORE_PEOPLE_H

#include "store/store.h"

/* The defaults (docs/people.md: chosen on LFW). ProposeUsers' FaceMatchThreshold: Similarity
 * 85, a false-accept rate of 3.4e-5 per pair (docs/similarity.md). */
#define MIEN_PEOPLE_THRESHOLD 85.0f
#define MIEN_PEOPLE_MIN_FACES 3
/* The neighbour graph's cosine is the threshold's less this; neighbours searched per face. */
#define MIEN_PEOPLE_EDGE_MARGIN 0.015f
#define MIEN_PEOPLE_NEIGHBOURS 128
/* The most template comparisons one call spends searching new faces (about 15 s on 2 cores):
 * an exact search compares a face with the whole collection, so a call searches at most this
 * over the collection's size of them, and the next call goes on (FacesPending). */
#define MIEN_PEOPLE_MAX_COMPARISONS 250000000

typedef struct {
  char face_id[MIEN_UUID_LEN], image_id[MIEN_UUID_LEN];
  char external_image_id[MIEN_EXTERNAL_ID_MAX + 1]; /* "" when none */
  float left, top, width, height;
} mien_proposed_face;

typedef struct {
  char proposal_id[33];               /* 32 hex digits */
  char user_id[MIEN_USER_ID_MAX + 1]; /* the existing user the faces join, "" for a new one */
  int64_t first, count;               /* faces[first] to faces[first + count - 1] */
  int64_t representative;             /* index into faces */
  float cohesion;                     /* mean pairwise cosine of the faces */
} mien_proposal;

typedef struct {
  mien_proposal *v;
  int64_t n;
  mien_proposed_face *faces;
  int64_t searched, regrouped, pending; /* what the update did (mien_cluster_stats) */
} mien_proposals;

/* The proposals of collection coll at link cosine `link` (cluster.h): every group with at least
 * min_faces faces not associated with a user, and every group that holds faces of a user and
 * faces of none (proposed to join that user), with only the unassociated faces; the largest
 * first, then by their first face. */
mien_status mien_store_propose(mien_store *s, const char *coll, float link, int min_faces,
                               mien_proposals *out, char *err, size_t errlen);
void mien_proposals_free(mien_proposals *p);

/* AcceptProposal's write: creates user_id when it does not exist (*created = 1) and associates
 * the faces with it, with an audit record, in one transaction (faces as mien_store_set_user). */
mien_status mien_store_accept_proposal(mien_store *s, const char *principal, const char *coll,
                                       const char *user_id, const char *const *face_ids, int n,
                                       mien_face_result *res, int *created, char *err,
                                       size_t errlen);

#endif
