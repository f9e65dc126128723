/* compare.c - the recognition commands:
 *   mien compare SOURCE TARGET   Rekognition's CompareFaces: the largest face of SOURCE against
 *                                every face of TARGET, with the calibrated 0-100 Similarity
 *   mien embed IMAGE             each face's box and 512-d embedding, for users who keep their
 *                                own index
 * Both run on the public service (mien.h); the accuracy measurements that need the face layer's
 * insides are mien-eval (tools/eval/). Output is JSON on stdout; errors are one line on stderr,
 * named as Rekognition names them. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "mien.h"

/* Ends option parsing at --help (usage on stdout, exit 0) or a bad option (stderr, usage). */
static int usage_exit(void (*usage)(FILE *), int opt) {
  usage(opt == 'h' ? stdout : stderr);
  return opt == 'h' ? EXIT_OK : EXIT_USAGE;
}

/* ---- mien compare ---- */

static void compare_usage(FILE *f) {
  fprintf(f, "usage: mien compare SOURCE TARGET [--threshold S]\n"
             "  Compares the largest face in SOURCE with every face in TARGET (JPEG or PNG) and\n"
             "  prints Rekognition's CompareFaces response. --threshold: the least Similarity\n"
             "  (0-100, default 80) for a FaceMatch; 80 accepts about 1 in 10,000 pairs of\n"
             "  different people, 99 about 1 in 1,000,000 (docs/similarity.md).\n"
             "  No face in SOURCE: InvalidParameterException, exit 3.\n");
}

/* The CompareFaces operation on a request naming both images by their bytes. */
static int compare_files(const char *src, const char *tgt, double threshold) {
  cJSON *req = cJSON_CreateObject();
  const char *paths[2] = {src, tgt}, *fields[2] = {"SourceImage", "TargetImage"};
  for (int i = 0; i < 2; i++) {
    size_t len;
    uint8_t *bytes = cli_read_file(paths[i], CLI_NO_CAP, &len);
    char *b64 = bytes ? cli_base64(bytes, len) : NULL;
    free(bytes);
    if (!b64) {
      char msg[4200];
      snprintf(msg, sizeof msg, "cannot read %s", paths[i]);
      cJSON_Delete(req);
      return cli_fail("compare", MIEN_ERR_IO, msg);
    }
    cJSON_AddStringToObject(cJSON_AddObjectToObject(req, fields[i]), "Bytes", b64);
    free(b64);
  }
  cJSON_AddNumberToObject(req, "SimilarityThreshold", threshold);
  /* No store: `mien compare` touches no data directory. */
  mien_service *svc;
  int rc = cli_open_service(NULL, 1, &svc);
  if (rc != EXIT_OK) {
    cJSON_Delete(req);
    return rc;
  }
  rc = cli_call(svc, NULL, "CompareFaces", req, NULL, 0);
  mien_service_close(svc);
  return rc;
}

int cmd_compare(int argc, char **argv) {
  static const struct option opts[] = {{"threshold", required_argument, NULL, 's'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  float threshold = 80;
  int c;
  char *end;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 's':
      threshold = strtof(optarg, &end);
      if (end == optarg || *end || !(threshold >= 0 && threshold <= 100)) {
        fprintf(stderr, "mien compare: --threshold must be a number from 0 to 100\n");
        return EXIT_USAGE;
      }
      break;
    default:
      return usage_exit(compare_usage, c);
    }
  }
  if (argc - optind != 2) return usage_exit(compare_usage, '?');
  return compare_files(argv[optind], argv[optind + 1], threshold);
}

/* ---- mien embed ---- */

static void embed_usage(FILE *f) {
  fprintf(f,
          "usage: mien embed IMAGE [--threads N]\n"
          "  Prints {\"Faces\":[{\"BoundingBox\",\"Confidence\",\"Embedding\"}]}: each face's box\n"
          "  and its L2-normalised 512-d embedding, largest face first. The cosine of two\n"
          "  embeddings (their dot product) is what `mien compare` maps to Similarity.\n"
          "  (The per-face timing `mien embed --bench` gave is mien-bench-engine --embed.)\n");
}

/* {"Faces":[{BoundingBox, Confidence, Embedding}]} of the faces that could be aligned (only those
 * have an embedding), numbers as DetectFaces prints them. */
static cJSON *embeddings_json(const mien_face_detail *faces, const float *emb, int n) {
  cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "Faces");
  for (int i = 0; i < n; i++) {
    const mien_face_detail *d = &faces[i];
    if (!d->has_landmarks) continue;
    cJSON *face = cJSON_CreateObject(), *box = cJSON_AddObjectToObject(face, "BoundingBox");
    cJSON_AddItemToObject(box, "Width", cli_json_number(d->width, 6));
    cJSON_AddItemToObject(box, "Height", cli_json_number(d->height, 6));
    cJSON_AddItemToObject(box, "Left", cli_json_number(d->left, 6));
    cJSON_AddItemToObject(box, "Top", cli_json_number(d->top, 6));
    cJSON_AddItemToObject(face, "Confidence", cli_json_number(d->confidence, 6));
    cJSON *vec = cJSON_AddArrayToObject(face, "Embedding");
    for (int k = 0; k < MIEN_EMBEDDING_DIM; k++)
      cJSON_AddItemToArray(vec, cli_json_number(emb[(size_t)i * MIEN_EMBEDDING_DIM + k], 9));
    cJSON_AddItemToArray(arr, face);
  }
  return root;
}

int cmd_embed(int argc, char **argv) {
  static const struct option opts[] = {{"threads", required_argument, NULL, 't'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int threads = 0, c;
  char *end;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 't': {
      long v = strtol(optarg, &end, 10);
      if (end == optarg || *end || v < 0 || v > 100000) {
        fprintf(stderr, "mien embed: --threads wants a whole number (0 = all cores)\n");
        return EXIT_USAGE;
      }
      threads = (int)v;
      break;
    }
    default:
      return usage_exit(embed_usage, c);
    }
  }
  if (argc - optind != 1) return usage_exit(embed_usage, '?');
  const char *path = argv[optind];
  size_t len;
  uint8_t *bytes = cli_read_file(path, CLI_NO_CAP, &len);
  if (!bytes) {
    char msg[4200];
    snprintf(msg, sizeof msg, "cannot read %s", path);
    return cli_fail("embed", MIEN_ERR_IO, msg);
  }
  mien_service_config cfg;
  mien_service_config_init(&cfg);
  cfg.no_store = 1; /* `mien embed` touches no data directory */
  cfg.principal = "cli";
  cfg.threads = threads;
  char err[1024] = "";
  mien_service *svc = NULL;
  mien_face_detail *faces = NULL;
  float *emb = NULL;
  int n = 0;
  mien_status st = mien_service_open(&cfg, &svc, err, sizeof err);
  if (st == MIEN_OK) st = mien_service_embed(svc, bytes, len, &faces, &emb, &n, err, sizeof err);
  free(bytes);
  mien_service_close(svc);
  char msg[1100];
  snprintf(msg, sizeof msg, "%s: %s", path, err);
  int rc = st == MIEN_OK ? cli_print_json(stdout, embeddings_json(faces, emb, n))
                         : cli_fail("embed", st, msg);
  mien_free(faces);
  mien_free(emb);
  return rc;
}
