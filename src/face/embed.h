/* embed.h - the parts of alignment and embedding that tests, the CLI and the evaluation tools use
 * beyond face.h: the similarity fit itself, the warp matrix, and the flip-augmented embedding. */
#ifndef MIEN_FACE_EMBED_H
#define MIEN_FACE_EMBED_H

#include "face/face.h"

#define MIEN_ALIGN_SIZE 112 /* side of the aligned crop fr_feature takes */

/* Least-squares similarity (rotation, uniform scale, translation; no reflection) taking the n
 * src points onto dst: dst ~ T * src with T = [T0 T1 T2; T3 T4 T5]. */
void mien_similarity_fit(const double src[][2], const double dst[][2], int n, double T[6]);
/* Inverse of a similarity fitted above. */
void mien_similarity_invert(const double T[6], double inv[6]);
/* The output -> source matrix for mien_image_warp_affine_to_tensor that aligns a face whose five
 * points (mien_face_five_points) are given onto the 112x112 ArcFace template. */
void mien_face_align_matrix(const mien_pt five[5], float M[6]);

/* mien_faces_embed with the augmentation chosen: flip = 1 adds the embedding of the mirrored
 * crop before normalising (about twice the cost); mien_faces_embed uses MIEN_EMBED_FLIP. */
#define MIEN_EMBED_FLIP 0
mien_status mien_faces_embed_ex(mien_faces *f, const mien_image *img, const mien_face *face,
                                int flip, float emb[MIEN_EMBED_DIM], char *err, size_t errlen);

#endif
