/* eval.c - the measurements behind `mien eval`: verification statistics (AUC, LFW folds, TAR at a
 * FAR), embedding an image set on all cores, and all-pairs cosine histograms for calibrating the
 * Similarity mapping. Kept out of the CLI so tests can check the math on synthetic scores. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "face/detect.h"
#include "face/embed.h"
#include "face/eval.h"
#include "util/util.h"

/* ---- verification statistics ---- */

static int cmp_scored(const void *a, const void *b) {
  float x = ((const mien_scored *)a)->score, y = ((const mien_scored *)b)->score;
  return x < y ? -1 : x > y;
}

static int cmp_scored_desc(const void *a, const void *b) {
  return cmp_scored(b, a);
}

void mien_scored_sort(mien_scored *v, int n, int descending) {
  qsort(v, (size_t)n, sizeof *v, descending ? cmp_scored_desc : cmp_scored);
}

static int cmp_float_desc(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return x > y ? -1 : x < y;
}

/* The pairs (with fold given, all but those of skip_fold), sorted by score ascending; tag = 1 for
 * a same-person pair. */
static mien_scored *sorted_pairs(const float *score, const uint8_t *same, int n, const int *fold,
                                 int skip_fold, int *m) {
  mien_scored *p = malloc((size_t)(n ? n : 1) * sizeof *p);
  if (!p) return NULL;
  *m = 0;
  for (int i = 0; i < n; i++)
    if (!fold || fold[i] != skip_fold) p[(*m)++] = (mien_scored){score[i], same[i] != 0};
  mien_scored_sort(p, *m, 0);
  return p;
}

double mien_eval_auc(const float *score, const uint8_t *same, int n) {
  int m;
  mien_scored *p = sorted_pairs(score, same, n, NULL, 0, &m);
  if (!p) return NAN;
  /* Mann-Whitney: the mean rank of the same-person pairs, ties given their average rank. */
  double rank_sum = 0, npos = 0;
  for (int i = 0; i < m;) {
    int j = i;
    while (j < m && p[j].score == p[i].score) j++;
    double avg_rank = (i + 1 + j) / 2.0; /* ranks i+1 .. j */
    for (int k = i; k < j; k++)
      if (p[k].tag) rank_sum += avg_rank, npos++;
    i = j;
  }
  double nneg = m - npos;
  free(p);
  if (npos == 0 || nneg == 0) return NAN;
  return (rank_sum - npos * (npos + 1) / 2) / (npos * nneg);
}

/* Best threshold over sorted pairs: moving it past pair k turns k from "same" into "different". */
static float best_threshold_sorted(const mien_scored *p, int m, double *accuracy) {
  int correct = 0;
  for (int i = 0; i < m; i++) correct += p[i].tag;
  int best = correct;
  float thr = m ? p[0].score - 1e-6f : 0;
  for (int i = 0; i < m; i++) {
    correct += p[i].tag ? -1 : 1;
    if (i + 1 < m && p[i + 1].score == p[i].score) continue;
    if (correct > best) {
      best = correct;
      thr = i + 1 < m ? (p[i].score + p[i + 1].score) / 2 : p[i].score + 1e-6f;
    }
  }
  if (accuracy) *accuracy = m ? (double)best / m : 0;
  return thr;
}

float mien_eval_best_threshold(const float *score, const uint8_t *same, int n, double *accuracy) {
  int m;
  mien_scored *p = sorted_pairs(score, same, n, NULL, 0, &m);
  if (!p) return NAN;
  float thr = best_threshold_sorted(p, m, accuracy);
  free(p);
  return thr;
}

void mien_eval_folds(const float *score, const uint8_t *same, const int *fold, int n, int nfolds,
                     double *acc, float *thr) {
  for (int k = 0; k < nfolds; k++) {
    int m;
    mien_scored *p = sorted_pairs(score, same, n, fold, k, &m);
    thr[k] = p ? best_threshold_sorted(p, m, NULL) : NAN;
    free(p);
    int right = 0, total = 0;
    for (int i = 0; i < n; i++)
      if (fold[i] == k) total++, right += (score[i] >= thr[k]) == (same[i] != 0);
    acc[k] = total ? (double)right / total : NAN;
  }
}

double mien_eval_tar_at_far(const float *score, const uint8_t *same, int n, double far,
                            float *threshold) {
  float *imp = malloc((size_t)(n ? n : 1) * sizeof *imp);
  if (!imp) return NAN;
  int nimp = 0, ngen = 0, accepted = 0;
  for (int i = 0; i < n; i++)
    if (!same[i]) imp[nimp++] = score[i];
  qsort(imp, (size_t)nimp, sizeof *imp, cmp_float_desc);
  /* Accept score > t with t the (k+1)-th highest impostor score: at most k impostors pass. */
  int k = (int)floor(far * nimp);
  float t = nimp == 0 ? -INFINITY : k < nimp ? imp[k] : imp[nimp - 1] - 1e-6f;
  free(imp);
  for (int i = 0; i < n; i++)
    if (same[i]) ngen++, accepted += score[i] > t;
  if (threshold) *threshold = t;
  return ngen ? (double)accepted / ngen : NAN;
}

/* ---- synthetic transforms ---- */

mien_img_status mien_image_warped(const mien_image *img, const float M[6], int ow, int oh,
                                  mien_image *out) {
  *out = (mien_image){0};
  if (ow <= 0 || oh <= 0) return MIEN_IMG_BAD_ARGUMENT;
  const size_t n = (size_t)ow * oh;
  float *pl = malloc(3 * n * sizeof *pl);
  uint8_t *rgb = malloc(3 * n);
  mien_img_status st =
      pl && rgb ? mien_image_warp_affine_to_tensor(img, M, ow, oh, 0, 1, pl) : MIEN_IMG_NOMEM;
  if (st == MIEN_IMG_OK) {
    for (size_t i = 0; i < n; i++)
      for (int c = 0; c < 3; c++) {
        float v = pl[c * n + i];
        rgb[3 * i + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5f);
      }
    *out = (mien_image){ow, oh, rgb};
    rgb = NULL;
  }
  free(pl);
  free(rgb);
  return st;
}

void mien_rotation_matrix(int w, int h, float deg, float M[6]) {
  float a = deg * (float)M_PI / 180, c = cosf(a), s = sinf(a);
  float cx = 0.5f * (w - 1), cy = 0.5f * (h - 1);
  /* output (x, y) -> source: R(-a) about the centre */
  M[0] = c, M[1] = s, M[2] = cx - c * cx - s * cy;
  M[3] = -s, M[4] = c, M[5] = cy + s * cx - c * cy;
}

/* ---- embedding an image set ---- */

typedef struct {
  const char *const *paths;
  const char *detector;
  float rotate;
  int n, flip;
  float *emb, *yaw;
  uint8_t *fallback;
  atomic_int next;
  atomic_int failed; /* 0, or 1 + the index of the image that failed first */
  pthread_mutex_t lock;
  mien_status status;
  char err[512];
} embed_job;

/* The detected face whose box centre is nearest the image centre. */
static const mien_face *central_face(const mien_face *faces, int n, const mien_image *img) {
  const mien_face *best = NULL;
  double best_d = INFINITY;
  for (int i = 0; i < n; i++) {
    if (!faces[i].has_landmarks) continue;
    double dx = (faces[i].x0 + faces[i].x1) / 2 - img->w / 2.0;
    double dy = (faces[i].y0 + faces[i].y1) / 2 - img->h / 2.0;
    if (dx * dx + dy * dy < best_d) best_d = dx * dx + dy * dy, best = &faces[i];
  }
  return best;
}

static mien_status embed_one(mien_faces *f, const char *path, int flip, float rotate, float *emb,
                             float *yaw, uint8_t *fallback, char *err, size_t errlen) {
  size_t len;
  uint8_t *bytes = mien_read_file(path, &len);
  if (!bytes) {
    snprintf(err, errlen, "cannot read %s", path);
    return MIEN_ERR_IO;
  }
  mien_image img;
  mien_status st = mien_decode_image(bytes, len, &img, err, errlen);
  free(bytes);
  if (st == MIEN_OK && rotate != 0) {
    float M[6];
    mien_image turned;
    mien_rotation_matrix(img.w, img.h, rotate, M);
    st = mien_status_from_image(mien_image_warped(&img, M, img.w, img.h, &turned));
    mien_image_free(&img);
    img = turned;
  }
  if (st != MIEN_OK) return st;
  mien_face *faces = NULL;
  int nf = 0;
  st = mien_faces_detect(f, &img, &faces, &nf, err, errlen);
  const mien_face *face = st == MIEN_OK ? central_face(faces, nf, &img) : NULL;
  mien_face centre;
  *fallback = st == MIEN_OK && !face;
  if (*fallback) {
    centre = (mien_face){
        .x0 = img.w / 4.0f, .y0 = img.h / 4.0f, .x1 = img.w * 0.75f, .y1 = img.h * 0.75f};
    st = mien_face_landmarks(f, &img, &centre);
    if (st == MIEN_OK) mien_face_pose(&centre);
    face = &centre;
  }
  if (st == MIEN_OK && yaw) *yaw = face->yaw;
  if (st == MIEN_OK) st = mien_faces_embed_ex(f, &img, face, flip, emb, err, errlen);
  free(faces);
  mien_image_free(&img);
  return st;
}

static void *embed_worker(void *arg) {
  embed_job *j = arg;
  mien_faces_options opt = {.threads = 1, .detector = j->detector};
  mien_faces *f = NULL;
  char err[512] = "";
  mien_status st = mien_faces_create(&opt, &f, err, sizeof err);
  for (int i;
       st == MIEN_OK && !atomic_load(&j->failed) && (i = atomic_fetch_add(&j->next, 1)) < j->n;) {
    st = embed_one(f, j->paths[i], j->flip, j->rotate, j->emb + (size_t)i * MIEN_EMBED_DIM,
                   j->yaw ? &j->yaw[i] : NULL, &j->fallback[i], err, sizeof err);
    if (st != MIEN_OK && err[0] == 0)
      snprintf(err, sizeof err, "%s: %s", j->paths[i], mien_status_name(st));
  }
  if (st != MIEN_OK) {
    pthread_mutex_lock(&j->lock);
    if (j->status == MIEN_OK) j->status = st, snprintf(j->err, sizeof j->err, "%s", err);
    atomic_store(&j->failed, 1);
    pthread_mutex_unlock(&j->lock);
  }
  mien_faces_free(f);
  return NULL;
}

mien_status mien_eval_embed_images(const char *const *paths, int n, int threads, int flip,
                                   const char *detector, float rotate_deg, float *emb, float *yaw,
                                   uint8_t *fallback, char *err, size_t errlen) {
  if (threads <= 0) threads = mien_cpu_count();
  if (threads > n) threads = n > 0 ? n : 1;
  embed_job j = {.paths = paths,
                 .detector = detector,
                 .rotate = rotate_deg,
                 .n = n,
                 .flip = flip,
                 .emb = emb,
                 .yaw = yaw,
                 .fallback = fallback};
  pthread_mutex_init(&j.lock, NULL);
  pthread_t *tid = malloc((size_t)threads * sizeof *tid);
  if (!tid) return MIEN_ERR_NOMEM;
  int started = 0;
  for (; started < threads; started++)
    if (pthread_create(&tid[started], NULL, embed_worker, &j)) break;
  if (started == 0) embed_worker(&j);
  for (int i = 0; i < started; i++) pthread_join(tid[i], NULL);
  free(tid);
  pthread_mutex_destroy(&j.lock);
  if (j.status != MIEN_OK && err && errlen) snprintf(err, errlen, "%s", j.err);
  return j.status;
}

/* ---- all-pairs histograms ---- */

typedef struct {
  const float *emb;
  const int *identity;
  int n, step, first;
  pthread_t tid;
  int running;
  uint64_t imp[MIEN_HIST_BINS], gen[MIEN_HIST_BINS];
} hist_job;

static int hist_bin(float c) {
  int b = (int)floorf((c + 1) * 10000);
  return b < 0 ? 0 : b >= MIEN_HIST_BINS ? MIEN_HIST_BINS - 1 : b;
}

static void *hist_worker(void *arg) {
  hist_job *h = arg;
  /* Rows are dealt round-robin so each worker gets a fair share of the triangle. */
  for (int i = h->first; i < h->n; i += h->step) {
    const float *a = h->emb + (size_t)i * MIEN_EMBED_DIM;
    for (int k = i + 1; k < h->n; k++) {
      int b = hist_bin(mien_cosine(a, h->emb + (size_t)k * MIEN_EMBED_DIM));
      (h->identity[i] == h->identity[k] ? h->gen : h->imp)[b]++;
    }
  }
  return NULL;
}

mien_status mien_eval_pair_histograms(const float *emb, const int *identity, int n, int threads,
                                      uint64_t *imp, uint64_t *gen) {
  if (threads <= 0) threads = mien_cpu_count();
  hist_job *jobs = calloc((size_t)threads, sizeof *jobs);
  if (!jobs) return MIEN_ERR_NOMEM;
  for (int t = 0; t < threads; t++) {
    hist_job *h = &jobs[t];
    h->emb = emb, h->identity = identity, h->n = n, h->step = threads, h->first = t;
    h->running = !pthread_create(&h->tid, NULL, hist_worker, h);
  }
  for (int t = 0; t < threads; t++) {
    if (jobs[t].running)
      pthread_join(jobs[t].tid, NULL);
    else
      hist_worker(&jobs[t]); /* a thread that could not start: its rows are done here */
    for (int b = 0; b < MIEN_HIST_BINS; b++) imp[b] += jobs[t].imp[b], gen[b] += jobs[t].gen[b];
  }
  free(jobs);
  return MIEN_OK;
}

double mien_hist_tail(const uint64_t *h, float cosine) {
  uint64_t total = 0, tail = 0;
  int from = hist_bin(cosine);
  for (int b = 0; b < MIEN_HIST_BINS; b++) total += h[b], tail += b >= from ? h[b] : 0;
  return total ? (double)tail / (double)total : 0;
}

float mien_hist_threshold(const uint64_t *h, double frac) {
  uint64_t total = 0, tail = 0;
  for (int b = 0; b < MIEN_HIST_BINS; b++) total += h[b];
  int b = MIEN_HIST_BINS;
  while (b > 0 && (double)(tail + h[b - 1]) <= frac * (double)total) tail += h[--b];
  return b / 10000.0f - 1;
}
