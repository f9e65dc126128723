/* sigv4.c - verifies AWS Signature Version 4 (see sigv4.h for what is checked and why).
 *
 * The canonical request follows AWS's definition: method, URI-encoded path, query parameters
 * sorted by encoded name and value, each signed header as `name:value` (values trimmed, inner
 * runs of spaces collapsed, repeated headers joined with commas), the signed header list and
 * the hex SHA-256 of the body. Hashing and HMAC come from OpenSSL; the final comparison is
 * constant-time so that the time to refuse leaks nothing about the expected signature. Error
 * messages are AWS's own wording, which clients and their users recognise. */
#include "server/sigv4.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- a growing string; once out of memory it stays failed and yields NULL ---- */

typedef struct {
  char *p;
  size_t n, cap;
  int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t len) {
  if (b->oom) return;
  if (b->n + len + 1 > b->cap) {
    size_t cap = (b->n + len + 1) * 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->p = p, b->cap = cap;
  }
  memcpy(b->p + b->n, s, len);
  b->n += len;
  b->p[b->n] = 0;
}

static void sb_str(sbuf *b, const char *s) {
  sb_add(b, s, strlen(s));
}

static char *sb_take(sbuf *b) {
  if (b->oom || !b->p) {
    free(b->p);
    return b->oom ? NULL : strdup("");
  }
  return b->p;
}

/* RFC 3986 encoding: unreserved characters stay, everything else is %XX (upper-case hex);
 * keep_slash for paths. */
static void sb_uri(sbuf *b, const char *s, int keep_slash) {
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      sb_add(b, (const char *)&c, 1);
    } else {
      char esc[4];
      snprintf(esc, sizeof esc, "%%%02X", c);
      sb_add(b, esc, 3);
    }
  }
}

static void hex(const uint8_t *d, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", d[i]);
}

static void hmac(const uint8_t *key, size_t keylen, const char *msg, uint8_t out[32]) {
  unsigned int len = 32;
  HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), out, &len);
}

/* ---- canonical request ---- */

typedef struct {
  char *name, *value; /* encoded */
} enc_pair;

static int pair_cmp(const void *a, const void *b) {
  const enc_pair *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c ? c : strcmp(x->value, y->value);
}

static char *uri_dup(const char *s) {
  sbuf b = {0};
  sb_uri(&b, s, 0);
  return sb_take(&b);
}

/* Appends the canonical query string; returns -1 when out of memory. */
static int canonical_query(sbuf *b, const srv_request *rq) {
  if (rq->nquery <= 0) return 0;
  enc_pair *p = calloc((size_t)rq->nquery, sizeof *p);
  int rc = p ? 0 : -1;
  for (int i = 0; !rc && i < rq->nquery; i++) {
    p[i].name = uri_dup(rq->query[i].name);
    p[i].value = uri_dup(rq->query[i].value ? rq->query[i].value : "");
    if (!p[i].name || !p[i].value) rc = -1;
  }
  if (!rc) {
    qsort(p, (size_t)rq->nquery, sizeof *p, pair_cmp);
    for (int i = 0; i < rq->nquery; i++) {
      if (i) sb_str(b, "&");
      sb_str(b, p[i].name);
      sb_str(b, "=");
      sb_str(b, p[i].value);
    }
  }
  for (int i = 0; p && i < rq->nquery; i++) free(p[i].name), free(p[i].value);
  free(p);
  return rc;
}

/* Appends a header value trimmed, with inner runs of whitespace as one space. */
static void sb_header_value(sbuf *b, const char *v) {
  while (isspace((unsigned char)*v)) v++;
  while (*v) {
    if (isspace((unsigned char)*v)) {
      while (isspace((unsigned char)*v)) v++;
      if (*v) sb_str(b, " ");
    } else {
      sb_add(b, v++, 1);
    }
  }
}

/* Appends "name:v1,v2\n" for the signed header name (len bytes); -1 when no header has it. */
static int canonical_header(sbuf *b, const srv_request *rq, const char *name, size_t len) {
  int found = 0;
  for (int i = 0; i < rq->nheaders; i++) {
    if (strlen(rq->headers[i].name) != len || strncasecmp(rq->headers[i].name, name, len)) continue;
    if (!found) {
      sb_add(b, name, len);
      sb_str(b, ":");
    } else {
      sb_str(b, ",");
    }
    sb_header_value(b, rq->headers[i].value ? rq->headers[i].value : "");
    found = 1;
  }
  if (found) sb_str(b, "\n");
  return found ? 0 : -1;
}

char *sigv4_canonical_request(const srv_request *rq, const char *signed_headers) {
  sbuf b = {0};
  sb_str(&b, rq->method);
  sb_str(&b, "\n");
  sb_uri(&b, rq->path && *rq->path ? rq->path : "/", 1);
  sb_str(&b, "\n");
  int rc = canonical_query(&b, rq);
  sb_str(&b, "\n");
  for (const char *p = signed_headers; !rc && *p;) {
    size_t len = strcspn(p, ";");
    if (len == 0 || canonical_header(&b, rq, p, len) != 0) rc = -1;
    p += len;
    if (*p == ';') p++;
  }
  sb_str(&b, "\n");
  sb_str(&b, signed_headers);
  sb_str(&b, "\n");
  uint8_t h[32];
  char hx[65];
  SHA256(rq->body ? rq->body : (const uint8_t *)"", rq->body_len, h);
  hex(h, 32, hx);
  sb_str(&b, hx);
  if (rc) {
    free(b.p);
    return NULL;
  }
  return sb_take(&b);
}

void sigv4_signing_key(const char *secret, const char *date, const char *region,
                       const char *service, uint8_t key[32]) {
  size_t slen = strlen(secret);
  uint8_t *k = malloc(slen + 4);
  if (!k) {
    memset(key, 0, 32); /* no signature can match an all-zero key's by chance */
    return;
  }
  memcpy(k, "AWS4", 4);
  memcpy(k + 4, secret, slen);
  uint8_t a[32], b[32];
  hmac(k, slen + 4, date, a);
  OPENSSL_cleanse(k, slen + 4);
  free(k);
  hmac(a, 32, region, b);
  hmac(b, 32, service, a);
  hmac(a, 32, "aws4_request", key);
  OPENSSL_cleanse(a, sizeof a);
  OPENSSL_cleanse(b, sizeof b);
}

void sigv4_signature(const uint8_t key[32], const char *amz_date, const char *scope,
                     const char *canonical_request, char out[65]) {
  uint8_t h[32], sig[32];
  char hx[65];
  SHA256((const unsigned char *)canonical_request, strlen(canonical_request), h);
  hex(h, 32, hx);
  sbuf b = {0};
  sb_str(&b, "AWS4-HMAC-SHA256\n");
  sb_str(&b, amz_date);
  sb_str(&b, "\n");
  sb_str(&b, scope);
  sb_str(&b, "\n");
  sb_str(&b, hx);
  char *sts = sb_take(&b);
  if (!sts) {
    memset(out, 0, 65);
    return;
  }
  hmac(key, 32, sts, sig);
  free(sts);
  hex(sig, 32, out);
}

/* ---- verification ---- */

static const char *header(const srv_request *rq, const char *name) {
  for (int i = 0; i < rq->nheaders; i++)
    if (!strcasecmp(rq->headers[i].name, name)) return rq->headers[i].value;
  return NULL;
}

static sigv4_result refuse(sigv4_result r, char *msg, size_t msglen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static sigv4_result refuse(sigv4_result r, char *msg, size_t msglen, const char *fmt, ...) {
  if (msg && msglen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, msglen, fmt, ap);
    va_end(ap);
  }
  return r;
}

/* The value of component `name` of the Authorization header's parameter list (after the
 * algorithm), copied into out; -1 when absent or longer than outlen - 1. */
static int auth_param(const char *params, const char *name, char *out, size_t outlen) {
  size_t nlen = strlen(name);
  for (const char *p = params; *p;) {
    while (*p == ' ' || *p == ',' || *p == '\t') p++;
    size_t len = strcspn(p, ",");
    if (len > nlen && !strncmp(p, name, nlen) && p[nlen] == '=') {
      const char *v = p + nlen + 1;
      size_t vlen = len - nlen - 1;
      while (vlen && isspace((unsigned char)v[vlen - 1])) vlen--;
      if (vlen >= outlen) return -1;
      memcpy(out, v, vlen);
      out[vlen] = 0;
      return 0;
    }
    p += len;
  }
  return -1;
}

/* YYYYMMDDTHHMMSSZ to Unix time; -1 when malformed. */
static time_t parse_amz_date(const char *s) {
  struct tm tm = {0};
  int n = 0;
  if (strlen(s) != 16 ||
      sscanf(s, "%4d%2d%2dT%2d%2d%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
             &tm.tm_min, &tm.tm_sec, &n) != 6 ||
      n != 16)
    return -1;
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
      tm.tm_min > 59 || tm.tm_sec > 60)
    return -1;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return timegm(&tm);
}

static void fmt_amz_date(time_t t, char out[17]) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* Whether the ';'-list has the header name. */
static int has_name(const char *list, const char *name) {
  size_t len = strlen(name);
  for (const char *p = list; *p;) {
    size_t l = strcspn(p, ";");
    if (l == len && !strncmp(p, name, len)) return 1;
    p += l;
    if (*p == ';') p++;
  }
  return 0;
}

static const char *const mismatch =
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details.";

/* The window check: AWS's messages for a date too old or too far ahead. */
static sigv4_result check_time(const char *amz_date, time_t t, time_t now, char *msg,
                               size_t msglen) {
  char lim[17], nw[17];
  fmt_amz_date(now, nw);
  if (t < now - SIGV4_MAX_SKEW_S) {
    fmt_amz_date(now - SIGV4_MAX_SKEW_S, lim);
    return refuse(SIGV4_INVALID, msg, msglen,
                  "Signature expired: %s is now earlier than %s (%s - 15 min.)", amz_date, lim, nw);
  }
  if (t > now + SIGV4_MAX_SKEW_S) {
    fmt_amz_date(now + SIGV4_MAX_SKEW_S, lim);
    return refuse(SIGV4_INVALID, msg, msglen,
                  "Signature not yet current: %s is still later than %s (%s + 15 min.)", amz_date,
                  lim, nw);
  }
  return SIGV4_OK;
}

/* sigv4_verify, or with sign 0 sigv4_check_headers. */
static sigv4_result verify(const srv_request *rq, const char *region, const char *service,
                           time_t now, sigv4_secret_fn secret_fn, void *ctx,
                           char key_id[SIGV4_KEY_ID_MAX + 1], char *msg, size_t msglen, int sign) {
  key_id[0] = 0;
  const char *auth = header(rq, "authorization");
  if (!auth || !*auth) return refuse(SIGV4_MISSING, msg, msglen, "Missing Authentication Token");
  static const char algo[] = "AWS4-HMAC-SHA256";
  if (strncmp(auth, algo, sizeof algo - 1) || !isspace((unsigned char)auth[sizeof algo - 1]))
    return refuse(SIGV4_INVALID, msg, msglen,
                  "Unsupported Authorization Type: the algorithm must be AWS4-HMAC-SHA256");
  const char *params = auth + sizeof algo;
  char cred[512], signed_headers[1024], sig[80];
  static const char *const names[] = {"Credential", "SignedHeaders", "Signature"};
  char *outs[] = {cred, signed_headers, sig};
  size_t lens[] = {sizeof cred, sizeof signed_headers, sizeof sig};
  for (int i = 0; i < 3; i++)
    if (auth_param(params, names[i], outs[i], lens[i]) != 0)
      return refuse(SIGV4_INVALID, msg, msglen,
                    "Authorization header requires '%s' parameter. Authorization=%.200s", names[i],
                    auth);

  /* Credential = id/date/region/service/aws4_request */
  char *part[5], *save = NULL;
  int np = 0;
  for (char *t = strtok_r(cred, "/", &save); t && np < 5; t = strtok_r(NULL, "/", &save))
    part[np++] = t;
  if (np != 5 || strtok_r(NULL, "/", &save) || strlen(part[0]) > SIGV4_KEY_ID_MAX)
    return refuse(SIGV4_INVALID, msg, msglen,
                  "Credential should be of the form ACCESS_KEY_ID/DATE/REGION/SERVICE/"
                  "aws4_request");
  snprintf(key_id, SIGV4_KEY_ID_MAX + 1, "%s", part[0]);

  char secret[256];
  if (secret_fn(ctx, key_id, secret, sizeof secret) != 0)
    return refuse(SIGV4_UNKNOWN_KEY, msg, msglen,
                  "The security token included in the request is invalid.");

  sigv4_result r = SIGV4_OK;
  const char *amz_date = header(rq, "x-amz-date");
  time_t t = amz_date ? parse_amz_date(amz_date) : -1;
  if (strcmp(part[4], "aws4_request"))
    r = refuse(SIGV4_INVALID, msg, msglen,
               "Credential should be scoped with a valid terminator: 'aws4_request', not '%.40s'.",
               part[4]);
  else if (strcmp(part[3], service))
    r = refuse(SIGV4_INVALID, msg, msglen, "Credential should be scoped to correct service: '%s'.",
               service);
  else if (strcmp(part[2], region))
    r = refuse(SIGV4_INVALID, msg, msglen,
               "Credential should be scoped to a valid region, not '%.40s'. This server's region "
               "is '%s'.",
               part[2], region);
  else if (t < 0)
    r = refuse(SIGV4_INVALID, msg, msglen,
               "Authorization header requires existence of a valid 'X-Amz-Date' header "
               "(YYYYMMDD'T'HHMMSS'Z').");
  else if (strncmp(part[1], amz_date, 8) || strlen(part[1]) != 8)
    r = refuse(SIGV4_INVALID, msg, msglen,
               "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
               "from HTTP: '%.20s' != '%.8s', from '%s'.",
               part[1], amz_date, amz_date);
  else if (!has_name(signed_headers, "host") || !has_name(signed_headers, "x-amz-date") ||
           (header(rq, "x-amz-target") && !has_name(signed_headers, "x-amz-target")))
    r = refuse(SIGV4_INVALID, msg, msglen,
               "SignedHeaders must include host, x-amz-date and x-amz-target.");
  else
    r = check_time(amz_date, t, now, msg, msglen);

  if (r == SIGV4_OK && sign) {
    char *creq = sigv4_canonical_request(rq, signed_headers);
    char scope[256], want[65];
    uint8_t key[32];
    snprintf(scope, sizeof scope, "%s/%s/%s/aws4_request", part[1], region, service);
    if (!creq) {
      r = refuse(SIGV4_INVALID, msg, msglen, "%s", mismatch);
    } else {
      sigv4_signing_key(secret, part[1], region, service, key);
      sigv4_signature(key, amz_date, scope, creq, want);
      OPENSSL_cleanse(key, sizeof key);
      free(creq);
      if (strlen(sig) != 64 || CRYPTO_memcmp(sig, want, 64) != 0)
        r = refuse(SIGV4_INVALID, msg, msglen, "%s", mismatch);
    }
  }
  OPENSSL_cleanse(secret, sizeof secret);
  return r;
}

sigv4_result sigv4_verify(const srv_request *rq, const char *region, const char *service,
                          time_t now, sigv4_secret_fn secret_fn, void *ctx,
                          char key_id[SIGV4_KEY_ID_MAX + 1], char *msg, size_t msglen) {
  return verify(rq, region, service, now, secret_fn, ctx, key_id, msg, msglen, 1);
}

sigv4_result sigv4_check_headers(const srv_request *rq, const char *region, const char *service,
                                 time_t now, sigv4_secret_fn secret_fn, void *ctx,
                                 char key_id[SIGV4_KEY_ID_MAX + 1], char *msg, size_t msglen) {
  return verify(rq, region, service, now, secret_fn, ctx, key_id, msg, msglen, 0);
}
