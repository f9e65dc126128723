/* libav.c - loads FFmpeg's libraries on first use (libav.h says why they are not linked). */
#include "video/libav.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

mien_libav_table mien_libav;

/* The libraries, dependencies first, by the sonames of the headers mien was compiled with. */
enum { AVUTIL, SWSCALE, AVCODEC, AVFORMAT, NLIBS };
static const char *const sonames[NLIBS] = {
    "libavutil.so." AV_STRINGIFY(LIBAVUTIL_VERSION_MAJOR),
    "libswscale.so." AV_STRINGIFY(LIBSWSCALE_VERSION_MAJOR),
    "libavcodec.so." AV_STRINGIFY(LIBAVCODEC_VERSION_MAJOR),
    "libavformat.so." AV_STRINGIFY(LIBAVFORMAT_VERSION_MAJOR),
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[512];

static void load(void) {
  void *lib[NLIBS];
  for (int i = 0; i < NLIBS; i++)
    if (!(lib[i] = dlopen(sonames[i], RTLD_NOW | RTLD_LOCAL))) {
      snprintf(load_error, sizeof load_error,
               "video needs FFmpeg's shared library %s (the version mien was built with), "
               "which could not be loaded: %s",
               sonames[i], dlerror());
      return;
    }
    /* The libraries stay loaded for the life of the process: no dlclose. */
#define MIEN_LIBAV_RESOLVE(which, fn)                                                              \
  if (!(mien_libav.fn = (__typeof__(mien_libav.fn))dlsym(lib[which], #fn))) {                      \
    snprintf(load_error, sizeof load_error, "FFmpeg's %s has no %s", sonames[which], #fn);         \
    return;                                                                                        \
  }
  MIEN_LIBAV_FUNCTIONS(MIEN_LIBAV_RESOLVE)
#undef MIEN_LIBAV_RESOLVE
  /* What went wrong reaches the caller as one sentence; FFmpeg's log would only add noise. */
  mien_libav.av_log_set_level(AV_LOG_QUIET);
}

const char *mien_libav_load(void) {
  pthread_once(&once, load);
  return load_error[0] ? load_error : NULL;
}
