/* scratch.h - the throw-away directories of the targets that need files (fuzz_api.c: a store and
 * a bucket; fuzz_server.c: a store and a web directory): made once per process under $TMPDIR,
 * else /dev/shm when it exists (SQLite's synchronous=FULL then costs little), else /tmp, and
 * removed at exit. fuzz/run.sh points TMPDIR at a directory it removes itself, since a crashing
 * process never reaches its atexit handlers. Header-only: each target is one source file. */
#ifndef MIEN_FUZZ_SCRATCH_H
#define MIEN_FUZZ_SCRATCH_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static inline int fuzz_remove_entry(const char *path, const struct stat *st, int flag,
                                    struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

/* Removes path and everything under it, following no links. */
static inline void fuzz_remove_tree(const char *path) {
  nftw(path, fuzz_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Makes a new directory named after what (dir gets its path); aborts when it cannot. */
static inline void fuzz_scratch_dir(const char *what, char *dir, size_t dirlen) {
  const char *tmp = getenv("TMPDIR");
  if (!tmp) tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  snprintf(dir, dirlen, "%s/mien-fuzz-%s-XXXXXX", tmp, what);
  if (!mkdtemp(dir)) {
    perror(dir);
    abort();
  }
}

/* Writes size bytes of data (or a sparse file of that size when data is NULL) as dir/name. */
static inline void fuzz_put(const char *dir, const char *name, const void *data, size_t size) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f || (data ? fwrite(data, 1, size, f) != size : ftruncate(fileno(f), (off_t)size) != 0))
    perror(path);
  if (f) fclose(f);
}

/* Makes dir/name a symbolic link to target. */
static inline void fuzz_link(const char *dir, const char *name, const char *target) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if (symlink(target, path) != 0) perror(path);
}

#endif
