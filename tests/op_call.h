/* op_call.h - calling an operation of the table (api/ops.h) the way the server does, with a
 * request body written as printf format, for the C tests of operations. */
#ifndef MIEN_TEST_OP_CALL_H
#define MIEN_TEST_OP_CALL_H

#include <stdarg.h>
#include <stdio.h>

#include "api/ops.h"
#include "check.h"

/* Runs operation `op` on api with the body made from fmt and ap. Returns the response, or NULL
 * with *st and err saying why. */
static inline cJSON *op_vcall(mien_api *api, const char *op, mien_status *st, char *err,
                              size_t errlen, const char *fmt, va_list ap) {
  char *body;
  if (vasprintf(&body, fmt, ap) < 0) return *st = MIEN_ERR_NOMEM, NULL;
  cJSON *req = cJSON_Parse(body), *resp = NULL;
  CHECK_MSG(req != NULL, "bad test JSON %.300s", body);
  free(body);
  err[0] = '\0';
  *st = mien_op_find(op)->run(api, req, &resp, err, errlen);
  cJSON_Delete(req);
  return resp;
}

/* Defines `static cJSON *NAME(FIXTURE *f, const char *op, const char *fmt, ...)`: op_vcall on a
 * test's fixture, which holds `mien_api api`, `mien_status st` and a `char err[]`; the response,
 * or NULL with f->st and f->err saying why. */
#define OP_FIXTURE_CALL(NAME, FIXTURE)                                                             \
  __attribute__((format(printf, 3, 4))) static cJSON *NAME(FIXTURE *f, const char *op,             \
                                                           const char *fmt, ...) {                 \
    va_list ap;                                                                                    \
    va_start(ap, fmt);                                                                             \
    cJSON *resp = op_vcall(&f->api, op, &f->st, f->err, sizeof f->err, fmt, ap);                   \
    va_end(ap);                                                                                    \
    return resp;                                                                                   \
  }

#endif
