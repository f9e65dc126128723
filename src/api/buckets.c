/* buckets.c - local directories standing in for S3 buckets. A Name is resolved with realpath
 * (following every symbolic link) and must then still lie under the bucket's own resolved
 * directory; anything else is answered as S3 answers an object it cannot give. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

mien_status mien_buckets_read(const mien_buckets *bs, const char *bucket, const char *name,
                              size_t max_bytes, uint8_t **bytes, size_t *len, char *err,
                              size_t errlen) {
  *bytes = NULL;
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
           realpath(path, real) && !strncmp(real, dir, dlen) && real[dlen] == '/' &&
           stat(real, &st) == 0 && S_ISREG(st.st_mode);
  if (!ok)
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_S3_OBJECT,
                     "Unable to get object metadata from S3: no object '%.300s' in bucket "
                     "'%.100s'",
                     name, bucket);
  if ((size_t)st.st_size > max_bytes)
    return MIEN_FAIL(err, errlen, MIEN_ERR_IMAGE_TOO_LARGE,
                     "the S3 object has %lld bytes; the limit is %zu", (long long)st.st_size,
                     max_bytes);
  if (!(*bytes = mien_read_file(real, len)))
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_S3_OBJECT, "Unable to get object from S3: %s",
                     strerror(errno));
  return MIEN_OK;
}
