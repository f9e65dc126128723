/* keys.c - `mien keys add NAME | list | delete ACCESS_KEY_ID`: the access keys `mien serve`
 * accepts (src/server/keys.h); `new-template-key` and `rotate-template-key`, the key that
 * encrypts templates at rest, live in privacy.c. `add` prints the new key the way `aws iam
 * create-access-key` names its fields, once: the secret is not shown again, `list` never shows it.
 * A running server sees the change at its next request. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "mien.h"
#include "server/keys.h"

#include <cjson/cJSON.h>

static void usage(FILE *f) {
  fputs("usage: mien [--data DIR] keys add NAME | list | delete ACCESS_KEY_ID\n"
        "  add     creates a key for NAME and prints {\"AccessKeyId\",\"SecretAccessKey\"} (the\n"
        "          secret is shown only here); configure a client with them, e.g.\n"
        "          aws configure set aws_access_key_id ...\n"
        "  list    the keys' ids, names and creation dates\n"
        "  delete  revokes the key at once, also for a running server\n"
        "keys live in DIR/keys.json (mode 0600) of the data directory\n\n"
        "       mien keys new-template-key FILE | rotate-template-key --new-key FILE\n"
        "  the AES-256-GCM key of templates at rest (see their --help, docs/privacy.md)\n",
        f);
}

static int add(const char *dir, const char *user) {
  mien_key k;
  char err[512] = "";
  mien_status st = mien_keys_add(dir, user, &k, err, sizeof err);
  if (st != MIEN_OK) return cli_fail("keys add", st, err);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "AccessKeyId", k.id);
  cJSON_AddStringToObject(o, "SecretAccessKey", k.secret);
  memset(k.secret, 0, sizeof k.secret);
  return cli_print_json(stdout, o);
}

static int list(const char *dir) {
  mien_keyset ks;
  char err[512] = "";
  mien_status st = mien_keys_load(dir, &ks, err, sizeof err);
  if (st != MIEN_OK) return cli_fail("keys list", st, err);
  cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "AccessKeyMetadata");
  for (int i = 0; i < ks.n; i++) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "UserName", ks.k[i].user);
    cJSON_AddStringToObject(m, "AccessKeyId", ks.k[i].id);
    cJSON_AddStringToObject(m, "Status", "Active");
    cJSON_AddStringToObject(m, "CreateDate", ks.k[i].created);
    cJSON_AddItemToArray(arr, m);
  }
  mien_keys_free(&ks);
  return cli_print_json(stdout, o);
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
    else if (argv[i][0] == '-' || npos == 3)
      return cli_usage(usage, 0);
    else
      pos[npos++] = argv[i];
  }
  char dir[4096];
  if (data)
    snprintf(dir, sizeof dir, "%s", data);
  else if (mien_default_store(dir, sizeof dir) != 0)
    return cli_fail("keys", MIEN_ERR_IO, "no data directory: give --data DIR or set MIEN_DATA");
  if (npos == 2 && !strcmp(pos[0], "add")) return add(dir, pos[1]);
  if (npos == 1 && !strcmp(pos[0], "list")) return list(dir);
  if (npos == 2 && !strcmp(pos[0], "delete")) {
    char err[512] = "";
    mien_status st = mien_keys_delete(dir, pos[1], err, sizeof err);
    return st == MIEN_OK ? EXIT_OK : cli_fail("keys delete", st, err);
  }
  return cli_usage(usage, 0);
}
