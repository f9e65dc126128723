/* service.c - mien_service, the public face of the operations layer (include/mien.h): one
 * handle that owns the store, a fixed set of workers (each a face pipeline: models, plans,
 * workspace) and the model identity, and runs Rekognition's operations by name or the typed
 * detect/embed/compare/admin calls on them.
 *
 * Why workers rather than a pipeline per call: a pipeline costs its models' weights and plans
 * (tens of MB, a few hundred ms to make), so they are made once, on first need, and lent to one
 * call at a time; `workers` bounds memory and the cores used, and a call that cannot borrow one
 * within queue_timeout_ms gets ThrottlingException, which every AWS SDK retries.
 *
 * The typed calls run the same functions as the operations (mien_faces_find, mien_faces_embed,
 * mien_similarity), so a program sees the numbers DetectFaces and CompareFaces report. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/ops.h"
#include "api/service_internal.h"
#include "face/detect.h"
#include "util/util.h"

#define MIEN_VIDEO_RETENTION_DAYS 7 /* finished video jobs kept (video_retention_s's default) */

void mien_free(void *p) {
  free(p);
}

int mien_default_store(char *out, size_t outlen) {
  return mien_store_default_dir(out, outlen);
}

void mien_service_config_init(mien_service_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
}

const char *mien_service_operation(int i) {
  for (int k = 0; mien_ops[k].name; k++)
    if (k == i) return mien_ops[k].name;
  return NULL;
}

const char *mien_service_model_version(mien_service *svc) {
  /* Hashing the model files costs time a call that never needs it should not pay; and it is
   * done outside the mutex, which hands out workers (the hash is the process's, made once). */
  char v[sizeof svc->model_version];
  if (op_model_version(v, sizeof v, NULL, 0) != MIEN_OK) v[0] = '\0';
  pthread_mutex_lock(&svc->mu);
  if (!svc->model_version[0]) memcpy(svc->model_version, v, sizeof v);
  pthread_mutex_unlock(&svc->mu);
  return svc->model_version;
}

void service_give_back(mien_service *svc, int w) {
  pthread_mutex_lock(&svc->mu);
  service_waiter *h = svc->head;
  if (h) { /* straight to the longest waiter: a call arriving meanwhile cannot overtake it */
    svc->head = h->next;
    if (!svc->head) svc->tail = NULL;
    h->got = w;
    pthread_cond_signal(&h->cv);
  } else {
    svc->busy[w] = 0;
  }
  pthread_mutex_unlock(&svc->mu);
}

/* A free worker, waiting behind earlier arrivals at most queue_timeout_ms; -1 when none came. */
static int take_worker(mien_service *svc) {
  pthread_mutex_lock(&svc->mu);
  int i = -1;
  for (int k = 0; k < svc->nworkers && i < 0 && !svc->head; k++)
    if (!svc->busy[k]) i = k;
  if (i >= 0) {
    svc->busy[i] = 1;
    pthread_mutex_unlock(&svc->mu);
    return i;
  }
  service_waiter me = {.got = -1};
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&me.cv, &ca);
  pthread_condattr_destroy(&ca);
  if (svc->tail)
    svc->tail->next = &me;
  else
    svc->head = &me;
  svc->tail = &me;
  long ms = svc->queue_timeout_ms;
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += ms / 1000;
  until.tv_nsec += (ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
  while (me.got < 0)
    if (ms <= 0)
      pthread_cond_wait(&me.cv, &svc->mu);
    else if (pthread_cond_timedwait(&me.cv, &svc->mu, &until) == ETIMEDOUT)
      break;
  if (me.got < 0) { /* timed out: leave the queue */
    service_waiter **pp = &svc->head, *prev = NULL;
    while (*pp != &me) prev = *pp, pp = &(*pp)->next;
    *pp = me.next;
    if (svc->tail == &me) svc->tail = prev;
  }
  pthread_mutex_unlock(&svc->mu);
  pthread_cond_destroy(&me.cv);
  return me.got;
}

mien_status service_borrow(mien_service *svc, int need_faces, int *w, char *err, size_t errlen) {
  int i = take_worker(svc);
  if (i < 0)
    return MIEN_FAIL(err, errlen, MIEN_ERR_THROTTLED,
                     "Rate exceeded: all %d workers stayed busy for %d ms; retry later",
                     svc->nworkers, svc->queue_timeout_ms);
  mien_status st = MIEN_OK;
  if (need_faces && !svc->faces[i])
    st = mien_faces_create(&svc->face_opt, &svc->faces[i], err, errlen);
  if (st != MIEN_OK) {
    service_give_back(svc, i);
    return st;
  }
  *w = i;
  return MIEN_OK;
}

void service_log(mien_service *svc, const char *json) {
  if (svc->log)
    svc->log(svc->log_ctx, json);
  else
    fprintf(stderr, "%s\n", json);
}

void mien_service_close(mien_service *svc) {
  if (!svc) return;
  service_jobs_stop(svc);
  for (int i = 0; i < svc->nworkers; i++) mien_faces_free(svc->faces[i]);
  free(svc->faces);
  free(svc->busy);
  free(svc->buckets);
  mien_store_close(svc->store);
  pthread_mutex_destroy(&svc->mu);
  pthread_mutex_destroy(&svc->jobs_mu);
  pthread_cond_destroy(&svc->jobs_cv);
  free(svc);
}

mien_status mien_service_open(const mien_service_config *cfg, mien_service **out, char *err,
                              size_t errlen) {
  *out = NULL;
  mien_service *svc = calloc(1, sizeof *svc);
  if (!svc) return MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  pthread_mutex_init(&svc->mu, NULL);
  pthread_mutex_init(&svc->jobs_mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&svc->jobs_cv, &ca);
  pthread_condattr_destroy(&ca);
  svc->log = cfg->log;
  svc->log_ctx = cfg->log_ctx;
  svc->video_retention_s =
      cfg->video_retention_s > 0 ? cfg->video_retention_s : MIEN_VIDEO_RETENTION_DAYS * 86400.0;
  svc->nworkers = cfg->workers > 0 ? cfg->workers : 1;
  svc->queue_timeout_ms = cfg->queue_timeout_ms;
  int threads = cfg->threads > 0 ? cfg->threads : mien_cpu_count() / svc->nworkers;
  svc->face_opt = (mien_faces_options){.threads = threads > 0 ? threads : 1,
                                       .min_face = cfg->min_face,
                                       .min_score = cfg->min_score,
                                       .detector = cfg->detector};
  mien_image_limits_default(&svc->limits);
  if (cfg->max_image_bytes) svc->limits.max_bytes = cfg->max_image_bytes;
  if (cfg->max_image_side) svc->limits.max_side = cfg->max_image_side;
  if (cfg->max_image_pixels) svc->limits.max_pixels = cfg->max_image_pixels;
  snprintf(svc->region, sizeof svc->region, "%s", cfg->region ? cfg->region : MIEN_DEFAULT_REGION);
  snprintf(svc->principal, sizeof svc->principal, "%s", cfg->principal ? cfg->principal : "local");
  svc->faces = calloc((size_t)svc->nworkers, sizeof *svc->faces);
  svc->busy = calloc((size_t)svc->nworkers, sizeof *svc->busy);
  svc->buckets = calloc(1, sizeof *svc->buckets);
  mien_status st = svc->faces && svc->busy && svc->buckets
                       ? MIEN_OK
                       : MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  for (int i = 0; st == MIEN_OK && i < cfg->nbuckets; i++)
    st = mien_buckets_add(svc->buckets, cfg->buckets[i], err, errlen);
  /* The model identity is hashed once per process, so a model directory is the process's. */
  if (st == MIEN_OK && cfg->models) mien_models_dir_set(cfg->models);
  if (st == MIEN_OK && cfg->store)
    snprintf(svc->store_location, sizeof svc->store_location, "%s", cfg->store);
  else if (st == MIEN_OK && !cfg->no_store &&
           mien_default_store(svc->store_location, sizeof svc->store_location) != 0)
    st = MIEN_FAIL(err, errlen, MIEN_ERR_IO, "no store location: set store or MIEN_DATA");
  if (st == MIEN_OK && !cfg->no_store) {
    /* The store parses its location: a directory, sqlite:DIR or postgresql://... */
    const char *key = cfg->template_key ? cfg->template_key : getenv(MIEN_TEMPLATE_KEY_ENV);
    st = mien_store_open_key(svc->store_location, key, &svc->store, err, errlen);
    if (st == MIEN_OK) svc->purged_unreported = mien_store_purged_at_open(svc->store);
  }
  if (st == MIEN_OK && cfg->video_jobs > 0 && !cfg->no_store)
    st = service_jobs_start(svc, cfg->video_jobs, err, errlen);
  if (st != MIEN_OK) {
    mien_service_close(svc);
    return st;
  }
  *out = svc;
  return MIEN_OK;
}

mien_status mien_service_warm(mien_service *svc, char *err, size_t errlen) {
  mien_status st = MIEN_OK;
  pthread_mutex_lock(&svc->mu);
  /* A busy worker makes its own pipeline if it needs one; an idle one is held while made. */
  for (int i = 0; st == MIEN_OK && i < svc->nworkers; i++) {
    if (svc->busy[i] || svc->faces[i]) continue;
    svc->busy[i] = 1;
    pthread_mutex_unlock(&svc->mu);
    st = mien_faces_create(&svc->face_opt, &svc->faces[i], err, errlen);
    service_give_back(svc, i);
    pthread_mutex_lock(&svc->mu);
  }
  pthread_mutex_unlock(&svc->mu);
  return st;
}

/* The operations and calls that need no store (what a service opened with no_store runs). */
static mien_status need_store(const mien_service *svc, const char *what, char *err, size_t errlen) {
  if (svc->store || !strcmp(what, "DetectFaces") || !strcmp(what, "CompareFaces")) return MIEN_OK;
  return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                   "%s needs a store; this service was opened with no_store", what);
}

mien_api service_call_api(mien_service *svc, int w, const mien_call_context *ctx) {
  return (mien_api){.store = svc->store,
                    .faces = svc->faces[w],
                    .image = ctx ? ctx->image : NULL,
                    .image_len = ctx ? ctx->image_len : 0,
                    .face_options = &svc->face_opt,
                    .limits = &svc->limits,
                    .buckets = svc->buckets,
                    .principal = ctx && ctx->principal ? ctx->principal : svc->principal,
                    .region = svc->region,
                    .job_queued = svc->njob_threads ? service_jobs_notify : NULL,
                    .job_ctx = svc};
}

mien_status mien_service_call_with(mien_service *svc, const mien_call_context *ctx, const char *op,
                                   const char *json, size_t len, char **json_out, char *err,
                                   size_t errlen) {
  char msg[1024] = "";
  *json_out = NULL;
  const mien_op *o = op ? mien_op_find(op) : NULL;
  cJSON *req = NULL, *resp = NULL;
  mien_status st = o ? need_store(svc, op, msg, sizeof msg)
                     : MIEN_FAIL(msg, sizeof msg, MIEN_ERR_INVALID_PARAMETER,
                                 "unknown operation '%.64s'", op ? op : "(null)");
  /* The JSON is parsed on a worker: a parsed body (base64 images included) takes a few times
   * its bytes, and many big requests waiting at once must not all hold theirs. */
  int w;
  if (st == MIEN_OK && (st = service_borrow(svc, 0, &w, msg, sizeof msg)) == MIEN_OK) {
    st = mien_op_parse_request(json, len, &req, msg, sizeof msg);
    if (st == MIEN_OK) {
      mien_api api = service_call_api(svc, w, ctx);
      st = o->run(&api, req, &resp, msg, sizeof msg);
      if (api.faces_owned) svc->faces[w] = api.faces; /* made by the operation: the worker's now */
    }
    service_give_back(svc, w);
  }
  cJSON_Delete(req);
  if (st != MIEN_OK) resp = mien_error_json(st, msg);
  *json_out = resp ? cJSON_PrintUnformatted(resp) : NULL;
  cJSON_Delete(resp);
  if (st == MIEN_OK && !*json_out) st = MIEN_FAIL(msg, sizeof msg, MIEN_ERR_NOMEM, "out of memory");
  if (st != MIEN_OK) mien_set_err(err, errlen, "%s", msg);
  return st;
}

mien_status mien_service_call(mien_service *svc, const char *op, const char *json, size_t len,
                              char **json_out, char *err, size_t errlen) {
  return mien_service_call_with(svc, NULL, op, json, len, json_out, err, errlen);
}

/* ---- typed calls ---- */

/* A face as mien.h describes it: pixels of a w x h image to ratios. */
static void to_detail(const mien_face *f, int w, int h, mien_face_detail *d) {
  *d = (mien_face_detail){.left = f->x0 / (float)w,
                          .top = f->y0 / (float)h,
                          .width = (f->x1 - f->x0) / (float)w,
                          .height = (f->y1 - f->y0) / (float)h,
                          .confidence = 100.0f * f->score,
                          .has_landmarks = f->has_landmarks};
  if (!f->has_landmarks) return;
  for (int k = 0; k < 68; k++)
    d->landmarks[k] = (mien_point){f->lm68[k].x / (float)w, f->lm68[k].y / (float)h};
  d->roll = f->roll, d->yaw = f->yaw, d->pitch = f->pitch;
  d->brightness = f->brightness, d->sharpness = f->sharpness;
}

/* The faces as mien_face_detail (malloc'ed into *out). */
static mien_status details(const mien_face *faces, int n, int w, int h, mien_face_detail **out,
                           char *err, size_t errlen) {
  *out = malloc((size_t)(n ? n : 1) * sizeof **out);
  if (!*out) return MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  for (int i = 0; i < n; i++) to_detail(&faces[i], w, h, &(*out)[i]);
  return MIEN_OK;
}

/* Detects the faces of encoded bytes on worker w; full_res as mien_faces_find. */
static mien_status find(mien_service *svc, int w, const void *bytes, size_t len, int full_res,
                        mien_image *img, mien_image_info *info, mien_face **faces, int *n,
                        char *err, size_t errlen) {
  if (!bytes && len)
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER, "no image bytes given");
  return mien_faces_find(svc->faces[w], bytes, len, &svc->limits, full_res, img, info, faces, n,
                         err, errlen);
}

mien_status mien_service_detect(mien_service *svc, const void *bytes, size_t len,
                                mien_face_detail **out, int *n, char *err, size_t errlen) {
  *out = NULL, *n = 0;
  int w;
  mien_status st = service_borrow(svc, 1, &w, err, errlen);
  if (st != MIEN_OK) return st;
  mien_image img;
  mien_image_info info;
  mien_face *faces = NULL;
  st = find(svc, w, bytes, len, 0, &img, &info, &faces, n, err, errlen);
  service_give_back(svc, w);
  if (st != MIEN_OK) return st;
  mien_image_free(&img);
  st = details(faces, *n, info.orig_w, info.orig_h, out, err, errlen);
  free(faces);
  if (st != MIEN_OK) *n = 0;
  return st;
}

mien_status mien_service_detect_rgb(mien_service *svc, const uint8_t *rgb, int w, int h,
                                    size_t stride, mien_face_detail **out, int *n, char *err,
                                    size_t errlen) {
  *out = NULL, *n = 0;
  if (!rgb || w <= 0 || h <= 0 || stride < 3 * (size_t)w)
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                     "an RGB image needs pixels, sides > 0 and a stride of at least 3 * width");
  mien_status st = mien_status_from_image(
      mien_img_check_size((uint64_t)w, (uint64_t)h, &svc->limits, "RGB", err, errlen));
  if (st != MIEN_OK) return st;
  mien_image img = {w, h, malloc((size_t)w * h * 3)};
  if (!img.rgb) return MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  for (int y = 0; y < h; y++) memcpy(img.rgb + (size_t)y * w * 3, rgb + y * stride, (size_t)w * 3);
  int wk;
  mien_face *faces = NULL;
  st = service_borrow(svc, 1, &wk, err, errlen);
  if (st == MIEN_OK) {
    st = mien_faces_detect(svc->faces[wk], &img, &faces, n, err, errlen);
    service_give_back(svc, wk);
  }
  mien_image_free(&img);
  if (st == MIEN_OK) st = details(faces, *n, w, h, out, err, errlen);
  free(faces);
  if (st != MIEN_OK) *n = 0;
  return st;
}

/* The faces of bytes on worker w (full resolution) with the embedding of each that can be
 * aligned (aligned[i]); emb holds n * MIEN_EMBED_DIM floats. */
static mien_status find_embed(mien_service *svc, int w, const void *bytes, size_t len,
                              mien_face **faces, int *n, int *img_w, int *img_h, float **emb,
                              char *err, size_t errlen) {
  mien_image img;
  mien_image_info info;
  *emb = NULL;
  mien_status st = find(svc, w, bytes, len, 1, &img, &info, faces, n, err, errlen);
  if (st != MIEN_OK) return st;
  *img_w = img.w, *img_h = img.h;
  *emb = calloc((size_t)(*n ? *n : 1) * MIEN_EMBED_DIM, sizeof **emb);
  if (!*emb) st = MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  for (int i = 0; st == MIEN_OK && i < *n; i++)
    if ((*faces)[i].has_landmarks)
      st = mien_faces_embed(svc->faces[w], &img, &(*faces)[i], *emb + (size_t)i * MIEN_EMBED_DIM,
                            err, errlen);
  mien_image_free(&img);
  if (st != MIEN_OK) {
    free(*faces), free(*emb);
    *faces = NULL, *emb = NULL, *n = 0;
  }
  return st;
}

mien_status mien_service_embed(mien_service *svc, const void *bytes, size_t len,
                               mien_face_detail **out, float **embeddings, int *n, char *err,
                               size_t errlen) {
  *out = NULL, *embeddings = NULL, *n = 0;
  int w, iw, ih;
  mien_face *faces;
  mien_status st = service_borrow(svc, 1, &w, err, errlen);
  if (st != MIEN_OK) return st;
  st = find_embed(svc, w, bytes, len, &faces, n, &iw, &ih, embeddings, err, errlen);
  service_give_back(svc, w);
  if (st != MIEN_OK) return st;
  st = details(faces, *n, iw, ih, out, err, errlen);
  free(faces);
  if (st != MIEN_OK) {
    free(*embeddings);
    *embeddings = NULL, *n = 0;
  }
  return st;
}

float mien_embedding_similarity(const float *a, const float *b) {
  return mien_similarity(mien_cosine(a, b));
}

mien_status mien_service_compare(mien_service *svc, const void *source, size_t source_len,
                                 const void *target, size_t target_len,
                                 mien_face_detail *source_face, mien_face_match **matches, int *n,
                                 char *err, size_t errlen) {
  *matches = NULL, *n = 0;
  int w, sn = 0, tn = 0, sw, sh, tw, th;
  mien_face *sf = NULL, *tf = NULL;
  float *semb = NULL, *temb = NULL;
  mien_status st = service_borrow(svc, 1, &w, err, errlen);
  if (st != MIEN_OK) return st;
  st = find_embed(svc, w, source, source_len, &sf, &sn, &sw, &sh, &semb, err, errlen);
  int si = 0; /* as CompareFaces: the largest face that can be aligned */
  while (st == MIEN_OK && si < sn && !sf[si].has_landmarks) si++;
  if (st == MIEN_OK && si == sn)
    st = MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                   "There are no faces in the source image that can be compared");
  if (st == MIEN_OK)
    st = find_embed(svc, w, target, target_len, &tf, &tn, &tw, &th, &temb, err, errlen);
  service_give_back(svc, w);
  if (st == MIEN_OK && !(*matches = malloc((size_t)(tn ? tn : 1) * sizeof **matches)))
    st = MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  if (st == MIEN_OK) {
    to_detail(&sf[si], sw, sh, source_face);
    const float *s = semb + (size_t)si * MIEN_EMBED_DIM;
    for (int i = 0; i < tn; i++) {
      to_detail(&tf[i], tw, th, &(*matches)[i].face);
      /* A face that cannot be aligned has no embedding: similarity 0, as unmatched. */
      (*matches)[i].similarity =
          tf[i].has_landmarks ? mien_embedding_similarity(s, temb + (size_t)i * MIEN_EMBED_DIM)
                              : 0.0f;
    }
    *n = tn;
  }
  free(sf), free(tf), free(semb), free(temb);
  return st;
}

/* ---- administration ---- */

/* Whether the first record it is given hashes to want (the record a --head names). */
typedef struct {
  const char *want;
  int found, same;
} head_check;

static int check_head(void *ctx, const char *record) {
  head_check *h = ctx;
  uint8_t d[32];
  char hex[65];
  mien_sha256(record, strlen(record), d);
  for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
  h->found = 1;
  h->same = !strcmp(hex, h->want);
  return 1;
}

/* The audit calls read the log of the store's location, opened or not. */
static mien_status need_location(const mien_service *svc, char *err, size_t errlen) {
  return svc->store_location[0]
             ? MIEN_OK
             : MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                         "the audit log needs a store location; this service has none");
}

mien_status mien_service_audit_verify(mien_service *svc, int64_t head_seq, const char *head_hash,
                                      mien_audit_report *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  mien_audit_check c;
  mien_status st = need_location(svc, err, errlen);
  if (st == MIEN_OK) st = mien_audit_verify(svc->store_location, &c, err, errlen);
  if (st != MIEN_OK) return st;
  head_check h = {.want = head_hash};
  if (head_seq > 0 && head_hash && !c.bad_seq) {
    st = mien_audit_export(svc->store_location, head_seq - 1, check_head, &h, err, errlen);
    if (st != MIEN_OK) return st;
    if (!h.found || !h.same) {
      c.bad_seq = head_seq;
      snprintf(c.reason, sizeof c.reason,
               h.found ? "record %lld is not the one --head names: the log was rewritten"
                       : "record %lld of --head is gone: the log was cut short",
               (long long)head_seq);
    }
  }
  out->valid = !c.bad_seq;
  out->records = c.records;
  snprintf(out->head, sizeof out->head, "%s", c.head);
  out->first_bad_record = c.bad_seq;
  snprintf(out->reason, sizeof out->reason, "%s", c.reason);
  out->erasure_pending = c.erasure_pending;
  return MIEN_OK;
}

mien_status mien_service_audit_export(mien_service *svc, int64_t after,
                                      int (*emit)(void *ctx, const char *record), void *ctx,
                                      char *err, size_t errlen) {
  mien_status need = need_location(svc, err, errlen);
  if (need != MIEN_OK) return need;
  return mien_audit_export(svc->store_location, after, emit, ctx, err, errlen);
}

mien_status mien_service_purge(mien_service *svc, int64_t *purged, char *err, size_t errlen) {
  mien_status need = need_store(svc, "purge", err, errlen);
  if (need != MIEN_OK) return need;
  int64_t n = 0;
  mien_status st = mien_store_purge_expired(svc->store, &n, err, errlen);
  pthread_mutex_lock(&svc->mu);
  n += svc->purged_unreported;
  svc->purged_unreported = 0;
  pthread_mutex_unlock(&svc->mu);
  if (purged) *purged = n;
  return st;
}

mien_status mien_service_maintain(mien_service *svc, int purge, mien_maintenance_report *out,
                                  char *err, size_t errlen) {
  mien_maintenance_report r = {0};
  mien_status st = need_store(svc, "maintenance", err, errlen);
  if (st == MIEN_OK) r.erasure_pending = mien_store_retry_erasure(svc->store);
  if (st == MIEN_OK && purge) st = mien_service_purge(svc, &r.faces_purged, err, errlen);
  if (st == MIEN_OK && purge)
    st =
        mien_store_job_purge(svc->store, svc->video_retention_s, &r.video_jobs_purged, err, errlen);
  if (out) *out = r;
  return st;
}

mien_status mien_service_health(mien_service *svc, mien_health *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  mien_status st = need_store(svc, "a health check", err, errlen);
  if (st != MIEN_OK) return st;
  mien_store_health_info h;
  st = mien_store_health(svc->store, &h, err, errlen);
  snprintf(out->backend, sizeof out->backend, "%s", h.backend ? h.backend : "");
  out->reachable = h.reachable;
  out->following = h.following;
  out->feed_connected = h.feed_connected;
  out->last_change = h.last_change;
  out->lag_s = h.lag_s;
  return st;
}

mien_status mien_service_rotate_template_key(mien_service *svc, const char *new_key_file,
                                             int64_t *count, char *err, size_t errlen) {
  mien_status need = need_store(svc, "key rotation", err, errlen);
  if (need != MIEN_OK) return need;
  int64_t n = 0;
  mien_status st =
      mien_store_rotate_template_key(svc->store, svc->principal, new_key_file, &n, err, errlen);
  if (count) *count = n;
  return st;
}

mien_status mien_template_key_create(const char *path, char *err, size_t errlen) {
  return mien_template_key_new(path, err, errlen);
}
