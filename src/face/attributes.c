/* attributes.c - the two face attributes mien measures from its 68 landmarks (iBUG 300-W layout)
 * rather than infers: how open the eyes and the mouth are, as ratios of landmark distances that
 * do not depend on the face's size. docs/attributes.md gives their accuracy on labelled LFW
 * faces and the thresholds the API applies (EyesOpen, MouthOpen). */
#include <math.h>

#include "face/face.h"

static float dist(mien_pt a, mien_pt b) {
  return hypotf(a.x - b.x, a.y - b.y);
}

/* One eye's aspect ratio: the mean of its two lid gaps over its width (points p..p+5, corners
 * p and p+3, upper lid p+1, p+2, lower lid p+5, p+4). */
static float eye_ratio(const mien_pt *lm, int p) {
  float w = dist(lm[p], lm[p + 3]);
  return w > 0 ? (dist(lm[p + 1], lm[p + 5]) + dist(lm[p + 2], lm[p + 4])) / (2 * w) : 0;
}

float mien_face_eye_openness(const mien_face *face) {
  return (eye_ratio(face->lm68, 36) + eye_ratio(face->lm68, 42)) / 2;
}

float mien_face_mouth_openness(const mien_face *face) {
  const mien_pt *lm = face->lm68;
  float w = dist(lm[60], lm[64]); /* inner corners */
  float gap = (dist(lm[61], lm[67]) + dist(lm[62], lm[66]) + dist(lm[63], lm[65])) / 3;
  return w > 0 ? gap / w : 0;
}

/* Measured on tests/attributes/lfw-labels.txt (docs/attributes.md): the thresholds sit between
 * the labelled open and closed faces; the confidences are the share of labelled faces the rule
 * got right within `band` of the threshold and beyond it (test_attributes recomputes them). */
const mien_attr_rule mien_eyes_open_rule = {0.17f, 0.04f, 90, 93};
const mien_attr_rule mien_mouth_open_rule = {0.08f, 0.04f, 62, 98};

int mien_attr_decide(const mien_attr_rule *rule, float ratio, float *confidence) {
  float d = ratio - rule->threshold;
  *confidence = fabsf(d) < rule->band ? rule->near_confidence : rule->far_confidence;
  return d >= 0;
}
