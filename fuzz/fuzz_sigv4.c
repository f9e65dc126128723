/* fuzz_sigv4.c - libFuzzer target for what the server reads from a request before anything
 * else: the Authorization header (AWS Signature Version 4), X-Amz-Date, the signed header list
 * and the canonical request built from method, path, query, headers and body (src/server/
 * sigv4.h). The input is a request in HTTP's own shape (request.h).
 *
 * Each input is verified as received (key AKIAIOSFODNN7EXAMPLE is known, the clock stands at
 * NOW), then signed again correctly by the library's own pieces (canonical request, signing
 * key, signature) over its SignedHeaders list, and verified again. Properties beyond not
 * crashing: a refusal always says why; a request verify accepts is refused once its body
 * changes; a request signed correctly is never refused as a signature mismatch, which would
 * mean the verifier reads the header differently from the way it builds what it checks.
 * MIEN_FUZZ_VERBOSE=1 prints each verification's outcome. */
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "request.h"

#define NOW 1704067200 /* 2024-01-01T00:00:00Z, the date of the seeds */
#define KEY_ID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

static const char mismatch[] = "The request signature we calculated does not match";

static int lookup(void *ctx, const char *id, char *out, size_t len) {
  (void)ctx;
  if (strcmp(id, KEY_ID)) return -1;
  snprintf(out, len, "%s", SECRET);
  return 0;
}

static sigv4_result verify(const srv_request *rq, char *msg, size_t msglen) {
  char key_id[SIGV4_KEY_ID_MAX + 1];
  msg[0] = 0;
  sigv4_result r =
      sigv4_verify(rq, "us-east-1", "rekognition", NOW, lookup, NULL, key_id, msg, msglen);
  FUZZ_ASSERT(r == SIGV4_OK || r == SIGV4_MISSING || r == SIGV4_UNKNOWN_KEY || r == SIGV4_INVALID);
  FUZZ_ASSERT(strlen(key_id) <= SIGV4_KEY_ID_MAX);
  FUZZ_ASSERT(r == SIGV4_OK || msg[0] != '\0');
  FUZZ_ASSERT(r != SIGV4_OK || !strcmp(key_id, KEY_ID));
  if (getenv("MIEN_FUZZ_VERBOSE")) fprintf(stderr, "verify: %d %s\n", (int)r, msg);
  return r;
}

static const char *header(const fuzz_request *p, const char *name) {
  for (int i = 0; i < p->rq.nheaders; i++)
    if (!strcasecmp(p->headers[i].name, name)) return p->headers[i].value;
  return NULL;
}

/* The SignedHeaders list of the Authorization header into out, when it has one that a correct
 * signer could have written (lower-case names, no separators but ';'). */
static int signed_list(const fuzz_request *p, char *out, size_t outlen) {
  const char *auth = header(p, "authorization"), *s = auth ? strstr(auth, "SignedHeaders=") : NULL;
  if (!s) return 0;
  s += strlen("SignedHeaders=");
  size_t len = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-;");
  if (len == 0 || len >= outlen || (s[len] && s[len] != ',')) return 0;
  memcpy(out, s, len);
  out[len] = 0;
  return !strstr(out, "authorization");
}

/* Signs p over list, as a correct client would, into auth (the new Authorization value). */
static int sign(const fuzz_request *p, const char *list, char *auth, size_t authlen) {
  const char *amz_date = header(p, "x-amz-date");
  if (!amz_date || strlen(amz_date) < 8 || strchr(amz_date, '/')) return 0;
  char *creq = sigv4_canonical_request(&p->rq, list);
  if (!creq) return 0;
  char date[9], scope[64], sig[65];
  uint8_t key[32];
  snprintf(date, sizeof date, "%.8s", amz_date);
  snprintf(scope, sizeof scope, "%s/us-east-1/rekognition/aws4_request", date);
  sigv4_signing_key(SECRET, date, "us-east-1", "rekognition", key);
  sigv4_signature(key, amz_date, scope, creq, sig);
  free(creq);
  snprintf(auth, authlen, "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
           KEY_ID, scope, list, sig);
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_request p;
  char msg[512];
  if (fuzz_request_parse(data, size, &p) != 0) return 0;

  if (verify(&p.rq, msg, sizeof msg) == SIGV4_OK) {
    /* Accepted as sent: then the body is covered, and one more byte must be refused. */
    uint8_t *longer = malloc(p.rq.body_len + 1);
    if (longer) {
      memcpy(longer, p.rq.body ? p.rq.body : (const uint8_t *)"", p.rq.body_len);
      longer[p.rq.body_len] = 'x';
      srv_request tampered = p.rq;
      tampered.body = longer;
      tampered.body_len++;
      FUZZ_ASSERT(verify(&tampered, msg, sizeof msg) == SIGV4_INVALID);
      free(longer);
    }
  }

  char list[1024], auth[1400];
  if (signed_list(&p, list, sizeof list) && sign(&p, list, auth, sizeof auth)) {
    for (int i = 0; i < p.rq.nheaders; i++)
      if (!strcasecmp(p.headers[i].name, "authorization")) {
        p.headers[i].value = auth;
        break;
      }
    sigv4_result r = verify(&p.rq, msg, sizeof msg);
    if (r != SIGV4_OK && !strncmp(msg, mismatch, strlen(mismatch)))
      fprintf(stderr, "correctly signed over '%s' and refused: %s\n", list, msg);
    FUZZ_ASSERT(r == SIGV4_OK || strncmp(msg, mismatch, strlen(mismatch)));
  }
  free(p.text);
  return 0;
}
