/* follow.c - the change feed that keeps each node's in-memory indexes in step with a PostgreSQL
 * store that other nodes write too (docs/cluster.md).
 *
 * Every insert and delete of a face row (and every deleted collection) appends a row to the
 * changes table, by trigger, in the writing transaction, and notifies the channel mien_changes at
 * its commit. Writers take turns under the store's write lock, so sequence order is commit order.
 * A node's follower thread, started with the first index it loads, LISTENs on its own connection
 * and, at each notification (and every FOLLOW_POLL_MS anyway, in case one was missed), applies the
 * changes after the last sequence it has seen: an added face is read with its template and added
 * to the collection's index, a removed one removed, a deleted collection's index dropped. Applying
 * is idempotent (an add replaces, a remove of an absent face does nothing), so the node's own
 * writes, which it applied already, and the changes between the sequence read at start and the
 * index's load cost nothing. After a lost connection it reconnects and catches up from its last
 * sequence; when the changes it missed were pruned already, its indexes are reloaded instead.
 * Collections whose index this node has not loaded are skipped: they load fresh when used. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "store/internal.h"
#include "util/util.h"

#define FOLLOW_POLL_MS 500
#define FOLLOW_BATCH 500
#define FOLLOW_RETRY_MS 250

struct db_follow {
  pthread_t thread;
  db_conn *conn; /* the follower's own */
  int64_t last;  /* the last sequence applied */
  volatile int stop;
  double caught_up; /* db_now() when the follower last found nothing more to apply */
  int connected;
};

/* The registry entry of collection row id, or NULL (mutex not held). */
static mien_coll *find_coll(mien_store *s, int64_t id) {
  mien_coll *c = NULL;
  pthread_mutex_lock(&s->mu);
  for (int i = 0; i < s->ncolls && !c; i++)
    if (s->colls[i]->id == id) c = s->colls[i];
  pthread_mutex_unlock(&s->mu);
  return c;
}

/* Forgets every loaded index (changes were missed): each reloads at its next use. The entries
 * are copied first: an index lock is never taken under the store's mutex. */
static void drop_indexes(mien_store *s) {
  pthread_mutex_lock(&s->mu);
  int n = s->ncolls;
  mien_coll **v = malloc((size_t)(n ? n : 1) * sizeof *v);
  if (v) memcpy(v, s->colls, (size_t)n * sizeof *v);
  pthread_mutex_unlock(&s->mu);
  for (int i = 0; v && i < n; i++) {
    pthread_rwlock_wrlock(&v[i]->lock);
    mien_index_free(v[i]->ix);
    v[i]->ix = NULL;
    pthread_rwlock_unlock(&v[i]->lock);
  }
  free(v);
}

/* Applies one change row of apply_batch's query. */
static void apply_one(mien_store *s, db_stmt *q) {
  mien_coll *c = find_coll(s, db_column_int64(q, 1));
  if (!c) return;
  const char *op = db_column_text(q, 2);
  int64_t face = db_column_int64(q, 3);
  float emb[MIEN_EMBED_DIM];
  int have = 0;
  if (op && !strcmp(op, "add") && !db_column_is_null(q, 4)) {
    char e[256];
    db_seal_ids ids = {c->id, db_column_text(q, 5), db_column_text(q, 6), db_column_text(q, 7)};
    have = db_unseal(s->encrypted ? s->key : NULL, &ids, db_column_blob(q, 4),
                     db_column_bytes(q, 4), emb, e, sizeof e) == MIEN_OK;
  }
  pthread_rwlock_wrlock(&c->lock);
  if (op && !strcmp(op, "drop")) {
    c->dead = 1;
    mien_index_free(c->ix);
    c->ix = NULL;
  } else if (c->ix && have) {
    mien_index_add(c->ix, face, emb);
  } else if (c->ix && op && !strcmp(op, "remove")) {
    mien_index_remove(c->ix, face);
  }
  pthread_rwlock_unlock(&c->lock);
  OPENSSL_cleanse(emb, sizeof emb);
}

/* Applies up to FOLLOW_BATCH changes after f->last; 1 when more may follow, 0 when caught up,
 * -1 on a database failure. */
static int apply_batch(mien_store *s, struct db_follow *f) {
  db_stmt *q;
  if (db_prepare_raw(f->conn,
                     "SELECT c.seq, c.collection, c.op, c.face, f.embedding, f.face_id,"
                     " i.external_image_id, u.user_id, (SELECT min(seq) FROM changes)"
                     " FROM changes c LEFT JOIN faces f ON f.id = c.face AND c.op = 'add'"
                     " LEFT JOIN images i ON i.id = f.image LEFT JOIN users u ON u.id = f.user"
                     " WHERE c.seq > ? ORDER BY c.seq LIMIT ?",
                     &q) != 0)
    return -1;
  db_bind_int64(q, 1, f->last);
  db_bind_int64(q, 2, FOLLOW_BATCH);
  int n = 0, rc;
  while ((rc = db_step(q)) == DB_ROW) {
    /* Changes after ours were pruned (a follower cut off for longer than the changes are kept):
     * nothing tells what they were. */
    if (n++ == 0 && f->last > 0 && db_column_int64(q, 8) > f->last + 1) drop_indexes(s);
    apply_one(s, q);
    f->last = db_column_int64(q, 0);
  }
  db_finalize(q);
  if (rc != DB_DONE) return -1;
  return n == FOLLOW_BATCH;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void *follow_main(void *arg) {
  mien_store *s = arg;
  struct db_follow *f = s->follow;
  int listening = 1; /* db_follow_start listened already */
  while (!f->stop) {
    if (!listening) {
      listening = db_pg_listen(f->conn, "mien_changes") == 0;
      if (!listening) {
        f->connected = 0;
        sleep_ms(FOLLOW_RETRY_MS);
        continue;
      }
    }
    int more;
    while ((more = apply_batch(s, f)) == 1 && !f->stop) {
    }
    if (more < 0) { /* the connection, most likely: listen again once it is back */
      f->connected = 0, listening = 0;
      sleep_ms(FOLLOW_RETRY_MS);
      continue;
    }
    f->connected = 1;
    f->caught_up = db_now();
    if (db_pg_wait(f->conn, FOLLOW_POLL_MS) < 0) f->connected = 0, listening = 0;
  }
  return NULL;
}

mien_status db_follow_start(mien_store *s, const char *conninfo, char *err, size_t errlen) {
  struct db_follow *f = calloc(1, sizeof *f);
  if (!f) return MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  char msg[600];
  mien_status st = MIEN_OK;
  db_stmt *q = NULL;
  if (!(f->conn = db_pg_open(conninfo, msg, sizeof msg)))
    st = MIEN_FAIL(err, errlen, MIEN_ERR_IO, "the change feed: %s", msg);
  /* LISTEN before reading the last sequence: a change committed in between is both notified
   * and after it. */
  else if (db_pg_listen(f->conn, "mien_changes") != 0 ||
           db_prepare_raw(f->conn, "SELECT coalesce(max(seq), 0) FROM changes", &q) != 0 ||
           db_step(q) != DB_ROW)
    st = MIEN_FAIL(err, errlen, MIEN_ERR_IO, "the change feed: %s", f->conn->msg);
  else
    f->last = db_column_int64(q, 0);
  db_finalize(q);
  if (st == MIEN_OK) {
    f->connected = 1;
    f->caught_up = db_now();
    s->follow = f;
    if (pthread_create(&f->thread, NULL, follow_main, s) != 0) {
      s->follow = NULL;
      st = MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "cannot start the change feed");
    }
  }
  if (st != MIEN_OK) {
    db_conn_close(f->conn);
    free(f);
  }
  return st;
}

void db_follow_stop(mien_store *s) {
  struct db_follow *f = s->follow;
  if (!f) return;
  f->stop = 1;
  pthread_join(f->thread, NULL);
  db_conn_close(f->conn);
  free(f);
  s->follow = NULL;
}

mien_status mien_store_health(mien_store *s, mien_store_health_info *out, char *err,
                              size_t errlen) {
  memset(out, 0, sizeof *out);
  out->backend = s->db->is_pg ? "postgresql" : "sqlite";
  pthread_mutex_lock(&s->mu);
  db_stmt *q;
  mien_status st = db_prepare(s, "SELECT 1", &q, err, errlen);
  if (st == MIEN_OK) {
    if (db_step(q) != DB_ROW) st = db_fail(s, "checking the store", err, errlen);
    db_finalize(q);
  }
  pthread_mutex_unlock(&s->mu);
  out->reachable = st == MIEN_OK;
  struct db_follow *f = s->follow;
  if (f) {
    out->following = 1;
    out->feed_connected = f->connected;
    out->last_change = f->last;
    out->lag_s = db_now() - f->caught_up;
  }
  return st;
}
