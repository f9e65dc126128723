/* analyze.c - the loop a video job runs (video.h): sampled frames in, faces out, and for a face
 * search the tracks that give a person one Person.Index across the video.
 *
 * Tracking, per sampled frame (200 ms apart):
 *   1. each detected face is paired with the live track whose last box overlaps it most
 *      (IoU >= LINK_IOU, greedily by overlap);
 *   2. a pair is trusted when the face still looks like the track's last sighting: the
 *      normalised cross-correlation of 16x16 grey thumbnails is >= SAME_LOOK. A cut to
 *      another person in the same place fails that; the face is then embedded and stays with
 *      the track only if its embedding is close to the track's (cosine of Similarity
 *      LINK_SIMILARITY), else it starts a track of its own;
 *   3. a track unseen for TRACK_GAP_MS ends and is handed to the caller.
 * A track is embedded when it starts and then after 1, 2, 4, 8 s (at most MAX_EMBEDS times,
 * alignable faces only); the caller searches once per track with the mean of those
 * embeddings, which is steadier than any one frame's. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "face/detect.h"
#include "face/eval.h"
#include "util/util.h"
#include "video/video.h"

#define LINK_IOU 0.3f
#define SAME_LOOK 0.6f
#define LINK_SIMILARITY 50.0f
#define TRACK_GAP_MS 1000
#define MAX_EMBEDS 5
#define THUMB 16
#define THUMB_N (THUMB * THUMB)

typedef struct {
  int64_t index;
  mien_video_sighting *s;
  int n, cap;
  float thumb[THUMB_N];
  int64_t last_ts, last_embed_ts;
  int embeds;
  float sum[MIEN_EMBED_DIM];
} track;

typedef struct {
  const mien_video_analysis *a;
  mien_video_stats *stats;
  track **live;
  int nlive, cap;
  int64_t next_index;
  float link_cos;
} tracker;

static float box_iou(const mien_face *a, const mien_face *b) {
  float iw = fminf(a->x1, b->x1) - fmaxf(a->x0, b->x0);
  float ih = fminf(a->y1, b->y1) - fmaxf(a->y0, b->y0);
  if (iw <= 0 || ih <= 0) return 0;
  float inter = iw * ih;
  float u = (a->x1 - a->x0) * (a->y1 - a->y0) + (b->x1 - b->x0) * (b->y1 - b->y0) - inter;
  return u > 0 ? inter / u : 0;
}

/* A grey 16x16 thumbnail of the face's box, zero mean and unit norm (all zero when flat). */
static void thumbnail(const mien_image *img, const mien_face *f, float out[THUMB_N]) {
  int x0 = (int)floorf(f->x0), y0 = (int)floorf(f->y0);
  int w = (int)ceilf(f->x1) - x0, h = (int)ceilf(f->y1) - y0;
  memset(out, 0, THUMB_N * sizeof *out);
  if (w < 1 || h < 1 ||
      mien_image_resize_to_tensor(img, x0, y0, w, h, THUMB, THUMB, 0, 1, 1, 0, out) != MIEN_IMG_OK)
    return;
  float mean = 0, norm = 0;
  for (int i = 0; i < THUMB_N; i++) mean += out[i];
  mean /= THUMB_N;
  for (int i = 0; i < THUMB_N; i++) out[i] -= mean, norm += out[i] * out[i];
  norm = sqrtf(norm);
  for (int i = 0; i < THUMB_N; i++) out[i] = norm > 1e-3f ? out[i] / norm : 0;
}

static float dot(const float *a, const float *b, int n) {
  float s = 0;
  for (int i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

/* The track's mean embedding, normalised; 0 when it has none. */
static int track_mean(const track *t, float out[MIEN_EMBED_DIM]) {
  if (!t->embeds) return 0;
  float norm = sqrtf(dot(t->sum, t->sum, MIEN_EMBED_DIM));
  for (int i = 0; i < MIEN_EMBED_DIM; i++) out[i] = norm > 0 ? t->sum[i] / norm : 0;
  return norm > 0;
}

static mien_status embed(tracker *k, const mien_image *img, const mien_face *f,
                         float emb[MIEN_EMBED_DIM], char *err, size_t errlen) {
  double t0 = mien_now_ms();
  mien_status st = mien_faces_embed(k->a->faces, img, f, emb, err, errlen);
  k->stats->embed_ms += mien_now_ms() - t0;
  k->stats->embeddings++;
  return st;
}

static void add_embedding(track *t, const float *emb, int64_t ts) {
  for (int i = 0; i < MIEN_EMBED_DIM; i++) t->sum[i] += emb[i];
  t->embeds++;
  t->last_embed_ts = ts;
}

static mien_status add_sighting(track *t, int64_t ts, const mien_face *f, const float *thumb) {
  if (t->n == t->cap) {
    int cap = t->cap ? 2 * t->cap : 16;
    mien_video_sighting *s = realloc(t->s, (size_t)cap * sizeof *s);
    if (!s) return MIEN_ERR_NOMEM;
    t->s = s, t->cap = cap;
  }
  t->s[t->n++] = (mien_video_sighting){ts, *f};
  memcpy(t->thumb, thumb, sizeof t->thumb);
  t->last_ts = ts;
  return MIEN_OK;
}

/* Hands track i to the caller and drops it. */
static mien_status finish(tracker *k, int i, int w, int h, char *err, size_t errlen) {
  track *t = k->live[i];
  mien_video_track out = {.index = t->index, .s = t->s, .n = t->n};
  out.has_embedding = track_mean(t, out.embedding);
  double t0 = mien_now_ms();
  mien_status st = k->a->track(k->a->ctx, &out, w, h, err, errlen);
  k->stats->search_ms += mien_now_ms() - t0;
  k->stats->tracks++;
  free(t->s);
  free(t);
  k->live[i] = k->live[--k->nlive];
  return st;
}

static mien_status new_track(tracker *k, const mien_image *img, int64_t ts, const mien_face *f,
                             const float *thumb, const float *emb, char *err, size_t errlen) {
  if (k->nlive == k->cap) {
    int cap = k->cap ? 2 * k->cap : 16;
    track **l = realloc(k->live, (size_t)cap * sizeof *l);
    if (!l) return MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
    k->live = l, k->cap = cap;
  }
  track *t = calloc(1, sizeof *t);
  if (!t) return MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  t->index = k->next_index++;
  k->live[k->nlive++] = t;
  mien_status st = add_sighting(t, ts, f, thumb);
  float mine[MIEN_EMBED_DIM];
  if (st == MIEN_OK && !emb && f->has_landmarks)
    if ((st = embed(k, img, f, mine, err, errlen)) == MIEN_OK) emb = mine;
  if (st == MIEN_OK && emb) add_embedding(t, emb, ts);
  return st == MIEN_ERR_NOMEM ? MIEN_FAIL(err, errlen, st, "out of memory") : st;
}

/* Whether track t is due another embedding at ts: 1, 2, 4, 8 s after the previous ones. */
static int embed_due(const track *t, int64_t ts) {
  if (t->embeds >= MAX_EMBEDS) return 0;
  if (!t->embeds) return 1;
  return ts - t->last_embed_ts >= 1000LL << (t->embeds - 1);
}

/* One frame's faces into the tracks. */
static mien_status track_frame(tracker *k, const mien_image *img, int64_t ts, const mien_face *f,
                               int n, char *err, size_t errlen) {
  mien_status st = MIEN_OK;
  /* Tracks unseen for too long end first, so that nothing pairs with them. */
  for (int i = k->nlive - 1; st == MIEN_OK && i >= 0; i--)
    if (ts - k->live[i]->last_ts > TRACK_GAP_MS) st = finish(k, i, img->w, img->h, err, errlen);
  if (st != MIEN_OK || n == 0) return st;
  int nt = k->nlive;
  float *iou = malloc((size_t)n * (size_t)(nt ? nt : 1) * sizeof *iou);
  float(*thumbs)[THUMB_N] = malloc((size_t)n * sizeof *thumbs);
  int *pair = malloc((size_t)n * sizeof *pair),
      *taken = calloc((size_t)(nt ? nt : 1), sizeof *taken);
  if (!iou || !thumbs || !pair || !taken)
    st = MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  for (int i = 0; st == MIEN_OK && i < n; i++) {
    pair[i] = -1;
    thumbnail(img, &f[i], thumbs[i]);
    for (int j = 0; j < nt; j++)
      iou[i * nt + j] = box_iou(&f[i], &k->live[j]->s[k->live[j]->n - 1].face);
  }
  /* Greedy by overlap: the best remaining (face, track) pair each round. */
  for (int round = 0; st == MIEN_OK && round < n && round < nt; round++) {
    int bi = -1, bj = -1;
    float best = LINK_IOU;
    for (int i = 0; i < n; i++)
      for (int j = 0; pair[i] < 0 && j < nt; j++)
        if (!taken[j] && iou[i * nt + j] >= best) best = iou[i * nt + j], bi = i, bj = j;
    if (bi < 0) break;
    pair[bi] = bj, taken[bj] = 1;
  }
  for (int i = 0; st == MIEN_OK && i < n; i++) {
    float emb[MIEN_EMBED_DIM];
    const float *have = NULL;
    if (pair[i] >= 0) {
      track *t = k->live[pair[i]];
      int same = dot(thumbs[i], t->thumb, THUMB_N) >= SAME_LOOK;
      float mean[MIEN_EMBED_DIM];
      if (!same && f[i].has_landmarks && track_mean(t, mean)) {
        if ((st = embed(k, img, &f[i], emb, err, errlen)) != MIEN_OK) break;
        have = emb;
        same = dot(emb, mean, MIEN_EMBED_DIM) >= k->link_cos;
      } else {
        same = 1; /* no embedding to judge by: the overlap decides */
      }
      if (same) {
        if ((st = add_sighting(t, ts, &f[i], thumbs[i])) != MIEN_OK) {
          st = MIEN_FAIL(err, errlen, st, "out of memory");
          break;
        }
        if (!have && f[i].has_landmarks && embed_due(t, ts)) {
          if ((st = embed(k, img, &f[i], emb, err, errlen)) != MIEN_OK) break;
          have = emb;
        }
        if (have && t->embeds < MAX_EMBEDS) add_embedding(t, have, ts);
        continue;
      }
    }
    st = new_track(k, img, ts, &f[i], thumbs[i], have, err, errlen);
  }
  free(iou), free(thumbs), free(pair), free(taken);
  return st;
}

/* ---- reading ahead ---- */

/* A decoding thread fills a few frame slots while the caller detects in the one before: the
 * decoder and the networks each keep a core busy instead of taking turns. */
#define AHEAD 3

typedef struct {
  mien_video *v;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  mien_image slot[AHEAD];
  int64_t ts[AHEAD];
  int head, count; /* frames ready, from slot head on */
  int done, quit;  /* the reader reached the end (or failed); the caller wants no more */
  mien_video_status vst;
  char err[512];
} reader;

static void *read_ahead(void *arg) {
  reader *r = arg;
  pthread_mutex_lock(&r->mu);
  while (!r->done) {
    while (r->count == AHEAD && !r->quit) pthread_cond_wait(&r->cv, &r->mu);
    if (r->quit) break;
    int i = (r->head + r->count) % AHEAD, end = 0;
    pthread_mutex_unlock(&r->mu);
    /* Slot i is the reader's alone until it is counted in. */
    int64_t ts = 0;
    char err[512] = "";
    mien_video_status vst = mien_video_next(r->v, &r->slot[i], &ts, &end, err, sizeof err);
    pthread_mutex_lock(&r->mu);
    if (vst != MIEN_VIDEO_OK || end) {
      r->done = 1, r->vst = vst;
      memcpy(r->err, err, sizeof err);
    } else {
      r->ts[i] = ts;
      r->count++;
    }
    pthread_cond_broadcast(&r->cv);
  }
  pthread_mutex_unlock(&r->mu);
  return NULL;
}

/* The next frame (a slot the caller holds until it asks again), or NULL at the end. */
static const mien_image *next_frame(reader *r, int *held, int64_t *ts) {
  pthread_mutex_lock(&r->mu);
  if (*held) { /* the previous frame is done with */
    r->head = (r->head + 1) % AHEAD, r->count--;
    *held = 0;
    pthread_cond_broadcast(&r->cv);
  }
  while (!r->count && !r->done) pthread_cond_wait(&r->cv, &r->mu);
  const mien_image *img = NULL;
  if (r->count) {
    img = &r->slot[r->head];
    *ts = r->ts[r->head];
    *held = 1;
  }
  pthread_mutex_unlock(&r->mu);
  return img;
}

static void reader_stop(reader *r) {
  pthread_mutex_lock(&r->mu);
  r->quit = 1;
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
  pthread_join(r->thread, NULL);
  for (int i = 0; i < AHEAD; i++) mien_image_free(&r->slot[i]);
  pthread_mutex_destroy(&r->mu);
  pthread_cond_destroy(&r->cv);
}

mien_status mien_video_analyze(mien_video *v, const mien_video_analysis *a, mien_video_status *vst,
                               char *err, size_t errlen) {
  tracker k = {.a = a, .stats = (mien_video_stats *)mien_video_stats_get(v)};
  k.link_cos = mien_similarity_cosine(LINK_SIMILARITY);
  mien_status st = MIEN_OK;
  *vst = MIEN_VIDEO_OK;
  double last_progress = mien_now_ms();
  int w = 0, h = 0;
  const mien_video_meta *m = mien_video_metadata(v);
  int side = m->width > m->height ? m->width : m->height;
  int min_face = (int)((int64_t)MIEN_VIDEO_MIN_FACE * side / MIEN_MIN_FACE_REF_SIDE);
  mien_faces_set_min_face(a->faces,
                          min_face > MIEN_VIDEO_MIN_FACE ? min_face : MIEN_VIDEO_MIN_FACE);
  reader *r = calloc(1, sizeof *r);
  if (!r) return MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  r->v = v;
  pthread_mutex_init(&r->mu, NULL);
  pthread_cond_init(&r->cv, NULL);
  if (pthread_create(&r->thread, NULL, read_ahead, r) != 0) {
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
    return MIEN_FAIL(err, errlen, MIEN_ERR_INTERNAL, "cannot start the video reading thread");
  }
  int held = 0;
  const mien_image *img;
  int64_t ts;
  while ((img = next_frame(r, &held, &ts))) {
    w = img->w, h = img->h;
    mien_face *faces = NULL;
    int n = 0;
    double t0 = mien_now_ms();
    st = mien_faces_detect(a->faces, img, &faces, &n, err, errlen);
    k.stats->detect_ms += mien_now_ms() - t0;
    k.stats->faces += n;
    if (st == MIEN_OK && a->frame) st = a->frame(a->ctx, ts, faces, n, img->w, img->h, err, errlen);
    if (st == MIEN_OK && a->track) st = track_frame(&k, img, ts, faces, n, err, errlen);
    free(faces);
    if (st != MIEN_OK) break;
    if (a->progress && mien_now_ms() - last_progress > 1000 && m->duration_ms > 0) {
      last_progress = mien_now_ms();
      a->progress(a->ctx, ts < m->duration_ms ? (double)ts / m->duration_ms : 1.0);
    }
  }
  reader_stop(r);
  if (st == MIEN_OK && r->vst != MIEN_VIDEO_OK) {
    *vst = r->vst;
    mien_set_err(err, errlen, "%s", r->err);
  }
  free(r);
  mien_faces_set_min_face(a->faces, 0);
  /* The tracks still live at the end are finished too (not on failure: the job's results are
   * thrown away then). */
  while (k.nlive) {
    if (st == MIEN_OK && *vst == MIEN_VIDEO_OK)
      st = finish(&k, k.nlive - 1, w, h, err, errlen);
    else {
      track *t = k.live[--k.nlive];
      free(t->s);
      free(t);
    }
  }
  free(k.live);
  return st;
}
