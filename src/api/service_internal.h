/* service_internal.h - what the files of the service (service.c and the service_<topic>.c files
 * beside it) share and nobody else sees: the handle's insides and the worker pool. The public
 * half is include/mien.h; the CLI and the server never include this. */
#ifndef MIEN_API_SERVICE_INTERNAL_H
#define MIEN_API_SERVICE_INTERNAL_H

#include <pthread.h>

#include "api/ops.h"

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
  pthread_cond_t freed;
  int nworkers;
  mien_faces **faces; /* per worker; NULL until first needed */
  int *busy;
};

/* Borrows a worker: its index, and its pipeline made when missing if need_faces (operations make
 * theirs when they need one: ListCollections runs without models). ThrottlingException when
 * none frees up within the queue timeout. */
mien_status service_borrow(mien_service *svc, int need_faces, int *w, char *err, size_t errlen);
/* Returns worker w to the pool. */
void service_give_back(mien_service *svc, int w);
/* What one call on worker w brings to an operation. */
mien_api service_call_api(mien_service *svc, int w, const mien_call_context *ctx);

#endif
