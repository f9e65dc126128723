/* status.c - Rekognition's error type for each mien_status, generated from the one table in
 * mien.h (MIEN_STATUS_TABLE) that also makes the enum, so a new status cannot miss its name. */
#include "mien.h"

const char *mien_status_name(mien_status s) {
  static const char *const names[] = {
#define MIEN_STATUS_NAME_(name, type) [MIEN_##name] = type,
      MIEN_STATUS_TABLE(MIEN_STATUS_NAME_)
#undef MIEN_STATUS_NAME_
  };
  if ((unsigned)s < sizeof names / sizeof *names && names[s]) return names[s];
  return "InternalServerError";
}
