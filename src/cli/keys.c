/* keys.c - `mien keys add NAME | list | delete ACCESS_KEY_ID`: the access keys `mien serve`
 * accepts, kept in the store (mien.h's access-key calls), so `--store postgresql://...` adds a key
 * every node of a cluster accepts; `new-template-key` and `rotate-template-key`, the key that
 * encrypts templates (and these secrets) at rest, live in privacy.c. `add` prints the new key the
 * way `aws iam create-access-key` names its fields, once: the secret is not shown again, `list`
 * never shows it. A running server sees the change at its next request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "mien.h"

#include <cjson/cJSON.h>

static void usage(FILE *f) {
  fputs("usage: mien [--store LOCATION | --data DIR] keys add NAME | list | delete ACCESS_KEY_ID\n"
        "  add     creates a key for NAME and prints {\"AccessKeyId\",\"SecretAccessKey\"} (the\n"
        "          secret is shown only here); configure a client with them, e.g.\n"
        "          aws configure set aws_access_key_id ...\n"
        "  list    the keys' ids, names and creation dates\n"
        "  delete  revokes the key at once, also for running servers\n"
        "keys live in the store (every node of a shared store accepts them), their secrets\n"
        "sealed with the template key when one is configured; a data directory's old keys.json\n"
        "is moved into the store when it is first opened (docs/privacy.md)\n\n"
        "       mien keys new-template-key FILE | rotate-template-key --new-key FILE\n"
        "  the AES-256-GCM key of templates at rest (see their --help, docs/privacy.md)\n",
        f);
}

static int add(mien_service *svc, const char *user) {
  mien_access_key k;
  char secret[MIEN_ACCESS_KEY_SECRET_LEN + 1], err[512] = "";
  mien_status st = mien_service_access_key_add(svc, user, &k, secret, err, sizeof err);
  if (st != MIEN_OK) return cli_fail("keys add", st, err);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "AccessKeyId", k.id);
  cJSON_AddStringToObject(o, "SecretAccessKey", secret);
  memset(secret, 0, sizeof secret);
  return cli_print_json(stdout, o);
}

static int list(mien_service *svc) {
  mien_access_key *keys;
  int n;
  char err[512] = "";
  mien_status st = mien_service_access_key_list(svc, &keys, &n, err, sizeof err);
  if (st != MIEN_OK) return cli_fail("keys list", st, err);
  cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "AccessKeyMetadata");
  for (int i = 0; i < n; i++) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "UserName", keys[i].user);
    cJSON_AddStringToObject(m, "AccessKeyId", keys[i].id);
    cJSON_AddStringToObject(m, "Status", "Active");
    cJSON_AddStringToObject(m, "CreateDate", keys[i].created);
    cJSON_AddItemToArray(arr, m);
  }
  mien_free(keys);
  return cli_print_json(stdout, o);
}

/* Runs the command on the store's service. */
static int run(const char *data, const char *const *pos, int npos) {
  int is_add = npos == 2 && !strcmp(pos[0], "add"), is_list = npos == 1 && !strcmp(pos[0], "list"),
      is_delete = npos == 2 && !strcmp(pos[0], "delete");
  if (!is_add && !is_list && !is_delete) return cli_usage(usage, 0);
  mien_service *svc;
  int rc = cli_open_service(data, 0, &svc);
  if (rc != EXIT_OK) return rc;
  if (is_add) {
    rc = add(svc, pos[1]);
  } else if (is_list) {
    rc = list(svc);
  } else {
    char err[512] = "";
    mien_status st = mien_service_access_key_delete(svc, pos[1], err, sizeof err);
    rc = st == MIEN_OK ? EXIT_OK : cli_fail("keys delete", st, err);
  }
  mien_service_close(svc);
  return rc;
}

int cmd_keys(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "new-template-key"))
    return cmd_keys_new_template_key(argc - 1, argv + 1);
  if (argc > 1 && !strcmp(argv[1], "rotate-template-key"))
    return cmd_keys_rotate_template_key(argc - 1, argv + 1);
  const char *pos[3] = {0}, *data = NULL;
  int npos = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return cli_usage(usage, 1);
    if (!strcmp(argv[i], "--data") && i + 1 < argc)
      data = argv[++i];
    else if (!strncmp(argv[i], "--data=", 7))
      data = argv[i] + 7;
    else if (!strcmp(argv[i], "--store") && i + 1 < argc)
      setenv("MIEN_STORE", argv[++i], 1); /* which wins over --data (cli_data_dir) */
    else if (!strncmp(argv[i], "--store=", 8))
      setenv("MIEN_STORE", argv[i] + 8, 1);
    else if (argv[i][0] == '-' || npos == 3)
      return cli_usage(usage, 0);
    else
      pos[npos++] = argv[i];
  }
  return run(data, pos, npos);
}
