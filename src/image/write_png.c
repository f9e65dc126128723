/* write_png.c - saves an RGB image as PNG with libspng, for `--annotate` output and for tests. */
#include <errno.h>
#include <stdio.h>

#include <spng.h>

#include "image/internal.h"

int mien_image_write_png(const char *path, const mien_image *img) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
  struct spng_ihdr ihdr = {.width = (uint32_t)img->w,
                           .height = (uint32_t)img->h,
                           .bit_depth = 8,
                           .color_type = SPNG_COLOR_TYPE_TRUECOLOR};
  int rc = !ctx || spng_set_png_file(ctx, f) || spng_set_ihdr(ctx, &ihdr) ||
           spng_encode_image(ctx, img->rgb, (size_t)3 * img->w * img->h, SPNG_FMT_PNG,
                             SPNG_ENCODE_FINALIZE);
  spng_ctx_free(ctx);
  if (fclose(f) != 0 || rc) {
    int e = rc ? EIO : errno;
    remove(path);
    errno = e;
    return -1;
  }
  return 0;
}
