/* output.c - how every command prints: results as one line of JSON on stdout, refusals as one
 * line of Rekognition's error JSON ({"__type", "Message"}) on stderr, the same shape the
 * server will answer with, and an exit code that says what kind of failure it was. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "mien.h"

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
  char *body = cJSON_PrintUnformatted(req), *resp = NULL, err[1024] = "";
  cJSON_Delete(req);
  if (!body) return cli_fail(context, MIEN_ERR_NOMEM, "out of memory");
  mien_call_context ctx = {.image = image, .image_len = image_len};
  mien_status st =
      mien_service_call_with(svc, &ctx, op, body, strlen(body), &resp, err, sizeof err);
  free(body);
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
