/* files.c - where models live, and reading whole files. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/util.h"

int mien_find_model(const char *file, char *out, size_t outlen) {
  const char *env = getenv("MIEN_MODELS");
  const char *dirs[3] = {env, MIEN_SHARE_DIR "/models", "models"};
  for (int i = 0; i < 3; i++) {
    if (!dirs[i] || !*dirs[i]) continue;
    snprintf(out, outlen, "%s/%s", dirs[i], file);
    if (access(out, R_OK) == 0) return 0;
  }
  snprintf(out, outlen,
           "%s not found in $MIEN_MODELS (%s), %s/models or ./models; run `make models`", file,
           env ? env : "unset", MIEN_SHARE_DIR);
  return -1;
}

uint8_t *mien_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  uint8_t *buf = NULL;
  size_t cap = 0, n = 0;
  for (;;) {
    if (n == cap) {
      cap = cap ? 2 * cap : 1 << 16;
      uint8_t *b = realloc(buf, cap);
      if (!b) {
        free(buf);
        fclose(f);
        return NULL;
      }
      buf = b;
    }
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0) break;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    free(buf);
    return NULL;
  }
  *len = n;
  return buf;
}
