/* main.c - `mien`: the command line over libmien. Commands print JSON on stdout and errors as
 * one line on stderr; the exit code says what kind of failure it was. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "mien.h"

static const struct {
  const char *name, *summary;
  int (*run)(int argc, char **argv);
} commands[] = {
    {"detect", "find faces in images: Rekognition DetectFaces JSON", cmd_detect},
    {"compare", "compare the largest face of one image with the faces of another", cmd_compare},
    {"embed", "print each face's box and 512-d embedding", cmd_embed},
    {"collection", "create, describe, list or delete collections", cmd_collection},
    {"index", "index the faces of images into a collection", cmd_index},
    {"search", "search a collection for the largest face of an image", cmd_search},
    {"faces", "list or delete the faces of a collection", cmd_faces},
    {"users", "create, list, delete users; associate faces; search users", cmd_users},
    {"call", "run any operation with a Rekognition request body (mien call OP JSON)", cmd_call},
    {"audit", "check or export the hash-chained audit log (mien audit verify|export)", cmd_audit},
    {"purge", "delete now the faces past their collection's retention", cmd_purge},
    {"serve", "serve the face API over HTTP (AWS JSON 1.1, SigV4) and the web page", cmd_serve},
    {"keys", "add, list or delete the access keys the server accepts", cmd_keys},
    {"store", "copy a store between a data directory and PostgreSQL (mien store copy)", cmd_store},
    {"video", "faces in a stored video: mien video detect FILE | search COLLECTION FILE",
     cmd_video},
};

static void usage(FILE *f) {
  fprintf(f,
          "mien %s - self-hosted face detection and recognition\n\n"
          "usage: mien [--data DIR] [--template-key FILE] COMMAND [options]\n\ncommands:\n",
          MIEN_VERSION);
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(f,
          "\nmien never infers gender, age, emotion or ethnicity: such inference is unreliable\n"
          "and invites discrimination, so no command or option offers it.\n\n"
          "exit codes: 0 ok, 1 other failure, 2 bad command line, 3 input refused (bad image or\n"
          "parameter, missing or existing resource), 4 setup problem (models missing, I/O)\n"
          "--data DIR (or MIEN_DATA): where collections are stored (default\n"
          "$XDG_DATA_HOME/mien, else ~/.local/share/mien)\n"
          "--store LOCATION (or MIEN_STORE): DIR, sqlite:DIR or a postgresql:// URL, the store\n"
          "of many nodes (docs/cluster.md); wins over --data\n"
          "--template-key FILE (or MIEN_TEMPLATE_KEY): the AES-256 key that encrypts the stored\n"
          "templates (mien keys new-template-key FILE; docs/privacy.md)\n"
          "environment: MIEN_MODELS (model directory), MIEN_ISA=generic|avx2|avx512 (kernels)\n"
          "measurements are programs of their own, built beside mien: mien-eval (accuracy),\n"
          "mien-bench-engine (model speed), mien-bench-search (the search index)\n");
}

int main(int argc, char **argv) {
  /* The global options, before the command: where collections are stored, and the template
   * key. Commands read them from the environment, so `--data DIR` after the command name works
   * too. */
  static const struct {
    const char *opt, *env;
  } globals[] = {
      {"--data", "MIEN_DATA"}, {"--store", "MIEN_STORE"}, {"--template-key", "MIEN_TEMPLATE_KEY"}};
  for (size_t g = 0; argc > 1 && g < sizeof globals / sizeof *globals;) {
    size_t n = strlen(globals[g].opt);
    if (strncmp(argv[1], globals[g].opt, n) || (argv[1][n] && argv[1][n] != '=')) {
      g++;
      continue;
    }
    const char *v = argv[1][n] == '=' ? argv[1] + n + 1 : argc > 2 ? argv[2] : NULL;
    if (!v || !*v) {
      fprintf(stderr, "mien: %s needs a value\n", globals[g].opt);
      return EXIT_USAGE;
    }
    setenv(globals[g].env, v, 1);
    int shift = argv[1][n] == '=' ? 1 : 2;
    argc -= shift;
    argv += shift;
    g = 0; /* the next argument may be either option */
  }
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
      !strcmp(argv[1], "help")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? EXIT_USAGE : EXIT_OK;
  }
  if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
    printf("{\"version\":\"%s\",\"isa\":\"%s\"}\n", MIEN_VERSION, mien_isa());
    return EXIT_OK;
  }
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "mien: unknown command '%s' (see mien --help)\n", argv[1]);
  return EXIT_USAGE;
}
