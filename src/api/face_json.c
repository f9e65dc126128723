/* face_json.c - Rekognition's FaceDetail, BoundingBox and error JSON from mien faces, with its
 * exact field names, so that clients written for DetectFaces read mien's answers unchanged.
 *
 * Landmark types: Rekognition names sides as they appear in the image (its documented example
 * responses have eyeLeft at a smaller X than eyeRight), so "Left" is the viewer's left, which in
 * the 68-point (iBUG 300-W) layout is the side of points 0..8, 17..21, 36..41. All 30 types are
 * derived from the 68 points; pupils are the eye centres (the model has no pupil point). */
#include <stdio.h>
#include <stdlib.h>

#include "api/api.h"

/* A Rekognition landmark: the mean of up to 6 of the 68 points (0-based). */
typedef struct {
  const char *type;
  int n;
  int idx[6];
} landmark_map;

static const landmark_map landmarks[] = {
    {"eyeLeft", 6, {36, 37, 38, 39, 40, 41}},
    {"eyeRight", 6, {42, 43, 44, 45, 46, 47}},
    {"nose", 1, {30}},
    {"mouthLeft", 1, {48}},
    {"mouthRight", 1, {54}},
    {"leftEyeBrowLeft", 1, {17}},
    {"leftEyeBrowRight", 1, {21}},
    {"leftEyeBrowUp", 1, {19}},
    {"rightEyeBrowLeft", 1, {22}},
    {"rightEyeBrowRight", 1, {26}},
    {"rightEyeBrowUp", 1, {24}},
    {"leftEyeLeft", 1, {36}},
    {"leftEyeRight", 1, {39}},
    {"leftEyeUp", 2, {37, 38}},
    {"leftEyeDown", 2, {40, 41}},
    {"rightEyeLeft", 1, {42}},
    {"rightEyeRight", 1, {45}},
    {"rightEyeUp", 2, {43, 44}},
    {"rightEyeDown", 2, {46, 47}},
    {"noseLeft", 1, {31}},
    {"noseRight", 1, {35}},
    {"mouthUp", 1, {51}},
    {"mouthDown", 1, {57}},
    {"leftPupil", 6, {36, 37, 38, 39, 40, 41}},
    {"rightPupil", 6, {42, 43, 44, 45, 46, 47}},
    {"upperJawlineLeft", 1, {0}},
    {"midJawlineLeft", 1, {4}},
    {"chinBottom", 1, {8}},
    {"midJawlineRight", 1, {12}},
    {"upperJawlineRight", 1, {16}},
};

/* Adds a number rounded to 6 significant digits: the models are not more precise than that, and
 * it keeps float noise (0.21783684624565972) out of the output. */
static void add_num(cJSON *o, const char *name, double v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.6g", v);
  cJSON_AddNumberToObject(o, name, strtod(buf, NULL));
}

cJSON *mien_bounding_box_json(const mien_face *face, int img_w, int img_h) {
  cJSON *b = cJSON_CreateObject();
  if (!b) return NULL;
  /* Rekognition does not clip: a face cut by the image edge may have Left < 0 or extend past 1. */
  add_num(b, "Width", (face->x1 - face->x0) / (double)img_w);
  add_num(b, "Height", (face->y1 - face->y0) / (double)img_h);
  add_num(b, "Left", face->x0 / (double)img_w);
  add_num(b, "Top", face->y0 / (double)img_h);
  return b;
}

static cJSON *landmarks_json(const mien_face *face, int img_w, int img_h) {
  cJSON *arr = cJSON_CreateArray();
  if (!arr) return NULL;
  for (size_t i = 0; i < sizeof landmarks / sizeof *landmarks; i++) {
    const landmark_map *m = &landmarks[i];
    double x = 0, y = 0;
    for (int k = 0; k < m->n; k++) x += face->lm68[m->idx[k]].x, y += face->lm68[m->idx[k]].y;
    cJSON *o = cJSON_CreateObject();
    if (!o) break;
    cJSON_AddStringToObject(o, "Type", m->type);
    add_num(o, "X", x / m->n / img_w);
    add_num(o, "Y", y / m->n / img_h);
    cJSON_AddItemToArray(arr, o);
  }
  return arr;
}

cJSON *mien_face_detail_json(const mien_face *face, int img_w, int img_h) {
  cJSON *d = cJSON_CreateObject();
  if (!d) return NULL;
  cJSON_AddItemToObject(d, "BoundingBox", mien_bounding_box_json(face, img_w, img_h));
  if (face->has_landmarks) {
    cJSON_AddItemToObject(d, "Landmarks", landmarks_json(face, img_w, img_h));
    cJSON *pose = cJSON_AddObjectToObject(d, "Pose");
    add_num(pose, "Roll", face->roll);
    add_num(pose, "Yaw", face->yaw);
    add_num(pose, "Pitch", face->pitch);
    cJSON *q = cJSON_AddObjectToObject(d, "Quality");
    add_num(q, "Brightness", face->brightness);
    add_num(q, "Sharpness", face->sharpness);
  }
  add_num(d, "Confidence", 100.0 * face->score);
  return d;
}

cJSON *mien_error_json(mien_status st, const char *msg) {
  cJSON *e = cJSON_CreateObject();
  if (!e) return NULL;
  cJSON_AddStringToObject(e, "__type", mien_status_name(st));
  cJSON_AddStringToObject(e, "Message", msg ? msg : "");
  return e;
}

cJSON *mien_face_summary_json(const mien_face *face, int img_w, int img_h) {
  cJSON *o = cJSON_CreateObject(), *detail = mien_face_detail_json(face, img_w, img_h);
  cJSON_AddItemToObject(o, "BoundingBox", mien_bounding_box_json(face, img_w, img_h));
  cJSON_AddItemToObject(o, "Confidence", cJSON_DetachItemFromObject(detail, "Confidence"));
  cJSON_Delete(detail);
  return o;
}
