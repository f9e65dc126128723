/* pose.c - head pose (Roll, Yaw, Pitch in degrees) from the 68 landmarks.
 *
 * Six landmarks are fitted to a generic 3-D face under scaled orthographic projection (faces are
 * far from the camera compared with their depth, and it needs no camera intrinsics): the 2x3
 * linear map A minimising sum |A X_i - x_i|^2 over the centred model points X_i and image points
 * x_i is A = (sum x_i X_i^T)(sum X_i X_i^T)^-1; its two rows, made orthonormal, are the first two
 * rows of the head's rotation R, the third is their cross product.
 *
 * Axes: image x right, y down, z away from the camera; the model face looks at the camera (-z).
 * R is split as Rz(roll) Rx(-pitch) Ry(-yaw): turn the head, nod it, then tilt it in the image
 * plane, so that rotating the photo changes Roll alone. From R's rows:
 *   Yaw   = atan2(R20, R22): positive when the face turns towards the image's right (the
 *           subject's own left);
 *   Pitch = -asin(R21): positive when the face looks up;
 *   Roll  = atan2(-R01, R11): positive when the face is tilted clockwise in the image.
 * Rekognition documents each angle's range (-180..180) but not its sign, so this is mien's
 * convention; a mirrored photo negates Yaw and Roll and keeps Pitch (tests/test_detect.c). */
#include <math.h>

#include "face/detect.h"

#define RAD_TO_DEG 57.29577951308232

/* Generic head (arbitrary units; nose tip at the origin, y down, z away from the camera): the
 * widely used six-point model of head-pose tutorials, with the 0-based 68-point index of each. */
static const struct {
  int idx;
  double x, y, z;
} model[] = {
    {30, 0, 0, 0},         /* nose tip */
    {8, 0, 330, 65},       /* chin */
    {36, -225, -170, 135}, /* outer corner of the eye on the image's left */
    {45, 225, -170, 135},  /* outer corner of the eye on the image's right */
    {48, -150, 150, 125},  /* mouth corner, image left */
    {54, 150, 150, 125},   /* mouth corner, image right */
};
#define NMODEL ((int)(sizeof model / sizeof *model))

static void cross(const double a[3], const double b[3], double out[3]) {
  out[0] = a[1] * b[2] - a[2] * b[1];
  out[1] = a[2] * b[0] - a[0] * b[2];
  out[2] = a[0] * b[1] - a[1] * b[0];
}

static double dot(const double a[3], const double b[3]) {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

static void scale3(double a[3], double k) {
  a[0] *= k, a[1] *= k, a[2] *= k;
}

/* Inverse of a symmetric positive-definite 3x3 matrix by cofactors; 0 if singular. */
static int invert3(const double m[3][3], double inv[3][3]) {
  double c0[3], c1[3], c2[3];
  cross(m[1], m[2], c0);
  cross(m[2], m[0], c1);
  cross(m[0], m[1], c2);
  double det = dot(m[0], c0);
  if (fabs(det) < 1e-12) return 0;
  for (int i = 0; i < 3; i++)
    inv[i][0] = c0[i] / det, inv[i][1] = c1[i] / det, inv[i][2] = c2[i] / det;
  return 1;
}

void mien_face_pose(mien_face *face) {
  face->yaw = face->pitch = face->roll = 0;
  double mx[3] = {0}, ix[2] = {0};
  for (int i = 0; i < NMODEL; i++) {
    mx[0] += model[i].x, mx[1] += model[i].y, mx[2] += model[i].z;
    ix[0] += face->lm68[model[i].idx].x, ix[1] += face->lm68[model[i].idx].y;
  }
  scale3(mx, 1.0 / NMODEL);
  ix[0] /= NMODEL, ix[1] /= NMODEL;

  double xx[3][3] = {{0}}, bx[2][3] = {{0}};
  for (int i = 0; i < NMODEL; i++) {
    double X[3] = {model[i].x - mx[0], model[i].y - mx[1], model[i].z - mx[2]};
    double u = face->lm68[model[i].idx].x - ix[0], v = face->lm68[model[i].idx].y - ix[1];
    for (int r = 0; r < 3; r++) {
      for (int c = 0; c < 3; c++) xx[r][c] += X[r] * X[c];
      bx[0][r] += u * X[r], bx[1][r] += v * X[r];
    }
  }
  double inv[3][3];
  if (!invert3(xx, inv)) return;
  double r1[3], r2[3], r3[3];
  for (int c = 0; c < 3; c++) {
    r1[c] = bx[0][0] * inv[0][c] + bx[0][1] * inv[1][c] + bx[0][2] * inv[2][c];
    r2[c] = bx[1][0] * inv[0][c] + bx[1][1] * inv[1][c] + bx[1][2] * inv[2][c];
  }
  double n1 = sqrt(dot(r1, r1)), n2 = sqrt(dot(r2, r2));
  if (n1 < 1e-12 || n2 < 1e-12) return;
  scale3(r1, 1 / n1);
  scale3(r2, 1 / n2);
  /* Split the rows' non-orthogonality evenly between them, then renormalise. */
  double e = dot(r1, r2) / 2;
  double a[3] = {r1[0] - e * r2[0], r1[1] - e * r2[1], r1[2] - e * r2[2]};
  double b[3] = {r2[0] - e * r1[0], r2[1] - e * r1[1], r2[2] - e * r1[2]};
  scale3(a, 1 / sqrt(dot(a, a)));
  scale3(b, 1 / sqrt(dot(b, b)));
  cross(a, b, r3);
  /* R's rows are a, b, r3. */
  face->yaw = (float)(atan2(r3[0], r3[2]) * RAD_TO_DEG);
  face->pitch = (float)(-asin(fmax(-1.0, fmin(1.0, r3[1]))) * RAD_TO_DEG);
  face->roll = (float)(atan2(-a[1], b[1]) * RAD_TO_DEG);
}
