/* test_extreme_pose.c - QualityFilter's EXTREME_POSE rule (src/api/ops_faces.c): a face whose
 * |Yaw| reaches 58 or |Pitch| 45 degrees is refused under LOW, MEDIUM, AUTO and HIGH with that
 * reason, never under NONE, and never for a face without landmarks (which has no pose: it gets
 * LOW_FACE_QUALITY). Faces here are made up, so each reason stands alone; the rule on real photos
 * (the wild set's profiles, the cameraman of tests/data) is tests/test_extreme_pose_cli.sh's. */
#include "api/ops.h"
#include "check.h"

/* A large, sharp, bright, confident face with landmarks at the given pose. */
static mien_face face_at(float yaw, float pitch) {
  mien_face f = {.x0 = 100, .y0 = 100, .x1 = 300, .y1 = 340, .score = 0.9999f};
  f.has_landmarks = 1;
  f.yaw = yaw, f.pitch = pitch;
  f.brightness = 50, f.sharpness = 90;
  return f;
}

/* The reasons face f fails QualityFilter q for, joined by ",". */
static const char *reasons(const mien_face *f, const char *q) {
  static char buf[256];
  cJSON *r = cJSON_CreateArray();
  int n = op_quality_reasons(f, q, r);
  buf[0] = '\0';
  for (int i = 0; i < cJSON_GetArraySize(r); i++) {
    if (i) strncat(buf, ",", sizeof buf - strlen(buf) - 1);
    strncat(buf, cJSON_GetArrayItem(r, i)->valuestring, sizeof buf - strlen(buf) - 1);
  }
  CHECK(n == cJSON_GetArraySize(r));
  cJSON_Delete(r);
  return buf;
}

static void test_levels(void) {
  static const char *const levels[] = {"LOW", "MEDIUM", "AUTO", "HIGH"};
  const struct {
    float yaw, pitch;
    const char *want;
  } cases[] = {
      {0, 0, ""},
      {57.9f, 0, ""},
      {-57.9f, 44.9f, ""},
      {58, 0, "EXTREME_POSE"},
      {-62, 5, "EXTREME_POSE"},
      {10, 45, "EXTREME_POSE"},
      {10, -50, "EXTREME_POSE"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    mien_face f = face_at(cases[c].yaw, cases[c].pitch);
    for (size_t l = 0; l < sizeof levels / sizeof *levels; l++) {
      const char *got = reasons(&f, levels[l]);
      CHECK_MSG(!strcmp(got, cases[c].want), "yaw %g pitch %g %s: [%s], want [%s]",
                (double)cases[c].yaw, (double)cases[c].pitch, levels[l], got, cases[c].want);
    }
    CHECK_MSG(!strcmp(reasons(&f, "NONE"), ""), "NONE filters yaw %g", (double)cases[c].yaw);
  }
}

static void test_with_other_reasons(void) {
  mien_face f = face_at(70, 0);
  f.x1 = f.x0 + 40; /* shorter side 40 px: small for HIGH (64), not for AUTO (32) */
  CHECK(!strcmp(reasons(&f, "AUTO"), "EXTREME_POSE"));
  CHECK(!strcmp(reasons(&f, "HIGH"), "SMALL_BOUNDING_BOX,EXTREME_POSE"));
  f.has_landmarks = 0; /* no landmarks, no pose to judge */
  CHECK(!strcmp(reasons(&f, "AUTO"), "LOW_FACE_QUALITY"));
  CHECK(!strcmp(reasons(&f, "NONE"), "LOW_FACE_QUALITY"));
}

int main(void) {
  RUN(test_levels);
  RUN(test_with_other_reasons);
  return check_summary();
}
