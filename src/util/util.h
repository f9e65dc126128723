/* util.h - small helpers shared across layers: finding model files, reading files, error
 * sentences, timing. */
#ifndef MIEN_UTIL_H
#define MIEN_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Finds NAME (a path such as "models/fr_detect.onnx" or "web") among mien's data files: in
 * share/mien beside the running program or libmien.so (bin/../share/mien of an install under
 * any prefix; share/mien of a build directory, linked to the sources), then in the configured
 * prefix's share/mien. Writes the path to out and returns 0, or -1 (out then names
 * the places tried). */
int mien_find_data(const char *name, char *out, size_t outlen);
/* Finds a model file by name: the directory given to mien_models_dir_set, then $MIEN_MODELS,
 * then models/FILE by mien_find_data, then ./models. */
int mien_find_model(const char *file, char *out, size_t outlen);
/* The model directory a program configured (mien_service_config.models), looked in first from
 * now on by every model lookup of the process (the model identity is hashed once per process,
 * so one directory per process); NULL forgets it. Passed down rather than put in the
 * environment: setenv races every other thread's getenv. */
void mien_models_dir_set(const char *dir);

/* Reads a whole file; returns NULL on failure (errno set). *len gets the size. */
uint8_t *mien_read_file(const char *path, size_t *len);

/* Opens `name`, a path relative to directory `dir`, for reading, in one step that a concurrent
 * rename or symbolic-link swap cannot redirect out of dir (openat2 RESOLVE_BENEATH: ".." and
 * links are followed only while they stay inside; absolute links and /proc magic links are
 * refused). Without openat2 (use_openat2 0, or a kernel that lacks it) each component is opened
 * relative to the previous one with O_NOFOLLOW and ".." is refused. Opened O_NONBLOCK so that a
 * FIFO cannot block. Returns the descriptor or -1 (errno: ENOENT, EXDEV or ELOOP for a path
 * that leaves dir, ...). */
int mien_open_beneath(const char *dir, const char *name, int use_openat2);

typedef enum {
  MIEN_READ_OK,
  MIEN_READ_NOT_REGULAR, /* a directory, FIFO, device or socket */
  MIEN_READ_TOO_LARGE,   /* over max bytes, by fstat or by what was read */
  MIEN_READ_FAILED       /* errno says why */
} mien_read_result;
/* Reads the regular file open on fd, never more than max + 1 bytes whatever it claims or grows
 * to. *bytes is malloc'ed (free it), *len its size; *size is the size seen (for messages). */
mien_read_result mien_read_open_file(int fd, size_t max, uint8_t **bytes, size_t *len,
                                     uint64_t *size);

/* mkdir -p with mode 0700: data directories hold biometric templates and keys. 0 or -1 (errno). */
int mien_make_dirs(const char *dir);
/* Overwrites the open file fd (size bytes) with zeros and syncs it, then removes path and syncs
 * its directory dir: the bytes go, not only the file's name (a file of secrets or templates). */
void mien_wipe_file(int fd, int64_t size, const char *path, const char *dir);

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

/* What this CPU can run (cpu.c), as bits. */
#define MIEN_CPU_AVX2 1u
#define MIEN_CPU_FMA 2u
#define MIEN_CPU_AVX512 4u /* F, BW, DQ and VL together */
#define MIEN_CPU_AVX512_VNNI 8u
unsigned mien_cpu_features(void);
/* The kernel family to use, of n named in names (most capable first, the last portable): the one
 * $MIEN_ISA names, else the first; then down the list to the first supported[i]. warn: say on
 * stderr when MIEN_ISA names no family or one this CPU lacks. */
int mien_isa_choose(const char *const *names, const int *supported, int n, int warn);

/* Milliseconds on the monotonic clock, for timing. */
double mien_now_ms(void);
/* Sorts n doubles ascending. */
void mien_sort_doubles(double *v, int n);
/* Sorts v (n > 0) and returns its median: the mean of the middle two when n is even. */
double mien_median(double *v, int n);

#endif
