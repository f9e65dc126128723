/* buckets.h - Image.S3Object without S3: each bucket name maps to a local directory (`mien serve
 * --bucket NAME=DIR`), and an object's Name is a path inside it. No Name may reach outside its
 * directory: absolute paths, ".." and symbolic links that lead out are refused alike. */
#ifndef MIEN_API_BUCKETS_H
#define MIEN_API_BUCKETS_H

#include <stddef.h>
#include <stdint.h>

#include "mien.h"

#define MIEN_BUCKETS_MAX 64

typedef struct {
  int n;
  struct {
    char name[64];  /* S3's bucket names are 3..63 characters */
    char dir[4096]; /* the directory, resolved (realpath) when added */
  } b[MIEN_BUCKETS_MAX];
} mien_buckets;

/* Adds "NAME=DIR"; the directory must exist. InvalidParameterException otherwise. */
mien_status mien_buckets_add(mien_buckets *bs, const char *spec, char *err, size_t errlen);

/* Opens object `name` of `bucket` for reading (O_RDONLY, O_CLOEXEC, the last component not a
 * link) into *fd and gives its size; an object over max_bytes is refused with too_large (the
 * caller's error: ImageTooLargeException, VideoTooLargeException). Other refusals as
 * mien_buckets_read. The one place a Name becomes an open file. */
mien_status mien_buckets_open(const mien_buckets *bs, const char *bucket, const char *name,
                              size_t max_bytes, mien_status too_large, int *fd, size_t *size,
                              char *err, size_t errlen);

/* Reads object `name` of `bucket`, at most max_bytes (ImageTooLargeException beyond). A missing
 * bucket or object, or a name that leaves the bucket: InvalidS3ObjectException. *bytes is
 * malloc'ed (free it). bs may be NULL (no buckets). */
mien_status mien_buckets_read(const mien_buckets *bs, const char *bucket, const char *name,
                              size_t max_bytes, uint8_t **bytes, size_t *len, char *err,
                              size_t errlen);

#endif
