/* write_png.c - encodes an RGB image as PNG with libspng: into memory for `mien detect --annotate`
 * (mien_service_detect_annotated), into a file for tests. */
#include <errno.h>
#include <stdio.h>

#include <spng.h>

#include "image/internal.h"

/* Encodes img with ctx, whose output (a file or a buffer) is set: 0, or non-zero. */
static int encode(spng_ctx *ctx, const mien_image *img) {
  struct spng_ihdr ihdr = {.width = (uint32_t)img->w,
                           .height = (uint32_t)img->h,
                           .bit_depth = 8,
                           .color_type = SPNG_COLOR_TYPE_TRUECOLOR};
  return spng_set_ihdr(ctx, &ihdr) || spng_encode_image(ctx, img->rgb, (size_t)3 * img->w * img->h,
                                                        SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE);
}

int mien_image_write_png(const char *path, const mien_image *img) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
  int rc = !ctx || spng_set_png_file(ctx, f) || encode(ctx, img);
  spng_ctx_free(ctx);
  if (fclose(f) != 0 || rc) {
    int e = rc ? EIO : errno;
    remove(path);
    errno = e;
    return -1;
  }
  return 0;
}

void *mien_image_encode_png(const mien_image *img, size_t *len) {
  spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
  int error = 0;
  void *png = NULL;
  if (ctx && !spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1) && !encode(ctx, img))
    png = spng_get_png_buffer(ctx, len, &error); /* malloc'ed: the caller frees it */
  spng_ctx_free(ctx);
  return error ? NULL : png;
}
