/* db_keys.c - access keys in the store: the AccessKeyId / SecretAccessKey pairs `mien serve`
 * verifies SigV4 signatures with (mien.h's access-key calls).
 *
 * They live in the access_keys table, so every node on one store answers to the same keys and a
 * key added or deleted through one is accepted or refused by all as soon as it commits: the
 * servers look a key up at each request rather than keeping copies. SigV4 needs the secret itself
 * on the verifying side, so it cannot be hashed: with a template key configured it is sealed with
 * it (AES-256-GCM, bound to its AccessKeyId, crypt.c), otherwise it is stored as the database's
 * templates are, protected by the files' modes (or PostgreSQL's roles). Adding and deleting are
 * audited (the record names the key and its user, never the secret); a deleted key is erased as a
 * deleted face is (db_erase).
 *
 * Before keys lived here, a data directory held them in DIR/keys.json (mode 0600, in clear). The
 * first open of such a store imports the file's keys (audited, one transaction), then overwrites
 * the file with zeros, syncs and removes it, so no copy of the secrets stays beside the store.
 *
 * Key material comes from OpenSSL's CSPRNG; each character takes one random byte reduced modulo
 * an alphabet size that divides 256, so every character is uniform. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/internal.h"
#include "util/util.h"

#define KEYS_FILE "keys.json"

/* The key of store s's template key, or NULL when secrets are stored plain. */
static const uint8_t *seal_key(const mien_store *s) {
  return s->encrypted ? s->key : NULL;
}

static void iso_time(double t, char out[32]) {
  time_t sec = (time_t)t;
  struct tm tm;
  gmtime_r(&sec, &tm);
  strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* n characters drawn uniformly from alphabet (whose size divides 256). */
static int random_chars(char *out, int n, const char *alphabet) {
  unsigned char b[64];
  size_t m = strlen(alphabet);
  if (n > (int)sizeof b || RAND_bytes(b, n) != 1) return -1;
  for (int i = 0; i < n; i++) out[i] = alphabet[b[i] % m];
  out[n] = 0;
  OPENSSL_cleanse(b, sizeof b);
  return 0;
}

static int valid_user(const char *u) {
  size_t len = strlen(u);
  if (len < 1 || len > MIEN_ACCESS_KEY_USER_MAX) return 0;
  for (; *u; u++)
    if (!isalnum((unsigned char)*u) && !strchr("_+=,.@-", *u)) return 0;
  return 1;
}

/* Inserts a key (mutex held, in a transaction): DB_CONSTRAINT from db_step is reported as
 * *exists when exists is not NULL (an import meeting a key it has already), else as a failure. */
static mien_status insert_key(mien_store *s, const char *id, const char *user, const char *secret,
                              double created, int *exists, char *err, size_t errlen) {
  uint8_t buf[DB_SEALED_SECRET_BYTES];
  const void *blob;
  int len;
  db_stmt *q = NULL;
  mien_status st = db_seal_secret(seal_key(s), id, secret, buf, &blob, &len, err, errlen);
  if (st == MIEN_OK)
    st = db_prepare(s,
                    "INSERT INTO access_keys (id, user_name, secret, created) VALUES (?, ?, ?, ?)",
                    &q, err, errlen);
  if (st == MIEN_OK) {
    db_bind_text(q, 1, id);
    db_bind_text(q, 2, user);
    db_bind_blob(q, 3, blob, len);
    db_bind_double(q, 4, created);
    int rc = db_step(q);
    if (rc == DB_CONSTRAINT && exists)
      *exists = 1;
    else if (rc != DB_DONE)
      st = db_fail(s, "storing the access key", err, errlen);
  }
  db_finalize(q);
  OPENSSL_cleanse(buf, sizeof buf);
  return st;
}

/* An audit record naming key id (and its user when not NULL); within the transaction. */
static mien_status audit_key(mien_store *s, const char *principal, const char *op, const char *id,
                             const char *user, char *err, size_t errlen) {
  cJSON *fields = cJSON_CreateObject();
  cJSON_AddStringToObject(fields, "AccessKeyId", id);
  if (user) cJSON_AddStringToObject(fields, "UserName", user);
  return db_audit(s, principal, op, NULL, fields, err, errlen);
}

mien_status mien_store_access_key_add(mien_store *s, const char *principal, const char *user,
                                      mien_access_key *key,
                                      char secret[MIEN_ACCESS_KEY_SECRET_LEN + 1], char *err,
                                      size_t errlen) {
  if (!user || !valid_user(user))
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                     "1 validation error detected: Value '%.100s' at 'userName' failed to satisfy "
                     "constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+ "
                     "and have length between 1 and %d",
                     user ? user : "", MIEN_ACCESS_KEY_USER_MAX);
  memset(key, 0, sizeof *key);
  if (random_chars(key->id + 4, MIEN_ACCESS_KEY_ID_LEN - 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") ||
      random_chars(secret, MIEN_ACCESS_KEY_SECRET_LEN,
                   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"))
    return MIEN_FAIL(err, errlen, MIEN_ERR_INTERNAL, "no random bytes from OpenSSL");
  memcpy(key->id, "AKIA", 4);
  snprintf(key->user, sizeof key->user, "%s", user);
  double now = db_now();
  iso_time(now, key->created);
  mien_status st = db_begin_write(s, err, errlen);
  if (st != MIEN_OK) return st;
  st = db_key_current(s, err, errlen);
  if (st == MIEN_OK) st = insert_key(s, key->id, user, secret, now, NULL, err, errlen);
  if (st == MIEN_OK) st = audit_key(s, principal, "CreateAccessKey", key->id, user, err, errlen);
  st = db_end_write(s, st, err, errlen);
  if (st != MIEN_OK) OPENSSL_cleanse(secret, MIEN_ACCESS_KEY_SECRET_LEN + 1);
  return st;
}

mien_status mien_store_access_key_delete(mien_store *s, const char *principal, const char *id,
                                         char *err, size_t errlen) {
  mien_status st = db_begin_write(s, err, errlen);
  if (st != MIEN_OK) return st;
  db_stmt *q = NULL;
  st = db_prepare(s, "DELETE FROM access_keys WHERE id = ?", &q, err, errlen);
  if (st == MIEN_OK) {
    db_bind_text(q, 1, id);
    if (db_step(q) != DB_DONE)
      st = db_fail(s, "deleting the access key", err, errlen);
    else if (db_changes(s) == 0)
      st = MIEN_FAIL(err, errlen, MIEN_ERR_RESOURCE_NOT_FOUND,
                     "The Access Key with id %.40s cannot be found.", id);
  }
  db_finalize(q);
  if (st == MIEN_OK) st = audit_key(s, principal, "DeleteAccessKey", id, NULL, err, errlen);
  st = db_finish(s, st, err, errlen);
  if (st == MIEN_OK) db_erase(s);
  pthread_mutex_unlock(&s->mu);
  return st;
}

mien_status mien_store_access_key_list(mien_store *s, mien_access_key **keys, int *n, char *err,
                                       size_t errlen) {
  *keys = NULL, *n = 0;
  pthread_mutex_lock(&s->mu);
  db_stmt *q = NULL;
  mien_status st = db_prepare(
      s, "SELECT id, user_name, created FROM access_keys ORDER BY created, id", &q, err, errlen);
  int rc = DB_DONE, cap = 0;
  while (st == MIEN_OK && (rc = db_step(q)) == DB_ROW) {
    if (*n == cap) {
      cap = cap ? 2 * cap : 16;
      mien_access_key *k = realloc(*keys, (size_t)cap * sizeof *k);
      if (!k) {
        st = MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
        break;
      }
      *keys = k;
    }
    mien_access_key *k = &(*keys)[(*n)++];
    snprintf(k->id, sizeof k->id, "%s", db_column_text(q, 0));
    snprintf(k->user, sizeof k->user, "%s", db_column_text(q, 1));
    iso_time(db_column_double(q, 2), k->created);
  }
  if (st == MIEN_OK && rc != DB_DONE) st = db_fail(s, "listing access keys", err, errlen);
  db_finalize(q);
  pthread_mutex_unlock(&s->mu);
  if (st != MIEN_OK) free(*keys), *keys = NULL, *n = 0;
  return st;
}

mien_status mien_store_access_key_count(mien_store *s, int64_t *n, char *err, size_t errlen) {
  *n = 0;
  pthread_mutex_lock(&s->mu);
  db_stmt *q;
  mien_status st = db_prepare(s, "SELECT count(*) FROM access_keys", &q, err, errlen);
  if (st == MIEN_OK) {
    if (db_step(q) == DB_ROW)
      *n = db_column_int64(q, 0);
    else
      st = db_fail(s, "counting access keys", err, errlen);
    db_finalize(q);
  }
  pthread_mutex_unlock(&s->mu);
  return st;
}

mien_status mien_store_access_key_secret(mien_store *s, const char *id,
                                         char secret[MIEN_ACCESS_KEY_SECRET_LEN + 1], int *found,
                                         char *err, size_t errlen) {
  *found = 0;
  secret[0] = 0;
  pthread_mutex_lock(&s->mu);
  db_stmt *q;
  mien_status st = db_prepare(s, "SELECT secret FROM access_keys WHERE id = ?", &q, err, errlen);
  if (st == MIEN_OK) {
    db_bind_text(q, 1, id);
    int rc = db_step(q);
    if (rc == DB_ROW) {
      st = db_unseal_secret(seal_key(s), id, db_column_blob(q, 0), db_column_bytes(q, 0), secret,
                            err, errlen);
      *found = st == MIEN_OK;
    } else if (rc != DB_DONE) {
      st = db_fail(s, "reading the access key", err, errlen);
    }
    db_finalize(q);
  }
  pthread_mutex_unlock(&s->mu);
  return st;
}

mien_status db_reseal_secrets(mien_store *s, const uint8_t *old, const uint8_t *key, char *err,
                              size_t errlen) {
  db_stmt *sel = NULL, *upd = NULL;
  mien_status st = db_prepare(
      s, "SELECT id, secret FROM access_keys WHERE id > ? ORDER BY id LIMIT 1", &sel, err, errlen);
  if (st == MIEN_OK)
    st = db_prepare(s, "UPDATE access_keys SET secret = ? WHERE id = ?", &upd, err, errlen);
  char id[MIEN_ACCESS_KEY_ID_LEN + 1] = "", secret[MIEN_ACCESS_KEY_SECRET_LEN + 1];
  uint8_t buf[DB_SEALED_SECRET_BYTES];
  while (st == MIEN_OK) {
    db_reset(sel);
    db_bind_text(sel, 1, id);
    int rc = db_step(sel);
    if (rc == DB_DONE) break;
    if (rc != DB_ROW) {
      st = db_fail(s, "reading access keys", err, errlen);
      break;
    }
    snprintf(id, sizeof id, "%s", db_column_text(sel, 0));
    const void *blob;
    int len;
    st = db_unseal_secret(old, id, db_column_blob(sel, 1), db_column_bytes(sel, 1), secret, err,
                          errlen);
    db_reset(sel);
    if (st == MIEN_OK) st = db_seal_secret(key, id, secret, buf, &blob, &len, err, errlen);
    if (st == MIEN_OK) {
      db_reset(upd);
      db_bind_blob(upd, 1, blob, len);
      db_bind_text(upd, 2, id);
      if (db_step(upd) != DB_DONE) st = db_fail(s, "rewriting an access key", err, errlen);
    }
  }
  db_finalize(sel);
  db_finalize(upd);
  OPENSSL_cleanse(secret, sizeof secret);
  OPENSSL_cleanse(buf, sizeof buf);
  return st;
}

/* ---- importing DIR/keys.json ---- */

/* Copies string field name of o into out (exactly len characters when exact, else 1..cap-1). */
static int field(const cJSON *o, const char *name, char *out, size_t cap, size_t exact) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  if (!cJSON_IsString(v)) return -1;
  size_t len = strlen(v->valuestring);
  if (exact ? len != exact : len == 0 || len >= cap) return -1;
  memcpy(out, v->valuestring, len + 1);
  return 0;
}

/* The Unix time of an ISO 8601 UTC date ("2024-05-01T12:00:00Z"); now when it is not one. */
static double parse_time(const char *iso) {
  struct tm tm = {0};
  const char *end = strptime(iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return end && !*end ? (double)timegm(&tm) : db_now();
}

/* Inserts the keys of the file's text (mutex held, in a transaction); *n counts the new ones. */
static mien_status import_text(mien_store *s, const char *path, const char *text, int *n, char *err,
                               size_t errlen) {
  cJSON *root = cJSON_Parse(text), *e;
  const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "AccessKeys");
  mien_status st =
      cJSON_IsArray(arr)
          ? MIEN_OK
          : MIEN_FAIL(err, errlen, MIEN_ERR_IO, "%s is not a keys file (no AccessKeys list)", path);
  int i = 0;
  *n = 0;
  cJSON_ArrayForEach(e, (st == MIEN_OK ? arr : NULL)) {
    mien_access_key k;
    char secret[MIEN_ACCESS_KEY_SECRET_LEN + 1];
    int exists = 0;
    i++;
    if (field(e, "AccessKeyId", k.id, sizeof k.id, MIEN_ACCESS_KEY_ID_LEN) ||
        field(e, "SecretAccessKey", secret, sizeof secret, MIEN_ACCESS_KEY_SECRET_LEN) ||
        field(e, "UserName", k.user, sizeof k.user, 0) ||
        field(e, "CreateDate", k.created, sizeof k.created, 0))
      st = MIEN_FAIL(err, errlen, MIEN_ERR_IO, "%s: key %d is malformed", path, i);
    if (st == MIEN_OK)
      st = insert_key(s, k.id, k.user, secret, parse_time(k.created), &exists, err, errlen);
    OPENSSL_cleanse(secret, sizeof secret);
    if (st != MIEN_OK) break;
    *n += !exists;
  }
  /* The parsed tree holds secrets too. */
  cJSON_ArrayForEach(e, (cJSON_IsArray(arr) ? arr : NULL)) {
    cJSON *sk = cJSON_GetObjectItemCaseSensitive(e, "SecretAccessKey");
    if (cJSON_IsString(sk)) OPENSSL_cleanse(sk->valuestring, strlen(sk->valuestring));
  }
  cJSON_Delete(root);
  return st;
}

mien_status db_keys_import(mien_store *s, const char *dir, char *err, size_t errlen) {
  char path[4200];
  snprintf(path, sizeof path, "%s/" KEYS_FILE, dir);
  /* Two processes opening the store at once import it once: the directory's lock orders them
   * (as it ordered writers of the file), and the second finds no file. */
  int lock = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (lock < 0 || flock(lock, LOCK_EX) != 0) {
    if (lock >= 0) close(lock);
    return MIEN_OK; /* no directory to hold a file */
  }
  int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  struct stat sb;
  mien_status st = MIEN_OK;
  if (fd < 0 && errno == ENOENT) {
    close(lock);
    return MIEN_OK;
  }
  if (fd < 0 || fstat(fd, &sb) != 0)
    st = MIEN_FAIL(err, errlen, MIEN_ERR_IO, "cannot read %s: %s", path, strerror(errno));
  else if (!S_ISREG(sb.st_mode) || sb.st_size >= (1 << 24))
    st = MIEN_FAIL(err, errlen, MIEN_ERR_IO, "%s is not a keys file", path);
  else if (sb.st_mode & 077) /* its keys may have leaked: the operator decides, not mien */
    st = MIEN_FAIL(err, errlen, MIEN_ERR_IO,
                   "%s holds secret keys but other users may read it: chmod 600 it (or remove "
                   "it and add new keys)",
                   path);
  char *text = st == MIEN_OK ? malloc((size_t)sb.st_size + 1) : NULL;
  if (st == MIEN_OK && (!text || read(fd, text, (size_t)sb.st_size) != sb.st_size))
    st = MIEN_FAIL(err, errlen, MIEN_ERR_IO, "cannot read %s", path);
  int n = 0;
  if (st == MIEN_OK) {
    text[sb.st_size] = 0;
    st = db_begin_write(s, err, errlen);
    if (st == MIEN_OK) {
      st = import_text(s, path, text, &n, err, errlen);
      if (st == MIEN_OK) {
        cJSON *fields = cJSON_CreateObject();
        cJSON_AddNumberToObject(fields, "keys", n);
        cJSON_AddStringToObject(fields, "from", KEYS_FILE);
        st = db_audit(s, NULL, "ImportAccessKeys", NULL, fields, err, errlen);
      }
      st = db_end_write(s, st, err, errlen);
    }
  }
  if (text) OPENSSL_cleanse(text, (size_t)sb.st_size), free(text);
  if (st == MIEN_OK) {
    mien_wipe_file(fd, sb.st_size, path, dir);
    fprintf(stderr,
            "mien: %d access key(s) of %s moved into the store; the file was overwritten and "
            "removed\n",
            n, path);
  }
  if (fd >= 0) close(fd);
  close(lock);
  return st;
}
