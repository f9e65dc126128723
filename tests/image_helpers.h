/* image_helpers.h - test inputs made with libjpeg: JPEG encoding of raw pixels, and EXIF APP1
 * segments carrying an orientation. Shared by tests/test_image.c and tests/test_detect.c. */
#ifndef MIEN_TEST_IMAGE_HELPERS_H
#define MIEN_TEST_IMAGE_HELPERS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "image/image.h"

/* Encodes comps-channel pixels with libjpeg; jpeg_cs < 0 keeps libjpeg's default colour space. */
static uint8_t *encode_jpeg_ex(const uint8_t *pix, int w, int h, J_COLOR_SPACE in_cs, int jpeg_cs,
                               int quality, int adobe_marker, int progressive, size_t *len) {
  struct jpeg_compress_struct c;
  struct jpeg_error_mgr e;
  unsigned char *out = NULL;
  unsigned long n = 0;
  c.err = jpeg_std_error(&e);
  jpeg_create_compress(&c);
  jpeg_mem_dest(&c, &out, &n);
  c.image_width = (JDIMENSION)w;
  c.image_height = (JDIMENSION)h;
  c.input_components = in_cs == JCS_GRAYSCALE ? 1 : in_cs == JCS_CMYK ? 4 : 3;
  c.in_color_space = in_cs;
  jpeg_set_defaults(&c);
  if (jpeg_cs >= 0) jpeg_set_colorspace(&c, (J_COLOR_SPACE)jpeg_cs);
  for (int i = 0; i < c.num_components; i++)
    c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
  c.write_Adobe_marker = adobe_marker ? TRUE : FALSE;
  jpeg_set_quality(&c, quality, TRUE);
  if (progressive) jpeg_simple_progression(&c);
  jpeg_start_compress(&c, TRUE);
  for (int y = 0; y < h; y++) {
    JSAMPROW row = (JSAMPROW)(pix + (size_t)c.input_components * w * y);
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  *len = n;
  return out;
}

static uint8_t *encode_jpeg(const mien_image *img, int quality, size_t *len) {
  return encode_jpeg_ex(img->rgb, img->w, img->h, JCS_RGB, -1, quality, 0, 0, len);
}

/* The TIFF payload of an EXIF block: IFD0 holding Make (a decoy) then Orientation. */
static size_t make_tiff(uint8_t *t, int orientation, int big) {
  /* clang-format off */
  static const uint8_t ifd_big[] = {
      'M', 'M', 0, 42, 0, 0, 0, 8, /* header, IFD0 at 8 */
      0, 2,                                             /* two entries */
      0x01, 0x0f, 0, 2, 0, 0, 0, 4, 'a', 'b', 'c', 0,   /* Make, ASCII[4] "abc" */
      0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0,         /* Orientation, SHORT[1] */
      0, 0, 0, 0};                                      /* no next IFD */
  static const uint8_t ifd_little[] = {
      'I', 'I', 42, 0, 8, 0, 0, 0,
      2, 0,
      0x0f, 0x01, 2, 0, 4, 0, 0, 0, 'a', 'b', 'c', 0,
      0x12, 0x01, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0,
      0, 0, 0, 0};
  /* clang-format on */
  memcpy(t, big ? ifd_big : ifd_little, sizeof ifd_big);
  t[big ? 31 : 30] = (uint8_t)orientation;
  return sizeof ifd_big;
}

/* Inserts an APP1 Exif segment right after the SOI of a JPEG. */
static uint8_t *with_exif(const uint8_t *jpg, size_t len, int orientation, int big,
                          size_t *out_len) {
  uint8_t seg[64];
  size_t n = 4;
  memcpy(seg + n, "Exif\0\0", 6);
  n += 6;
  n += make_tiff(seg + n, orientation, big);
  seg[0] = 0xff;
  seg[1] = 0xe1;
  seg[2] = (uint8_t)((n - 2) >> 8);
  seg[3] = (uint8_t)(n - 2);
  uint8_t *out = malloc(len + n);
  memcpy(out, jpg, 2);
  memcpy(out + 2, seg, n);
  memcpy(out + 2 + n, jpg + 2, len - 2);
  *out_len = len + n;
  return out;
}

#endif
