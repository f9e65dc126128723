/* faces.c - the mien_faces context: loads the three default models (or YuNet as the detector),
 * plans the fixed-size ones once, keeps detector plans per input size in a small LRU cache (a
 * photo library has few distinct sizes, and planning costs more than a run), and maps image
 * decoding errors onto Rekognition's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "face/detect.h"
#include "face/faces_internal.h"
#include "util/util.h"

/* The tensors the default detector is run to: per stride 8, 16, 32, 64 the classification and
 * box-regression head convolutions. The graph's own tail decodes priors baked for 320x240 only,
 * so detect.c decodes these itself at any input size. */
static const char *const fr_detect_heads[] = {"319", "333", "365", "379",
                                              "405", "419", "437", "449"};
/* YuNet's outputs in the order detect.c reads them: per stride 8, 16, 32. */
static const char *const yunet_outputs[] = {"cls_8",   "cls_16", "cls_32", "obj_8",
                                            "obj_16",  "obj_32", "bbox_8", "bbox_16",
                                            "bbox_32", "kps_8",  "kps_16", "kps_32"};

mien_status mien_status_from_image(mien_img_status st) {
  switch (st) {
  case MIEN_IMG_OK:
    return MIEN_OK;
  case MIEN_IMG_INVALID_FORMAT:
    return MIEN_ERR_INVALID_IMAGE_FORMAT;
  case MIEN_IMG_TOO_LARGE:
    return MIEN_ERR_IMAGE_TOO_LARGE;
  case MIEN_IMG_NOMEM:
    return MIEN_ERR_NOMEM;
  case MIEN_IMG_TOO_SMALL:
  case MIEN_IMG_BAD_ARGUMENT:
    return MIEN_ERR_INVALID_PARAMETER;
  }
  return MIEN_ERR_INTERNAL;
}

mien_status mien_decode_image(const uint8_t *bytes, size_t len, mien_image *out, char *err,
                              size_t errlen) {
  return mien_status_from_image(mien_image_decode(bytes, len, NULL, 0, out, NULL, err, errlen));
}

static mien_status load_net(const char *path, mien_net **net, char *err, size_t errlen) {
  char msg[512];
  mien_status st = mien_net_load(path, net, msg, sizeof msg);
  if (st != MIEN_OK && err && errlen) snprintf(err, errlen, "%s: %s", path, msg);
  return st;
}

static mien_status load_default(const char *file, mien_net **net, char *err, size_t errlen) {
  char path[1024];
  if (mien_find_model(file, path, sizeof path) != 0)
    return MIEN_FAIL(err, errlen, MIEN_ERR_MODEL, "%s", path);
  return load_net(path, net, err, errlen);
}

static mien_status plan_fixed(const mien_net *net, int64_t c, int64_t side, mien_plan **plan,
                              char *err, size_t errlen) {
  const int64_t dims[4] = {1, c, side, side};
  const int64_t *dp = dims;
  const int nd = 4;
  return mien_plan_create(net, &dp, &nd, NULL, 0, plan, err, errlen);
}

mien_status mien_faces_create(const mien_faces_options *opt, mien_faces **out, char *err,
                              size_t errlen) {
  static const mien_faces_options defaults = {0, 0, 0, NULL};
  *out = NULL;
  if (!opt) opt = &defaults;
  if (opt->min_face < 0 || (opt->min_face > 0 && opt->min_face < MIEN_MIN_FACE_LIMIT))
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                     "min_face must be 0 (the default) or at least %d pixels", MIEN_MIN_FACE_LIMIT);
  if (!(opt->min_score >= 0 && opt->min_score < 1))
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                     "min_score must be in [0, 1) (0 = the default)");
  if (opt->threads < 0)
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER, "threads must be 0 or more");

  mien_faces *f = calloc(1, sizeof *f);
  if (!f) return MIEN_ERR_NOMEM;
  f->opt = *opt;
  f->opt.detector = NULL; /* the caller's string need not outlive the call */
  mien_status st;
  const char *det = opt->detector;
  if (det && strncmp(det, "yunet:", 6) == 0) {
    f->yunet = 1;
    st = load_net(det + 6, &f->detector, err, errlen);
  } else if (det && strncmp(det, "fusion:", 7) == 0) {
    char yunet[1100];
    snprintf(yunet, sizeof yunet, "yunet:%s", det + 7);
    mien_faces_options second = *opt;
    second.detector = yunet;
    st = mien_faces_create(&second, &f->second, err, errlen);
    if (st == MIEN_OK) st = load_default("fr_detect.onnx", &f->detector, err, errlen);
  } else if (!det || !*det || strcmp(det, "default") == 0) {
    st = load_default("fr_detect.onnx", &f->detector, err, errlen);
  } else {
    st =
        MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                  "unknown detector '%s': use \"default\", \"yunet:PATH\" or \"fusion:PATH\"", det);
  }
  if (st == MIEN_OK) st = load_default("fr_landmark.onnx", &f->landmark, err, errlen);
  if (st == MIEN_OK) st = load_default("fr_feature.onnx", &f->feature, err, errlen);
  if (st == MIEN_OK) st = plan_fixed(f->landmark, 1, 64, &f->landmark_plan, err, errlen);
  if (st == MIEN_OK) st = plan_fixed(f->feature, 3, 112, &f->feature_plan, err, errlen);
  if (st == MIEN_OK) st = mien_workspace_create(opt->threads, &f->ws);
  if (st == MIEN_OK && f->yunet) {
    /* Plan once at a small size so that a file that is not YuNet fails here, not per image. */
    const mien_plan *probe;
    char msg[512];
    st = mien_faces_detect_plan(f, 64, 64, &probe, msg, sizeof msg);
    if (st != MIEN_OK) {
      st = MIEN_ERR_MODEL;
      if (err && errlen)
        snprintf(err, errlen, "%s is not a YuNet model with cls/obj/bbox/kps outputs: %s", det + 6,
                 msg);
    }
  }
  if (st != MIEN_OK) {
    mien_faces_free(f);
    return st;
  }
  *out = f;
  return MIEN_OK;
}

void mien_faces_set_min_face(mien_faces *f, int min_face) {
  f->opt.min_face = min_face > 0 ? min_face : 0;
}

void mien_faces_free(mien_faces *f) {
  if (!f) return;
  mien_faces_free(f->second);
  for (int i = 0; i < MIEN_DETECT_PLANS; i++) mien_plan_free(f->detect_plans[i].plan);
  mien_plan_free(f->landmark_plan);
  mien_plan_free(f->feature_plan);
  mien_workspace_free(f->ws);
  mien_net_free(f->detector);
  mien_net_free(f->landmark);
  mien_net_free(f->feature);
  free(f->tensor);
  free(f);
}

mien_status mien_faces_detect_plan(mien_faces *f, int w, int h, const mien_plan **plan, char *err,
                                   size_t errlen) {
  mien_detect_plan *slot = &f->detect_plans[0];
  for (int i = 0; i < MIEN_DETECT_PLANS; i++) {
    mien_detect_plan *p = &f->detect_plans[i];
    if (p->plan && p->w == w && p->h == h) {
      p->last_used = ++f->clock;
      *plan = p->plan;
      return MIEN_OK;
    }
    /* Evict an empty slot first, else the least recently used. */
    if (!p->plan ? slot->plan != NULL : slot->plan && p->last_used < slot->last_used) slot = p;
  }
  const int64_t dims[4] = {1, 3, h, w};
  const int64_t *dp = dims;
  const int nd = 4;
  const char *const *names = f->yunet ? yunet_outputs : fr_detect_heads;
  int nnames = f->yunet ? (int)(sizeof yunet_outputs / sizeof *yunet_outputs)
                        : (int)(sizeof fr_detect_heads / sizeof *fr_detect_heads);
  mien_plan *p;
  mien_status st = mien_plan_create(f->detector, &dp, &nd, names, nnames, &p, err, errlen);
  if (st != MIEN_OK) return st;
  mien_plan_free(slot->plan);
  slot->w = w, slot->h = h, slot->plan = p, slot->last_used = ++f->clock;
  *plan = p;
  return MIEN_OK;
}

mien_status mien_faces_tensor(mien_faces *f, size_t n) {
  if (f->tensor_cap >= n) return MIEN_OK;
  float *t = realloc(f->tensor, n * sizeof *t);
  if (!t) return MIEN_ERR_NOMEM;
  f->tensor = t, f->tensor_cap = n;
  return MIEN_OK;
}
