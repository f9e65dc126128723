/* detect.h - the parts of decoding and detection that the CLI and tests use beyond face.h: the
 * mapping of image errors onto Rekognition's, decoding at the resolution the detector needs
 * (libjpeg's DCT scaling), and detection on such a reduced image.
 *
 * The default detector's knobs live here so that the tests, the CLI's --help and the README quote
 * the same numbers. */
#ifndef MIEN_FACE_DETECT_H
#define MIEN_FACE_DETECT_H

#include "face/face.h"

/* The default threshold (MIEN_DETECT_MIN_SCORE) and min_face (MIEN_MIN_FACE_*) are public facts,
 * in mien.h. YuNet's raw score that maps onto the default threshold (fr_detect's raw score is its
 * calibrated one): */
#define MIEN_YUNET_RAW_KNEE 0.75f

/* Faces returned per image at most: Rekognition's DetectFaces returns the 100 largest. */
#define MIEN_MAX_FACES 100

mien_status mien_status_from_image(mien_img_status st);

/* min_face in effect for an image whose larger side is max_side. */
int mien_faces_min_face(const mien_faces *f, int max_side);

/* Decodes image bytes for detection with the given limits (NULL: defaults). A JPEG is decoded at
 * the largest DCT reduction (1/2, 1/4, 1/8) the detector's finest pass can afford, so info->scale
 * may be > 1; full_res = 1 decodes at full size. Errors as mien_decode_image. */
mien_status mien_faces_decode(const mien_faces *f, const uint8_t *bytes, size_t len,
                              const mien_image_limits *lim, int full_res, mien_image *out,
                              mien_image_info *info, char *err, size_t errlen);

/* mien_faces_detect on an image decoded at 1/scale of the full resolution (info->scale): min_face
 * is still in full-resolution pixels, and so are the returned coordinates. */
mien_status mien_faces_detect_scaled(mien_faces *f, const mien_image *img, int scale,
                                     mien_face **faces, int *n, char *err, size_t errlen);

/* The one detection every path runs (DetectFaces, IndexFaces, CompareFaces, SearchFacesByImage,
 * SearchUsersByImage, `mien detect`, --annotate, `mien eval detect`), so that the same bytes give
 * the same faces and boxes everywhere: decodes at the reduction detection affords (img, info as
 * mien_faces_decode) and detects on it; coordinates are full-resolution pixels. With full_res set,
 * img is then the full-resolution image (for embedding or drawing): the faces are the same, only
 * the pixels they are later cropped from are sharper. On failure img holds nothing. */
mien_status mien_faces_find(mien_faces *f, const uint8_t *bytes, size_t len,
                            const mien_image_limits *lim, int full_res, mien_image *img,
                            mien_image_info *info, mien_face **faces, int *n, char *err,
                            size_t errlen);

/* The detector input sizes (w, h) of each pyramid pass for a w x h image decoded at 1/scale,
 * finest first; returns their number. For benchmarks against other runtimes. */
#define MIEN_MAX_PASSES 8
int mien_faces_pyramid(const mien_faces *f, int w, int h, int scale, int sizes[MIEN_MAX_PASSES][2]);

/* ---- the pipeline's steps, shared by the files of src/face/ (and their tests) ---- */

/* The detector planned for a w x h input, from the context's least-recently-used cache. */
mien_status mien_faces_detect_plan(mien_faces *f, int w, int h, const mien_plan **plan, char *err,
                                   size_t errlen);
/* Makes sure f->tensor holds at least n floats. */
mien_status mien_faces_tensor(mien_faces *f, size_t n);
/* Fills face->lm68 from fr_landmark on a square crop around the face's box, and the quality. */
mien_status mien_face_landmarks(mien_faces *f, const mien_image *img, mien_face *face);
/* Fills yaw, pitch and roll from the 68 landmarks (pose.c). */
void mien_face_pose(mien_face *face);
/* Fills brightness and sharpness from the side x side gray crop fr_landmark was given (values
 * gray / 256), so that they do not depend on the face's size in pixels (quality.c). */
void mien_face_quality(const float *gray, int side, mien_face *face);

/* A detector candidate, image pixels. */
typedef struct {
  float x0, y0, x1, y1, score;
} mien_det;

/* One detector pass over the whole image resampled to iw x ih (multiples of 32 for YuNet): every
 * candidate scoring at least min_score, before NMS (for tests against the graph's own decoding,
 * and for timing the net alone). *dets is malloc'ed. */
mien_status mien_faces_detect_raw(mien_faces *f, const mien_image *img, int iw, int ih,
                                  float min_score, mien_det **dets, int *n, char *err,
                                  size_t errlen);

#endif
