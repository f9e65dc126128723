/* test_people.c - proposed users (docs/people.md): the clustering of src/store/cluster.h on
 * synthetic templates (tests/people_synth.h; no data from ../shared needed), and ProposeUsers /
 * AcceptProposal through the operation table on a store holding such templates.
 *   - groups are pure and whole on well-separated identities;
 *   - no group ever holds two faces of one photo, even near-duplicates that would merge first;
 *   - updates (faces arriving in batches, removed, associated) give the groups a full pass gives,
 *     also when each may search only some of the new faces (a budget);
 *   - the operations: defaults, paging, errors, accepting (a user created, faces associated, one
 *     audit record), a suggested UserId for new faces near an existing user. */
#include <unistd.h>

#include "check.h"
#include "face/eval.h"
#include "op_call.h"
#include "people_synth.h"
#include "store/cluster.h"
#include "store/people.h"
#include "util/util.h"

#define DIM MIEN_EMBED_DIM

typedef struct {
  int n;
  float *emb;
  int *label, *image;
} synth_set;

/* ids identities x per faces; face i has image key image_of(i). */
static synth_set make_set(int ids, int per, double genuine_mean, unsigned short seed0) {
  synth_set s = {ids * per, malloc((size_t)ids * per * DIM * sizeof(float)),
                 malloc((size_t)ids * per * sizeof(int)), malloc((size_t)ids * per * sizeof(int))};
  unsigned short seed[3] = {seed0, 11, 12};
  float centre[DIM];
  double noise = synth_noise_for(genuine_mean);
  for (int i = 0; i < s.n; i++) {
    if (i % per == 0) synth_centre(seed, centre);
    synth_face(seed, centre, noise, s.emb + (size_t)i * DIM);
    s.label[i] = i / per, s.image[i] = i;
  }
  return s;
}

static void free_set(synth_set *s) {
  free(s->emb), free(s->label), free(s->image);
}

static mien_index *index_of(const synth_set *s) {
  mien_index *ix = mien_index_create(DIM);
  for (int i = 0; i < s->n; i++) CHECK(mien_index_add(ix, i + 1, s->emb + (size_t)i * DIM) == 0);
  return ix;
}

static mien_cluster *new_cluster(void) {
  float link = mien_similarity_cosine(MIEN_PEOPLE_THRESHOLD);
  mien_cluster_params p = {link, link - MIEN_PEOPLE_EDGE_MARGIN, MIEN_PEOPLE_NEIGHBOURS};
  mien_cluster *c = mien_cluster_create(&p);
  CHECK(c != NULL);
  return c;
}

/* A full pass over faces 0..n-1 of s (those with keep[i], all when keep is NULL). */
static void full_pass(const synth_set *s, const mien_index *ix, const int *keep,
                      const uint64_t *owner, int64_t *group) {
  mien_cluster *c = new_cluster();
  for (int i = 0; i < s->n; i++)
    if (!keep || keep[i])
      CHECK(mien_cluster_put(c, i + 1, (uint64_t)s->image[i] + 1, owner ? owner[i] : 0) == 0);
  CHECK(mien_cluster_update(c, ix, 0, 0, NULL) == 0);
  for (int i = 0; i < s->n; i++) group[i] = mien_cluster_group_of(c, i + 1);
  mien_cluster_free(c);
}

static void pure_groups(void) {
  synth_set s = make_set(60, 8, 0.7, 1);
  mien_index *ix = index_of(&s);
  int64_t *group = malloc((size_t)s.n * sizeof *group);
  full_pass(&s, ix, NULL, NULL, group);
  int mixed = 0, split = 0;
  for (int i = 0; i < s.n; i++) {
    CHECK(group[i] > 0);
    /* a group is named by its least face id: that face's label is the group's */
    mixed += s.label[group[i] - 1] != s.label[i];
    split += group[i] != group[s.label[i] * 8];
  }
  CHECK_MSG(mixed == 0, "%d faces grouped with another identity", mixed);
  CHECK_MSG(split <= s.n / 50, "%d faces split from their identity", split);
  /* groups(): every face once, groups by name, ids ascending */
  int64_t *ids, *start, ng;
  mien_cluster *c = new_cluster();
  for (int i = 0; i < s.n; i++) mien_cluster_put(c, i + 1, (uint64_t)i + 1, 0);
  CHECK(mien_cluster_update(c, ix, 1, 0, NULL) == 0);
  CHECK(mien_cluster_groups(c, &ids, &start, &ng) == 0);
  CHECK(start[ng] == s.n && ng >= 60 && ng <= 60 + s.n / 50);
  for (int64_t g = 0; g < ng; g++) {
    CHECK(ids[start[g]] == mien_cluster_group_of(c, ids[start[g]]));
    for (int64_t i = start[g] + 1; i < start[g + 1]; i++) CHECK(ids[i] > ids[i - 1]);
    float cohesion;
    int64_t rep;
    CHECK(mien_cluster_describe(ix, ids + start[g], start[g + 1] - start[g], &cohesion, &rep) == 0);
    CHECK(cohesion > 0.5f && cohesion <= 1.0001f);
    CHECK(mien_cluster_group_of(c, rep) == ids[start[g]]);
  }
  free(ids), free(start);
  mien_cluster_free(c);
  free(group);
  mien_index_free(ix);
  free_set(&s);
}

/* Faces 2k and 2k+1 are near-duplicates (genuine mean 0.95) from one photo: the closest pairs
 * of all, so they would merge first; no group may hold both. */
static void one_face_per_photo(void) {
  synth_set s = make_set(40, 6, 0.95, 2);
  for (int i = 0; i < s.n; i++) s.image[i] = i / 2;
  mien_index *ix = index_of(&s);
  int64_t *group = malloc((size_t)s.n * sizeof *group);
  full_pass(&s, ix, NULL, NULL, group);
  int together = 0;
  for (int i = 0; i < s.n; i += 2) together += group[i] == group[i + 1];
  CHECK_MSG(together == 0, "%d photos have two faces in one group", together);
  /* the check can fail: with a photo each, those pairs do group */
  for (int i = 0; i < s.n; i++) s.image[i] = i;
  full_pass(&s, ix, NULL, NULL, group);
  together = 0;
  for (int i = 0; i < s.n; i += 2) together += group[i] == group[i + 1];
  CHECK(together > s.n / 4);
  free(group);
  mien_index_free(ix);
  free_set(&s);
}

/* Faces arrive in shuffled batches, some are removed and some associated with users between
 * updates; the groups after each update equal a full pass over the faces present. */
static void incremental_equals_full(void) {
  /* overlapping identities (genuine mean 0.5) make parts that merge and split */
  synth_set s = make_set(150, 6, 0.5, 3);
  mien_index *ix = index_of(&s);
  int *order = malloc((size_t)s.n * sizeof *order), *keep = calloc((size_t)s.n, sizeof *keep);
  uint64_t *owner = calloc((size_t)s.n, sizeof *owner);
  int64_t *full = malloc((size_t)s.n * sizeof *full);
  unsigned short seed[3] = {9, 9, 9};
  for (int i = 0; i < s.n; i++) order[i] = i;
  for (int i = s.n - 1; i > 0; i--) {
    int j = (int)(erand48(seed) * (i + 1)), t = order[i];
    order[i] = order[j], order[j] = t;
  }
  mien_cluster *c = new_cluster();
  const int batches[] = {400, 1, 37, 100, 200, 162};
  int at = 0;
  for (size_t b = 0; b < sizeof batches / sizeof *batches; b++) {
    for (int k = 0; k < batches[b] && at < s.n; k++, at++) {
      int i = order[at];
      keep[i] = 1;
      CHECK(mien_cluster_put(c, i + 1, (uint64_t)s.image[i] + 1, owner[i]) == 0);
    }
    if (b == 2 || b == 4) /* remove every 7th face present, associate every 11th */
      for (int i = 0; i < s.n; i++) {
        if (keep[i] && i % 7 == 0) keep[i] = 0, mien_cluster_remove(c, i + 1);
        if (keep[i] && i % 11 == 0) {
          owner[i] = 1 + (uint64_t)s.label[i] % 3;
          CHECK(mien_cluster_put(c, i + 1, (uint64_t)s.image[i] + 1, owner[i]) == 0);
        }
      }
    mien_cluster_stats st;
    CHECK(mien_cluster_update(c, ix, 2, 0, &st) == 0);
    CHECK(st.saturated == 0); /* no documented tie case in this data */
    if (b > 0) CHECK_MSG(st.regrouped < mien_cluster_count(c), "update %zu regrouped all", b);
    full_pass(&s, ix, keep, owner, full);
    int differ = 0;
    for (int i = 0; i < s.n; i++) differ += mien_cluster_group_of(c, i + 1) != full[i];
    CHECK_MSG(differ == 0, "update %zu: %d faces grouped differently from a full pass", b, differ);
  }
  /* owners: faces of two users never share a group */
  int64_t *ids, *start, ng;
  CHECK(mien_cluster_groups(c, &ids, &start, &ng) == 0);
  for (int64_t g = 0; g < ng; g++) {
    uint64_t seen = 0;
    for (int64_t i = start[g]; i < start[g + 1]; i++) {
      uint64_t o = owner[ids[i] - 1];
      CHECK(!(o && seen && o != seen));
      if (o) seen = o;
    }
  }
  free(ids), free(start);
  mien_cluster_free(c);
  free(order), free(keep), free(owner), free(full);
  mien_index_free(ix);
  free_set(&s);
}

/* An update searching at most 100 faces leaves the rest pending; updates go on until none is,
 * and the groups are then a full pass's. */
static void budgeted_updates(void) {
  synth_set s = make_set(90, 10, 0.6, 5);
  mien_index *ix = index_of(&s);
  int64_t *full = malloc((size_t)s.n * sizeof *full);
  full_pass(&s, ix, NULL, NULL, full);
  mien_cluster *c = new_cluster();
  for (int i = 0; i < s.n; i++) mien_cluster_put(c, i + 1, (uint64_t)i + 1, 0);
  mien_cluster_stats st;
  int updates = 0;
  do {
    CHECK(mien_cluster_update(c, ix, 0, 100, &st) == 0);
    CHECK(st.searched == 100);
    CHECK(st.pending == s.n - 100 * ++updates);
  } while (st.pending > 0 && updates < 20);
  CHECK(updates == 9);
  int differ = 0;
  for (int i = 0; i < s.n; i++) differ += mien_cluster_group_of(c, i + 1) != full[i];
  CHECK_MSG(differ == 0, "%d faces grouped differently from a full pass", differ);
  mien_cluster_free(c);
  free(full);
  mien_index_free(ix);
  free_set(&s);
}

/* ---- the operations ---- */

typedef struct {
  char dir[64], err[1024];
  mien_api api;
  mien_status st;
} fixture;

OP_FIXTURE_CALL(call, fixture)

/* Indexes face i of s as a photo of its own (content hash from i and salt). */
static void index_face(fixture *f, const synth_set *s, int i, int salt) {
  uint8_t sha[32];
  int key[2] = {i, salt};
  mien_sha256(key, sizeof key, sha);
  mien_new_face nf = {0.1f, 0.2f, 0.3f, 0.4f, 99.0f, s->emb + (size_t)i * DIM};
  char image_id[MIEN_UUID_LEN], face_id[1][MIEN_UUID_LEN];
  CHECK(mien_store_index_image(f->api.store, "album", sha, NULL, &nf, 1, image_id, face_id, f->err,
                               sizeof f->err) == MIEN_OK);
}

static int count_accepts(void *ctx, const char *record) {
  *(int *)ctx += strstr(record, "\"AcceptProposal\"") != NULL;
  return 0;
}

/* The AcceptProposal records of the audit log. */
static int audit_accepts(const char *dir) {
  int n = 0;
  char err[256];
  CHECK(mien_audit_export(dir, 0, count_accepts, &n, err, sizeof err) == MIEN_OK);
  return n;
}

static void operations(void) {
  if (!file_exists("models/fr_feature.onnx")) TEST_SKIP("no models (make models)");
  fixture f = {.dir = "/tmp/mien_test_people_XXXXXX"};
  CHECK(mkdtemp(f.dir) != NULL);
  CHECK(mien_store_open(f.dir, &f.api.store, f.err, sizeof f.err) == MIEN_OK);
  cJSON_Delete(call(&f, "CreateCollection", "{\"CollectionId\":\"album\"}"));
  synth_set s = make_set(5, 6, 0.7, 4); /* 4 faces of each indexed now, 2 later */
  for (int i = 0; i < s.n; i++)
    if (i % 6 < 4) index_face(&f, &s, i, 0);
  cJSON *r = call(&f, "ProposeUsers", "{\"CollectionId\":\"album\"}");
  cJSON *props = cJSON_GetObjectItem(r, "ProposedUsers");
  CHECK_MSG(cJSON_GetArraySize(props) == 5, "%d proposals", cJSON_GetArraySize(props));
  cJSON *p;
  cJSON_ArrayForEach(p, props) {
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(p, "FaceIds")) == 4);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(p, "Faces")) == 4);
    CHECK(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(p, "ProposalId"))) == 32);
    CHECK(cJSON_GetStringValue(cJSON_GetObjectItem(p, "RepresentativeFaceId")) != NULL);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(p, "Cohesion")) > 50);
    CHECK(!cJSON_GetObjectItem(p, "UserId"));
  }
  CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(r, "FacesPending")) == 0);
  /* paging: 2 + 2 + 1, the same proposals in the same order */
  cJSON *p1 = call(&f, "ProposeUsers", "{\"CollectionId\":\"album\",\"MaxResults\":2}");
  const char *tok = cJSON_GetStringValue(cJSON_GetObjectItem(p1, "NextToken"));
  CHECK(tok != NULL);
  cJSON *p2 = call(&f, "ProposeUsers",
                   "{\"CollectionId\":\"album\",\"MaxResults\":2,"
                   "\"NextToken\":\"%s\"}",
                   tok ? tok : "");
  CHECK(!strcmp(
      cJSON_GetStringValue(cJSON_GetObjectItem(
          cJSON_GetArrayItem(cJSON_GetObjectItem(p2, "ProposedUsers"), 0), "ProposalId")),
      cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(props, 2), "ProposalId"))));
  cJSON_Delete(p1), cJSON_Delete(p2);
  /* MinFaces 5: none */
  cJSON *none = call(&f, "ProposeUsers", "{\"CollectionId\":\"album\",\"MinFaces\":5}");
  CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(none, "ProposedUsers")) == 0);
  cJSON_Delete(none);
  const struct {
    mien_status st;
    const char *op, *body;
  } bad[] = {
      {MIEN_ERR_INVALID_PARAMETER, "ProposeUsers", "{\"CollectionId\":\"album\",\"MinFaces\":0}"},
      {MIEN_ERR_INVALID_PARAMETER, "ProposeUsers",
       "{\"CollectionId\":\"album\",\"FaceMatchThreshold\":101}"},
      {MIEN_ERR_PAGINATION_TOKEN, "ProposeUsers",
       "{\"CollectionId\":\"album\",\"NextToken\":\"x\"}"},
      {MIEN_ERR_PAGINATION_TOKEN, "ProposeUsers",
       "{\"CollectionId\":\"album\",\"NextToken\":\"99\"}"},
      {MIEN_ERR_RESOURCE_NOT_FOUND, "ProposeUsers", "{\"CollectionId\":\"nope\"}"},
      {MIEN_ERR_INVALID_PARAMETER, "AcceptProposal",
       "{\"CollectionId\":\"album\",\"ProposalId\":\"xyz\",\"UserId\":\"a\"}"},
      {MIEN_ERR_RESOURCE_NOT_FOUND, "AcceptProposal",
       "{\"CollectionId\":\"album\",\"ProposalId\":\"0123456789abcdef0123456789abcdef\","
       "\"UserId\":\"a\"}"},
      {MIEN_ERR_INVALID_PARAMETER, "AcceptProposal",
       "{\"CollectionId\":\"album\",\"ProposalId\":\"0123456789abcdef0123456789abcdef\"}"},
      /* FaceIds are checked before any proposal is looked for */
      {MIEN_ERR_INVALID_PARAMETER, "AcceptProposal",
       "{\"CollectionId\":\"album\",\"ProposalId\":\"0123456789abcdef0123456789abcdef\","
       "\"UserId\":\"a\",\"FaceIds\":\"x\"}"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    cJSON *e = call(&f, bad[i].op, "%s", bad[i].body);
    CHECK_MSG(!e && f.st == bad[i].st, "%s %s: %s (%s)", bad[i].op, bad[i].body,
              mien_status_name(f.st), f.err);
    cJSON_Delete(e);
  }
  /* accept the first, splitting off one face: 3 faces to new user alice */
  cJSON *first = cJSON_GetArrayItem(props, 0);
  const char *pid = cJSON_GetStringValue(cJSON_GetObjectItem(first, "ProposalId"));
  cJSON *fids = cJSON_GetObjectItem(first, "FaceIds");
  char kept[3][MIEN_UUID_LEN];
  for (int i = 0; i < 3; i++)
    snprintf(kept[i], sizeof kept[i], "%s", cJSON_GetStringValue(cJSON_GetArrayItem(fids, i)));
  cJSON *other = call(&f, "AcceptProposal",
                      "{\"CollectionId\":\"album\",\"ProposalId\":\"%s\",\"UserId\":\"alice\","
                      "\"FaceIds\":[\"%s\"]}",
                      pid,
                      cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(props, 1),
                                                               "RepresentativeFaceId")));
  CHECK(!other && f.st == MIEN_ERR_INVALID_PARAMETER); /* a face of another proposal */
  cJSON *a = call(&f, "AcceptProposal",
                  "{\"CollectionId\":\"album\",\"ProposalId\":\"%s\",\"UserId\":\"alice\","
                  "\"FaceIds\":[\"%s\",\"%s\",\"%s\"]}",
                  pid, kept[0], kept[1], kept[2]);
  CHECK_MSG(a != NULL, "%s", f.err);
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(a, "UserCreated")));
  CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(a, "AssociatedFaces")) == 3);
  CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(a, "UserStatus")), "ACTIVE"));
  cJSON_Delete(a);
  CHECK(audit_accepts(f.dir) == 1);
  int ident = -1, more, n; /* which identity alice is */
  mien_face_record *rec = malloc(sizeof *rec);
  CHECK(mien_store_list_faces(f.api.store, "album", 0, 1, "alice", 1, rec, &n, &more, f.err,
                              sizeof f.err) == MIEN_OK);
  for (int i = 0; n == 1 && i < s.n; i++)
    if (!memcmp(rec->emb, s.emb + (size_t)i * DIM, DIM * sizeof(float))) ident = i / 6;
  free(rec);
  CHECK(ident >= 0);
  cJSON_Delete(r);
  /* the split-off face stays proposed to alice; alice's 2 new faces join her too */
  index_face(&f, &s, ident * 6 + 4, 1);
  index_face(&f, &s, ident * 6 + 5, 1);
  r = call(&f, "ProposeUsers", "{\"CollectionId\":\"album\"}");
  props = cJSON_GetObjectItem(r, "ProposedUsers");
  int to_alice = 0;
  cJSON_ArrayForEach(p, props) {
    const char *u = cJSON_GetStringValue(cJSON_GetObjectItem(p, "UserId"));
    if (!u) continue;
    CHECK(!strcmp(u, "alice"));
    to_alice++;
    CHECK_MSG(cJSON_GetArraySize(cJSON_GetObjectItem(p, "FaceIds")) == 3, "%d faces for alice",
              cJSON_GetArraySize(cJSON_GetObjectItem(p, "FaceIds")));
    cJSON *b = call(&f, "AcceptProposal",
                    "{\"CollectionId\":\"album\",\"ProposalId\":\"%s\",\"UserId\":\"alice\"}",
                    cJSON_GetStringValue(cJSON_GetObjectItem(p, "ProposalId")));
    CHECK_MSG(b && cJSON_IsFalse(cJSON_GetObjectItem(b, "UserCreated")), "%s", f.err);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(b, "AssociatedFaces")) == 3);
    cJSON_Delete(b);
  }
  CHECK(to_alice == 1);
  CHECK(cJSON_GetArraySize(props) == 5);
  cJSON_Delete(r);
  r = call(&f, "ProposeUsers", "{\"CollectionId\":\"album\"}");
  CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(r, "ProposedUsers")) == 4);
  cJSON_Delete(r);
  CHECK(audit_accepts(f.dir) == 2);
  mien_store_close(f.api.store);
  char cmd[100];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", f.dir);
  CHECK(system(cmd) == 0);
  free_set(&s);
}

int main(void) {
  RUN(pure_groups);
  RUN(one_face_per_photo);
  RUN(incremental_equals_full);
  RUN(budgeted_updates);
  RUN(operations);
  return check_summary();
}
