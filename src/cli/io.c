/* io.c - what the commands need besides the library: reading a user's file, base64 for the
 * Bytes of a request naming two images, and a clock for progress and --stats. The library's own
 * helpers of the kind stay inside it (mien.h exports face recognition, not utilities). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <openssl/evp.h>

#include "cli/cli.h"

uint8_t *cli_read_file(const char *path, size_t cap, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t want = cap + 1, n = 0, size = 1 << 16;
  uint8_t *buf = NULL;
  for (;;) {
    if (size > want) size = want;
    uint8_t *b = realloc(buf, size ? size : 1);
    if (!b) {
      free(buf);
      fclose(f);
      errno = ENOMEM;
      return NULL;
    }
    buf = b;
    n += fread(buf + n, 1, size - n, f);
    if (n < size || size == want) break;
    size *= 2;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    free(buf);
    errno = EIO;
    return NULL;
  }
  *len = n;
  return buf;
}

char *cli_base64(const uint8_t *data, size_t len) {
  if (len > (size_t)INT32_MAX / 4 * 3) return NULL; /* EVP_EncodeBlock counts in int */
  char *out = malloc((len + 2) / 3 * 4 + 1);
  if (out) EVP_EncodeBlock((unsigned char *)out, data, (int)len);
  return out;
}

double cli_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}
