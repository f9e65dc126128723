/* video.c - `mien video detect FILE` and `mien video search COLLECTION FILE`: the stored-video
 * analysis of StartFaceDetection/StartFaceSearch run at once on a local file, printing what
 * GetFaceDetection/GetFaceSearch would answer (all results in one response, no NextToken), or
 * with --stream one line per Faces/Persons element as it is found and the status line last.
 * A progress bar goes to stderr when it is a terminal; --stats adds where the time went.
 *
 * The file is opened once, here, and handed to the reader as a descriptor. */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: mien video detect FILE [--stream] [--stats] [--budget SEC]\n"
          "       mien video search COLLECTION FILE [--threshold N] [--sort-by INDEX|TIMESTAMP]\n"
          "                         [--stream] [--stats] [--budget SEC]\n\n"
          "Faces in a stored video (MP4/MOV, MKV/WebM, AVI; H.264, HEVC, VP8, VP9, AV1,\n"
          "MPEG-4, MJPEG), sampled every %d ms. detect prints GetFaceDetection's response,\n"
          "search GetFaceSearch's: each person tracked across frames keeps one Person.Index\n"
          "and is matched against COLLECTION (FaceMatchThreshold --threshold, default %g).\n"
          "  --stream      one JSON line per Faces/Persons element as found, then the status\n"
          "  --stats       a JSON line on stderr: frames, and the time in demux/decode,\n"
          "                detection, embedding and search\n"
          "  --budget SEC  give up after SEC seconds (default: 10 min + 4x the duration)\n",
          MIEN_VIDEO_SAMPLE_MS, (double)MIEN_FACE_MATCH_THRESHOLD);
}

typedef struct {
  int64_t ts, person, seq;
  cJSON *item;
} result;

typedef struct {
  int stream, tty, by_index;
  cJSON *metadata;
  result *r;
  int64_t n, cap;
  double t0;
} printer;

/* The sink's callbacks: 0, or non-zero when out of memory. */
static int print_metadata(void *ctx, const char *json) {
  printer *p = ctx;
  cJSON_Delete(p->metadata);
  p->metadata = cJSON_Parse(json);
  return !p->metadata;
}

static int print_item(void *ctx, int64_t ts, int64_t person, const char *json) {
  printer *p = ctx;
  if (p->stream) {
    printf("%s\n", json);
    fflush(stdout);
    return 0;
  }
  if (p->n == p->cap) {
    int64_t cap = p->cap ? 2 * p->cap : 256;
    result *r = realloc(p->r, (size_t)cap * sizeof *r);
    if (!r) return 1;
    p->r = r, p->cap = cap;
  }
  cJSON *item = cJSON_Parse(json);
  if (!item) return 1;
  p->r[p->n] = (result){ts, person, p->n, item};
  p->n++;
  return 0;
}

static void print_progress(void *ctx, double fraction) {
  printer *p = ctx;
  if (!p->tty) return;
  int done = (int)(fraction * 40 + 0.5);
  fprintf(stderr, "\r[%.*s%*s] %3.0f%% %6.1f s", done, "########################################",
          40 - done, "", 100 * fraction, (cli_now_ms() - p->t0) / 1000);
  fflush(stderr);
}

static int by_time(const void *a, const void *b) {
  const result *x = a, *y = b;
  if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
  if (x->person != y->person) return x->person < y->person ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int by_person(const void *a, const void *b) {
  const result *x = a, *y = b;
  if (x->person != y->person) return x->person < y->person ? -1 : 1;
  return by_time(a, b);
}

/* The Get* response (status, metadata, every result unless streamed) on stdout. */
static int print_response(printer *p, const char *field, int ok, const char *msg) {
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "JobStatus", ok ? "SUCCEEDED" : "FAILED");
  if (!ok) cJSON_AddStringToObject(r, "StatusMessage", msg);
  if (p->metadata) cJSON_AddItemToObject(r, "VideoMetadata", p->metadata);
  p->metadata = NULL;
  if (ok && !p->stream) {
    if (p->n > 1) qsort(p->r, (size_t)p->n, sizeof *p->r, p->by_index ? by_person : by_time);
    cJSON *items = cJSON_AddArrayToObject(r, field);
    for (int64_t i = 0; i < p->n; i++)
      cJSON_AddItemToArray(items, p->r[i].item), p->r[i].item = NULL;
  }
  return cli_print_json(stdout, r);
}

static int print_stats(const mien_video_timing *s, double wall_ms) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "sample_ms", MIEN_VIDEO_SAMPLE_MS);
  cJSON_AddNumberToObject(o, "packets", (double)s->packets);
  cJSON_AddNumberToObject(o, "frames_decoded", (double)s->frames_decoded);
  cJSON_AddNumberToObject(o, "frames_sampled", (double)s->frames_sampled);
  cJSON_AddNumberToObject(o, "faces", (double)s->faces);
  cJSON_AddNumberToObject(o, "tracks", (double)s->tracks);
  cJSON_AddNumberToObject(o, "embeddings", (double)s->embeddings);
  cJSON_AddItemToObject(o, "demux_decode_ms",
                        cli_json_number(s->demux_decode_ms + s->convert_ms, 6));
  cJSON_AddItemToObject(o, "convert_ms", cli_json_number(s->convert_ms, 6));
  cJSON_AddItemToObject(o, "detect_ms", cli_json_number(s->detect_ms, 6));
  cJSON_AddItemToObject(o, "embed_ms", cli_json_number(s->embed_ms, 6));
  cJSON_AddItemToObject(o, "search_ms", cli_json_number(s->search_ms, 6));
  cJSON_AddItemToObject(o, "wall_ms", cli_json_number(wall_ms, 6));
  return cli_print_json(stderr, o);
}

int cmd_video(int argc, char **argv) {
  static const struct option opts[] = {
      {"stream", no_argument, NULL, 's'},
      {"stats", no_argument, NULL, 'S'},
      {"threshold", required_argument, NULL, 't'},
      {"sort-by", required_argument, NULL, 'o'},
      {"budget", required_argument, NULL, 'b'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  printer p = {.tty = isatty(STDERR_FILENO), .t0 = cli_now_ms()};
  int stats = 0, c;
  double threshold = MIEN_FACE_MATCH_THRESHOLD, budget_s = 0;
  char *end;
  optind = 1;
  opterr = 0;
  /* GNU getopt permutes: options may follow the subcommand and files. */
  while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
    switch (c) {
    case 's':
      p.stream = 1;
      break;
    case 'S':
      stats = 1;
      break;
    case 't':
      threshold = strtod(optarg, &end);
      if (end == optarg || *end || !(threshold >= 0 && threshold <= 100))
        return fprintf(stderr, "mien video: --threshold must be 0 to 100\n"), EXIT_USAGE;
      break;
    case 'o':
      if (strcmp(optarg, "INDEX") && strcmp(optarg, "TIMESTAMP"))
        return fprintf(stderr, "mien video: --sort-by must be INDEX or TIMESTAMP\n"), EXIT_USAGE;
      p.by_index = !strcmp(optarg, "INDEX");
      break;
    case 'b':
      budget_s = strtod(optarg, &end);
      if (end == optarg || *end || !(budget_s > 0))
        return fprintf(stderr, "mien video: --budget must be a positive number\n"), EXIT_USAGE;
      break;
    case 'h':
      return cli_usage(usage, 1);
    default:
      return cli_usage(usage, 0);
    }
  }
  int npos = argc - optind;
  const char *sub = npos ? argv[optind] : "";
  int search = !strcmp(sub, "search");
  if (!(npos == 2 && !strcmp(sub, "detect")) && !(npos == 3 && search)) return cli_usage(usage, 0);
  const char *coll = search ? argv[optind + 1] : NULL, *file = argv[argc - 1];

  mien_service *svc = NULL;
  char err[1024] = "";
  /* One inference thread: decoding runs on the decoder's own threads meanwhile, which keeps
   * two cores busy without the pool's hand-offs (measured: docs/video.md). A detection needs no
   * store. */
  mien_service_config cfg;
  mien_service_config_init(&cfg);
  cfg.threads = 1;
  int rc = cli_open_service_with(NULL, !search, &cfg, &svc);
  if (rc != EXIT_OK) return rc;
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  struct stat sb;
  if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    if (fd >= 0) close(fd);
    mien_service_close(svc);
    snprintf(err, sizeof err, "cannot read %s as a file", file);
    return cli_fail(file, MIEN_ERR_INVALID_S3_OBJECT, err);
  }
  mien_video_sink sink = {print_metadata, print_item, print_progress, &p};
  mien_video_timing vs = {0};
  int readable = 0;
  mien_status st = mien_service_analyze_video(svc, fd, coll, threshold, budget_s * 1000, &sink,
                                              &readable, &vs, err, sizeof err);
  if (p.tty) fprintf(stderr, "\n");
  if (st != MIEN_OK) {
    rc = cli_fail(file, st, err);
  } else {
    rc = print_response(&p, search ? "Persons" : "Faces", readable, err);
    /* A video mien cannot read is input refused, as a bad image is. */
    if (rc == EXIT_OK && !readable) rc = EXIT_INPUT;
  }
  if (stats) print_stats(&vs, cli_now_ms() - p.t0);
  for (int64_t i = 0; i < p.n; i++) cJSON_Delete(p.r[i].item);
  free(p.r);
  cJSON_Delete(p.metadata);
  mien_service_close(svc);
  return rc;
}
