/* embed.c - a face's 512-d embedding: align it onto the ArcFace template straight from the decoded
 * image (one bilinear warp into the model's input tensor, no intermediate image), run fr_feature,
 * L2-normalise. Optionally add the embedding of the mirrored crop ("flip" augmentation).
 *
 * Flip costs a second fr_feature run; on the public LFW folds it did not pay (docs/similarity.md
 * has the figures), so mien_faces_embed leaves it off (MIEN_EMBED_FLIP). */
#include <math.h>
#include <string.h>

#include "face/detect.h"
#include "face/embed.h"
#include "face/faces_internal.h"
#include "util/util.h"

#define PLANE (MIEN_ALIGN_SIZE * MIEN_ALIGN_SIZE)

/* Mirrors the three planes of the aligned crop left to right, in place. */
static void mirror_crop(float *t) {
  for (int row = 0; row < 3 * MIEN_ALIGN_SIZE; row++) {
    float *r = t + (size_t)row * MIEN_ALIGN_SIZE;
    for (int i = 0, j = MIEN_ALIGN_SIZE - 1; i < j; i++, j--) {
      float v = r[i];
      r[i] = r[j], r[j] = v;
    }
  }
}

static void l2_normalise(float *v, int n) {
  double ss = 0;
  for (int i = 0; i < n; i++) ss += (double)v[i] * v[i];
  float inv = ss > 0 ? (float)(1 / sqrt(ss)) : 0;
  for (int i = 0; i < n; i++) v[i] *= inv;
}

static mien_status run_feature(mien_faces *f, float *emb, int accumulate) {
  const float *in = f->tensor;
  mien_status st = mien_run(f->feature_plan, f->ws, &in);
  if (st != MIEN_OK) return st;
  const float *out = mien_workspace_output(f->ws, 0);
  for (int i = 0; i < MIEN_EMBED_DIM; i++) emb[i] = accumulate ? emb[i] + out[i] : out[i];
  return MIEN_OK;
}

mien_status mien_faces_embed_ex(mien_faces *f, const mien_image *img, const mien_face *face,
                                int flip, float emb[MIEN_EMBED_DIM], char *err, size_t errlen) {
  if (!face->has_landmarks)
    return MIEN_FAIL(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                     "the face has no landmarks to align it with");
  if (mien_faces_tensor(f, 3 * PLANE) != MIEN_OK) return MIEN_ERR_NOMEM;
  mien_pt five[5];
  float M[6];
  mien_face_five_points(face, five);
  mien_face_align_matrix(five, M);
  mien_img_status ist = mien_image_warp_affine_to_tensor(img, M, MIEN_ALIGN_SIZE, MIEN_ALIGN_SIZE,
                                                         127.0f, 1 / 128.0f, f->tensor);
  if (ist != MIEN_IMG_OK)
    return MIEN_FAIL(err, errlen,
                     ist == MIEN_IMG_NOMEM ? MIEN_ERR_NOMEM : MIEN_ERR_INVALID_PARAMETER,
                     "cannot warp the face: empty image");
  mien_status st = run_feature(f, emb, 0);
  if (st == MIEN_OK && flip) {
    mirror_crop(f->tensor);
    st = run_feature(f, emb, 1);
  }
  if (st != MIEN_OK)
    return MIEN_FAIL(err, errlen, st, "fr_feature failed: %s", mien_status_name(st));
  l2_normalise(emb, MIEN_EMBED_DIM);
  return MIEN_OK;
}

mien_status mien_faces_embed(mien_faces *f, const mien_image *img, const mien_face *face,
                             float emb[MIEN_EMBED_DIM], char *err, size_t errlen) {
  return mien_faces_embed_ex(f, img, face, MIEN_EMBED_FLIP, emb, err, errlen);
}

float mien_cosine(const float *a, const float *b) {
  /* Eight independent partial sums: the compiler vectorises this, which matters when the
   * calibration compares millions of pairs; float error over 512 terms stays near 1e-7. */
  float acc[8] = {0};
  for (int i = 0; i < MIEN_EMBED_DIM; i += 8)
    for (int k = 0; k < 8; k++) acc[k] += a[i + k] * b[i + k];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}
