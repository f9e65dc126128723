/* decode_png.c - PNG to upright RGB through libspng.
 * The declared size is read straight from the IHDR and checked before libspng runs, and libspng
 * gets its own image and chunk limits too, so neither a huge IHDR nor huge or highly compressed
 * ancillary chunks can balloon memory. Every colour type and bit depth is decoded as RGBA8 (the
 * one output format libspng converts everything to), then alpha is composited over black. */
#include <stdlib.h>
#include <string.h>

#include <spng.h>

#include "image/internal.h"

/* Decompressed ancillary chunks (text, ICC profiles, EXIF) kept in memory at once. */
#define CHUNK_CACHE_LIMIT (8u << 20)

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static mien_img_status spng_fail(int rc, char *err, size_t errlen) {
  if (rc == SPNG_IO_EOF)
    return mien_img_fail(err, errlen, MIEN_IMG_INVALID_FORMAT, "PNG data is truncated");
  return mien_img_fail(err, errlen, rc == SPNG_EMEM ? MIEN_IMG_NOMEM : MIEN_IMG_INVALID_FORMAT,
                       "corrupt PNG: %s", spng_strerror(rc));
}

static void rgba_over_black(uint8_t *rgb, const uint8_t *rgba, int w) {
  for (int x = 0; x < w; x++, rgb += 3, rgba += 4) {
    unsigned a = rgba[3];
    rgb[0] = (uint8_t)((rgba[0] * a + 127) / 255);
    rgb[1] = (uint8_t)((rgba[1] * a + 127) / 255);
    rgb[2] = (uint8_t)((rgba[2] * a + 127) / 255);
  }
}

mien_img_status mien_img_decode_png(const uint8_t *buf, size_t len, const mien_image_limits *lim,
                                    mien_image *out, mien_image_info *info, char *err,
                                    size_t errlen) {
  /* Signature (8), then the IHDR chunk: length (4), "IHDR", width (4), height (4), ... */
  if (len < 24 || memcmp(buf + 12, "IHDR", 4) != 0)
    return mien_img_fail(err, errlen, MIEN_IMG_INVALID_FORMAT, "corrupt PNG: no IHDR chunk");
  /* Orientation can only swap the sides, which no limit cares about. */
  mien_img_status st = mien_img_check_size(be32(buf + 16), be32(buf + 20), lim, "PNG", err, errlen);
  if (st != MIEN_IMG_OK) return st;

  spng_ctx *ctx = spng_ctx_new(0);
  uint8_t *rgba = NULL, *row = NULL;
  if (!ctx) return mien_img_fail(err, errlen, MIEN_IMG_NOMEM, "out of memory decoding a PNG");
  struct spng_ihdr ihdr;
  struct spng_exif exif;
  size_t size;
  int rc;
  if ((rc = spng_set_image_limits(ctx, (uint32_t)lim->max_side, (uint32_t)lim->max_side)) ||
      (rc = spng_set_chunk_limits(ctx, lim->max_bytes, CHUNK_CACHE_LIMIT)) ||
      (rc = spng_set_png_buffer(ctx, buf, len)) || (rc = spng_get_ihdr(ctx, &ihdr)) ||
      (rc = spng_decoded_image_size(ctx, SPNG_FMT_RGBA8, &size))) {
    st = spng_fail(rc, err, errlen);
    goto done;
  }
  int sw = (int)ihdr.width, sh = (int)ihdr.height;
  rgba = malloc(size);
  row = malloc((size_t)3 * sw);
  if (!rgba || !row) {
    st = mien_img_fail(err, errlen, MIEN_IMG_NOMEM, "out of memory decoding a %dx%d PNG", sw, sh);
    goto done;
  }
  /* Reading on to IEND refuses truncated files, as the JPEG decoder does (libspng does not read
   * IEND's CRC, so a file missing only those 4 bytes, and nothing of the image, is accepted). */
  if ((rc = spng_decode_image(ctx, rgba, size, SPNG_FMT_RGBA8, SPNG_DECODE_TRNS)) ||
      (rc = spng_decode_chunks(ctx))) {
    st = spng_fail(rc, err, errlen);
    goto done;
  }
  /* Every chunk up to IEND has been read, so an eXIf is found wherever it sits. */
  info->orientation = spng_get_exif(ctx, &exif) == 0
                          ? mien_exif_orientation((const uint8_t *)exif.data, exif.length)
                          : 1;
  mien_orient_size(info->orientation, sw, sh, &out->w, &out->h);
  info->orig_w = out->w;
  info->orig_h = out->h;
  out->rgb = malloc((size_t)3 * sw * sh);
  if (!out->rgb) {
    st = mien_img_fail(err, errlen, MIEN_IMG_NOMEM, "out of memory decoding a %dx%d PNG", sw, sh);
    goto done;
  }
  for (int y = 0; y < sh; y++) {
    rgba_over_black(row, rgba + (size_t)4 * sw * y, sw);
    mien_orient_row(out, row, sw, sh, y, info->orientation);
  }

done:
  if (st != MIEN_IMG_OK) mien_image_free(out);
  free(row);
  free(rgba);
  spng_ctx_free(ctx);
  return st;
}
