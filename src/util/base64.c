/* base64.c - the encoding of Image.Bytes in Rekognition's JSON requests. Decoding accepts the
 * standard and URL alphabets, with or without padding, because clients differ. */
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

static int b64_value(int c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

/* Decodes base64 (standard or URL alphabet, padding optional, no whitespace inside). */
uint8_t *mien_b64_decode(const char *s, size_t *len) {
  size_t n = strlen(s);
  while (n && s[n - 1] == '=') n--;
  uint8_t *out = malloc(n * 3 / 4 + 1);
  if (!out) return NULL;
  uint32_t acc = 0;
  int bits = 0;
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    int v = b64_value((unsigned char)s[i]);
    if (v < 0) {
      free(out);
      return NULL;
    }
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (uint8_t)(acc >> bits);
    }
  }
  *len = o;
  return out;
}

char *mien_b64_encode(const uint8_t *data, size_t len) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;
  if (!out) return NULL;
  for (size_t i = 0; i < len; i += 3) {
    uint32_t v = (uint32_t)data[i] << 16;
    if (i + 1 < len) v |= (uint32_t)data[i + 1] << 8;
    if (i + 2 < len) v |= data[i + 2];
    *o++ = alphabet[v >> 18 & 63];
    *o++ = alphabet[v >> 12 & 63];
    *o++ = i + 1 < len ? alphabet[v >> 6 & 63] : '=';
    *o++ = i + 2 < len ? alphabet[v & 63] : '=';
  }
  *o = 0;
  return out;
}
