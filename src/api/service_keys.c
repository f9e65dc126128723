/* service_keys.c - the access keys of mien.h's service: what `mien keys` and `mien serve` use
 * (the keys themselves live in the store: src/store/db_keys.c). Each call goes straight to the
 * store, so a key added or deleted through any node or process holding the same store counts on
 * every other as soon as it commits; the calls need no worker (no models). */
#include <stdio.h>

#include "api/service_internal.h"
#include "util/util.h"

/* The store of svc, or the reason there is none (opened with no_store). */
static mien_status key_store(mien_service *svc, mien_store **s, char *err, size_t errlen) {
  *s = svc->store;
  return *s ? MIEN_OK
            : MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                        "access keys need a store; this service was opened with no_store");
}

mien_status mien_service_access_key_add(mien_service *svc, const char *user, mien_access_key *key,
                                        char secret[MIEN_ACCESS_KEY_SECRET_LEN + 1], char *err,
                                        size_t errlen) {
  mien_store *s;
  mien_status st = key_store(svc, &s, err, errlen);
  return st == MIEN_OK
             ? mien_store_access_key_add(s, svc->principal, user, key, secret, err, errlen)
             : st;
}

mien_status mien_service_access_key_delete(mien_service *svc, const char *id, char *err,
                                           size_t errlen) {
  mien_store *s;
  mien_status st = key_store(svc, &s, err, errlen);
  return st == MIEN_OK ? mien_store_access_key_delete(s, svc->principal, id, err, errlen) : st;
}

mien_status mien_service_access_key_list(mien_service *svc, mien_access_key **keys, int *n,
                                         char *err, size_t errlen) {
  mien_store *s;
  *keys = NULL, *n = 0;
  mien_status st = key_store(svc, &s, err, errlen);
  return st == MIEN_OK ? mien_store_access_key_list(s, keys, n, err, errlen) : st;
}

mien_status mien_service_access_key_count(mien_service *svc, int64_t *n, char *err, size_t errlen) {
  mien_store *s;
  *n = 0;
  mien_status st = key_store(svc, &s, err, errlen);
  return st == MIEN_OK ? mien_store_access_key_count(s, n, err, errlen) : st;
}

mien_status mien_service_access_key_secret(mien_service *svc, const char *id,
                                           char secret[MIEN_ACCESS_KEY_SECRET_LEN + 1], int *found,
                                           char *err, size_t errlen) {
  mien_store *s;
  *found = 0;
  mien_status st = key_store(svc, &s, err, errlen);
  return st == MIEN_OK ? mien_store_access_key_secret(s, id, secret, found, err, errlen) : st;
}
