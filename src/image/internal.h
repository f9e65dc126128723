/* internal.h - what the files of src/image/ share with each other and with nobody else. */
#ifndef MIEN_IMAGE_INTERNAL_H
#define MIEN_IMAGE_INTERNAL_H

#include "image/image.h"
#include "util/util.h"

/* Writes the printf-style sentence into err (when there is room) and returns st. */
#define mien_img_fail(err, errlen, st, ...)                                                        \
  ((mien_img_status)MIEN_FAIL(err, errlen, st, __VA_ARGS__))

/* The per-format decoders behind mien_image_decode; same contract, limits never NULL. */
mien_img_status mien_img_decode_jpeg(const uint8_t *buf, size_t len, const mien_image_limits *lim,
                                     int want_max_side, mien_image *out, mien_image_info *info,
                                     char *err, size_t errlen);
mien_img_status mien_img_decode_png(const uint8_t *buf, size_t len, const mien_image_limits *lim,
                                    mien_image *out, mien_image_info *info, char *err,
                                    size_t errlen);

/* EXIF orientation (1-8) from a TIFF structure ("II*\0" or "MM\0*" ...), 1 when absent/invalid. */
int mien_exif_orientation(const uint8_t *tiff, size_t len);

/* Upright size of a stored sw x sh image shown with the given orientation. */
void mien_orient_size(int orientation, int sw, int sh, int *dw, int *dh);

#endif
