/* detect.c - `mien detect IMAGE...`: Rekognition's DetectFaces from the command line. One
 * DetectFacesResponse JSON object per image on stdout (NDJSON when there are several); a refused
 * image gets one line of Rekognition's error JSON on stderr and the run goes on with the next. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/ops.h"
#include "cli/cli.h"
#include "face/detect.h"
#include "util/util.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: mien detect IMAGE... [options]\n\n"
          "Finds the faces in JPEG or PNG images and prints, per image, one line of Rekognition\n"
          "DetectFaces JSON: {\"FaceDetails\":[{BoundingBox, Landmarks, Pose, Quality,\n"
          "Confidence}, ...]}, largest face first. Coordinates are ratios of the upright image.\n\n"
          "options:\n"
          "  --min-face PX        smallest face side to find, in image pixels (default: %d px per\n"
          "                       %d px of the image's larger side, at least %d; 40 px in a\n"
          "                       1920 px photo). Smaller finds smaller faces, slower.\n"
          "  --min-score P        threshold of the calibrated confidence 0..1 (default %.2f,\n"
          "                       the same precision whatever the detector: docs/detection.md)\n"
          "  --threads N          threads per inference (default: all cores)\n"
          "  --detector D         \"default\" (fr_detect), yunet:PATH (OpenCV Zoo's YuNet ONNX)\n"
          "                       or fusion:PATH (both, each a second opinion on the other)\n"
          "  --annotate OUT.png   also write the image with boxes and landmarks drawn (one image)\n"
          "  --attributes A       DEFAULT or ALL; both give the same fields: mien never infers\n"
          "                       gender, age, emotion or ethnicity, so ALL adds nothing\n"
          "                       demographic\n"
          "  --max-bytes N        largest image file accepted (default 5242880, Rekognition's)\n"
          "  --runs N             benchmark: decode + detect each image N times after a warm-up\n"
          "                       and print {image, faces, runs, ms_median, ms_min,\n"
          "                       passes_ms_median (the detector passes alone), decode_scale,\n"
          "                       passes} instead of DetectFaces (bench/detect.sh)\n\n"
          "errors: one line of JSON on stderr, {\"__type\": InvalidImageFormatException |\n"
          "ImageTooLargeException | InvalidParameterException | ..., \"Message\": ...}; exit 3\n"
          "when an image was refused, 4 when models or files could not be read.\n",
          MIEN_MIN_FACE_REF, MIEN_MIN_FACE_REF_SIDE, MIEN_MIN_FACE_FLOOR,
          (double)MIEN_DETECT_MIN_SCORE);
}

/* Reads at most cap + 1 bytes: enough for the decoder to refuse an oversized file with its own
 * ImageTooLargeException, without reading a huge one whole. */
static uint8_t *read_capped(const char *path, size_t cap, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t want = cap + 1, n = 0, size = 1 << 16;
  uint8_t *buf = NULL;
  for (;;) {
    if (size > want) size = want;
    uint8_t *b = realloc(buf, size ? size : 1);
    if (!b) {
      free(buf);
      fclose(f);
      errno = ENOMEM;
      return NULL;
    }
    buf = b;
    n += fread(buf + n, 1, size - n, f);
    if (n < size || size == want) break;
    size *= 2;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    free(buf);
    errno = EIO;
    return NULL;
  }
  *len = n;
  return buf;
}

static void annotate(mien_image *img, const mien_face *faces, int n) {
  int big = img->w > img->h ? img->w : img->h;
  int thick = big / 500 + 1, radius = big / 800 + 1;
  for (int i = 0; i < n; i++) {
    const mien_face *f = &faces[i];
    mien_image_draw_rect(img, (int)f->x0, (int)f->y0, (int)f->x1, (int)f->y1, 0, 255, 0, thick);
    if (!f->has_landmarks) continue;
    for (int k = 0; k < 68; k++)
      mien_image_draw_point(img, (int)f->lm68[k].x, (int)f->lm68[k].y, radius, 255, 40, 40);
  }
}

typedef struct {
  mien_image_limits lim;
  const char *annotate;
  int runs;
} detect_args;

/* Decodes and detects; on failure reports and returns the exit code, else 0. */
static int decode_detect(mien_faces *fx, const detect_args *a, const char *path,
                         const uint8_t *bytes, size_t len, mien_image *img, mien_image_info *info,
                         mien_face **faces, int *n) {
  char err[512] = "";
  /* --annotate draws on the full image, found exactly as DetectFaces finds it. */
  mien_status st = mien_faces_find(fx, bytes, len, &a->lim, a->annotate != NULL, img, info, faces,
                                   n, err, sizeof err);
  return st == MIEN_OK ? EXIT_OK : cli_fail(path, st, err);
}

/* Median of the runs of the detector passes alone (resampling the image into each pass's input
 * and running the net), for comparison with another runtime on the same sizes. */
static double passes_ms(mien_faces *fx, const mien_image *img, int sizes[][2], int np, double *ms,
                        int runs) {
  for (int r = 0; r < runs; r++) {
    double t0 = mien_now_ms();
    for (int i = 0; i < np; i++) {
      mien_det *d;
      int n;
      /* A threshold above 1 keeps no candidate: only the net's time is wanted. */
      if (mien_faces_detect_raw(fx, img, sizes[i][0], sizes[i][1], 2.0f, &d, &n, NULL, 0) ==
          MIEN_OK)
        free(d);
    }
    ms[r] = mien_now_ms() - t0;
  }
  mien_sort_doubles(ms, runs);
  return ms[runs / 2];
}

/* --runs: times decode + detect from the encoded bytes, as a server would see one request. */
static int bench_one(mien_faces *fx, const detect_args *a, const char *path, const uint8_t *bytes,
                     size_t len) {
  double *ms = malloc((size_t)a->runs * sizeof *ms);
  if (!ms) return cli_fail(path, MIEN_ERR_NOMEM, "out of memory");
  mien_image img;
  mien_image_info info;
  mien_face *faces;
  int n = 0, rc = EXIT_OK;
  for (int r = -1; r < a->runs && rc == EXIT_OK; r++) { /* r = -1: warm-up */
    double t0 = mien_now_ms();
    rc = decode_detect(fx, a, path, bytes, len, &img, &info, &faces, &n);
    if (rc != EXIT_OK) break;
    if (r >= 0) ms[r] = mien_now_ms() - t0;
    free(faces);
    if (r + 1 < a->runs) mien_image_free(&img);
  }
  if (rc == EXIT_OK) {
    mien_sort_doubles(ms, a->runs);
    double median = ms[a->runs / 2], min = ms[0];
    int sizes[MIEN_MAX_PASSES][2];
    int np = mien_faces_pyramid(fx, img.w, img.h, info.scale, sizes);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "image", path);
    cJSON_AddNumberToObject(o, "faces", n);
    cJSON_AddNumberToObject(o, "runs", a->runs);
    cJSON_AddNumberToObject(o, "ms_median", median);
    cJSON_AddNumberToObject(o, "ms_min", min);
    cJSON_AddNumberToObject(o, "passes_ms_median", passes_ms(fx, &img, sizes, np, ms, a->runs));
    cJSON_AddNumberToObject(o, "decode_scale", info.scale);
    cJSON *arr = cJSON_AddArrayToObject(o, "passes");
    for (int i = 0; i < np; i++) cJSON_AddItemToArray(arr, cJSON_CreateIntArray(sizes[i], 2));
    cli_print_json(stdout, o);
    mien_image_free(&img);
  }
  free(ms);
  return rc;
}

/* --annotate: the response, then the image with the faces drawn. */
static int detect_annotate(mien_faces *fx, const detect_args *a, const char *path,
                           const uint8_t *bytes, size_t len) {
  mien_image img;
  mien_image_info info;
  mien_face *faces = NULL;
  int n = 0;
  int rc = decode_detect(fx, a, path, bytes, len, &img, &info, &faces, &n);
  if (rc != EXIT_OK) return rc;
  cJSON *resp = cJSON_CreateObject();
  cJSON *arr = cJSON_AddArrayToObject(resp, "FaceDetails");
  for (int i = 0; i < n; i++)
    cJSON_AddItemToArray(arr, mien_face_detail_json(&faces[i], info.orig_w, info.orig_h));
  cli_print_json(stdout, resp);
  annotate(&img, faces, n);
  if (mien_image_write_png(a->annotate, &img) != 0)
    rc = cli_fail(a->annotate, MIEN_ERR_IO, strerror(errno));
  free(faces);
  mien_image_free(&img);
  return rc;
}

/* One image: the DetectFaces operation through the service (svc), the image's bytes standing
 * for Image.Bytes; or the benchmark or annotation (fx). */
static int detect_one(mien_service *svc, mien_faces *fx, const detect_args *a, const char *path) {
  size_t len = 0;
  uint8_t *bytes = read_capped(path, a->lim.max_bytes, &len);
  if (!bytes) return cli_fail(path, MIEN_ERR_IO, strerror(errno));
  int rc = a->runs > 0   ? bench_one(fx, a, path, bytes, len)
           : a->annotate ? detect_annotate(fx, a, path, bytes, len)
                         : cli_call(svc, path, "DetectFaces", cJSON_CreateObject(), bytes, len);
  free(bytes);
  return rc;
}

static int parse_int(const char *s, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

int cmd_detect(int argc, char **argv) {
  static const struct option longopts[] = {{"min-face", required_argument, NULL, 'm'},
                                           {"min-score", required_argument, NULL, 's'},
                                           {"threads", required_argument, NULL, 't'},
                                           {"detector", required_argument, NULL, 'd'},
                                           {"annotate", required_argument, NULL, 'a'},
                                           {"attributes", required_argument, NULL, 'A'},
                                           {"max-bytes", required_argument, NULL, 'b'},
                                           {"runs", required_argument, NULL, 'r'},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  mien_faces_options opt = {0, 0, 0, NULL};
  detect_args a = {.annotate = NULL};
  mien_image_limits_default(&a.lim);
  int c, li = 0;
  long v;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", longopts, &li)) != -1) {
    switch (c) {
    case 'm':
      if (parse_int(optarg, MIEN_MIN_FACE_LIMIT, 1 << 16, &v)) goto bad;
      opt.min_face = (int)v;
      break;
    case 's': {
      char *end;
      opt.min_score = strtof(optarg, &end);
      if (end == optarg || *end || !(opt.min_score > 0 && opt.min_score < 1)) goto bad;
      break;
    }
    case 't':
      if (parse_int(optarg, 0, 1024, &v)) goto bad;
      opt.threads = (int)v;
      break;
    case 'd':
      opt.detector = optarg;
      break;
    case 'a':
      a.annotate = optarg;
      break;
    case 'A':
      if (strcmp(optarg, "DEFAULT") != 0 && strcmp(optarg, "ALL") != 0) goto bad;
      break;
    case 'b':
      if (parse_int(optarg, 1, 1L << 30, &v)) goto bad;
      a.lim.max_bytes = (size_t)v;
      break;
    case 'r':
      if (parse_int(optarg, 1, 100000, &v)) goto bad;
      a.runs = (int)v;
      break;
    default:
      return cli_usage(usage, c == 'h');
    }
  }
  int nimages = argc - optind;
  if (nimages < 1 || (a.annotate && nimages != 1)) {
    fprintf(stderr, "mien detect: %s\n",
            nimages < 1 ? "no image given" : "--annotate takes exactly one image");
    usage(stderr);
    return EXIT_USAGE;
  }

  char err[512] = "";
  mien_faces *fx = NULL;
  mien_service *svc = NULL;
  mien_status st;
  if (a.runs > 0 || a.annotate) {
    st = mien_faces_create(&opt, &fx, err, sizeof err);
  } else {
    mien_service_config cfg;
    mien_service_config_init(&cfg);
    cfg.no_store = 1;
    cfg.principal = "cli";
    cfg.threads = opt.threads, cfg.min_face = opt.min_face, cfg.min_score = opt.min_score;
    cfg.detector = opt.detector;
    cfg.max_image_bytes = a.lim.max_bytes;
    st = mien_service_open(&cfg, &svc, err, sizeof err);
    if (st == MIEN_OK) st = mien_service_warm(svc, err, sizeof err);
  }
  if (st != MIEN_OK) {
    mien_service_close(svc);
    return cli_fail("mien detect", st, err);
  }
  int rc = EXIT_OK;
  for (int i = optind; i < argc; i++) {
    int r = detect_one(svc, fx, &a, argv[i]);
    if (rc == EXIT_OK) rc = r;
  }
  mien_faces_free(fx);
  mien_service_close(svc);
  return rc;

bad:
  fprintf(stderr, "mien detect: bad value '%s' for --%s (see mien detect --help)\n", optarg,
          longopts[li].name);
  return EXIT_USAGE;
}
