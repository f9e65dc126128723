/* util.h - small helpers shared across layers: finding model files, reading files, error
 * sentences, timing. */
#ifndef MIEN_UTIL_H
#define MIEN_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Finds a model file by name: $MIEN_MODELS, then the install prefix's share/mien/models, then
 * ./models. Writes the path to out and returns 0, or -1 (out then names the places tried). */
int mien_find_model(const char *file, char *out, size_t outlen);

/* Reads a whole file; returns NULL on failure (errno set). *len gets the size. */
uint8_t *mien_read_file(const char *path, size_t *len);

/* mkdir -p with mode 0700: data directories hold biometric templates and keys. 0 or -1 (errno). */
int mien_make_dirs(const char *dir);

/* Writes the printf-style sentence into err, when err is not NULL and errlen > 0. */
void mien_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* mien_set_err, then the value st: `return MIEN_FAIL(err, errlen, MIEN_ERR_IO, "...", ...);`. */
#define MIEN_FAIL(err, errlen, st, ...) (mien_set_err((err), (errlen), __VA_ARGS__), (st))

/* Base64 (standard or URL alphabet, padding optional, no whitespace inside) to bytes; NULL when
 * malformed or out of memory. *len gets the size. */
uint8_t *mien_b64_decode(const char *s, size_t *len);
/* Bytes to padded standard base64, NUL-terminated; NULL when out of memory. */
char *mien_b64_encode(const uint8_t *data, size_t len);

/* Milliseconds on the monotonic clock, for timing. */
double mien_now_ms(void);
/* Sorts n doubles ascending. */
void mien_sort_doubles(double *v, int n);
/* Sorts v (n > 0) and returns its median: the mean of the middle two when n is even. */
double mien_median(double *v, int n);

#endif
