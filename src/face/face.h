/* face.h - the face pipeline between images and the API layer:
 *   image -> detected faces (box, score) -> 68 landmarks -> pose, quality
 *         -> 5-point alignment -> 112x112 crop -> 512-d embedding -> similarity
 *
 * A mien_faces context owns the three default models (or a user-given detector), their plans
 * per input size and one workspace; it is used by one thread at a time (a server keeps one per
 * worker). Coordinates are pixels of the upright, full-resolution image unless said otherwise.
 */
#ifndef MIEN_FACE_H
#define MIEN_FACE_H

#include <stdint.h>

#include "image/image.h"
#include "mien.h"

#define MIEN_EMBED_DIM 512

typedef struct {
  float x, y;
} mien_pt;

typedef struct {
  float x0, y0, x1, y1; /* box, pixels */
  float score;          /* detector probability, 0..1 */
  mien_pt lm68[68];     /* landmarks, pixels; valid when has_landmarks */
  int has_landmarks;
  float yaw, pitch, roll;      /* degrees, Rekognition's convention */
  float brightness, sharpness; /* 0..100 */
} mien_face;

typedef struct {
  int threads;          /* 0 = cores */
  int min_face;         /* smallest face side to look for, pixels of the image; 0 = default */
  float min_score;      /* detection threshold 0..1; 0 = default */
  const char *detector; /* NULL or "default": fr_detect; "yunet:PATH"; "fusion:PATH": both */
} mien_faces_options;

typedef struct mien_faces mien_faces;

/* Decodes image bytes (JPEG or PNG) into an upright image, with Rekognition's errors:
 * InvalidImageFormatException, ImageTooLargeException, InvalidParameterException (too small). */
mien_status mien_decode_image(const uint8_t *bytes, size_t len, mien_image *out, char *err,
                              size_t errlen);

mien_status mien_faces_create(const mien_faces_options *opt, mien_faces **out, char *err,
                              size_t errlen);
void mien_faces_free(mien_faces *f);

/* Changes the context's min_face (0: the default rule); video sets it per video. */
void mien_faces_set_min_face(mien_faces *f, int min_face);

/* Detects faces in an upright image, with landmarks, pose and quality; sorted by box area,
 * largest first. *faces is malloc'ed (free it). */
mien_status mien_faces_detect(mien_faces *f, const mien_image *img, mien_face **faces, int *n,
                              char *err, size_t errlen);

/* Five alignment points from the 68 (eye centres, nose tip, mouth corners) and the embedding
 * of the aligned 112x112 crop, L2-normalised. */
void mien_face_five_points(const mien_face *face, mien_pt five[5]);
mien_status mien_faces_embed(mien_faces *f, const mien_image *img, const mien_face *face,
                             float emb[MIEN_EMBED_DIM], char *err, size_t errlen);

/* How open the eyes are: the mean eye aspect ratio of both eyes (lid gap over eye width, about
 * 0.3 open, under 0.15 closed), and how open the mouth is (inner-lip gap over inner-mouth width);
 * from the 68 landmarks (has_landmarks). attributes.c; docs/attributes.md. */
float mien_face_eye_openness(const mien_face *face);
float mien_face_mouth_openness(const mien_face *face);
/* How a ratio becomes Rekognition's {Value, Confidence}: open when ratio >= threshold; the
 * confidence (0..100) is the accuracy measured on labelled faces whose ratio lay within band of
 * the threshold (near) or beyond it (far). */
typedef struct {
  float threshold, band, near_confidence, far_confidence;
} mien_attr_rule;
extern const mien_attr_rule mien_eyes_open_rule, mien_mouth_open_rule;
/* 1 (open) or 0 by rule, with its confidence. */
int mien_attr_decide(const mien_attr_rule *rule, float ratio, float *confidence);
/* Cosine similarity of two normalised embeddings, and its calibrated 0..100 Similarity. */
float mien_cosine(const float *a, const float *b);
float mien_similarity(float cosine);

#endif
