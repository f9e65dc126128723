/* ops_users.c - the user operations: CreateUser, DeleteUser, ListUsers, AssociateFaces,
 * DisassociateFaces, SearchUsers and SearchUsersByImage. A user is a set of faces of one person;
 * its similarity to a face is the best similarity of any of its faces, which keeps a user with
 * faces in several poses matching each of them. */
#include <stdlib.h>
#include <string.h>

#include "api/ops.h"
#include "face/eval.h"
#include "util/util.h"

#define ASSOCIATE_MAX 100 /* FaceIds per AssociateFaces / DisassociateFaces request */

/* CollectionId and UserId; then the ClientRequestToken of operation op into idem, with
 * *replay the first response when the token already answered this request. */
static mien_status user_request(mien_api *api, const cJSON *req, const char *op, const char **coll,
                                const char **user, mien_idem *idem, cJSON **replay, char *err,
                                size_t errlen) {
  *replay = NULL;
  mien_status st = op_collection(req, coll, err, errlen);
  if (st == MIEN_OK) st = op_string(req, "UserId", 1, ID_USER, MIEN_USER_ID_MAX, user, err, errlen);
  if (st == MIEN_OK) st = op_idem_begin(api, req, op, *coll, idem, replay, err, errlen);
  return st;
}

/* CreateUser (create = 1) and DeleteUser: their response is {}. */
static mien_status create_or_delete_user(mien_api *api, const cJSON *req, int create, cJSON **resp,
                                         char *err, size_t errlen) {
  const char *coll, *user;
  mien_idem idem;
  *resp = NULL;
  mien_status st = user_request(api, req, create ? "CreateUser" : "DeleteUser", &coll, &user, &idem,
                                resp, err, errlen);
  if (st != MIEN_OK || *resp) return st;
  idem.respond = op_idem_empty;
  st = create ? mien_store_create_user(api->store, coll, user, &idem, err, errlen)
              : mien_store_delete_user(api->store, api->principal, coll, user, &idem, err, errlen);
  if (st == MIEN_OK) *resp = cJSON_CreateObject();
  return op_idem_end(api, &idem, st, resp, err, errlen);
}

mien_status mien_op_create_user(mien_api *api, const cJSON *req, cJSON **resp, char *err,
                                size_t errlen) {
  return create_or_delete_user(api, req, 1, resp, err, errlen);
}

mien_status mien_op_delete_user(mien_api *api, const cJSON *req, cJSON **resp, char *err,
                                size_t errlen) {
  return create_or_delete_user(api, req, 0, resp, err, errlen);
}

mien_status mien_op_list_users(mien_api *api, const cJSON *req, cJSON **resp, char *err,
                               size_t errlen) {
  const char *coll;
  char after[OP_PAGE_TOKEN_MAX + 1];
  long max;
  *resp = NULL;
  mien_status st = op_collection(req, &coll, err, errlen);
  if (st == MIEN_OK)
    st = op_int(req, "MaxResults", 1, MIEN_MAX_USERS, MIEN_MAX_USERS, &max, err, errlen);
  /* The token is the last UserId of the previous page. */
  if (st == MIEN_OK) st = op_page_after(req, "ListUsers", coll, after, err, errlen);
  if (st != MIEN_OK) return st;
  mien_user_record *users = malloc((size_t)max * sizeof *users);
  int n, more;
  st = users
           ? mien_store_list_users(api->store, coll, after, (int)max, users, &n, &more, err, errlen)
           : MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  if (st == MIEN_OK) {
    cJSON *r = *resp = cJSON_CreateObject();
    cJSON *a = cJSON_AddArrayToObject(r, "Users");
    for (int i = 0; i < n; i++) {
      cJSON *u = cJSON_CreateObject();
      cJSON_AddStringToObject(u, "UserId", users[i].user_id);
      cJSON_AddStringToObject(u, "UserStatus", users[i].status);
      cJSON_AddItemToArray(a, u);
    }
    char next[OP_PAGE_TOKEN_MAX + 1];
    if (more && n) op_page_token("ListUsers", coll, users[n - 1].user_id, next);
    if (more && n) cJSON_AddStringToObject(r, "NextToken", next);
  }
  free(users);
  return st;
}

/* The user's record; ResourceNotFoundException when it does not exist. */
static mien_status need_user(mien_api *api, const char *coll, const char *user, mien_user_record *u,
                             char *err, size_t errlen) {
  int found;
  mien_status st = mien_store_get_user(api->store, coll, user, u, &found, err, errlen);
  if (st == MIEN_OK && !found)
    st = MIEN_FAIL(err, errlen, MIEN_ERR_RESOURCE_NOT_FOUND,
                   "The user id: %s does not exist in the collection %s", user, coll);
  return st;
}

/* An UnsuccessfulFaceAssociation / Disassociation entry. */
static void add_unsuccessful(cJSON *arr, const char *face_id, const char *user_id,
                             const char *reason, double confidence) {
  cJSON *u = cJSON_CreateObject();
  cJSON_AddStringToObject(u, "FaceId", face_id);
  if (user_id && *user_id) cJSON_AddStringToObject(u, "UserId", user_id);
  if (confidence >= 0) op_add_num(u, "Confidence", confidence);
  cJSON *why = cJSON_AddArrayToObject(u, "Reasons");
  cJSON_AddItemToArray(why, cJSON_CreateString(reason));
  cJSON_AddItemToArray(arr, u);
}

/* The best Similarity of emb to the n faces. */
static float best_similarity(const float *emb, const mien_face_record *faces, int n) {
  float best = 0;
  for (int i = 0; i < n; i++) {
    float s = mien_similarity(mien_cosine(emb, faces[i].emb));
    if (s > best) best = s;
  }
  return best;
}

/* The faces of AssociateFaces that may be associated: found, free, and (when the user has
 * faces) similar enough to one of them. The others go to `failed`; ok[i] = 1 for the rest. */
static mien_status screen_faces(mien_api *api, const char *coll, const char *user,
                                const char *const *ids, int n, double threshold, int *ok,
                                cJSON *failed, char *err, size_t errlen) {
  mien_face_record *mine = malloc(MIEN_USER_MAX_FACES * sizeof *mine), *f = malloc(sizeof *f);
  int nmine = 0, more;
  mien_status st = mine && f ? mien_store_list_faces(api->store, coll, 0, MIEN_USER_MAX_FACES, user,
                                                     1, mine, &nmine, &more, err, errlen)
                             : MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  for (int i = 0; st == MIEN_OK && i < n; i++) {
    int found;
    ok[i] = 0;
    st = mien_store_get_face(api->store, coll, ids[i], f, &found, err, errlen);
    if (st != MIEN_OK) break;
    if (!found) {
      add_unsuccessful(failed, ids[i], NULL, "FACE_NOT_FOUND", -1);
    } else if (f->user_id[0] && strcmp(f->user_id, user)) {
      add_unsuccessful(failed, ids[i], f->user_id, "ASSOCIATED_TO_A_DIFFERENT_USER", -1);
    } else if (!f->user_id[0] && nmine > 0) {
      float sim = best_similarity(f->emb, mine, nmine);
      if (sim < threshold)
        add_unsuccessful(failed, ids[i], user, "LOW_MATCH_CONFIDENCE", sim);
      else
        ok[i] = 1;
    } else {
      ok[i] = 1;
    }
  }
  free(mine), free(f);
  return st;
}

/* What AssociateFaces / DisassociateFaces answer, made once the store has changed the faces
 * (set_faces_respond, inside its transaction when a token is to be kept). */
typedef struct {
  int associate, np;
  const char *const *pass;     /* the FaceIds given to the store */
  const mien_face_result *res; /* what happened to each */
  const char *status;          /* the user's UserStatus after */
  cJSON *r;                    /* the response, holding the screening's failures already */
} set_faces_answer;

static void set_faces_fill(set_faces_answer *a) {
  cJSON *done = cJSON_GetArrayItem(a->r, 0), *failed = cJSON_GetArrayItem(a->r, 1);
  for (int i = 0; i < a->np; i++) {
    if (a->res[i] == MIEN_FACE_DONE) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "FaceId", a->pass[i]);
      cJSON_AddItemToArray(done, o);
    } else if (a->res[i] == MIEN_FACE_OTHER_USER) {
      add_unsuccessful(failed, a->pass[i], NULL, "ASSOCIATED_TO_A_DIFFERENT_USER", -1);
    } else if (a->res[i] == MIEN_FACE_NOT_FOUND || !a->associate) {
      /* Disassociating a face that has no user: it is not among the user's faces. */
      add_unsuccessful(failed, a->pass[i], NULL, "FACE_NOT_FOUND", -1);
    }
  }
  cJSON_AddStringToObject(a->r, "UserStatus", a->status);
}

static char *set_faces_respond(void *ctx) {
  set_faces_fill(ctx);
  return cJSON_PrintUnformatted(((set_faces_answer *)ctx)->r);
}

/* AssociateFaces (associate = 1) and DisassociateFaces. */
static mien_status set_faces(mien_api *api, const cJSON *req, int associate, cJSON **resp,
                             char *err, size_t errlen) {
  const char *coll, *user, **ids = NULL;
  int n = 0;
  double threshold = 0;
  mien_user_record u;
  mien_idem idem;
  *resp = NULL;
  mien_status st = user_request(api, req, associate ? "AssociateFaces" : "DisassociateFaces", &coll,
                                &user, &idem, resp, err, errlen);
  if (st != MIEN_OK || *resp) return st;
  st = op_face_ids(req, "FaceIds", ASSOCIATE_MAX, &ids, &n, err, errlen);
  if (st == MIEN_OK && associate)
    st = op_number(req, "UserMatchThreshold", 0, 100, MIEN_ASSOCIATE_THRESHOLD, &threshold, err,
                   errlen);
  if (st == MIEN_OK) st = need_user(api, coll, user, &u, err, errlen);
  int *ok = malloc((size_t)(n ? n : 1) * sizeof *ok);
  const char **pass = malloc((size_t)(n ? n : 1) * sizeof *pass);
  mien_face_result *res = malloc((size_t)(n ? n : 1) * sizeof *res);
  if (st == MIEN_OK && !(ok && pass && res))
    st = MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  cJSON *r = cJSON_CreateObject();
  cJSON_AddArrayToObject(r, associate ? "AssociatedFaces" : "DisassociatedFaces");
  cJSON *failed = cJSON_AddArrayToObject(r, associate ? "UnsuccessfulFaceAssociations"
                                                      : "UnsuccessfulFaceDisassociations");
  int np = 0;
  if (st == MIEN_OK && associate)
    st = screen_faces(api, coll, user, ids, n, threshold, ok, failed, err, errlen);
  for (int i = 0; st == MIEN_OK && i < n; i++)
    if (!associate || ok[i]) pass[np++] = ids[i];
  set_faces_answer a = {associate, np, pass, res, u.status, r};
  idem.respond = set_faces_respond, idem.ctx = &a;
  if (st == MIEN_OK && np)
    st = mien_store_set_user(api->store, coll, associate ? user : NULL, user, pass, np, res,
                             u.status, &idem, err, errlen);
  else if (st == MIEN_OK && idem.token) /* nothing to change; the token is kept all the same */
    st = mien_store_idem_record(api->store, &idem, err, errlen);
  /* Without a token the store did not call respond. */
  if (st == MIEN_OK && !idem.token) set_faces_fill(&a);
  free(ok), free(pass), free(res), free(ids);
  return op_idem_end(api, &idem, op_respond(st, r, resp), resp, err, errlen);
}

mien_status mien_op_associate_faces(mien_api *api, const cJSON *req, cJSON **resp, char *err,
                                    size_t errlen) {
  return set_faces(api, req, 1, resp, err, errlen);
}

mien_status mien_op_disassociate_faces(mien_api *api, const cJSON *req, cJSON **resp, char *err,
                                       size_t errlen) {
  return set_faces(api, req, 0, resp, err, errlen);
}

/* ---- SearchUsers, SearchUsersByImage ---- */

typedef struct {
  char user_id[MIEN_USER_ID_MAX + 1];
  float similarity;
} user_match;

static int by_similarity(const void *a, const void *b) {
  float x = ((const user_match *)a)->similarity, y = ((const user_match *)b)->similarity;
  return x < y   ? 1
         : x > y ? -1
                 : strcmp(((const user_match *)a)->user_id, ((const user_match *)b)->user_id);
}

/* Searches the collection with each of the nq query embeddings and adds UserMatches: every user
 * whose best face scores at least threshold, best first, at most max. Audited as op with the
 * number of matches. */
static mien_status add_user_matches(mien_api *api, const char *op, const char *coll, const float *q,
                                    int nq, double threshold, long max, cJSON *r, char *err,
                                    size_t errlen) {
  int k = MIEN_MAX_RESULTS, nu = 0, n;
  mien_face_record *recs = malloc((size_t)k * sizeof *recs);
  float *cos = malloc((size_t)k * sizeof *cos);
  user_match *users = malloc((size_t)k * sizeof *users);
  mien_status st =
      recs && cos && users ? MIEN_OK : MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  float min_cos = threshold > 0 ? mien_similarity_cosine((float)threshold) - 1e-4f : -2.0f;
  for (int j = 0; st == MIEN_OK && j < nq; j++) {
    st = mien_store_search(api->store, coll, q + (size_t)j * MIEN_EMBED_DIM, k, min_cos, 0, 0, recs,
                           cos, &n, err, errlen);
    for (int i = 0; st == MIEN_OK && i < n; i++) {
      float sim = mien_similarity(cos[i]);
      if (!recs[i].user_id[0] || sim < threshold) continue;
      int u = 0;
      while (u < nu && strcmp(users[u].user_id, recs[i].user_id)) u++;
      if (u == nu) {
        if (nu == k) continue;
        memcpy(users[nu].user_id, recs[i].user_id, sizeof users[nu].user_id);
        users[nu++].similarity = sim;
      } else if (sim > users[u].similarity) {
        users[u].similarity = sim;
      }
    }
  }
  qsort(users, (size_t)nu, sizeof *users, by_similarity);
  cJSON *a = cJSON_AddArrayToObject(r, "UserMatches");
  for (int i = 0; st == MIEN_OK && i < nu && i < max; i++) {
    mien_user_record u;
    int found;
    st = mien_store_get_user(api->store, coll, users[i].user_id, &u, &found, err, errlen);
    if (st != MIEN_OK || !found) continue;
    cJSON *m = cJSON_CreateObject();
    op_add_num(m, "Similarity", users[i].similarity);
    cJSON *o = cJSON_AddObjectToObject(m, "User");
    cJSON_AddStringToObject(o, "UserId", u.user_id);
    cJSON_AddStringToObject(o, "UserStatus", u.status);
    cJSON_AddItemToArray(a, m);
  }
  free(recs), free(cos), free(users);
  if (st == MIEN_OK)
    st = mien_store_audit_count(api->store, api->principal, op, coll, "matches",
                                cJSON_GetArraySize(a), err, errlen);
  return st;
}

static mien_status search_users_params(const cJSON *req, long *max, double *threshold, char *err,
                                       size_t errlen) {
  mien_status st = op_number(req, "UserMatchThreshold", 0, 100, MIEN_USER_MATCH_THRESHOLD,
                             threshold, err, errlen);
  if (st == MIEN_OK)
    st = op_int(req, "MaxUsers", 1, MIEN_MAX_USERS, MIEN_MAX_USERS, max, err, errlen);
  return st;
}

/* The query embeddings of SearchUsers: the face's, or all of the user's faces'. */
static mien_status query_embeddings(mien_api *api, const char *coll, const char *face_id,
                                    const char *user, mien_face_record *recs, int *n, char *err,
                                    size_t errlen) {
  if (face_id) {
    int found;
    mien_status st = mien_store_get_face(api->store, coll, face_id, recs, &found, err, errlen);
    if (st == MIEN_OK && !found)
      st = MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                     "FaceId %s was not found in collection %s", face_id, coll);
    *n = found;
    return st;
  }
  mien_user_record u;
  int more;
  mien_status st = need_user(api, coll, user, &u, err, errlen);
  if (st == MIEN_OK)
    st = mien_store_list_faces(api->store, coll, 0, MIEN_USER_MAX_FACES, user, 1, recs, n, &more,
                               err, errlen);
  return st;
}

mien_status mien_op_search_users(mien_api *api, const cJSON *req, cJSON **resp, char *err,
                                 size_t errlen) {
  const char *coll, *user, *face_id;
  double threshold;
  long max;
  *resp = NULL;
  mien_status st = op_collection(req, &coll, err, errlen);
  if (st == MIEN_OK)
    st = op_string(req, "UserId", 0, ID_USER, MIEN_USER_ID_MAX, &user, err, errlen);
  if (st == MIEN_OK) st = op_string(req, "FaceId", 0, ID_TOKEN, 36, &face_id, err, errlen);
  if (st == MIEN_OK && !user == !face_id)
    st =
        MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER, "give exactly one of UserId and FaceId");
  if (st == MIEN_OK && face_id && !op_is_uuid(face_id))
    st = MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER, "FaceId '%s' is not a valid FaceId",
                   face_id);
  if (st == MIEN_OK) st = search_users_params(req, &max, &threshold, err, errlen);
  if (st != MIEN_OK) return st;
  mien_face_record *recs = malloc(MIEN_USER_MAX_FACES * sizeof *recs);
  float *q = malloc(MIEN_USER_MAX_FACES * MIEN_EMBED_DIM * sizeof *q);
  int n = 0;
  char version[64];
  st = recs && q ? query_embeddings(api, coll, face_id, user, recs, &n, err, errlen)
                 : MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  if (st == MIEN_OK) st = op_model_version(version, sizeof version, err, errlen);
  cJSON *r = cJSON_CreateObject();
  for (int i = 0; st == MIEN_OK && i < n; i++)
    memcpy(q + (size_t)i * MIEN_EMBED_DIM, recs[i].emb, sizeof recs[i].emb);
  if (st == MIEN_OK)
    st = add_user_matches(api, "SearchUsers", coll, q, n, threshold, max, r, err, errlen);
  if (st == MIEN_OK) {
    cJSON_AddStringToObject(r, "FaceModelVersion", version);
    cJSON *o = cJSON_AddObjectToObject(r, face_id ? "SearchedFace" : "SearchedUser");
    cJSON_AddStringToObject(o, face_id ? "FaceId" : "UserId", face_id ? face_id : user);
  }
  free(recs), free(q);
  return op_respond(st, r, resp);
}

mien_status mien_op_search_users_by_image(mien_api *api, const cJSON *req, cJSON **resp, char *err,
                                          size_t errlen) {
  *resp = NULL;
  op_image_search s;
  mien_status st = op_image_search_begin(api, req, search_users_params, &s, err, errlen);
  if (st != MIEN_OK) return st;
  cJSON *r = cJSON_CreateObject();
  cJSON *unsearched = cJSON_CreateArray();
  int searchable = 0;
  for (int i = 0; i < s.n; i++) {
    cJSON *reasons = cJSON_CreateArray();
    if (i > 0) cJSON_AddItemToArray(reasons, cJSON_CreateString("FACE_NOT_LARGEST"));
    if (op_quality_reasons(&s.faces[i], s.filter, reasons) == 0 && i == 0) {
      searchable = 1;
      cJSON_Delete(reasons);
      continue;
    }
    cJSON *u = cJSON_CreateObject();
    cJSON_AddItemToObject(u, "FaceDetails", mien_face_detail_json(&s.faces[i], s.w, s.h));
    cJSON_AddItemToObject(u, "Reasons", reasons);
    cJSON_AddItemToArray(unsearched, u);
  }
  /* No searchable face: an empty UserMatches and no SearchedFace, as AWS documents. */
  if (searchable)
    st = add_user_matches(api, "SearchUsersByImage", s.coll, s.emb, 1, s.threshold, s.max, r, err,
                          errlen);
  else if (cJSON_AddArrayToObject(r, "UserMatches"))
    st = mien_store_audit_count(api->store, api->principal, "SearchUsersByImage", s.coll, "matches",
                                0, err, errlen);
  cJSON_AddStringToObject(r, "FaceModelVersion", s.version);
  if (searchable) {
    cJSON *sf = cJSON_AddObjectToObject(r, "SearchedFace");
    cJSON_AddItemToObject(sf, "FaceDetail", mien_face_detail_json(&s.faces[0], s.w, s.h));
  }
  cJSON_AddItemToObject(r, "UnsearchedFaces", unsearched);
  free(s.faces);
  return op_respond(st, r, resp);
}
