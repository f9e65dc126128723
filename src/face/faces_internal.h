/* faces_internal.h - what a mien_faces context holds; shared by the files of src/face/ only. */
#ifndef MIEN_FACES_INTERNAL_H
#define MIEN_FACES_INTERNAL_H

#include "face/face.h"

#define MIEN_DETECT_PLANS 8 /* detector plans cached per input size, least recently used out */

typedef struct {
  int w, h;
  mien_plan *plan;
  uint64_t last_used;
} mien_detect_plan;

struct mien_faces {
  mien_faces_options opt;
  int yunet;          /* detector is YuNet (opt.detector "yunet:PATH") */
  mien_faces *second; /* "fusion:PATH": YuNet, whose candidates join fr_detect's */
  mien_net *detector, *landmark, *feature;
  mien_detect_plan detect_plans[MIEN_DETECT_PLANS];
  uint64_t clock;
  mien_plan *landmark_plan, *feature_plan; /* fixed sizes: 1x1x64x64, 1x3x112x112 */
  mien_workspace *ws;
  float *tensor; /* input buffer, grown as needed */
  size_t tensor_cap;
};

#endif
