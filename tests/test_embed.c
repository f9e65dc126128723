/* test_embed.c - alignment, embedding, similarity and evaluation math:
 *   - the similarity fit recovers a known transform exactly, and the warp matrix takes the ArcFace
 *     template back onto the face's five points; the five points come from the right landmarks
 *   - the cosine -> Similarity mapping is monotone, hits its knots and inverts
 *   - AUC, fold thresholds and TAR@FAR on synthetic scores with known answers
 *   - CompareFaces behaviour through the library on tests/data: Collins's and Hopper's two photos
 *     each match at Similarity >= 80 (the second photo is the first transformed: README.md there),
 *     cross pairs do not, and each of them matches exactly one of the group photo's three faces. */
#include <stdint.h>

#include "check.h"
#include "face/embed.h"
#include "face/eval.h"
#include "util/util.h"

static void apply(const double T[6], const double p[2], double out[2]) {
  out[0] = T[0] * p[0] + T[1] * p[1] + T[2];
  out[1] = T[3] * p[0] + T[4] * p[1] + T[5];
}

static void test_similarity_fit_exact(void) {
  const double s = 1.7, th = 0.3;
  const double truth[6] = {s * cos(th), -s * sin(th), 12, s * sin(th), s * cos(th), -5};
  double src[7][2], dst[7][2], T[6], inv[6];
  for (int i = 0; i < 7; i++) {
    src[i][0] = 10 * i - 3 * (i % 3), src[i][1] = 4 * i * i % 17 + 0.5 * i;
    apply(truth, src[i], dst[i]);
  }
  mien_similarity_fit(src, dst, 7, T);
  for (int i = 0; i < 6; i++) CHECK_NEAR(T[i], truth[i], 1e-9);
  mien_similarity_invert(T, inv);
  for (int i = 0; i < 7; i++) {
    double back[2];
    apply(inv, dst[i], back);
    CHECK_NEAR(back[0], src[i][0], 1e-9);
    CHECK_NEAR(back[1], src[i][1], 1e-9);
  }
}

static void test_similarity_fit_least_squares(void) {
  /* A mirrored point set has no exact similarity; the fit must still be a rotation and scale,
   * never a reflection. */
  const double src[4][2] = {{0, 0}, {1, 0}, {0, 2}, {1, 2}};
  const double dst[4][2] = {{0, 0}, {-1, 0}, {0, 2}, {-1, 2}};
  double T[6];
  mien_similarity_fit(src, dst, 4, T);
  CHECK_NEAR(T[0], T[4], 1e-12);
  CHECK_NEAR(T[1], -T[3], 1e-12);
}

static void test_align_matrix(void) {
  /* Five points that are the template under a known similarity: the warp matrix (output ->
   * source) must take the template onto them. */
  static const double tpl[5][2] = {{38.2946, 51.6963},
                                   {73.5318, 51.5014},
                                   {56.0252, 71.7366},
                                   {41.5493, 92.3655},
                                   {70.7299, 92.2041}};
  const double s = 2.4, th = -0.2;
  const double T[6] = {s * cos(th), -s * sin(th), 130, s * sin(th), s * cos(th), 80};
  mien_pt five[5];
  for (int i = 0; i < 5; i++) {
    double p[2];
    apply(T, tpl[i], p);
    five[i] = (mien_pt){(float)p[0], (float)p[1]};
  }
  float M[6];
  mien_face_align_matrix(five, M);
  for (int i = 0; i < 5; i++) {
    CHECK_NEAR(M[0] * tpl[i][0] + M[1] * tpl[i][1] + M[2], five[i].x, 1e-3);
    CHECK_NEAR(M[3] * tpl[i][0] + M[4] * tpl[i][1] + M[5], five[i].y, 1e-3);
  }
}

static void test_five_points(void) {
  mien_face face = {.has_landmarks = 1};
  for (int i = 0; i < 68; i++) face.lm68[i] = (mien_pt){(float)i, (float)(2 * i + 1)};
  mien_pt five[5];
  mien_face_five_points(&face, five);
  const float want_x[5] = {(37 + 38 + 40 + 41) / 4.0f, (43 + 44 + 46 + 47) / 4.0f, 30,
                           (48 + 60) / 2.0f, (54 + 64) / 2.0f};
  for (int i = 0; i < 5; i++) {
    CHECK_NEAR(five[i].x, want_x[i], 1e-6);
    CHECK_NEAR(five[i].y, 2 * want_x[i] + 1, 1e-5);
  }
}

static void test_cosine(void) {
  float a[MIEN_EMBED_DIM], b[MIEN_EMBED_DIM];
  for (int i = 0; i < MIEN_EMBED_DIM; i++) {
    a[i] = (i % 2 ? 1.0f : -1.0f) / sqrtf(MIEN_EMBED_DIM);
    b[i] = i < MIEN_EMBED_DIM / 2 ? a[i] : -a[i];
  }
  CHECK_NEAR(mien_cosine(a, a), 1, 1e-6);
  CHECK_NEAR(mien_cosine(a, b), 0, 1e-6);
}

static void test_similarity_mapping(void) {
  int n;
  const mien_similarity_knot *k = mien_similarity_knots(&n);
  CHECK(n >= 3);
  for (int i = 0; i < n; i++) {
    CHECK_NEAR(mien_similarity(k[i].cosine), k[i].similarity, 1e-4);
    CHECK_NEAR(mien_similarity_cosine(k[i].similarity), k[i].cosine, 1e-6);
    if (i > 0) {
      CHECK(k[i].cosine > k[i - 1].cosine);
      CHECK(k[i].similarity > k[i - 1].similarity);
      CHECK(k[i].far < k[i - 1].far);
    }
  }
  CHECK(k[n - 1].cosine == 1.0f && k[n - 1].similarity == 100);
  int has80 = 0;
  for (int i = 0; i < n; i++) has80 |= k[i].similarity == 80 && k[i].far <= 1e-4;
  CHECK_MSG(has80, "threshold 80 must sit at FAR <= 1e-4");
  float prev = -1;
  for (int i = 0; i <= 4000; i++) {
    float c = -1 + i / 2000.0f, s = mien_similarity(c);
    CHECK_MSG(s >= prev && s >= 0 && s <= 100, "not monotone at cosine %g", c);
    prev = s;
    if (s > 0 && s < 100) CHECK_NEAR(mien_similarity_cosine(s), c, 1e-4);
  }
  CHECK(mien_similarity(-1) == 0 && mien_similarity(1) == 100);
}

static void test_eval_auc(void) {
  const float score[6] = {0.1f, 0.2f, 0.3f, 0.7f, 0.8f, 0.9f};
  const uint8_t sep[6] = {0, 0, 0, 1, 1, 1}, rev[6] = {1, 1, 1, 0, 0, 0};
  CHECK_NEAR(mien_eval_auc(score, sep, 6), 1, 1e-12);
  CHECK_NEAR(mien_eval_auc(score, rev, 6), 0, 1e-12);
  const float tied[4] = {0.5f, 0.5f, 0.5f, 0.5f};
  const uint8_t half[4] = {0, 1, 0, 1};
  CHECK_NEAR(mien_eval_auc(tied, half, 4), 0.5, 1e-12);
  /* One inversion among 3 x 3 pairs: AUC = 8/9. */
  const float one[6] = {0.1f, 0.2f, 0.75f, 0.7f, 0.8f, 0.9f};
  CHECK_NEAR(mien_eval_auc(one, sep, 6), 8.0 / 9, 1e-12);
}

static void test_eval_threshold_and_folds(void) {
  const float score[6] = {0.1f, 0.2f, 0.3f, 0.7f, 0.8f, 0.9f};
  const uint8_t sep[6] = {0, 0, 0, 1, 1, 1};
  double acc;
  float t = mien_eval_best_threshold(score, sep, 6, &acc);
  CHECK_NEAR(acc, 1, 1e-12);
  CHECK_NEAR(t, 0.5, 1e-6);
  /* Two folds with different class boundaries: fold 0 separates at 0.4, fold 1 at 0.6. Each
   * fold's threshold comes from the other fold, so each fold misses what lies between. */
  const float s2[8] = {0.1f, 0.35f, 0.45f, 0.9f, 0.1f, 0.55f, 0.65f, 0.9f};
  const uint8_t y2[8] = {0, 0, 1, 1, 0, 0, 1, 1};
  const int fold[8] = {0, 0, 0, 0, 1, 1, 1, 1};
  double facc[2];
  float fthr[2];
  mien_eval_folds(s2, y2, fold, 8, 2, facc, fthr);
  CHECK_NEAR(fthr[0], 0.6, 1e-6);
  CHECK_NEAR(fthr[1], 0.4, 1e-6);
  CHECK_NEAR(facc[0], 0.75, 1e-12); /* 0.45 (same) falls below 0.6 */
  CHECK_NEAR(facc[1], 0.75, 1e-12); /* 0.55 (different) is above 0.4 */
}

static void test_eval_tar_at_far(void) {
  /* 10 impostors 0.0..0.9, 4 genuine 0.5, 0.85, 0.95, 1.0. FAR 0.1 allows one impostor above
   * the threshold (0.8): TAR 3/4 (0.85, 0.95, 1.0); FAR 0 allows none: threshold 0.9, TAR 2/4. */
  float score[14];
  uint8_t same[14] = {0};
  for (int i = 0; i < 10; i++) score[i] = i / 10.0f;
  const float gen[4] = {0.5f, 0.85f, 0.95f, 1.0f};
  for (int i = 0; i < 4; i++) score[10 + i] = gen[i], same[10 + i] = 1;
  float t;
  CHECK_NEAR(mien_eval_tar_at_far(score, same, 14, 0.1, &t), 0.75, 1e-12);
  CHECK_NEAR(t, 0.8, 1e-6);
  CHECK_NEAR(mien_eval_tar_at_far(score, same, 14, 0, &t), 0.5, 1e-12);
  CHECK_NEAR(t, 0.9, 1e-6);
}

static void test_histograms(void) {
  /* Four unit vectors, identities {0, 0, 1, 1}: genuine cosines 1 and 1, impostors 0 (x4). */
  static float emb[4 * MIEN_EMBED_DIM];
  memset(emb, 0, sizeof emb);
  emb[0] = emb[MIEN_EMBED_DIM] = 1;
  emb[2 * MIEN_EMBED_DIM + 1] = emb[3 * MIEN_EMBED_DIM + 1] = 1;
  const int id[4] = {0, 0, 1, 1};
  static uint64_t imp[MIEN_HIST_BINS], gen[MIEN_HIST_BINS];
  CHECK(mien_eval_pair_histograms(emb, id, 4, 2, imp, gen) == MIEN_OK);
  uint64_t ni = 0, ng = 0;
  for (int b = 0; b < MIEN_HIST_BINS; b++) ni += imp[b], ng += gen[b];
  CHECK(ni == 4 && ng == 2);
  CHECK_NEAR(mien_hist_tail(imp, 0), 1, 1e-12);
  CHECK_NEAR(mien_hist_tail(imp, 0.001f), 0, 1e-12);
  CHECK_NEAR(mien_hist_tail(gen, 0.999f), 1, 1e-12);
  CHECK_NEAR(mien_hist_threshold(imp, 0.5), 0.0001, 1e-6);
  CHECK_NEAR(mien_hist_threshold(imp, 1), -1, 1e-6); /* everything may pass */
}

/* ---- CompareFaces behaviour on real photos ---- */

typedef struct {
  mien_image img;
  mien_face *faces;
  int n;
} photo;

static int load_photo(mien_faces *f, const char *name, photo *p) {
  char path[1024], err[256];
  test_data_path(path, sizeof path, name);
  size_t len;
  uint8_t *bytes = mien_read_file(path, &len);
  *p = (photo){0};
  if (!bytes) return -1;
  mien_status st = mien_decode_image(bytes, len, &p->img, err, sizeof err);
  free(bytes);
  if (st == MIEN_OK) st = mien_faces_detect(f, &p->img, &p->faces, &p->n, err, sizeof err);
  CHECK_MSG(st == MIEN_OK, "%s: %s", name, err);
  return st == MIEN_OK ? 0 : -1;
}

static void free_photo(photo *p) {
  free(p->faces);
  mien_image_free(&p->img);
}

/* The best Similarity of the largest face of a against the faces of b; *matches: how many of b's
 * faces reach 80. */
static float best_similarity(mien_faces *f, const photo *a, const photo *b, int *matches) {
  float ea[MIEN_EMBED_DIM], eb[MIEN_EMBED_DIM], best = 0;
  char err[256];
  *matches = 0;
  if (a->n < 1 || mien_faces_embed(f, &a->img, &a->faces[0], ea, err, sizeof err)) return -1;
  CHECK_NEAR(mien_cosine(ea, ea), 1, 1e-5);
  for (int i = 0; i < b->n; i++) {
    CHECK(mien_faces_embed(f, &b->img, &b->faces[i], eb, err, sizeof err) == MIEN_OK);
    float s = mien_similarity(mien_cosine(ea, eb));
    best = s > best ? s : best;
    *matches += s >= 80;
  }
  return best;
}

static void test_compare_photos(void) {
  char path[1024];
  if (mien_find_model("fr_feature.onnx", path, sizeof path)) TEST_SKIP("models absent: %s", path);
  mien_faces *f;
  char err[256];
  mien_faces_options opt = {.threads = 0};
  CHECK_MSG(mien_faces_create(&opt, &f, err, sizeof err) == MIEN_OK, "%s", err);
  static const char *names[5] = {"collins.jpg", "collins-2.jpg", "hopper.jpg", "hopper-2.jpg",
                                 "group.jpg"};
  photo p[5];
  for (int i = 0; i < 5; i++) CHECK(load_photo(f, names[i], &p[i]) == 0);
  for (int i = 0; i < 4; i++) CHECK_MSG(p[i].n >= 1, "%s: no face", names[i]);
  CHECK_MSG(p[4].n == 3, "group: %d faces", p[4].n);
  int matches;
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++) {
      if (i == j) continue;
      float s = best_similarity(f, &p[i], &p[j], &matches);
      if (i / 2 == j / 2)
        CHECK_MSG(s >= 80, "%s vs %s: Similarity %.2f", names[i], names[j], s);
      else
        CHECK_MSG(s < 80, "%s vs %s: Similarity %.2f", names[i], names[j], s);
    }
  for (int i = 0; i < 4; i++) {
    float s = best_similarity(f, &p[i], &p[4], &matches);
    CHECK_MSG(matches == 1, "%s vs group: %d faces match (best %.2f)", names[i], matches, s);
  }
  for (int i = 0; i < 5; i++) free_photo(&p[i]);
  mien_faces_free(f);
}

int main(void) {
  RUN(test_similarity_fit_exact);
  RUN(test_similarity_fit_least_squares);
  RUN(test_align_matrix);
  RUN(test_five_points);
  RUN(test_cosine);
  RUN(test_similarity_mapping);
  RUN(test_eval_auc);
  RUN(test_eval_threshold_and_folds);
  RUN(test_eval_tar_at_far);
  RUN(test_histograms);
  RUN(test_compare_photos);
  return check_summary();
}
