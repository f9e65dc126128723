/* http.c - `mien serve` on libmicrohttpd: sockets, bodies, limits, and the graceful stop. What a
 * request means is server.c's business; this file only gets it there and the answer back.
 *
 * One thread per connection: a request may wait for a worker and then compute for tens of
 * milliseconds, which would stall every other connection of a shared event loop; threads keep
 * slow requests from delaying others, and --max-connections bounds how many there are. The
 * listening socket is ours (bound before libmicrohttpd starts), so that port 0 can be reported
 * and so that the server can refuse, before accepting anything, to listen beyond loopback
 * without keys.
 *
 * Limits: what can be judged on the headers is judged before a byte of the body is read (and
 * before `100 Continue`): a Content-Length over --max-body, and authentication short of the
 * signature itself (srv_preauthenticate), so that an unauthenticated client never makes the
 * server hold its body. Such a refusal is sent after the body has been read and dropped (up to
 * HTTP_MAX_DISCARD), since a client still sending would otherwise get a reset connection instead
 * of the answer; a client that asked for 100 Continue gets it at once. Two different
 * Content-Lengths, or one with Transfer-Encoding, are refused at once and the connection closed:
 * a proxy could read such a request's body differently (request smuggling). A chunked body is
 * refused when it crosses --max-body. All bodies held at once share a budget (two per worker
 * and two more, each up to --max-body), beyond which a request gets ThrottlingException; and
 * one address may hold at most --max-connections-per-client connections, so that one slow
 * client cannot take every connection.
 *
 * --timeout is a deadline, not only an idle timer: libmicrohttpd closes a connection silent that
 * long, but a slow-loris client sending a byte a second is never silent, so each
 * connection also has a deadline by which its next request must have arrived whole (--timeout
 * after it opened or after the previous answer) and its answer been taken; a reaper thread
 * shuts down the sockets of connections past theirs. While a request computes it has none.
 *
 * Stopping (SIGTERM): libmicrohttpd is quiesced (the listening socket closed, no new
 * connections), requests already in flight run to their end, including ones arriving on open
 * keep-alive connections, which are told `Connection: close`; then the daemon stops. A reply
 * that was sent was for a write already durable in the store, so nothing acknowledged is lost. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server/server.h"

/* An open connection: its socket and the time by which it must have made progress. */
struct http_conn {
  int fd;
  double deadline_ms; /* 0: none (its request is computing) */
  struct http_conn *prev, *next;
};

/* Sets the deadline of connection c to --timeout from now (on != 0) or none. */
static void set_deadline(srv *s, struct MHD_Connection *c, int on) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  struct http_conn *hc = ci ? ci->socket_context : NULL;
  if (!hc) return;
  pthread_mutex_lock(&s->conns_mu);
  hc->deadline_ms = on ? srv_now_ms() + 1000.0 * s->cfg.timeout_s : 0;
  pthread_mutex_unlock(&s->conns_mu);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
  srv *s = cls;
  struct http_conn *hc = *socket_context;
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci || !(hc = calloc(1, sizeof *hc))) return; /* left to the idle timeout */
    hc->fd = ci->connect_fd;
    hc->deadline_ms = srv_now_ms() + 1000.0 * s->cfg.timeout_s;
    pthread_mutex_lock(&s->conns_mu);
    hc->next = s->conns;
    if (s->conns) s->conns->prev = hc;
    s->conns = hc;
    pthread_mutex_unlock(&s->conns_mu);
    *socket_context = hc;
  } else if (hc) {
    /* Called before libmicrohttpd closes the socket: once unlinked here, the reaper can never
     * shut down a descriptor number that a newer connection has taken. */
    pthread_mutex_lock(&s->conns_mu);
    if (hc->prev)
      hc->prev->next = hc->next;
    else
      s->conns = hc->next;
    if (hc->next) hc->next->prev = hc->prev;
    pthread_mutex_unlock(&s->conns_mu);
    free(hc);
    *socket_context = NULL;
  }
}

/* Shuts down the sockets of connections past their deadline, four times a second, until
 * stopped. */
static void *reaper(void *arg) {
  srv *s = arg;
  while (!atomic_load(&s->reaper_stop)) {
    struct timespec ts = {0, 250 * 1000000L};
    nanosleep(&ts, NULL);
    double now = srv_now_ms();
    pthread_mutex_lock(&s->conns_mu);
    for (struct http_conn *hc = s->conns; hc; hc = hc->next)
      if (hc->deadline_ms > 0 && now > hc->deadline_ms) {
        shutdown(hc->fd, SHUT_RDWR);
        hc->deadline_ms = 0;
      }
    pthread_mutex_unlock(&s->conns_mu);
    srv_maintain(s);
  }
  return NULL;
}

/* One request's state across the access handler's calls. */
typedef struct {
  double t0;
  uint8_t *body;
  size_t len, cap; /* cap also counts in s->buffered */
  size_t want;     /* the Content-Length, 0 when none */
  int answered;
  int refused;          /* refusal is the answer, given once the body has been discarded */
  srv_response refusal; /* decided on the headers, or when the body crossed a limit */
  size_t discarded;     /* body bytes read and dropped since the refusal */
} http_req;

/* Body bytes a refused request may still send, read and dropped, so that the client (which is
 * busy sending and not yet reading) gets the answer instead of a reset connection; beyond this
 * the connection is closed after the answer. */
#define HTTP_MAX_DISCARD ((size_t)64 << 20)

/* ---- answering ---- */

/* The peer's address, "ADDR" or "[V6]", into out. */
static void client_address(struct MHD_Connection *c, char *out, size_t outlen) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  const struct sockaddr *a = ci ? ci->client_addr : NULL;
  char ip[INET6_ADDRSTRLEN] = "";
  out[0] = '\0';
  if (a && a->sa_family == AF_INET)
    inet_ntop(AF_INET, &((const struct sockaddr_in *)a)->sin_addr, ip, sizeof ip);
  else if (a && a->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)a)->sin6_addr, ip, sizeof ip);
  snprintf(out, outlen, a && a->sa_family == AF_INET6 ? "[%s]" : "%s", ip);
}

static enum MHD_Result respond(srv *s, struct MHD_Connection *c, http_req *q, srv_response *r,
                               const char *path) {
  struct MHD_Response *mr =
      r->len ? MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE)
             : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
  if (!r->len || !mr) free(r->body); /* else libmicrohttpd owns it now */
  r->body = NULL;
  q->answered = 1;
  if (!mr) return MHD_NO;
  MHD_add_response_header(mr, "x-amzn-RequestId", r->request_id);
  MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
  MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
  /* No other site may frame the web page (clickjacking its buttons). */
  MHD_add_response_header(mr, "X-Frame-Options", "DENY");
  MHD_add_response_header(mr, "Content-Security-Policy", "frame-ancestors 'none'");
  if (atomic_load(&s->stopping)) MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");
  enum MHD_Result ret = MHD_queue_response(c, (unsigned)r->status, mr);
  MHD_destroy_response(mr);
  if (ret != MHD_YES) r->status = 0; /* logged as status 0: the connection is closed instead */
  set_deadline(s, c, 1);             /* for sending the answer and the next request */
  client_address(c, r->client, sizeof r->client);
  srv_log(r, path, srv_now_ms() - q->t0);
  return ret;
}

/* Decides the answer before the body is read: q->refusal, sent by on_request once the body has
 * been read and dropped (or at once, for a client waiting for 100 Continue). */
static void refuse(http_req *q, int status, const char *type, const char *msg) {
  srv_response *r = &q->refusal;
  if (!q->refused) {
    memset(r, 0, sizeof *r);
    srv_request_id(r->request_id);
    snprintf(r->op, sizeof r->op, "POST");
    snprintf(r->principal, sizeof r->principal, "anonymous");
    srv_error(r, status, type, msg);
  }
  q->refused = 1;
}

static void too_large(srv *s, http_req *q) {
  char msg[160];
  snprintf(msg, sizeof msg, "the request body is larger than the limit of %zu bytes (--max-body)",
           s->cfg.max_body);
  refuse(q, 400, "ImageTooLargeException", msg);
}

/* Drops the body held so far, and its share of s->buffered. */
static void drop_body(srv *s, http_req *q) {
  atomic_fetch_sub(&s->buffered, q->cap);
  free(q->body);
  q->body = NULL;
  q->len = q->cap = 0;
}

/* ---- reading the request ---- */

typedef struct {
  srv_kv *kv;
  int n, cap;
} kv_list;

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value) {
  (void)kind;
  kv_list *l = cls;
  if (l->n < l->cap) l->kv[l->n++] = (srv_kv){key, value ? value : ""};
  return MHD_YES;
}

static int values(struct MHD_Connection *c, enum MHD_ValueKind kind, kv_list *l) {
  l->n = 0;
  l->cap = MHD_get_connection_values(c, kind, NULL, NULL);
  l->kv = l->cap > 0 ? calloc((size_t)l->cap, sizeof *l->kv) : NULL;
  if (l->cap > 0 && !l->kv) return -1;
  MHD_get_connection_values(c, kind, collect, l);
  return 0;
}

/* How the request's body is framed: its Content-Length headers (distinct values) and whether it
 * also has Transfer-Encoding. */
typedef struct {
  int lengths, distinct, chunked;
  const char *first;
} framing;

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value) {
  (void)kind;
  framing *f = cls;
  if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) f->chunked = 1;
  if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) return MHD_YES;
  value = value ? value : "";
  if (!f->lengths++)
    f->first = value;
  else if (strcmp(value, f->first))
    f->distinct = 1;
  return MHD_YES;
}

/* The first call of a request, its headers read: the checks that need no body. A refusal that
 * cannot wait for the body (ambiguous framing, a client waiting for 100 Continue, a body too
 * big even to drop) is answered at once and the connection closed; any other is answered once
 * the body has been read and dropped. */
static enum MHD_Result on_headers(srv *s, struct MHD_Connection *c, const char *url,
                                  const char *method, http_req *q) {
  framing f = {0};
  MHD_get_connection_values(c, MHD_HEADER_KIND, count_framing, &f);
  if (f.distinct || (f.lengths && f.chunked)) {
    /* Two readers of this request could split it into different requests (smuggling). */
    refuse(q, 400, "SerializationException",
           "the request has two different Content-Length headers, or Content-Length with "
           "Transfer-Encoding: its body has no single length");
    return respond(s, c, q, &q->refusal, NULL);
  }
  unsigned long long want = f.first ? strtoull(f.first, NULL, 10) : 0;
  q->want = want <= s->cfg.max_body ? (size_t)want : 0;
  if (want > s->cfg.max_body) too_large(s, q);
  if (!q->refused) {
    kv_list hs;
    if (values(c, MHD_HEADER_KIND, &hs)) return MHD_NO;
    srv_request rq = {.method = method, .path = url, .headers = hs.kv, .nheaders = hs.n};
    srv_response r;
    if (srv_preauthenticate(s, &rq, &r) != 0) {
      q->refusal = r;
      q->refused = 1;
    } else {
      free(r.body);
    }
    free(hs.kv);
  }
  const char *expect = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
  if (q->refused && ((expect && !strcasecmp(expect, "100-continue")) || want > HTTP_MAX_DISCARD))
    return respond(s, c, q, &q->refusal, NULL);
  return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
  (void)version;
  srv *s = cls;
  http_req *q = *con_cls;
  if (!q) {
    if (!(q = calloc(1, sizeof *q))) return MHD_NO;
    q->t0 = srv_now_ms();
    *con_cls = q;
    pthread_mutex_lock(&s->flight_mu);
    s->inflight++;
    pthread_mutex_unlock(&s->flight_mu);
    return on_headers(s, c, url, method, q);
  }
  if (*upload_size) {
    size_t n = *upload_size;
    *upload_size = 0;
    if (q->answered) return MHD_YES;
    if (!q->refused && q->len + n > s->cfg.max_body) too_large(s, q); /* chunked */
    if (!q->refused && q->len + n > q->cap) {
      /* Memory follows the bytes that arrived, not the Content-Length a client announced: idle
       * connections claiming 8 MiB each must not hold 8 MiB each. All bodies together stay
       * within a budget, so that many big bodies arriving at once are throttled instead. */
      size_t limit = q->want ? q->want : s->cfg.max_body, cap = (q->len + n) * 2;
      if (cap < 65536) cap = 65536;
      if (cap > limit) cap = limit < q->len + n ? q->len + n : limit;
      size_t grow = cap - q->cap;
      if (atomic_fetch_add(&s->buffered, grow) + grow > s->body_budget) {
        atomic_fetch_sub(&s->buffered, grow);
        refuse(q, 400, "ThrottlingException",
               "Rate exceeded: too many request bodies are arriving at once; retry later");
      } else {
        uint8_t *b = realloc(q->body, cap);
        if (!b) {
          atomic_fetch_sub(&s->buffered, grow);
          return MHD_NO;
        }
        q->body = b, q->cap = cap;
      }
    }
    if (q->refused) {
      drop_body(s, q);
      q->discarded += n;
      return q->discarded > HTTP_MAX_DISCARD ? respond(s, c, q, &q->refusal, NULL) : MHD_YES;
    }
    memcpy(q->body + q->len, upload, n);
    q->len += n;
    return MHD_YES;
  }
  if (q->answered) return MHD_YES;
  if (q->refused) return respond(s, c, q, &q->refusal, NULL);
  set_deadline(s, c, 0);
  kv_list hs, qs;
  if (values(c, MHD_HEADER_KIND, &hs) || values(c, MHD_GET_ARGUMENT_KIND, &qs)) {
    free(hs.kv);
    return MHD_NO;
  }
  srv_request rq = {.method = method,
                    .path = url,
                    .query = qs.kv,
                    .nquery = qs.n,
                    .headers = hs.kv,
                    .nheaders = hs.n,
                    .body = q->body,
                    .body_len = q->len};
  srv_response r;
  srv_handle(s, &rq, &r);
  free(hs.kv);
  free(qs.kv);
  return respond(s, c, q, &r, strcmp(method, "POST") ? url : NULL);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  (void)toe;
  srv *s = cls;
  http_req *q = *con_cls;
  if (!q) return;
  set_deadline(s, c, 1); /* the next request on this connection */
  drop_body(s, q);
  free(q->refusal.body); /* NULL once answered */
  free(q);
  *con_cls = NULL;
  pthread_mutex_lock(&s->flight_mu);
  if (--s->inflight == 0) pthread_cond_broadcast(&s->flight_cv);
  pthread_mutex_unlock(&s->flight_mu);
}

/* ---- listening ---- */

static int is_loopback(const struct sockaddr *a) {
  if (a->sa_family == AF_INET)
    return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
  if (a->sa_family == AF_INET6) {
    const struct in6_addr *v6 = &((const struct sockaddr_in6 *)a)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(v6) || (IN6_IS_ADDR_V4MAPPED(v6) && v6->s6_addr[12] == 127);
  }
  return 0;
}

/* Splits "HOST:PORT" or "[V6]:PORT". */
static int split_listen(const char *spec, char *host, size_t hostlen, char *port, size_t portlen) {
  const char *colon = strrchr(spec, ':');
  if (!colon || !colon[1] || strlen(colon + 1) >= portlen) return -1;
  const char *h = spec;
  size_t len = (size_t)(colon - spec);
  if (spec[0] == '[') {
    if (len < 2 || spec[len - 1] != ']') return -1;
    h++, len -= 2;
  }
  if (len == 0 || len >= hostlen) return -1;
  memcpy(host, h, len);
  host[len] = 0;
  snprintf(port, portlen, "%s", colon + 1);
  char *end;
  long p = strtol(port, &end, 10);
  return *end || p < 0 || p > 65535 ? -1 : 0;
}

static mien_status bind_listen(srv *s, struct sockaddr_storage *addr, char *err, size_t errlen) {
  char host[256], port[16];
  if (split_listen(s->listen, host, sizeof host, port, sizeof port) != 0)
    return srv_fail(err, errlen, MIEN_ERR_INVALID_PARAMETER,
                    "--listen %s: expected ADDR:PORT (e.g. 127.0.0.1:8080, [::1]:0)", s->listen);
  struct addrinfo hints = {.ai_family = AF_UNSPEC,
                           .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
                  *ai;
  int rc = getaddrinfo(host, port, &hints, &ai);
  if (rc != 0)
    return srv_fail(err, errlen, MIEN_ERR_INVALID_PARAMETER, "--listen %s: %s", s->listen,
                    gai_strerror(rc));
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
  socklen_t alen = sizeof *addr;
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0 ||
      getsockname(fd, (struct sockaddr *)addr, &alen) != 0) {
    int e = errno;
    if (fd >= 0) close(fd);
    freeaddrinfo(ai);
    return srv_fail(err, errlen, MIEN_ERR_IO, "cannot listen on %s: %s", s->listen, strerror(e));
  }
  freeaddrinfo(ai);
  s->listen_fd = fd;
  return MIEN_OK;
}

mien_status srv_listen(srv *s, char *err, size_t errlen) {
  struct sockaddr_storage addr;
  mien_status st = bind_listen(s, &addr, err, errlen);
  if (st != MIEN_OK) return st;
  s->loopback_only = is_loopback((struct sockaddr *)&addr);
  if (!s->loopback_only && srv_key_count(s) == 0) {
    close(s->listen_fd);
    s->listen_fd = -1;
    return srv_fail(err, errlen, MIEN_ERR_ACCESS_DENIED,
                    "refusing to listen on %s beyond loopback without access keys: create one "
                    "with `mien keys add NAME` (requests must then be signed with it)",
                    s->listen);
  }
  char ip[INET6_ADDRSTRLEN] = "";
  int v6 = addr.ss_family == AF_INET6;
  int port = ntohs(v6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
                      : ((struct sockaddr_in *)&addr)->sin_port);
  inet_ntop(addr.ss_family,
            v6 ? (void *)&((struct sockaddr_in6 *)&addr)->sin6_addr
               : (void *)&((struct sockaddr_in *)&addr)->sin_addr,
            ip, sizeof ip);
  snprintf(s->url, sizeof s->url, v6 ? "http://[%s]:%d" : "http://%s:%d", ip, port);

  unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                   MHD_USE_ITC | (v6 ? MHD_USE_IPv6 : 0);
  s->daemon = MHD_start_daemon(
      flags, 0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, s->listen_fd,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->cfg.max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
      (unsigned)s->cfg.timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)128 * 1024,
      MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)s->cfg.max_connections_per_client,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
      MHD_OPTION_END);
  if (!s->daemon) {
    close(s->listen_fd);
    s->listen_fd = -1;
    return srv_fail(err, errlen, MIEN_ERR_IO, "libmicrohttpd could not start on %s", s->listen);
  }
  if (pthread_create(&s->reaper, NULL, reaper, s) != 0) {
    srv_stop(s, 0);
    return srv_fail(err, errlen, MIEN_ERR_INTERNAL, "cannot start the connection reaper thread");
  }
  s->reaper_started = 1;
  return MIEN_OK;
}

const char *srv_url(const srv *s) {
  return s->url;
}

void srv_stop(srv *s, int drain_s) {
  if (!s->daemon) return;
  atomic_store(&s->stopping, 1);
  MHD_socket fd = MHD_quiesce_daemon(s->daemon);
  if (fd != MHD_INVALID_SOCKET) close(fd);
  s->listen_fd = -1;
  struct timespec dl;
  clock_gettime(CLOCK_REALTIME, &dl);
  dl.tv_sec += drain_s;
  pthread_mutex_lock(&s->flight_mu);
  while (s->inflight > 0)
    if (pthread_cond_timedwait(&s->flight_cv, &s->flight_mu, &dl) == ETIMEDOUT) break;
  pthread_mutex_unlock(&s->flight_mu);
  MHD_stop_daemon(s->daemon);
  s->daemon = NULL;
  if (s->reaper_started) {
    atomic_store(&s->reaper_stop, 1);
    pthread_join(s->reaper, NULL);
    s->reaper_started = 0;
  }
}
