/* align.c - face alignment: five points from the 68 landmarks, and the similarity transform that
 * maps them onto the ArcFace 112x112 template, as the matrix the warp needs (output -> source).
 *
 * The embedder was trained on crops made this way, so the points and the template follow the
 * ONNX Runtime reference pipeline exactly (../shared/reference/README.md). */
#include "face/embed.h"

/* ArcFace's five-point template for a 112x112 crop: left eye, right eye, nose tip, left and
 * right mouth corners (left/right as seen in the image). */
static const double arcface_template[5][2] = {{38.2946, 51.6963},
                                              {73.5318, 51.5014},
                                              {56.0252, 71.7366},
                                              {41.5493, 92.3655},
                                              {70.7299, 92.2041}};

static mien_pt mean_of(const mien_pt *lm, const int *idx, int n) {
  mien_pt m = {0, 0};
  for (int i = 0; i < n; i++) m.x += lm[idx[i]].x, m.y += lm[idx[i]].y;
  m.x /= (float)n, m.y /= (float)n;
  return m;
}

void mien_face_five_points(const mien_face *face, mien_pt five[5]) {
  /* 0-based indices in the 68-point (iBUG 300-W) layout. The eye centres average the upper and
   * lower lids (37,38 / 40,41 and 43,44 / 46,47), leaving out the corners. */
  static const int left_eye[4] = {37, 38, 40, 41}, right_eye[4] = {43, 44, 46, 47};
  static const int left_mouth[2] = {48, 60}, right_mouth[2] = {54, 64};
  five[0] = mean_of(face->lm68, left_eye, 4);
  five[1] = mean_of(face->lm68, right_eye, 4);
  five[2] = face->lm68[30];
  five[3] = mean_of(face->lm68, left_mouth, 2);
  five[4] = mean_of(face->lm68, right_mouth, 2);
}

void mien_similarity_fit(const double src[][2], const double dst[][2], int n, double T[6]) {
  /* Umeyama's least-squares similarity without reflection. In 2D, a rotation-and-scale matrix is
   * [a -b; b a], and the SVD of Umeyama's covariance reduces to a closed form on the centred
   * points: a = sum(s.d) / sum|s|^2, b = sum(s x d) / sum|s|^2 (a complex-number division). */
  double ms[2] = {0, 0}, md[2] = {0, 0};
  for (int i = 0; i < n; i++)
    for (int k = 0; k < 2; k++) ms[k] += src[i][k] / n, md[k] += dst[i][k] / n;
  double dot = 0, cross = 0, norm = 0;
  for (int i = 0; i < n; i++) {
    double sx = src[i][0] - ms[0], sy = src[i][1] - ms[1];
    double dx = dst[i][0] - md[0], dy = dst[i][1] - md[1];
    dot += sx * dx + sy * dy;
    cross += sx * dy - sy * dx;
    norm += sx * sx + sy * sy;
  }
  double a = norm > 0 ? dot / norm : 1, b = norm > 0 ? cross / norm : 0;
  T[0] = a, T[1] = -b, T[2] = md[0] - (a * ms[0] - b * ms[1]);
  T[3] = b, T[4] = a, T[5] = md[1] - (b * ms[0] + a * ms[1]);
}

void mien_similarity_invert(const double T[6], double inv[6]) {
  /* T = [A t] with A = [a -b; b a]; A^-1 = [a b; -b a] / (a^2 + b^2), and the inverse
   * translation is -A^-1 t. */
  double a = T[0], b = T[3], d = a * a + b * b;
  double ia = d > 0 ? a / d : 0, ib = d > 0 ? b / d : 0;
  inv[0] = ia, inv[1] = ib, inv[2] = -(ia * T[2] + ib * T[5]);
  inv[3] = -ib, inv[4] = ia, inv[5] = -(-ib * T[2] + ia * T[5]);
}

void mien_face_align_matrix(const mien_pt five[5], float M[6]) {
  double src[5][2], T[6], inv[6];
  for (int i = 0; i < 5; i++) src[i][0] = five[i].x, src[i][1] = five[i].y;
  mien_similarity_fit(src, arcface_template, 5, T);
  mien_similarity_invert(T, inv);
  for (int i = 0; i < 6; i++) M[i] = (float)inv[i];
}
