/* request.c - a request body from bytes to a cJSON object, the same way for the server and
 * `mien call`. The body must be one JSON object and nothing else, in well-formed UTF-8, and must
 * mean one thing:
 *   - cJSON ends a string at U+0000, so "a\u0000b" would quietly become "a" and name another
 *     collection than the caller meant; such strings, and raw NUL bytes, are refused;
 *   - cJSON keeps every copy of a key in an object, and lookups take the first one while other
 *     readers (a policy's tags, say) may act on another, so a key given twice in any object, at
 *     any depth, is refused: a later "mien:consent":"required" must not silently do nothing;
 *   - bytes after the object (cJSON stops reading at its end) and invalid UTF-8 (overlong forms,
 *     surrogates, beyond U+10FFFF) are refused rather than passed on to logs and the store;
 *   - a body of more values than any request has is refused before it is parsed: the parsed
 *     tree costs some 30 times the bytes of a body of tiny values. */
#include <stdio.h>
#include <stdlib.h>
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

/* Where the first byte of malformed UTF-8 is, or len when all of it is well formed (RFC 3629).
 * JSON outside strings is ASCII, so checking the whole text checks every string; escaped
 * surrogates (\uD800) are cJSON's to refuse when unpaired. */
static size_t utf8_bad_at(const unsigned char *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    unsigned c = s[i];
    size_t n = c < 0x80             ? 0
               : (c & 0xE0) == 0xC0 ? 1
               : (c & 0xF0) == 0xE0 ? 2
               : (c & 0xF8) == 0xF0 ? 3
                                    : 9;
    if (n == 9 || i + n >= len) return i;
    if (n == 0) {
      i++;
      continue;
    }
    unsigned cp = c & (0x3F >> n);
    for (size_t k = 1; k <= n; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return i;
      cp = cp << 6 | (s[i + k] & 0x3F);
    }
    static const unsigned min_of[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < min_of[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += n + 1;
  }
  return len;
}

/* JSON values in the text, roughly: separators and openings outside strings. cJSON spends about
 * 64 bytes on each value, so 8 MiB of "0,0,0,..." would become 270 MB of tree; the largest
 * real request (DeleteFaces, 4096 FaceIds) has a few thousand. */
#define MAX_VALUES 100000

static size_t json_values(const char *s, size_t len) {
  size_t n = 0;
  int in_string = 0;
  for (size_t i = 0; i < len; i++) {
    if (in_string) {
      if (s[i] == '\\')
        i++;
      else if (s[i] == '"')
        in_string = 0;
    } else if (s[i] == '"') {
      in_string = 1;
    } else if (s[i] == ',' || s[i] == '[' || s[i] == '{') {
      n++;
    }
  }
  return n;
}

static int by_name(const void *a, const void *b) {
  return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* The first key found twice in one object anywhere in j, or NULL. Sorting each object's names
 * keeps a body of 100,000 keys at n log n rather than n squared. *nomem set when out of memory. */
static const char *duplicate_key(const cJSON *j, int *nomem) {
  int n = 0;
  for (const cJSON *c = j->child; c; c = c->next) {
    const char *d = duplicate_key(c, nomem);
    if (d || *nomem) return d;
    n++;
  }
  if (!cJSON_IsObject(j) || n < 2) return NULL;
  const cJSON **names = malloc((size_t)n * sizeof *names);
  if (!names) return *nomem = 1, NULL;
  n = 0;
  for (const cJSON *c = j->child; c; c = c->next) names[n++] = c;
  qsort(names, (size_t)n, sizeof *names, by_name);
  const char *dup = NULL;
  for (int i = 1; i < n && !dup; i++)
    if (!strcmp(names[i - 1]->string, names[i]->string)) dup = names[i]->string;
  free(names);
  return dup;
}

mien_status mien_op_parse_request(const char *body, size_t len, cJSON **req, char *err,
                                  size_t errlen) {
  *req = NULL;
  if (len && (memchr(body, 0, len) || has_escaped_nul(body, len)))
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                     "the request holds a NUL character (U+0000), which no field accepts");
  size_t bad = utf8_bad_at((const unsigned char *)body, len);
  if (bad < len)
    return MIEN_FAIL(err, errlen, MIEN_ERR_SERIALIZATION,
                     "the request body is not valid UTF-8 (byte %zu)", bad);
  if (json_values(body, len) > MAX_VALUES)
    return MIEN_FAIL(err, errlen, MIEN_ERR_SERIALIZATION,
                     "the request body holds more than %d JSON values", MAX_VALUES);
  const char *end = body;
  cJSON *j = len ? cJSON_ParseWithLengthOpts(body, len, &end, 0) : cJSON_CreateObject();
  if (!cJSON_IsObject(j)) {
    cJSON_Delete(j);
    return MIEN_FAIL(err, errlen, MIEN_ERR_SERIALIZATION, "the request body is not a JSON object");
  }
  /* An empty body (body may be NULL) is {} and has nothing after it. */
  const char *stop = len ? body + len : end;
  while (end < stop && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')) end++;
  if (end != stop) {
    cJSON_Delete(j);
    return MIEN_FAIL(err, errlen, MIEN_ERR_SERIALIZATION,
                     "the request body has bytes after its JSON object");
  }
  int nomem = 0;
  const char *dup = duplicate_key(j, &nomem);
  if (dup || nomem) {
    char key[130];
    snprintf(key, sizeof key, "%s", dup ? dup : "");
    cJSON_Delete(j);
    return nomem ? MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory")
                 : MIEN_FAIL(err, errlen, MIEN_ERR_SERIALIZATION,
                             "the request body gives the key \"%s\" twice in one object", key);
  }
  *req = j;
  return MIEN_OK;
}
