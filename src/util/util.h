/* util.h - small helpers shared across layers: finding model files, reading files. */
#ifndef MIEN_UTIL_H
#define MIEN_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Finds a model file by name: $MIEN_MODELS, then the install prefix's share/mien/models, then
 * ./models. Writes the path to out and returns 0, or -1 (out then names the places tried). */
int mien_find_model(const char *file, char *out, size_t outlen);

/* Reads a whole file; returns NULL on failure (errno set). *len gets the size. */
uint8_t *mien_read_file(const char *path, size_t *len);

#endif
