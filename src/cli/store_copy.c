/* store_copy.c - `mien store copy --from LOCATION --to LOCATION`: a store's rows from a data
 * directory into PostgreSQL or back (mien_store_copy_between; docs/cluster.md). Prints the row
 * counts of both sides and the target's audit chain; exits 1 when they disagree. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"

static void usage(FILE *f) {
  fputs("usage: mien store copy --from LOCATION --to LOCATION\n"
        "  copies every collection, face, user, tag, audit record and video job of the store at\n"
        "  --from into the store at --to (DIR, sqlite:DIR or a postgresql:// URL; made when new),\n"
        "  templates as stored (sealed ones keep needing their key). Rows the target has already "
        "are\n"
        "  kept, so an interrupted copy can be rerun. Ends by comparing the row counts and "
        "verifying\n"
        "  the target's audit chain.\n",
        f);
}

int cmd_store(int argc, char **argv) {
  const char *from = NULL, *to = NULL;
  if (argc < 2 || strcmp(argv[1], "copy"))
    return cli_usage(usage, argc > 1 && !strcmp(argv[1], "--help"));
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--from") && i + 1 < argc)
      from = argv[++i];
    else if (!strcmp(argv[i], "--to") && i + 1 < argc)
      to = argv[++i];
    else
      return cli_usage(usage, !strcmp(argv[i], "--help"));
  }
  if (!from || !to) return cli_usage(usage, 0);
  mien_copy_report r;
  char err[1024] = "";
  mien_status st = mien_store_copy_between(from, to, &r, err, sizeof err);
  if (st != MIEN_OK) return cli_fail("store copy", st, err);
  cJSON *o = cJSON_CreateObject(), *rows = cJSON_AddObjectToObject(o, "Tables");
  for (int t = 0; t < r.ntables; t++) {
    cJSON *c = cJSON_AddObjectToObject(rows, r.table[t]);
    cJSON_AddNumberToObject(c, "Source", (double)r.source_rows[t]);
    cJSON_AddNumberToObject(c, "Target", (double)r.target_rows[t]);
  }
  cJSON_AddBoolToObject(o, "CountsMatch", r.counts_match);
  cJSON_AddNumberToObject(o, "AuditRecords", (double)r.audit_records);
  cJSON_AddStringToObject(o, "AuditHead", r.audit_head);
  cJSON_AddBoolToObject(o, "AuditValid", r.audit_valid);
  int ok = r.counts_match && r.audit_valid;
  int rc = cli_print_json(stdout, o);
  return rc == EXIT_OK && !ok ? EXIT_FAILURE_GENERIC : rc;
}
