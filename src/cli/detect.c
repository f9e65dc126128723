/* detect.c - `mien detect IMAGE...`: Rekognition's DetectFaces from the command line. One
 * DetectFacesResponse JSON object per image on stdout (NDJSON when there are several); a refused
 * image gets one line of Rekognition's error JSON on stderr and the run goes on with the next. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"

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

typedef struct {
  const char *annotate;
  size_t max_bytes;
  int runs;
} detect_args;

/* --runs: times decode + detect from the encoded bytes, as a server would see one request. */
static int bench_one(mien_service *svc, const detect_args *a, const char *path,
                     const uint8_t *bytes, size_t len) {
  char err[512] = "";
  mien_detect_timing t;
  mien_status st = mien_service_time_detect(svc, bytes, len, a->runs, &t, err, sizeof err);
  if (st != MIEN_OK) return cli_fail(path, st, err);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "image", path);
  cJSON_AddNumberToObject(o, "faces", t.faces);
  cJSON_AddNumberToObject(o, "runs", t.runs);
  cJSON_AddNumberToObject(o, "ms_median", t.ms_median);
  cJSON_AddNumberToObject(o, "ms_min", t.ms_min);
  cJSON_AddNumberToObject(o, "passes_ms_median", t.passes_ms_median);
  cJSON_AddNumberToObject(o, "decode_scale", t.decode_scale);
  cJSON *arr = cJSON_AddArrayToObject(o, "passes");
  for (int i = 0; i < t.npasses; i++)
    cJSON_AddItemToArray(arr, cJSON_CreateIntArray(t.passes[i], 2));
  return cli_print_json(stdout, o);
}

/* Writes len bytes to a new or truncated file at path: 0, or -1 with errno set. */
static int write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t n = fwrite(data, 1, len, f);
  int e = n == len ? 0 : errno ? errno : EIO;
  if (fclose(f) != 0 && !e) e = errno;
  if (!e) return 0;
  remove(path);
  errno = e;
  return -1;
}

/* --annotate: the response, then the image with the faces drawn. */
static int detect_annotate(mien_service *svc, const detect_args *a, const char *path,
                           const uint8_t *bytes, size_t len) {
  char err[512] = "", *resp = NULL;
  void *png = NULL;
  size_t png_len = 0;
  mien_status st =
      mien_service_detect_annotated(svc, bytes, len, &resp, &png, &png_len, err, sizeof err);
  if (st != MIEN_OK) return cli_fail(path, st, err);
  printf("%s\n", resp);
  fflush(stdout);
  int rc = write_file(a->annotate, png, png_len) == 0
               ? EXIT_OK
               : cli_fail(a->annotate, MIEN_ERR_IO, strerror(errno));
  mien_free(resp);
  mien_free(png);
  return rc;
}

/* One image: the DetectFaces operation through the service, the image's bytes standing for
 * Image.Bytes; or the benchmark or annotation. */
static int detect_one(mien_service *svc, const detect_args *a, const char *path) {
  size_t len = 0;
  uint8_t *bytes = cli_read_file(path, a->max_bytes, &len);
  if (!bytes) return cli_fail(path, MIEN_ERR_IO, strerror(errno));
  int rc = a->runs > 0   ? bench_one(svc, a, path, bytes, len)
           : a->annotate ? detect_annotate(svc, a, path, bytes, len)
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
  mien_service_config cfg;
  mien_service_config_init(&cfg);
  detect_args a = {.max_bytes = 5242880}; /* Rekognition's 5 MB, the service's default too */
  int c, li = 0;
  long v;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", longopts, &li)) != -1) {
    switch (c) {
    case 'm':
      if (parse_int(optarg, MIEN_MIN_FACE_LIMIT, 1 << 16, &v)) goto bad;
      cfg.min_face = (int)v;
      break;
    case 's': {
      char *end;
      cfg.min_score = strtof(optarg, &end);
      if (end == optarg || *end || !(cfg.min_score > 0 && cfg.min_score < 1)) goto bad;
      break;
    }
    case 't':
      if (parse_int(optarg, 0, 1024, &v)) goto bad;
      cfg.threads = (int)v;
      break;
    case 'd':
      cfg.detector = optarg;
      break;
    case 'a':
      a.annotate = optarg;
      break;
    case 'A':
      if (strcmp(optarg, "DEFAULT") != 0 && strcmp(optarg, "ALL") != 0) goto bad;
      break;
    case 'b':
      if (parse_int(optarg, 1, 1L << 30, &v)) goto bad;
      a.max_bytes = (size_t)v;
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
  mien_service *svc = NULL;
  cfg.no_store = 1;
  cfg.principal = "cli";
  cfg.max_image_bytes = a.max_bytes;
  mien_status st = mien_service_open(&cfg, &svc, err, sizeof err);
  if (st == MIEN_OK) st = mien_service_warm(svc, err, sizeof err);
  if (st != MIEN_OK) {
    mien_service_close(svc);
    return cli_fail("mien detect", st, err);
  }
  int rc = EXIT_OK;
  for (int i = optind; i < argc; i++) {
    int r = detect_one(svc, &a, argv[i]);
    if (rc == EXIT_OK) rc = r;
  }
  mien_service_close(svc);
  return rc;

bad:
  fprintf(stderr, "mien detect: bad value '%s' for --%s (see mien detect --help)\n", optarg,
          longopts[li].name);
  return EXIT_USAGE;
}
