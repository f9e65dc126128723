/* eval.h - measuring recognition: embedding a set of images on all cores, verification-score
 * statistics (ROC AUC, the LFW fold protocol, TAR at a FAR) and the impostor/genuine cosine
 * histograms the Similarity mapping is calibrated from. Used by `mien eval` and the tests. */
#ifndef MIEN_FACE_EVAL_H
#define MIEN_FACE_EVAL_H

#include <stdint.h>

#include "face/face.h"

/* One knot of the piecewise-linear cosine -> Similarity mapping (similarity.c): Similarity
 * `similarity` is reached at cosine `cosine`, calibrated so that impostor pairs score at least
 * that with probability `far` (0 for the last knot, cosine 1). */
typedef struct {
  float similarity;
  double far;
  float cosine;
} mien_similarity_knot;

const mien_similarity_knot *mien_similarity_knots(int *n);
/* The least cosine whose Similarity is at least `similarity` (the inverse of mien_similarity). */
float mien_similarity_cosine(float similarity);

/* A score and what it belongs to (a face's index, a same-person flag), for sorting by score. */
typedef struct {
  float score;
  int tag;
} mien_scored;

/* Sorts v by score, highest first when descending, else lowest first. */
void mien_scored_sort(mien_scored *v, int n, int descending);

/* ---- scores: score[i] of pair i, same[i] = 1 for a same-person pair ---- */

/* Area under the ROC curve (ties count one half). */
double mien_eval_auc(const float *score, const uint8_t *same, int n);
/* The threshold (pairs with score >= it are called "same") that maximises accuracy; ties are
 * broken towards the lowest threshold, which is set midway between neighbouring scores.
 * *accuracy gets that accuracy. */
float mien_eval_best_threshold(const float *score, const uint8_t *same, int n, double *accuracy);
/* The LFW protocol: for each fold k (fold[i] in 0..nfolds-1), the threshold maximising accuracy
 * on the other folds, and the accuracy with it on fold k (acc[k], thr[k]). */
void mien_eval_folds(const float *score, const uint8_t *same, const int *fold, int n, int nfolds,
                     double *acc, float *thr);
/* True-accept rate at the lowest threshold whose false-accept rate is at most `far`: at most
 * floor(far * impostors) impostor pairs score above *threshold (may be NULL). */
double mien_eval_tar_at_far(const float *score, const uint8_t *same, int n, double far,
                            float *threshold);

/* ---- synthetic transforms of an image (evaluation only) ---- */

/* img warped by M (output pixel -> source, as mien_image_warp_affine_to_tensor) into a new ow x oh
 * image *out; pixels from outside img are black. MIEN_IMG_NOMEM or MIEN_IMG_BAD_ARGUMENT. */
mien_img_status mien_image_warped(const mien_image *img, const float M[6], int ow, int oh,
                                  mien_image *out);
/* The M that rotates a w x h image by deg (clockwise on screen) about its centre, same canvas. */
void mien_rotation_matrix(int w, int h, float deg, float M[6]);

/* ---- embedding an image set ---- */

/* Embeds the face in each image file, on `threads` workers (0 = one per core), each with its own
 * mien_faces context (detector: NULL for the default, else as mien_faces_options.detector), after
 * rotating the image by rotate_deg (0: as it is). The face taken is the detected one whose box
 * centre is nearest the image centre (LFW's faces are centred). Where no face is detected, the
 * landmarks are found on a box of the central half of the image (deep-funneled LFW's face
 * region) and the face is embedded from them; fallback[i] = 1 marks those. emb holds
 * n * MIEN_EMBED_DIM floats; yaw (may be NULL) gets each face's Pose Yaw. Fails on the first image
 * that cannot be read or decoded, naming it in err. */
mien_status mien_eval_embed_images(const char *const *paths, int n, int threads, int flip,
                                   const char *detector, float rotate_deg, float *emb, float *yaw,
                                   uint8_t *fallback, char *err, size_t errlen);

/* ---- cosine histograms over all pairs of an embedded set ---- */

#define MIEN_HIST_BINS 20001 /* cosine bins of width 1e-4 over [-1, 1] */

/* Adds the cosine of every pair i < j to imp (identity[i] != identity[j]) or gen (equal), using
 * `threads` workers (0 = one per core). Both hold MIEN_HIST_BINS counts. */
mien_status mien_eval_pair_histograms(const float *emb, const int *identity, int n, int threads,
                                      uint64_t *imp, uint64_t *gen);
/* Fraction of the histogram's pairs whose cosine is at least `cosine` (to the bin width). */
double mien_hist_tail(const uint64_t *h, float cosine);
/* The least cosine (a bin edge) where the tail is at most `frac`. */
float mien_hist_threshold(const uint64_t *h, double frac);

#endif
