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

/* What libmien exports: everything else in the library is built with -fvisibility=hidden, so
 * `nm -D libmien.so` shows only the functions declared here (tests/test_exports.sh). */
#if defined(__GNUC__)
#define MIEN_API __attribute__((visibility("default")))
#else
#define MIEN_API
#endif

/* Every status, its enum name and Rekognition's error type, in one table: the enum and
 * mien_status_name are generated from it, so they cannot disagree. The order is the ABI. */
#define MIEN_STATUS_TABLE(X)                                                                       \
  X(OK, "OK")                                                                                      \
  X(ERR_INVALID_PARAMETER, "InvalidParameterException")                                            \
  X(ERR_INVALID_IMAGE_FORMAT, "InvalidImageFormatException")                                       \
  X(ERR_IMAGE_TOO_LARGE, "ImageTooLargeException")                                                 \
  X(ERR_MODEL, "ModelException")             /* a model file is missing, corrupt or unsupported */ \
  X(ERR_NOMEM, "ResourceExhaustedException") /* out of memory */                                   \
  X(ERR_IO, "IOException")                   /* a file could not be read or written */             \
  X(ERR_INTERNAL, "InternalServerError")     /* a bug; please report it */                         \
  X(ERR_RESOURCE_NOT_FOUND, "ResourceNotFoundException")   /* no such collection, user, ... */     \
  X(ERR_RESOURCE_EXISTS, "ResourceAlreadyExistsException") /* the collection exists */             \
  X(ERR_CONFLICT, "ConflictException")                     /* the user exists */                   \
  X(ERR_QUOTA, "ServiceQuotaExceededException")            /* e.g. 100 faces per user */           \
  X(ERR_PAGINATION_TOKEN, "InvalidPaginationTokenException")                                       \
  X(ERR_INVALID_S3_OBJECT, "InvalidS3ObjectException") /* no such bucket or object */              \
  X(ERR_THROTTLED, "ThrottlingException")              /* busy, retry later */                     \
  X(ERR_ACCESS_DENIED, "AccessDeniedException")        /* refused by policy (e.g. consent) */      \
  X(ERR_SERIALIZATION, "SerializationException")       /* the request is not a JSON object */      \
  X(ERR_VIDEO_TOO_LARGE, "VideoTooLargeException")     /* over 10 GB or 6 hours */                 \
  X(ERR_LIMIT_EXCEEDED, "LimitExceededException")      /* too many video jobs in progress */       \
  X(ERR_IDEMPOTENT_MISMATCH, "IdempotentParameterMismatchException") /* token reused */

typedef enum {
#define MIEN_STATUS_ENUM_(name, type) MIEN_##name,
  MIEN_STATUS_TABLE(MIEN_STATUS_ENUM_)
#undef MIEN_STATUS_ENUM_
} mien_status;

/* Rekognition's name for a status ("InvalidParameterException", ...). */
MIEN_API const char *mien_status_name(mien_status s);

/* Frees what a mien_ function handed over to the caller (a response string, a face array). */
MIEN_API void mien_free(void *p);

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

MIEN_API mien_status mien_net_load(const char *path, mien_net **out, char *err, size_t errlen);
MIEN_API mien_status mien_net_load_buffer(const void *data, size_t len, mien_net **out, char *err,
                                          size_t errlen);
MIEN_API void mien_net_free(mien_net *net);

/* Graph inputs and outputs as declared in the model; dims of -1 are set when planning. */
MIEN_API int mien_net_input_count(const mien_net *net);
MIEN_API const char *mien_net_input_name(const mien_net *net, int i);
MIEN_API int mien_net_input_dims(const mien_net *net, int i, int64_t *dims, int max_dims);
MIEN_API int mien_net_output_count(const mien_net *net);
MIEN_API const char *mien_net_output_name(const mien_net *net, int i);

/* Plans the net for the given input shapes (one dims array per graph input, in order). outputs
 * names the tensors wanted, graph outputs or any intermediate tensor; NULL/0 means the graph's
 * outputs. Nothing not needed for them is run. */
MIEN_API mien_status mien_plan_create(const mien_net *net, const int64_t *const *input_dims,
                                      const int *input_ndims, const char *const *outputs,
                                      int noutputs, mien_plan **out, char *err, size_t errlen);
MIEN_API void mien_plan_free(mien_plan *plan);
/* Bytes of the activation arena (the peak of live intermediate tensors) and the multiply-adds
 * of one run. */
MIEN_API size_t mien_plan_arena_bytes(const mien_plan *plan);
MIEN_API double mien_plan_macs(const mien_plan *plan);
MIEN_API int mien_plan_output_count(const mien_plan *plan);
MIEN_API int mien_plan_output_dims(const mien_plan *plan, int i, int64_t *dims, int max_dims);

/* threads <= 0 means one per core. A workspace serves any plan; it grows to the largest. */
MIEN_API mien_status mien_workspace_create(int threads, mien_workspace **out);
MIEN_API void mien_workspace_free(mien_workspace *ws);

/* Runs the plan: inputs[i] holds graph input i as dense float32 NCHW. Output i is then at
 * mien_workspace_output(ws, i), valid until the next run with the same workspace. */
MIEN_API mien_status mien_run(const mien_plan *plan, mien_workspace *ws,
                              const float *const *inputs);
MIEN_API const float *mien_workspace_output(const mien_workspace *ws, int i);

/* The compute kernels chosen for this CPU ("avx2" or "generic"; MIEN_ISA overrides), and the
 * number of cores. */
MIEN_API const char *mien_isa(void);
MIEN_API int mien_cpu_count(void);

/* ------------------------------------------------------------------------------------------
 * The face service: what the `mien` program and `mien serve` are made of, for programs that
 * embed face recognition (docs/architecture.md, python/README.md, examples/).
 *
 *   mien_service  the store (collections, users, faces, audit log), one face pipeline per
 *                 worker (models, plans, workspace) and the model identity. Thread-safe: each
 *                 call borrows a worker for its duration; with all `workers` busy a call waits
 *                 (queue_timeout_ms, then ThrottlingException).
 *
 * Every Rekognition operation mien implements is reachable by name with Rekognition's JSON
 * (mien_service_call); the typed calls below cover detection, embeddings, comparison and the
 * administration that has no Rekognition operation. Coordinates are ratios of the upright image
 * (EXIF orientation applied), as in Rekognition's BoundingBox.
 * ------------------------------------------------------------------------------------------ */
typedef struct mien_service mien_service;

typedef struct {
  const char *models;         /* model directory; NULL: $MIEN_MODELS, then the default lookup */
  const char *store;          /* where collections live: a directory today; NULL: $MIEN_DATA,
                                 else $XDG_DATA_HOME/mien, else ~/.local/share/mien */
  int no_store;               /* 1: the store is not opened (nor created): DetectFaces,
                                 CompareFaces, the typed detect/embed/compare, and reading the
                                 audit log of `store` (mien_service_audit_verify/export) only */
  const char *principal;      /* who calls, in the audit log, when a call names nobody; NULL:
                                 "local" */
  const char *template_key;   /* AES-256 key file encrypting stored templates; NULL: none
                                 ($MIEN_TEMPLATE_KEY is read when this is NULL) */
  const char *region;         /* the region collection ARNs name; NULL: us-east-1 */
  const char *const *buckets; /* "NAME=DIR" pairs: Image.S3Object reads from DIR; NULL: none */
  int nbuckets;
  int workers;          /* calls computing at once (one face pipeline each); <= 0: 1 */
  int threads;          /* threads per inference; <= 0: cores / workers, at least 1 */
  int queue_timeout_ms; /* longest wait for a free worker; <= 0: wait as long as it takes */
  /* Detection (0 or NULL: the defaults of `mien detect --help`). */
  int min_face;         /* smallest face side to find, pixels of the image */
  float min_score;      /* calibrated confidence threshold, 0..1 */
  const char *detector; /* NULL or "default", "yunet:PATH", "fusion:PATH" */
  /* Image limits (0: Rekognition's 5 MB and mien's sides and pixels). */
  size_t max_image_bytes;
  int max_image_side;
  int64_t max_image_pixels;
  /* Stored-video jobs (StartFaceDetection, StartFaceSearch; docs/video.md): threads of the
   * service that run them, below calls in priority (nice +10, one inference thread each), after
   * requeueing the jobs a dead process left running; 0: none (jobs stay queued for a service
   * that runs them). Closing the service puts its running jobs back in the queue. */
  int video_jobs;
  double video_retention_s; /* finished jobs and results are deleted after it (maintenance);
                               <= 0: 7 days */
  /* Where background work reports (one JSON object per event: a video job run, jobs recovered
   * at open); NULL: a line on stderr. Called from the service's threads. */
  void (*log)(void *log_ctx, const char *json);
  void *log_ctx;
} mien_service_config;

/* Where a service with store NULL keeps its data: $MIEN_DATA, else $XDG_DATA_HOME/mien, else
 * ~/.local/share/mien, written to out. 0, or -1 when none can be named (no HOME). */
MIEN_API int mien_default_store(char *out, size_t outlen);

/* The defaults: every field NULL or 0. Call it first, then set the fields wanted, so that
 * fields added in later versions keep their defaults. */
MIEN_API void mien_service_config_init(mien_service_config *cfg);
/* Opens the store (creating it) and checks that the models are there (their identity); each
 * worker's face pipeline is made when a call first needs it. */
MIEN_API mien_status mien_service_open(const mien_service_config *cfg, mien_service **out,
                                       char *err, size_t errlen);
MIEN_API void mien_service_close(mien_service *svc);
/* Makes every worker's face pipeline now (loading the models), so that a missing or broken
 * model is reported here, before any work, rather than by the first call that needs it. */
MIEN_API mien_status mien_service_warm(mien_service *svc, char *err, size_t errlen);

/* Runs Rekognition operation `op` ("DetectFaces", "IndexFaces", ...; mien_service_operation
 * lists them) on the request body json (len bytes, not NUL-terminated). On success *json_out is
 * the response body; on failure the status says why, err the message, and *json_out is the
 * error body Rekognition sends, {"__type": "...", "Message": "..."}. Free *json_out with
 * mien_free. An unknown operation: InvalidParameterException. */
MIEN_API mien_status mien_service_call(mien_service *svc, const char *op, const char *json,
                                       size_t len, char **json_out, char *err, size_t errlen);

/* Who calls and what stands for a missing Image.Bytes, for mien_service_call_with. */
typedef struct {
  const char *principal; /* recorded in the audit log; NULL: the config's principal */
  const void *image;     /* the image of a request without Image.Bytes (a CLI's file); or NULL */
  size_t image_len;
} mien_call_context;
MIEN_API mien_status mien_service_call_with(mien_service *svc, const mien_call_context *ctx,
                                            const char *op, const char *json, size_t len,
                                            char **json_out, char *err, size_t errlen);
/* The i-th operation name (0-based), or NULL past the last. */
MIEN_API const char *mien_service_operation(int i);

typedef struct {
  float x, y; /* ratios of the image's width and height */
} mien_point;

/* One face as DetectFaces describes it. */
typedef struct {
  float left, top, width, height; /* BoundingBox (not clipped: a cut face may pass 0 or 1) */
  float confidence;               /* 0..100 */
  int has_landmarks;              /* 0: the landmarks, pose and quality below are unset */
  mien_point landmarks[68];       /* the 68 points of iBUG 300-W, whence Rekognition's 30 */
  float roll, yaw, pitch;         /* Pose, degrees */
  float brightness, sharpness;    /* Quality, 0..100 */
} mien_face_detail;

/* The faces of an encoded image (JPEG or PNG), largest first, as DetectFaces finds them.
 * *faces is malloc'ed (mien_free); *n may be 0. Bad images: Rekognition's errors. */
MIEN_API mien_status mien_service_detect(mien_service *svc, const void *bytes, size_t len,
                                         mien_face_detail **faces, int *n, char *err,
                                         size_t errlen);
/* The same on an upright RGB8 image, w x h pixels, rows `stride` bytes apart (>= 3 * w). */
MIEN_API mien_status mien_service_detect_rgb(mien_service *svc, const uint8_t *rgb, int w, int h,
                                             size_t stride, mien_face_detail **faces, int *n,
                                             char *err, size_t errlen);

#define MIEN_EMBEDDING_DIM 512
/* Each face of an encoded image (largest first) and its L2-normalised embedding: *embeddings
 * holds n * MIEN_EMBEDDING_DIM floats, face i's at i * MIEN_EMBEDDING_DIM. Both malloc'ed
 * (mien_free). The embeddings of one FaceModelVersion (mien_service_model_version) only. */
MIEN_API mien_status mien_service_embed(mien_service *svc, const void *bytes, size_t len,
                                        mien_face_detail **faces, float **embeddings, int *n,
                                        char *err, size_t errlen);
/* Rekognition's Similarity (0..100, calibrated: docs/similarity.md) of two embeddings. */
MIEN_API float mien_embedding_similarity(const float *a, const float *b);

/* CompareFaces: the largest face of source against every face of target. *source gets the
 * source face; (*matches)[i] is target face i (largest first) and its similarity (mien_free).
 * No face in source: InvalidParameterException, as Rekognition answers. */
typedef struct {
  mien_face_detail face;
  float similarity; /* 0..100 */
} mien_face_match;
MIEN_API mien_status mien_service_compare(mien_service *svc, const void *source, size_t source_len,
                                          const void *target, size_t target_len,
                                          mien_face_detail *source_face, mien_face_match **matches,
                                          int *n, char *err, size_t errlen);

/* FaceModelVersion of the models this service runs (what new collections record); "" when the
 * models cannot be read. */
MIEN_API const char *mien_service_model_version(mien_service *svc);

/* ---- administration (docs/privacy.md) ---- */

/* The audit log's hash chain, checked (what `mien audit verify` prints). */
typedef struct {
  int valid;                /* every record present, in order, unedited */
  int64_t records;          /* records in the log */
  char head[65];            /* SHA-256 (hex) of the last record; "" when the log is empty */
  int64_t first_bad_record; /* 0 when valid */
  char reason[300];         /* why first_bad_record fails */
  double erasure_pending;   /* Unix time since a deletion's erasure waits; 0: none */
} mien_audit_report;
/* Reads the store's database directly (no template key needed; works with no_store). head_seq
 * > 0 also checks that record head_seq still hashes to head_hash (64 hex digits: a head kept
 * elsewhere from an earlier verify), reporting a rewritten or shortened log as invalid. */
MIEN_API mien_status mien_service_audit_verify(mien_service *svc, int64_t head_seq,
                                               const char *head_hash, mien_audit_report *out,
                                               char *err, size_t errlen);
/* Calls emit with each audit record after sequence number `after`, in order, as stored (one
 * JSON object per call; its SHA-256 is the next record's "prev"); stops when emit returns
 * non-zero. */
MIEN_API mien_status mien_service_audit_export(mien_service *svc, int64_t after,
                                               int (*emit)(void *ctx, const char *record),
                                               void *ctx, char *err, size_t errlen);
/* Deletes now the faces past their collection's retention; *purged (may be NULL) counts them,
 * with those the opening of the store purged that no earlier purge call counted. */
MIEN_API mien_status mien_service_purge(mien_service *svc, int64_t *purged, char *err,
                                        size_t errlen);
/* Re-encrypts every stored template with the key in new_key_file, in one transaction (or
 * encrypts an unencrypted store); *count (may be NULL) gets how many. Reopen the service with
 * template_key = new_key_file afterwards. */
MIEN_API mien_status mien_service_rotate_template_key(mien_service *svc, const char *new_key_file,
                                                      int64_t *count, char *err, size_t errlen);
/* Creates path (mode 0600, never overwriting) holding a new random AES-256 key in hex. */
MIEN_API mien_status mien_template_key_create(const char *path, char *err, size_t errlen);

/* ------------------------------------------------------------------------------------------
 * Access keys: the AccessKeyId / SecretAccessKey pairs that sign requests to `mien serve` (SigV4),
 * kept in the store, so every node on one store accepts the same keys (docs/privacy.md). The
 * secret is sealed with the template key when one is configured and is handed out twice only: by
 * mien_service_access_key_add, once, and by mien_service_access_key_secret, to a verifier.
 * Adding and deleting are audited; a deleted key's bytes are erased as a deleted face's are.
 * ------------------------------------------------------------------------------------------ */
#define MIEN_ACCESS_KEY_ID_LEN 20     /* "AKIA" and 16 base32 characters, as IAM makes them */
#define MIEN_ACCESS_KEY_SECRET_LEN 40 /* base64 characters */
#define MIEN_ACCESS_KEY_USER_MAX 64   /* IAM's limit on user names */
typedef struct {
  char id[MIEN_ACCESS_KEY_ID_LEN + 1];
  char user[MIEN_ACCESS_KEY_USER_MAX + 1];
  char created[32]; /* ISO 8601, UTC: "2024-05-01T12:00:00Z" */
} mien_access_key;
/* Creates a key for user name `user` (IAM's pattern [\w+=,.@-]{1,64}, else
 * InvalidParameterException): *key describes it, secret gets its SecretAccessKey. */
MIEN_API mien_status mien_service_access_key_add(mien_service *svc, const char *user,
                                                 mien_access_key *key,
                                                 char secret[MIEN_ACCESS_KEY_SECRET_LEN + 1],
                                                 char *err, size_t errlen);
/* Deletes key id (ResourceNotFoundException when there is none); refused at once on every node. */
MIEN_API mien_status mien_service_access_key_delete(mien_service *svc, const char *id, char *err,
                                                    size_t errlen);
/* Every key, oldest first, without secrets: *keys is malloc'ed (mien_free), *n may be 0. */
MIEN_API mien_status mien_service_access_key_list(mien_service *svc, mien_access_key **keys, int *n,
                                                  char *err, size_t errlen);
/* How many keys the store holds (a server with none answers loopback requests only). */
MIEN_API mien_status mien_service_access_key_count(mien_service *svc, int64_t *n, char *err,
                                                   size_t errlen);
/* The secret of key id, for verifying a signature: *found says whether the key exists (secret
 * is then filled; wipe it after use). Fails only when the store cannot be read (a retryable
 * IOException when it is unreachable). */
MIEN_API mien_status mien_service_access_key_secret(mien_service *svc, const char *id,
                                                    char secret[MIEN_ACCESS_KEY_SECRET_LEN + 1],
                                                    int *found, char *err, size_t errlen);

/* ---- what the `mien` program needs beyond the calls above (src/api/service_<topic>.c) ---- */

/* Detection's defaults and bounds (mien_service_config's min_score and min_face when 0), for
 * help texts and argument checks; the face layer uses them too. min_face by default follows
 * Rekognition's documented floor, 40 px in a 1920x1080 image and proportionally more in larger
 * ones, but at least MIEN_MIN_FACE_FLOOR in small images: 40 px keeps a 1920 px photo's finest
 * pass at 576 px wide and decode + detect near 17 ms on one core (bench/detect.sh); smaller faces
 * (down to about 16 px) need an explicit min_face. */
#define MIEN_DETECT_MIN_SCORE 0.9f  /* calibrated confidence threshold, whatever the detector */
#define MIEN_MIN_FACE_REF_SIDE 1920 /* min_face: MIEN_MIN_FACE_REF px per this image side, */
#define MIEN_MIN_FACE_REF 40
#define MIEN_MIN_FACE_FLOOR 20 /* but at least this */
#define MIEN_MIN_FACE_LIMIT 8  /* the smallest min_face that may be asked for */

/* DetectFaces on an encoded image, as mien_service_call gives it (*json_out, NUL-terminated),
 * and the image itself, upright and full size, with each face's box (green) and 68 landmarks
 * (red) drawn, encoded as PNG (*png, *png_len bytes): `mien detect --annotate`. Both malloc'ed
 * (mien_free). */
MIEN_API mien_status mien_service_detect_annotated(mien_service *svc, const void *bytes, size_t len,
                                                   char **json_out, void **png, size_t *png_len,
                                                   char *err, size_t errlen);

/* How long detection takes on one encoded image (`mien detect --runs`, bench/detect.sh). */
typedef struct {
  int faces;               /* faces found */
  int runs;                /* timed runs, after one warm-up */
  double ms_median;        /* decode + detect from the bytes, as a DetectFaces request costs */
  double ms_min;           /* the fastest run */
  double passes_ms_median; /* the detector's passes alone (resample + net), for comparison
                              with another runtime on the same input sizes */
  int decode_scale;        /* the JPEG's DCT reduction before detection (1: full size) */
  int npasses;             /* pyramid passes, finest first */
  int passes[8][2];        /* each pass's detector input: width, height */
} mien_detect_timing;
MIEN_API mien_status mien_service_time_detect(mien_service *svc, const void *bytes, size_t len,
                                              int runs, mien_detect_timing *out, char *err,
                                              size_t errlen);

/* Identifiers. */
#define MIEN_UUID_LEN 37 /* a FaceId or ImageId, "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" + NUL */
#define MIEN_EXTERNAL_ID_MAX 255
/* The ExternalImageId prefix that carries a consent reference: "consent-REF" or
 * "consent-REF:anything", REF of [a-zA-Z0-9_.-] (docs/privacy.md). */
#define MIEN_CONSENT_PREFIX "consent-"

/* Whether collection coll holds faces indexed from these exact bytes (the same SHA-256): *found,
 * and the ImageId they were given; what makes `mien index` resumable. */
MIEN_API mien_status mien_service_find_image(mien_service *svc, const char *coll, const void *bytes,
                                             size_t len, int *found, char image_id[MIEN_UUID_LEN],
                                             char *err, size_t errlen);

/* A collection's privacy policy, kept in its tags (docs/privacy.md). */
typedef struct {
  char purpose[257];    /* mien:purpose; "" when none */
  int retention_days;   /* mien:retention-days: faces are purged that many days after indexing;
                           0: kept until deleted */
  int consent_required; /* mien:consent = required: IndexFaces needs a consent reference */
} mien_collection_policy;
/* Sets the policy tags of collection coll given in set_json (a JSON object, NULL: none) and
 * removes the keys in remove (nremove of them), audited as SetPolicy; the store checks the values.
 * Then (or only, when nothing is to change) reads the policy into out. */
MIEN_API mien_status mien_service_policy(mien_service *svc, const char *coll, const char *set_json,
                                         const char *const *remove, int nremove,
                                         mien_collection_policy *out, char *err, size_t errlen);

/* What mien_store_copy_between did: rows per table on both sides, and the target's audit chain. */
typedef struct {
  int ntables;
  char table[16][16]; /* table names */
  int64_t source_rows[16], target_rows[16];
  int counts_match;      /* 0: the target held rows the source has not */
  int64_t audit_records; /* in the target */
  char audit_head[65];   /* the target's chain head, SHA-256 in hex */
  int audit_valid;       /* the target's chain verifies and ends where the source's does */
} mien_copy_report;
/* Copies every row of the store at `from` (collections, faces, users, tags, audit log, video jobs;
 * templates as stored) into the store at `to` (a directory, sqlite:DIR or a postgresql:// URL;
 * made when new) in one transaction, keeping rows the target has (so a copy can be rerun); then
 * counts both sides and verifies the target's audit chain: `mien store copy`. */
MIEN_API mien_status mien_store_copy_between(const char *from, const char *to,
                                             mien_copy_report *out, char *err, size_t errlen);

/* Stored video analysed at once, in the caller's thread (`mien video`): StartFaceDetection's
 * analysis (collection NULL) or StartFaceSearch's of collection at threshold (FaceMatchThreshold,
 * 0..100), on a video file the caller opened (fd, taken over: closed here). Each result goes to
 * the sink as found, as JSON text: VideoMetadata once the video is open, then every Faces (or
 * Persons) element of GetFaceDetection's (GetFaceSearch's) response, with its Timestamp (ms) and
 * Person.Index (-1: none); a callback returning non-zero stops the analysis (out of memory).
 * *readable = 0 with MIEN_OK when the video cannot be read (err: the FAILED job's
 * StatusMessage). budget_ms <= 0: 10 minutes plus four times the video's duration. A search is
 * audited as StartFaceSearch. */
#define MIEN_VIDEO_SAMPLE_MS 200        /* frames are sampled this often */
#define MIEN_FACE_MATCH_THRESHOLD 80.0f /* FaceMatchThreshold's default */
typedef struct {
  int (*metadata)(void *ctx, const char *json);
  int (*item)(void *ctx, int64_t timestamp_ms, int64_t person, const char *json);
  void (*progress)(void *ctx, double fraction); /* 0..1 of the video read; may be NULL */
  void *ctx;
} mien_video_sink;
/* Where the time went (ms, summed) and what was seen. */
typedef struct {
  double demux_decode_ms, convert_ms, detect_ms, embed_ms, search_ms;
  int64_t packets, frames_decoded, frames_sampled, faces, embeddings, tracks;
} mien_video_timing;
MIEN_API mien_status mien_service_analyze_video(mien_service *svc, int fd, const char *collection,
                                                double threshold, double budget_ms,
                                                const mien_video_sink *sink, int *readable,
                                                mien_video_timing *timing, char *err,
                                                size_t errlen);

/* ---- serving: what a long-running program (`mien serve`) needs beyond the operations ---- */

/* What one round of upkeep did (mien_service_maintain). */
typedef struct {
  int64_t faces_purged;      /* faces past their collection's retention, deleted */
  int64_t video_jobs_purged; /* finished video jobs past video_retention_s, deleted */
  double erasure_pending;    /* Unix time since a deletion's erasure waits (a reader held the
                                database); 0: none pending */
} mien_maintenance_report;
/* Upkeep to call now and then (mien serve: every quarter second): retries a pending erasure
 * (docs/privacy.md) and, when purge is non-zero, deletes the faces past their collection's
 * retention and the finished video jobs past video_retention_s. out may be NULL. */
MIEN_API mien_status mien_service_maintain(mien_service *svc, int purge,
                                           mien_maintenance_report *out, char *err, size_t errlen);

/* What a health check reports (GET /health; docs/cluster.md). */
typedef struct {
  char backend[16];    /* "sqlite" or "postgresql" */
  int reachable;       /* a query went through just now */
  int following;       /* PostgreSQL: this process follows the change feed (an index is loaded) */
  int feed_connected;  /* ...and its connection is up */
  int64_t last_change; /* the last change applied to this process's indexes */
  double lag_s;        /* seconds since the feed was last seen caught up */
} mien_health;
/* Checks the store with a query: MIEN_OK when it answered (out is filled either way). */
MIEN_API mien_status mien_service_health(mien_service *svc, mien_health *out, char *err,
                                         size_t errlen);

/* The path of mien's data file or directory `name` ("web", "models"): beside the program or
 * libmien.so (<prefix>/share/mien installed; a build tree's share/mien), then the configured
 * prefix. 0, or -1 when not found (out then says where it looked). */
MIEN_API int mien_find_data(const char *name, char *out, size_t outlen);

/* Reads the file `name` names beneath directory dir, never leaving it (no "..", no link out,
 * resolved in one step: a link swapped in meanwhile cannot lead elsewhere), never more than max
 * bytes: what a server that serves files a request names needs. *bytes is malloc'ed
 * (mien_free). MIEN_ERR_RESOURCE_NOT_FOUND when there is no regular file of at most max bytes
 * there; MIEN_ERR_IO when it cannot be read. */
MIEN_API mien_status mien_read_beneath(const char *dir, const char *name, size_t max,
                                       uint8_t **bytes, size_t *len);

#ifdef __cplusplus
}
#endif

#endif
