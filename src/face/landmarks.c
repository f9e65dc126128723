/* landmarks.c - 68 facial landmarks (iBUG 300-W layout) with fr_landmark: a square crop around
 * the face resampled to 64x64 gray (values gray / 256), output 136 numbers = (x, y) per point as
 * fractions of the crop. The same crop gives the quality measures (quality.c), so they are
 * computed here.
 *
 * Crop convention, measured two ways: mean point error over the outer-eye-corner distance
 * against the 68 points of dlib-faces/training_with_face_landmarks.xml (18 faces), and LFW
 * verification through the embedder (`mien eval lfw`, folds 1-5):
 *   the detector's box as is (upstream's use)           0.064   99.20 %
 *   a square of the box's larger side on its centre     0.056   99.07 %, AUC 0.99883
 *   that square moved down by 0.05 / 0.1 / 0.15 of it   0.050 / 0.048 / 0.050
 *                                                        99.03 / 99.20 / 99.07 %,
 *                                                        AUC 0.99892 / 0.99897 / 0.99890
 * LM_SHIFT 0.1 has the lowest point error and ties the best LFW accuracy (the differences there
 * are within one fold's noise).
 * fr_detect's boxes reach higher up the forehead than the crops fr_landmark expects, hence the
 * shift; scaling the square by 0.95..1.2 did not help.
 *
 * fr_landmark was trained on upright faces: on group.jpg turned 50 degrees its points drift by
 * 0.11-0.38 of the eye distance and alignment fails. So a face whose eye line is tilted
 * UPRIGHT_MIN_ROLL or more is looked at again on the same square turned upright (docs/detection.md,
 * "Alignment": LFW rotated 45 degrees, 97.50 -> 98.60 %; upright LFW unchanged at 99.20 %, where a
 * 10-degree trigger lost a pair). */
#include <math.h>

#include "face/detect.h"
#include "face/faces_internal.h"

#define LM_SIDE 64
#define LM_SHIFT 0.1f
/* The upright second pass: rolls under UPRIGHT_MIN_ROLL degrees keep the first landmarks. */
#define UPRIGHT_MIN_ROLL 20.0f
#define UPRIGHT_PASSES 2

/* fr_landmark on a crop turned by `angle` (radians; the crop's x axis along the face's eye line):
 * a side x side square centred at (cx, cy), warped to 64x64 gray. */
static mien_status landmarks_turned(mien_faces *f, const mien_image *img, float cx, float cy,
                                    float side, float angle, mien_face *face) {
  mien_status st = mien_faces_tensor(f, 3 * LM_SIDE * LM_SIDE);
  if (st != MIEN_OK) return st;
  const float c = cosf(angle), s = sinf(angle), px = side / LM_SIDE, k = 0.5f * px - 0.5f * side;
  /* Output pixel (u, v) -> source pixel centre: (cx, cy) - 0.5 + R(angle) ((u, v) px + k). */
  const float M[6] = {c * px, -s * px, cx - 0.5f + (c - s) * k,
                      s * px, c * px,  cy - 0.5f + (s + c) * k};
  mien_img_status ist =
      mien_image_warp_affine_to_tensor(img, M, LM_SIDE, LM_SIDE, 0, 1 / 256.0f, f->tensor);
  if (ist != MIEN_IMG_OK) return mien_status_from_image(ist);
  float *t = f->tensor;
  const int plane = LM_SIDE * LM_SIDE;
  for (int i = 0; i < plane; i++)
    t[i] = 0.299f * t[i] + 0.587f * t[plane + i] + 0.114f * t[2 * plane + i];
  const float *in = t;
  st = mien_run(f->landmark_plan, f->ws, &in);
  if (st != MIEN_OK) return st;
  const float *out = mien_workspace_output(f->ws, 0);
  for (int i = 0; i < 68; i++) {
    float qx = (out[2 * i] - 0.5f) * side, qy = (out[2 * i + 1] - 0.5f) * side;
    face->lm68[i].x = cx + c * qx - s * qy;
    face->lm68[i].y = cy + s * qx + c * qy;
  }
  return MIEN_OK;
}

mien_status mien_face_landmarks(mien_faces *f, const mien_image *img, mien_face *face) {
  float w = face->x1 - face->x0, h = face->y1 - face->y0;
  float side = fmaxf(fmaxf(w, h), 1.0f);
  float cx = face->x0 + 0.5f * w, cy = face->y0 + 0.5f * h + LM_SHIFT * side;
  int x0 = (int)lroundf(cx - 0.5f * side), y0 = (int)lroundf(cy - 0.5f * side);
  int cs = (int)lroundf(side);
  mien_status st = mien_faces_tensor(f, LM_SIDE * LM_SIDE);
  if (st != MIEN_OK) return st;
  mien_img_status ist = mien_image_resize_to_tensor(img, x0, y0, cs, cs, LM_SIDE, LM_SIDE, 0,
                                                    1 / 256.0f, 1, 0, f->tensor);
  if (ist != MIEN_IMG_OK) return mien_status_from_image(ist);
  mien_face_quality(f->tensor, LM_SIDE, face);
  const float *in = f->tensor;
  st = mien_run(f->landmark_plan, f->ws, &in);
  if (st != MIEN_OK) return st;
  const float *out = mien_workspace_output(f->ws, 0);
  for (int i = 0; i < 68; i++) {
    face->lm68[i].x = (float)x0 + out[2 * i] * (float)cs;
    face->lm68[i].y = (float)y0 + out[2 * i + 1] * (float)cs;
  }
  face->has_landmarks = 1;
  /* A tilted head: look again on a crop turned upright by the eye line's roll, twice (the first
   * roll, read off landmarks of a tilted face, falls short of the truth). The crop is the same
   * square, moved down by LM_SHIFT along the turned face's own vertical. */
  for (int pass = 0; pass < UPRIGHT_PASSES; pass++) {
    mien_pt five[5];
    mien_face_five_points(face, five);
    float angle = atan2f(five[1].y - five[0].y, five[1].x - five[0].x);
    if (!(fabsf(angle) >= UPRIGHT_MIN_ROLL * (float)M_PI / 180)) break; /* NaN too */
    float bx = face->x0 + 0.5f * w, by = face->y0 + 0.5f * h;
    st = landmarks_turned(f, img, bx - sinf(angle) * LM_SHIFT * side,
                          by + cosf(angle) * LM_SHIFT * side, side, angle, face);
    if (st != MIEN_OK) return st;
  }
  return MIEN_OK;
}
