/* internal.h - what the files of src/store/ share behind store.h: the store's state (the
 * database connection, the collections this process has loaded with their search indexes, the
 * template key) and the helpers every operation uses. store.h is the interface the rest of mien
 * sees and names no database; this header is only for src/store/ (and tests that look inside). */
#ifndef MIEN_STORE_INTERNAL_H
#define MIEN_STORE_INTERNAL_H

#include <pthread.h>

#include "face/face.h"
#include "store/index.h"
#include "store/sql.h"
#include "store/store.h"

_Static_assert(MIEN_TEMPLATE_DIM == MIEN_EMBED_DIM, "store templates are the face model's");

/* A collection as this process knows it: its index, loaded on first use. */
typedef struct {
  int64_t id; /* row of collections; AUTOINCREMENT, so never reused */
  char model_sha256[65];
  pthread_rwlock_t lock; /* guards ix and dead; taken before the store's mutex */
  mien_index *ix;
  int dead;     /* deleted by this process */
  int ann_kept; /* its saved ANN was adopted at load and still describes it (db.c) */
  /* ProposeUsers' grouping state (db_people.c), made on first use; people_mu serialises its
   * updates, taken after lock (read) and before the store's mutex. */
  struct mien_cluster *people;
  pthread_mutex_t people_mu;
} mien_coll;

struct mien_store {
  db_conn *db;        /* SQLite or PostgreSQL (sql.h) */
  pthread_mutex_t mu; /* the connection: one statement sequence or transaction at a time */
  mien_coll **colls;
  int ncolls, cap;
  int encrypted; /* templates are sealed with key */
  uint8_t key[MIEN_TEMPLATE_KEY_LEN];
  char key_check[65];       /* the key's check value, as the meta table holds it */
  int64_t purged_at_open;   /* faces purged by mien_store_open */
  double erasure_pending;   /* db_now() of the first deletion not yet checkpointed away; 0: none */
  char *pg_conninfo;        /* PostgreSQL: the connection string, for the change feed's own */
  struct db_follow *follow; /* PostgreSQL: the change feed (follow.c), once an index loads */
  pthread_mutex_t follow_mu;
  char *ann_dir; /* SQLite: the data directory, where collections' ANN indexes are saved */
};

/* c's templates are about to change: removes the ANN index saved for c (db.c), which no longer
 * describes them. Deletions call it always (no deleted face's codes may stay in a file, whoever
 * wrote it); additions only while c->ann_kept, so that the close saves the index again. */
void db_ann_forget(const mien_store *s, mien_coll *c);

/* The data directory of a SQLite location ("sqlite:DIR" or DIR). */
const char *db_location_dir(const char *location);
/* A store at location with its tables made (or migrated), nothing more: no template key, no
 * purge (mien_store_open goes on from there; `store copy` writes into it). Close it with
 * mien_store_close. */
mien_status db_open_tables(const char *location, mien_store **out, char *err, size_t errlen);
/* Opens the database of an existing store, without the store's setup (audit verify, copies);
 * SQLite's read-only when readonly. NULL with the reason in msg. */
db_conn *db_open_location(const char *location, int readonly, char *msg, size_t cap);

/* Starts the change feed's follower (follow.c) on its own connection to conninfo, from the
 * database's last change on (call before loading an index); stops it. */
mien_status db_follow_start(mien_store *s, const char *conninfo, char *err, size_t errlen);
void db_follow_stop(mien_store *s);

/* The time now, Unix seconds to the millisecond, as rows and audit records record it: the
 * system's wall clock (tests of whole programs move it with libfaketime, tests/lib.sh's at_time).
 */
double db_now(void);
/* In-process tests only: fixes db_now at Unix time t (0: the real clock again). Nothing in mien
 * calls it, and it is not exported from libmien (only mien_ symbols are). */
void db_test_set_now(double t);
/* Rekognition's error for the connection's last failure, with what was being done. */
mien_status db_fail(mien_store *s, const char *what, char *err, size_t errlen);
/* Runs statements with no result rows. Call with the mutex held. */
mien_status db_exec(mien_store *s, const char *sql, char *err, size_t errlen);
/* Prepares one statement; the mutex must be held. */
mien_status db_prepare(mien_store *s, const char *sql, db_stmt **st, char *err, size_t errlen);
/* Rows the last statement changed (mutex held). */
static inline int64_t db_changes(mien_store *s) {
  return s->db->ops->changes(s->db);
}
/* COMMIT, or ROLLBACK when st is not MIEN_OK; returns the first failure. */
mien_status db_finish(mien_store *s, mien_status st, char *err, size_t errlen);
/* Locks the mutex and begins a write transaction (unlocked again when that fails); end it with
 * db_end_write, which commits (or rolls back when st is not MIEN_OK) and unlocks. */
mien_status db_begin_write(mien_store *s, char *err, size_t errlen);
mien_status db_end_write(mien_store *s, mien_status st, char *err, size_t errlen);
/* The row id of collection `name` (mutex held); ResourceNotFoundException if absent. */
mien_status db_collection_row(mien_store *s, const char *name, int64_t *row, char *err,
                              size_t errlen);
/* Prepares sql, a statement over collection `name`, into *q with the collection's row bound as
 * parameter 1 (mutex held); ResourceNotFoundException if absent. */
mien_status db_collection_query(mien_store *s, const char *name, const char *sql, db_stmt **q,
                                char *err, size_t errlen);
/* The collection for a write or search: its index loaded (load_index) and, when check_model, the
 * face model compared with this build's. The mutex must not be held. */
mien_status db_coll(mien_store *s, const char *name, int load_index, int check_model,
                    mien_coll **out, char *err, size_t errlen);
/* Moves the WAL into the database and truncates it after a committed deletion (mutex held), so
 * that the erased rows' old page images go with it. Its failure is not the deletion's: a reader
 * in another process (one holding a read transaction) can only delay the erasure. A delayed one
 * is recorded (erasure_pending, and the meta row "erasure_pending" for other processes) and
 * retried by the next deletion, mien_store_retry_erasure, open and close until it succeeds. */
void db_erase(mien_store *s);
/* The meta table's value of key k into out ("" when absent), or sets it (mutex held). */
mien_status db_meta_get(mien_store *s, const char *k, char *out, size_t cap, char *err,
                        size_t errlen);
mien_status db_meta_set(mien_store *s, const char *k, const char *v, char *err, size_t errlen);
/* The policy as audit records show it: {"purpose","retention_days","consent"}. */
cJSON *db_policy_json(const mien_policy *p);

/* Records idem (NULL or without token: nothing) within the open transaction (mutex held):
 * ConflictException when another request recorded the same token first. */
mien_status db_idem_record(mien_store *s, const mien_idem *idem, char *err, size_t errlen);

/* Appends an audit record within the open transaction (mutex held); takes fields (may be NULL). */
mien_status db_audit(mien_store *s, const char *principal, const char *op, const char *coll,
                     cJSON *fields, char *err, size_t errlen);
/* The policy of collection row crow (mutex held). */
mien_status db_policy(mien_store *s, int64_t crow, mien_policy *p, char *err, size_t errlen);
/* mien_store_check_consent against policy p. */
mien_status db_consent(const mien_policy *p, const char *coll, const char *external_id, char *err,
                       size_t errlen);

/* Stored templates: MIEN_EMBED_DIM floats, or sealed (version byte, 12-byte nonce, ciphertext,
 * 16-byte tag) with what the template belongs to as associated data. */
#define DB_TEMPLATE_BYTES (MIEN_EMBED_DIM * (int)sizeof(float))
#define DB_SEALED_BYTES (1 + 12 + DB_TEMPLATE_BYTES + 16)
/* What a sealed template is bound to: its collection's row, FaceId, ExternalImageId and UserId
 * (NULL or "" when none; the two are the same). */
typedef struct {
  int64_t crow;
  const char *face_id, *external_id, *user_id;
} db_seal_ids;
/* What to store for emb: emb itself when key is NULL, else emb sealed into buf. */
mien_status db_seal(const uint8_t *key, const db_seal_ids *ids, const float *emb,
                    uint8_t buf[DB_SEALED_BYTES], const void **blob, int *len, char *err,
                    size_t errlen);
/* The template stored as blob (len bytes), opened with key (NULL: stored plain). */
mien_status db_unseal(const uint8_t *key, const db_seal_ids *ids, const void *blob, int len,
                      float emb[MIEN_EMBED_DIM], char *err, size_t errlen);
/* Re-seals face row `row` for the UserId it is about to have (NULL: none), before the UPDATE
 * that changes its user (mutex held, in a transaction); nothing when templates are plain. */
mien_status db_reseal_for_user(mien_store *s, int64_t row, const char *user_id, char *err,
                               size_t errlen);
/* Access key secrets, sealed as templates are and bound to their AccessKeyId (crypt.c): what to
 * store (the secret itself when key is NULL), and the secret a stored blob holds. */
#define DB_SEALED_SECRET_BYTES (1 + 12 + MIEN_ACCESS_KEY_SECRET_LEN + 16)
mien_status db_seal_secret(const uint8_t *key, const char *id, const char *secret,
                           uint8_t buf[DB_SEALED_SECRET_BYTES], const void **blob, int *len,
                           char *err, size_t errlen);
mien_status db_unseal_secret(const uint8_t *key, const char *id, const void *blob, int len,
                             char secret[MIEN_ACCESS_KEY_SECRET_LEN + 1], char *err, size_t errlen);
/* Re-seals every access key's secret from old to key (either NULL: plain), mutex held, in a
 * transaction (db_keys.c). */
mien_status db_reseal_secrets(mien_store *s, const uint8_t *old, const uint8_t *key, char *err,
                              size_t errlen);
/* Imports DIR/keys.json, the access keys of a data directory from before they lived in the store,
 * then overwrites and removes the file (db_keys.c; at open, mutex not held). */
mien_status db_keys_import(mien_store *s, const char *dir, char *err, size_t errlen);
/* Loads the key file at path (NULL or "": none) and checks it against the database (mutex
 * held, at open). */
mien_status db_key_setup(mien_store *s, const char *path, char *err, size_t errlen);
/* Whether the key this process seals with is still the database's (another process may have
 * rotated it): checked in every transaction that adds templates. */
mien_status db_key_current(mien_store *s, char *err, size_t errlen);

#endif
