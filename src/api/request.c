/* request.c - a request body from bytes to a cJSON object, the same way for the server and
 * `mien call`. cJSON ends a string at U+0000, so "a\u0000b" would quietly become "a" and name
 * another collection than the caller meant; such strings, and raw NUL bytes, are refused. */
#include <string.h>

#include "api/ops.h"
#include "util/util.h"

/* Whether the JSON text holds an escaped U+0000. Backslashes occur only inside strings in JSON,
 * so stepping over each escape pair is enough to tell "\\u0000" (text) from "\u0000". */
static int has_escaped_nul(const char *s, size_t len) {
  for (size_t i = 0; i + 1 < len; i++) {
    if (s[i] != '\\') continue;
    if (s[i + 1] == 'u' && i + 5 < len && !memcmp(s + i + 2, "0000", 4)) return 1;
    i++;
  }
  return 0;
}

mien_status mien_op_parse_request(const char *body, size_t len, cJSON **req, char *err,
                                  size_t errlen) {
  *req = NULL;
  if (len && (memchr(body, 0, len) || has_escaped_nul(body, len)))
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                     "the request holds a NUL character (U+0000), which no field accepts");
  cJSON *j = len ? cJSON_ParseWithLength(body, len) : cJSON_CreateObject();
  if (!cJSON_IsObject(j)) {
    cJSON_Delete(j);
    return MIEN_FAIL(err, errlen, MIEN_ERR_SERIALIZATION, "the request body is not a JSON object");
  }
  *req = j;
  return MIEN_OK;
}
