/* err.c - the error sentences every layer hands back in a caller's buffer. */
#include <stdarg.h>
#include <stdio.h>

#include "util/util.h"

void mien_set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}
