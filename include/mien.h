/* mien.h - the one public header of libmien, a self-hosted face recognition engine.
 *
 * Everything is reached through opaque handles. Functions return a mien_status and, where they
 * can fail for a reason a user should read, fill a caller-provided message buffer (err, errlen;
 * either may be NULL/0). The status values map one to one onto Amazon Rekognition's error types
 * (mien_status_name), so the CLI and the HTTP server report the same errors as the library.
 *
 * mien never infers gender, age, emotion or ethnicity, and this API has no way to ask for it.
 */
#ifndef MIEN_H
#define MIEN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MIEN_VERSION "0.1.0"

typedef enum {
  MIEN_OK = 0,
  MIEN_ERR_INVALID_PARAMETER,    /* InvalidParameterException */
  MIEN_ERR_INVALID_IMAGE_FORMAT, /* InvalidImageFormatException */
  MIEN_ERR_IMAGE_TOO_LARGE,      /* ImageTooLargeException */
  MIEN_ERR_MODEL,                /* a model file is missing, corrupt or unsupported */
  MIEN_ERR_NOMEM,                /* out of memory */
  MIEN_ERR_IO,                   /* a file could not be read or written */
  MIEN_ERR_INTERNAL,             /* InternalServerError: a bug; please report it */
  MIEN_ERR_RESOURCE_NOT_FOUND,   /* ResourceNotFoundException: no such collection, user, ... */
  MIEN_ERR_RESOURCE_EXISTS,      /* ResourceAlreadyExistsException: the collection exists */
  MIEN_ERR_CONFLICT,             /* ConflictException: the user exists */
  MIEN_ERR_QUOTA,                /* ServiceQuotaExceededException: e.g. 100 faces per user */
  MIEN_ERR_PAGINATION_TOKEN,     /* InvalidPaginationTokenException */
  MIEN_ERR_INVALID_S3_OBJECT,    /* InvalidS3ObjectException: no such bucket or object */
  MIEN_ERR_THROTTLED,            /* ThrottlingException: busy, retry later */
  MIEN_ERR_ACCESS_DENIED,        /* AccessDeniedException: refused by policy (e.g. consent) */
  MIEN_ERR_SERIALIZATION,        /* SerializationException: the request is not a JSON object */
  /* stored video (docs/video.md) */
  MIEN_ERR_VIDEO_TOO_LARGE,    /* VideoTooLargeException: over 10 GB or 6 hours */
  MIEN_ERR_LIMIT_EXCEEDED,     /* LimitExceededException: too many video jobs in progress */
  MIEN_ERR_IDEMPOTENT_MISMATCH /* IdempotentParameterMismatchException: token reused */
} mien_status;

/* Rekognition's name for a status ("InvalidParameterException", ...). */
const char *mien_status_name(mien_status s);

/* ------------------------------------------------------------------------------------------
 * Neural network engine: runs ONNX models (the default face models, or your own) on the CPU.
 *
 *   mien_net       a loaded model: graph rewritten and weights packed once.
 *   mien_plan      the net planned for concrete input sizes and wanted outputs: shapes known,
 *                  shape arithmetic folded, activation arena laid out. Immutable: any number of
 *                  threads may run one plan at once, each with its own workspace.
 *   mien_workspace the memory one run needs (activation arena, kernel scratch) and the threads
 *                  that split each layer. Not shared between concurrent runs.
 * ------------------------------------------------------------------------------------------ */
typedef struct mien_net mien_net;
typedef struct mien_plan mien_plan;
typedef struct mien_workspace mien_workspace;

mien_status mien_net_load(const char *path, mien_net **out, char *err, size_t errlen);
mien_status mien_net_load_buffer(const void *data, size_t len, mien_net **out, char *err,
                                 size_t errlen);
void mien_net_free(mien_net *net);

/* Graph inputs and outputs as declared in the model; dims of -1 are set when planning. */
int mien_net_input_count(const mien_net *net);
const char *mien_net_input_name(const mien_net *net, int i);
int mien_net_input_dims(const mien_net *net, int i, int64_t *dims, int max_dims);
int mien_net_output_count(const mien_net *net);
const char *mien_net_output_name(const mien_net *net, int i);

/* Plans the net for the given input shapes (one dims array per graph input, in order). outputs
 * names the tensors wanted, graph outputs or any intermediate tensor; NULL/0 means the graph's
 * outputs. Nothing not needed for them is run. */
mien_status mien_plan_create(const mien_net *net, const int64_t *const *input_dims,
                             const int *input_ndims, const char *const *outputs, int noutputs,
                             mien_plan **out, char *err, size_t errlen);
void mien_plan_free(mien_plan *plan);
/* Bytes of the activation arena (the peak of live intermediate tensors) and the multiply-adds
 * of one run. */
size_t mien_plan_arena_bytes(const mien_plan *plan);
double mien_plan_macs(const mien_plan *plan);
int mien_plan_output_count(const mien_plan *plan);
int mien_plan_output_dims(const mien_plan *plan, int i, int64_t *dims, int max_dims);

/* threads <= 0 means one per core. A workspace serves any plan; it grows to the largest. */
mien_status mien_workspace_create(int threads, mien_workspace **out);
void mien_workspace_free(mien_workspace *ws);

/* Runs the plan: inputs[i] holds graph input i as dense float32 NCHW. Output i is then at
 * mien_workspace_output(ws, i), valid until the next run with the same workspace. */
mien_status mien_run(const mien_plan *plan, mien_workspace *ws, const float *const *inputs);
const float *mien_workspace_output(const mien_workspace *ws, int i);

/* The compute kernels chosen for this CPU ("avx2" or "generic"; MIEN_ISA overrides), and the
 * number of cores. */
const char *mien_isa(void);
int mien_cpu_count(void);

#ifdef __cplusplus
}
#endif

#endif
