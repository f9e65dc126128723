/* detect.c - face detection: the default RFB-320 detector (fr_detect) or YuNet, run fully
 * convolutionally on an image pyramid, then landmarks, pose and quality per face.
 *
 * fr_detect's graph ends in a tail that decodes priors baked for a 320x240 input, so the plan
 * stops at its eight head convolutions and the priors are generated here for whatever size the
 * pass runs at, as upstream (Ultra-Light-Fast-Generic-Face-Detector-1MB) generates them: per
 * stride 8/16/32/64 (feature maps ceil(side / stride)) the min sizes {10,16,24}, {32,48}, {64,96},
 * {128,192,256}, sides clamped to the input, variances 0.1 (centre) and 0.2 (size). Centres are
 * (j + 0.5) * stride: the grid the convolutions actually have. Upstream's (j + 0.5) / fw of the
 * side equals it wherever the side is a multiple of the stride, which at 320x240 is all but the
 * rows of strides 32 and 64; at other sizes its drift moved boxes by several pixels and made the
 * dlib IoUs swing with the pass scale (0.38..0.55 for the worst face), the grid did not.
 *
 * Pyramid: one pass finds faces of about DET_FACE_MIN..DET_FACE_MAX pixels of its input. The
 * finest pass scales the image so that a face of min_face pixels becomes DET_FACE_MIN; each
 * further pass is PYRAMID_STEP times smaller and trusted only with
 * faces of DET_FACE_MIN and up, every pass but the last only up to DET_FACE_MAX (larger ones were
 * where dog heads scored as faces), until the image's short side fits in DET_FACE_MAX. The finest
 * pass costs nearly everything (the next one 1/9 of it), so min_face is the one knob trading speed
 * for recall. A JPEG is decoded at the DCT scale the finest pass needs (mien_faces_decode), which
 * saves most of the decode time of a large photo.
 *
 * Tuned on dlib-faces (18 boxes), dogs.jpg, 1,000 LFW images and six 1920 px group photos
 * (tests/test_detect.c, bench/detect.sh): DET_FACE_MIN 12 still finds every dlib face when it is
 * scaled to 12 px (10 lost one); DET_FACE_MAX 90 (120 and 160 let dog heads through at some
 * scales); PYRAMID_STEP 3 (4 saves 3% but sees large faces at only 22 px); the 0.9 threshold
 * (detect.h) drops a dog and a hair-as-face that scored 0.79 and 0.875, while the lowest true
 * face scored 0.95. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "face/detect.h"
#include "face/faces_internal.h"

#define DET_FACE_MIN 12.0f /* smallest face side (input pixels) a pass is asked to find */
#define DET_FACE_MAX 90.0f /* largest face side a pass other than the last is trusted with */
#define PYRAMID_STEP 3.0f
#define NMS_IOU 0.3f   /* upstream's hard-NMS overlap */
#define YUNET_ALIGN 32 /* YuNet's input sides must be multiples of its largest stride */

/* ---- candidates ---- */

typedef struct {
  mien_det *d;
  int n, cap;
} det_list;

static mien_status det_push(det_list *l, float x0, float y0, float x1, float y1, float score) {
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 64;
    mien_det *d = realloc(l->d, (size_t)cap * sizeof *d);
    if (!d) return MIEN_ERR_NOMEM;
    l->d = d, l->cap = cap;
  }
  l->d[l->n++] = (mien_det){x0, y0, x1, y1, score};
  return MIEN_OK;
}

static float iou(const mien_det *a, const mien_det *b) {
  float iw = fminf(a->x1, b->x1) - fmaxf(a->x0, b->x0);
  float ih = fminf(a->y1, b->y1) - fmaxf(a->y0, b->y0);
  if (iw <= 0 || ih <= 0) return 0;
  float inter = iw * ih;
  float ua = (a->x1 - a->x0) * (a->y1 - a->y0) + (b->x1 - b->x0) * (b->y1 - b->y0) - inter;
  return ua > 0 ? inter / ua : 0;
}

static int by_score_desc(const void *pa, const void *pb) {
  const mien_det *a = pa, *b = pb;
  return a->score < b->score ? 1 : a->score > b->score ? -1 : 0;
}

/* Greedy hard NMS in place: keeps the best box of every cluster overlapping more than NMS_IOU. */
static void nms(det_list *l) {
  if (l->n == 0) return;
  qsort(l->d, (size_t)l->n, sizeof *l->d, by_score_desc);
  int kept = 0;
  for (int i = 0; i < l->n; i++) {
    int keep = 1;
    for (int k = 0; k < kept && keep; k++) keep = iou(&l->d[i], &l->d[k]) <= NMS_IOU;
    if (keep) l->d[kept++] = l->d[i];
  }
  l->n = kept;
}

/* ---- decoding the detectors' outputs ---- */

/* Geometry of one pass: the source crop (0, 0, cw, ch) of the image is resampled to iw x ih. */
typedef struct {
  int cw, ch, iw, ih;
  float min_score;
  float lo, hi; /* face sizes (sqrt of the box area, input pixels) this pass is trusted with */
} pass_geom;

static mien_status push_input_box(det_list *l, const pass_geom *g, float cx, float cy, float w,
                                  float h, float score) {
  float side = sqrtf(w * h);
  if (side < g->lo || side > g->hi) return MIEN_OK;
  float sx = (float)g->cw / (float)g->iw, sy = (float)g->ch / (float)g->ih;
  return det_push(l, (cx - 0.5f * w) * sx, (cy - 0.5f * h) * sy, (cx + 0.5f * w) * sx,
                  (cy + 0.5f * h) * sy, score);
}

static mien_status decode_fr_detect(const mien_plan *plan, const mien_workspace *ws,
                                    const pass_geom *g, det_list *l) {
  static const float min_sizes[4][3] = {{10, 16, 24}, {32, 48, 0}, {64, 96, 0}, {128, 192, 256}};
  static const int anchors[4] = {3, 2, 2, 3};
  for (int k = 0; k < 4; k++) {
    int64_t dims[4];
    if (mien_plan_output_dims(plan, 2 * k, dims, 4) != 4) return MIEN_ERR_INTERNAL;
    const int fh = (int)dims[2], fw = (int)dims[3], a_n = anchors[k];
    const float step = (float)(8 << k);
    const float *cls = mien_workspace_output(ws, 2 * k),
                *loc = mien_workspace_output(ws, 2 * k + 1);
    const size_t plane = (size_t)fh * fw;
    /* Head layout NCHW [1, anchors * values, fh, fw]: channel a * values + c holds anchor a's
     * value c. (The graph's tail transposes to NHWC and reshapes, so its priors run over
     * (row, column, anchor); this reads the same values in place.) */
    for (int i = 0; i < fh; i++)
      for (int j = 0; j < fw; j++)
        for (int a = 0; a < a_n; a++) {
          size_t at = (size_t)i * fw + j;
          float s0 = cls[(size_t)(2 * a) * plane + at], s1 = cls[(size_t)(2 * a + 1) * plane + at];
          float score = 1.0f / (1.0f + expf(s0 - s1)); /* 2-class softmax */
          if (score < g->min_score) continue;
          const float *b = loc + (size_t)(4 * a) * plane + at;
          float pcx = (j + 0.5f) * step, pcy = (i + 0.5f) * step;
          float pw = fminf(min_sizes[k][a], (float)g->iw),
                ph = fminf(min_sizes[k][a], (float)g->ih);
          float cx = pcx + b[0] * 0.1f * pw, cy = pcy + b[plane] * 0.1f * ph;
          float w = pw * expf(b[2 * plane] * 0.2f), h = ph * expf(b[3 * plane] * 0.2f);
          mien_status st = push_input_box(l, g, cx, cy, w, h, score);
          if (st != MIEN_OK) return st;
        }
  }
  return MIEN_OK;
}

static float clamp01(float v) {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/* YuNet (OpenCV's FaceDetectorYN decoding): per stride 8/16/32 one anchor per cell, row-major;
 * score = sqrt(cls * obj); centre = (cell + bbox[0..1]) * stride, side = exp(bbox[2..3]) * stride.
 * Its five keypoints are not used: fr_landmark gives the 68 points Rekognition's types need, and
 * aligning on YuNet's points instead lost LFW accuracy (docs/detection.md, "Alignment"). */
static mien_status decode_yunet(const mien_workspace *ws, const pass_geom *g, det_list *l) {
  for (int k = 0; k < 3; k++) {
    const int stride = 8 << k, cols = g->iw / stride, rows = g->ih / stride;
    const float *cls = mien_workspace_output(ws, k), *obj = mien_workspace_output(ws, 3 + k);
    const float *box = mien_workspace_output(ws, 6 + k);
    for (int r = 0; r < rows; r++)
      for (int c = 0; c < cols; c++) {
        size_t at = (size_t)r * cols + c;
        float score = sqrtf(clamp01(cls[at]) * clamp01(obj[at]));
        if (score < g->min_score) continue;
        const float *b = box + 4 * at;
        mien_status st = push_input_box(l, g, (c + b[0]) * stride, (r + b[1]) * stride,
                                        expf(b[2]) * stride, expf(b[3]) * stride, score);
        if (st != MIEN_OK) return st;
      }
  }
  return MIEN_OK;
}

/* ---- calibrated confidence ----
 * The detectors' raw scores mean different things, so every score leaves detection mapped to a
 * calibrated confidence: fr_detect's own score, and for YuNet a piecewise-linear map whose knots
 * match fr_detect's (bench/data/wild-labels.tsv, docs/detection.md): raw 0.75 keeps the
 * precision fr_detect has at 0.9 (the default threshold), and 0.816, 0.859, 0.899 keep the
 * shares of detections fr_detect has at 0.95, 0.99, 0.999 (the QualityFilter bars). Confidence
 * 90 then means the same whichever detector ran, and one threshold serves them all. */

typedef struct {
  float raw, calibrated;
} score_knot;

static const score_knot yunet_knots[] = {
    {0, 0},           {MIEN_YUNET_RAW_KNEE, MIEN_DETECT_MIN_SCORE},
    {0.816f, 0.95f},  {0.859f, 0.99f},
    {0.899f, 0.999f}, {1, 1}};

/* Piecewise-linear through the knots, from the `from` field to the other. */
static float through_knots(float v, int from_raw) {
  const int n = (int)(sizeof yunet_knots / sizeof *yunet_knots);
  for (int i = 1; i < n; i++) {
    const score_knot *a = &yunet_knots[i - 1], *b = &yunet_knots[i];
    float x0 = from_raw ? a->raw : a->calibrated, x1 = from_raw ? b->raw : b->calibrated;
    float y0 = from_raw ? a->calibrated : a->raw, y1 = from_raw ? b->calibrated : b->raw;
    if (v <= x1 || i == n - 1) return y0 + (fminf(v, x1) - x0) * (y1 - y0) / (x1 - x0);
  }
  return v;
}

static float calibrate(const mien_faces *f, float raw) {
  return f->yunet ? through_knots(raw, 1) : raw;
}

static float uncalibrate(const mien_faces *f, float c) {
  return f->yunet ? through_knots(c, 0) : c;
}

/* One detector run: the crop (0, 0, cw, ch) of img (zero-padded past the image) at iw x ih.
 * Appends every candidate scoring at least min_score, in image pixels, before NMS. */
static mien_status run_pass(mien_faces *f, const mien_image *img, const pass_geom *g, det_list *l,
                            char *err, size_t errlen) {
  const mien_plan *plan;
  mien_status st = mien_faces_detect_plan(f, g->iw, g->ih, &plan, err, errlen);
  if (st != MIEN_OK) return st;
  st = mien_faces_tensor(f, (size_t)3 * g->iw * g->ih);
  if (st != MIEN_OK) return st;
  /* fr_detect takes RGB as (x - 127) / 128; YuNet BGR 0..255. */
  mien_img_status ist = f->yunet
                            ? mien_image_resize_to_tensor(img, 0, 0, g->cw, g->ch, g->iw, g->ih, 0,
                                                          1, 0, 1, f->tensor)
                            : mien_image_resize_to_tensor(img, 0, 0, g->cw, g->ch, g->iw, g->ih,
                                                          127, 1 / 128.0f, 0, 0, f->tensor);
  if (ist != MIEN_IMG_OK) return mien_status_from_image(ist);
  const float *in = f->tensor;
  st = mien_run(plan, f->ws, &in);
  if (st != MIEN_OK) return st;
  int from = l->n;
  st = f->yunet ? decode_yunet(f->ws, g, l) : decode_fr_detect(plan, f->ws, g, l);
  for (int i = from; i < l->n; i++) l->d[i].score = calibrate(f, l->d[i].score);
  return st;
}

mien_status mien_faces_detect_raw(mien_faces *f, const mien_image *img, int iw, int ih,
                                  float min_score, mien_det **dets, int *n, char *err,
                                  size_t errlen) {
  det_list l = {0};
  pass_geom g = {img->w, img->h, iw, ih, min_score, 0, INFINITY};
  *dets = NULL, *n = 0;
  mien_status st = run_pass(f, img, &g, &l, err, errlen);
  if (st != MIEN_OK) {
    free(l.d);
    return st;
  }
  for (int i = 0; i < l.n; i++) l.d[i].score = uncalibrate(f, l.d[i].score);
  *dets = l.d, *n = l.n;
  return MIEN_OK;
}

/* ---- the pyramid ---- */

int mien_faces_min_face(const mien_faces *f, int max_side) {
  if (f->opt.min_face > 0) return f->opt.min_face;
  int rel = (int)((int64_t)MIEN_MIN_FACE_REF * max_side / MIEN_MIN_FACE_REF_SIDE);
  return rel > MIEN_MIN_FACE_FLOOR ? rel : MIEN_MIN_FACE_FLOOR;
}

/* Scale of the finest pass relative to the full-resolution image (never above 1: upsampling
 * finds nothing the model cannot already see). */
static float finest_scale(const mien_faces *f, int full_max_side) {
  return fminf(1.0f, DET_FACE_MIN / (float)mien_faces_min_face(f, full_max_side));
}

/* The pass geometry for scale s: fr_detect takes any size, so the whole image is resampled to
 * ceil(side * s); YuNet needs sides that are multiples of 32, so its input is padded past the
 * image's right and bottom edges (zeros, as OpenCV's FaceDetectorYN pads). */
static pass_geom pass_at(const mien_faces *f, const mien_image *img, float s) {
  pass_geom g;
  g.iw = (int)ceilf(img->w * s), g.ih = (int)ceilf(img->h * s);
  if (f->yunet) {
    g.iw = (g.iw + YUNET_ALIGN - 1) / YUNET_ALIGN * YUNET_ALIGN;
    g.ih = (g.ih + YUNET_ALIGN - 1) / YUNET_ALIGN * YUNET_ALIGN;
    g.cw = (int)lroundf(g.iw / s), g.ch = (int)lroundf(g.ih / s);
  } else {
    g.cw = img->w, g.ch = img->h;
  }
  return g;
}

/* The threshold in effect (calibrated). */
static float min_score(const mien_faces *f) {
  return f->opt.min_score > 0 ? f->opt.min_score : MIEN_DETECT_MIN_SCORE;
}

/* The passes for an image of w x h decoded at 1/scale, keeping candidates of calibrated score
 * `keep` and up: at most MIEN_MAX_PASSES, finest first. */
static int plan_passes(const mien_faces *f, int w, int h, int scale, float keep,
                       pass_geom *passes) {
  const mien_image shape = {w, h, NULL};
  int full_max = (w > h ? w : h) * scale, short_side = w < h ? w : h;
  float s = finest_scale(f, full_max) * (float)scale; /* relative to the decoded image */
  float raw_min = uncalibrate(f, keep);
  int n = 0;
  for (;;) {
    if (s > 1) s = 1;
    pass_geom g = pass_at(f, &shape, s);
    int last = short_side * s <= DET_FACE_MAX || n == MIEN_MAX_PASSES - 1;
    g.lo = n == 0 ? 0 : DET_FACE_MIN;
    g.hi = last ? INFINITY : DET_FACE_MAX;
    g.min_score = raw_min;
    passes[n++] = g;
    if (last) return n;
    s /= PYRAMID_STEP;
  }
}

int mien_faces_pyramid(const mien_faces *f, int w, int h, int scale,
                       int sizes[MIEN_MAX_PASSES][2]) {
  pass_geom passes[MIEN_MAX_PASSES];
  int n = plan_passes(f, w, h, scale, min_score(f), passes);
  for (int i = 0; i < n; i++) sizes[i][0] = passes[i].iw, sizes[i][1] = passes[i].ih;
  return n;
}

/* One detector's pyramid: its candidates of calibrated score `keep` and up, after NMS. */
static mien_status detect_pyramid(mien_faces *f, const mien_image *img, int scale, float keep,
                                  det_list *l, char *err, size_t errlen) {
  pass_geom passes[MIEN_MAX_PASSES];
  int n = plan_passes(f, img->w, img->h, scale, keep, passes);
  for (int i = 0; i < n; i++) {
    mien_status st = run_pass(f, img, &passes[i], l, err, errlen);
    if (st != MIEN_OK) return st;
  }
  nms(l);
  return MIEN_OK;
}

/* Fusion ("fusion:PATH"): fr_detect's and YuNet's candidates, each a second opinion on the other.
 * A face both see (IoU >= FUSE_IOU, the other at FUSE_OPINION or more) keeps fr_detect's box (the
 * one the landmark model was tuned on) and the higher score; a face one alone sees keeps its box
 * and loses FUSE_SOLO_PENALTY, so that a single opinion needs more to pass the threshold. */
#define FUSE_IOU 0.4f
#define FUSE_OPINION 0.5f
#define FUSE_SOLO_PENALTY 0.05f

static mien_status detect_fused(mien_faces *f, const mien_image *img, int scale, det_list *l,
                                char *err, size_t errlen) {
  float t = min_score(f), keep = fminf(t, FUSE_OPINION);
  det_list o = {0};
  mien_status st = detect_pyramid(f, img, scale, keep, l, err, errlen);
  if (st == MIEN_OK) st = detect_pyramid(f->second, img, scale, keep, &o, err, errlen);
  char *used = st == MIEN_OK ? calloc((size_t)o.n + 1, 1) : NULL;
  if (st == MIEN_OK && !used) st = MIEN_ERR_NOMEM;
  for (int i = 0; st == MIEN_OK && i < l->n; i++) {
    int best = -1;
    float best_iou = FUSE_IOU;
    for (int k = 0; k < o.n; k++) {
      float v;
      if (!used[k] && (v = iou(&l->d[i], &o.d[k])) >= best_iou) best = k, best_iou = v;
    }
    if (best >= 0)
      used[best] = 1, l->d[i].score = fmaxf(l->d[i].score, o.d[best].score);
    else
      l->d[i].score -= FUSE_SOLO_PENALTY;
  }
  for (int k = 0; st == MIEN_OK && k < o.n; k++)
    if (!used[k])
      st =
          det_push(l, o.d[k].x0, o.d[k].y0, o.d[k].x1, o.d[k].y1, o.d[k].score - FUSE_SOLO_PENALTY);
  free(used);
  free(o.d);
  if (st != MIEN_OK) return st;
  int kept = 0;
  for (int i = 0; i < l->n; i++)
    if (l->d[i].score >= t) l->d[kept++] = l->d[i];
  l->n = kept;
  nms(l);
  return MIEN_OK;
}

static mien_status detect_all(mien_faces *f, const mien_image *img, int scale, det_list *l,
                              char *err, size_t errlen) {
  return f->second ? detect_fused(f, img, scale, l, err, errlen)
                   : detect_pyramid(f, img, scale, min_score(f), l, err, errlen);
}

/* ---- decoding for detection ---- */

/* The larger side of a JPEG from its SOF header (orientation swaps the sides, not the larger
 * one), or 0 when the bytes are not a well-formed JPEG: the decoder then says what is wrong. */
static int jpeg_max_side(const uint8_t *b, size_t len) {
  if (len < 4 || b[0] != 0xFF || b[1] != 0xD8) return 0;
  size_t p = 2;
  while (p + 4 <= len) {
    if (b[p] != 0xFF) return 0;
    uint8_t m = b[p + 1];
    if (m == 0xFF) { /* fill byte */
      p++;
      continue;
    }
    size_t seg = (size_t)b[p + 2] << 8 | b[p + 3];
    /* SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size. */
    if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
      if (p + 9 > len) return 0;
      int h = b[p + 5] << 8 | b[p + 6], w = b[p + 7] << 8 | b[p + 8];
      return w > h ? w : h;
    }
    if (m == 0xD9 || m == 0xDA || seg < 2) return 0; /* no frame header before the scan */
    p += 2 + seg;
  }
  return 0;
}

mien_status mien_faces_decode(const mien_faces *f, const uint8_t *bytes, size_t len,
                              const mien_image_limits *lim, int full_res, mien_image *out,
                              mien_image_info *info, char *err, size_t errlen) {
  int want = 0;
  int side = full_res ? 0 : jpeg_max_side(bytes, len);
  if (side > 0) want = (int)ceilf(side * finest_scale(f, side));
  return mien_status_from_image(mien_image_decode(bytes, len, lim, want, out, info, err, errlen));
}

/* ---- faces ---- */

static int by_area_desc(const void *pa, const void *pb) {
  const mien_det *a = pa, *b = pb;
  float aa = (a->x1 - a->x0) * (a->y1 - a->y0), ab = (b->x1 - b->x0) * (b->y1 - b->y0);
  return aa < ab ? 1 : aa > ab ? -1 : 0;
}

static void scale_face(mien_face *face, float s) {
  face->x0 *= s, face->y0 *= s, face->x1 *= s, face->y1 *= s;
  for (int i = 0; i < 68; i++) face->lm68[i].x *= s, face->lm68[i].y *= s;
}

mien_status mien_faces_detect_scaled(mien_faces *f, const mien_image *img, int scale,
                                     mien_face **faces, int *n, char *err, size_t errlen) {
  *faces = NULL, *n = 0;
  if (err && errlen) err[0] = '\0';
  if (!img || !img->rgb || img->w <= 0 || img->h <= 0 || scale < 1) {
    if (err && errlen) snprintf(err, errlen, "empty image");
    return MIEN_ERR_INVALID_PARAMETER;
  }
  det_list l = {0};
  mien_status st = detect_all(f, img, scale, &l, err, errlen);
  mien_face *out = NULL;
  if (st == MIEN_OK && l.n > 0) {
    /* Largest first, and at most Rekognition's 100: landmarks only for the faces returned. */
    qsort(l.d, (size_t)l.n, sizeof *l.d, by_area_desc);
    if (l.n > MIEN_MAX_FACES) l.n = MIEN_MAX_FACES;
    out = calloc((size_t)l.n, sizeof *out);
    if (!out) st = MIEN_ERR_NOMEM;
  }
  for (int i = 0; st == MIEN_OK && i < l.n; i++) {
    mien_face *face = &out[i];
    const mien_det *d = &l.d[i];
    face->x0 = d->x0, face->y0 = d->y0, face->x1 = d->x1, face->y1 = d->y1;
    face->score = d->score;
    st = mien_face_landmarks(f, img, face);
    if (st != MIEN_OK) break;
    mien_face_pose(face);
    scale_face(face, (float)scale);
  }
  free(l.d);
  if (st != MIEN_OK) {
    free(out);
    if (err && errlen && !err[0])
      snprintf(err, errlen, "detection failed: %s", mien_status_name(st));
    return st;
  }
  *faces = out, *n = out ? l.n : 0;
  return MIEN_OK;
}

mien_status mien_faces_find(mien_faces *f, const uint8_t *bytes, size_t len,
                            const mien_image_limits *lim, int full_res, mien_image *img,
                            mien_image_info *info, mien_face **faces, int *n, char *err,
                            size_t errlen) {
  *faces = NULL, *n = 0;
  mien_status st = mien_faces_decode(f, bytes, len, lim, 0, img, info, err, errlen);
  if (st != MIEN_OK) return st;
  st = mien_faces_detect_scaled(f, img, info->scale, faces, n, err, errlen);
  if (st == MIEN_OK && full_res && info->scale > 1) {
    mien_image_free(img);
    st = mien_faces_decode(f, bytes, len, lim, 1, img, NULL, err, errlen);
    if (st != MIEN_OK) *img = (mien_image){0};
  }
  if (st != MIEN_OK) {
    mien_image_free(img);
    free(*faces);
    *faces = NULL, *n = 0;
  }
  return st;
}

mien_status mien_faces_detect(mien_faces *f, const mien_image *img, mien_face **faces, int *n,
                              char *err, size_t errlen) {
  return mien_faces_detect_scaled(f, img, 1, faces, n, err, errlen);
}
