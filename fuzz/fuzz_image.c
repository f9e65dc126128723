/* fuzz_image.c - libFuzzer target for image decoding: the input is the encoded file, as an upload
 * would send it. mien_image_decode sniffs JPEG or PNG, reads the EXIF orientation (JPEG APP1 or
 * PNG eXIf), checks the declared size against the limits and decodes through libjpeg-turbo or
 * libspng; every decoded image then goes through the pixel code the face pipeline runs next
 * (a crop resampled into a tensor, an affine warp), and a JPEG once more at a DCT-scaled size.
 *
 * The limits are tight (1024 px a side, 256 Kpx, min side 1) so that a file declaring a huge
 * image must be refused before any pixel memory exists, and so that each run stays fast; they
 * exercise the same checks as the defaults. Beyond not crashing, the target checks the decoder's
 * promises: a failure leaves no image and says why, a success is within the limits and has the
 * size its scale and orientation imply. */
#include "fuzz.h"
#include "image/image.h"

static const mien_image_limits limits = {
    .max_bytes = 1 << 20, .max_side = 1024, .max_pixels = 256 * 1024, .min_side = 1};

/* Decodes and checks the result; returns whether an image came out. */
static int decode(const uint8_t *data, size_t size, int want_max_side, mien_image *img,
                  mien_image_info *info) {
  char err[256];
  mien_img_status st =
      mien_image_decode(data, size, &limits, want_max_side, img, info, err, sizeof err);
  if (st != MIEN_IMG_OK) {
    FUZZ_ASSERT(img->rgb == NULL && img->w == 0 && img->h == 0);
    FUZZ_ASSERT(err[0] != '\0');
    FUZZ_ASSERT(st != MIEN_IMG_BAD_ARGUMENT);
    return 0;
  }
  FUZZ_ASSERT(img->rgb != NULL);
  FUZZ_ASSERT(info->orientation >= 1 && info->orientation <= 8);
  FUZZ_ASSERT(info->orig_w >= 1 && info->orig_w <= limits.max_side);
  FUZZ_ASSERT(info->orig_h >= 1 && info->orig_h <= limits.max_side);
  FUZZ_ASSERT((int64_t)info->orig_w * info->orig_h <= limits.max_pixels);
  int s = info->scale;
  FUZZ_ASSERT(s == 1 || s == 2 || s == 4 || s == 8);
  FUZZ_ASSERT(img->w == (info->orig_w + s - 1) / s && img->h == (info->orig_h + s - 1) / s);
  return 1;
}

/* What the face pipeline does with a decoded image: a crop that overhangs the image resampled
 * into a detector-style tensor (both colour layouts), and an alignment-style rotation. */
static void use_pixels(const mien_image *img) {
  enum { OW = 24, OH = 16 };
  static float out[3 * OW * OH];
  int cw = img->w / 2 + 1, ch = img->h / 2 + 1;
  FUZZ_ASSERT(mien_image_resize_to_tensor(img, -cw / 2, img->h - ch / 2, cw, ch, OW, OH, 127.f,
                                          1 / 128.f, 0, 1, out) == MIEN_IMG_OK);
  FUZZ_ASSERT(mien_image_resize_to_tensor(img, 0, 0, img->w, img->h, OW, OH, 0.f, 1.f, 1, 0, out) ==
              MIEN_IMG_OK);
  const float M[6] = {0.8f, -0.6f, (float)img->w / 2, 0.6f, 0.8f, -(float)img->h / 4};
  FUZZ_ASSERT(mien_image_warp_affine_to_tensor(img, M, OW, OH, 127.5f, 1 / 128.f, out) ==
              MIEN_IMG_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mien_image img;
  mien_image_info info;
  if (!decode(data, size, 0, &img, &info)) return 0;
  use_pixels(&img);
  mien_img_format format = info.format;
  mien_image_free(&img);
  /* Again at a reduced size: JPEG takes libjpeg's DCT-scaling path, PNG ignores the request. */
  FUZZ_ASSERT(decode(data, size, 8, &img, &info));
  FUZZ_ASSERT(format == info.format);
  FUZZ_ASSERT(info.scale == 1 || format == MIEN_IMG_FORMAT_JPEG);
  mien_image_free(&img);
  return 0;
}
