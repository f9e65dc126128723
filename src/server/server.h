/* server.h - `mien serve`: Rekognition's face API over HTTP (AWS JSON 1.1), SigV4-signed, with
 * the web page as static files from the same origin.
 *
 * Two layers. server.c is transport-independent: srv_handle takes a parsed request (method,
 * path, headers, body) and gives the response (status, body, the x-amzn-RequestId, and what
 * to log), doing authentication and routing; the operation itself runs on a mien_service
 * (include/mien.h), the one public door of the library, which the server opens with its store,
 * workers, limits and buckets; tests and fuzzers drive it without sockets. http.c puts it on
 * libmicrohttpd: one thread per connection, bodies streamed in and refused early when too large,
 * idle connections timed out, and a graceful stop that lets in-flight requests finish.
 *
 * Why the service's workers on top of one thread per connection: connections are cheap and many
 * (slow clients, keep-alive), but computing is bounded by the cores. A request computes only
 * while it holds one of the service's `workers`, each with its own face pipeline (models, plans,
 * workspace); workers are handed out in arrival order, and one that cannot be had within the
 * queue timeout is answered ThrottlingException, which every AWS SDK retries with backoff,
 * instead of queueing forever. The service also runs the video jobs and the upkeep (retention
 * purge, erasure retry) the server asks of it.
 *
 * The server sees only mien.h (the layer walls: docs/architecture.md). */
#ifndef MIEN_SERVER_SERVER_H
#define MIEN_SERVER_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/stat.h>

#include "mien.h"
#include "server/sigv4.h"

typedef struct {
  const char *listen;         /* "ADDR:PORT"; port 0 picks a free one */
  const char *region;         /* the SigV4 scope's region */
  const char *data_dir;       /* the store (and its access keys) */
  const char *web_dir;        /* static files for GET; NULL: none */
  const char *const *buckets; /* "NAME=DIR": Image.S3Object reads from DIR */
  int nbuckets;
  int workers;                    /* requests computing at once; <= 0: one per core */
  int max_connections;            /* beyond it new connections are closed at once */
  int max_connections_per_client; /* from one address; <= 0: the default (a quarter of all) */
  size_t max_body;                /* request bodies, bytes */
  int timeout_s;                  /* idle connections are closed after it */
  int queue_timeout_ms;           /* longest wait for a worker before ThrottlingException */
  int purge_interval_s;           /* how often faces past retention are purged; <= 0: default */
  int video_jobs;                 /* the service's video job threads; 0: none */
  double video_retention_s;       /* finished video jobs are deleted after it; <= 0: default */
} srv_config;

#define SRV_DEFAULT_LISTEN "127.0.0.1:8080"
#define SRV_DEFAULT_REGION "us-east-1"
#define SRV_DEFAULT_MAX_BODY ((size_t)8 << 20)
#define SRV_DEFAULT_MAX_CONNECTIONS 256
#define SRV_DEFAULT_MAX_CONNECTIONS_PER_CLIENT 64
#define SRV_DEFAULT_TIMEOUT_S 30
#define SRV_DEFAULT_QUEUE_TIMEOUT_MS 2000
#define SRV_DEFAULT_PURGE_INTERVAL_S 60
#define SRV_DEFAULT_VIDEO_JOBS 1
#define SRV_DEFAULT_VIDEO_RETENTION_DAYS 7

typedef struct srv srv;

#define SRV_REQUEST_ID_LEN 37 /* a UUID and its NUL */

/* What srv_handle answers. */
typedef struct {
  int status; /* HTTP status */
  const char *content_type;
  char *body; /* malloc'ed (the caller frees it), may be NULL when len is 0 */
  size_t len;
  char request_id[SRV_REQUEST_ID_LEN];
  char op[64];    /* the operation, or the method for other requests, for the log */
  char error[64]; /* the __type of a refusal; "" on success */
  char principal[SIGV4_KEY_ID_MAX + 1];    /* the verified access key id, or "anonymous" */
  int auth_failed;                         /* refused by authentication: logged with these two */
  char tried_key_id[SIGV4_KEY_ID_MAX + 1]; /* the Credential's access key id, "" when none */
  char client[64];                         /* the peer's address, set by the transport */
} srv_response;

/* Opens the service (the store, the workers' face pipelines, the video job threads) and the
 * keys: everything but the network, so that srv_handle works after it. Until srv_listen has bound a
 * loopback address, the server counts as reachable from anywhere: a POST must be signed even with
 * no keys (a harness without sockets may set loopback_only to take unsigned requests). */
mien_status srv_create(const srv_config *cfg, srv **out, char *err, size_t errlen);
/* What can be decided on a request's headers alone, before its body is read: a POST that will
 * be refused (no or unknown access key, a bad scope or date, keys unreadable, a keyless
 * server asked from elsewhere) gets its refusal in r and -1, so the transport need not hold
 * its body; 0 otherwise. Thread-safe. */
int srv_preauthenticate(srv *s, const srv_request *rq_headers, srv_response *r);
/* Answers one request. Thread-safe. */
void srv_handle(srv *s, const srv_request *rq, srv_response *resp);
/* A refusal {"__type": type, "Message": msg} with status; for the HTTP layer's own refusals. */
void srv_error(srv_response *r, int status, const char *type, const char *msg);
/* Writes the request's log line (one JSON object) to stderr. */
void srv_log(const srv_response *r, const char *path, double ms);
/* The upkeep the reaper thread does every tick (mien_service_maintain): retries a pending
 * erasure, logging when one starts and ends pending, and purges what is past retention when
 * purge_interval_s passed since the last time, logging what it did. */
void srv_maintain(srv *s);
/* Frees what srv_create made (after srv_stop when listening). */
void srv_free(srv *s);

/* http.c: binds cfg->listen and serves. Beyond loopback only when keys exist. */
mien_status srv_listen(srv *s, char *err, size_t errlen);
/* "http://127.0.0.1:8080", once listening. */
const char *srv_url(const srv *s);
int srv_worker_count(const srv *s);
int srv_key_count(srv *s);
/* SIGHUP, systemd's reload: the key count (each request reads the keys from the store anyway),
 * -1 when the store cannot be read (every request is then refused until it can). */
int srv_reload_keys(srv *s);
/* Stops accepting, waits (at most drain_s seconds) for the requests in flight, then stops. */
void srv_stop(srv *s, int drain_s);

/* ---- shared by the files of src/server/ ---- */

/* A random (version 4) UUID, the x-amzn-RequestId. */
void srv_request_id(char out[SRV_REQUEST_ID_LEN]);
/* Milliseconds of CLOCK_MONOTONIC. */
double srv_now_ms(void);
/* Writes the message into err (when there is one) and returns st. */
mien_status srv_fail(char *err, size_t errlen, mien_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

struct srv {
  srv_config cfg;
  char *listen, *region, *data_dir, *web_dir; /* owned copies of cfg's strings */
  mien_service *svc;

  atomic_int keys_failing; /* the last count of access keys failed (logged once) */

  /* the network (http.c) */
  struct http_conn *conns; /* open connections and their deadlines */
  pthread_mutex_t conns_mu;
  pthread_t reaper;
  int reaper_started;
  atomic_int reaper_stop;
  int loopback_only; /* bound to loopback addresses alone */
  char url[128];
  int listen_fd;
  struct MHD_Daemon *daemon;
  atomic_int stopping;
  atomic_size_t buffered; /* bytes of request bodies held by all connections */
  size_t body_budget;     /* the most they may hold together */
  pthread_mutex_t flight_mu;
  pthread_cond_t flight_cv;
  int inflight;
  double last_purge_ms;       /* reaper thread only */
  int erasure_pending_logged; /* reaper thread only */
};

#endif
