/* service_internal.h - what the files of the service (service.c and the service_<topic>.c files
 * beside it) share and nobody else sees: the handle's insides and the worker pool. The public
 * half is include/mien.h; the CLI and the server never include this. */
#ifndef MIEN_API_SERVICE_INTERNAL_H
#define MIEN_API_SERVICE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "api/ops.h"

/* A call waiting for a worker (service_borrow): workers go to waiters in arrival order. */
typedef struct service_waiter {
  pthread_cond_t cv;
  int got; /* the worker handed over; -1 while waiting */
  struct service_waiter *next;
} service_waiter;

struct mien_service {
  mien_store *store;
  char store_location[4096];
  mien_faces_options face_opt;
  mien_image_limits limits;
  mien_buckets *buckets;
  char region[64];
  char model_version[64];
  char principal[64];
  int64_t purged_unreported; /* purged by mien_store_open, not yet counted by a purge call */
  int queue_timeout_ms;
  pthread_mutex_t mu;
  int nworkers;
  mien_faces **faces; /* per worker; NULL until first needed */
  int *busy;
  service_waiter *head, *tail; /* calls waiting for a worker, oldest first */

  /* background work (service_jobs.c) */
  void (*log)(void *ctx, const char *json);
  void *log_ctx;
  double video_retention_s;
  pthread_t *job_threads;
  int njob_threads;
  pthread_mutex_t jobs_mu;
  pthread_cond_t jobs_cv; /* on CLOCK_MONOTONIC */
  int jobs_pending;
  atomic_int jobs_stop;
};

/* Borrows a worker: its index, and its pipeline made when missing if need_faces (operations make
 * theirs when they need one: ListCollections runs without models). ThrottlingException when
 * none frees up within the queue timeout. */
mien_status service_borrow(mien_service *svc, int need_faces, int *w, char *err, size_t errlen);
/* Returns worker w to the pool. */
void service_give_back(mien_service *svc, int w);
/* Writes one background event (a JSON object) to the config's log, or stderr. */
void service_log(mien_service *svc, const char *json);
/* service_jobs.c: recovers the jobs a dead process left running, then starts n video job
 * threads; service_jobs_stop stops them (their running jobs go back to the queue). */
mien_status service_jobs_start(mien_service *svc, int n, char *err, size_t errlen);
void service_jobs_stop(mien_service *svc);
/* Wakes the job threads: a job was queued (mien_api.job_queued). */
void service_jobs_notify(void *svc);
/* What one call on worker w brings to an operation. */
mien_api service_call_api(mien_service *svc, int w, const mien_call_context *ctx);

#endif
