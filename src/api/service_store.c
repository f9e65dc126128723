/* service_store.c - the `mien` program's store commands that have no Rekognition operation, on
 * the public API: a collection's privacy policy (`mien collection policy`, docs/privacy.md) and
 * copying a store between locations (`mien store copy`, docs/cluster.md). Both are the store's
 * own functions behind mien.h's types, so the CLI needs no store header. */
#include <stdio.h>
#include <string.h>

#include "api/service_internal.h"
#include "util/util.h"

mien_status mien_service_policy(mien_service *svc, const char *coll, const char *set_json,
                                const char *const *remove, int nremove, mien_collection_policy *out,
                                char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (!svc->store)
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                     "a policy needs a store; this service was opened with no_store");
  mien_status st = MIEN_OK;
  if (set_json || nremove > 0) {
    cJSON *set = set_json ? cJSON_Parse(set_json) : cJSON_CreateObject();
    st = cJSON_IsObject(set) ? mien_store_set_tags(svc->store, svc->principal, "SetPolicy", coll,
                                                   set, remove, nremove, err, errlen)
                             : MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                                         "the policy's tags must be a JSON object");
    cJSON_Delete(set);
  }
  mien_policy p;
  if (st == MIEN_OK) st = mien_store_get_policy(svc->store, coll, &p, err, errlen);
  if (st != MIEN_OK) return st;
  snprintf(out->purpose, sizeof out->purpose, "%s", p.purpose);
  out->retention_days = p.retention_days;
  out->consent_required = p.consent_required;
  return MIEN_OK;
}

mien_status mien_store_copy_between(const char *from, const char *to, mien_copy_report *out,
                                    char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  _Static_assert(MIEN_COPY_TABLES <= sizeof out->table / sizeof *out->table, "tables fit");
  _Static_assert(sizeof out->table[0] == sizeof((mien_store_copy_report *)0)->table[0],
                 "names fit");
  mien_store_copy_report r;
  mien_status st = mien_store_copy(from, to, &r, err, errlen);
  if (st != MIEN_OK) return st;
  out->ntables = r.ntables;
  for (int t = 0; t < r.ntables; t++) {
    memcpy(out->table[t], r.table[t], sizeof out->table[t]);
    out->source_rows[t] = r.source_rows[t], out->target_rows[t] = r.target_rows[t];
  }
  out->counts_match = !r.mismatch;
  out->audit_records = r.audit_records;
  memcpy(out->audit_head, r.audit_head, sizeof out->audit_head);
  out->audit_valid = r.audit_valid;
  return MIEN_OK;
}

mien_status mien_service_find_image(mien_service *svc, const char *coll, const void *bytes,
                                    size_t len, int *found, char image_id[MIEN_UUID_LEN], char *err,
                                    size_t errlen) {
  *found = 0, image_id[0] = '\0';
  if (!svc->store)
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                     "finding an image needs a store; this service was opened with no_store");
  uint8_t sha[32];
  mien_sha256(bytes, len, sha);
  return mien_store_find_image(svc->store, coll, sha, found, image_id, err, errlen);
}
