/* fuzz_server.c - libFuzzer target for the server's handling of a whole request, after
 * libmicrohttpd has split it and before any socket: srv_handle (src/server/server.h) with the
 * method, the path (static files: dot segments, links and encodings that must not leave the web
 * directory), the Host check of a server without keys (only localhost may call it), X-Amz-Target
 * routing, Content-Type, the JSON body and then the operation itself. The input is a request in
 * HTTP's own shape (request.h).
 *
 * The server is made once per process as `mien serve` makes it, on loopback, with no access keys,
 * one worker, a scratch data directory and a web directory holding index.html, a sub-directory
 * and links leading out of it to secret.txt; its store is emptied every RESET requests.
 * Properties beyond not crashing: every response has a request id and a known status; every
 * refusal is a JSON {"__type", "Message"} naming the type the server logs; nothing is ever a
 * 500 (InternalServerError: a bug); no response contains secret.txt. MIEN_FUZZ_VERBOSE=1 prints
 * each response. */
#include <cjson/cJSON.h>

#include "fuzz.h"
#include "request.h"
#include "scratch.h"
#include "server/server.h"

#define RESET 2000
#define SECRET "secret-4f1d9c: outside the web directory"

static char dir[256];
static srv *server;

static void start(void) {
  char data[300], err[512];
  snprintf(data, sizeof data, "%s/data", dir);
  fuzz_remove_tree(data);
  srv_config cfg = {.region = "us-east-1",
                    .data_dir = data,
                    .workers = 1,
                    .max_body = 1 << 20,
                    .queue_timeout_ms = 1000};
  char web[300];
  snprintf(web, sizeof web, "%s/web", dir);
  cfg.web_dir = web;
  if (srv_create(&cfg, &server, err, sizeof err) != MIEN_OK) {
    fprintf(stderr, "fuzz_server: %s\n", err);
    abort();
  }
  server->loopback_only = 1; /* what srv_listen decides for 127.0.0.1 without keys */
}

static void stop(void) {
  srv_free(server);
  fuzz_remove_tree(dir);
}

static void init(void) {
  fuzz_scratch_dir("server", dir, sizeof dir);
  char web[300], sub[320];
  snprintf(web, sizeof web, "%s/web", dir);
  snprintf(sub, sizeof sub, "%s/sub", web);
  mkdir(web, 0700);
  mkdir(sub, 0700);
  fuzz_put(web, "index.html", "<!doctype html><title>mien</title>", 34);
  fuzz_put(web, "app.js", "console.log('mien');", 20);
  fuzz_put(sub, "a b.txt", "a file with a space", 19);
  fuzz_put(dir, "secret.txt", SECRET, strlen(SECRET));
  fuzz_link(web, "escape.txt", "../secret.txt");
  fuzz_link(web, "up", "..");
  start();
  atexit(stop);
}

static void check(const srv_request *rq, const srv_response *r) {
  if (getenv("MIEN_FUZZ_VERBOSE"))
    fprintf(stderr, "%s: %d %s %.*s\n", r->op, r->status, r->error,
            r->len > 120 ? 120 : (int)r->len, r->body ? r->body : "");
  FUZZ_ASSERT(strlen(r->request_id) == 36);
  if (r->status == 500) fprintf(stderr, "500: %.*s\n", (int)r->len, r->body ? r->body : "");
  FUZZ_ASSERT(r->status == 200 || r->status == 400 || r->status == 403 || r->status == 404 ||
              r->status == 405);
  FUZZ_ASSERT(r->len == 0 || r->body != NULL);
  /* Only files: error messages and API responses may echo what the request said. */
  int file = !strcmp(rq->method, "GET") || !strcmp(rq->method, "HEAD");
  if (file && r->status == 200 && r->len && memmem(r->body, r->len, SECRET, strlen(SECRET))) {
    fprintf(stderr, "secret.txt served for %s\n", rq->path);
    abort();
  }
  if (r->status == 200) {
    FUZZ_ASSERT(r->error[0] == '\0');
    return;
  }
  cJSON *e = cJSON_ParseWithLength(r->body, r->len);
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(e, "__type");
  FUZZ_ASSERT(cJSON_IsString(type) && !strcmp(type->valuestring, r->error));
  FUZZ_ASSERT(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "Message")));
  cJSON_Delete(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int runs;
  if (!server) init();
  if (++runs % RESET == 0) {
    srv_free(server);
    start();
  }
  fuzz_request p;
  if (fuzz_request_parse(data, size, &p) != 0) return 0;
  srv_response r;
  srv_handle(server, &p.rq, &r);
  check(&p.rq, &r);
  free(r.body);
  free(p.text);
  return 0;
}
