/* detect.c - `mien-eval detect --labels FILE`: detection measured on labelled photos
 * (bench/data/wild-labels.tsv: faces as people photograph them, and dlib-faces).
 *
 * Each photo runs through mien_faces_find, the detection every API path and command runs, once
 * at the threshold in effect (precision and recall per condition) and once at EVAL_LOW_SCORE (the
 * precision-recall curve and its AP; greedy NMS keeps a box regardless of the boxes scoring
 * below it, so the default run's faces are exactly those of the low run scoring above the
 * threshold, except where the 100-face cap bites). A detection is matched, best score first, to
 * the unmatched label with the highest IoU >= 0.5. Unmatched, it is a false positive unless it is
 * centred in an ignore region, is smaller than the photo's floor, lies in a crowd photo (whose
 * small and unchecked faces are not labelled), or matched a "printed" face (don't-care); centred
 * in a "neg" region it is counted under that region's tag (hand, arm, animal...). The true and
 * false positives each QualityFilter level would keep are counted too.
 *
 * --transform applies one synthetic condition (rotation, down-scaling, occlusion, blur, gamma) to
 * the decoded photo and moves its labels with it; detection then runs on those pixels, with the
 * same pyramid and threshold but without the JPEG's DCT reduction. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/ops.h"
#include "cli/cli.h"
#include "eval.h"
#include "face/detect.h"
#include "face/eval.h"
#include "util/util.h"

#define EVAL_IOU 0.5f
#define EVAL_LOW_SCORE 0.3f
#define EVAL_BIG_FACE 40.0f /* the acceptance rows: faces of at least 40 px */
#define EVAL_MAX_TAGS 32

typedef struct {
  char kind; /* 'f' face, 'n' negative, 'i' ignore */
  float b[4];
  char tags[128];
} label;

typedef struct {
  char path[512];
  int floor, crowd;
  label *l;
  int nl, cap;
} photo;

typedef struct {
  photo *p;
  int n, cap;
} label_set;

static void set_free(label_set *s) {
  for (int i = 0; i < s->n; i++) free(s->p[i].l);
  free(s->p);
}

static int has_tag(const char *tags, const char *tag) {
  size_t n = strlen(tag);
  for (const char *t = tags; (t = strstr(t, tag)); t += n)
    if ((t == tags || t[-1] == ',') && (t[n] == ',' || t[n] == '\0')) return 1;
  return 0;
}

static float side(const float *b) {
  return sqrtf(fmaxf(0, b[2] - b[0]) * fmaxf(0, b[3] - b[1]));
}

static int read_labels(const char *file, label_set *s) {
  FILE *f = fopen(file, "r");
  if (!f) return cli_fail(file, MIEN_ERR_IO, "cannot open the labels file");
  char line[1024];
  int lineno = 0, rc = EXIT_OK;
  while (rc == EXIT_OK && fgets(line, sizeof line, f)) {
    lineno++;
    if (line[0] == '#' || line[0] == '\n') continue;
    char kind[16], path[512], rest[256];
    label l = {0};
    if (sscanf(line, "%15s %511s %255s", kind, path, rest) == 3 && !strcmp(kind, "image")) {
      if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 64;
        photo *p = realloc(s->p, (size_t)cap * sizeof *p);
        if (!p) return fclose(f), cli_fail(file, MIEN_ERR_NOMEM, "out of memory");
        s->p = p, s->cap = cap;
      }
      photo *p = &s->p[s->n++];
      *p = (photo){0};
      snprintf(p->path, sizeof p->path, "%s", path);
      p->crowd = !strncmp(rest, "crowd=", 6);
      p->floor = atoi(strchr(rest, '=') ? strchr(rest, '=') + 1 : "0");
    } else if (sscanf(line, "%15s %511s %f %f %f %f %127s", kind, path, &l.b[0], &l.b[1], &l.b[2],
                      &l.b[3], l.tags) == 7 &&
               (!strcmp(kind, "face") || !strcmp(kind, "neg") || !strcmp(kind, "ignore")) &&
               s->n > 0 && !strcmp(path, s->p[s->n - 1].path)) {
      photo *p = &s->p[s->n - 1];
      l.kind = kind[0] == 'f' ? 'f' : kind[0] == 'n' ? 'n' : 'i';
      if (p->nl == p->cap) {
        int cap = p->cap ? 2 * p->cap : 16;
        label *nl = realloc(p->l, (size_t)cap * sizeof *nl);
        if (!nl) return fclose(f), cli_fail(file, MIEN_ERR_NOMEM, "out of memory");
        p->l = nl, p->cap = cap;
      }
      p->l[p->nl++] = l;
    } else {
      char msg[64];
      snprintf(msg, sizeof msg, "line %d is not a label line", lineno);
      rc = cli_fail(file, MIEN_ERR_INVALID_PARAMETER, msg);
    }
  }
  fclose(f);
  return rc;
}

static float iou(const float *a, const float *b) {
  float iw = fminf(a[2], b[2]) - fmaxf(a[0], b[0]), ih = fminf(a[3], b[3]) - fmaxf(a[1], b[1]);
  if (iw <= 0 || ih <= 0) return 0;
  float inter = iw * ih;
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
}

static int centred_in(const float *d, const float *r) {
  float cx = 0.5f * (d[0] + d[2]), cy = 0.5f * (d[1] + d[3]);
  return cx >= r[0] && cx <= r[2] && cy >= r[1] && cy <= r[3];
}

/* Verdicts of one photo's detections (sorted by score, highest first): verdict[i] = 1 true
 * positive, 0 false positive, -1 ignored; neg[i] the negative region a false positive lies in or
 * -1; found[k] = 1 + the index of the detection that matched face label k, or 0. */
static void judge(const photo *p, const mien_face *d, int nd, signed char *verdict, int *neg,
                  int *found) {
  memset(found, 0, (size_t)p->nl * sizeof *found);
  for (int i = 0; i < nd; i++) {
    const float db[4] = {d[i].x0, d[i].y0, d[i].x1, d[i].y1};
    int best = -1;
    float best_iou = EVAL_IOU;
    for (int k = 0; k < p->nl; k++) {
      float v;
      if (p->l[k].kind == 'f' && !found[k] && (v = iou(db, p->l[k].b)) >= best_iou)
        best = k, best_iou = v;
    }
    neg[i] = -1;
    if (best >= 0) {
      found[best] = 1 + i;
      verdict[i] = has_tag(p->l[best].tags, "printed") ? -1 : 1;
      continue;
    }
    verdict[i] = p->crowd || side(db) < (float)p->floor ? -1 : 0;
    for (int k = 0; k < p->nl; k++) {
      if (p->l[k].kind == 'f' || !centred_in(db, p->l[k].b)) continue;
      if (p->l[k].kind == 'i')
        verdict[i] = -1;
      else
        neg[i] = k, verdict[i] = 0;
      break;
    }
  }
}

typedef struct {
  char name[32];
  int faces, found;
  double abs_yaw_sum; /* |Yaw| of the found faces: how turned the Pose says they are */
  float abs_yaw_min, abs_yaw_max;
} tag_count;

/* The QualityFilter levels IndexFaces applies (ops_faces.c), measured on the true and false
 * positives at the threshold in effect. */
static const char *const quality_levels[4] = {"LOW", "MEDIUM", "AUTO", "HIGH"};

typedef struct {
  tag_count tags[EVAL_MAX_TAGS];
  int ntags;
  tag_count fp_tags[EVAL_MAX_TAGS]; /* found = false positives in regions of that tag */
  int nfp;
  int tp, fp, positives, tp40, fp40, big_faces, big_found;
  int kept_tp[4], kept_fp[4]; /* per QualityFilter level (quality_levels): detections it keeps */
  mien_scored *curve;         /* low-threshold detections: score, tag 1 = true positive */
  int ncurve, curve_cap;
} eval_stats;

static tag_count *tag_slot(tag_count *t, int *n, const char *name, size_t len) {
  for (int i = 0; i < *n; i++)
    if (strlen(t[i].name) == len && !strncmp(t[i].name, name, len)) return &t[i];
  if (*n == EVAL_MAX_TAGS || len >= sizeof t->name) return NULL;
  tag_count *s = &t[(*n)++];
  *s = (tag_count){0};
  memcpy(s->name, name, len);
  return s;
}

/* Adds faces and found to the count of each comma-separated tag of tags, and the |Yaw| of a
 * found face. */
static void count_tags(tag_count *t, int *n, const char *tags, int faces, int found,
                       float abs_yaw) {
  for (const char *s = tags; *s;) {
    size_t len = strcspn(s, ",");
    tag_count *c = tag_slot(t, n, s, len);
    if (c && found && faces) {
      c->abs_yaw_sum += abs_yaw;
      c->abs_yaw_min = c->found ? fminf(c->abs_yaw_min, abs_yaw) : abs_yaw;
      c->abs_yaw_max = c->found ? fmaxf(c->abs_yaw_max, abs_yaw) : abs_yaw;
    }
    if (c) c->faces += faces, c->found += found;
    s += len + (s[len] == ',');
  }
}

/* The default-threshold run of one photo into the counts. */
static void add_default(eval_stats *e, const photo *p, const mien_face *d, int nd,
                        const signed char *verdict, const int *neg, const int *found, int verbose) {
  for (int i = 0; i < nd; i++) {
    const float db[4] = {d[i].x0, d[i].y0, d[i].x1, d[i].y1};
    int big = side(db) >= EVAL_BIG_FACE;
    for (int q = 0; q < 4 && verdict[i] >= 0; q++) {
      cJSON *reasons = cJSON_CreateArray();
      int kept = op_quality_reasons(&d[i], quality_levels[q], reasons) == 0;
      cJSON_Delete(reasons);
      e->kept_tp[q] += kept && verdict[i] == 1, e->kept_fp[q] += kept && verdict[i] == 0;
    }
    if (verdict[i] == 1) e->tp++, e->tp40 += big;
    if (verdict[i] != 0) continue;
    e->fp++, e->fp40 += big;
    count_tags(e->fp_tags, &e->nfp, neg[i] >= 0 ? p->l[neg[i]].tags : "other", 0, 1, 0);
    if (verbose)
      fprintf(stderr, "FP   %s %.0f %.0f %.0f %.0f score %.3f%s%s\n", p->path, db[0], db[1], db[2],
              db[3], (double)d[i].score, neg[i] >= 0 ? " in " : "",
              neg[i] >= 0 ? p->l[neg[i]].tags : "");
  }
  for (int k = 0; k < p->nl; k++) {
    const label *l = &p->l[k];
    if (l->kind != 'f') continue;
    count_tags(e->tags, &e->ntags, l->tags, 1, found[k] != 0,
               found[k] ? fabsf(d[found[k] - 1].yaw) : 0);
    if (has_tag(l->tags, "printed")) continue;
    e->positives++;
    if (side(l->b) >= EVAL_BIG_FACE &&
        (has_tag(l->tags, "frontal") || has_tag(l->tags, "three-quarter")))
      e->big_faces++, e->big_found += found[k] != 0;
    if (verbose && !found[k])
      fprintf(stderr, "MISS %s %.0f %.0f %.0f %.0f %s\n", p->path, l->b[0], l->b[1], l->b[2],
              l->b[3], l->tags);
  }
}

static int add_curve(eval_stats *e, const mien_face *d, int nd, const signed char *verdict) {
  for (int i = 0; i < nd; i++) {
    if (verdict[i] < 0) continue;
    if (e->ncurve == e->curve_cap) {
      int cap = e->curve_cap ? 2 * e->curve_cap : 1024;
      mien_scored *c = realloc(e->curve, (size_t)cap * sizeof *c);
      if (!c) return -1;
      e->curve = c, e->curve_cap = cap;
    }
    e->curve[e->ncurve++] = (mien_scored){d[i].score, verdict[i]};
  }
  return 0;
}

/* Average precision, all points (VOC 2010+): the area under the precision-recall curve made
 * monotone from the right. */
static double average_precision(mien_scored *c, int n, int positives) {
  if (positives == 0) return NAN;
  mien_scored_sort(c, n, 1);
  double *prec = malloc((size_t)(n ? n : 1) * sizeof *prec);
  if (!prec) return NAN;
  int tp = 0;
  for (int i = 0; i < n; i++) tp += c[i].tag, prec[i] = (double)tp / (i + 1);
  for (int i = n - 2; i >= 0; i--)
    if (prec[i + 1] > prec[i]) prec[i] = prec[i + 1];
  double ap = 0;
  for (int i = 0; i < n; i++)
    if (c[i].tag) ap += prec[i] / positives;
  free(prec);
  return ap;
}

/* ---- synthetic transforms (--transform KIND:VALUE), applied to the decoded photo and its labels
 * ---- */

typedef enum { TF_NONE, TF_ROTATE, TF_SCALE, TF_OCCLUDE, TF_BLUR, TF_GAMMA } tf_kind;

typedef struct {
  tf_kind kind;
  float value;
} transform;

static float label_cx(const label *l) {
  return 0.5f * (l->b[0] + l->b[2]);
}
static float label_cy(const label *l) {
  return 0.5f * (l->b[1] + l->b[3]);
}

/* img replaced by its warp by M (output pixel -> source) into ow x oh. */
static int warp(mien_image *img, const float M[6], int ow, int oh) {
  mien_image out;
  if (mien_image_warped(img, M, ow, oh, &out) != MIEN_IMG_OK) return -1;
  mien_image_free(img);
  *img = out;
  return 0;
}

/* In-place box averaging by an integer factor k: the anti-aliasing before a bilinear downscale. */
static void box_shrink(mien_image *img, int k) {
  int ow = img->w / k, oh = img->h / k;
  for (int y = 0; y < oh; y++)
    for (int x = 0; x < ow; x++)
      for (int c = 0; c < 3; c++) {
        int sum = 0;
        for (int dy = 0; dy < k; dy++)
          for (int dx = 0; dx < k; dx++)
            sum += img->rgb[3 * ((size_t)(y * k + dy) * img->w + (x * k + dx)) + c];
        img->rgb[3 * ((size_t)y * ow + x) + c] = (uint8_t)(sum / (k * k));
      }
  img->w = ow, img->h = oh;
}

static int by_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return x < y ? -1 : x > y;
}

/* Scale so that the median labelled face becomes `side` px; never enlarges. */
static int tf_scale(mien_image *img, photo *p, float side_px) {
  float *sides = malloc(((size_t)p->nl + 1) * sizeof *sides);
  if (!sides) return -1;
  int n = 0;
  for (int k = 0; k < p->nl; k++)
    if (p->l[k].kind == 'f') sides[n++] = side(p->l[k].b);
  float s = 1;
  if (n) {
    qsort(sides, (size_t)n, sizeof *sides, by_float);
    s = fminf(1, side_px / sides[n / 2]);
  }
  free(sides);
  int k = (int)(1 / s);
  if (k >= 2) box_shrink(img, k);
  float rest = k >= 2 ? s * k : s; /* what bilinear still has to do */
  int ow = (int)(img->w * rest), oh = (int)(img->h * rest);
  if (ow < 1 || oh < 1) return -1;
  const float M[6] = {1 / rest, 0, 0.5f / rest - 0.5f, 0, 1 / rest, 0.5f / rest - 0.5f};
  if (rest < 0.999f && warp(img, M, ow, oh)) return -1;
  for (int i = 0; i < p->nl; i++)
    for (int c = 0; c < 4; c++) p->l[i].b[c] *= s;
  p->floor = (int)fmaxf(8, p->floor * s);
  return 0;
}

/* Rotation by deg about the centre, same canvas; a face whose box leaves it becomes ignored. */
static int tf_rotate(mien_image *img, photo *p, float deg) {
  float a = deg * (float)M_PI / 180, c = cosf(a), s = sinf(a);
  float cx = 0.5f * (img->w - 1), cy = 0.5f * (img->h - 1);
  float M[6];
  mien_rotation_matrix(img->w, img->h, deg, M);
  if (warp(img, M, img->w, img->h)) return -1;
  for (int i = 0; i < p->nl; i++) {
    label *l = &p->l[i];
    float x = label_cx(l) - cx, y = label_cy(l) - cy;
    float nx = c * x - s * y + cx, ny = s * x + c * y + cy;
    float hw = 0.5f * (l->b[2] - l->b[0]), hh = 0.5f * (l->b[3] - l->b[1]);
    l->b[0] = nx - hw, l->b[1] = ny - hh, l->b[2] = nx + hw, l->b[3] = ny + hh;
    if (l->kind == 'f' && (l->b[0] < 0 || l->b[1] < 0 || l->b[2] > img->w || l->b[3] > img->h))
      l->kind = 'i';
  }
  return 0;
}

/* A mid-grey patch over the lower `frac` of every labelled face (a mask, a hand, a scarf). */
static void tf_occlude(mien_image *img, const photo *p, float frac) {
  for (int i = 0; i < p->nl; i++) {
    const label *l = &p->l[i];
    if (l->kind != 'f') continue;
    int x0 = (int)fmaxf(0, l->b[0]), x1 = (int)fminf((float)img->w, l->b[2]);
    int y0 = (int)fmaxf(0, l->b[3] - frac * (l->b[3] - l->b[1])),
        y1 = (int)fminf((float)img->h, l->b[3]);
    for (int y = y0; y < y1; y++)
      memset(img->rgb + 3 * ((size_t)y * img->w + x0), 128, 3 * (size_t)(x1 > x0 ? x1 - x0 : 0));
  }
}

/* Three box-blur passes of radius r approximate a Gaussian of sigma ~ r (per axis). */
static int tf_blur(mien_image *img, float sigma) {
  int r = (int)lroundf(sigma);
  if (r < 1) return 0;
  int n = img->w > img->h ? img->w : img->h;
  int *acc = malloc(((size_t)n + 1) * 3 * sizeof *acc);
  if (!acc) return -1;
  for (int pass = 0; pass < 6; pass++) {
    int horiz = pass % 2 == 0, len = horiz ? img->w : img->h, lines = horiz ? img->h : img->w;
    size_t step = horiz ? 3 : 3 * (size_t)img->w;
    for (int line = 0; line < lines; line++) {
      uint8_t *base = img->rgb + (horiz ? 3 * (size_t)line * img->w : 3 * (size_t)line);
      for (int c = 0; c < 3; c++) {
        acc[c] = 0;
        for (int i = 0; i < len; i++) acc[3 * (i + 1) + c] = acc[3 * i + c] + base[i * step + c];
      }
      for (int i = 0; i < len; i++) {
        int lo = i - r < 0 ? 0 : i - r, hi = i + r + 1 > len ? len : i + r + 1;
        for (int c = 0; c < 3; c++)
          base[i * step + c] = (uint8_t)((acc[3 * hi + c] - acc[3 * lo + c]) / (hi - lo));
      }
    }
  }
  free(acc);
  return 0;
}

static void tf_gamma(mien_image *img, float g) {
  uint8_t lut[256];
  for (int v = 0; v < 256; v++) lut[v] = (uint8_t)lroundf(255 * powf(v / 255.0f, g));
  for (size_t i = 0; i < (size_t)3 * img->w * img->h; i++) img->rgb[i] = lut[img->rgb[i]];
}

static int apply_transform(const transform *t, mien_image *img, photo *p) {
  switch (t->kind) {
  case TF_ROTATE:
    return tf_rotate(img, p, t->value);
  case TF_SCALE:
    return tf_scale(img, p, t->value);
  case TF_OCCLUDE:
    tf_occlude(img, p, t->value);
    return 0;
  case TF_BLUR:
    return tf_blur(img, t->value);
  case TF_GAMMA:
    tf_gamma(img, t->value);
    return 0;
  case TF_NONE:
    break;
  }
  return 0;
}

static int parse_transform(const char *arg, transform *t) {
  static const struct {
    const char *name;
    tf_kind kind;
    float lo, hi;
  } kinds[] = {{"rotate", TF_ROTATE, -90, 90},
               {"scale", TF_SCALE, 8, 4096},
               {"occlude", TF_OCCLUDE, 0, 1},
               {"blur", TF_BLUR, 0, 64},
               {"gamma", TF_GAMMA, 0.1f, 10}};
  const char *colon = strchr(arg, ':');
  if (!colon) return -1;
  for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
    if (strncmp(arg, kinds[i].name, (size_t)(colon - arg)) || kinds[i].name[colon - arg]) continue;
    char *end;
    float v = strtof(colon + 1, &end);
    if (end == colon + 1 || *end || v < kinds[i].lo || v > kinds[i].hi) return -1;
    *t = (transform){kinds[i].kind, v};
    return 0;
  }
  return -1;
}

/* Finds the faces of one photo; 0, or the exit code after reporting. Without a transform it is
 * mien_faces_find on the file's bytes; with one, detection on the transformed full image. */
static int find(mien_faces *f, const char *path, const uint8_t *bytes, size_t len,
                const mien_image *transformed, mien_face **faces, int *n) {
  char err[512] = "";
  mien_status st;
  if (transformed) {
    st = mien_faces_detect(f, transformed, faces, n, err, sizeof err);
  } else {
    mien_image img;
    mien_image_info info;
    st = mien_faces_find(f, bytes, len, NULL, 0, &img, &info, faces, n, err, sizeof err);
    if (st == MIEN_OK) mien_image_free(&img);
  }
  return st == MIEN_OK ? EXIT_OK : cli_fail(path, st, err);
}

/* The photo's labels, transformed with its pixels when t asks for it (*img then holds them). */
static int prepare(const transform *t, const char *path, const uint8_t *bytes, size_t len, photo *p,
                   mien_image *img) {
  if (t->kind == TF_NONE) return EXIT_OK;
  char err[512] = "";
  mien_status st = mien_decode_image(bytes, len, img, err, sizeof err);
  if (st != MIEN_OK) return cli_fail(path, st, err);
  if (apply_transform(t, img, p)) {
    mien_image_free(img);
    return cli_fail(path, MIEN_ERR_NOMEM, "the transform failed (out of memory)");
  }
  return EXIT_OK;
}

static int eval_photo(mien_faces *def, mien_faces *low, const char *root, const transform *t,
                      const photo *orig, eval_stats *e, int verbose) {
  char path[1200];
  snprintf(path, sizeof path, "%s/%s", root, orig->path);
  size_t len;
  uint8_t *bytes = mien_read_file(path, &len);
  if (!bytes) return cli_fail(path, MIEN_ERR_IO, "cannot read the photo");
  photo pc = *orig, *p = &pc;
  pc.l = malloc(((size_t)orig->nl + 1) * sizeof *pc.l);
  if (!pc.l) return free(bytes), cli_fail(path, MIEN_ERR_NOMEM, "out of memory");
  memcpy(pc.l, orig->l, (size_t)orig->nl * sizeof *pc.l);
  mien_image img = {0};
  int rc = prepare(t, path, bytes, len, p, &img);
  const mien_image *timg = t->kind == TF_NONE ? NULL : &img;
  mien_face *d[2] = {NULL, NULL};
  int nd[2] = {0, 0};
  if (rc == EXIT_OK) rc = find(def, path, bytes, len, timg, &d[0], &nd[0]);
  if (rc == EXIT_OK) rc = find(low, path, bytes, len, timg, &d[1], &nd[1]);
  free(bytes);
  mien_image_free(&img);
  int most = nd[0] > nd[1] ? nd[0] : nd[1];
  signed char *verdict = malloc((size_t)most + 1);
  int *neg = malloc(((size_t)most + 1) * sizeof *neg);
  int *found = malloc(((size_t)p->nl + 1) * sizeof *found);
  if (rc == EXIT_OK && (!verdict || !neg || !found))
    rc = cli_fail(path, MIEN_ERR_NOMEM, "out of memory");
  for (int r = 0; rc == EXIT_OK && r < 2; r++) {
    /* Best score first, so that the better of two boxes on one face takes the label. */
    mien_scored *order = malloc(((size_t)nd[r] + 1) * sizeof *order);
    mien_face *sorted = malloc(((size_t)nd[r] + 1) * sizeof *sorted);
    if (!order || !sorted) {
      free(order), free(sorted);
      rc = cli_fail(path, MIEN_ERR_NOMEM, "out of memory");
      break;
    }
    for (int i = 0; i < nd[r]; i++) order[i] = (mien_scored){d[r][i].score, i};
    mien_scored_sort(order, nd[r], 1);
    for (int i = 0; i < nd[r]; i++) sorted[i] = d[r][order[i].tag];
    judge(p, sorted, nd[r], verdict, neg, found);
    if (r == 0)
      add_default(e, p, sorted, nd[r], verdict, neg, found, verbose);
    else if (add_curve(e, sorted, nd[r], verdict))
      rc = cli_fail(path, MIEN_ERR_NOMEM, "out of memory");
    free(order), free(sorted);
  }
  free(verdict), free(neg), free(found), free(d[0]), free(d[1]), free(pc.l);
  return rc;
}

static cJSON *tag_json(const tag_count *t, int n, int recall) {
  cJSON *o = cJSON_CreateObject();
  for (int i = 0; i < n; i++) {
    if (!recall) {
      cJSON_AddNumberToObject(o, t[i].name, t[i].found);
      continue;
    }
    cJSON *c = cJSON_AddObjectToObject(o, t[i].name);
    cJSON_AddNumberToObject(c, "faces", t[i].faces);
    cJSON_AddNumberToObject(c, "found", t[i].found);
    cJSON_AddNumberToObject(c, "recall",
                            t[i].faces ? round(1e4 * t[i].found / t[i].faces) / 1e4 : 0);
    if (t[i].found) {
      cJSON_AddNumberToObject(c, "mean_abs_yaw", round(t[i].abs_yaw_sum / t[i].found));
      cJSON_AddNumberToObject(c, "min_abs_yaw", round(t[i].abs_yaw_min));
      cJSON_AddNumberToObject(c, "max_abs_yaw", round(t[i].abs_yaw_max));
    }
  }
  return o;
}

static double ratio(int a, int b) {
  return b ? round(1e4 * a / b) / 1e4 : 0;
}

int eval_detect(const char *labels, const char *root, const mien_faces_options *opt,
                const char *transform_arg, int verbose) {
  transform t = {TF_NONE, 0};
  if (transform_arg && parse_transform(transform_arg, &t))
    return cli_fail(transform_arg, MIEN_ERR_INVALID_PARAMETER,
                    "--transform takes rotate:DEG (-90..90), scale:PX (median face side), "
                    "occlude:FRACTION, blur:SIGMA or gamma:G");
  label_set s = {0};
  int rc = read_labels(labels, &s);
  if (rc != EXIT_OK) return set_free(&s), rc;
  mien_faces *def = NULL, *low = NULL;
  mien_faces_options lo = *opt;
  char err[512] = "";
  lo.min_score = opt->min_score > 0 ? fminf(opt->min_score, EVAL_LOW_SCORE) : EVAL_LOW_SCORE;
  mien_status st = mien_faces_create(opt, &def, err, sizeof err);
  if (st == MIEN_OK) st = mien_faces_create(&lo, &low, err, sizeof err);
  if (st != MIEN_OK) rc = cli_fail("mien-eval detect", st, err);
  eval_stats e = {0};
  double t0 = mien_now_ms();
  for (int i = 0; rc == EXIT_OK && i < s.n; i++)
    rc = eval_photo(def, low, root, &t, &s.p[i], &e, verbose);
  if (rc == EXIT_OK) {
    cJSON *o = cJSON_CreateObject();
    if (transform_arg) cJSON_AddStringToObject(o, "transform", transform_arg);
    cJSON_AddNumberToObject(o, "images", s.n);
    cJSON_AddNumberToObject(o, "faces", e.positives);
    cJSON_AddNumberToObject(o, "true_positives", e.tp);
    cJSON_AddNumberToObject(o, "false_positives", e.fp);
    cJSON_AddNumberToObject(o, "precision", ratio(e.tp, e.tp + e.fp));
    cJSON_AddNumberToObject(o, "recall", ratio(e.tp, e.positives));
    cJSON_AddNumberToObject(o, "ap",
                            round(1e4 * average_precision(e.curve, e.ncurve, e.positives)) / 1e4);
    cJSON_AddNumberToObject(o, "precision_40px", ratio(e.tp40, e.tp40 + e.fp40));
    cJSON_AddNumberToObject(o, "recall_40px_frontal_three_quarter",
                            ratio(e.big_found, e.big_faces));
    cJSON_AddItemToObject(o, "conditions", tag_json(e.tags, e.ntags, 1));
    cJSON_AddItemToObject(o, "false_positives_by_region", tag_json(e.fp_tags, e.nfp, 0));
    cJSON *qf = cJSON_AddObjectToObject(o, "quality_filter");
    for (int q = 0; q < 4; q++) {
      cJSON *l = cJSON_AddObjectToObject(qf, quality_levels[q]);
      cJSON_AddNumberToObject(l, "true_positives_kept", e.kept_tp[q]);
      cJSON_AddNumberToObject(l, "false_positives_kept", e.kept_fp[q]);
    }
    cJSON_AddNumberToObject(o, "seconds", round((mien_now_ms() - t0) / 100) / 10);
    cli_print_json(stdout, o);
  }
  free(e.curve);
  mien_faces_free(def);
  mien_faces_free(low);
  set_free(&s);
  return rc;
}
