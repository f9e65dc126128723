/* similarity.c - cosine of two embeddings -> Rekognition's 0-100 Similarity.
 *
 * A raw cosine means nothing to a user; a Similarity threshold should say how often two different
 * people pass it. The mapping is piecewise linear in cosine between knots, each put where the
 * impostor false-accept rate (FAR) falls to a chosen level, so it is monotone and the default
 * CompareFaces threshold 80 accepts at most 1 in 10,000 impostor pairs.
 *
 * Calibration (`mien eval calibrate --images ../shared/data/lfw/images`, plain embeddings): the
 * 6,144 deep-funneled LFW images of ../shared (2,820 identities) embedded once, then the cosines
 * of all 18,811,991 cross-identity pairs (the impostor distribution) binned at 1e-4; each knot's
 * cosine is the least bin edge where the impostor tail is at most its FAR. Below the first knot
 * Similarity is 0. The table (threshold -> FAR, TAR) is in docs/similarity.md; rerun the command
 * after changing the detector, landmarks or embedder, and update the cosines here. */
#include "face/eval.h"

static const mien_similarity_knot knots[] = {
    {0, 0.5, 0.0083f},   /* the median impostor pair */
    {50, 1e-2, 0.2509f}, /* 1 impostor pair in 100 */
    {80, 1e-4, 0.4181f}, /* Rekognition's default threshold: 1 in 10,000 */
    {90, 1e-5, 0.4878f}, /* 1 in 100,000 */
    {99, 1e-6, 0.7081f}, /* 1 in 1,000,000: 18 of the 18.8M pairs lie above */
    {100, 0, 1.0f},      /* identical embeddings */
};
#define NKNOTS (int)(sizeof knots / sizeof *knots)

const mien_similarity_knot *mien_similarity_knots(int *n) {
  *n = NKNOTS;
  return knots;
}

float mien_similarity(float cosine) {
  if (cosine <= knots[0].cosine) return knots[0].similarity;
  for (int i = 1; i < NKNOTS; i++)
    if (cosine < knots[i].cosine) {
      const mien_similarity_knot *a = &knots[i - 1], *b = &knots[i];
      return a->similarity +
             (b->similarity - a->similarity) * (cosine - a->cosine) / (b->cosine - a->cosine);
    }
  return knots[NKNOTS - 1].similarity;
}

float mien_similarity_cosine(float similarity) {
  if (similarity <= knots[0].similarity) return knots[0].cosine;
  for (int i = 1; i < NKNOTS; i++)
    if (similarity <= knots[i].similarity) {
      const mien_similarity_knot *a = &knots[i - 1], *b = &knots[i];
      return a->cosine + (b->cosine - a->cosine) * (similarity - a->similarity) /
                             (b->similarity - a->similarity);
    }
  return knots[NKNOTS - 1].cosine;
}
