/* ops_people.c - mien's people operations (docs/people.md), named in Rekognition's style:
 * ProposeUsers groups a collection's unassociated faces into proposed users (store/people.h),
 * AcceptProposal creates or reuses a user and associates a proposal's faces in one audited
 * transaction. Rekognition has the building blocks (SearchFaces, CreateUser, AssociateFaces) and
 * leaves the grouping to its callers; these two close that gap in the same vocabulary.
 *
 * Proposals are not stored: each call recomputes them (incrementally, see cluster.h), and a
 * ProposalId is a hash of the proposal's FaceIds, so AcceptProposal finds the same proposal by
 * id as long as its faces did not change, and refuses one that did. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/ops.h"
#include "face/eval.h"
#include "store/people.h"
#include "util/util.h"

#define PROPOSE_MAX_RESULTS 500
#define PROPOSE_DEFAULT_RESULTS 100

/* CollectionId and FaceMatchThreshold (as a link cosine), shared by both operations. */
static mien_status people_request(const cJSON *req, const char **coll, float *link, char *err,
                                  size_t errlen) {
  double threshold;
  mien_status st = op_collection(req, coll, err, errlen);
  if (st == MIEN_OK)
    st = op_number(req, "FaceMatchThreshold", 0, 100, MIEN_PEOPLE_THRESHOLD, &threshold, err,
                   errlen);
  if (st == MIEN_OK) *link = mien_similarity_cosine((float)threshold);
  return st;
}

static cJSON *proposal_json(const mien_proposals *ps, const mien_proposal *p) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "ProposalId", p->proposal_id);
  if (p->user_id[0]) cJSON_AddStringToObject(o, "UserId", p->user_id);
  cJSON *ids = cJSON_AddArrayToObject(o, "FaceIds");
  cJSON *faces = cJSON_AddArrayToObject(o, "Faces");
  for (int64_t i = p->first; i < p->first + p->count; i++) {
    const mien_proposed_face *f = &ps->faces[i];
    cJSON_AddItemToArray(ids, cJSON_CreateString(f->face_id));
    cJSON *face = cJSON_CreateObject(), *box = cJSON_AddObjectToObject(face, "BoundingBox");
    cJSON_AddStringToObject(face, "FaceId", f->face_id);
    cJSON_AddStringToObject(face, "ImageId", f->image_id);
    if (f->external_image_id[0])
      cJSON_AddStringToObject(face, "ExternalImageId", f->external_image_id);
    op_add_num(box, "Width", f->width);
    op_add_num(box, "Height", f->height);
    op_add_num(box, "Left", f->left);
    op_add_num(box, "Top", f->top);
    cJSON_AddItemToArray(faces, face);
  }
  cJSON_AddStringToObject(o, "RepresentativeFaceId", ps->faces[p->representative].face_id);
  op_add_num(o, "Cohesion", mien_similarity(p->cohesion));
  return o;
}

mien_status mien_op_propose_users(mien_api *api, const cJSON *req, cJSON **resp, char *err,
                                  size_t errlen) {
  *resp = NULL;
  const char *coll, *token;
  float link;
  long min_faces, max;
  mien_status st = people_request(req, &coll, &link, err, errlen);
  if (st == MIEN_OK)
    st = op_int(req, "MinFaces", 1, MIEN_USER_MAX_FACES, MIEN_PEOPLE_MIN_FACES, &min_faces, err,
                errlen);
  if (st == MIEN_OK)
    st = op_int(req, "MaxResults", 1, PROPOSE_MAX_RESULTS, PROPOSE_DEFAULT_RESULTS, &max, err,
                errlen);
  if (st == MIEN_OK) st = op_string(req, "NextToken", 0, ID_TOKEN, 255, &token, err, errlen);
  if (st != MIEN_OK) return st;
  /* The token is the number of proposals already returned. */
  char *end = NULL;
  long skip = token ? strtol(token, &end, 10) : 0;
  if (token && (*end || end == token || skip < 1))
    return MIEN_FAIL(err, errlen, MIEN_ERR_PAGINATION_TOKEN, "NextToken '%.300s' is not valid",
                     token);
  char version[64];
  st = op_collection_version(api, coll, NULL, version, err, errlen);
  mien_proposals ps = {0};
  if (st == MIEN_OK)
    st = mien_store_propose(api->store, coll, link, (int)min_faces, &ps, err, errlen);
  if (st == MIEN_OK && skip > ps.n)
    st = MIEN_FAIL(err, errlen, MIEN_ERR_PAGINATION_TOKEN,
                   "NextToken '%s' is past the proposals (the collection changed?)", token);
  if (st == MIEN_OK)
    st = mien_store_audit_count(api->store, api->principal, "ProposeUsers", coll, "proposals", ps.n,
                                err, errlen);
  cJSON *r = NULL;
  if (st == MIEN_OK) {
    r = cJSON_CreateObject();
    cJSON *a = cJSON_AddArrayToObject(r, "ProposedUsers");
    int64_t i = skip;
    for (; i < ps.n && i < skip + max; i++) cJSON_AddItemToArray(a, proposal_json(&ps, &ps.v[i]));
    if (i < ps.n) {
      char next[24];
      snprintf(next, sizeof next, "%lld", (long long)i);
      cJSON_AddStringToObject(r, "NextToken", next);
    }
    cJSON_AddNumberToObject(r, "FacesPending", (double)ps.pending);
    cJSON_AddStringToObject(r, "FaceModelVersion", version);
  }
  mien_proposals_free(&ps);
  return op_respond(st, r, resp);
}

/* Whether s is a ProposalId: 32 lower-case hex digits. */
static int is_proposal_id(const char *s) {
  size_t n = strlen(s);
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
  return n == 32;
}

/* The proposal with this id among ps, or NULL. */
static const mien_proposal *find_proposal(const mien_proposals *ps, const char *id) {
  for (int64_t i = 0; i < ps->n; i++)
    if (!strcmp(ps->v[i].proposal_id, id)) return &ps->v[i];
  return NULL;
}

/* The FaceIds to accept: the proposal's, or those given (ngiven > 0: the request's FaceIds, a
 * subset of the proposal: the faces a person kept after splitting off the others), into *ids
 * (malloc'ed). */
static mien_status accepted_faces(const mien_proposals *ps, const mien_proposal *p,
                                  const char **given, int ngiven, const char ***ids, int *n,
                                  char *err, size_t errlen) {
  for (int i = 0; i < ngiven; i++) {
    int64_t j = p->first;
    while (j < p->first + p->count && strcmp(ps->faces[j].face_id, given[i])) j++;
    if (j == p->first + p->count)
      return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER, "FaceId %s is not in proposal %s",
                       given[i], p->proposal_id);
  }
  if (!ngiven && p->count > MIEN_USER_MAX_FACES)
    return MIEN_FAIL(err, errlen, MIEN_ERR_QUOTA,
                     "proposal %s has %lld faces; a user has at most %d: accept it in parts "
                     "(FaceIds)",
                     p->proposal_id, (long long)p->count, MIEN_USER_MAX_FACES);
  *n = ngiven ? ngiven : (int)p->count;
  *ids = malloc((size_t)(*n > 0 ? *n : 1) * sizeof **ids);
  if (!*ids) return MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  for (int i = 0; i < *n; i++) (*ids)[i] = ngiven ? given[i] : ps->faces[p->first + i].face_id;
  return MIEN_OK;
}

mien_status mien_op_accept_proposal(mien_api *api, const cJSON *req, cJSON **resp, char *err,
                                    size_t errlen) {
  *resp = NULL;
  const char *coll, *proposal, *user, *token;
  float link;
  mien_status st = people_request(req, &coll, &link, err, errlen);
  if (st == MIEN_OK) st = op_string(req, "ProposalId", 1, ID_TOKEN, 32, &proposal, err, errlen);
  if (st == MIEN_OK && !is_proposal_id(proposal))
    st = MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                   "ProposalId '%s' is not valid: 32 hex digits from ProposeUsers", proposal);
  if (st == MIEN_OK)
    st = op_string(req, "UserId", 1, ID_USER, MIEN_USER_ID_MAX, &user, err, errlen);
  if (st == MIEN_OK)
    st = op_string(req, "ClientRequestToken", 0, ID_COLLECTION, 64, &token, err, errlen);
  const char **given = NULL;
  int ngiven = 0;
  if (st == MIEN_OK && cJSON_GetObjectItemCaseSensitive(req, "FaceIds"))
    st = op_face_ids(req, "FaceIds", MIEN_USER_MAX_FACES, &given, &ngiven, err, errlen);
  if (st != MIEN_OK) return st;
  /* min_faces 1: the proposal is found whatever MinFaces listed it. */
  mien_proposals ps = {0};
  st = mien_store_propose(api->store, coll, link, 1, &ps, err, errlen);
  const mien_proposal *p = st == MIEN_OK ? find_proposal(&ps, proposal) : NULL;
  if (st == MIEN_OK && !p)
    st = MIEN_FAIL(err, errlen, MIEN_ERR_RESOURCE_NOT_FOUND,
                   "no proposal %s in collection %s at FaceMatchThreshold %g: its faces changed "
                   "since; call ProposeUsers again",
                   proposal, coll, mien_similarity(link));
  const char **ids = NULL;
  int n = 0, created = 0;
  if (st == MIEN_OK) st = accepted_faces(&ps, p, given, ngiven, &ids, &n, err, errlen);
  mien_face_result *res = st == MIEN_OK ? malloc((size_t)n * sizeof *res) : NULL;
  if (st == MIEN_OK && !res) st = MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  if (st == MIEN_OK)
    st = mien_store_accept_proposal(api->store, api->principal, coll, user, ids, n, res, &created,
                                    err, errlen);
  cJSON *r = NULL;
  if (st == MIEN_OK) {
    r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "UserId", user);
    cJSON_AddBoolToObject(r, "UserCreated", created);
    cJSON *done = cJSON_AddArrayToObject(r, "AssociatedFaces");
    cJSON *failed = cJSON_AddArrayToObject(r, "UnsuccessfulFaceAssociations");
    for (int i = 0; i < n; i++) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "FaceId", ids[i]);
      if (res[i] == MIEN_FACE_DONE || res[i] == MIEN_FACE_UNCHANGED) {
        cJSON_AddItemToArray(done, o);
        continue;
      }
      cJSON *why = cJSON_AddArrayToObject(o, "Reasons");
      cJSON_AddItemToArray(why, cJSON_CreateString(res[i] == MIEN_FACE_OTHER_USER
                                                       ? "ASSOCIATED_TO_A_DIFFERENT_USER"
                                                       : "FACE_NOT_FOUND"));
      cJSON_AddItemToArray(failed, o);
    }
    mien_user_record u;
    int found;
    st = mien_store_get_user(api->store, coll, user, &u, &found, err, errlen);
    cJSON_AddStringToObject(r, "UserStatus", found ? u.status : "CREATED");
  }
  free(ids), free(res), free(given);
  mien_proposals_free(&ps);
  return op_respond(st, r, resp);
}
