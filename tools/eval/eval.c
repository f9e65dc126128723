/* eval.c - mien-eval, the accuracy measurements (formerly `mien eval`), a research tool kept out
 * of the `mien` program because it needs the face layer's insides (the embedding of each LFW image
 * with its fallback box, the impostor histograms the Similarity mapping is calibrated from), which
 * the public API (mien.h) rightly does not show:
 *   mien-eval lfw        accuracy on LFW's verification protocol
 *   mien-eval calibrate  the impostor statistics behind the calibrated Similarity
 *   mien-eval detect     detection precision and recall on labelled photos (detect.c)
 * Flags and output are those `mien eval` had, so results stay comparable. Output is JSON on
 * stdout; errors are one line on stderr, named as Rekognition names them (src/cli/output.c). */
#include <dirent.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "eval.h"
#include "face/detect.h"
#include "face/embed.h"
#include "face/eval.h"
#include "util/util.h"

/* Ends option parsing at --help (usage on stdout, exit 0) or a bad option (stderr, usage). */
static int usage_exit(void (*usage)(FILE *), int opt) {
  usage(opt == 'h' ? stdout : stderr);
  return opt == 'h' ? EXIT_OK : EXIT_USAGE;
}

/* --threads N: 0 (all cores) or more. */
static int parse_threads(const char *cmd, const char *arg, int *threads) {
  char *end;
  *threads = (int)strtol(arg, &end, 10);
  if (end == arg || *end || *threads < 0) {
    fprintf(stderr, "mien-%s: --threads must be 0 (all cores) or more\n", cmd);
    return EXIT_USAGE;
  }
  return EXIT_OK;
}

/* An image set to embed: paths (owned) and, for calibration, an identity per image. */
typedef struct {
  char **paths;
  int *identity;
  int n, cap;
} image_set;

static int set_add(image_set *s, const char *path, int identity) {
  if (s->n == s->cap) {
    int cap = s->cap ? 2 * s->cap : 1024;
    char **p = realloc(s->paths, (size_t)cap * sizeof *p);
    if (p) s->paths = p;
    int *id = realloc(s->identity, (size_t)cap * sizeof *id);
    if (id) s->identity = id;
    if (!p || !id) return -1;
    s->cap = cap;
  }
  if (!(s->paths[s->n] = strdup(path))) return -1;
  s->identity[s->n++] = identity;
  return 0;
}

static void set_free(image_set *s) {
  for (int i = 0; i < s->n; i++) free(s->paths[i]);
  free(s->paths);
  free(s->identity);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Index of path in the sorted set (which holds it). */
static int set_find(const image_set *s, const char *path) {
  const char *key = path;
  char **hit = bsearch(&key, s->paths, (size_t)s->n, sizeof *s->paths, cmp_str);
  return (int)(hit - s->paths);
}

/* Embeds the set; on failure prints the error and returns the exit code. */
static int embed_set(const image_set *s, int threads, int flip, const char *detector, float rotate,
                     float **emb, float **yaw, uint8_t **fallback) {
  *emb = malloc((size_t)(s->n ? s->n : 1) * MIEN_EMBED_DIM * sizeof **emb);
  *fallback = calloc((size_t)(s->n ? s->n : 1), 1);
  if (yaw) *yaw = malloc((size_t)(s->n ? s->n : 1) * sizeof **yaw);
  if (!*emb || !*fallback || (yaw && !*yaw))
    return cli_fail(NULL, MIEN_ERR_NOMEM, "no memory for the embeddings");
  char err[1024] = "";
  mien_status st =
      mien_eval_embed_images((const char *const *)s->paths, s->n, threads, flip, detector, rotate,
                             *emb, yaw ? *yaw : NULL, *fallback, err, sizeof err);
  return st == MIEN_OK ? EXIT_OK : cli_fail(NULL, st, err);
}

/* Adds the images whose face was not detected, and so were embedded from the fallback box, and
 * the seconds since t0 (ms) to root, and prints it. */
static int print_eval(cJSON *root, const image_set *s, const uint8_t *fallback, const char *dir,
                      double t0) {
  cJSON *arr = cJSON_CreateArray();
  size_t skip = strlen(dir) + 1;
  int nfail = 0;
  for (int i = 0; i < s->n; i++) {
    nfail += fallback[i];
    if (fallback[i]) cJSON_AddItemToArray(arr, cJSON_CreateString(s->paths[i] + skip));
  }
  cJSON_AddNumberToObject(root, "failures", nfail);
  cJSON_AddItemToObject(root, "failed_images", arr);
  cJSON_AddItemToObject(root, "seconds", cli_json_number((mien_now_ms() - t0) / 1e3, 4));
  return cli_print_json(stdout, root);
}

typedef struct {
  int a, b; /* image indices */
  uint8_t same;
  int fold;
} lfw_pair;

/* Reads LFW's pairs file (header "FOLDS<TAB>N", then per fold N same-person lines
 * "Name i j" and N different-person lines "NameA i NameB j") and the image paths it names. */
static int read_pairs(const char *file, const char *dir, image_set *set, lfw_pair **pairs,
                      int *npairs, int *nfolds) {
  FILE *fp = fopen(file, "r");
  if (!fp) return cli_fail(NULL, MIEN_ERR_IO, "cannot open the pairs file");
  int per_fold = 0;
  char line[512], n1[200], n2[200];
  int ok = fgets(line, sizeof line, fp) && sscanf(line, "%d %d", nfolds, &per_fold) == 2 &&
           *nfolds > 1 && per_fold > 0;
  int total = ok ? 2 * *nfolds * per_fold : 0;
  *pairs = calloc((size_t)(total ? total : 1), sizeof **pairs);
  char(*names)[2][1024] = calloc((size_t)(total ? total : 1), sizeof *names);
  *npairs = 0;
  while (ok && *pairs && names && *npairs < total && fgets(line, sizeof line, fp)) {
    int i, j;
    lfw_pair *p = &(*pairs)[*npairs];
    if (sscanf(line, "%199s %d %199s %d", n1, &i, n2, &j) == 4)
      p->same = 0;
    else if (sscanf(line, "%199s %d %d", n1, &i, &j) == 3)
      p->same = 1, strcpy(n2, n1);
    else
      break;
    snprintf(names[*npairs][0], 1024, "%s/%s/%s_%04d.jpg", dir, n1, n1, i);
    snprintf(names[*npairs][1], 1024, "%s/%s/%s_%04d.jpg", dir, n2, n2, j);
    p->fold = *npairs / (2 * per_fold);
    ++*npairs;
  }
  fclose(fp);
  ok = ok && *pairs && names && *npairs == total;
  /* The distinct images, sorted, then each pair's indices into them. */
  for (int k = 0; ok && k < total; k++)
    for (int side = 0; ok && side < 2; side++) ok = set_add(set, names[k][side], 0) == 0;
  if (ok) {
    qsort(set->paths, (size_t)set->n, sizeof *set->paths, cmp_str);
    int u = 0;
    for (int k = 0; k < set->n; k++) {
      if (u && !strcmp(set->paths[u - 1], set->paths[k]))
        free(set->paths[k]);
      else
        set->paths[u++] = set->paths[k];
    }
    set->n = u;
    for (int k = 0; k < total; k++)
      (*pairs)[k].a = set_find(set, names[k][0]), (*pairs)[k].b = set_find(set, names[k][1]);
  }
  free(names);
  if (!ok) {
    snprintf(line, sizeof line,
             "%.300s is not an LFW pairs file (header FOLDS N, then 2N lines per fold)", file);
    return cli_fail(NULL, MIEN_ERR_INVALID_PARAMETER, line);
  }
  return EXIT_OK;
}

typedef struct {
  const char *images, *pairs, *detector;
  int threads, flip;
  float rotate;
} eval_args;

/* Pairs with a turned face: either photo's |Yaw| (upright) at least this. */
#define EVAL_TURNED_YAW 30.0f

/* The pairs in which either face is turned (EVAL_TURNED_YAW), judged at each fold's threshold:
 * the alignment's test on pose. */
static void add_turned_pairs(cJSON *root, const lfw_pair *pairs, int npairs, const float *yaw,
                             const float *score, const float *thr) {
  int n = 0, nsame = 0, right = 0;
  for (int i = 0; i < npairs; i++) {
    const lfw_pair *p = &pairs[i];
    if (fmaxf(fabsf(yaw[p->a]), fabsf(yaw[p->b])) < EVAL_TURNED_YAW) continue;
    n++, nsame += p->same;
    right += (score[i] >= thr[p->fold]) == p->same;
  }
  cJSON *t = cJSON_AddObjectToObject(root, "turned_pairs");
  cJSON_AddNumberToObject(t, "min_abs_yaw", EVAL_TURNED_YAW);
  cJSON_AddNumberToObject(t, "pairs", n);
  cJSON_AddNumberToObject(t, "same", nsame);
  cJSON_AddItemToObject(t, "accuracy", cli_json_number(n ? 100.0 * right / n : 0, 5));
}

static int eval_lfw(const eval_args *a) {
  double t0 = mien_now_ms();
  image_set set = {0};
  lfw_pair *pairs = NULL;
  int npairs = 0, nfolds = 0;
  float *emb = NULL, *turned = NULL, *score = NULL, *yaw = NULL;
  uint8_t *fallback = NULL, *turned_fallback = NULL, *same = NULL;
  int *fold = NULL;
  int rc = read_pairs(a->pairs, a->images, &set, &pairs, &npairs, &nfolds);
  if (rc == EXIT_OK)
    rc = embed_set(&set, a->threads, a->flip, a->detector, 0, &emb, &yaw, &fallback);
  /* --rotate: each pair's second photo is the rotated one. */
  if (rc == EXIT_OK && a->rotate != 0)
    rc = embed_set(&set, a->threads, a->flip, a->detector, a->rotate, &turned, NULL,
                   &turned_fallback);
  for (int i = 0; rc == EXIT_OK && turned && i < set.n; i++) fallback[i] |= turned_fallback[i];
  if (rc == EXIT_OK) {
    score = malloc((size_t)npairs * sizeof *score);
    same = malloc((size_t)npairs);
    fold = malloc((size_t)npairs * sizeof *fold);
    if (!score || !same || !fold) rc = cli_fail(NULL, MIEN_ERR_NOMEM, "no memory for the scores");
  }
  if (rc == EXIT_OK) {
    for (int i = 0; i < npairs; i++) {
      score[i] = mien_cosine(emb + (size_t)pairs[i].a * MIEN_EMBED_DIM,
                             (turned ? turned : emb) + (size_t)pairs[i].b * MIEN_EMBED_DIM);
      same[i] = pairs[i].same, fold[i] = pairs[i].fold;
    }
    double acc[64], mean = 0, var = 0;
    float thr[64];
    if (nfolds > 64) nfolds = 64;
    mien_eval_folds(score, same, fold, npairs, nfolds, acc, thr);
    for (int k = 0; k < nfolds; k++) mean += acc[k] / nfolds;
    for (int k = 0; k < nfolds; k++) var += (acc[k] - mean) * (acc[k] - mean) / nfolds;
    cJSON *root = cJSON_CreateObject(), *facc = cJSON_CreateArray(), *fthr = cJSON_CreateArray();
    for (int k = 0; k < nfolds; k++) {
      cJSON_AddItemToArray(facc, cli_json_number(100 * acc[k], 5));
      cJSON_AddItemToArray(fthr, cli_json_number(thr[k], 5));
    }
    cJSON_AddNumberToObject(root, "folds", nfolds);
    cJSON_AddNumberToObject(root, "pairs", npairs);
    cJSON_AddNumberToObject(root, "images", set.n);
    cJSON_AddBoolToObject(root, "flip", a->flip);
    if (a->rotate != 0) cJSON_AddNumberToObject(root, "rotate", a->rotate);
    cJSON_AddItemToObject(root, "accuracy_mean", cli_json_number(100 * mean, 5));
    cJSON_AddItemToObject(root, "accuracy_std", cli_json_number(100 * sqrt(var), 3));
    cJSON_AddItemToObject(root, "fold_accuracy", facc);
    cJSON_AddItemToObject(root, "fold_threshold", fthr);
    cJSON_AddItemToObject(root, "auc", cli_json_number(mien_eval_auc(score, same, npairs), 6));
    cJSON *tar = cJSON_AddObjectToObject(root, "tar_at_far");
    cJSON_AddItemToObject(
        tar, "1e-2",
        cli_json_number(100 * mien_eval_tar_at_far(score, same, npairs, 1e-2, NULL), 4));
    cJSON_AddItemToObject(
        tar, "1e-3",
        cli_json_number(100 * mien_eval_tar_at_far(score, same, npairs, 1e-3, NULL), 4));
    add_turned_pairs(root, pairs, npairs, yaw, score, thr);
    rc = print_eval(root, &set, fallback, a->images, t0);
  }
  free(score);
  free(same);
  free(fold);
  free(emb);
  free(yaw);
  free(turned);
  free(fallback);
  free(turned_fallback);
  free(pairs);
  set_free(&set);
  return rc;
}

/* Every DIR/NAME/FILE.jpg, identity = NAME, in sorted order (LFW's layout). */
static int list_identities(const char *dir, image_set *set, int *nid) {
  struct dirent **ids = NULL;
  int nids = scandir(dir, &ids, NULL, alphasort), rc = EXIT_OK;
  if (nids < 0) return cli_fail(NULL, MIEN_ERR_IO, "cannot list the images directory");
  *nid = 0;
  for (int i = 0; i < nids; i++) {
    char sub[1024];
    struct dirent **files = NULL;
    int nf = ids[i]->d_name[0] == '.' ? -1 : 0;
    if (nf == 0) {
      snprintf(sub, sizeof sub, "%s/%s", dir, ids[i]->d_name);
      nf = scandir(sub, &files, NULL, alphasort);
    }
    int added = 0;
    for (int k = 0; k < nf; k++) {
      const char *name = files[k]->d_name;
      size_t len = strlen(name);
      if (rc == EXIT_OK && len > 4 && !strcasecmp(name + len - 4, ".jpg")) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", sub, name);
        if (set_add(set, path, *nid)) rc = cli_fail(NULL, MIEN_ERR_NOMEM, "out of memory");
        added = 1;
      }
      free(files[k]);
    }
    free(files);
    *nid += added;
    free(ids[i]);
  }
  free(ids);
  if (rc == EXIT_OK && set->n < 2)
    rc = cli_fail(NULL, MIEN_ERR_INVALID_PARAMETER, "no DIR/NAME/*.jpg images found");
  return rc;
}

static int eval_calibrate(const eval_args *a) {
  double t0 = mien_now_ms();
  image_set set = {0};
  int nid = 0;
  float *emb = NULL;
  uint8_t *fallback = NULL;
  uint64_t *imp = calloc(MIEN_HIST_BINS, sizeof *imp), *gen = calloc(MIEN_HIST_BINS, sizeof *gen);
  int rc = imp && gen ? list_identities(a->images, &set, &nid)
                      : cli_fail(NULL, MIEN_ERR_NOMEM, "out of memory");
  if (rc == EXIT_OK)
    rc = embed_set(&set, a->threads, a->flip, a->detector, 0, &emb, NULL, &fallback);
  if (rc == EXIT_OK && mien_eval_pair_histograms(emb, set.identity, set.n, a->threads, imp, gen))
    rc = cli_fail(NULL, MIEN_ERR_NOMEM, "out of memory");
  if (rc == EXIT_OK) {
    uint64_t nimp = 0, ngen = 0;
    for (int b = 0; b < MIEN_HIST_BINS; b++) nimp += imp[b], ngen += gen[b];
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "images", set.n);
    cJSON_AddNumberToObject(root, "identities", nid);
    cJSON_AddBoolToObject(root, "flip", a->flip);
    cJSON_AddNumberToObject(root, "impostor_pairs", (double)nimp);
    cJSON_AddNumberToObject(root, "genuine_pairs", (double)ngen);
    /* Knots as this data puts them: the constants for similarity.c. */
    int nk;
    const mien_similarity_knot *k = mien_similarity_knots(&nk);
    cJSON *knots = cJSON_AddArrayToObject(root, "knots");
    for (int i = 0; i < nk; i++) {
      if (k[i].far <= 0) continue; /* the fixed end point, cosine 1 */
      float c = mien_hist_threshold(imp, k[i].far);
      cJSON *o = cJSON_CreateObject();
      cJSON_AddNumberToObject(o, "similarity", k[i].similarity);
      cJSON_AddItemToObject(o, "far_target", cli_json_number(k[i].far, 3));
      cJSON_AddItemToObject(o, "cosine", cli_json_number(c, 5));
      cJSON_AddItemToObject(o, "far", cli_json_number(mien_hist_tail(imp, c), 4));
      cJSON_AddItemToObject(o, "impostors_above",
                            cli_json_number(mien_hist_tail(imp, c) * nimp, 6));
      cJSON_AddItemToArray(knots, o);
    }
    /* The mapping compiled in, measured on this data: what a threshold means. */
    static const float thresholds[] = {0, 50, 60, 70, 75, 80, 85, 90, 95, 99};
    cJSON *table = cJSON_AddArrayToObject(root, "table");
    for (size_t i = 0; i < sizeof thresholds / sizeof *thresholds; i++) {
      float c = mien_similarity_cosine(thresholds[i]);
      cJSON *o = cJSON_CreateObject();
      cJSON_AddNumberToObject(o, "similarity", thresholds[i]);
      cJSON_AddItemToObject(o, "cosine", cli_json_number(c, 5));
      cJSON_AddItemToObject(o, "far", cli_json_number(mien_hist_tail(imp, c), 4));
      cJSON_AddItemToObject(o, "tar", cli_json_number(mien_hist_tail(gen, c), 5));
      cJSON_AddItemToArray(table, o);
    }
    rc = print_eval(root, &set, fallback, a->images, t0);
  }
  free(imp);
  free(gen);
  free(emb);
  free(fallback);
  set_free(&set);
  return rc;
}

static void eval_usage(FILE *f) {
  fprintf(f,
          "usage: mien-eval lfw --images DIR --pairs FILE [--threads N] [--flip] [--detector D]\n"
          "                      [--rotate DEG]\n"
          "       mien-eval calibrate --images DIR [--threads N] [--flip] [--detector D]\n"
          "       mien-eval detect --labels FILE [--root DIR] [--detector D] [--min-score P]\n"
          "                         [--min-face PX] [--threads N] [--verbose]\n"
          "                         [--transform rotate:DEG|scale:PX|occlude:F|blur:S|gamma:G]\n"
          "  lfw: LFW verification (DIR/Name/Name_NNNN.jpg, pairs.txt with header FOLDS N). Each\n"
          "    image's face is the detected one nearest the centre; where none is detected the\n"
          "    landmarks are found on the central half of the image (deep-funneled LFW's face\n"
          "    region) and the image is counted in \"failures\". Per fold, the cosine threshold\n"
          "    maximising accuracy on the other folds. Prints accuracy_mean and accuracy_std\n"
          "    (population std over folds) in %%, auc, tar_at_far in %%, seconds. --rotate DEG\n"
          "    pairs each first photo with the second rotated by DEG about its centre (the\n"
          "    alignment's test under in-plane rotation); failures then counts an image whose\n"
          "    face was not detected upright or rotated. turned_pairs: the accuracy on the pairs\n"
          "    where either face's |Yaw| is 30 or more.\n"
          "  calibrate: embeds every DIR/NAME/*.jpg, bins the cosines of all pairs of different\n"
          "    identities (impostors) and of the same identity, and prints where each knot of\n"
          "    the Similarity mapping falls on this data, and FAR and TAR at the thresholds of\n"
          "    the mapping compiled in (docs/similarity.md).\n"
          "  detect: runs the detection every API path runs on the labelled photos of FILE\n"
          "    (bench/data/wild-labels.tsv; paths relative to --root, default\n"
          "    $MIEN_SHARED/data or ../shared/data) and prints precision and recall at the\n"
          "    threshold in effect, recall per condition tag, false positives per negative\n"
          "    region (hand, arm, animal...), and AP (IoU >= 0.5). --verbose lists every miss and\n"
          "    false positive on stderr. --detector, --min-score, --min-face as mien detect.\n"
          "    --transform changes every photo and its labels before detection: rotate by DEG\n"
          "    about the centre (faces leaving the frame are ignored), scale so that the median\n"
          "    face is PX pixels, occlude the lower fraction F of every face with grey, blur\n"
          "    (sigma S px), or apply gamma G (above 1 darkens).\n"
          "  --threads N: workers (default: one per core); --flip: add the mirrored face's\n"
          "    embedding (flip augmentation).\n");
}

static int cmd_eval(int argc, char **argv) {
  static const struct option opts[] = {{"images", required_argument, NULL, 'i'},
                                       {"pairs", required_argument, NULL, 'p'},
                                       {"threads", required_argument, NULL, 't'},
                                       {"flip", no_argument, NULL, 'f'},
                                       {"labels", required_argument, NULL, 'l'},
                                       {"root", required_argument, NULL, 'r'},
                                       {"detector", required_argument, NULL, 'd'},
                                       {"min-score", required_argument, NULL, 's'},
                                       {"min-face", required_argument, NULL, 'm'},
                                       {"verbose", no_argument, NULL, 'v'},
                                       {"transform", required_argument, NULL, 'T'},
                                       {"rotate", required_argument, NULL, 'R'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
    return usage_exit(eval_usage, 'h');
  int lfw = argc >= 2 && !strcmp(argv[1], "lfw"), cal = argc >= 2 && !strcmp(argv[1], "calibrate");
  int det = argc >= 2 && !strcmp(argv[1], "detect");
  if (!lfw && !cal && !det) return usage_exit(eval_usage, '?');
  eval_args a = {0};
  mien_faces_options fo = {0};
  const char *labels = NULL, *root = NULL, *transform = NULL;
  int verbose = 0;
  int c;
  while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
    switch (c) {
    case 'i':
      a.images = optarg;
      break;
    case 'p':
      a.pairs = optarg;
      break;
    case 'f':
      a.flip = 1;
      break;
    case 't':
      if (parse_threads("eval", optarg, &a.threads) != EXIT_OK) return EXIT_USAGE;
      break;
    case 'l':
      labels = optarg;
      break;
    case 'r':
      root = optarg;
      break;
    case 'd':
      fo.detector = optarg;
      break;
    case 's': {
      char *end;
      fo.min_score = strtof(optarg, &end);
      if (*end || !(fo.min_score > 0 && fo.min_score < 1)) return usage_exit(eval_usage, '?');
      break;
    }
    case 'm': {
      char *end;
      long v = strtol(optarg, &end, 10);
      if (*end || v < MIEN_MIN_FACE_LIMIT || v > 1 << 16) return usage_exit(eval_usage, '?');
      fo.min_face = (int)v;
      break;
    }
    case 'v':
      verbose = 1;
      break;
    case 'T':
      transform = optarg;
      break;
    case 'R': {
      char *end;
      a.rotate = strtof(optarg, &end);
      if (*end || end == optarg || !(a.rotate >= -180 && a.rotate <= 180))
        return usage_exit(eval_usage, '?');
      break;
    }
    default:
      return usage_exit(eval_usage, c);
    }
  }
  if (det) {
    if (optind != argc - 1 || !labels) return usage_exit(eval_usage, '?');
    char def_root[1024];
    const char *shared = getenv("MIEN_SHARED");
    snprintf(def_root, sizeof def_root, "%s/data", shared && *shared ? shared : "../shared");
    fo.threads = a.threads;
    return eval_detect(labels, root ? root : def_root, &fo, transform, verbose);
  }
  if (optind != argc - 1 || !a.images || (lfw && !a.pairs) || (cal && a.pairs) ||
      (cal && a.rotate != 0))
    return usage_exit(eval_usage, '?');
  a.detector = fo.detector;
  return lfw ? eval_lfw(&a) : eval_calibrate(&a);
}

int main(int argc, char **argv) {
  return cmd_eval(argc, argv);
}
