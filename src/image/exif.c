/* exif.c - finds the EXIF orientation tag (0x0112 in IFD0) in a TIFF structure, the payload of a
 * JPEG APP1 "Exif" segment or a PNG eXIf chunk. Cameras store pixels as the sensor saw them and
 * record the rotation here; without it portrait photos reach the detector on their side.
 * Hand-written because it is one tag: every read is bounds-checked, both byte orders handled. */
#include "image/internal.h"

static unsigned rd16(const uint8_t *p, int big) {
  return big ? (unsigned)p[0] << 8 | p[1] : (unsigned)p[1] << 8 | p[0];
}

static uint32_t rd32(const uint8_t *p, int big) {
  return big ? (uint32_t)rd16(p, 1) << 16 | rd16(p + 2, 1)
             : (uint32_t)rd16(p + 2, 0) << 16 | rd16(p, 0);
}

int mien_exif_orientation(const uint8_t *tiff, size_t len) {
  enum { TAG_ORIENTATION = 0x0112, TYPE_SHORT = 3, ENTRY = 12 };
  int big;
  if (len < 8) return 1;
  if (tiff[0] == 'M' && tiff[1] == 'M')
    big = 1;
  else if (tiff[0] == 'I' && tiff[1] == 'I')
    big = 0;
  else
    return 1;
  if (rd16(tiff + 2, big) != 42) return 1;
  uint32_t ifd = rd32(tiff + 4, big);
  if (ifd > len - 2) return 1;
  unsigned n = rd16(tiff + ifd, big);
  size_t p = (size_t)ifd + 2;
  for (unsigned i = 0; i < n && p + ENTRY <= len; i++, p += ENTRY) {
    if (rd16(tiff + p, big) != TAG_ORIENTATION) continue;
    /* A SHORT value lives in the first two bytes of the entry's value field. */
    if (rd16(tiff + p + 2, big) != TYPE_SHORT || rd32(tiff + p + 4, big) < 1) return 1;
    unsigned v = rd16(tiff + p + 8, big);
    return v >= 1 && v <= 8 ? (int)v : 1;
  }
  return 1;
}
