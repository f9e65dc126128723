/* policy.c - each collection's privacy policy and its enforcement: purpose, retention and
 * consent, kept in the collection's tags under mien: keys (docs/privacy.md lists them). Tags
 * are what Rekognition already has for CreateCollection and TagResource, so unmodified
 * aws-cli/boto3 code can state a policy, and the policy travels with the collection row: one
 * source of truth that SQL can read (a LIKE on the tags' text) when it looks for collections to
 * purge.
 *
 * Every write of tags goes through mien_policy_from_tags, which refuses unknown mien: keys: a
 * mistyped "mien:retention" must fail loudly rather than leave faces kept forever.
 *
 * Retention counts from when a face was indexed. A purge deletes, in one transaction per
 * collection with its audit record, the faces older than the retention, the images left
 * without faces (their ExternalImageId and content hash are personal data too) and the users
 * created before it that have no faces left; then the WAL is truncated so no deleted bytes
 * remain. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"
#include "util/util.h"

#define TAG_PREFIX "mien:"
#define DAY_SECONDS 86400.0

static mien_status bad_tag(const char *key, const char *why, char *err, size_t errlen) {
  return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER, "tag %s: %s", key, why);
}

mien_status mien_policy_from_tags(const cJSON *tags, mien_policy *p, char *err, size_t errlen) {
  mien_policy local;
  if (!p) p = &local;
  memset(p, 0, sizeof *p);
  if (!cJSON_IsObject(tags))
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER, "Tags must be an object");
  const cJSON *v;
  cJSON_ArrayForEach(v, tags) {
    if (strncmp(v->string, TAG_PREFIX, strlen(TAG_PREFIX))) continue;
    const char *k = v->string + strlen(TAG_PREFIX), *val = v->valuestring;
    if (!cJSON_IsString(v)) return bad_tag(v->string, "the value must be a string", err, errlen);
    /* A policy key given twice would have one copy read here and the other edited by
     * TagResource/UntagResource: a policy must mean one thing. */
    if (cJSON_GetObjectItemCaseSensitive(tags, v->string) != v)
      return bad_tag(v->string, "the key is given twice", err, errlen);
    if (!strcmp(k, "purpose")) {
      if (!*val || strlen(val) > 256)
        return bad_tag(v->string, "the purpose must have 1 to 256 characters", err, errlen);
      snprintf(p->purpose, sizeof p->purpose, "%s", val);
    } else if (!strcmp(k, "retention-days")) {
      long days = 0;
      size_t n = strspn(val, "0123456789");
      if (n > 0 && n < 7 && !val[n]) days = strtol(val, NULL, 10);
      if (days < 1 || days > MIEN_RETENTION_DAYS_MAX)
        return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                         "tag %s: '%.40s' is not a number of days from 1 to %d", v->string, val,
                         MIEN_RETENTION_DAYS_MAX);
      p->retention_days = (int)days;
    } else if (!strcmp(k, "consent")) {
      if (strcmp(val, "required") && strcmp(val, "none"))
        return bad_tag(v->string, "the value must be required or none", err, errlen);
      p->consent_required = !strcmp(val, "required");
    } else {
      return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                       "unknown tag key %.140s: the mien: keys are mien:purpose, "
                       "mien:retention-days and mien:consent",
                       v->string);
    }
  }
  return MIEN_OK;
}

size_t mien_consent_ref(const char *external_id) {
  size_t plen = strlen(MIEN_CONSENT_PREFIX);
  if (!external_id || strncmp(external_id, MIEN_CONSENT_PREFIX, plen)) return 0;
  const char *ref = external_id + plen;
  size_t n = 0;
  while (isalnum((unsigned char)ref[n]) || ref[n] == '_' || ref[n] == '.' || ref[n] == '-') n++;
  return ref[n] == '\0' || ref[n] == ':' ? n : 0;
}

mien_status db_consent(const mien_policy *p, const char *coll, const char *external_id, char *err,
                       size_t errlen) {
  if (!p->consent_required || mien_consent_ref(external_id)) return MIEN_OK;
  return MIEN_FAIL(err, errlen, MIEN_ERR_ACCESS_DENIED,
                   "collection %s requires consent: give ExternalImageId as %s<reference> or "
                   "%s<reference>:<your id>, the reference naming the subject's consent record",
                   coll, MIEN_CONSENT_PREFIX, MIEN_CONSENT_PREFIX);
}

mien_status mien_store_check_consent(mien_store *s, const char *coll, const char *external_id,
                                     char *err, size_t errlen) {
  mien_policy p;
  mien_status st = mien_store_get_policy(s, coll, &p, err, errlen);
  return st == MIEN_OK ? db_consent(&p, coll, external_id, err, errlen) : st;
}

cJSON *db_policy_json(const mien_policy *p) {
  cJSON *o = cJSON_CreateObject();
  if (p->purpose[0])
    cJSON_AddStringToObject(o, "purpose", p->purpose);
  else
    cJSON_AddNullToObject(o, "purpose");
  if (p->retention_days)
    cJSON_AddNumberToObject(o, "retention_days", p->retention_days);
  else
    cJSON_AddNullToObject(o, "retention_days");
  cJSON_AddStringToObject(o, "consent", p->consent_required ? "required" : "none");
  return o;
}

/* The tags of collection row crow, parsed (mutex held). */
static mien_status read_tags(mien_store *s, int64_t crow, cJSON **tags, char *err, size_t errlen) {
  db_stmt *q;
  *tags = NULL;
  mien_status st = db_prepare(s, "SELECT tags FROM collections WHERE id = ?", &q, err, errlen);
  if (st != MIEN_OK) return st;
  db_bind_int64(q, 1, crow);
  int rc = db_step(q);
  if (rc == DB_ROW)
    *tags = cJSON_Parse(db_column_text(q, 0));
  else if (rc == DB_DONE)
    st = MIEN_FAIL(err, errlen, MIEN_ERR_RESOURCE_NOT_FOUND, "the collection was deleted");
  else
    st = db_fail(s, "reading tags", err, errlen);
  db_finalize(q);
  if (st == MIEN_OK && !cJSON_IsObject(*tags)) {
    cJSON_Delete(*tags);
    *tags = NULL;
    st = MIEN_FAIL(err, errlen, MIEN_ERR_IO, "collection row %lld has corrupt tags",
                   (long long)crow);
  }
  return st;
}

mien_status db_policy(mien_store *s, int64_t crow, mien_policy *p, char *err, size_t errlen) {
  cJSON *tags;
  mien_status st = read_tags(s, crow, &tags, err, errlen);
  if (st == MIEN_OK) st = mien_policy_from_tags(tags, p, err, errlen);
  cJSON_Delete(tags);
  return st;
}

mien_status mien_store_get_policy(mien_store *s, const char *coll, mien_policy *p, char *err,
                                  size_t errlen) {
  int64_t crow;
  pthread_mutex_lock(&s->mu);
  mien_status st = db_collection_row(s, coll, &crow, err, errlen);
  if (st == MIEN_OK) st = db_policy(s, crow, p, err, errlen);
  pthread_mutex_unlock(&s->mu);
  return st;
}

mien_status mien_store_get_tags(mien_store *s, const char *coll, char **json, char *err,
                                size_t errlen) {
  int64_t crow;
  cJSON *tags = NULL;
  *json = NULL;
  pthread_mutex_lock(&s->mu);
  mien_status st = db_collection_row(s, coll, &crow, err, errlen);
  if (st == MIEN_OK) st = read_tags(s, crow, &tags, err, errlen);
  pthread_mutex_unlock(&s->mu);
  if (st == MIEN_OK && !(*json = cJSON_PrintUnformatted(tags)))
    st = MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  cJSON_Delete(tags);
  return st;
}

/* ---- retention ---- */

/* Runs sql bound to (crow[, cutoff]); *changes gets the rows it changed. */
static mien_status run_cutoff(mien_store *s, const char *sql, int64_t crow, double cutoff,
                              int64_t *changes, char *err, size_t errlen) {
  db_stmt *q;
  mien_status st = db_prepare(s, sql, &q, err, errlen);
  if (st != MIEN_OK) return st;
  db_bind_int64(q, 1, crow);
  if (db_bind_parameter_count(q) == 2) db_bind_double(q, 2, cutoff);
  if (db_step(q) != DB_DONE) st = db_fail(s, "purging", err, errlen);
  *changes = db_changes(s);
  db_finalize(q);
  return st;
}

/* The face rows past the cutoff, for the index (malloc'ed into *rows). */
static mien_status expired_rows(mien_store *s, int64_t crow, double cutoff, int64_t **rows,
                                int64_t *n, char *err, size_t errlen) {
  db_stmt *q;
  int64_t cap = 0;
  mien_status st =
      db_prepare(s, "SELECT id FROM faces WHERE collection = ? AND created < ?", &q, err, errlen);
  if (st != MIEN_OK) return st;
  db_bind_int64(q, 1, crow);
  db_bind_double(q, 2, cutoff);
  int rc;
  while (st == MIEN_OK && (rc = db_step(q)) == DB_ROW) {
    if (*n == cap) {
      int64_t *r = realloc(*rows, (size_t)(cap = cap ? 2 * cap : 64) * sizeof *r);
      if (!r) {
        st = MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
        break;
      }
      *rows = r;
    }
    (*rows)[(*n)++] = db_column_int64(q, 0);
  }
  if (st == MIEN_OK && rc != DB_DONE) st = db_fail(s, "finding expired faces", err, errlen);
  db_finalize(q);
  return st;
}

/* The SQL of a purge of collection row crow within its transaction. */
static mien_status purge_rows(mien_store *s, int64_t crow, const char *name, int64_t **rows,
                              int64_t *n, char *err, size_t errlen) {
  mien_policy p;
  int64_t faces = 0, images = 0, users = 0, touched = 0;
  mien_status st = db_policy(s, crow, &p, err, errlen);
  if (st != MIEN_OK || !p.retention_days) return st;
  double cutoff = db_now() - p.retention_days * DAY_SECONDS;
  st = expired_rows(s, crow, cutoff, rows, n, err, errlen);
  if (st == MIEN_OK)
    st = run_cutoff(s, "DELETE FROM faces WHERE collection = ?1 AND created < ?2", crow, cutoff,
                    &faces, err, errlen);
  if (st == MIEN_OK)
    st = run_cutoff(s,
                    "DELETE FROM images WHERE collection = ?1 AND created < ?2 AND NOT EXISTS"
                    " (SELECT 1 FROM faces f WHERE f.image = images.id)",
                    crow, cutoff, &images, err, errlen);
  if (st == MIEN_OK)
    st = run_cutoff(s,
                    "DELETE FROM users WHERE collection = ?1 AND created < ?2 AND NOT EXISTS"
                    " (SELECT 1 FROM faces f WHERE f.user = users.id)",
                    crow, cutoff, &users, err, errlen);
  if (st == MIEN_OK && faces)
    st = run_cutoff(s,
                    "UPDATE users SET status = 'CREATED' WHERE collection = ?1 AND"
                    " status = 'ACTIVE' AND NOT EXISTS (SELECT 1 FROM faces f"
                    " WHERE f.user = users.id)",
                    crow, cutoff, &touched, err, errlen);
  if (st == MIEN_OK && faces + images + users) {
    cJSON *f = cJSON_CreateObject();
    cJSON_AddNumberToObject(f, "faces", (double)faces);
    cJSON_AddNumberToObject(f, "images", (double)images);
    cJSON_AddNumberToObject(f, "users", (double)users);
    cJSON_AddNumberToObject(f, "retention_days", p.retention_days);
    st = db_audit(s, "retention", "Purge", name, f, err, errlen);
  }
  return st;
}

/* Purges collection `name` past its retention; *purged += the faces deleted. */
static mien_status purge_collection(mien_store *s, const char *name, int64_t *purged, char *err,
                                    size_t errlen) {
  mien_coll *c;
  mien_status st = db_coll(s, name, 0, 0, &c, err, errlen);
  if (st == MIEN_ERR_RESOURCE_NOT_FOUND) return MIEN_OK; /* deleted meanwhile */
  if (st != MIEN_OK) return st;
  int64_t *rows = NULL, n = 0;
  pthread_rwlock_wrlock(&c->lock);
  if (!c->dead) {
    pthread_mutex_lock(&s->mu);
    st = db_exec(s, "BEGIN IMMEDIATE", err, errlen);
    if (st == MIEN_OK) {
      st = purge_rows(s, c->id, name, &rows, &n, err, errlen);
      st = db_finish(s, st, err, errlen);
      if (st == MIEN_ERR_RESOURCE_NOT_FOUND) st = MIEN_OK, n = 0; /* by another process */
    }
    if (st == MIEN_OK && n) db_erase(s);
    pthread_mutex_unlock(&s->mu);
  }
  if (st == MIEN_OK && n) db_ann_forget(s, c); /* its codes must not stay */
  if (st == MIEN_OK && c->ix)
    for (int64_t i = 0; i < n; i++) mien_index_remove(c->ix, rows[i]);
  pthread_rwlock_unlock(&c->lock);
  free(rows);
  if (st == MIEN_OK) *purged += n;
  return st;
}

int64_t mien_store_purged_at_open(const mien_store *s) {
  return s->purged_at_open;
}

mien_status mien_store_purge_expired(mien_store *s, int64_t *purged, char *err, size_t errlen) {
  *purged = 0;
  char **names = NULL;
  int n = 0, cap = 0;
  db_stmt *q = NULL;
  pthread_mutex_lock(&s->mu);
  /* A first sieve in SQL both engines read alike; purge_collection reads the policy itself. */
  mien_status st = db_prepare(s,
                              "SELECT name FROM collections WHERE"
                              " tags LIKE '%\"mien:retention-days\"%'",
                              &q, err, errlen);
  int rc = DB_DONE;
  while (st == MIEN_OK && (rc = db_step(q)) == DB_ROW) {
    if (n == cap) {
      char **v = realloc(names, (size_t)(cap = cap ? 2 * cap : 16) * sizeof *v);
      if (!v) {
        st = MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
        break;
      }
      names = v;
    }
    if (!(names[n] = strdup(db_column_text(q, 0))))
      st = MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
    else
      n++;
  }
  if (st == MIEN_OK && rc != DB_DONE) st = db_fail(s, "finding retention", err, errlen);
  db_finalize(q);
  pthread_mutex_unlock(&s->mu);
  for (int i = 0; i < n; i++) {
    if (st == MIEN_OK) st = purge_collection(s, names[i], purged, err, errlen);
    free(names[i]);
  }
  free(names);
  if (st == MIEN_OK && s->db->is_pg) { /* the change feed's old rows (follow.c) */
    pthread_mutex_lock(&s->mu);
    st = db_exec(s,
                 "DELETE FROM changes WHERE created < extract(epoch FROM clock_timestamp()) - "
                 "86400",
                 err, errlen);
    pthread_mutex_unlock(&s->mu);
  }
  return st;
}

/* ---- changing tags ---- */

/* Applies set and remove to tags and checks the result. */
static mien_status edit_tags(cJSON *tags, const cJSON *set, const char *const *remove, int nremove,
                             mien_policy *p, char *err, size_t errlen) {
  const cJSON *v;
  cJSON_ArrayForEach(v, set) {
    cJSON *copy = cJSON_Duplicate(v, 1);
    if (!copy) return MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
    if (cJSON_GetObjectItemCaseSensitive(tags, v->string))
      cJSON_ReplaceItemInObjectCaseSensitive(tags, v->string, copy);
    else
      cJSON_AddItemToObject(tags, v->string, copy);
  }
  for (int i = 0; i < nremove; i++) cJSON_DeleteItemFromObjectCaseSensitive(tags, remove[i]);
  if (cJSON_GetArraySize(tags) > MIEN_TAGS_MAX)
    return MIEN_FAIL(err, errlen, MIEN_ERR_QUOTA, "a collection may have at most %d tags",
                     MIEN_TAGS_MAX);
  return mien_policy_from_tags(tags, p, err, errlen);
}

mien_status mien_store_set_tags(mien_store *s, const char *principal, const char *op,
                                const char *coll, const cJSON *set, const char *const *remove,
                                int nremove, char *err, size_t errlen) {
  int64_t crow;
  cJSON *tags = NULL;
  mien_policy p;
  char *text = NULL;
  db_stmt *q = NULL;
  pthread_mutex_lock(&s->mu);
  mien_status st = db_exec(s, "BEGIN IMMEDIATE", err, errlen);
  if (st != MIEN_OK) {
    pthread_mutex_unlock(&s->mu);
    return st;
  }
  st = db_collection_row(s, coll, &crow, err, errlen);
  if (st == MIEN_OK) st = read_tags(s, crow, &tags, err, errlen);
  if (st == MIEN_OK) st = edit_tags(tags, set, remove, nremove, &p, err, errlen);
  if (st == MIEN_OK && !(text = cJSON_PrintUnformatted(tags)))
    st = MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  if (st == MIEN_OK)
    st = db_prepare(s, "UPDATE collections SET tags = ? WHERE id = ?", &q, err, errlen);
  if (st == MIEN_OK) {
    db_bind_text(q, 1, text);
    db_bind_int64(q, 2, crow);
    if (db_step(q) != DB_DONE) st = db_fail(s, "writing tags", err, errlen);
  }
  db_finalize(q);
  if (st == MIEN_OK) st = db_audit(s, principal, op, coll, db_policy_json(&p), err, errlen);
  st = db_finish(s, st, err, errlen);
  pthread_mutex_unlock(&s->mu);
  free(text);
  cJSON_Delete(tags);
  int64_t purged = 0;
  if (st == MIEN_OK && p.retention_days) st = purge_collection(s, coll, &purged, err, errlen);
  return st;
}
