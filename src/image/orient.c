/* orient.c - applies an EXIF orientation while rows are decoded, so turning a photo upright needs
 * no second full-size buffer: each stored row is scattered straight to its upright place. */
#include <string.h>

#include "image/internal.h"

void mien_orient_size(int orientation, int sw, int sh, int *dw, int *dh) {
  int swap = orientation >= 5 && orientation <= 8;
  *dw = swap ? sh : sw;
  *dh = swap ? sw : sh;
}

/* Orientation n says how the stored image must be transformed to be upright:
 * 2 mirror, 3 rotate 180, 4 flip, 5 transpose, 6 rotate 90 clockwise, 7 transverse,
 * 8 rotate 90 counter-clockwise. Stored (x,y) goes to upright (dx,dy) = origin + x*step_x +
 * y*step_y, all in bytes of dst; the table below gives origin and steps per orientation. */
void mien_orient_row(mien_image *dst, const uint8_t *row, int sw, int sh, int y, int orientation) {
  const ptrdiff_t px = 3, line = (ptrdiff_t)3 * dst->w;
  ptrdiff_t origin, step_x, step_y;
  /* clang-format off */
  switch (orientation) {
  case 2: origin = px * (sw - 1);                      step_x = -px;   step_y = line;  break;
  case 3: origin = line * (sh - 1) + px * (sw - 1);    step_x = -px;   step_y = -line; break;
  case 4: origin = line * (sh - 1);                    step_x = px;    step_y = -line; break;
  case 5: origin = 0;                                  step_x = line;  step_y = px;    break;
  case 6: origin = px * (sh - 1);                      step_x = line;  step_y = -px;   break;
  case 7: origin = line * (sw - 1) + px * (sh - 1);    step_x = -line; step_y = -px;   break;
  case 8: origin = line * (sw - 1);                    step_x = -line; step_y = px;    break;
  default: memcpy(dst->rgb + line * y, row, (size_t)px * sw); return;
  }
  /* clang-format on */
  uint8_t *d = dst->rgb + origin + step_y * y;
  for (int x = 0; x < sw; x++, d += step_x, row += 3) {
    d[0] = row[0];
    d[1] = row[1];
    d[2] = row[2];
  }
}
