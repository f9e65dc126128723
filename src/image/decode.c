/* decode.c - the entry point of decoding: sniffs JPEG or PNG from the magic bytes, enforces the
 * limits every format shares, and formats the error sentences the API hands back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/internal.h"

void mien_image_limits_default(mien_image_limits *lim) {
  lim->max_bytes = 5u << 20;
  lim->max_side = 8192;
  lim->max_pixels = (int64_t)8192 * 6144;
  lim->min_side = 80;
}

void mien_image_free(mien_image *img) {
  free(img->rgb);
  img->rgb = NULL;
  img->w = img->h = 0;
}

mien_img_status mien_img_check_size(uint64_t w, uint64_t h, const mien_image_limits *lim,
                                    const char *what, char *err, size_t errlen) {
  if (w == 0 || h == 0)
    return mien_img_fail(err, errlen, MIEN_IMG_INVALID_FORMAT,
                         "%s declares an empty image (%llux%llu)", what, (unsigned long long)w,
                         (unsigned long long)h);
  if (w > (uint64_t)lim->max_side || h > (uint64_t)lim->max_side ||
      w * h > (uint64_t)lim->max_pixels)
    return mien_img_fail(err, errlen, MIEN_IMG_TOO_LARGE,
                         "%s image is %llux%llu pixels; the limit is %d pixels per side and %.1f "
                         "megapixels",
                         what, (unsigned long long)w, (unsigned long long)h, lim->max_side,
                         (double)lim->max_pixels / 1e6);
  if (w < (uint64_t)lim->min_side || h < (uint64_t)lim->min_side)
    return mien_img_fail(err, errlen, MIEN_IMG_TOO_SMALL,
                         "%s image is %llux%llu pixels; both sides must be at least %d pixels",
                         what, (unsigned long long)w, (unsigned long long)h, lim->min_side);
  return MIEN_IMG_OK;
}

mien_img_status mien_image_decode(const uint8_t *buf, size_t len, const mien_image_limits *lim,
                                  int want_max_side, mien_image *out, mien_image_info *info,
                                  char *err, size_t errlen) {
  static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  mien_image_limits defaults;
  mien_image_info scratch;

  if (err && errlen) err[0] = '\0';
  if (!out) return mien_img_fail(err, errlen, MIEN_IMG_BAD_ARGUMENT, "no output image given");
  out->w = out->h = 0;
  out->rgb = NULL;
  if (!lim) {
    mien_image_limits_default(&defaults);
    lim = &defaults;
  }
  if (!info) info = &scratch;
  memset(info, 0, sizeof *info);
  info->orientation = 1;
  info->scale = 1;

  if (!buf || len == 0)
    return mien_img_fail(err, errlen, MIEN_IMG_INVALID_FORMAT, "the image is empty (0 bytes)");
  if (len > lim->max_bytes)
    return mien_img_fail(err, errlen, MIEN_IMG_TOO_LARGE,
                         "the image is %zu bytes; the limit is %zu bytes", len, lim->max_bytes);
  if (len >= 3 && buf[0] == 0xff && buf[1] == 0xd8 && buf[2] == 0xff) {
    info->format = MIEN_IMG_FORMAT_JPEG;
    return mien_img_decode_jpeg(buf, len, lim, want_max_side, out, info, err, errlen);
  }
  if (len >= sizeof png_magic && memcmp(buf, png_magic, sizeof png_magic) == 0) {
    info->format = MIEN_IMG_FORMAT_PNG;
    return mien_img_decode_png(buf, len, lim, out, info, err, errlen);
  }
  return mien_img_fail(err, errlen, MIEN_IMG_INVALID_FORMAT,
                       "the image is neither JPEG nor PNG (unrecognised first bytes)");
}
