/* buckets.c - local directories standing in for S3 buckets. A Name is resolved with realpath
 * (following every symbolic link) and must then still lie under the bucket's own resolved
 * directory; anything else is answered as S3 answers an object it cannot give. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/buckets.h"
#include "util/util.h"

mien_status mien_buckets_add(mien_buckets *bs, const char *spec, char *err, size_t errlen) {
  const char *eq = strchr(spec, '=');
  size_t nlen = eq ? (size_t)(eq - spec) : 0;
  if (!eq || nlen < 1 || nlen >= sizeof bs->b[0].name || !eq[1])
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                     "bucket '%s' must be NAME=DIR with a name of 1 to 63 characters", spec);
  if (bs->n == MIEN_BUCKETS_MAX)
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER, "at most %d buckets",
                     MIEN_BUCKETS_MAX);
  char real[PATH_MAX];
  struct stat st;
  if (!realpath(eq + 1, real) || stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER, "bucket %.*s: %s is not a directory",
                     (int)nlen, spec, eq + 1);
  for (int i = 0; i < bs->n; i++)
    if (strlen(bs->b[i].name) == nlen && !memcmp(bs->b[i].name, spec, nlen))
      return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER, "bucket %.*s given twice",
                       (int)nlen, spec);
  memcpy(bs->b[bs->n].name, spec, nlen);
  bs->b[bs->n].name[nlen] = 0;
  snprintf(bs->b[bs->n].dir, sizeof bs->b[0].dir, "%s", real);
  bs->n++;
  return MIEN_OK;
}

mien_status mien_buckets_open(const mien_buckets *bs, const char *bucket, const char *name,
                              size_t max_bytes, mien_status too_large, int *fd, size_t *size,
                              char *err, size_t errlen) {
  *fd = -1;
  const char *dir = NULL;
  for (int i = 0; bs && i < bs->n && !dir; i++)
    if (!strcmp(bs->b[i].name, bucket)) dir = bs->b[i].dir;
  if (!dir)
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_S3_OBJECT,
                     "Unable to get object metadata from S3: no bucket '%.100s' (mien serve "
                     "--bucket NAME=DIR)",
                     bucket);
  char path[PATH_MAX], real[PATH_MAX];
  struct stat st;
  size_t dlen = strlen(dir);
  int ok = name[0] != '/' && snprintf(path, sizeof path, "%s/%s", dir, name) < (int)sizeof path &&
           realpath(path, real) && !strncmp(real, dir, dlen) && real[dlen] == '/';
  /* What is checked is what was opened: fstat of the descriptor, not the path again. */
  int f = ok ? open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
  if (f < 0 || fstat(f, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (f >= 0) close(f);
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_S3_OBJECT,
                     "Unable to get object metadata from S3: no object '%.300s' in bucket "
                     "'%.100s'",
                     name, bucket);
  }
  if ((size_t)st.st_size > max_bytes) {
    close(f);
    return MIEN_FAIL(err, errlen, too_large, "the S3 object has %lld bytes; the limit is %zu",
                     (long long)st.st_size, max_bytes);
  }
  *fd = f;
  *size = (size_t)st.st_size;
  return MIEN_OK;
}

mien_status mien_buckets_read(const mien_buckets *bs, const char *bucket, const char *name,
                              size_t max_bytes, uint8_t **bytes, size_t *len, char *err,
                              size_t errlen) {
  *bytes = NULL;
  int fd;
  size_t size, got = 0;
  mien_status st = mien_buckets_open(bs, bucket, name, max_bytes, MIEN_ERR_IMAGE_TOO_LARGE, &fd,
                                     &size, err, errlen);
  if (st != MIEN_OK) return st;
  uint8_t *buf = malloc(size ? size : 1);
  ssize_t r = 1;
  while (buf && got < size && (r = read(fd, buf + got, size - got)) != 0)
    if (r > 0)
      got += (size_t)r;
    else if (errno != EINTR)
      break;
  int saved = errno;
  close(fd);
  if (!buf || got != size) {
    free(buf);
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_S3_OBJECT, "Unable to get object from S3: %s",
                     buf ? (r < 0 ? strerror(saved) : "the object changed while read")
                         : "out of memory");
  }
  *bytes = buf;
  *len = size;
  return MIEN_OK;
}
