/* example.h - what the examples share besides <mien.h>: reading a photo into memory (mien takes
 * encoded JPEG or PNG bytes, wherever they come from), opening a service that needs no store,
 * and reporting a failed call. */
#ifndef MIEN_EXAMPLE_H
#define MIEN_EXAMPLE_H

#include <mien.h>
#include <stdio.h>
#include <stdlib.h>

/* The whole file, malloc'ed (*len bytes), or NULL after a message. */
static inline unsigned char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  unsigned char *buf = NULL;
  size_t cap = 0;
  *len = 0;
  if (f) {
    for (;;) {
      if (*len == cap) {
        unsigned char *grown = realloc(buf, cap = cap ? 2 * cap : 1 << 16);
        if (!grown) break;
        buf = grown;
      }
      size_t got = fread(buf + *len, 1, cap - *len, f);
      *len += got;
      if (got == 0) {
        if (!ferror(f)) {
          fclose(f);
          return buf;
        }
        break;
      }
    }
    fclose(f);
  }
  perror(path);
  free(buf);
  return NULL;
}

/* Prints Rekognition's error name and mien's message; returns 1, the examples' exit code. */
static inline int failed(const char *what, mien_status st, const char *err) {
  fprintf(stderr, "%s: %s: %s\n", what, mien_status_name(st), err);
  return 1;
}

/* A service for detection and comparison only: no store, nothing written anywhere. The models
 * are found beside libmien.so, or in $MIEN_MODELS. */
static inline mien_status open_without_store(mien_service **svc, char *err, size_t errlen) {
  mien_service_config cfg;
  mien_service_config_init(&cfg);
  cfg.no_store = 1;
  return mien_service_open(&cfg, svc, err, errlen);
}

#endif
