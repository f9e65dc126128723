/* cli.h - the commands of the `mien` program; each lives in its own file. */
#ifndef MIEN_CLI_H
#define MIEN_CLI_H

#include <stdio.h>

#include "face/face.h"

struct cJSON;

/* Exit codes, documented in `mien --help`. */
enum {
  EXIT_OK = 0,
  EXIT_FAILURE_GENERIC = 1, /* anything not below */
  EXIT_USAGE = 2,           /* bad command line */
  EXIT_INPUT = 3,           /* the input was refused: bad image, bad parameter */
  EXIT_SETUP = 4            /* models missing or unusable, I/O errors */
};

int cmd_bench(int argc, char **argv);
int cmd_collection(int argc, char **argv);
int cmd_index(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_faces(int argc, char **argv);
int cmd_users(int argc, char **argv);
int cmd_call(int argc, char **argv);
int cmd_detect(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_eval(int argc, char **argv);
/* `mien eval detect`: precision, recall per condition and AP of detection on a labels file
 * (eval_detect.c); photo paths in it are relative to root; transform (NULL: none) is
 * --transform's KIND:VALUE. */
int cli_eval_detect(const char *labels, const char *root, const mien_faces_options *opt,
                    const char *transform, int verbose);
int cmd_serve(int argc, char **argv);
int cmd_keys(int argc, char **argv);
/* video.c: `mien video detect|search` (stored video). */
int cmd_video(int argc, char **argv);
int cmd_store(int argc, char **argv);
/* privacy.c: `mien audit`, `mien purge`, and `mien keys new-template-key|rotate-template-key`
 * (argv[0] the subcommand; dispatched by cmd_keys). */
int cmd_audit(int argc, char **argv);
int cmd_purge(int argc, char **argv);
int cmd_keys_new_template_key(int argc, char **argv);
int cmd_keys_rotate_template_key(int argc, char **argv);

/* Prints j (and frees it) as one line of JSON on f: EXIT_OK, or a failure when out of memory. */
int cli_print_json(FILE *f, struct cJSON *j);
/* Reports a refusal as one line of Rekognition's error JSON on stderr, its Message prefixed
 * with context (a file, or NULL); returns the exit code for status (a mien_status). */
int cli_fail(const char *context, int status, const char *msg);

/* For --help (help != 0) and an unknown option: prints usage on stdout or stderr and returns
 * EXIT_OK or EXIT_USAGE. */
int cli_usage(void (*usage)(FILE *), int help);
/* Parses "1,3,240,320" into dims; returns the count or -1. */
int cli_parse_dims(const char *s, long long *dims, int max);
/* Maps a library status to an exit code. */
int cli_exit_code(int status);

struct mien_store;
/* The data directory: data (a --data value) when not NULL, else mien_store_default_dir's;
 * EXIT_OK, or the failure reported. */
int cli_data_dir(const char *data, char *dir, size_t cap);
/* Opens the store of that data directory (with the template key of $MIEN_TEMPLATE_KEY). */
int cli_open_store(const char *data, struct mien_store **s);
struct mien_service;
/* Opens the service of that data directory as principal "cli" (the template key of
 * $MIEN_TEMPLATE_KEY), with no_store (mien.h) when asked: EXIT_OK, or the failure reported. */
int cli_open_service(const char *data, int no_store, struct mien_service **svc);
/* Runs operation op with req (taken; image, when not NULL, stands for Image.Bytes) and prints
 * its response, or reports the refusal with context (cli_fail); returns the exit code. */
int cli_call(struct mien_service *svc, const char *context, const char *op, struct cJSON *req,
             const void *image, size_t image_len);

#endif
