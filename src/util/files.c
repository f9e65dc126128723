/* files.c - where models live, reading whole files, making private directories, and opening a
 * file that a request names inside a directory (a bucket, the web page's folder).
 *
 * mien's data files (models, web page) are looked up beside the running program or libmien.so,
 * never only at the prefix the build was configured for: an install then works wherever it is
 * put (make install PREFIX=..., a DESTDIR staging tree, a .deb), and so does a build directory.
 *
 * A request-named file is opened once, relative to its directory, and everything after works on
 * that descriptor: checking a path (realpath, stat) and then opening it by name lets a local user
 * swap in a symbolic link, a FIFO or a device between the two. openat2 with RESOLVE_BENEATH
 * resolves the whole path in the kernel and fails if any step, symbolic links included, would
 * leave the directory; fstat of the descriptor then tells a regular file from anything else, and
 * the read stops one byte past the limit whatever the file claims to be. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mien.h"
#include "util/util.h"

/* The directory of the file this code was loaded from: libmien.so for a program linked with
 * the shared library, the program itself when it links libmien.a (as the mien command does).
 * dladdr names a library by the path it was loaded as, but the main program only by argv[0],
 * so the program is recognised by its base address (that of its program headers) and named
 * by /proc/self/exe instead. */
static int own_dir(char *out, size_t outlen, int *is_program) {
  Dl_info self, prog;
  if (!dladdr((void *)own_dir, &self) || !dladdr((void *)getauxval(AT_PHDR), &prog)) return -1;
  *is_program = self.dli_fbase == prog.dli_fbase;
  char path[PATH_MAX];
  if (*is_program) {
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0) return -1;
    path[n] = 0;
  } else if (!self.dli_fname || !realpath(self.dli_fname, path)) {
    return -1;
  }
  char *slash = strrchr(path, '/');
  if (!slash) return -1;
  *slash = 0;
  return snprintf(out, outlen, "%s", path) < (int)outlen ? 0 : -1;
}

int mien_find_data(const char *name, char *out, size_t outlen) {
  /* Relative to this file first: an install under any prefix (bin/../share/mien, or the
   * library directory's way there) and a build tree (CMake links its share/mien to the
   * sources' models/ and web/). The configured prefix only after, for a library or program
   * copied away from its tree. */
  char own[PATH_MAX], rel[PATH_MAX + 64] = "", tree[PATH_MAX + 16] = "";
  int is_program = 0;
  if (own_dir(own, sizeof own, &is_program) == 0) {
    snprintf(rel, sizeof rel, "%s/%s", own, is_program ? MIEN_BIN_TO_SHARE : MIEN_LIB_TO_SHARE);
    snprintf(tree, sizeof tree, "%s/share/mien", own);
  }
  const char *dirs[] = {rel, tree, MIEN_SHARE_DIR};
  for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
    if (!*dirs[i]) continue;
    snprintf(out, outlen, "%s/%s", dirs[i], name);
    if (access(out, R_OK) == 0) return 0;
  }
  snprintf(out, outlen, "%s not found in %s, %s, %s", name, *rel ? rel : "(own directory unknown)",
           tree, MIEN_SHARE_DIR);
  return -1;
}

static pthread_mutex_t models_mu = PTHREAD_MUTEX_INITIALIZER;
static char models_dir[PATH_MAX];

void mien_models_dir_set(const char *dir) {
  pthread_mutex_lock(&models_mu);
  snprintf(models_dir, sizeof models_dir, "%s", dir ? dir : "");
  pthread_mutex_unlock(&models_mu);
}

int mien_find_model(const char *file, char *out, size_t outlen) {
  pthread_mutex_lock(&models_mu);
  snprintf(out, outlen, "%s/%s", models_dir, file);
  int configured = models_dir[0] != 0;
  pthread_mutex_unlock(&models_mu);
  if (configured && access(out, R_OK) == 0) return 0;
  const char *env = getenv("MIEN_MODELS");
  if (env && *env) {
    snprintf(out, outlen, "%s/%s", env, file);
    if (access(out, R_OK) == 0) return 0;
  }
  char name[PATH_MAX], tried[PATH_MAX + 256];
  snprintf(name, sizeof name, "models/%s", file);
  if (mien_find_data(name, out, outlen) == 0) return 0;
  snprintf(tried, sizeof tried, "%s", out);
  /* ./models last, as before installs were relocatable: a checkout's root. */
  snprintf(out, outlen, "%s", name);
  if (access(out, R_OK) == 0) return 0;
  snprintf(out, outlen, "%s, ./ (nor in $MIEN_MODELS: %s); run `make models`", tried,
           env && *env ? env : "unset");
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

int mien_make_dirs(const char *dir) {
  char p[4096];
  if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) return errno = ENAMETOOLONG, -1;
  for (char *s = p + 1; *s; s++) {
    if (*s != '/') continue;
    *s = '\0';
    if (mkdir(p, 0700) != 0 && errno != EEXIST) return -1;
    *s = '/';
  }
  return mkdir(p, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

/* ---- opening a user-named file inside a directory ---- */

/* The portable walk for kernels without openat2 (before Linux 5.6, or a seccomp filter that
 * refuses it): one component at a time, relative to the previous one, none of them a symbolic
 * link and none "..", so no concurrent swap can lead the walk anywhere else. */
static int open_walk(int dirfd, const char *name, int flags) {
  char part[PATH_MAX];
  int fd = dup(dirfd);
  while (fd >= 0 && *name) {
    size_t n = strcspn(name, "/");
    const char *next = name + n + (name[n] == '/');
    if (n == 0 || (n == 1 && name[0] == '.')) { /* "a//b", "./a" */
      name = next;
      continue;
    }
    if (n >= sizeof part || (n == 2 && !memcmp(name, "..", 2))) {
      close(fd);
      return errno = EXDEV, -1;
    }
    memcpy(part, name, n);
    part[n] = 0;
    int last = !*next || !next[strspn(next, "/")];
    int sub = openat(fd, part, (last ? flags : O_RDONLY | O_DIRECTORY | O_CLOEXEC) | O_NOFOLLOW);
    int e = errno;
    close(fd);
    errno = e;
    fd = sub;
    name = next;
  }
  return fd;
}

int mien_open_beneath(const char *dir, const char *name, int use_openat2) {
  if (!*name || name[0] == '/') return errno = ENOENT, -1;
  int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) return -1;
  /* O_NONBLOCK: a FIFO opens at once instead of waiting for a writer (and is then refused as not
   * a regular file); O_NOCTTY: a terminal never becomes ours. */
  int flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, fd = -1;
  if (use_openat2) {
    struct open_how how = {.flags = (uint64_t)flags,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof how);
  }
  if (!use_openat2 || (fd < 0 && (errno == ENOSYS || errno == EPERM)))
    fd = open_walk(dirfd, name, flags);
  int e = errno;
  close(dirfd);
  errno = e;
  return fd;
}

mien_read_result mien_read_open_file(int fd, size_t max, uint8_t **bytes, size_t *len,
                                     uint64_t *size) {
  *bytes = NULL;
  *len = 0;
  struct stat st;
  if (fstat(fd, &st) != 0) return MIEN_READ_FAILED;
  if (!S_ISREG(st.st_mode)) return MIEN_READ_NOT_REGULAR;
  *size = (uint64_t)st.st_size;
  if (*size > max) return MIEN_READ_TOO_LARGE;
  /* The size is a hint only: the file may grow while it is read, so reading stops at max + 1. */
  size_t cap = (size_t)*size + 1, n = 0;
  uint8_t *buf = malloc(cap);
  if (!buf) return MIEN_READ_FAILED;
  for (;;) {
    if (n == cap) {
      size_t grown = cap * 2 < max + 1 ? cap * 2 : max + 1;
      uint8_t *b = grown > cap ? realloc(buf, grown) : NULL;
      if (!b) break;
      buf = b, cap = grown;
    }
    ssize_t got = read(fd, buf + n, cap - n);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      if (got == 0) {
        *bytes = buf;
        *len = n;
        return MIEN_READ_OK;
      }
      break;
    }
    n += (size_t)got;
    if (n > max) {
      free(buf);
      *size = n;
      return MIEN_READ_TOO_LARGE;
    }
  }
  free(buf);
  return MIEN_READ_FAILED;
}

void mien_wipe_file(int fd, int64_t size, const char *path, const char *dir) {
  static const char zeros[4096];
  for (int64_t done = 0; done < size;) {
    size_t chunk = size - done < (int64_t)sizeof zeros ? (size_t)(size - done) : sizeof zeros;
    ssize_t w = pwrite(fd, zeros, chunk, (off_t)done);
    if (w <= 0) break;
    done += w;
  }
  fsync(fd);
  unlink(path);
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) fsync(dfd), close(dfd);
}

mien_status mien_read_beneath(const char *dir, const char *name, size_t max, uint8_t **bytes,
                              size_t *len) {
  *bytes = NULL, *len = 0;
  int fd = mien_open_beneath(dir, name, 1);
  if (fd < 0) return MIEN_ERR_RESOURCE_NOT_FOUND;
  uint64_t size = 0;
  mien_read_result rr = mien_read_open_file(fd, max, bytes, len, &size);
  close(fd);
  return rr == MIEN_READ_OK       ? MIEN_OK
         : rr == MIEN_READ_FAILED ? MIEN_ERR_IO
                                  : MIEN_ERR_RESOURCE_NOT_FOUND;
}
