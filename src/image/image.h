/* image.h - encoded bytes to an upright RGB image, and the pixel operations the face pipeline
 * needs: resampling a crop into a model's input tensor, an affine warp for face alignment, a PNG
 * writer and two drawing helpers for annotated output.
 *
 * Images are interleaved RGB8 with stride 3*w. Tensors are planar float (NCHW with N = 1), each
 * value written as (v - mean) * scale. Nothing here keeps global state; every function is safe
 * to call from several threads on different images. */
#ifndef MIEN_IMAGE_H
#define MIEN_IMAGE_H

#include <stddef.h>
#include <stdint.h>

/* Result of every call here that can fail; the decode failures each map onto one Rekognition
 * error (see the comments). */
typedef enum {
  MIEN_IMG_OK = 0,
  MIEN_IMG_INVALID_FORMAT, /* not JPEG/PNG, corrupt or truncated: InvalidImageFormatException */
  MIEN_IMG_TOO_LARGE,      /* too many bytes, pixels or pixels per side: ImageTooLargeException */
  MIEN_IMG_TOO_SMALL,      /* a side under the minimum: InvalidParameterException */
  MIEN_IMG_NOMEM,          /* out of memory */
  MIEN_IMG_BAD_ARGUMENT,   /* a caller's mistake (NULL output, size <= 0), never the data's */
} mien_img_status;

typedef enum { MIEN_IMG_FORMAT_JPEG = 1, MIEN_IMG_FORMAT_PNG } mien_img_format;

typedef struct {
  int w, h;
  uint8_t *rgb; /* 3*w*h bytes, owned: release with mien_image_free */
} mien_image;

/* Limits checked before any pixel memory is allocated, so a small file that declares a huge image
 * (a decompression bomb) costs nothing. Sides are of the upright, full-resolution image. */
typedef struct {
  size_t max_bytes;   /* encoded size; default 5 MiB, Rekognition's limit for image bytes */
  int max_side;       /* default 8192: a 48 MP phone photo (8064x6048) still fits */
  int64_t max_pixels; /* default 8192*6144 (50.3 MP); the full image is about 150 MB of RGB */
  int min_side;       /* default 80, Rekognition's minimum */
} mien_image_limits;

typedef struct {
  mien_img_format format;
  int orig_w, orig_h; /* upright size of the full-resolution image */
  int scale;          /* 1, 2, 4 or 8: decoded pixel (x,y) covers original pixels
                         [x*scale, (x+1)*scale) x [y*scale, (y+1)*scale); a partial block at the
                         right or bottom edge makes orig_w slightly less than w*scale */
  int orientation;    /* EXIF orientation found (1-8; 1 when absent), already applied */
} mien_image_info;

void mien_image_limits_default(mien_image_limits *lim);
/* Checks a width and height against the limits (too large, then too small); what names the
 * image's kind for the message ("PNG", "RGB"). */
mien_img_status mien_img_check_size(uint64_t w, uint64_t h, const mien_image_limits *lim,
                                    const char *what, char *err, size_t errlen);

/* Decodes a JPEG or PNG (sniffed from its first bytes) into an upright RGB image.
 * lim: NULL means the defaults. want_max_side > 0 lets a JPEG whose larger side is at least
 * twice that be decoded at 1/2, 1/4 or 1/8 scale by libjpeg's DCT scaling: the largest
 * reduction that keeps the larger side >= want_max_side (PNG is always full size).
 * JPEG: grayscale, RGB, YCbCr, CMYK and YCCK (Adobe's inverted CMYK); EXIF orientation applied.
 * PNG: every colour type and bit depth; 16-bit channels are reduced to 8; transparency is
 * composited over black (transparent pixels become black, whatever colour they stored); gamma and
 * colour profiles are ignored; an eXIf orientation is applied as for JPEG.
 * On success *out owns the pixels and info (may be NULL) describes them. On failure *out is empty
 * and err (may be NULL) holds one sentence saying what was wrong. */
mien_img_status mien_image_decode(const uint8_t *buf, size_t len, const mien_image_limits *lim,
                                  int want_max_side, mien_image *out, mien_image_info *info,
                                  char *err, size_t errlen);

void mien_image_free(mien_image *img);

/* Bilinear resample of the source crop (x0, y0, cw, ch) to ow x oh, with half-pixel centres: the
 * same as zero-padding the crop where it leaves the image and then calling OpenCV's
 * resize(INTER_LINEAR), which clamps taps at the crop's edges.
 * gray: one plane of 0.299R + 0.587G + 0.114B; otherwise three planes, R,G,B or with bgr B,G,R.
 * out holds (gray ? 1 : 3) * ow * oh floats. Returns MIEN_IMG_BAD_ARGUMENT for an empty image or a
 * size that is not positive, MIEN_IMG_NOMEM if scratch memory ran out; out is then untouched. */
mien_img_status mien_image_resize_to_tensor(const mien_image *img, int x0, int y0, int cw, int ch,
                                            int ow, int oh, float mean, float scale, int gray,
                                            int bgr, float *out);

/* Bilinear affine warp into three planes R,G,B of ow x oh. M maps an output pixel to the source:
 * sx = M[0]*x + M[1]*y + M[2], sy = M[3]*x + M[4]*y + M[5] (pixel centres at integers, like
 * OpenCV's warpAffine with WARP_INVERSE_MAP); source pixels outside the image read as 0.
 * Returns MIEN_IMG_BAD_ARGUMENT for an empty image or if ow or oh is not positive. */
mien_img_status mien_image_warp_affine_to_tensor(const mien_image *img, const float M[6], int ow,
                                                 int oh, float mean, float scale, float *out);

/* Places stored row y (sw RGB pixels of a sw x sh image) where an EXIF orientation (1-8) puts it
 * in dst, which has the upright size: how decoders (JPEG, PNG, video) turn images upright. */
void mien_orient_row(mien_image *dst, const uint8_t *row, int sw, int sh, int y, int orientation);

/* Writes img as an 8-bit RGB PNG. Returns 0, or -1 with errno set when the file can't be written
 * (EIO when the encoder failed). */
int mien_image_write_png(const char *path, const mien_image *img);
/* img as an 8-bit RGB PNG in memory (*len bytes, malloc'ed), or NULL when out of memory. */
void *mien_image_encode_png(const mien_image *img, size_t *len);

/* Outline of the box with corners (x0,y0) and (x1,y1), both inclusive, drawn `thickness` pixels
 * inwards; parts outside the image are clipped. */
void mien_image_draw_rect(mien_image *img, int x0, int y0, int x1, int y1, uint8_t r, uint8_t g,
                          uint8_t b, int thickness);

/* Filled disc of the given radius (0 = one pixel) centred on (x,y), clipped to the image. */
void mien_image_draw_point(mien_image *img, int x, int y, int radius, uint8_t r, uint8_t g,
                           uint8_t b);

#endif
