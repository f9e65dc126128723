/* privacy.c - the commands of mien's privacy controls (docs/privacy.md): `mien audit verify` and
 * `mien audit export` over the hash-chained audit log, `mien purge` for retention on demand, and
 * the template-key commands `mien keys new-template-key FILE` and `mien keys
 * rotate-template-key --new-key FILE` (dispatched from `mien keys`). Each is a thin layer over
 * the service's admin calls (mien.h): the rules live in the store, so the server and the CLI
 * cannot differ. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "mien.h"

static const char *const usage_text =
    "usage: mien [--data DIR] audit verify [--head SEQ:HASH]\n"
    "       mien [--data DIR] audit export [--after SEQ]\n"
    "       mien [--data DIR] [--template-key FILE] purge\n"
    "       mien keys new-template-key FILE\n"
    "       mien [--data DIR] [--template-key FILE] keys rotate-template-key --new-key FILE\n"
    "  audit verify   checks the audit log's hash chain: exit 0 and {\"Valid\":true,...} when\n"
    "                 every record is there, in order and unedited; else exit 1 and the first\n"
    "                 bad record. --head SEQ:HASH also checks that record SEQ (a head printed by\n"
    "                 an earlier verify and kept elsewhere) is still the same\n"
    "  audit export   the records as JSON lines, as stored: each line's SHA-256 (hex, of the\n"
    "                 line without its newline) is the next line's \"prev\"\n"
    "  purge          deletes now the faces past their collection's mien:retention-days\n"
    "  keys new-template-key FILE\n"
    "                 writes a new random AES-256 key (64 hex digits) to FILE, mode 0600\n"
    "  keys rotate-template-key --new-key FILE\n"
    "                 re-encrypts every template with FILE's key in one transaction (or\n"
    "                 encrypts an unencrypted store); then give --template-key FILE\n"
    "the template key: --template-key FILE or MIEN_TEMPLATE_KEY=FILE\n";

static void usage(FILE *f) {
  fputs(usage_text, f);
}

/* Options of these commands: argv[0] is the (sub)command; operands go to pos. Returns -1 to go
 * on, else the exit code. */
typedef struct {
  const char *data, *head, *after, *new_key;
  const char *pos[2];
  int npos;
} opts;

static int parse(int argc, char **argv, opts *o) {
  static const struct option longopts[] = {
      {"data", required_argument, NULL, 'd'},
      {"store", required_argument, NULL, 'd'},
      {"head", required_argument, NULL, 'H'},
      {"after", required_argument, NULL, 'a'},
      {"new-key", required_argument, NULL, 'k'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  memset(o, 0, sizeof *o);
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
    if (c == 'h') return cli_usage(usage, 1);
    if (c == 'd')
      o->data = optarg;
    else if (c == 'H')
      o->head = optarg;
    else if (c == 'a')
      o->after = optarg;
    else if (c == 'k')
      o->new_key = optarg;
    else
      return cli_usage(usage, 0);
  }
  for (int i = optind; i < argc; i++) {
    if (o->npos == 2) return cli_usage(usage, 0);
    o->pos[o->npos++] = argv[i];
  }
  return -1;
}

/* ---- mien audit ---- */

static int print_line(void *ctx, const char *record) {
  (void)ctx;
  return puts(record) < 0;
}

static int audit_verify(const char *dir, const char *head) {
  long long seq = 0;
  int n = 0;
  if (head && (sscanf(head, "%lld:%n", &seq, &n) != 1 || seq < 1 || strlen(head + n) != 64)) {
    fprintf(stderr, "mien audit verify: --head takes SEQ:HASH (64 hex digits)\n");
    return EXIT_USAGE;
  }
  mien_service *svc;
  int rc = cli_open_service(dir, 1, &svc);
  if (rc != EXIT_OK) return rc;
  mien_audit_report c;
  char err[1024] = "";
  mien_status st =
      mien_service_audit_verify(svc, head ? seq : 0, head ? head + n : NULL, &c, err, sizeof err);
  mien_service_close(svc);
  if (st != MIEN_OK) return cli_fail("audit verify", st, err);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddBoolToObject(o, "Valid", c.valid);
  cJSON_AddNumberToObject(o, "Records", (double)c.records);
  if (c.head[0]) cJSON_AddStringToObject(o, "Head", c.head);
  if (c.head[0]) cJSON_AddNumberToObject(o, "HeadSeq", (double)c.records);
  if (c.erasure_pending > 0) {
    /* Deleted templates still lie in mien.db-wal: another process holds a read transaction. */
    cJSON_AddNumberToObject(o, "ErasurePendingSince", c.erasure_pending);
    fprintf(stderr,
            "mien audit verify: an erasure is pending since %.0f (Unix time): another process "
            "holds the database open in a read transaction; deleted templates stay in "
            "mien.db-wal until it ends and mien retries\n",
            c.erasure_pending);
  }
  if (c.first_bad_record) {
    cJSON_AddNumberToObject(o, "FirstBadRecord", (double)c.first_bad_record);
    cJSON_AddStringToObject(o, "Reason", c.reason);
    fprintf(stderr, "mien audit verify: the audit log fails at record %lld: %s\n",
            (long long)c.first_bad_record, c.reason);
  }
  rc = cli_print_json(stdout, o);
  return c.first_bad_record ? EXIT_FAILURE_GENERIC : rc;
}

int cmd_audit(int argc, char **argv) {
  opts o;
  int rc = parse(argc, argv, &o);
  if (rc != -1) return rc;
  char dir[4096];
  if ((rc = cli_data_dir(o.data, dir, sizeof dir)) != EXIT_OK) return rc;
  const char *sub = o.npos == 1 ? o.pos[0] : "";
  if (!strcmp(sub, "verify") && !o.after) return audit_verify(dir, o.head);
  if (strcmp(sub, "export") || o.head) return cli_usage(usage, 0);
  char *end = NULL;
  long long after = o.after ? strtoll(o.after, &end, 10) : 0;
  if (o.after && (*end || after < 0)) {
    fprintf(stderr, "mien audit export: --after takes a sequence number\n");
    return EXIT_USAGE;
  }
  mien_service *svc;
  if ((rc = cli_open_service(dir, 1, &svc)) != EXIT_OK) return rc;
  char err[1024] = "";
  mien_status st = mien_service_audit_export(svc, after, print_line, NULL, err, sizeof err);
  mien_service_close(svc);
  if (fflush(stdout) != 0) return cli_fail("audit export", MIEN_ERR_IO, "cannot write stdout");
  return st == MIEN_OK ? EXIT_OK : cli_fail("audit export", st, err);
}

/* ---- mien purge ---- */

int cmd_purge(int argc, char **argv) {
  opts o;
  int rc = parse(argc, argv, &o);
  if (rc != -1) return rc;
  if (o.npos || o.head || o.after || o.new_key) return cli_usage(usage, 0);
  mien_service *svc;
  if ((rc = cli_open_service(o.data, 0, &svc)) != EXIT_OK) return rc;
  /* Opening purged already (counted here too); a second pass finds what expired meanwhile. */
  int64_t n = 0;
  char err[1024] = "";
  mien_status st = mien_service_purge(svc, &n, err, sizeof err);
  mien_service_close(svc);
  if (st != MIEN_OK) return cli_fail("purge", st, err);
  cJSON *r = cJSON_CreateObject();
  cJSON_AddNumberToObject(r, "PurgedFaces", (double)n);
  return cli_print_json(stdout, r);
}

/* ---- mien keys new-template-key, rotate-template-key ---- */

int cmd_keys_new_template_key(int argc, char **argv) {
  opts o;
  int rc = parse(argc, argv, &o);
  if (rc != -1) return rc;
  if (o.npos != 1 || o.head || o.after || o.new_key || o.data) return cli_usage(usage, 0);
  char err[1024] = "";
  mien_status st = mien_template_key_create(o.pos[0], err, sizeof err);
  if (st != MIEN_OK) return cli_fail("keys new-template-key", st, err);
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "TemplateKeyFile", o.pos[0]);
  return cli_print_json(stdout, r);
}

int cmd_keys_rotate_template_key(int argc, char **argv) {
  opts o;
  int rc = parse(argc, argv, &o);
  if (rc != -1) return rc;
  if (o.npos || !o.new_key || o.head || o.after) return cli_usage(usage, 0);
  mien_service *svc;
  if ((rc = cli_open_service(o.data, 0, &svc)) != EXIT_OK) return rc;
  int64_t n;
  char err[1024] = "";
  mien_status st = mien_service_rotate_template_key(svc, o.new_key, &n, err, sizeof err);
  mien_service_close(svc);
  if (st != MIEN_OK) return cli_fail("keys rotate-template-key", st, err);
  fprintf(stderr,
          "mien keys rotate-template-key: %lld templates re-encrypted for %s: give "
          "--template-key %s (or %s=%s) from now on; keep the old key only as long as backups "
          "made under it\n",
          (long long)n, o.new_key, o.new_key, "MIEN_TEMPLATE_KEY", o.new_key);
  cJSON *r = cJSON_CreateObject();
  cJSON_AddNumberToObject(r, "Templates", (double)n);
  cJSON_AddStringToObject(r, "Cipher", "AES-256-GCM");
  cJSON_AddStringToObject(r, "TemplateKeyFile", o.new_key);
  return cli_print_json(stdout, r);
}
