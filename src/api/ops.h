/* ops.h - Rekognition's collection, face and user operations over the store, by name, taking
 * the request body as cJSON and giving the response body, with Rekognition's field names,
 * defaults, limits and error types. The CLI (`mien call`, `mien index`, ...) and the server
 * share one table of handlers, so both answer the same way. */
#ifndef MIEN_API_OPS_H
#define MIEN_API_OPS_H

#include <cjson/cJSON.h>

#include "api/api.h"
#include "api/buckets.h"
#include "store/store.h"

/* What one caller thread brings to an operation. */
typedef struct {
  mien_store *store;
  /* This thread's face pipeline; made on first need when NULL (mien_api_release frees it). */
  mien_faces *faces;
  int faces_owned;
  /* How the pipeline is made when missing; NULL: the defaults. */
  const mien_faces_options *face_options;
  /* Image bytes given directly (the CLI), used when the request has no Image.Bytes. */
  const uint8_t *image;
  size_t image_len;
  /* Image limits (encoded bytes, sides, pixels); NULL: Rekognition's 5 MB and mien's defaults. */
  const mien_image_limits *limits;
  /* Where Image.S3Object reads from; NULL: no buckets. */
  const mien_buckets *buckets;
  /* Who calls, for the audit log: the request's access key id, or "cli"; NULL: "local". */
  const char *principal;
  /* The region ARNs name: the server's SigV4 region; NULL: MIEN_DEFAULT_REGION. */
  const char *region;
  /* Called after a video job was queued (the server wakes its job threads); may be NULL. */
  void (*job_queued)(void *ctx);
  void *job_ctx;
} mien_api;

/* What collection ARNs name (docs/conformance.md):
 * arn:aws:rekognition:REGION:ACCOUNT:collection/ID, the account being mien's one, all zeros. */
#define MIEN_DEFAULT_REGION "us-east-1"
#define MIEN_ACCOUNT_ID "000000000000"
#define OP_ARN_MAX (MIEN_COLLECTION_ID_MAX + 96)

/* On success *resp is the response body; on failure it is NULL and err says why. */
typedef mien_status (*mien_op_fn)(mien_api *api, const cJSON *req, cJSON **resp, char *err,
                                  size_t errlen);

typedef struct {
  const char *name; /* "CreateCollection", ... */
  mien_op_fn run;
} mien_op;

/* The operation called name, or NULL. */
const mien_op *mien_op_find(const char *name);
/* All operations, NULL-terminated by name. */
extern const mien_op mien_ops[];

/* Parses a request body (len bytes, not NUL-terminated) into *req, a JSON object:
 * SerializationException when it is not one, InvalidParameterException when it holds U+0000. */
mien_status mien_op_parse_request(const char *body, size_t len, cJSON **req, char *err,
                                  size_t errlen);

/* Frees what the api made on demand (the face pipeline). */
void mien_api_release(mien_api *api);

/* Defaults and limits documented by AWS. */
#define MIEN_USER_MATCH_THRESHOLD 80.0f /* SearchUsers*, UserMatchThreshold */
#define MIEN_ASSOCIATE_THRESHOLD 75.0f  /* AssociateFaces, UserMatchThreshold */
#define MIEN_MAX_RESULTS 4096           /* ListFaces, ListCollections MaxResults; MaxFaces */
#define MIEN_LIST_FACES_DEFAULT 1000
#define MIEN_MAX_USERS 500 /* ListUsers MaxResults, SearchUsers MaxUsers */

/* The operations (ops.c: collections; ops_image.c: DetectFaces, CompareFaces; ops_faces.c;
 * ops_users.c). */
mien_status mien_op_detect_faces(mien_api *, const cJSON *, cJSON **, char *, size_t);
mien_status mien_op_compare_faces(mien_api *, const cJSON *, cJSON **, char *, size_t);
mien_status mien_op_create_collection(mien_api *, const cJSON *, cJSON **, char *, size_t);
mien_status mien_op_describe_collection(mien_api *, const cJSON *, cJSON **, char *, size_t);
mien_status mien_op_list_collections(mien_api *, const cJSON *, cJSON **, char *, size_t);
mien_status mien_op_delete_collection(mien_api *, const cJSON *, cJSON **, char *, size_t);
mien_status mien_op_index_faces(mien_api *, const cJSON *, cJSON **, char *, size_t);
mien_status mien_op_list_faces(mien_api *, const cJSON *, cJSON **, char *, size_t);
mien_status mien_op_delete_faces(mien_api *, const cJSON *, cJSON **, char *, size_t);
mien_status mien_op_search_faces(mien_api *, const cJSON *, cJSON **, char *, size_t);
mien_status mien_op_search_faces_by_image(mien_api *, const cJSON *, cJSON **, char *, size_t);
mien_status mien_op_create_user(mien_api *, const cJSON *, cJSON **, char *, size_t);
mien_status mien_op_delete_user(mien_api *, const cJSON *, cJSON **, char *, size_t);
mien_status mien_op_list_users(mien_api *, const cJSON *, cJSON **, char *, size_t);
mien_status mien_op_associate_faces(mien_api *, const cJSON *, cJSON **, char *, size_t);
mien_status mien_op_disassociate_faces(mien_api *, const cJSON *, cJSON **, char *, size_t);
mien_status mien_op_search_users(mien_api *, const cJSON *, cJSON **, char *, size_t);
mien_status mien_op_search_users_by_image(mien_api *, const cJSON *, cJSON **, char *, size_t);
/* mien's people operations (ops_people.c, docs/people.md). */
mien_status mien_op_propose_users(mien_api *, const cJSON *, cJSON **, char *, size_t);
mien_status mien_op_accept_proposal(mien_api *, const cJSON *, cJSON **, char *, size_t);

/* ---- request parsing shared by src/api/ops*.c ---- */

/* Character sets of Rekognition's id patterns. */
typedef enum {
  ID_COLLECTION,  /* [a-zA-Z0-9_.\-]+ */
  ID_USER,        /* [a-zA-Z0-9_.\-:]+ (UserId, ExternalImageId) */
  ID_TOKEN,       /* any printable character (NextToken) */
  ID_CLIENT_TOKEN /* [a-zA-Z0-9-_]+ (ClientRequestToken) */
} op_id_kind;

/* The string field `name` of req, checked against the pattern and lengths. Absent: *out = NULL,
 * an error only when required. */
mien_status op_string(const cJSON *req, const char *name, int required, op_id_kind kind, int maxlen,
                      const char **out, char *err, size_t errlen);
/* The integer field name in [lo, hi], def when absent. */
mien_status op_int(const cJSON *req, const char *name, long lo, long hi, long def, long *out,
                   char *err, size_t errlen);
/* The number field name in [lo, hi], def when absent. */
mien_status op_number(const cJSON *req, const char *name, double lo, double hi, double def,
                      double *out, char *err, size_t errlen);
/* The array of FaceIds `name` (1..max UUIDs), required. *ids is malloc'ed (strings point into
 * req). */
mien_status op_face_ids(const cJSON *req, const char *name, int max, const char ***ids, int *n,
                        char *err, size_t errlen);
/* Whether s is a FaceId (UUID, lower-case hex). */
int op_is_uuid(const char *s);
/* The required CollectionId. */
mien_status op_collection(const cJSON *req, const char **id, char *err, size_t errlen);
/* The image in req's field (an Image object: "Image", "SourceImage", ...): Bytes (base64) or
 * S3Object read into *owned (free it), or api->image when the field is absent. */
mien_status op_image(mien_api *api, const cJSON *req, const char *field, const uint8_t **bytes,
                     size_t *len, uint8_t **owned, char *err, size_t errlen);
/* Decodes req's image `field` and detects its faces (*faces malloc'ed, largest first); sha256,
 * when not NULL, gets the hash of the image bytes. */
mien_status op_detect_image(mien_api *api, const cJSON *req, const char *field, mien_image *img,
                            mien_face **faces, int *n, uint8_t sha256[32], char *err,
                            size_t errlen);
/* The attribute list `field` (DetectFaces' Attributes, IndexFaces' DetectionAttributes) as
 * OP_ATTR_ bits in *attrs: DEFAULT adds none, ALL every attribute mien returns, EYES_OPEN and
 * MOUTH_OPEN their own; each of Rekognition's other names is refused by name with the reason
 * (docs/attributes.md). */
#define OP_ATTR_EYES_OPEN 1u
#define OP_ATTR_MOUTH_OPEN 2u
#define OP_ATTR_ALL (OP_ATTR_EYES_OPEN | OP_ATTR_MOUTH_OPEN)
mien_status op_check_attributes(const cJSON *req, const char *field, unsigned *attrs, char *err,
                                size_t errlen);
/* A FaceDetail (mien_face_detail_json) with the attributes in attrs. */
cJSON *op_face_detail(const mien_face *face, int img_w, int img_h, unsigned attrs);
/* api->faces, made when missing. */
mien_status op_faces(mien_api *api, mien_faces **f, char *err, size_t errlen);
/* FaceModelVersion of this build (the one collections created now record). */
mien_status op_model_version(char *out, size_t outlen, char *err, size_t errlen);
/* Describes collection coll into *info (when not NULL), failing when it is missing, and writes
 * its FaceModelVersion to version. */
mien_status op_collection_version(mien_api *api, const char *coll, mien_collection_info *info,
                                  char version[64], char *err, size_t errlen);
/* The ARN of collection coll, written to out. */
const char *op_collection_arn(const mien_api *api, const char *coll, char out[OP_ARN_MAX]);
/* NextToken (docs/conformance.md): the key a page ends at (a CollectionId, UserId or face row),
 * behind 16 hex digits of a hash of the operation, collection and key, so that a token that
 * mien did not give for this list is InvalidPaginationTokenException rather than a page. */
#define OP_PAGE_TOKEN_MAX (16 + MIEN_COLLECTION_ID_MAX)
/* The token for the page after `key` of list `op` over collection coll ("" for
 * ListCollections), written to out. */
void op_page_token(const char *op, const char *coll, const char *key,
                   char out[OP_PAGE_TOKEN_MAX + 1]);
/* The key in req's NextToken into key ("" when absent: the first page). */
mien_status op_page_after(const cJSON *req, const char *op, const char *coll,
                          char key[OP_PAGE_TOKEN_MAX + 1], char *err, size_t errlen);
/* The end of an operation: *resp = r when st is MIEN_OK, else r is deleted. Returns st. */
mien_status op_respond(mien_status st, cJSON *r, cJSON **resp);

/* ---- ClientRequestToken (idempotency.c, docs/idempotency.md) ---- */

/* Reads req's ClientRequestToken into idem (for operation op on collection coll, by
 * api->principal) with the hash of the request without it; when the token already answered
 * this request, *replay gets that first response (the operation must not run again).
 * IdempotentParameterMismatchException when it answered another request. No token: idem->token
 * is NULL and nothing is kept. */
mien_status op_idem_begin(mien_api *api, const cJSON *req, const char *op, const char *coll,
                          mien_idem *idem, cJSON **replay, char *err, size_t errlen);
/* The end of a token-taking operation that returned st: when it failed because a concurrent
 * request with the same token changed things first, that request's response goes to *resp
 * instead (or the mismatch). Returns the final status. */
mien_status op_idem_end(mien_api *api, const mien_idem *idem, mien_status st, cJSON **resp,
                        char *err, size_t errlen);
/* A mien_idem respond function for an empty response, {}. */
char *op_idem_empty(void *ctx);

/* ---- response pieces ---- */

/* A number with 6 significant digits. */
void op_add_num(cJSON *o, const char *name, double v);
/* A Face object: FaceId, BoundingBox, ImageId, ExternalImageId, Confidence, UserId, and
 * IndexFacesModelVersion when model_version is not NULL. */
cJSON *op_face_json(const mien_face_record *r, const char *model_version);

/* Decodes the request's image and detects its faces (largest first, *faces malloc'ed: free
 * it); when there is one, emb gets the largest face's embedding. For the *ByImage operations. */
mien_status op_detect_largest(mien_api *api, const cJSON *req, mien_face **faces, int *n,
                              int *img_w, int *img_h, float emb[MIEN_EMBED_DIM], char *err,
                              size_t errlen);
/* MaxFaces/MaxUsers and the match threshold of a Search* operation. */
typedef mien_status (*op_search_params_fn)(const cJSON *req, long *max, double *threshold,
                                           char *err, size_t errlen);
/* What a *ByImage search starts from. */
typedef struct {
  const char *coll, *filter; /* CollectionId, QualityFilter (default NONE) */
  long max;
  double threshold;
  char version[64];          /* the collection's FaceModelVersion */
  mien_face *faces;          /* the image's faces, largest first (free it) */
  int n, w, h;               /* how many faces; the image's size */
  float emb[MIEN_EMBED_DIM]; /* the largest face's embedding, when n > 0 */
} op_image_search;
/* Reads CollectionId, params, QualityFilter and the collection, then detects the image's faces
 * (op_detect_largest) into *s. */
mien_status op_image_search_begin(mien_api *api, const cJSON *req, op_search_params_fn params,
                                  op_image_search *s, char *err, size_t errlen);
/* The Reasons a face fails QualityFilter q ("NONE", "AUTO", "LOW", "MEDIUM", "HIGH"), added to
 * reasons; returns how many. */
int op_quality_reasons(const mien_face *face, const char *q, cJSON *reasons);
/* The QualityFilter field, def when absent. */
mien_status op_quality_filter(const cJSON *req, const char *def, const char **out, char *err,
                              size_t errlen);

/* ---- stored video (ops_video.c, docs/video.md) ---- */

#include "video/video.h"

mien_status mien_op_start_face_detection(mien_api *, const cJSON *, cJSON **, char *, size_t);
mien_status mien_op_get_face_detection(mien_api *, const cJSON *, cJSON **, char *, size_t);
mien_status mien_op_start_face_search(mien_api *, const cJSON *, cJSON **, char *, size_t);
mien_status mien_op_get_face_search(mien_api *, const cJSON *, cJSON **, char *, size_t);
/* CreateStreamProcessor and the other streaming-video operations: refused, saying why. */
mien_status mien_op_stream_refused(mien_api *, const cJSON *, cJSON **, char *, size_t);

#define MIEN_VIDEO_MAX_RESULTS 1000 /* Get*: MaxResults' default and largest value */
#define MIEN_VIDEO_ACTIVE_JOBS 20   /* jobs queued or running at once (LimitExceeded beyond) */
#define MIEN_VIDEO_MAX_MATCHES 10   /* FaceMatches per person */
#define MIEN_VIDEO_JOB_ATTEMPTS 2   /* runs a job gets before a crash fails it */
#define MIEN_VIDEO_OPEN_BUDGET_MS 600000.0 /* a job's time: 10 min + 4x the video's duration */

/* Where a video analysis puts what it finds: the VideoMetadata once the video is open, then
 * each Faces/Persons element (taken over) with its Timestamp and Person.Index (-1: none). */
typedef struct {
  mien_status (*metadata)(void *ctx, cJSON *metadata, char *err, size_t errlen);
  mien_status (*item)(void *ctx, int64_t ts, int64_t person, cJSON *item, char *err, size_t errlen);
  void (*progress)(void *ctx, double fraction);
  void *ctx;
} op_video_sink;

/* What a face search found, for its audit record and the log. */
typedef struct {
  int64_t persons, matched_persons, matches;
} op_video_counts;

/* Analyses the video read from fd (taken over): face detection when coll is NULL, else a face
 * search of coll at threshold. A video that cannot be read sets *vst (err says why) and returns
 * MIEN_OK; a failure of mien's own (the store, memory) is returned. stats and counts may be
 * NULL. budget_ms <= 0: MIEN_VIDEO_OPEN_BUDGET_MS plus four times the video's duration. */
mien_status op_video_analyze(mien_api *api, int fd, const char *coll, double threshold,
                             const atomic_int *stop, double budget_ms, const op_video_sink *sink,
                             mien_video_status *vst, mien_video_stats *stats,
                             op_video_counts *counts, char *err, size_t errlen);

/* Runs the oldest queued video job of api's store to its end (SUCCEEDED or FAILED), or puts it
 * back in the queue when stop is set meanwhile; job gets it as it ended. *ran = 0 when none was
 * queued. */
mien_status mien_video_run_job(mien_api *api, const atomic_int *stop, mien_job *job, int *ran,
                               char *err, size_t errlen);

#endif
