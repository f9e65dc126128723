/* serve.c - `mien serve`: the command-line face of src/server/. It parses the options, finds the
 * web directory, starts the server, prints one JSON line when it is ready (what a script or
 * test waits for: the URL, with the real port when port 0 was asked), stops gracefully on
 * SIGTERM or SIGINT, and reads its access keys again on SIGHUP (systemd's ExecReload).
 *
 * The signals are blocked in every thread before any is started and taken synchronously by
 * sigwait in the main thread, so no handler runs in the middle of a request and the stop
 * sequence is ordinary code: stop accepting, drain, close the store, exit 0. */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "server/server.h"

#define DRAIN_S 30 /* longest wait for in-flight requests at stop */

static void usage(FILE *f) {
  fprintf(
      f,
      "usage: mien [--data DIR] serve [--listen ADDR:PORT] [--region R] [--bucket NAME=DIR]...\n"
      "                  [--workers N] [--max-connections N] [--max-connections-per-client N]\n"
      "                  [--max-body BYTES]\n"
      "                  [--timeout SEC] [--queue-timeout MS] [--web DIR]\n"
      "                  [--purge-interval SEC] [--video-jobs N] [--video-retention-days N]\n\n"
      "Serves Rekognition's face API (AWS JSON 1.1: POST / with X-Amz-Target:\n"
      "RekognitionService.<Operation>) and the web page (GET /). Prints one JSON line when\n"
      "ready: {\"listening\":URL,\"workers\":N,\"keys\":N}; logs one JSON line per request on\n"
      "stderr. SIGTERM or SIGINT: finish the requests in flight, then exit 0. Access keys\n"
      "are read from the store at each request (mien keys); SIGHUP logs their count.\n\n"
      "  --listen ADDR:PORT    default %s; port 0 takes a free port. Beyond loopback only\n"
      "                        once keys exist (mien keys add NAME); with keys, every POST\n"
      "                        must be SigV4-signed (service rekognition)\n"
      "  --region R            the region requests are signed for (default %s)\n"
      "  --bucket NAME=DIR     Image.S3Object's Bucket NAME reads files from DIR\n"
      "  --workers N           requests computing at once (default: one per core)\n"
      "  --max-connections N   open connections (default %d)\n"
      "  --max-connections-per-client N\n"
      "                        open connections from one address (default %d, at most\n"
      "                        --max-connections)\n"
      "  --max-body BYTES      largest request body (default %zu)\n"
      "  --timeout SEC         close connections idle this long (default %d)\n"
      "  --queue-timeout MS    wait this long for a worker, then ThrottlingException\n"
      "                        (default %d)\n"
      "  --web DIR             static files for GET (default: <prefix>/share/mien/web beside\n"
      "                        the program; web/ of the sources when run from a build dir)\n"
      "  --purge-interval SEC  delete the faces past their collection's retention this often\n"
      "                        (default %d; docs/privacy.md)\n"
      "  --video-jobs N        stored-video jobs (StartFaceDetection, StartFaceSearch) run\n"
      "                        at once, below requests in priority (default %d; docs/video.md)\n"
      "  --video-retention-days N  delete finished video jobs and their results after N\n"
      "                        days (default %d)\n",
      SRV_DEFAULT_LISTEN, SRV_DEFAULT_REGION, SRV_DEFAULT_MAX_CONNECTIONS,
      SRV_DEFAULT_MAX_CONNECTIONS_PER_CLIENT, SRV_DEFAULT_MAX_BODY, SRV_DEFAULT_TIMEOUT_S,
      SRV_DEFAULT_QUEUE_TIMEOUT_MS, SRV_DEFAULT_PURGE_INTERVAL_S, SRV_DEFAULT_VIDEO_JOBS,
      SRV_DEFAULT_VIDEO_RETENTION_DAYS);
}

/* An integer option in [lo, hi]; -1 (after a message) when it is not one. */
static long long int_opt(const char *name, const char *v, long long lo, long long hi) {
  char *end;
  long long x = strtoll(v, &end, 10);
  if (end == v || *end || x < lo || x > hi) {
    fprintf(stderr, "mien serve: --%s must be an integer from %lld to %lld\n", name, lo, hi);
    return -1;
  }
  return x;
}

int cmd_serve(int argc, char **argv) {
  static const struct option opts[] = {
      {"listen", required_argument, NULL, 'l'},
      {"region", required_argument, NULL, 'r'},
      {"bucket", required_argument, NULL, 'b'},
      {"workers", required_argument, NULL, 'w'},
      {"max-connections", required_argument, NULL, 'c'},
      {"max-connections-per-client", required_argument, NULL, 'C'},
      {"max-body", required_argument, NULL, 'm'},
      {"timeout", required_argument, NULL, 't'},
      {"queue-timeout", required_argument, NULL, 'q'},
      {"web", required_argument, NULL, 'W'},
      {"purge-interval", required_argument, NULL, 'P'},
      {"video-jobs", required_argument, NULL, 'J'},
      {"video-retention-days", required_argument, NULL, 'R'},
      {"data", required_argument, NULL, 'd'},
      {"store", required_argument, NULL, 'd'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  srv_config cfg = {.listen = SRV_DEFAULT_LISTEN,
                    .region = SRV_DEFAULT_REGION,
                    .max_connections = SRV_DEFAULT_MAX_CONNECTIONS,
                    .max_body = SRV_DEFAULT_MAX_BODY,
                    .timeout_s = SRV_DEFAULT_TIMEOUT_S,
                    .queue_timeout_ms = SRV_DEFAULT_QUEUE_TIMEOUT_MS,
                    .purge_interval_s = SRV_DEFAULT_PURGE_INTERVAL_S,
                    .video_jobs = SRV_DEFAULT_VIDEO_JOBS};
  /* --bucket values, checked when the service opens (at most one per argument). */
  const char **buckets = calloc((size_t)argc + 1, sizeof *buckets);
  char err[1024] = "", data[4096], web[PATH_MAX];
  const char *data_opt = NULL;
  int rc = buckets ? -1 : EXIT_FAILURE_GENERIC, c;
  long long v = 0;
  optind = 1;
  opterr = 0;
  while (rc < 0 && (c = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
    switch (c) {
    case 'l':
      cfg.listen = optarg;
      break;
    case 'r':
      cfg.region = optarg;
      break;
    case 'b':
      buckets[cfg.nbuckets++] = optarg;
      break;
    case 'w':
      if ((v = int_opt("workers", optarg, 1, 256)) < 0) rc = EXIT_USAGE;
      cfg.workers = (int)v;
      break;
    case 'c':
      if ((v = int_opt("max-connections", optarg, 1, 10000)) < 0) rc = EXIT_USAGE;
      cfg.max_connections = (int)v;
      break;
    case 'C':
      if ((v = int_opt("max-connections-per-client", optarg, 1, 10000)) < 0) rc = EXIT_USAGE;
      cfg.max_connections_per_client = (int)v;
      break;
    case 'm':
      if ((v = int_opt("max-body", optarg, 1, 1LL << 30)) < 0) rc = EXIT_USAGE;
      cfg.max_body = (size_t)v;
      break;
    case 't':
      if ((v = int_opt("timeout", optarg, 1, 86400)) < 0) rc = EXIT_USAGE;
      cfg.timeout_s = (int)v;
      break;
    case 'q':
      if ((v = int_opt("queue-timeout", optarg, 0, 3600000)) < 0) rc = EXIT_USAGE;
      cfg.queue_timeout_ms = (int)v;
      break;
    case 'W':
      cfg.web_dir = optarg;
      break;
    case 'P':
      if ((v = int_opt("purge-interval", optarg, 1, 86400)) < 0) rc = EXIT_USAGE;
      cfg.purge_interval_s = (int)v;
      break;
    case 'J':
      if ((v = int_opt("video-jobs", optarg, 1, 64)) < 0) rc = EXIT_USAGE;
      cfg.video_jobs = (int)v;
      break;
    case 'R':
      if ((v = int_opt("video-retention-days", optarg, 1, 36500)) < 0) rc = EXIT_USAGE;
      cfg.video_retention_s = (double)v * 86400;
      break;
    case 'd':
      data_opt = optarg;
      break;
    case 'h':
      rc = cli_usage(usage, 1);
      break;
    default:
      rc = cli_usage(usage, 0);
    }
  }
  if (rc < 0 && optind < argc) rc = cli_usage(usage, 0);
  if (rc < 0) { /* $MIEN_STORE wins over serve's own --data too */
    int data_rc = cli_data_dir(data_opt, data, sizeof data);
    if (data_rc != EXIT_OK) rc = data_rc;
  }
  if (rc >= 0) {
    free(buckets);
    return rc;
  }
  cfg.data_dir = data;
  cfg.buckets = buckets;
  /* The web page beside the program: <prefix>/share/mien/web installed, the sources' web/ when
   * run from a build directory (so `build/mien serve` shows the page being edited). */
  if (!cfg.web_dir && mien_find_data("web", web, sizeof web) == 0) cfg.web_dir = web;

  /* Before any thread exists, so that all of them inherit the mask. */
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);
  signal(SIGPIPE, SIG_IGN);

  srv *s;
  mien_status st = srv_create(&cfg, &s, err, sizeof err);
  if (st == MIEN_OK && (st = srv_listen(s, err, sizeof err)) != MIEN_OK) srv_free(s);
  if (st != MIEN_OK) {
    free(buckets);
    return cli_fail("serve", st, err);
  }
  printf("{\"listening\":\"%s\",\"workers\":%d,\"keys\":%d}\n", srv_url(s), srv_worker_count(s),
         srv_key_count(s));
  fflush(stdout);

  int sig = 0;
  while (sigwait(&stop, &sig) != 0 || sig == SIGHUP) {
    if (sig == SIGHUP)
      fprintf(stderr, "{\"reloaded\":\"access keys\",\"keys\":%d}\n", srv_reload_keys(s));
    sig = 0;
  }
  srv_stop(s, DRAIN_S);
  srv_free(s);
  free(buckets);
  fprintf(stderr, "{\"stopped\":\"%s\"}\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  return EXIT_OK;
}
