/* test_attributes.c - EyesOpen and MouthOpen (src/face/attributes.c) against faces a person
 * labelled by looking at them (tests/attributes/lfw-labels.txt, images from LFW under
 * $MIEN_SHARED/data; skipped without them). Each attribute must be right on at least
 * ACCURACY_BAR of the labelled faces, the bar docs/attributes.md states for an attribute to be
 * returned at all, and the Confidence it reports near and far from its threshold must be the
 * accuracy measured there (within CONFIDENCE_SLACK points), so that it stays honest when the
 * models or the rule change. Prints the figures docs/attributes.md quotes. */
#include "check.h"

#include "face/face.h"
#include "util/util.h"

#define ACCURACY_BAR 0.90
#define CONFIDENCE_SLACK 5.0

typedef struct {
  const char *name;
  const mien_attr_rule *rule;
  float (*ratio)(const mien_face *);
  int right, total, near_right, near_total, far_right, far_total;
} attribute;

static void score(attribute *a, const mien_face *face, const char *label) {
  if (!strcmp(label, "-")) return;
  float ratio = a->ratio(face), confidence;
  int right = mien_attr_decide(a->rule, ratio, &confidence) == !strcmp(label, "open");
  int near = fabsf(ratio - a->rule->threshold) < a->rule->band;
  a->right += right, a->total++;
  a->near_right += near && right, a->near_total += near;
  a->far_right += !near && right, a->far_total += !near;
}

static void report(const attribute *a) {
  double acc = a->total ? (double)a->right / a->total : 0;
  double near = a->near_total ? 100.0 * a->near_right / a->near_total : 0;
  double far = a->far_total ? 100.0 * a->far_right / a->far_total : 0;
  printf("  %s: %d/%d right (%.1f %%); near the threshold %d/%d (%.0f %%), beyond %d/%d "
         "(%.0f %%)\n",
         a->name, a->right, a->total, 100 * acc, a->near_right, a->near_total, near, a->far_right,
         a->far_total, far);
  CHECK_MSG(a->total >= 40, "%s: only %d labelled faces", a->name, a->total);
  CHECK_MSG(acc >= ACCURACY_BAR, "%s: %.3f under the bar %.2f", a->name, acc, ACCURACY_BAR);
  CHECK_NEAR(a->rule->near_confidence, near, CONFIDENCE_SLACK);
  CHECK_NEAR(a->rule->far_confidence, far, CONFIDENCE_SLACK);
}

static void test_labelled_faces(void) {
  char data[600], path[1200], model[600];
  snprintf(data, sizeof data, "%s/data", shared_dir());
  FILE *labels = fopen("tests/attributes/lfw-labels.txt", "r");
  CHECK(labels != NULL);
  if (!labels) return;
  snprintf(path, sizeof path, "%s/lfw/images", data);
  if (!file_exists(path)) {
    fclose(labels);
    TEST_SKIP("%s absent (set MIEN_SHARED)", path);
  }
  if (mien_find_model("fr_landmark.onnx", model, sizeof model)) {
    fclose(labels);
    TEST_SKIP("models absent");
  }
  mien_faces *f;
  char err[512], line[1024], file[600], eyes[16], mouth[16];
  mien_faces_options opt = {.threads = 0};
  CHECK(mien_faces_create(&opt, &f, err, sizeof err) == MIEN_OK);
  attribute attrs[2] = {
      {.name = "EyesOpen", .rule = &mien_eyes_open_rule, .ratio = mien_face_eye_openness},
      {.name = "MouthOpen", .rule = &mien_mouth_open_rule, .ratio = mien_face_mouth_openness}};
  int missing = 0;
  while (fgets(line, sizeof line, labels)) {
    if (line[0] == '#' || sscanf(line, "%599s %15s %15s", file, eyes, mouth) != 3) continue;
    snprintf(path, sizeof path, "%s/%s", data, file);
    size_t len;
    uint8_t *bytes = mien_read_file(path, &len);
    mien_image img;
    mien_face *faces = NULL;
    int n = 0;
    if (!bytes || mien_decode_image(bytes, len, &img, err, sizeof err) != MIEN_OK) {
      free(bytes);
      missing++;
      continue;
    }
    if (mien_faces_detect(f, &img, &faces, &n, err, sizeof err) == MIEN_OK && n > 0 &&
        faces[0].has_landmarks) {
      score(&attrs[0], &faces[0], eyes);
      score(&attrs[1], &faces[0], mouth);
    } else {
      missing++;
    }
    free(faces);
    mien_image_free(&img);
    free(bytes);
  }
  fclose(labels);
  mien_faces_free(f);
  CHECK_MSG(missing == 0, "%d labelled images unreadable or without a face", missing);
  report(&attrs[0]);
  report(&attrs[1]);
}

int main(void) {
  RUN(test_labelled_faces);
  int rc = check_summary();
  return rc == 0 && check_skips_ == check_cases_ ? 77 : rc; /* skipped, never "passed" */
}
