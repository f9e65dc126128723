/* crypt.c - templates encrypted at rest. A template is what identifies a person's face, so a
 * copied database file should be useless without a key kept elsewhere: with a key file
 * configured ($MIEN_TEMPLATE_KEY), each template is sealed with AES-256-GCM (OpenSSL) under a
 * fresh random 96-bit nonce, and the collection's row, the FaceId, the image's ExternalImageId
 * and the face's UserId are bound as associated data, so a sealed template moved to another
 * face or collection, or a face moved to another user or ExternalImageId by an SQL UPDATE,
 * fails to open rather than matching as someone else. Associating a face with a user, or
 * taking it from one, re-seals its template (db_reseal_for_user).
 *
 * The key never enters the database: the meta table holds only its check value (SHA-256 of a
 * label and the key), which is how a missing or wrong key is told apart from a corrupt row at
 * open. The search index needs plaintext, so templates are opened when a collection's index is
 * loaded and live unencrypted in memory (docs/privacy.md says so).
 *
 * Rotation re-seals every template in one SQLite transaction: a crash before COMMIT leaves the
 * store under the old key, after it under the new one; never a mix. The same path encrypts a
 * store that was created without a key, and re-seals, at the first open with the key, templates
 * sealed before the ExternalImageId and UserId were bound (seal version 1). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "store/internal.h"
#include "util/util.h"

#define SEAL_VERSION 2 /* 1: bound to the collection and FaceId only; re-sealed at open */
#define AAD_MAX (8 + MIEN_UUID_LEN + MIEN_EXTERNAL_ID_MAX + 1 + MIEN_USER_ID_MAX + 1)
#define META_SEAL_VERSION "seal_version"
#define NONCE_LEN 12
#define TAG_LEN 16
#define CHECK_LABEL "mien template key check v1"

static int hex_value(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* The key in the file's bytes: 64 hex digits and white space only after them, or 32 bytes. */
static int parse_key(const uint8_t *b, size_t n, uint8_t key[MIEN_TEMPLATE_KEY_LEN]) {
  int hex = n >= 2 * MIEN_TEMPLATE_KEY_LEN;
  for (size_t i = 0; hex && i < 2 * MIEN_TEMPLATE_KEY_LEN; i++) hex = hex_value(b[i]) >= 0;
  for (size_t i = 2 * MIEN_TEMPLATE_KEY_LEN; hex && i < n; i++)
    hex = b[i] == '\n' || b[i] == '\r' || b[i] == ' ' || b[i] == '\t';
  if (hex) {
    for (int i = 0; i < MIEN_TEMPLATE_KEY_LEN; i++)
      key[i] = (uint8_t)(hex_value(b[2 * i]) << 4 | hex_value(b[2 * i + 1]));
    return 0;
  }
  if (n != MIEN_TEMPLATE_KEY_LEN) return -1;
  memcpy(key, b, MIEN_TEMPLATE_KEY_LEN);
  return 0;
}

mien_status mien_template_key_read(const char *path, uint8_t key[MIEN_TEMPLATE_KEY_LEN], char *err,
                                   size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat sb;
  if (fd < 0 || fstat(fd, &sb) != 0) {
    int e = errno;
    if (fd >= 0) close(fd);
    return MIEN_FAIL(err, errlen, MIEN_ERR_IO, "cannot read the template key file %s: %s", path,
                     strerror(e));
  }
  mien_status st = MIEN_OK;
  uint8_t buf[256];
  ssize_t n = 0;
  if (!S_ISREG(sb.st_mode))
    st =
        MIEN_FAIL(err, errlen, MIEN_ERR_IO, "the template key file %s is not a regular file", path);
  else if (sb.st_mode & 077)
    st = MIEN_FAIL(err, errlen, MIEN_ERR_IO,
                   "the template key file %s has mode %04o: group and others must not access it "
                   "(chmod 600 %s)",
                   path, (unsigned)(sb.st_mode & 07777), path);
  else if ((n = read(fd, buf, sizeof buf)) < 0)
    st = MIEN_FAIL(err, errlen, MIEN_ERR_IO, "cannot read the template key file %s: %s", path,
                   strerror(errno));
  else if (parse_key(buf, (size_t)n, key) != 0)
    st = MIEN_FAIL(err, errlen, MIEN_ERR_IO,
                   "the template key file %s must hold 64 hex digits (or 32 bytes); make one with "
                   "`mien keys new-template-key FILE`",
                   path);
  close(fd);
  OPENSSL_cleanse(buf, sizeof buf);
  return st;
}

mien_status mien_template_key_new(const char *path, char *err, size_t errlen) {
  uint8_t key[MIEN_TEMPLATE_KEY_LEN];
  char hex[2 * MIEN_TEMPLATE_KEY_LEN + 2];
  if (getrandom(key, sizeof key, 0) != (ssize_t)sizeof key)
    return MIEN_FAIL(err, errlen, MIEN_ERR_INTERNAL, "no randomness for a key: %s",
                     strerror(errno));
  for (int i = 0; i < MIEN_TEMPLATE_KEY_LEN; i++) snprintf(hex + 2 * i, 3, "%02x", key[i]);
  hex[2 * MIEN_TEMPLATE_KEY_LEN] = '\n';
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  mien_status st = MIEN_OK;
  if (fd < 0)
    st = MIEN_FAIL(err, errlen, MIEN_ERR_IO, "cannot create %s: %s", path, strerror(errno));
  else if (write(fd, hex, 2 * MIEN_TEMPLATE_KEY_LEN + 1) != 2 * MIEN_TEMPLATE_KEY_LEN + 1 ||
           fsync(fd) != 0)
    st = MIEN_FAIL(err, errlen, MIEN_ERR_IO, "cannot write %s: %s", path, strerror(errno));
  if (fd >= 0 && close(fd) != 0 && st == MIEN_OK)
    st = MIEN_FAIL(err, errlen, MIEN_ERR_IO, "cannot write %s: %s", path, strerror(errno));
  if (fd >= 0 && st != MIEN_OK) unlink(path);
  OPENSSL_cleanse(key, sizeof key);
  OPENSSL_cleanse(hex, sizeof hex);
  return st;
}

static void key_check(const uint8_t key[MIEN_TEMPLATE_KEY_LEN], char out[65]) {
  mien_sha256_ctx c;
  uint8_t h[32];
  mien_sha256_init(&c);
  mien_sha256_update(&c, CHECK_LABEL, sizeof CHECK_LABEL);
  mien_sha256_update(&c, key, MIEN_TEMPLATE_KEY_LEN);
  mien_sha256_final(&c, h);
  for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", h[i]);
  OPENSSL_cleanse(&c, sizeof c);
}

/* Appends string t (NULL: "") and, when terminate, a NUL to aad at *n, within AAD_MAX. */
static void aad_put(uint8_t *aad, size_t *n, const char *t, size_t max, int terminate) {
  size_t len = t ? strnlen(t, max) : 0;
  memcpy(aad + *n, t ? t : "", len);
  *n += len;
  if (terminate) aad[(*n)++] = 0;
}

/* The associated data: the collection row (big-endian) and the FaceId (36 characters), then
 * for version 2 a NUL, the ExternalImageId, a NUL and the UserId (neither may hold a NUL). */
static size_t make_aad(const db_seal_ids *b, int version, uint8_t aad[AAD_MAX]) {
  size_t n = 8;
  for (int i = 0; i < 8; i++) aad[i] = (uint8_t)((uint64_t)b->crow >> (56 - 8 * i));
  aad_put(aad, &n, b->face_id, MIEN_UUID_LEN - 1, version > 1);
  if (version > 1) {
    aad_put(aad, &n, b->external_id, MIEN_EXTERNAL_ID_MAX, 1);
    aad_put(aad, &n, b->user_id, MIEN_USER_ID_MAX, 0);
  }
  return n;
}

/* One AES-256-GCM pass over len bytes: seals (enc) in to out and writes tag, or opens and
 * checks tag. */
static int gcm(int enc, const uint8_t *key, const uint8_t *nonce, const uint8_t *aad, size_t aadlen,
               const uint8_t *in, int len, uint8_t *out, uint8_t *tag) {
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  int n, ok = c && EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce, enc) == 1 &&
              EVP_CipherUpdate(c, NULL, &n, aad, (int)aadlen) == 1 &&
              EVP_CipherUpdate(c, out, &n, in, len) == 1 && n == len;
  if (ok && !enc) ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) == 1;
  if (ok) ok = EVP_CipherFinal_ex(c, out + n, &n) == 1;
  if (ok && enc) ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) == 1;
  EVP_CIPHER_CTX_free(c);
  return ok ? 0 : -1;
}

mien_status db_seal(const uint8_t *key, const db_seal_ids *b, const float *emb,
                    uint8_t buf[DB_SEALED_BYTES], const void **blob, int *len, char *err,
                    size_t errlen) {
  if (!key) {
    *blob = emb, *len = DB_TEMPLATE_BYTES;
    return MIEN_OK;
  }
  uint8_t aad[AAD_MAX], *nonce = buf + 1, *ct = nonce + NONCE_LEN;
  buf[0] = SEAL_VERSION;
  if (getrandom(nonce, NONCE_LEN, 0) != NONCE_LEN ||
      gcm(1, key, nonce, aad, make_aad(b, SEAL_VERSION, aad), (const uint8_t *)emb,
          DB_TEMPLATE_BYTES, ct, ct + DB_TEMPLATE_BYTES) != 0)
    return MIEN_FAIL(err, errlen, MIEN_ERR_INTERNAL, "cannot encrypt a template");
  *blob = buf, *len = DB_SEALED_BYTES;
  return MIEN_OK;
}

/* db_unseal; legacy also opens version 1, which only the conversion at open may read: a
 * version-1 blob written into a row later (from a backup, say) would not be bound to its user. */
static mien_status unseal(const uint8_t *key, const db_seal_ids *ids, const void *blob, int len,
                          int legacy, float emb[MIEN_EMBED_DIM], char *err, size_t errlen) {
  const uint8_t *b = blob;
  const char *face_id = ids->face_id;
  if (!b || !face_id)
    return MIEN_FAIL(err, errlen, MIEN_ERR_IO, "face %s has no template",
                     face_id ? face_id : "(none)");
  if (!key) {
    if (len != DB_TEMPLATE_BYTES)
      return MIEN_FAIL(err, errlen, MIEN_ERR_IO, "face %s has a corrupt template", face_id);
    memcpy(emb, b, DB_TEMPLATE_BYTES);
    return MIEN_OK;
  }
  if (len != DB_SEALED_BYTES || (b[0] != SEAL_VERSION && !(legacy && b[0] == 1)))
    return MIEN_FAIL(err, errlen, MIEN_ERR_IO, "face %s has a corrupt sealed template", face_id);
  uint8_t aad[AAD_MAX], tag[TAG_LEN];
  memcpy(tag, b + 1 + NONCE_LEN + DB_TEMPLATE_BYTES, TAG_LEN);
  if (gcm(0, key, b + 1, aad, make_aad(ids, b[0], aad), b + 1 + NONCE_LEN, DB_TEMPLATE_BYTES,
          (uint8_t *)emb, tag) != 0) {
    OPENSSL_cleanse(emb, DB_TEMPLATE_BYTES);
    return MIEN_FAIL(err, errlen, MIEN_ERR_IO,
                     "the template of face %s does not authenticate: it was altered or moved "
                     "(to another face, collection, user or ExternalImageId)",
                     face_id);
  }
  return MIEN_OK;
}

mien_status db_unseal(const uint8_t *key, const db_seal_ids *ids, const void *blob, int len,
                      float emb[MIEN_EMBED_DIM], char *err, size_t errlen) {
  return unseal(key, ids, blob, len, 0, emb, err, errlen);
}

/* An access key's secret is sealed as a template is (version byte, nonce, ciphertext, tag),
 * bound to its AccessKeyId, so a sealed secret copied onto another key's row does not open. */
#define SECRET_AAD_LABEL "mien access key v1"

static size_t secret_aad(const char *id, uint8_t aad[64]) {
  size_t n = 0;
  aad_put(aad, &n, SECRET_AAD_LABEL, sizeof SECRET_AAD_LABEL, 1);
  aad_put(aad, &n, id, MIEN_ACCESS_KEY_ID_LEN, 0);
  return n;
}

mien_status db_seal_secret(const uint8_t *key, const char *id, const char *secret,
                           uint8_t buf[DB_SEALED_SECRET_BYTES], const void **blob, int *len,
                           char *err, size_t errlen) {
  if (!key) {
    *blob = secret, *len = MIEN_ACCESS_KEY_SECRET_LEN;
    return MIEN_OK;
  }
  uint8_t aad[64], *nonce = buf + 1, *ct = nonce + NONCE_LEN;
  buf[0] = SEAL_VERSION;
  if (getrandom(nonce, NONCE_LEN, 0) != NONCE_LEN ||
      gcm(1, key, nonce, aad, secret_aad(id, aad), (const uint8_t *)secret,
          MIEN_ACCESS_KEY_SECRET_LEN, ct, ct + MIEN_ACCESS_KEY_SECRET_LEN) != 0)
    return MIEN_FAIL(err, errlen, MIEN_ERR_INTERNAL, "cannot encrypt an access key");
  *blob = buf, *len = DB_SEALED_SECRET_BYTES;
  return MIEN_OK;
}

mien_status db_unseal_secret(const uint8_t *key, const char *id, const void *blob, int len,
                             char secret[MIEN_ACCESS_KEY_SECRET_LEN + 1], char *err,
                             size_t errlen) {
  const uint8_t *b = blob;
  secret[0] = 0;
  if (!b || len != (key ? DB_SEALED_SECRET_BYTES : MIEN_ACCESS_KEY_SECRET_LEN) ||
      (key && b[0] != SEAL_VERSION))
    return MIEN_FAIL(err, errlen, MIEN_ERR_IO, "access key %s has a corrupt secret%s", id,
                     key ? " (or one stored before the template key was configured)" : "");
  if (!key) {
    memcpy(secret, b, MIEN_ACCESS_KEY_SECRET_LEN);
  } else {
    uint8_t aad[64], tag[TAG_LEN];
    memcpy(tag, b + 1 + NONCE_LEN + MIEN_ACCESS_KEY_SECRET_LEN, TAG_LEN);
    if (gcm(0, key, b + 1, aad, secret_aad(id, aad), b + 1 + NONCE_LEN, MIEN_ACCESS_KEY_SECRET_LEN,
            (uint8_t *)secret, tag) != 0) {
      OPENSSL_cleanse(secret, MIEN_ACCESS_KEY_SECRET_LEN);
      return MIEN_FAIL(err, errlen, MIEN_ERR_IO,
                       "the secret of access key %s does not authenticate: it was altered or "
                       "moved to another key",
                       id);
    }
  }
  secret[MIEN_ACCESS_KEY_SECRET_LEN] = 0;
  return MIEN_OK;
}

mien_status db_meta_get(mien_store *s, const char *k, char *out, size_t cap, char *err,
                        size_t errlen) {
  db_stmt *q;
  out[0] = '\0';
  mien_status st = db_prepare(s, "SELECT value FROM meta WHERE key = ?", &q, err, errlen);
  if (st != MIEN_OK) return st;
  db_bind_text(q, 1, k);
  int rc = db_step(q);
  if (rc == DB_ROW)
    snprintf(out, cap, "%s", db_column_text(q, 0));
  else if (rc != DB_DONE)
    st = db_fail(s, "reading meta", err, errlen);
  db_finalize(q);
  return st;
}

mien_status db_meta_set(mien_store *s, const char *k, const char *v, char *err, size_t errlen) {
  db_stmt *q;
  mien_status st = db_prepare(s,
                              "INSERT INTO meta (key, value) VALUES (?, ?)"
                              " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                              &q, err, errlen);
  if (st != MIEN_OK) return st;
  db_bind_text(q, 1, k);
  db_bind_text(q, 2, v);
  if (db_step(q) != DB_DONE) st = db_fail(s, "writing meta", err, errlen);
  db_finalize(q);
  return st;
}

/* Re-seals the template of face row `row`: opened with old (NULL: stored plain; legacy: seal
 * version 1 accepted), sealed with key (NULL: plain) and, when new_user is not NULL, bound to the
 * UserId *new_user (NULL: none) instead of the face's current one. Mutex held, in a transaction. */
static mien_status reseal_row(mien_store *s, int64_t row, const uint8_t *old, const uint8_t *key,
                              int legacy, const char *const *new_user, char *err, size_t errlen) {
  db_stmt *q = NULL;
  mien_status st = db_prepare(s,
                              "SELECT f.collection, f.face_id, f.embedding, i.external_image_id,"
                              " u.user_id FROM faces f JOIN images i ON i.id = f.image"
                              " LEFT JOIN users u ON u.id = f.user WHERE f.id = ?",
                              &q, err, errlen);
  float emb[MIEN_EMBED_DIM];
  uint8_t buf[DB_SEALED_BYTES];
  const void *blob = NULL;
  int len = 0;
  if (st == MIEN_OK) {
    db_bind_int64(q, 1, row);
    if (db_step(q) != DB_ROW) st = db_fail(s, "reading a template", err, errlen);
  }
  if (st == MIEN_OK) {
    db_seal_ids ids = {db_column_int64(q, 0), db_column_text(q, 1), db_column_text(q, 3),
                       db_column_text(q, 4)};
    st = unseal(old, &ids, db_column_blob(q, 2), db_column_bytes(q, 2), legacy, emb, err, errlen);
    if (new_user) ids.user_id = *new_user;
    if (st == MIEN_OK) st = db_seal(key, &ids, emb, buf, &blob, &len, err, errlen);
  }
  db_finalize(q);
  if (st == MIEN_OK)
    st = db_prepare(s, "UPDATE faces SET embedding = ? WHERE id = ?", &q, err, errlen);
  if (st == MIEN_OK) {
    db_bind_blob(q, 1, blob, len);
    db_bind_int64(q, 2, row);
    if (db_step(q) != DB_DONE) st = db_fail(s, "rewriting a template", err, errlen);
    db_finalize(q);
  }
  OPENSSL_cleanse(emb, sizeof emb);
  OPENSSL_cleanse(buf, sizeof buf);
  return st;
}

mien_status db_reseal_for_user(mien_store *s, int64_t row, const char *user_id, char *err,
                               size_t errlen) {
  return s->encrypted ? reseal_row(s, row, s->key, s->key, 0, &user_id, err, errlen) : MIEN_OK;
}

/* Re-seals every template from old (NULL: plain) to key, row by row in id order; mutex held,
 * in a transaction. */
static mien_status reseal_all(mien_store *s, const uint8_t *old, const uint8_t *key, int legacy,
                              int64_t *count, char *err, size_t errlen) {
  db_stmt *sel = NULL;
  mien_status st =
      db_prepare(s, "SELECT id FROM faces WHERE id > ? ORDER BY id LIMIT 1", &sel, err, errlen);
  int64_t last = 0;
  *count = 0;
  while (st == MIEN_OK) {
    db_reset(sel);
    db_bind_int64(sel, 1, last);
    int rc = db_step(sel);
    if (rc == DB_DONE) break;
    if (rc != DB_ROW) {
      st = db_fail(s, "reading templates", err, errlen);
      break;
    }
    last = db_column_int64(sel, 0);
    db_reset(sel);
    st = reseal_row(s, last, old, key, legacy, NULL, err, errlen);
    ++*count;
  }
  db_finalize(sel);
  return st;
}

/* Re-seals templates of seal version 1 (before ExternalImageId and UserId were bound) with the
 * store's key, once, in one transaction, audited (mutex held, at open). */
static mien_status convert_legacy(mien_store *s, char *err, size_t errlen) {
  char have[16];
  mien_status st = db_meta_get(s, META_SEAL_VERSION, have, sizeof have, err, errlen);
  if (st != MIEN_OK || atoi(have) >= SEAL_VERSION) return st;
  int64_t n = 0;
  st = db_exec(s, "BEGIN IMMEDIATE", err, errlen);
  if (st != MIEN_OK) return st;
  st = reseal_all(s, s->key, s->key, 1, &n, err, errlen);
  if (st == MIEN_OK) st = db_meta_set(s, META_SEAL_VERSION, "2", err, errlen);
  if (st == MIEN_OK && n) {
    cJSON *fields = cJSON_CreateObject();
    cJSON_AddNumberToObject(fields, "templates", (double)n);
    st = db_audit(s, NULL, "ResealTemplates", NULL, fields, err, errlen);
  }
  st = db_finish(s, st, err, errlen);
  if (st == MIEN_OK && n) db_erase(s);
  return st;
}

#define META_KEY_CHECK "template_key_check"

mien_status db_key_current(mien_store *s, char *err, size_t errlen) {
  char have[65];
  mien_status st = db_meta_get(s, META_KEY_CHECK, have, sizeof have, err, errlen);
  if (st == MIEN_OK && strcmp(have, s->encrypted ? s->key_check : ""))
    st = MIEN_FAIL(err, errlen, MIEN_ERR_IO,
                   "the store's template key was changed by another process: restart with the "
                   "new key");
  return st;
}

mien_status db_key_setup(mien_store *s, const char *path, char *err, size_t errlen) {
  char have[65];
  mien_status st = db_meta_get(s, META_KEY_CHECK, have, sizeof have, err, errlen);
  if (st != MIEN_OK) return st;
  if (!path || !*path) {
    if (*have)
      return MIEN_FAIL(err, errlen, MIEN_ERR_IO,
                       "the store's templates are encrypted: give its key file with "
                       "--template-key FILE or %s",
                       MIEN_TEMPLATE_KEY_ENV);
    return MIEN_OK;
  }
  st = mien_template_key_read(path, s->key, err, errlen);
  if (st != MIEN_OK) return st;
  key_check(s->key, s->key_check);
  s->encrypted = 1;
  if (*have)
    return strcmp(have, s->key_check)
               ? MIEN_FAIL(err, errlen, MIEN_ERR_IO,
                           "%s is not the key of this store's templates (its check value "
                           "differs): give the key the store was encrypted with",
                           path)
               : convert_legacy(s, err, errlen);
  /* A store without templates adopts the key; one with plain templates must be converted. */
  db_stmt *q;
  st = db_prepare(s, "SELECT EXISTS (SELECT 1 FROM faces)", &q, err, errlen);
  if (st != MIEN_OK) return st;
  int plain = db_step(q) == DB_ROW && db_column_int64(q, 0);
  db_finalize(q);
  if (plain)
    return MIEN_FAIL(err, errlen, MIEN_ERR_IO,
                     "the store holds unencrypted templates: encrypt them with `mien keys "
                     "rotate-template-key --new-key %s` (without a current key)",
                     path);
  /* Access keys stored before the key was configured are sealed now, with the adoption. */
  st = db_exec(s, "BEGIN IMMEDIATE", err, errlen);
  if (st != MIEN_OK) return st;
  st = db_reseal_secrets(s, NULL, s->key, err, errlen);
  if (st == MIEN_OK) st = db_meta_set(s, META_KEY_CHECK, s->key_check, err, errlen);
  if (st == MIEN_OK) st = db_meta_set(s, META_SEAL_VERSION, "2", err, errlen);
  st = db_finish(s, st, err, errlen);
  if (st == MIEN_OK) db_erase(s); /* the plain secrets' old pages */
  return st;
}

mien_status mien_store_rotate_template_key(mien_store *s, const char *principal,
                                           const char *new_key_file, int64_t *count, char *err,
                                           size_t errlen) {
  uint8_t key[MIEN_TEMPLATE_KEY_LEN];
  char check[65];
  *count = 0;
  mien_status st = mien_template_key_read(new_key_file, key, err, errlen);
  if (st != MIEN_OK) return st;
  key_check(key, check);
  pthread_mutex_lock(&s->mu);
  if (s->encrypted && !strcmp(check, s->key_check))
    st = MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                   "%s is the store's current key: make a new one with `mien keys "
                   "new-template-key FILE`",
                   new_key_file);
  if (st == MIEN_OK) st = db_exec(s, "BEGIN IMMEDIATE", err, errlen);
  if (st == MIEN_OK) {
    st = db_key_current(s, err, errlen);
    if (st == MIEN_OK) st = reseal_all(s, s->encrypted ? s->key : NULL, key, 0, count, err, errlen);
    if (st == MIEN_OK) st = db_reseal_secrets(s, s->encrypted ? s->key : NULL, key, err, errlen);
    if (st == MIEN_OK) st = db_meta_set(s, META_KEY_CHECK, check, err, errlen);
    if (st == MIEN_OK) st = db_meta_set(s, META_SEAL_VERSION, "2", err, errlen);
    if (st == MIEN_OK) {
      cJSON *fields = cJSON_CreateObject();
      cJSON_AddNumberToObject(fields, "templates", (double)*count);
      cJSON_AddStringToObject(fields, "cipher", "AES-256-GCM");
      st = db_audit(s, principal, "RotateTemplateKey", NULL, fields, err, errlen);
    }
    st = db_finish(s, st, err, errlen);
  }
  if (st == MIEN_OK) {
    /* The old key's ciphertexts leave with the WAL. */
    db_erase(s);
    memcpy(s->key, key, sizeof key);
    memcpy(s->key_check, check, sizeof check);
    s->encrypted = 1;
  }
  pthread_mutex_unlock(&s->mu);
  OPENSSL_cleanse(key, sizeof key);
  return st;
}
