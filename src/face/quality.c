/* quality.c - Rekognition's Quality: Brightness and Sharpness, 0..100, from the 64x64 gray crop
 * of the face (the one fr_landmark sees), so both are independent of the face's pixel size.
 *
 *   Brightness = 100 * mean(gray) / 255.
 *   Sharpness  = 100 * (1 - exp(-var(L) / SHARP_REF)), L the 4-neighbour Laplacian of the crop in
 *                0..255 units over its interior: 0 for a flat crop, rising with edge contrast and
 *                saturating towards 100. SHARP_REF puts the median face of LFW, dlib-faces and
 *                the six group photos of bench/detect.sh at 80 (10th percentile 38, 90th 96).
 * A face smaller than 64 px is upsampled into the crop, so it scores as blurred: it is. */
#include <math.h>

#include "face/detect.h"

#define SHARP_REF 400.0

void mien_face_quality(const float *gray, int side, mien_face *face) {
  double sum = 0;
  for (int i = 0; i < side * side; i++) sum += gray[i];
  double mean = 256.0 * sum / (side * side);
  double ls = 0, ls2 = 0;
  int n = 0;
  for (int y = 1; y < side - 1; y++)
    for (int x = 1; x < side - 1; x++) {
      const float *p = gray + y * side + x;
      double lap = 256.0 * (p[-1] + p[1] + p[-side] + p[side] - 4 * p[0]);
      ls += lap, ls2 += lap * lap, n++;
    }
  double var = n ? ls2 / n - (ls / n) * (ls / n) : 0;
  face->brightness = (float)fmin(100.0, 100.0 * mean / 255.0);
  face->sharpness = (float)(100.0 * (1.0 - exp(-var / SHARP_REF)));
}
