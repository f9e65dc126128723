/* collections.c - the store's commands: `mien collection` (with its privacy policy), `mien
 * index` (bulk, parallel, resumable), `mien search`, `mien faces`, `mien users` and `mien call`.
 * Each builds a Rekognition request body and runs it through the same operation table as the
 * server (api/ops.h), so the CLI's JSON and errors are the API's; the audit log records them as
 * done by principal "cli". Output is JSON on stdout (one line per image for `mien index`);
 * errors are one line on stderr, named as Rekognition names them. */
#include <dirent.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"

/* ---- options shared by every command here ---- */

static const struct option longopts[] = {
    {"data", required_argument, NULL, 'd'},
    {"store", required_argument, NULL, 'd'},
    {"external-id", required_argument, NULL, 'e'},
    {"max-faces", required_argument, NULL, 'm'},
    {"quality-filter", required_argument, NULL, 'q'},
    {"threshold", required_argument, NULL, 't'},
    {"max-results", required_argument, NULL, 'r'},
    {"next-token", required_argument, NULL, 'n'},
    {"user-id", required_argument, NULL, 'u'},
    {"face-id", required_argument, NULL, 'f'},
    {"image", required_argument, NULL, 'i'},
    {"tags", required_argument, NULL, 'g'},
    {"jobs", required_argument, NULL, 'j'},
    {"retention-days", required_argument, NULL, 'R'},
    {"purpose", required_argument, NULL, 'P'},
    {"consent", required_argument, NULL, 'C'},
    {"min-faces", required_argument, NULL, 'M'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef struct {
  const char *cmd;      /* "collection", ... for messages */
  const char *val[128]; /* option values by short letter */
  char **pos;           /* operands */
  int npos;
} cli_args;

static const char *const usage_text =
    "usage: mien [--data DIR] COMMAND ...   (--data may also follow the command)\n"
    "  mien collection create ID [--tags JSON] [POLICY] | describe ID | list [--max-results N]\n"
    "                  [--next-token T] | delete ID\n"
    "  mien collection policy ID [POLICY]\n"
    "      prints (after changing, when given) the collection's privacy policy; POLICY is\n"
    "      [--purpose TEXT] [--retention-days N] [--consent required|none], kept as the tags\n"
    "      mien:purpose, mien:retention-days, mien:consent (docs/privacy.md); --retention-days 0\n"
    "      and --purpose '' remove the limit and the purpose\n"
    "  mien index COLLECTION FILES|DIRS... [--external-id X] [--consent REF] [--max-faces N]\n"
    "             [--quality-filter NONE|AUTO|LOW|MEDIUM|HIGH] [--jobs N]\n"
    "      one IndexFaces response per image and line, with \"File\"; images whose content was\n"
    "      indexed into the collection before are skipped, so an interrupted run resumes;\n"
    "      --consent REF makes the ExternalImageId consent-REF[:X], which a collection with\n"
    "      mien:consent=required demands\n"
    "  mien search COLLECTION IMAGE [--threshold S] [--max-faces N] [--quality-filter Q]\n"
    "  mien faces list COLLECTION [FACE_ID...] [--user-id U] [--max-results N] [--next-token T]\n"
    "  mien faces delete COLLECTION FACE_ID...\n"
    "  mien users create|delete COLLECTION USER_ID\n"
    "  mien users list COLLECTION [--max-results N] [--next-token T]\n"
    "  mien users associate|disassociate COLLECTION USER_ID FACE_ID... [--threshold S]\n"
    "  mien users search COLLECTION (--user-id U | --face-id F | --image IMAGE) [--threshold S]\n"
    "  mien users propose COLLECTION [--threshold S] [--min-faces N] [--max-results N]\n"
    "                     [--next-token T]   groups of unassociated faces (docs/people.md)\n"
    "  mien users accept COLLECTION PROPOSAL_ID USER_ID [FACE_ID...] [--threshold S]\n"
    "      creates USER_ID if needed and associates the proposal's faces (or those given)\n"
    "  mien call OPERATION JSON|@FILE|- [--image IMAGE]\n"
    "      runs any operation (CreateCollection, IndexFaces, SearchFacesByImage, AssociateFaces,\n"
    "      ...) with a Rekognition request body; --image stands for Image.Bytes\n"
    "data directory: --data DIR, else $MIEN_DATA, else $XDG_DATA_HOME/mien, else\n"
    "~/.local/share/mien\n";

static int usage(const char *cmd, int ok) {
  if (!ok) fprintf(stderr, "mien %s: bad command line (see mien %s --help)\n", cmd, cmd);
  fputs(usage_text, ok ? stdout : stderr);
  return ok ? EXIT_OK : EXIT_USAGE;
}

/* Parses options only (argv[0] the command; parse_all has moved the operands out), allowing
 * those in `allowed` (short letters; d and h always). Returns -1 when parsing succeeded, else
 * the exit code. */
static int parse_args(int argc, char **argv, const char *allowed, cli_args *a) {
  memset(a, 0, sizeof *a);
  a->cmd = argv[0];
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "+:", longopts, NULL)) != -1) {
    if (c == 'h') return usage(a->cmd, 1);
    if (c == '?' || c == ':' || (c != 'd' && !strchr(allowed, c))) return usage(a->cmd, 0);
    a->val[c] = optarg;
  }
  return -1;
}

/* Options may come before, between or after operands (`mien index C DIR --data D`): operands
 * are set aside in a->pos, and getopt sees the options alone. */
static int parse_all(int argc, char **argv, const char *allowed, cli_args *a) {
  char **pos = malloc((size_t)argc * sizeof *pos);
  char **opts = malloc((size_t)(argc + 1) * sizeof *opts);
  if (!pos || !opts) {
    free(pos), free(opts);
    fprintf(stderr, "mien: out of memory\n");
    return EXIT_FAILURE_GENERIC;
  }
  int npos = 0, nopt = 0;
  opts[nopt++] = argv[0];
  for (int i = 1; i < argc; i++) {
    if (argv[i][0] == '-' && argv[i][1]) {
      opts[nopt++] = argv[i];
      const char *eq = strchr(argv[i], '=');
      int takes = strcmp(argv[i], "--help") && strcmp(argv[i], "-h") && !eq;
      if (takes && i + 1 < argc) opts[nopt++] = argv[++i];
    } else {
      pos[npos++] = argv[i];
    }
  }
  opts[nopt] = NULL;
  int rc = parse_args(nopt, opts, allowed, a);
  free(opts);
  if (rc != -1) {
    free(pos);
    return rc;
  }
  a->pos = pos;
  a->npos = npos;
  return -1;
}

int cli_data_dir(const char *data, char *dir, size_t cap) {
  /* --store (or $MIEN_STORE) wins over --data after the command name too, as before it */
  const char *store = getenv("MIEN_STORE");
  if (data && !(store && *store))
    snprintf(dir, cap, "%s", data);
  else if (mien_default_store(dir, cap) != 0)
    return cli_fail(NULL, MIEN_ERR_IO, "no data directory: give --data DIR or set MIEN_DATA");
  return EXIT_OK;
}

int cli_open_service_with(const char *data, int no_store, mien_service_config *cfg,
                          mien_service **svc) {
  char dir[4096], err[1024] = "";
  if (data || !no_store) { /* no store and no directory named: none is looked for */
    int rc = cli_data_dir(data, dir, sizeof dir);
    if (rc != EXIT_OK) return rc;
    cfg->store = dir;
  }
  cfg->no_store = no_store;
  cfg->principal = "cli";
  mien_status st = mien_service_open(cfg, svc, err, sizeof err);
  return st == MIEN_OK ? EXIT_OK : cli_fail(NULL, st, err);
}

int cli_open_service(const char *data, int no_store, mien_service **svc) {
  mien_service_config cfg;
  mien_service_config_init(&cfg);
  return cli_open_service_with(data, no_store, &cfg, svc);
}

/* Adds option letter c's value to req as a number (field) or usage error. */
static int add_number(cJSON *req, const cli_args *a, int c, const char *field) {
  if (!a->val[c]) return EXIT_OK;
  char *end;
  double v = strtod(a->val[c], &end);
  if (end == a->val[c] || *end) {
    fprintf(stderr, "mien %s: %s must be a number\n", a->cmd, field);
    return EXIT_USAGE;
  }
  cJSON_AddNumberToObject(req, field, v);
  return EXIT_OK;
}

static void add_string(cJSON *req, const cli_args *a, int c, const char *field) {
  if (a->val[c]) cJSON_AddStringToObject(req, field, a->val[c]);
}

/* Opens the service, runs op on the request body (len bytes) and closes it; image (may be NULL)
 * stands for Image.Bytes. */
static int run_once(const cli_args *a, const char *op, const char *body, size_t len,
                    const char *image) {
  mien_service *svc;
  int rc = cli_open_service(a->val['d'], 0, &svc);
  uint8_t *bytes = NULL;
  size_t image_len = 0;
  if (rc == EXIT_OK && image && !(bytes = cli_read_file(image, CLI_NO_CAP, &image_len))) {
    char msg[4200];
    snprintf(msg, sizeof msg, "cannot read %s", image);
    rc = cli_fail(NULL, MIEN_ERR_IO, msg);
    mien_service_close(svc);
  }
  if (rc != EXIT_OK) return rc;
  rc = cli_call_body(svc, a->cmd, op, body, len, bytes, image_len);
  free(bytes);
  mien_service_close(svc);
  return rc;
}

/* The end of a request command: frees a->pos, then runs op on req (run_once) unless rc is already
 * a failure, in which case req is deleted and rc returned. */
static int finish(cli_args *a, int rc, const char *op, cJSON *req, const char *image) {
  free(a->pos);
  char *body = rc == EXIT_OK ? cJSON_PrintUnformatted(req) : NULL;
  cJSON_Delete(req);
  if (rc == EXIT_OK && !body) rc = cli_fail(a->cmd, MIEN_ERR_NOMEM, "out of memory");
  if (rc == EXIT_OK) rc = run_once(a, op, body, strlen(body), image);
  free(body);
  return rc;
}

/* A request with its CollectionId. */
static cJSON *collection_request(const char *coll) {
  cJSON *req = cJSON_CreateObject();
  cJSON_AddStringToObject(req, "CollectionId", coll);
  return req;
}

/* Adds operands from `from` on as the FaceIds array. */
static void add_face_ids(cJSON *req, const cli_args *a, int from) {
  cJSON *ids = cJSON_AddArrayToObject(req, "FaceIds");
  for (int i = from; i < a->npos; i++) cJSON_AddItemToArray(ids, cJSON_CreateString(a->pos[i]));
}

/* ---- mien collection ---- */

/* The policy options as mien: tags: the values given go to set (replacing the same keys), the
 * keys cleared (--retention-days 0, --purpose '') to remove (two at most). The store checks the
 * values. */
static int policy_tags(const cli_args *a, cJSON *set, const char **remove) {
  static const struct {
    int opt;
    const char *key, *clear;
  } map[] = {
      {'R', "mien:retention-days", "0"}, {'P', "mien:purpose", ""}, {'C', "mien:consent", NULL}};
  int n = 0;
  for (size_t i = 0; i < sizeof map / sizeof *map; i++) {
    const char *v = a->val[map[i].opt];
    if (!v) continue;
    cJSON_DeleteItemFromObjectCaseSensitive(set, map[i].key);
    if (map[i].clear && !strcmp(v, map[i].clear))
      remove[n++] = map[i].key;
    else
      cJSON_AddStringToObject(set, map[i].key, v);
  }
  return n;
}

/* `mien collection policy ID [POLICY]`: changes the policy when options are given (audited as
 * SetPolicy), then prints it. */
static int collection_policy(const cli_args *a, const char *id) {
  mien_service *svc;
  int rc = cli_open_service(a->val['d'], 0, &svc);
  if (rc != EXIT_OK) return rc;
  cJSON *set = cJSON_CreateObject();
  const char *remove[3];
  int nremove = policy_tags(a, set, remove);
  char err[1024] = "", *set_json = cJSON_GetArraySize(set) ? cJSON_PrintUnformatted(set) : NULL;
  cJSON_Delete(set);
  mien_collection_policy p;
  mien_status st = mien_service_policy(svc, id, set_json, remove, nremove, &p, err, sizeof err);
  free(set_json);
  mien_service_close(svc);
  if (st != MIEN_OK) return cli_fail(a->cmd, st, err);
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "CollectionId", id);
  if (p.purpose[0])
    cJSON_AddStringToObject(r, "Purpose", p.purpose);
  else
    cJSON_AddNullToObject(r, "Purpose");
  if (p.retention_days)
    cJSON_AddNumberToObject(r, "RetentionDays", p.retention_days);
  else
    cJSON_AddNullToObject(r, "RetentionDays");
  cJSON_AddStringToObject(r, "Consent", p.consent_required ? "required" : "none");
  return cli_print_json(stdout, r);
}

int cmd_collection(int argc, char **argv) {
  cli_args a;
  int rc = parse_all(argc, argv, "grnRPC", &a);
  if (rc != -1) return rc;
  rc = EXIT_OK;
  const char *sub = a.npos ? a.pos[0] : "";
  cJSON *req = NULL;
  const char *op = NULL;
  int policy_opts = a.val['R'] || a.val['P'] || a.val['C'];
  if (!strcmp(sub, "policy") && a.npos == 2) {
    rc = collection_policy(&a, a.pos[1]);
    free(a.pos);
    return rc;
  }
  if (policy_opts && strcmp(sub, "create")) {
    rc = usage(a.cmd, 0);
  } else if (!strcmp(sub, "list") && a.npos == 1) {
    req = cJSON_CreateObject();
    rc = add_number(req, &a, 'r', "MaxResults");
    add_string(req, &a, 'n', "NextToken");
    op = "ListCollections";
  } else if (a.npos == 2 &&
             (!strcmp(sub, "create") || !strcmp(sub, "describe") || !strcmp(sub, "delete"))) {
    req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "CollectionId", a.pos[1]);
    op = sub[1] == 'r'   ? "CreateCollection"
         : sub[2] == 's' ? "DescribeCollection"
                         : "DeleteCollection";
    cJSON *tags = a.val['g'] ? cJSON_Parse(a.val['g']) : cJSON_CreateObject();
    const char *ignored[3];
    if (!cJSON_IsObject(tags)) {
      fprintf(stderr, "mien collection: --tags must be a JSON object\n");
      cJSON_Delete(tags);
      rc = EXIT_USAGE;
    } else {
      /* A policy option given at creation wins over the same key in --tags. */
      policy_tags(&a, tags, ignored);
      if (a.val['g'] || cJSON_GetArraySize(tags))
        cJSON_AddItemToObject(req, "Tags", tags);
      else
        cJSON_Delete(tags);
    }
  } else {
    rc = usage(a.cmd, 0);
  }
  return finish(&a, rc, op, req, NULL);
}

/* ---- mien index ---- */

typedef struct {
  char **v;
  int n, cap;
} file_list;

static int push_file(file_list *l, const char *path) {
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 256;
    char **v = realloc(l->v, (size_t)cap * sizeof *v);
    if (!v) return -1;
    l->v = v, l->cap = cap;
  }
  return (l->v[l->n] = strdup(path)) ? (l->n++, 0) : -1;
}

static int is_image_name(const char *name) {
  const char *dot = strrchr(name, '.');
  return dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png"));
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds path, or the images under it (recursively, by name) when it is a directory. */
static int collect(file_list *l, const char *path) {
  struct stat sb;
  if (stat(path, &sb) != 0) {
    fprintf(stderr, "mien index: cannot read %s\n", path);
    return -1;
  }
  if (!S_ISDIR(sb.st_mode)) return push_file(l, path);
  DIR *d = opendir(path);
  if (!d) {
    fprintf(stderr, "mien index: cannot read the directory %s\n", path);
    return -1;
  }
  file_list sub = {0};
  struct dirent *e;
  int rc = 0;
  while (rc == 0 && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", path, e->d_name);
    struct stat es;
    if (stat(p, &es) == 0 && (S_ISDIR(es.st_mode) || is_image_name(e->d_name)))
      rc = push_file(&sub, p);
  }
  closedir(d);
  qsort(sub.v, (size_t)sub.n, sizeof *sub.v, by_name);
  for (int i = 0; i < sub.n; i++) {
    if (rc == 0) rc = collect(l, sub.v[i]);
    free(sub.v[i]);
  }
  free(sub.v);
  return rc;
}

typedef struct {
  const cli_args *a;
  mien_service *svc;
  file_list *files;
  atomic_int next, done, faces, skipped, failed, first_error;
  pthread_mutex_t out; /* stdout lines and the progress bar */
  double t0;
  int tty;
} index_job;

static void progress(index_job *j) {
  if (!j->tty) return;
  int done = atomic_load(&j->done), total = j->files->n, width = 30;
  double s = (cli_now_ms() - j->t0) / 1000.0;
  int fill = total ? done * width / total : width;
  fprintf(stderr, "\r[%.*s%*s] %d/%d images, %d faces, %.1f images/s ", fill,
          "==============================", width - fill, "", done, total, atomic_load(&j->faces),
          s > 0 ? done / s : 0.0);
}

/* Prints one line (taken) and updates the counters. */
static void report(index_job *j, cJSON *line, int faces) {
  char *s = cJSON_PrintUnformatted(line);
  cJSON_Delete(line);
  pthread_mutex_lock(&j->out);
  if (s) {
    if (j->tty) fputs("\r\033[K", stderr);
    puts(s);
    fflush(stdout);
  }
  atomic_fetch_add(&j->faces, faces);
  atomic_fetch_add(&j->done, 1);
  progress(j);
  pthread_mutex_unlock(&j->out);
  free(s);
}

static void image_failed(index_job *j, const char *path, mien_status st, const char *msg) {
  pthread_mutex_lock(&j->out);
  if (j->tty) fputs("\r\033[K", stderr);
  fprintf(stderr, "mien index: %s: %s: %s\n", path, mien_status_name(st), msg);
  int zero = 0;
  atomic_compare_exchange_strong(&j->first_error, &zero, cli_exit_code(st));
  atomic_fetch_add(&j->failed, 1);
  atomic_fetch_add(&j->done, 1);
  progress(j);
  pthread_mutex_unlock(&j->out);
}

/* IndexFaces on one image's bytes: the response, or NULL with st and err set. */
static cJSON *index_faces(index_job *j, const uint8_t *bytes, size_t len, mien_status *st,
                          char *err, size_t errlen) {
  const cli_args *a = j->a;
  cJSON *req = collection_request(a->pos[0]);
  add_string(req, a, 'e', "ExternalImageId");
  add_string(req, a, 'q', "QualityFilter");
  if (a->val['m']) cJSON_AddNumberToObject(req, "MaxFaces", strtod(a->val['m'], NULL));
  char *body = cJSON_PrintUnformatted(req), *resp = NULL;
  cJSON_Delete(req);
  mien_call_context ctx = {.image = bytes, .image_len = len};
  *st = body ? mien_service_call_with(j->svc, &ctx, "IndexFaces", body, strlen(body), &resp, err,
                                      errlen)
             : (snprintf(err, errlen, "out of memory"), MIEN_ERR_NOMEM);
  free(body);
  cJSON *r = *st == MIEN_OK ? cJSON_Parse(resp) : NULL;
  mien_free(resp);
  if (*st == MIEN_OK && !r) *st = MIEN_ERR_NOMEM, snprintf(err, errlen, "out of memory");
  return r;
}

/* Indexes one file: skipped when its content is already in the collection. */
static void index_one(index_job *j, const char *path) {
  char err[1024] = "", image_id[MIEN_UUID_LEN];
  size_t len;
  uint8_t *bytes = cli_read_file(path, CLI_NO_CAP, &len);
  if (!bytes) return image_failed(j, path, MIEN_ERR_IO, "cannot read the file");
  int found;
  mien_status st =
      mien_service_find_image(j->svc, j->a->pos[0], bytes, len, &found, image_id, err, sizeof err);
  if (st == MIEN_OK && found) {
    free(bytes);
    cJSON *line = cJSON_CreateObject();
    cJSON_AddStringToObject(line, "File", path);
    cJSON_AddStringToObject(line, "ImageId", image_id);
    cJSON_AddBoolToObject(line, "AlreadyIndexed", 1);
    atomic_fetch_add(&j->skipped, 1);
    return report(j, line, 0);
  }
  cJSON *resp = st == MIEN_OK ? index_faces(j, bytes, len, &st, err, sizeof err) : NULL;
  free(bytes);
  if (st != MIEN_OK) return image_failed(j, path, st, err);
  cJSON_AddStringToObject(resp, "File", path);
  report(j, resp, cJSON_GetArraySize(cJSON_GetObjectItem(resp, "FaceRecords")));
}

static void *index_worker(void *arg) {
  index_job *j = arg;
  int i;
  while ((i = atomic_fetch_add(&j->next, 1)) < j->files->n) index_one(j, j->files->v[i]);
  return NULL;
}

/* The number of workers: --jobs, else one per core, never more than the images. */
static int job_count(const cli_args *a, int nfiles) {
  int n = a->val['j'] ? atoi(a->val['j']) : mien_cpu_count();
  if (n < 1) n = 1;
  return n < nfiles ? n : nfiles > 0 ? nfiles : 1;
}

/* Opens the service with nw workers of one thread each (images in parallel beat layers in
 * parallel) and checks that the collection exists before any image is read. */
static int open_index_service(const cli_args *a, int nw, mien_service **svc) {
  mien_service_config cfg;
  mien_service_config_init(&cfg);
  cfg.workers = nw, cfg.threads = 1;
  int rc = cli_open_service_with(a->val['d'], 0, &cfg, svc);
  if (rc != EXIT_OK) return rc;
  cJSON *req = collection_request(a->pos[0]);
  char *body = cJSON_PrintUnformatted(req), *resp = NULL, err[1024] = "";
  cJSON_Delete(req);
  mien_status st = body ? mien_service_call(*svc, "DescribeCollection", body, strlen(body), &resp,
                                            err, sizeof err)
                        : MIEN_ERR_NOMEM;
  free(body);
  mien_free(resp);
  return st == MIEN_OK ? EXIT_OK : cli_fail(NULL, st, err);
}

int cmd_index(int argc, char **argv) {
  cli_args a;
  int rc = parse_all(argc, argv, "emqjC", &a);
  if (rc != -1) return rc;
  if (a.npos < 2) {
    free(a.pos);
    return usage(a.cmd, 0);
  }
  char external[MIEN_EXTERNAL_ID_MAX + 64];
  if (a.val['C']) { /* the consent reference leads the ExternalImageId (docs/privacy.md) */
    snprintf(external, sizeof external, "%s%s%s%s", MIEN_CONSENT_PREFIX, a.val['C'],
             a.val['e'] ? ":" : "", a.val['e'] ? a.val['e'] : "");
    a.val['e'] = external;
  }
  if (a.val['m'] && atoi(a.val['m']) < 1) {
    free(a.pos);
    fprintf(stderr, "mien index: --max-faces must be 1 or more\n");
    return EXIT_USAGE;
  }
  file_list files = {0};
  for (int i = 1; rc == -1 && i < a.npos; i++)
    if (collect(&files, a.pos[i]) != 0) rc = EXIT_SETUP;
  mien_service *svc = NULL;
  int nw = job_count(&a, files.n);
  if (rc == -1) rc = open_index_service(&a, nw, &svc);
  if (rc == EXIT_OK) {
    index_job j = {.a = &a, .svc = svc, .files = &files, .t0 = cli_now_ms(), .tty = isatty(2)};
    pthread_mutex_init(&j.out, NULL);
    pthread_t *th = malloc((size_t)nw * sizeof *th);
    int started = 0;
    while (th && started < nw && pthread_create(&th[started], NULL, index_worker, &j) == 0)
      started++;
    if (started == 0) index_worker(&j);
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    free(th);
    double sec = (cli_now_ms() - j.t0) / 1000.0;
    if (j.tty) fputs("\r\033[K", stderr);
    int indexed = atomic_load(&j.done) - atomic_load(&j.skipped) - atomic_load(&j.failed);
    fprintf(stderr,
            "mien index: %d images indexed (%d faces), %d already indexed, %d failed; %.1f s, "
            "%.1f images/s with %d workers\n",
            indexed, atomic_load(&j.faces), atomic_load(&j.skipped), atomic_load(&j.failed), sec,
            sec > 0 ? indexed / sec : 0.0, nw);
    pthread_mutex_destroy(&j.out);
    rc = atomic_load(&j.first_error);
  }
  for (int i = 0; i < files.n; i++) free(files.v[i]);
  free(files.v);
  free(a.pos);
  mien_service_close(svc);
  return rc == -1 ? EXIT_SETUP : rc;
}

/* ---- mien search, faces, users, call ---- */

int cmd_search(int argc, char **argv) {
  cli_args a;
  int rc = parse_all(argc, argv, "tmq", &a);
  if (rc != -1) return rc;
  if (a.npos != 2) {
    free(a.pos);
    return usage(a.cmd, 0);
  }
  cJSON *req = collection_request(a.pos[0]);
  rc = add_number(req, &a, 't', "FaceMatchThreshold");
  if (rc == EXIT_OK) rc = add_number(req, &a, 'm', "MaxFaces");
  add_string(req, &a, 'q', "QualityFilter");
  const char *image = a.pos[1];
  return finish(&a, rc, "SearchFacesByImage", req, image);
}

int cmd_faces(int argc, char **argv) {
  cli_args a;
  int rc = parse_all(argc, argv, "urn", &a);
  if (rc != -1) return rc;
  rc = EXIT_OK;
  const char *sub = a.npos ? a.pos[0] : "";
  cJSON *req = a.npos >= 2 ? collection_request(a.pos[1]) : NULL;
  const char *op = NULL;
  if (a.npos >= 2 && !strcmp(sub, "list")) {
    if (a.npos > 2) add_face_ids(req, &a, 2);
    add_string(req, &a, 'u', "UserId");
    add_string(req, &a, 'n', "NextToken");
    rc = add_number(req, &a, 'r', "MaxResults");
    op = "ListFaces";
  } else if (a.npos >= 3 && !strcmp(sub, "delete")) {
    add_face_ids(req, &a, 2);
    op = "DeleteFaces";
  } else {
    rc = usage(a.cmd, 0);
  }
  return finish(&a, rc, op, req, NULL);
}

int cmd_users(int argc, char **argv) {
  cli_args a;
  int rc = parse_all(argc, argv, "tufirnM", &a);
  if (rc != -1) return rc;
  rc = EXIT_OK;
  /* pos: SUBCOMMAND COLLECTION [USER_ID [FACE_ID...]] */
  const char *sub = a.npos ? a.pos[0] : "";
  cJSON *req = a.npos >= 2 ? collection_request(a.pos[1]) : NULL;
  const char *op = NULL, *image = NULL;
  if (a.npos == 3 && (!strcmp(sub, "create") || !strcmp(sub, "delete"))) {
    cJSON_AddStringToObject(req, "UserId", a.pos[2]);
    op = sub[0] == 'c' ? "CreateUser" : "DeleteUser";
  } else if (a.npos == 2 && !strcmp(sub, "list")) {
    add_string(req, &a, 'n', "NextToken");
    rc = add_number(req, &a, 'r', "MaxResults");
    op = "ListUsers";
  } else if (a.npos >= 4 && (!strcmp(sub, "associate") || !strcmp(sub, "disassociate"))) {
    cJSON_AddStringToObject(req, "UserId", a.pos[2]);
    add_face_ids(req, &a, 3);
    op = sub[0] == 'a' ? "AssociateFaces" : "DisassociateFaces";
    if (sub[0] == 'a') rc = add_number(req, &a, 't', "UserMatchThreshold");
  } else if (a.npos == 2 && !strcmp(sub, "search") &&
             !!a.val['u'] + !!a.val['f'] + !!a.val['i'] == 1) {
    add_string(req, &a, 'u', "UserId");
    add_string(req, &a, 'f', "FaceId");
    rc = add_number(req, &a, 't', "UserMatchThreshold");
    if (rc == EXIT_OK) rc = add_number(req, &a, 'r', "MaxUsers");
    image = a.val['i'];
    op = image ? "SearchUsersByImage" : "SearchUsers";
  } else if (a.npos == 2 && !strcmp(sub, "propose")) {
    add_string(req, &a, 'n', "NextToken");
    rc = add_number(req, &a, 't', "FaceMatchThreshold");
    if (rc == EXIT_OK) rc = add_number(req, &a, 'M', "MinFaces");
    if (rc == EXIT_OK) rc = add_number(req, &a, 'r', "MaxResults");
    op = "ProposeUsers";
  } else if (a.npos >= 4 && !strcmp(sub, "accept")) {
    cJSON_AddStringToObject(req, "ProposalId", a.pos[2]);
    cJSON_AddStringToObject(req, "UserId", a.pos[3]);
    if (a.npos > 4) add_face_ids(req, &a, 4);
    rc = add_number(req, &a, 't', "FaceMatchThreshold");
    op = "AcceptProposal";
  } else {
    rc = usage(a.cmd, 0);
  }
  return finish(&a, rc, op, req, image);
}

/* The JSON operand of `mien call`: text, @FILE or - (stdin). */
static char *read_body(const char *arg, size_t *len) {
  if (strcmp(arg, "-") && arg[0] != '@') return *len = strlen(arg), strdup(arg);
  FILE *f = strcmp(arg, "-") ? fopen(arg + 1, "rb") : stdin;
  if (!f) return NULL;
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  while (buf) {
    n += fread(buf + n, 1, cap - n - 1, f);
    if (n < cap - 1) break;
    char *b = realloc(buf, cap *= 2);
    if (!b) free(buf);
    buf = b;
  }
  if (buf) buf[n] = '\0';
  *len = n;
  if (f != stdin) fclose(f);
  return buf;
}

int cmd_call(int argc, char **argv) {
  cli_args a;
  int rc = parse_all(argc, argv, "i", &a);
  if (rc != -1) return rc;
  if (a.npos != 2) {
    free(a.pos);
    return usage(a.cmd, 0);
  }
  const char *op = a.pos[0];
  int known = 0;
  for (int i = 0; !known && mien_service_operation(i); i++)
    known = !strcmp(op, mien_service_operation(i));
  if (!known) {
    fprintf(stderr, "mien call: unknown operation '%s'; operations:", op);
    for (int i = 0; mien_service_operation(i); i++)
      fprintf(stderr, " %s", mien_service_operation(i));
    fputc('\n', stderr);
    free(a.pos);
    return EXIT_USAGE;
  }
  size_t len = 0;
  char *body = read_body(a.pos[1], &len);
  /* The service parses the body: a bad one gets Rekognition's SerializationException. */
  rc = body ? run_once(&a, op, body, len, a.val['i'])
            : cli_fail(NULL, MIEN_ERR_IO, "cannot read the request body");
  free(body);
  free(a.pos);
  return rc;
}
