/* request.h - the input format of the targets that fuzz what the server receives (fuzz_sigv4.c,
 * fuzz_server.c): a request in HTTP's own shape, so that seeds are readable and mutations stay
 * meaningful, split into the srv_request that src/server/ gets from libmicrohttpd.
 *
 *   METHOD /path?name=value&name=value
 *   Header-Name: value
 *   ...
 *   (empty line)
 *   body bytes
 *
 * As in HTTP, the whitespace around a header value is not part of it. Without the empty line
 * (the last header line not even ended) there is no body at all: body NULL, as libmicrohttpd
 * leaves it for a POST that sends none. Header-only (static functions) because each target is
 * built from one source file. */
#ifndef MIEN_FUZZ_REQUEST_H
#define MIEN_FUZZ_REQUEST_H

#include <string.h>

#include "server/sigv4.h"

#define FUZZ_MAX_KV 32

typedef struct {
  srv_request rq;
  srv_kv headers[FUZZ_MAX_KV], query[FUZZ_MAX_KV];
  char *text; /* the NUL-terminated copy everything points into: free it */
} fuzz_request;

/* Splits data into p; returns 0, or -1 when out of memory. */
static int fuzz_request_parse(const uint8_t *data, size_t size, fuzz_request *p) {
  memset(p, 0, sizeof *p);
  char *text = p->text = malloc(size + 1);
  if (!text) return -1;
  memcpy(text, data, size);
  text[size] = 0;
  char *end = text + size, *line = text, *next = strchr(line, '\n');
  if (next) *next = 0;
  char *sp = strchr(line, ' ');
  p->rq.method = line;
  p->rq.path = "/";
  if (sp) {
    *sp = 0;
    p->rq.path = sp + 1;
    char *q = strchr(sp + 1, '?');
    if (q) *q++ = 0;
    for (char *kv = q, *amp; kv && p->rq.nquery < FUZZ_MAX_KV; kv = amp) {
      if ((amp = strchr(kv, '&'))) *amp++ = 0;
      char *eq = strchr(kv, '=');
      if (eq) *eq++ = 0;
      p->query[p->rq.nquery++] = (srv_kv){kv, eq ? eq : ""};
    }
  }
  p->rq.query = p->query;
  p->rq.headers = p->headers;
  while (next && next + 1 < end) {
    line = next + 1;
    if ((next = strchr(line, '\n'))) *next = 0;
    if (!line[0]) break; /* the empty line: the body follows */
    if (p->rq.nheaders == FUZZ_MAX_KV) continue;
    char *value = strchr(line, ':');
    if (value) {
      *value++ = 0;
      value += strspn(value, " \t");
      for (char *e = value + strlen(value); e > value && (e[-1] == ' ' || e[-1] == '\t');) *--e = 0;
    }
    p->headers[p->rq.nheaders++] = (srv_kv){line, value ? value : ""};
  }
  if (next && next + 1 <= end) {
    p->rq.body = (const uint8_t *)next + 1;
    p->rq.body_len = (size_t)(end - (next + 1));
  }
  return 0;
}

#endif
