/* sigv4.h - AWS Signature Version 4, the verifying side: what `mien serve` checks on every POST
 * once access keys exist, so that aws-cli, boto3 and any AWS SDK can call mien with keys from
 * `mien keys add` and nothing else.
 *
 * The server rebuilds the canonical request from what it received (method, path, query, the
 * headers the client says it signed, the SHA-256 of the body), derives the signing key from the
 * secret it holds for the Credential's access key id, and compares signatures in constant time.
 * The scope must name this server's region and the service `rekognition`, and X-Amz-Date must
 * be within 15 minutes of the server's clock, as AWS requires. host, x-amz-date and
 * x-amz-target must be among the signed headers, so that a captured request cannot be replayed
 * against another host or as another operation.
 *
 * Transport-independent (no HTTP library here): tests and fuzzers call it directly. */
#ifndef MIEN_SERVER_SIGV4_H
#define MIEN_SERVER_SIGV4_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* One header or query parameter, as received (headers: any case; query: decoded). */
typedef struct {
  const char *name, *value;
} srv_kv;

typedef struct {
  const char *method; /* "POST" */
  const char *path;   /* "/", without the query, decoded */
  const srv_kv *query;
  int nquery;
  const srv_kv *headers;
  int nheaders;
  const uint8_t *body;
  size_t body_len;
} srv_request;

typedef enum {
  SIGV4_OK = 0,
  SIGV4_MISSING,     /* no Authorization header: MissingAuthenticationTokenException */
  SIGV4_UNKNOWN_KEY, /* the access key id is not ours: UnrecognizedClientException */
  SIGV4_INVALID      /* malformed, wrong scope, expired or wrong: InvalidSignatureException */
} sigv4_result;

#define SIGV4_MAX_SKEW_S (15 * 60)
#define SIGV4_KEY_ID_MAX 128

/* Copies the secret of access key `id` into secret (NUL-terminated) and returns 0, or returns -1
 * when there is no such key. */
typedef int (*sigv4_secret_fn)(void *ctx, const char *id, char *secret, size_t secretlen);

/* Verifies rq's Authorization header for region and service at time now. key_id gets the
 * Credential's access key id (when it could be read; "" otherwise); msg, AWS's message for a
 * refusal. */
sigv4_result sigv4_verify(const srv_request *rq, const char *region, const char *service,
                          time_t now, sigv4_secret_fn secret, void *ctx,
                          char key_id[SIGV4_KEY_ID_MAX + 1], char *msg, size_t msglen);

/* Everything sigv4_verify checks but the signature itself, which needs the body: an
 * Authorization header naming a known access key, scope, date and signed headers. The server
 * runs it on the headers, before it reads (and holds) a body. */
sigv4_result sigv4_check_headers(const srv_request *rq, const char *region, const char *service,
                                 time_t now, sigv4_secret_fn secret, void *ctx,
                                 char key_id[SIGV4_KEY_ID_MAX + 1], char *msg, size_t msglen);

/* The pieces, for tests and for signing test requests. */

/* The canonical request for the ';'-separated lower-case signed header names; malloc'ed, or NULL
 * when a signed header is absent or memory ran out. */
char *sigv4_canonical_request(const srv_request *rq, const char *signed_headers);
/* kSigning = HMAC chain of "AWS4" + secret over date (YYYYMMDD), region, service,
 * "aws4_request". */
void sigv4_signing_key(const char *secret, const char *date, const char *region,
                       const char *service, uint8_t key[32]);
/* The hex signature of the canonical request at amz_date (YYYYMMDDTHHMMSSZ) with key. */
void sigv4_signature(const uint8_t key[32], const char *amz_date, const char *scope,
                     const char *canonical_request, char hex[65]);

#endif
