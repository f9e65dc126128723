/* output.c - how every command prints: results as one line of JSON on stdout, refusals as one
 * line of Rekognition's error JSON ({"__type", "Message"}) on stderr, the same shape the
 * server will answer with, and an exit code that says what kind of failure it was. */
#include <stdlib.h>

#include "api/api.h"
#include "cli/cli.h"

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
  cli_print_json(stderr, mien_error_json(st, context ? line : text));
  return cli_exit_code(st);
}
