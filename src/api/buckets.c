/* buckets.c - local directories standing in for S3 buckets. A Name is opened beneath the bucket's
 * own resolved directory in one step (mien_open_beneath: symbolic links and ".." are followed
 * only while they stay inside) and must be a regular file; anything else is answered as S3
 * answers an object it cannot give. */
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
  /* Opened once beneath the bucket's directory, then checked on the descriptor: a link or FIFO
   * swapped in after any check by name would otherwise be what gets read (mien_open_beneath). */
  int f = mien_open_beneath(dir, name, 1);
  struct stat st;
  if (f < 0 || fstat(f, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (f >= 0) close(f);
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_S3_OBJECT,
                     "Unable to get object metadata from S3: no object '%.300s' in bucket "
                     "'%.100s'",
                     name, bucket);
  }
  if ((uint64_t)st.st_size > max_bytes) {
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
  size_t hint;
  mien_status st = mien_buckets_open(bs, bucket, name, max_bytes, MIEN_ERR_IMAGE_TOO_LARGE, &fd,
                                     &hint, err, errlen);
  if (st != MIEN_OK) return st;
  /* Read at most max_bytes + 1 whatever fstat said: the file may grow while it is read. */
  uint64_t size = 0;
  mien_read_result rr = mien_read_open_file(fd, max_bytes, bytes, len, &size);
  int e = errno;
  close(fd);
  if (rr == MIEN_READ_TOO_LARGE)
    return MIEN_FAIL(err, errlen, MIEN_ERR_IMAGE_TOO_LARGE,
                     "the S3 object has %llu bytes or more; the limit is %zu",
                     (unsigned long long)size, max_bytes);
  if (rr != MIEN_READ_OK)
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_S3_OBJECT, "Unable to get object from S3: %s",
                     rr == MIEN_READ_NOT_REGULAR ? "not a regular file" : strerror(e));
  return MIEN_OK;
}
