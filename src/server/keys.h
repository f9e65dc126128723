/* keys.h - the access keys `mien serve` accepts: DIR/keys.json in the data directory, written by
 * `mien keys add|delete` and read by the server.
 *
 * A key is an AccessKeyId ("AKIA" + 16 base32 characters, as IAM makes them) and a 40-character
 * SecretAccessKey. SigV4 needs the secret itself on the verifying side, so the file holds it in
 * clear: it is created with mode 0600 and a file that other users may read is refused, as ssh
 * refuses a readable private key. Writes take an exclusive lock on the data directory and
 * replace the file atomically (write, fsync, rename), so a server reading it never sees half a
 * file and two `mien keys add` never lose one another's key. */
#ifndef MIEN_SERVER_KEYS_H
#define MIEN_SERVER_KEYS_H

#include <stddef.h>

#include "mien.h"

#define MIEN_KEY_ID_LEN 20
#define MIEN_KEY_SECRET_LEN 40
#define MIEN_KEY_USER_MAX 64 /* IAM's limit on user names */

typedef struct {
  char id[MIEN_KEY_ID_LEN + 1];
  char secret[MIEN_KEY_SECRET_LEN + 1];
  char user[MIEN_KEY_USER_MAX + 1];
  char created[32]; /* ISO 8601, UTC: "2024-05-01T12:00:00Z" */
} mien_key;

typedef struct {
  mien_key *k;
  int n;
} mien_keyset;

/* DIR/keys.json. */
void mien_keys_path(const char *dir, char *out, size_t outlen);

/* Reads the keys of data directory dir; a missing file is an empty set. A malformed file, or one
 * that group or others may read: MIEN_ERR_IO with the reason. */
mien_status mien_keys_load(const char *dir, mien_keyset *ks, char *err, size_t errlen);
/* Wipes the secrets and frees the set. */
void mien_keys_free(mien_keyset *ks);
/* The key with this id, or NULL. */
const mien_key *mien_keys_find(const mien_keyset *ks, const char *id);

/* Creates a key for user name (IAM's pattern [\w+=,.@-]{1,64}; InvalidParameterException
 * otherwise) and stores it; *out gets it. Creates dir (one level, mode 0700) when missing. */
mien_status mien_keys_add(const char *dir, const char *user, mien_key *out, char *err,
                          size_t errlen);
/* Deletes key id; ResourceNotFoundException when there is none. */
mien_status mien_keys_delete(const char *dir, const char *id, char *err, size_t errlen);

#endif
