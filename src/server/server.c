/* server.c - the transport-independent half of `mien serve` (see server.h): a request in, a
 * response out.
 *
 * POST / is the API. It is authenticated first (SigV4 against the store's access keys once any
 * exists, or whenever the server listens beyond loopback; with no keys on loopback, unsigned
 * requests are accepted but only when addressed to a loopback name, so that a web page elsewhere
 * cannot reach this API through DNS rebinding), then routed by X-Amz-Target to the operation of
 * that name, run by the server's mien_service (mien_service_call_with) on one of its workers.
 * Errors have Rekognition's shape, {"__type","Message"}, with the HTTP status Rekognition's API
 * reference gives each (docs/conformance.md): 400 for the caller's mistakes, AccessDeniedException
 * included; 403 for missing, unknown or wrong credentials (AWS's common errors); 500 for ours
 * and for ThrottlingException ("temporarily unable to process the request", which clients
 * retry).
 *
 * GET and HEAD serve the web page's static files from one directory; a path may not name a
 * hidden file or leave the directory (no dot segments, and it is opened beneath the directory in
 * one step, mien_read_beneath, so that no link swapped in meanwhile can lead out).
 *
 * The access keys are looked up in the store at every API request (mien.h's access-key calls),
 * so `mien keys add` and `mien keys delete`, through this node or any other on the same store,
 * take effect at the next request, without a restart; a store that cannot be read fails closed:
 * every request gets a retryable InternalServerError until it can. */
#include "server/server.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define SRV_MAX_STATIC ((size_t)32 << 20)

/* ---- small facts ---- */

double srv_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

mien_status srv_fail(char *err, size_t errlen, mien_status st, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return st;
}

void srv_request_id(char out[SRV_REQUEST_ID_LEN]) {
  uint8_t b[16];
  if (RAND_bytes(b, sizeof b) != 1) /* no entropy: still unique enough to find a log line */
    for (size_t i = 0; i < sizeof b; i++) b[i] = (uint8_t)(srv_now_ms() * 1000 + i * 37);
  b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
  b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
  snprintf(out, SRV_REQUEST_ID_LEN,
           "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
           b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* ---- responses and the log ---- */

static void set_body(srv_response *r, int status, const char *type, cJSON *j) {
  free(r->body);
  r->body = j ? cJSON_PrintUnformatted(j) : NULL;
  cJSON_Delete(j);
  r->len = r->body ? strlen(r->body) : 0;
  r->status = r->body ? status : 500;
  r->content_type = type;
}

void srv_error(srv_response *r, int status, const char *type, const char *msg) {
  cJSON *e = cJSON_CreateObject();
  cJSON_AddStringToObject(e, "__type", type);
  cJSON_AddStringToObject(e, "Message", msg ? msg : "");
  set_body(r, status, "application/x-amz-json-1.1", e);
  snprintf(r->error, sizeof r->error, "%s", type);
}

/* A library status as the wire shows it: server-side failures are InternalServerError. */
static void status_error(srv_response *r, mien_status st, const char *msg) {
  switch (st) {
  case MIEN_ERR_THROTTLED: /* "temporarily unable to process": clients retry */
    srv_error(r, 500, "ThrottlingException", msg);
    break;
  case MIEN_ERR_MODEL:
  case MIEN_ERR_NOMEM:
  case MIEN_ERR_IO:
  case MIEN_ERR_INTERNAL:
    srv_error(r, 500, "InternalServerError", msg);
    break;
  default:
    srv_error(r, 400, mien_status_name(st), msg);
  }
}

/* The time of a log line, UTC with milliseconds. */
static void log_time(char when[64]) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char stamp[32];
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(when, 64, "%s.%03dZ", stamp, (int)(ts.tv_nsec / 1000000) % 1000);
}

/* One write per line, so that lines of concurrent requests never interleave. */
static void write_line(const char *line, size_t len) {
  char *buf = malloc(len + 1);
  if (!buf) return;
  memcpy(buf, line, len);
  buf[len] = '\n';
  ssize_t w = write(STDERR_FILENO, buf, len + 1);
  (void)w;
  free(buf);
}

void srv_log(const srv_response *r, const char *path, double ms) {
  char when[64];
  log_time(when);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "time", when);
  cJSON_AddStringToObject(o, "request_id", r->request_id);
  cJSON_AddStringToObject(o, "op", r->op);
  if (path) cJSON_AddStringToObject(o, "path", path);
  cJSON_AddNumberToObject(o, "status", r->status);
  if (r->error[0]) cJSON_AddStringToObject(o, "error", r->error);
  cJSON_AddNumberToObject(o, "ms", (double)(long)(ms * 10 + 0.5) / 10);
  cJSON_AddStringToObject(o, "access_key_id", r->principal);
  if (r->auth_failed) { /* who tried: to find a client guessing keys or replaying requests */
    cJSON_AddStringToObject(o, "client", r->client[0] ? r->client : "unknown");
    cJSON_AddStringToObject(o, "tried_access_key_id", r->tried_key_id);
  }
  char *line = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (line) write_line(line, strlen(line));
  free(line);
}

/* The service's background events (video job runs, jobs recovered), logged as requests are:
 * the service's JSON object with the time put first. */
static void log_event(void *ctx, const char *json) {
  (void)ctx;
  char when[64];
  log_time(when);
  size_t n = strlen(json);
  char *line = malloc(n + 96);
  if (!line) return;
  int k = n > 2 && json[0] == '{' ? snprintf(line, n + 96, "{\"time\":\"%s\",%s", when, json + 1)
                                  : snprintf(line, n + 96, "%s", json);
  write_line(line, (size_t)k);
  free(line);
}

/* ---- keys ---- */

/* One JSON line on stderr: {"<kind>": what, "reason": why} (why may be NULL). */
static void log_notice(const char *kind, const char *what, const char *why) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, kind, what);
  if (why) cJSON_AddStringToObject(o, "reason", why);
  char *line = cJSON_PrintUnformatted(o);
  if (line) fprintf(stderr, "%s\n", line);
  free(line);
  cJSON_Delete(o);
}

/* How many access keys the store holds, or -1 when it cannot be read (logged when that starts
 * and when it ends). Every call asks the store, so a key added or deleted through another node
 * or `mien keys` counts at the next request; force (SIGHUP) only says so in the log. */
static int keys_refresh(srv *s, int force) {
  int64_t n;
  char err[512] = "";
  mien_status st = mien_service_access_key_count(s->svc, &n, err, sizeof err);
  int failing = st != MIEN_OK;
  if (atomic_exchange(&s->keys_failing, failing) != failing || (force && failing))
    log_notice(failing ? "warning" : "notice",
               failing ? "the access keys cannot be read: requests get InternalServerError until "
                         "they can"
                       : "the access keys can be read again",
               failing ? err : NULL);
  return failing ? -1 : n > INT32_MAX ? INT32_MAX : (int)n;
}

int srv_key_count(srv *s) {
  return keys_refresh(s, 0);
}

int srv_reload_keys(srv *s) {
  return keys_refresh(s, 1);
}

/* sigv4's lookup: 0 with the secret of key id, -1 when there is none (or the store failed). */
static int keys_secret(void *ctx, const char *id, char *secret, size_t len) {
  srv *s = ctx;
  char buf[MIEN_ACCESS_KEY_SECRET_LEN + 1], err[512];
  int found = 0;
  if (mien_service_access_key_secret(s->svc, id, buf, &found, err, sizeof err) != MIEN_OK)
    log_notice("warning", "an access key cannot be read", err);
  if (found) snprintf(secret, len, "%s", buf);
  explicit_bzero(buf, sizeof buf);
  return found ? 0 : -1;
}

/* ---- the API ---- */

static const char *header(const srv_request *rq, const char *name) {
  for (int i = 0; i < rq->nheaders; i++)
    if (!strcasecmp(rq->headers[i].name, name)) return rq->headers[i].value;
  return NULL;
}

/* Whether the Host header names this machine: localhost, 127.x.y.z or [::1], any port. */
static int loopback_host(const char *host) {
  if (!host) return 1; /* HTTP/1.0 without Host: not a browser, so no rebinding */
  char h[256];
  snprintf(h, sizeof h, "%s", host);
  char *colon = h[0] == '[' ? strstr(h, "]:") : strrchr(h, ':');
  if (colon) colon[h[0] == '['] = 0;
  if (!strcasecmp(h, "localhost") || !strcmp(h, "[::1]")) return 1;
  unsigned a, b, c, d;
  char end;
  return sscanf(h, "%u.%u.%u.%u%c", &a, &b, &c, &d, &end) == 4 && a == 127 && b < 256 && c < 256 &&
         d < 256;
}

/* Authenticates the request; 0 when it may proceed, else r holds the refusal. With headers_only
 * (no body yet), the signature itself is not checked (srv_preauthenticate). */
static int authenticate(srv *s, const srv_request *rq, srv_response *r, int headers_only) {
  /* The signature first: a request signed with a key of the store costs one lookup; only the
   * others ask whether there are keys at all (none on loopback: any request addressed to
   * localhost is served). */
  char id[SIGV4_KEY_ID_MAX + 1], msg[512];
  sigv4_result v = (headers_only ? sigv4_check_headers : sigv4_verify)(
      rq, s->region, "rekognition", time(NULL), keys_secret, s, id, msg, sizeof msg);
  if (v == SIGV4_OK) {
    snprintf(r->principal, sizeof r->principal, "%s", id);
    return 0;
  }
  int nkeys = keys_refresh(s, 0);
  if (nkeys < 0) { /* fail closed, with the error clients retry */
    srv_error(r, 500, "InternalServerError",
              "the server cannot read its access keys from the store; retry later");
    return -1;
  }
  if (nkeys == 0 && s->loopback_only) {
    if (loopback_host(header(rq, "host"))) return 0;
    srv_error(r, 400, "AccessDeniedException",
              "this server has no access keys, so it answers only requests addressed to "
              "localhost; create one with `mien keys add NAME` and sign requests with it");
    r->auth_failed = 1;
    return -1;
  }
  if (v == SIGV4_MISSING)
    srv_error(r, 403, "MissingAuthenticationTokenException", msg);
  else if (v == SIGV4_UNKNOWN_KEY)
    srv_error(r, 403, "UnrecognizedClientException", msg);
  else
    srv_error(r, 403, "InvalidSignatureException", msg);
  r->auth_failed = 1;
  snprintf(r->tried_key_id, sizeof r->tried_key_id, "%s", id);
  return -1;
}

static int json_content_type(const char *ct) {
  static const char *const ok[] = {"application/x-amz-json-1.1", "application/x-amz-json-1.0",
                                   "application/json"};
  if (!ct) return 0;
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
    size_t n = strlen(ok[i]);
    if (!strncasecmp(ct, ok[i], n) && (ct[n] == 0 || ct[n] == ';' || ct[n] == ' ')) return 1;
  }
  return 0;
}

/* The operation X-Amz-Target names (RekognitionService.<Operation>), or NULL. */
static const char *target_operation(const char *target) {
  static const char prefix[] = "RekognitionService.";
  if (!target || strncmp(target, prefix, sizeof prefix - 1)) return NULL;
  const char *name;
  for (int i = 0; (name = mien_service_operation(i)); i++)
    if (!strcmp(name, target + sizeof prefix - 1)) return name;
  return NULL;
}

static void handle_api(srv *s, const srv_request *rq, srv_response *r) {
  snprintf(r->op, sizeof r->op, "POST");
  if (strcmp(rq->path, "/")) {
    srv_error(r, 404, "UnknownOperationException", "the API is at POST /");
    return;
  }
  if (authenticate(s, rq, r, 0) != 0) return;
  const char *target = header(rq, "x-amz-target");
  const char *op = target_operation(target);
  if (!op) {
    char msg[300];
    snprintf(msg, sizeof msg,
             "unknown operation '%.200s': X-Amz-Target must be RekognitionService.<Operation>",
             target ? target : "");
    srv_error(r, 400, "UnknownOperationException", msg);
    return;
  }
  snprintf(r->op, sizeof r->op, "%s", op);
  if (!json_content_type(header(rq, "content-type"))) {
    srv_error(r, 400, "SerializationException", "Content-Type must be application/x-amz-json-1.1");
    return;
  }
  char err[1024] = "", *out = NULL;
  mien_call_context ctx = {.principal = r->principal};
  mien_status st = mien_service_call_with(s->svc, &ctx, op, (const char *)rq->body, rq->body_len,
                                          &out, err, sizeof err);
  if (st == MIEN_OK) {
    r->status = 200;
    r->content_type = "application/x-amz-json-1.1";
    r->body = out;
    r->len = strlen(out);
  } else {
    mien_free(out);
    status_error(r, st, err);
  }
}

/* ---- static files ---- */

static const char *mime_type(const char *path) {
  static const char *const types[][2] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".webp", "image/webp"},
      {".ico", "image/x-icon"},
      {".txt", "text/plain; charset=utf-8"},
      {".wasm", "application/wasm"},
  };
  const char *dot = strrchr(path, '.');
  for (size_t i = 0; dot && i < sizeof types / sizeof *types; i++)
    if (!strcasecmp(dot, types[i][0])) return types[i][1];
  return "application/octet-stream";
}

static void handle_static(srv *s, const srv_request *rq, srv_response *r) {
  const char *p = !strcmp(rq->path, "/") ? "/index.html" : rq->path;
  if (!s->web_dir) {
    srv_error(r, 404, "NotFoundException", "this server has no web directory (--web DIR)");
    return;
  }
  /* No dot segments, no hidden files, no backslashes. */
  if (p[0] != '/' || strstr(p, "/.") || strchr(p, '\\') || strlen(p) > 1024) {
    srv_error(r, 404, "NotFoundException", "no such file");
    return;
  }
  /* Opened once beneath the directory and checked on the descriptor (mien_read_beneath): a FIFO
   * or a link swapped in after a check by name would block a worker or serve another file. */
  uint8_t *buf = NULL;
  size_t got = 0;
  mien_status st = mien_read_beneath(s->web_dir, p + 1, SRV_MAX_STATIC, &buf, &got);
  if (st == MIEN_ERR_IO) {
    srv_error(r, 500, "InternalServerError", "cannot read the file");
    return;
  }
  if (st != MIEN_OK) {
    srv_error(r, 404, "NotFoundException", "no such file");
    return;
  }
  r->status = 200;
  r->body = (char *)buf;
  r->len = got;
  r->content_type = mime_type(p);
}

/* GET /health (docs/cluster.md): 200 while the store answers and this node's indexes follow
 * the change feed within SRV_HEALTH_MAX_LAG_S, else 503, so that a load balancer stops sending
 * requests to a node that cannot serve them. */
#define SRV_HEALTH_MAX_LAG_S 5.0
static void handle_health(srv *s, srv_response *r) {
  mien_health h;
  char err[512] = "";
  mien_status st = mien_service_health(s->svc, &h, err, sizeof err);
  int healthy =
      st == MIEN_OK && (!h.following || (h.feed_connected && h.lag_s <= SRV_HEALTH_MAX_LAG_S));
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "Status", healthy ? "OK" : "UNAVAILABLE");
  cJSON_AddStringToObject(o, "Store", h.backend);
  cJSON_AddBoolToObject(o, "StoreReachable", h.reachable);
  if (h.following) {
    cJSON_AddBoolToObject(o, "ChangeFeedConnected", h.feed_connected);
    cJSON_AddNumberToObject(o, "LastChange", (double)h.last_change);
    cJSON_AddNumberToObject(o, "IndexLagSeconds", h.lag_s);
  }
  if (st != MIEN_OK) cJSON_AddStringToObject(o, "Message", err);
  set_body(r, healthy ? 200 : 503, "application/json", o);
}

static void response_init(srv_response *r) {
  memset(r, 0, sizeof *r);
  srv_request_id(r->request_id);
  snprintf(r->principal, sizeof r->principal, "anonymous");
}

int srv_preauthenticate(srv *s, const srv_request *rq, srv_response *r) {
  response_init(r);
  if (strcmp(rq->method, "POST")) return 0;
  snprintf(r->op, sizeof r->op, "POST");
  return authenticate(s, rq, r, 1);
}

void srv_handle(srv *s, const srv_request *rq, srv_response *r) {
  response_init(r);
  if (!strcmp(rq->method, "POST")) {
    handle_api(s, rq, r);
  } else if (!strcmp(rq->method, "GET") || !strcmp(rq->method, "HEAD")) {
    snprintf(r->op, sizeof r->op, "%s", rq->method);
    if (!strcmp(rq->path, "/health"))
      handle_health(s, r);
    else
      handle_static(s, rq, r);
  } else {
    snprintf(r->op, sizeof r->op, "%.60s", rq->method);
    srv_error(r, 405, "UnknownOperationException", "the API takes POST /; files take GET");
  }
}

/* ---- life cycle ---- */

static char *dup_or_null(const char *s) {
  return s ? strdup(s) : NULL;
}

void srv_maintain(srv *s) {
  int interval =
      s->cfg.purge_interval_s > 0 ? s->cfg.purge_interval_s : SRV_DEFAULT_PURGE_INTERVAL_S;
  double now = srv_now_ms();
  if (s->last_purge_ms == 0) s->last_purge_ms = now; /* opening the store has just purged */
  int purge = now - s->last_purge_ms >= interval * 1000.0;
  if (purge) s->last_purge_ms = now;
  mien_maintenance_report m;
  char err[512] = "";
  mien_status st = mien_service_maintain(s->svc, purge, &m, err, sizeof err);
  /* Quiet when nothing expired: one line per purge that did something, or failed. */
  if (purge && (m.faces_purged > 0 || m.video_jobs_purged > 0 || st != MIEN_OK)) {
    srv_response r = {.status = 200};
    snprintf(r.op, sizeof r.op, "RetentionPurge");
    snprintf(r.principal, sizeof r.principal, "retention");
    if (st != MIEN_OK) status_error(&r, st, err);
    free(r.body);
    srv_log(&r, NULL, srv_now_ms() - now);
  }
  if ((m.erasure_pending > 0) == s->erasure_pending_logged) return;
  s->erasure_pending_logged = m.erasure_pending > 0;
  if (m.erasure_pending > 0)
    log_notice("warning", "erasure pending: deleted templates stay in mien.db-wal until retried",
               "another process holds the database in a read transaction");
  else
    log_notice("notice", "pending erasure completed", NULL);
}

mien_status srv_create(const srv_config *cfg, srv **out, char *err, size_t errlen) {
  *out = NULL;
  srv *s = calloc(1, sizeof *s);
  if (!s) return srv_fail(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  s->cfg = *cfg;
  s->listen_fd = -1;
  if (s->cfg.workers <= 0) s->cfg.workers = mien_cpu_count();
  if (s->cfg.max_connections_per_client <= 0)
    s->cfg.max_connections_per_client = SRV_DEFAULT_MAX_CONNECTIONS_PER_CLIENT;
  if (s->cfg.max_connections_per_client > s->cfg.max_connections)
    s->cfg.max_connections_per_client = s->cfg.max_connections;
  /* Bodies waiting for a worker: two per worker and two more, each up to --max-body. */
  s->body_budget = ((size_t)2 * (size_t)s->cfg.workers + 2) * s->cfg.max_body;
  pthread_mutex_init(&s->flight_mu, NULL);
  pthread_cond_init(&s->flight_cv, NULL);
  pthread_mutex_init(&s->conns_mu, NULL);
  s->listen = dup_or_null(cfg->listen ? cfg->listen : SRV_DEFAULT_LISTEN);
  s->region = dup_or_null(cfg->region ? cfg->region : SRV_DEFAULT_REGION);
  s->data_dir = dup_or_null(cfg->data_dir);
  mien_status st = MIEN_OK;
  if (!s->listen || !s->region || !s->data_dir) {
    srv_free(s);
    return srv_fail(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  }
  if (cfg->web_dir && !(s->web_dir = realpath(cfg->web_dir, NULL))) {
    st = srv_fail(err, errlen, MIEN_ERR_IO, "web directory %s: %s", cfg->web_dir, strerror(errno));
  }
  /* Workers split the cores between them (the service's default threads): requests run side by
   * side rather than each one on every core, which keeps the cores busy without oversubscribing
   * them. */
  mien_service_config sc;
  mien_service_config_init(&sc);
  sc.store = s->data_dir;
  sc.region = s->region;
  sc.buckets = cfg->buckets;
  sc.nbuckets = cfg->nbuckets;
  sc.workers = s->cfg.workers;
  sc.queue_timeout_ms = cfg->queue_timeout_ms;
  sc.video_jobs = cfg->video_jobs;
  sc.video_retention_s = cfg->video_retention_s;
  sc.log = log_event;
  if (st == MIEN_OK) st = mien_service_open(&sc, &s->svc, err, errlen);
  if (st == MIEN_OK) st = mien_service_warm(s->svc, err, errlen);
  if (st != MIEN_OK) {
    srv_free(s);
    return st;
  }
  *out = s;
  return MIEN_OK;
}

int srv_worker_count(const srv *s) {
  return s->cfg.workers;
}

void srv_free(srv *s) {
  if (!s) return;
  mien_service_close(s->svc);
  pthread_mutex_destroy(&s->flight_mu);
  pthread_cond_destroy(&s->flight_cv);
  pthread_mutex_destroy(&s->conns_mu);
  free(s->listen);
  free(s->region);
  free(s->data_dir);
  free(s->web_dir);
  free(s);
}
