/* keys.c - access keys in DIR/keys.json (see keys.h for the file's rules).
 *
 * The file is Rekognition-flavoured JSON, the shape `aws iam list-access-keys` prints plus the
 * secret: {"AccessKeys":[{"UserName","AccessKeyId","SecretAccessKey","Status","CreateDate"}]}.
 * Key material comes from OpenSSL's CSPRNG; each character takes one random byte reduced modulo
 * an alphabet size that divides 256, so every character is uniform. */
#include "server/keys.h"

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

#include "util/util.h"

void mien_keys_path(const char *dir, char *out, size_t outlen) {
  snprintf(out, outlen, "%s/keys.json", dir);
}

void mien_keys_free(mien_keyset *ks) {
  if (ks->k) OPENSSL_cleanse(ks->k, (size_t)ks->n * sizeof *ks->k);
  free(ks->k);
  ks->k = NULL;
  ks->n = 0;
}

const mien_key *mien_keys_find(const mien_keyset *ks, const char *id) {
  for (int i = 0; i < ks->n; i++)
    if (!strcmp(ks->k[i].id, id)) return &ks->k[i];
  return NULL;
}

/* Copies string field name of o into out (exactly len characters when exact, else 1..cap-1). */
static int field(const cJSON *o, const char *name, char *out, size_t cap, size_t exact) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  if (!cJSON_IsString(v)) return -1;
  size_t len = strlen(v->valuestring);
  if (exact ? len != exact : len == 0 || len >= cap) return -1;
  memcpy(out, v->valuestring, len + 1);
  return 0;
}

static mien_status parse_keys(const char *path, const char *text, mien_keyset *ks, char *err,
                              size_t errlen) {
  cJSON *root = cJSON_Parse(text);
  const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "AccessKeys"), *e;
  mien_status st = MIEN_OK;
  if (!cJSON_IsArray(arr)) {
    st = MIEN_FAIL(err, errlen, MIEN_ERR_IO, "%s is not a keys file (no AccessKeys list)", path);
  } else if (cJSON_GetArraySize(arr) > 0 &&
             !(ks->k = calloc((size_t)cJSON_GetArraySize(arr), sizeof *ks->k))) {
    st = MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory reading %s", path);
  } else {
    cJSON_ArrayForEach(e, arr) {
      mien_key *k = &ks->k[ks->n];
      if (field(e, "AccessKeyId", k->id, sizeof k->id, MIEN_KEY_ID_LEN) ||
          field(e, "SecretAccessKey", k->secret, sizeof k->secret, MIEN_KEY_SECRET_LEN) ||
          field(e, "UserName", k->user, sizeof k->user, 0) ||
          field(e, "CreateDate", k->created, sizeof k->created, 0)) {
        st = MIEN_FAIL(err, errlen, MIEN_ERR_IO, "%s: key %d is malformed", path, ks->n + 1);
        break;
      }
      ks->n++;
    }
  }
  /* The parsed tree holds secrets too. */
  for (int i = 0; cJSON_IsArray(arr) && i < cJSON_GetArraySize(arr); i++) {
    cJSON *s = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, i), "SecretAccessKey");
    if (cJSON_IsString(s)) OPENSSL_cleanse(s->valuestring, strlen(s->valuestring));
  }
  cJSON_Delete(root);
  if (st != MIEN_OK) mien_keys_free(ks);
  return st;
}

mien_status mien_keys_load(const char *dir, mien_keyset *ks, char *err, size_t errlen) {
  char path[4200];
  mien_keys_path(dir, path, sizeof path);
  ks->k = NULL;
  ks->n = 0;
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return MIEN_OK;
  struct stat sb;
  if (fd < 0 || fstat(fd, &sb) != 0) {
    if (fd >= 0) close(fd);
    return MIEN_FAIL(err, errlen, MIEN_ERR_IO, "cannot read %s: %s", path, strerror(errno));
  }
  if (sb.st_mode & 077) {
    close(fd);
    return MIEN_FAIL(err, errlen, MIEN_ERR_IO,
                     "%s holds secret keys but other users may read it: chmod 600 it", path);
  }
  char *text = sb.st_size < (1 << 24) ? malloc((size_t)sb.st_size + 1) : NULL;
  ssize_t got = text ? read(fd, text, (size_t)sb.st_size) : -1;
  close(fd);
  if (got != sb.st_size) {
    free(text);
    return MIEN_FAIL(err, errlen, MIEN_ERR_IO, "cannot read %s", path);
  }
  text[got] = 0;
  mien_status st = parse_keys(path, text, ks, err, errlen);
  OPENSSL_cleanse(text, (size_t)got);
  free(text);
  return st;
}

/* ---- writing ---- */

/* Writes the set to DIR/keys.json atomically, mode 0600. */
static mien_status save(const char *dir, const mien_keyset *ks, char *err, size_t errlen) {
  cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "AccessKeys");
  for (int i = 0; i < ks->n; i++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "UserName", ks->k[i].user);
    cJSON_AddStringToObject(o, "AccessKeyId", ks->k[i].id);
    cJSON_AddStringToObject(o, "SecretAccessKey", ks->k[i].secret);
    cJSON_AddStringToObject(o, "Status", "Active");
    cJSON_AddStringToObject(o, "CreateDate", ks->k[i].created);
    cJSON_AddItemToArray(arr, o);
  }
  char *text = cJSON_Print(root);
  cJSON_Delete(root);
  if (!text) return MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  char path[4200], tmp[4300];
  mien_keys_path(dir, path, sizeof path);
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  size_t len = strlen(text);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  int ok = fd >= 0 && fchmod(fd, 0600) == 0 && write(fd, text, len) == (ssize_t)len &&
           write(fd, "\n", 1) == 1 && fsync(fd) == 0;
  int saved = errno;
  if (fd >= 0 && close(fd) != 0) ok = 0;
  OPENSSL_cleanse(text, len);
  free(text);
  if (ok && rename(tmp, path) != 0) ok = 0, saved = errno;
  if (!ok) {
    unlink(tmp);
    return MIEN_FAIL(err, errlen, MIEN_ERR_IO, "cannot write %s: %s", path, strerror(saved));
  }
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* make the rename durable */
  if (dfd >= 0) fsync(dfd), close(dfd);
  return MIEN_OK;
}

/* Locks the data directory for a read-modify-write of the keys file; returns the fd, or -1 (errno
 * says why). */
static int lock_dir(const char *dir, int create, char *err, size_t errlen) {
  if (create && mien_make_dirs(dir) != 0) {
    mien_set_err(err, errlen, "cannot create %s: %s", dir, strerror(errno));
    return -1;
  }
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || flock(fd, LOCK_EX) != 0) {
    int e = errno;
    mien_set_err(err, errlen, "cannot lock %s: %s", dir, strerror(e));
    if (fd >= 0) close(fd);
    errno = e;
    return -1;
  }
  return fd;
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
  if (len < 1 || len > MIEN_KEY_USER_MAX) return 0;
  for (; *u; u++)
    if (!isalnum((unsigned char)*u) && !strchr("_+=,.@-", *u)) return 0;
  return 1;
}

mien_status mien_keys_add(const char *dir, const char *user, mien_key *out, char *err,
                          size_t errlen) {
  if (!valid_user(user))
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                     "1 validation error detected: Value '%.100s' at 'userName' failed to satisfy "
                     "constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+ "
                     "and have length between 1 and %d",
                     user, MIEN_KEY_USER_MAX);
  memset(out, 0, sizeof *out);
  if (random_chars(out->id + 4, MIEN_KEY_ID_LEN - 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") ||
      random_chars(out->secret, MIEN_KEY_SECRET_LEN,
                   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"))
    return MIEN_FAIL(err, errlen, MIEN_ERR_INTERNAL, "no random bytes from OpenSSL");
  memcpy(out->id, "AKIA", 4);
  snprintf(out->user, sizeof out->user, "%s", user);
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(out->created, sizeof out->created, "%Y-%m-%dT%H:%M:%SZ", &tm);

  int lock = lock_dir(dir, 1, err, errlen);
  if (lock < 0) return MIEN_ERR_IO;
  mien_keyset ks;
  mien_status st = mien_keys_load(dir, &ks, err, errlen);
  if (st == MIEN_OK) {
    mien_key *k = realloc(ks.k, (size_t)(ks.n + 1) * sizeof *k);
    if (!k) {
      st = MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
    } else {
      ks.k = k;
      ks.k[ks.n++] = *out;
      st = save(dir, &ks, err, errlen);
    }
    mien_keys_free(&ks);
  }
  close(lock);
  return st;
}

mien_status mien_keys_delete(const char *dir, const char *id, char *err, size_t errlen) {
  int lock = lock_dir(dir, 0, err, errlen);
  if (lock < 0 && errno == ENOENT) /* no data directory: no keys either */
    return MIEN_FAIL(err, errlen, MIEN_ERR_RESOURCE_NOT_FOUND,
                     "The Access Key with id %.40s cannot be found.", id);
  if (lock < 0) return MIEN_ERR_IO;
  mien_keyset ks;
  mien_status st = mien_keys_load(dir, &ks, err, errlen);
  if (st == MIEN_OK) {
    const mien_key *k = mien_keys_find(&ks, id);
    if (!k) {
      st = MIEN_FAIL(err, errlen, MIEN_ERR_RESOURCE_NOT_FOUND,
                     "The Access Key with id %.40s cannot be found.", id);
    } else {
      int i = (int)(k - ks.k);
      memmove(&ks.k[i], &ks.k[i + 1], (size_t)(ks.n - i - 1) * sizeof *ks.k);
      OPENSSL_cleanse(&ks.k[--ks.n], sizeof *ks.k); /* the stale copy of the last key */
      st = save(dir, &ks, err, errlen);
    }
    mien_keys_free(&ks);
  }
  close(lock);
  return st;
}
