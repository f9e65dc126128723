/* output.c - how every command prints: results as one line of JSON on stdout, refusals as one
 * line of Rekognition's error JSON ({"__type", "Message"}) on stderr, the same shape the
 * server will answer with, and an exit code that says what kind of failure it was. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "mien.h"

cJSON *cli_json_number(double v, int digits) {
  char buf[40];
  snprintf(buf, sizeof buf, "%.*g", digits, v);
  return cJSON_CreateNumber(strtod(buf, NULL));
}

int cli_print_json(FILE *f, cJSON *j) {
  char *s = j ? cJSON_PrintUnformatted(j) : NULL;
  cJSON_Delete(j);
  if (!s) {
    fprintf(stderr, "mien: out of memory\n");
    return EXIT_FAILURE_GENERIC;
  }
  fprintf(f, "%s\n", s);
  fflush(f);
  free(s);
  return EXIT_OK;
}

int cli_exit_code(int status) {
  switch ((mien_status)status) {
  case MIEN_OK:
    return EXIT_OK;
  case MIEN_ERR_INVALID_PARAMETER:
  case MIEN_ERR_INVALID_IMAGE_FORMAT:
  case MIEN_ERR_IMAGE_TOO_LARGE:
  case MIEN_ERR_RESOURCE_NOT_FOUND: /* input the caller can fix, like a bad parameter */
  case MIEN_ERR_RESOURCE_EXISTS:
  case MIEN_ERR_CONFLICT:
  case MIEN_ERR_QUOTA:
  case MIEN_ERR_PAGINATION_TOKEN:
  case MIEN_ERR_INVALID_S3_OBJECT:
  case MIEN_ERR_ACCESS_DENIED:
  case MIEN_ERR_SERIALIZATION:
  case MIEN_ERR_VIDEO_TOO_LARGE:
  case MIEN_ERR_LIMIT_EXCEEDED:
  case MIEN_ERR_IDEMPOTENT_MISMATCH:
    return EXIT_INPUT;
  case MIEN_ERR_MODEL:
  case MIEN_ERR_IO:
    return EXIT_SETUP;
  default:
    return EXIT_FAILURE_GENERIC;
  }
}

int cli_usage(void (*usage)(FILE *), int help) {
  usage(help ? stdout : stderr);
  return help ? EXIT_OK : EXIT_USAGE;
}

int cli_fail(const char *context, int status, const char *msg) {
  mien_status st = (mien_status)status;
  char line[1024];
  const char *text = msg && *msg ? msg : mien_status_name(st);
  if (context) snprintf(line, sizeof line, "%s: %s", context, text);
  cJSON *e = cJSON_CreateObject();
  cJSON_AddStringToObject(e, "__type", mien_status_name(st));
  cJSON_AddStringToObject(e, "Message", context ? line : text);
  cli_print_json(stderr, e);
  return cli_exit_code(st);
}

int cli_call(mien_service *svc, const char *context, const char *op, cJSON *req, const void *image,
             size_t image_len) {
  char *body = cJSON_PrintUnformatted(req);
  cJSON_Delete(req);
  if (!body) return cli_fail(context, MIEN_ERR_NOMEM, "out of memory");
  int rc = cli_call_body(svc, context, op, body, strlen(body), image, image_len);
  free(body);
  return rc;
}

int cli_call_body(mien_service *svc, const char *context, const char *op, const char *body,
                  size_t len, const void *image, size_t image_len) {
  char *resp = NULL, err[1024] = "";
  mien_call_context ctx = {.image = image, .image_len = image_len};
  mien_status st = mien_service_call_with(svc, &ctx, op, body, len, &resp, err, sizeof err);
  int rc = EXIT_OK;
  if (st == MIEN_OK) {
    printf("%s\n", resp);
    fflush(stdout);
  } else {
    rc = cli_fail(context, st, err);
  }
  mien_free(resp);
  return rc;
}
