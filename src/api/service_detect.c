/* service_detect.c - what `mien detect` offers beyond DetectFaces, on the public service: the
 * faces drawn on the image (--annotate) and the detection's timing (--runs, bench/detect.sh).
 * Both run mien_faces_find on a borrowed worker, the one detection every operation runs, so the
 * faces drawn are DetectFaces' faces and the time measured is what a DetectFaces request costs
 * (decoding included, from the encoded bytes, as a server receives them). */
#include <stdlib.h>

#include "api/api.h"
#include "api/service_internal.h"
#include "face/detect.h"
#include "util/util.h"

/* Decodes and detects bytes on worker w, as DetectFaces does; full_res keeps the full image. */
static mien_status find(mien_service *svc, int w, const void *bytes, size_t len, int full_res,
                        mien_image *img, mien_image_info *info, mien_face **faces, int *n,
                        char *err, size_t errlen) {
  if (!bytes) return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER, "no image bytes given");
  return mien_faces_find(svc->faces[w], bytes, len, &svc->limits, full_res, img, info, faces, n,
                         err, errlen);
}

/* Each face's box in green and its 68 landmarks in red, sized to the image. */
static void draw_faces(mien_image *img, const mien_face *faces, int n) {
  int big = img->w > img->h ? img->w : img->h;
  int thick = big / 500 + 1, radius = big / 800 + 1;
  for (int i = 0; i < n; i++) {
    const mien_face *f = &faces[i];
    mien_image_draw_rect(img, (int)f->x0, (int)f->y0, (int)f->x1, (int)f->y1, 0, 255, 0, thick);
    if (!f->has_landmarks) continue;
    for (int k = 0; k < 68; k++)
      mien_image_draw_point(img, (int)f->lm68[k].x, (int)f->lm68[k].y, radius, 255, 40, 40);
  }
}

mien_status mien_service_detect_annotated(mien_service *svc, const void *bytes, size_t len,
                                          char **json_out, void **png, size_t *png_len, char *err,
                                          size_t errlen) {
  *json_out = NULL, *png = NULL, *png_len = 0;
  int w, n = 0;
  mien_status st = service_borrow(svc, 1, &w, err, errlen);
  if (st != MIEN_OK) return st;
  mien_image img;
  mien_image_info info;
  mien_face *faces = NULL;
  st = find(svc, w, bytes, len, 1, &img, &info, &faces, &n, err, errlen);
  service_give_back(svc, w);
  if (st != MIEN_OK) return st;
  cJSON *resp = cJSON_CreateObject();
  cJSON *arr = cJSON_AddArrayToObject(resp, "FaceDetails");
  for (int i = 0; i < n; i++)
    cJSON_AddItemToArray(arr, mien_face_detail_json(&faces[i], info.orig_w, info.orig_h));
  *json_out = cJSON_PrintUnformatted(resp);
  cJSON_Delete(resp);
  draw_faces(&img, faces, n);
  *png = *json_out ? mien_image_encode_png(&img, png_len) : NULL;
  free(faces);
  mien_image_free(&img);
  if (!*png) {
    free(*json_out);
    *json_out = NULL, *png_len = 0;
    return MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  }
  return MIEN_OK;
}

/* Median of the runs of the detector passes alone (resampling the image into each pass's input
 * and running the net), for comparison with another runtime on the same sizes. */
static double passes_ms(mien_faces *fx, const mien_image *img, int sizes[][2], int np, double *ms,
                        int runs) {
  for (int r = 0; r < runs; r++) {
    double t0 = mien_now_ms();
    for (int i = 0; i < np; i++) {
      mien_det *d;
      int n;
      /* A threshold above 1 keeps no candidate: only the net's time is wanted. */
      if (mien_faces_detect_raw(fx, img, sizes[i][0], sizes[i][1], 2.0f, &d, &n, NULL, 0) ==
          MIEN_OK)
        free(d);
    }
    ms[r] = mien_now_ms() - t0;
  }
  mien_sort_doubles(ms, runs);
  return ms[runs / 2];
}

/* The timing on worker w: a warm-up, then `runs` decodes + detections, then the passes alone on
 * the last decoded image. */
static mien_status time_detect(mien_service *svc, int w, const void *bytes, size_t len, int runs,
                               double *ms, mien_detect_timing *out, char *err, size_t errlen) {
  mien_image img = {0};
  mien_image_info info;
  mien_face *faces;
  int n = 0;
  mien_status st = MIEN_OK;
  for (int r = -1; r < runs && st == MIEN_OK; r++) { /* r = -1: warm-up */
    mien_image_free(&img);
    double t0 = mien_now_ms();
    st = find(svc, w, bytes, len, 0, &img, &info, &faces, &n, err, errlen);
    if (st != MIEN_OK) return st;
    if (r >= 0) ms[r] = mien_now_ms() - t0;
    free(faces);
  }
  mien_sort_doubles(ms, runs);
  out->faces = n, out->runs = runs;
  out->ms_median = ms[runs / 2], out->ms_min = ms[0];
  out->decode_scale = info.scale;
  _Static_assert(MIEN_MAX_PASSES <= sizeof out->passes / sizeof *out->passes, "passes fit");
  out->npasses = mien_faces_pyramid(svc->faces[w], img.w, img.h, info.scale, out->passes);
  out->passes_ms_median = passes_ms(svc->faces[w], &img, out->passes, out->npasses, ms, runs);
  mien_image_free(&img);
  return MIEN_OK;
}

mien_status mien_service_time_detect(mien_service *svc, const void *bytes, size_t len, int runs,
                                     mien_detect_timing *out, char *err, size_t errlen) {
  *out = (mien_detect_timing){0};
  if (runs < 1)
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER, "runs must be at least 1");
  double *ms = malloc((size_t)runs * sizeof *ms);
  if (!ms) return MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  int w;
  mien_status st = service_borrow(svc, 1, &w, err, errlen);
  if (st == MIEN_OK) {
    st = time_detect(svc, w, bytes, len, runs, ms, out, err, errlen);
    service_give_back(svc, w);
  }
  free(ms);
  return st;
}
