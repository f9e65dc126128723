/* cli.h - the commands of the `mien` program; each lives in its own file. The commands use
 * only the public API (mien.h) and this header: src/cli is compiled against include/ and itself
 * (CMakeLists.txt, tests/layers/cli_*.c). */
#ifndef MIEN_CLI_H
#define MIEN_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mien.h"

struct cJSON;

/* Exit codes, documented in `mien --help`. */
enum {
  EXIT_OK = 0,
  EXIT_FAILURE_GENERIC = 1, /* anything not below */
  EXIT_USAGE = 2,           /* bad command line */
  EXIT_INPUT = 3,           /* the input was refused: bad image, bad parameter */
  EXIT_SETUP = 4            /* models missing or unusable, I/O errors */
};

int cmd_collection(int argc, char **argv);
int cmd_index(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_faces(int argc, char **argv);
int cmd_users(int argc, char **argv);
int cmd_call(int argc, char **argv);
int cmd_detect(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_embed(int argc, char **argv);
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

/* A number printed with `digits` significant digits instead of cJSON's 15-17. */
struct cJSON *cli_json_number(double v, int digits);
/* Prints j (and frees it) as one line of JSON on f: EXIT_OK, or a failure when out of memory. */
int cli_print_json(FILE *f, struct cJSON *j);
/* Reports a refusal as one line of Rekognition's error JSON on stderr, its Message prefixed
 * with context (a file, or NULL); returns the exit code for status (a mien_status). */
int cli_fail(const char *context, int status, const char *msg);

/* For --help (help != 0) and an unknown option: prints usage on stdout or stderr and returns
 * EXIT_OK or EXIT_USAGE. */
int cli_usage(void (*usage)(FILE *), int help);
/* Maps a library status to an exit code. */
int cli_exit_code(int status);

/* The data directory: data (a --data value) when not NULL and no $MIEN_STORE is set, else
 * mien_default_store's; EXIT_OK, or the failure reported. */
int cli_data_dir(const char *data, char *dir, size_t cap);
/* Opens the service of that data directory as principal "cli" (the template key of
 * $MIEN_TEMPLATE_KEY), with no_store (mien.h) when asked: EXIT_OK, or the failure reported. */
int cli_open_service(const char *data, int no_store, struct mien_service **svc);
/* The same with the other fields of cfg (workers, threads...) as given. */
int cli_open_service_with(const char *data, int no_store, mien_service_config *cfg,
                          struct mien_service **svc);
/* Runs operation op with req (taken; image, when not NULL, stands for Image.Bytes) and prints
 * its response, or reports the refusal with context (cli_fail); returns the exit code. */
int cli_call(struct mien_service *svc, const char *context, const char *op, struct cJSON *req,
             const void *image, size_t image_len);
/* cli_call on a request body as text (len bytes), as the user gave it. */
int cli_call_body(struct mien_service *svc, const char *context, const char *op, const char *body,
                  size_t len, const void *image, size_t image_len);

/* io.c: at most cap + 1 bytes of the file at path (enough for the library to refuse a file over
 * cap with its own error, without reading a huge one whole); NULL with errno set on failure. */
uint8_t *cli_read_file(const char *path, size_t cap, size_t *len);
/* Reads a whole file (cli_read_file without a cap worth naming). */
#define CLI_NO_CAP ((size_t)1 << 40)
/* The base64 of data, malloc'ed; NULL when out of memory. */
char *cli_base64(const uint8_t *data, size_t len);
/* A monotonic clock in milliseconds, for progress and timings. */
double cli_now_ms(void);

#endif
