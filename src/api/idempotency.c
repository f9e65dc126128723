/* idempotency.c - Rekognition's ClientRequestToken for the operations that take one (CreateUser,
 * DeleteUser, AssociateFaces, DisassociateFaces; later the video Start* jobs). The same token
 * with the same request answers the first response, whatever happened since (a retried
 * CreateUser after a lost response is not a ConflictException, a replayed DeleteUser not a
 * ResourceNotFoundException); with another request, IdempotentParameterMismatchException. The
 * request is compared by the SHA-256 of its canonical form: the JSON without the token, object
 * keys sorted at every level, printed without spaces, so that clients that order or space fields
 * differently still match. The store keeps the records (store.h, src/store/idempotency.c). */
#include <stdlib.h>
#include <string.h>

#include "api/ops.h"
#include "util/util.h"

static int by_key(const void *a, const void *b) {
  return strcmp((*(cJSON *const *)a)->string, (*(cJSON *const *)b)->string);
}

/* Sorts the members of every object in j by key, in place; 0, or -1 when out of memory. */
static int sort_keys(cJSON *j) {
  int n = cJSON_GetArraySize(j);
  if (n == 0) return 0;
  cJSON **items = malloc((size_t)n * sizeof *items), *c;
  if (!items) return -1;
  int i = 0, rc = 0;
  cJSON_ArrayForEach(c, j) {
    items[i++] = c;
    if ((cJSON_IsObject(c) || cJSON_IsArray(c)) && sort_keys(c) != 0) rc = -1;
  }
  if (cJSON_IsObject(j)) {
    qsort(items, (size_t)n, sizeof *items, by_key);
    for (i = 0; i < n; i++) {
      items[i]->prev = i ? items[i - 1] : items[n - 1]; /* cJSON: the head's prev is the tail */
      items[i]->next = i + 1 < n ? items[i + 1] : NULL;
    }
    j->child = items[0];
  }
  free(items);
  return rc;
}

/* The SHA-256 of req's canonical form without the token. */
static mien_status request_hash(const cJSON *req, uint8_t out[32], char *err, size_t errlen) {
  cJSON *copy = cJSON_Duplicate(req, 1);
  char *text = NULL;
  if (copy) {
    cJSON_DeleteItemFromObjectCaseSensitive(copy, "ClientRequestToken");
    if (sort_keys(copy) == 0) text = cJSON_PrintUnformatted(copy);
  }
  cJSON_Delete(copy);
  if (!text) return MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  mien_sha256(text, strlen(text), out);
  free(text);
  return MIEN_OK;
}

/* The response text recorded for idem as JSON into *out. */
static mien_status parse_recorded(char *text, cJSON **out, char *err, size_t errlen) {
  *out = cJSON_Parse(text);
  free(text);
  return *out ? MIEN_OK
              : MIEN_FAIL(err, errlen, MIEN_ERR_INTERNAL, "a recorded response is not JSON");
}

mien_status op_idem_begin(mien_api *api, const cJSON *req, const char *op, const char *coll,
                          mien_idem *idem, cJSON **replay, char *err, size_t errlen) {
  *replay = NULL;
  memset(idem, 0, sizeof *idem);
  idem->op = op;
  idem->principal = api->principal;
  idem->coll = coll;
  mien_status st =
      op_string(req, "ClientRequestToken", 0, ID_CLIENT_TOKEN, 64, &idem->token, err, errlen);
  if (st != MIEN_OK || !idem->token) return st;
  st = request_hash(req, idem->request_sha256, err, errlen);
  char *text = NULL;
  if (st == MIEN_OK) st = mien_store_idem_find(api->store, idem, &text, err, errlen);
  if (st == MIEN_OK && text) st = parse_recorded(text, replay, err, errlen);
  return st;
}

mien_status op_idem_end(mien_api *api, const mien_idem *idem, mien_status st, cJSON **resp,
                        char *err, size_t errlen) {
  if (st == MIEN_OK || !idem->token) return st;
  /* A request with the same token may have committed between our lookup and our change. */
  char *text = NULL, again[512];
  mien_status found = mien_store_idem_find(api->store, idem, &text, again, sizeof again);
  if (found == MIEN_ERR_IDEMPOTENT_MISMATCH) return MIEN_FAIL(err, errlen, found, "%s", again);
  if (found != MIEN_OK || !text) return st;
  cJSON_Delete(*resp);
  return parse_recorded(text, resp, err, errlen);
}

char *op_idem_empty(void *ctx) {
  (void)ctx;
  return strdup("{}");
}
