/* draw.c - box and point drawing for `--annotate` output; everything is clipped to the image so
 * callers can pass detections that stick out of it. */
#include <math.h>

#include "image/internal.h"

/* Fills the inclusive rectangle [x0,x1] x [y0,y1], clipped. */
static void fill(mien_image *img, int x0, int y0, int x1, int y1, uint8_t r, uint8_t g, uint8_t b) {
  if (x0 < 0) x0 = 0;
  if (y0 < 0) y0 = 0;
  if (x1 > img->w - 1) x1 = img->w - 1;
  if (y1 > img->h - 1) y1 = img->h - 1;
  for (int y = y0; y <= y1; y++) {
    uint8_t *p = img->rgb + ((size_t)img->w * y + x0) * 3;
    for (int x = x0; x <= x1; x++, p += 3) p[0] = r, p[1] = g, p[2] = b;
  }
}

void mien_image_draw_rect(mien_image *img, int x0, int y0, int x1, int y1, uint8_t r, uint8_t g,
                          uint8_t b, int thickness) {
  int t = thickness < 1 ? 1 : thickness;
  if (x0 > x1 || y0 > y1) return;
  fill(img, x0, y0, x1, y0 + t - 1, r, g, b);
  fill(img, x0, y1 - t + 1, x1, y1, r, g, b);
  fill(img, x0, y0, x0 + t - 1, y1, r, g, b);
  fill(img, x1 - t + 1, y0, x1, y1, r, g, b);
}

void mien_image_draw_point(mien_image *img, int x, int y, int radius, uint8_t r, uint8_t g,
                           uint8_t b) {
  for (int dy = -radius; dy <= radius; dy++) {
    int dx = (int)sqrt((double)radius * radius - (double)dy * dy);
    fill(img, x - dx, y + dy, x + dx, y + dy, r, g, b);
  }
}
