/* store.h - the store behind collections, faces and users: the one interface the rest of mien
 * sees, with two implementations behind it (sql.h): the embedded SQLite database of a data
 * directory, and PostgreSQL, the system of record of many `mien serve` nodes (docs/cluster.md).
 * Each collection's in-memory search index (index.h) is kept in sync with the database. This
 * header names neither database nor the face model's types; src/store/internal.h is the
 * implementation's side.
 *
 * Durability: every write is one transaction committed before the function returns (SQLite:
 * synchronous=FULL in WAL mode; PostgreSQL: its commit), so a function that returns MIEN_OK has
 * made its change durable; a crash loses nothing acknowledged.
 * Erasure: SQLite's secure_delete=ON zeroes deleted rows in the database file and a checkpoint
 * (mien_store_checkpoint) takes the WAL's copies; PostgreSQL's tables that hold templates are
 * rewritten (VACUUM FULL) after a deletion. Either way a deleted template's bytes are then
 * nowhere in the store's files.
 * Model versions: a collection records the face model (name + SHA-256 of the model files) it
 * was created with; adding or searching templates of another model is refused.
 * Privacy (docs/privacy.md): each collection's policy (purpose, retention, consent) lives in its
 * tags under mien: keys; every change and search is recorded in a hash-chained audit table in
 * the change's own transaction (writers take turns, also across PostgreSQL nodes); templates are
 * sealed with AES-256-GCM when a key file is configured ($MIEN_TEMPLATE_KEY).
 *
 * Thread-safe: one database connection behind a mutex; each collection's index behind a rwlock
 * (searches share it, writes hold it across their commit and the index update). Another
 * process's writes reach this one's indexes only when it reopens the store. */
#ifndef MIEN_STORE_STORE_H
#define MIEN_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "mien.h"

typedef struct mien_store mien_store;

/* A template: the face model's embedding (face.h's MIEN_EMBED_DIM, checked in internal.h). */
#define MIEN_TEMPLATE_DIM 512
#define MIEN_COLLECTION_ID_MAX 255 /* Rekognition's limits on ids, characters */
#define MIEN_USER_ID_MAX 128
#define MIEN_USER_MAX_FACES 100 /* faces one user may have */

/* The store's location: $MIEN_STORE, else the data directory $MIEN_DATA, else
 * $XDG_DATA_HOME/mien, else ~/.local/share/mien. A location is a data directory (DIR or
 * "sqlite:DIR": the embedded SQLite store) or a PostgreSQL URL ("postgresql://..." or
 * "postgres://...", docs/cluster.md: the store of many nodes). */
int mien_store_default_dir(char *out, size_t outlen);

/* Opens (creating the directory and database, migrating an older schema; in PostgreSQL, creating
 * the tables in the URL's database) the store at location (mien_store_default_dir), with
 * the template key named by $MIEN_TEMPLATE_KEY when set, and purges the faces past their
 * collection's retention. A store whose templates are encrypted does not open without its key,
 * nor with another key. */
mien_status mien_store_open(const char *dir, mien_store **out, char *err, size_t errlen);
/* The same with the template key file given (NULL: none), the environment unread: what a
 * library caller (mien_service) passes down. */
mien_status mien_store_open_key(const char *location, const char *key_file, mien_store **out,
                                char *err, size_t errlen);
void mien_store_close(mien_store *s);

/* The face model of this build, as collections record it: "mien-fr" and the hex SHA-256 of
 * fr_detect, fr_landmark and fr_feature (in that order), hashed once per process. The version
 * string a response shows is mien_store_model_version's. */
mien_status mien_store_model(char name[32], char sha256[65], char *err, size_t errlen);
/* FaceModelVersion in Rekognition's pattern [0-9.]+ (docs/conformance.md): "1.0" for the default
 * models (MIEN_DEFAULT_MODEL_SHA256), "0.<the hash's first 32 bits in decimal>" for any other
 * model set, so that versions of different models differ. */
void mien_store_model_version(const char *sha256, char *out, size_t outlen);
#define MIEN_DEFAULT_MODEL_SHA256 "c720766410dafc8c4c04486286fcf586347de11ee5cf4440dd8bc3341abb85cd"

/* What GET /health reports about the store (docs/cluster.md). */
typedef struct {
  const char *backend; /* "sqlite" or "postgresql" */
  int reachable;       /* a query went through just now */
  int following;       /* PostgreSQL: this process follows the change feed (an index is loaded) */
  int feed_connected;  /* ...and its connection is up */
  int64_t last_change; /* the last change sequence applied to this process's indexes */
  double lag_s;        /* seconds since the feed was last seen caught up (at most about 0.5 s
                          while healthy); grows while the database cannot be reached */
} mien_store_health_info;
/* Checks the store with a query; MIEN_OK when it answered (out is filled either way). */
mien_status mien_store_health(mien_store *s, mien_store_health_info *out, char *err, size_t errlen);

/* Moves the WAL into the database and truncates it (wal_checkpoint(TRUNCATE)). */
mien_status mien_store_checkpoint(mien_store *s, char *err, size_t errlen);
/* When a deletion's erasure is pending (another process held a read transaction when its
 * checkpoint ran, so the erased templates' old pages are still in mien.db-wal or mien.db), tries
 * the checkpoint again. Returns since when it has been pending (db_now seconds), 0 when nothing
 * is pending any more. The server calls it from its reaper thread. */
double mien_store_retry_erasure(mien_store *s);

/* ---- collections ---- */
typedef struct {
  char id[MIEN_COLLECTION_ID_MAX + 1];
  char model[32], model_sha256[65];
  double created; /* Unix seconds */
  int64_t face_count, user_count;
  char index_kind[8]; /* what searches use: "EXACT", or "ANN" past 1M faces (docs/search.md) */
  float index_recall; /* its recall@10 against the exact scan, measured when built (1: EXACT) */
} mien_collection_info;

/* tags_json: a JSON object of string values, or NULL; its mien: keys are the policy and are
 * checked (mien_policy). ResourceAlreadyExistsException if the id is taken. Audited as
 * CreateCollection by principal (NULL: "local"), like every change below. */
mien_status mien_store_create_collection(mien_store *s, const char *principal, const char *id,
                                         const char *tags_json, mien_collection_info *info,
                                         char *err, size_t errlen);
mien_status mien_store_describe_collection(mien_store *s, const char *id,
                                           mien_collection_info *info, char *err, size_t errlen);
/* Up to max collections whose id sorts after `after` ("" for the first page), by id; *more says
 * whether any follow. */
mien_status mien_store_list_collections(mien_store *s, const char *after, int max,
                                        mien_collection_info *out, int *n, int *more, char *err,
                                        size_t errlen);
/* Deletes the collection with its faces, users and images. */
mien_status mien_store_delete_collection(mien_store *s, const char *principal, const char *id,
                                         char *err, size_t errlen);

/* ---- faces ---- */
typedef struct {
  int64_t row; /* the index's id for the face */
  char face_id[MIEN_UUID_LEN], image_id[MIEN_UUID_LEN];
  char external_image_id[MIEN_EXTERNAL_ID_MAX + 1]; /* "" when none */
  char user_id[MIEN_USER_ID_MAX + 1];               /* "" when not associated */
  float left, top, width, height;                   /* ratios of the image */
  float confidence;                                 /* 0..100 */
  float emb[MIEN_TEMPLATE_DIM];                     /* only where a function says so */
} mien_face_record;

/* A face to add: box and confidence as in mien_face_record, and its embedding. */
typedef struct {
  float left, top, width, height, confidence;
  const float *emb;
} mien_new_face;

/* Whether an image with this content hash was indexed into the collection (for resuming a bulk
 * index); its ImageId goes to image_id when it was. */
mien_status mien_store_find_image(mien_store *s, const char *coll, const uint8_t sha256[32],
                                  int *found, char image_id[MIEN_UUID_LEN], char *err,
                                  size_t errlen);
/* Records one image (content hash, ExternalImageId or NULL) and its n faces in one durable
 * transaction with its audit record (IndexFaces by principal), then adds them to the index.
 * Fills image_id and face_ids[i]. AccessDeniedException when the collection requires consent
 * and external_id carries no consent reference (mien_consent_ref). */
mien_status mien_store_index_image_as(mien_store *s, const char *principal, const char *coll,
                                      const uint8_t sha256[32], const char *external_id,
                                      const mien_new_face *faces, int n,
                                      char image_id[MIEN_UUID_LEN], char (*face_ids)[MIEN_UUID_LEN],
                                      char *err, size_t errlen);
/* mien_store_index_image_as by "local". */
mien_status mien_store_index_image(mien_store *s, const char *coll, const uint8_t sha256[32],
                                   const char *external_id, const mien_new_face *faces, int n,
                                   char image_id[MIEN_UUID_LEN], char (*face_ids)[MIEN_UUID_LEN],
                                   char *err, size_t errlen);
/* Faces in row order after row `after` (0 first), at most max; only those of user_id when not
 * NULL. *more says whether any follow. Embeddings are read only when with_emb. */
mien_status mien_store_list_faces(mien_store *s, const char *coll, int64_t after, int max,
                                  const char *user_id, int with_emb, mien_face_record *out, int *n,
                                  int *more, char *err, size_t errlen);
/* The face with this FaceId, with its embedding; *found = 0 when there is none. */
mien_status mien_store_get_face(mien_store *s, const char *coll, const char *face_id,
                                mien_face_record *out, int *found, char *err, size_t errlen);

/* What happened to one face of a batch (delete, associate, disassociate). */
typedef enum {
  MIEN_FACE_DONE = 0,
  MIEN_FACE_NOT_FOUND,
  MIEN_FACE_OTHER_USER, /* associated with another user (delete: with any user) */
  MIEN_FACE_UNCHANGED   /* already in the wanted state */
} mien_face_result;

/* Deletes the faces (one transaction), and the images left without faces; a face associated
 * with a user is kept (its user goes to user_ids[i] when user_ids is not NULL). */
mien_status mien_store_delete_faces(mien_store *s, const char *principal, const char *coll,
                                    const char *const *face_ids, int n, mien_face_result *res,
                                    char (*user_ids)[MIEN_USER_ID_MAX + 1], char *err,
                                    size_t errlen);

/* The k faces most similar to q (cosine, best first) with cosine >= min_cosine, leaving out the
 * face with row `exclude` (0: none). Records come with embeddings when with_emb. */
mien_status mien_store_search(mien_store *s, const char *coll, const float *q, int k,
                              float min_cosine, int64_t exclude, int with_emb,
                              mien_face_record *out, float *cosine, int *n, char *err,
                              size_t errlen);

/* ---- users ---- */
typedef struct {
  char user_id[MIEN_USER_ID_MAX + 1];
  char status[16]; /* UserStatus: CREATED (no faces yet) or ACTIVE */
} mien_user_record;

/* ---- idempotency (docs/idempotency.md) ----
 * A change made with a ClientRequestToken records the token, a hash of the request and the
 * response it gave, in the change's own transaction: a crash cannot leave the change without its
 * token. A retry with the same token then gets the first response; with other parameters,
 * IdempotentParameterMismatchException. Records last MIEN_IDEMPOTENCY_WINDOW_S (then they are
 * purged) and go with their collection. */
#define MIEN_IDEMPOTENCY_WINDOW_S (24 * 3600)
typedef struct {
  const char *op;        /* the operation: "CreateUser", ... */
  const char *principal; /* who calls (NULL: "local"): tokens are per caller */
  const char *coll;      /* the collection the change is in */
  const char *token;     /* ClientRequestToken; NULL: none, nothing is recorded */
  uint8_t request_sha256[32];
  /* The response to keep, called inside the change's transaction once the change is made, with
   * the store's mutex held (so it must not call the store): malloc'ed JSON text, NULL when out
   * of memory. */
  char *(*respond)(void *ctx);
  void *ctx;
} mien_idem;
/* The response recorded for idem's token (malloc'ed JSON text into *response), NULL when there
 * is none within the window; IdempotentParameterMismatchException when the token was recorded
 * for another request. */
mien_status mien_store_idem_find(mien_store *s, const mien_idem *idem, char **response, char *err,
                                 size_t errlen);
/* Records idem's token in a transaction of its own, for a change that needed no write. */
mien_status mien_store_idem_record(mien_store *s, const mien_idem *idem, char *err, size_t errlen);

/* ConflictException when the user exists. idem (may be NULL) is recorded with the change, as in
 * the two functions below. */
mien_status mien_store_create_user(mien_store *s, const char *coll, const char *user_id,
                                   const mien_idem *idem, char *err, size_t errlen);
/* Deletes the user; its faces stay, unassociated. ResourceNotFoundException when absent. */
mien_status mien_store_delete_user(mien_store *s, const char *principal, const char *coll,
                                   const char *user_id, const mien_idem *idem, char *err,
                                   size_t errlen);
/* *found = 0 when the user does not exist. */
mien_status mien_store_get_user(mien_store *s, const char *coll, const char *user_id,
                                mien_user_record *out, int *found, char *err, size_t errlen);
/* Users by id after `after` ("" first), at most max; *more says whether any follow. */
mien_status mien_store_list_users(mien_store *s, const char *coll, const char *after, int max,
                                  mien_user_record *out, int *n, int *more, char *err,
                                  size_t errlen);
/* Associates the faces with the user (user_id not NULL) or disassociates them from it (user_id
 * NULL: from_user names the user they must belong to), in one transaction. A face of another
 * user is left alone (MIEN_FACE_OTHER_USER). ServiceQuotaExceededException when the user would
 * have more than MIEN_USER_MAX_FACES faces; nothing is changed then. status gets the user's
 * UserStatus after the change, before idem's respond is called. */
mien_status mien_store_set_user(mien_store *s, const char *coll, const char *user_id,
                                const char *from_user, const char *const *face_ids, int n,
                                mien_face_result *res, char status[16], const mien_idem *idem,
                                char *err, size_t errlen);

/* ---- privacy: policy, retention, audit, template keys (docs/privacy.md) ---- */

/* A collection's policy, kept in its tags: mien:purpose (free text), mien:retention-days (1 to
 * 36500: faces are purged that many days after they were indexed; absent: kept until deleted),
 * mien:consent (required: IndexFaces needs a consent reference; none, the default). */
typedef struct {
  char purpose[257];
  int retention_days; /* 0: no retention limit */
  int consent_required;
} mien_policy;

#define MIEN_TAGS_MAX 50
#define MIEN_RETENTION_DAYS_MAX 36500

/* The policy a tags object states; InvalidParameterException for a bad value or an unknown
 * mien: key (a typo must not pass for a policy). p may be NULL to check only. */
mien_status mien_policy_from_tags(const cJSON *tags, mien_policy *p, char *err, size_t errlen);
/* The length of the consent reference in an ExternalImageId (NULL allowed); 0 when it has none. */
size_t mien_consent_ref(const char *external_id);
/* AccessDeniedException when collection coll requires consent and external_id (may be NULL)
 * carries no consent reference. mien_store_index_image_as checks it again in its transaction. */
mien_status mien_store_check_consent(mien_store *s, const char *coll, const char *external_id,
                                     char *err, size_t errlen);
mien_status mien_store_get_policy(mien_store *s, const char *coll, mien_policy *p, char *err,
                                  size_t errlen);
/* The collection's tags, a JSON object as text (malloc'ed). */
mien_status mien_store_get_tags(mien_store *s, const char *coll, char **json, char *err,
                                size_t errlen);
/* Adds or replaces the tags of `set` (an object of strings, or NULL) and removes the keys
 * `remove`, in one transaction audited as op (TagResource, ...) with the resulting policy; at
 * most MIEN_TAGS_MAX tags. A shorter retention purges at once. */
mien_status mien_store_set_tags(mien_store *s, const char *principal, const char *op,
                                const char *coll, const cJSON *set, const char *const *remove,
                                int nremove, char *err, size_t errlen);
/* Deletes, in every collection with a retention, the faces indexed longer ago than it, the
 * images left without faces and the users without faces created before it; one audited
 * transaction per collection (principal "retention"). *purged: the faces deleted. The clock is
 * db_now's. mien_store_open runs it; a server runs it periodically. */
mien_status mien_store_purge_expired(mien_store *s, int64_t *purged, char *err, size_t errlen);
/* The faces mien_store_open purged (past their retention) when it opened s. */
int64_t mien_store_purged_at_open(const mien_store *s);

/* Appends one audit record (op by principal on collection coll, which may be NULL, with the
 * members of fields, an object taken over; NULL for none) in its own durable transaction. */
mien_status mien_store_audit(mien_store *s, const char *principal, const char *op, const char *coll,
                             cJSON *fields, char *err, size_t errlen);
/* mien_store_audit with one count as its fields: {"<name>": n}. */
mien_status mien_store_audit_count(mien_store *s, const char *principal, const char *op,
                                   const char *coll, const char *name, int64_t n, char *err,
                                   size_t errlen);
/* The result of checking the audit chain. */
typedef struct {
  int64_t records;        /* records read */
  int64_t bad_seq;        /* the first record that fails, 0 when the chain holds */
  char head[65];          /* hex SHA-256 of the last good record ("" when none) */
  char reason[300];       /* why bad_seq fails */
  int64_t faces;          /* faces in the store */
  double erasure_pending; /* db_now seconds since a deletion's erasure has waited; 0: none */
} mien_audit_check;
/* Checks the audit chain of the store in dir, reading its database directly (read-only, no
 * template key needed): every record present in order, each hashing to what the next one
 * names, and no empty log in a store that holds faces (every face was indexed by an audited
 * operation, so its rows were deleted). Also reports a pending erasure (db_erase). MIEN_OK when
 * it could be read (see out->bad_seq). */
mien_status mien_audit_verify(const char *dir, mien_audit_check *out, char *err, size_t errlen);
/* Calls emit with each audit record after sequence number `after`, in order, as stored (one
 * JSON object; its SHA-256 is the next record's "prev"); stops when emit returns non-zero. */
mien_status mien_audit_export(const char *dir, int64_t after,
                              int (*emit)(void *ctx, const char *record), void *ctx, char *err,
                              size_t errlen);

/* ---- copying a store (copy.c; docs/cluster.md) ---- */
#define MIEN_COPY_TABLES 10
typedef struct {
  int ntables;
  char table[MIEN_COPY_TABLES][16];
  int64_t source_rows[MIEN_COPY_TABLES], target_rows[MIEN_COPY_TABLES];
  int mismatch;          /* some table's counts differ (the target held other rows) */
  int64_t audit_records; /* in the target */
  char audit_head[65];   /* the target's chain head */
  int audit_valid;       /* the target's chain verifies and ends where the source's does */
} mien_store_copy_report;
/* Copies every row of the store at `from` (collections, faces, users, tags, audit, idempotency,
 * video jobs, access keys; templates and secrets as stored, sealed or not) into the store at `to`
 * (made when new), in one transaction; rows the target has already are kept, so an interrupted copy
 * can be rerun. Then counts both sides and verifies the target's audit chain. */
mien_status mien_store_copy(const char *from, const char *to, mien_store_copy_report *out,
                            char *err, size_t errlen);

/* The environment variable naming the template key file. */
#define MIEN_TEMPLATE_KEY_ENV "MIEN_TEMPLATE_KEY"
#define MIEN_TEMPLATE_KEY_LEN 32 /* AES-256 */
/* Reads a template key file: 64 hex digits (then optional white space) or 32 raw bytes; the file
 * must be a regular file that group and others cannot access (mode 0600 or stricter). */
mien_status mien_template_key_read(const char *path, uint8_t key[MIEN_TEMPLATE_KEY_LEN], char *err,
                                   size_t errlen);
/* Creates path (mode 0600, never overwriting) with a new random key in hex. */
mien_status mien_template_key_new(const char *path, char *err, size_t errlen);
/* Re-encrypts every template with the key in new_key_file, in one transaction (a crash leaves
 * the old key's store intact), then truncates the WAL; an unencrypted store becomes encrypted.
 * The store then uses the new key; *count gets the templates rewritten. */
mien_status mien_store_rotate_template_key(mien_store *s, const char *principal,
                                           const char *new_key_file, int64_t *count, char *err,
                                           size_t errlen);

/* ---- stored-video jobs (db_jobs.c; docs/video.md) ---- */

/* A job's life: QUEUED, RUNNING (both IN_PROGRESS to Rekognition's clients), then SUCCEEDED or
 * FAILED. */
typedef struct {
  int64_t row;
  char job_id[MIEN_UUID_LEN];
  char kind[16];                               /* "FaceDetection" or "FaceSearch" */
  char state[16];                              /* QUEUED, RUNNING, SUCCEEDED, FAILED */
  char principal[128];                         /* who started it (audit records of its search) */
  char collection[MIEN_COLLECTION_ID_MAX + 1]; /* FaceSearch's; "" otherwise */
  char status_message[512];
  char request[4096];  /* the Start request as received (JSON) */
  char metadata[1024]; /* VideoMetadata (JSON), "" until the video was opened */
  double progress;     /* 0..1 */
  int attempts;        /* runs begun */
  double created, finished;
} mien_job;

/* One result element: its time, Person.Index (-1 for face detection) and JSON text. */
typedef struct {
  int64_t timestamp, person;
  const char *item;
} mien_job_result;

/* Queues a job (kind, the request's JSON text, its collection or NULL) and writes its JobId.
 * With a ClientRequestToken already used: the same request (same kind, equal JSON) gets that
 * job's JobId again, another one IdempotentParameterMismatchException. LimitExceededException
 * when max_active jobs are queued or running. A FaceSearch start is audited. */
mien_status mien_store_job_start(mien_store *s, const char *principal, const char *kind,
                                 const char *token, const char *request, const char *coll,
                                 int max_active, char job_id[MIEN_UUID_LEN], char *err,
                                 size_t errlen);
/* The job with this JobId; *found = 0 when there is none (or it expired). */
mien_status mien_store_job_get(mien_store *s, const char *job_id, mien_job *out, int *found,
                               char *err, size_t errlen);
/* Takes the oldest queued job for running (RUNNING, one more attempt); *found = 0 when none. */
mien_status mien_store_job_claim(mien_store *s, mien_job *out, int *found, char *err,
                                 size_t errlen);
/* Records a running job's progress (0..1) and, when not NULL, its VideoMetadata JSON. */
mien_status mien_store_job_progress(mien_store *s, int64_t row, double progress,
                                    const char *metadata, char *err, size_t errlen);
/* Appends n results of a running job, in one transaction. */
mien_status mien_store_job_add_results(mien_store *s, int64_t row, const mien_job_result *r, int n,
                                       char *err, size_t errlen);
/* Ends a running job: SUCCEEDED, or FAILED with message (its results deleted). audit, when not
 * NULL, is recorded (taken over) as the job's search: op StartFaceSearch by the job's principal
 * on its collection. */
mien_status mien_store_job_finish(mien_store *s, int64_t row, int succeeded, const char *message,
                                  cJSON *audit, char *err, size_t errlen);
/* Puts a running job back in the queue, its results deleted and the attempt not counted (the
 * server stopped it to shut down). */
mien_status mien_store_job_requeue(mien_store *s, int64_t row, char *err, size_t errlen);
/* At server start: jobs left RUNNING by a process that died are queued again, or FAILED once
 * they were begun max_attempts times (a video that kills the server must not do it forever). */
mien_status mien_store_job_recover(mien_store *s, int max_attempts, int64_t *requeued,
                                   int64_t *failed, char *err, size_t errlen);
/* Up to max results of a job from offset (by TIMESTAMP, or INDEX when by_index), added to
 * items as parsed JSON; *more says whether any follow. */
mien_status mien_store_job_results(mien_store *s, int64_t row, int by_index, int64_t offset,
                                   int max, cJSON *items, int *more, char *err, size_t errlen);
/* Deletes the jobs that ended more than retention_s ago, with their results (audited as
 * VideoJobPurge with the count, then erased from the files). */
mien_status mien_store_job_purge(mien_store *s, double retention_s, int64_t *purged, char *err,
                                 size_t errlen);

/* ---- helpers shared with the API layer ---- */

/* A random (version 4) UUID, lower-case. */
void mien_uuid(char out[MIEN_UUID_LEN]);

typedef struct {
  uint32_t h[8];
  uint64_t len;
  uint8_t buf[64];
  size_t nbuf;
} mien_sha256_ctx;

void mien_sha256_init(mien_sha256_ctx *c);
void mien_sha256_update(mien_sha256_ctx *c, const void *data, size_t len);
void mien_sha256_final(mien_sha256_ctx *c, uint8_t out[32]);
void mien_sha256(const void *data, size_t len, uint8_t out[32]);

/* ---- access keys (db_keys.c; mien.h's access-key calls) ---- */
/* The key calls of mien.h on the store; principal is recorded in the audit log. */
mien_status mien_store_access_key_add(mien_store *s, const char *principal, const char *user,
                                      mien_access_key *key,
                                      char secret[MIEN_ACCESS_KEY_SECRET_LEN + 1], char *err,
                                      size_t errlen);
mien_status mien_store_access_key_delete(mien_store *s, const char *principal, const char *id,
                                         char *err, size_t errlen);
mien_status mien_store_access_key_list(mien_store *s, mien_access_key **keys, int *n, char *err,
                                       size_t errlen);
mien_status mien_store_access_key_count(mien_store *s, int64_t *n, char *err, size_t errlen);
mien_status mien_store_access_key_secret(mien_store *s, const char *id,
                                         char secret[MIEN_ACCESS_KEY_SECRET_LEN + 1], int *found,
                                         char *err, size_t errlen);

#endif
