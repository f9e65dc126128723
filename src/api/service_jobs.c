/* service_jobs.c - the service's video job threads (docs/video.md): `video_jobs` threads of the
 * service (mien_service_config), each with its own face pipeline, that take queued
 * StartFaceDetection and StartFaceSearch jobs from the store and run them to the end. The
 * service owns them, not `mien serve`, so that a program embedding mien gets the jobs its
 * Start calls queue run too.
 *
 * Calls come first: a job thread runs at nice +10 (and so do the decoder threads it starts,
 * which inherit it) and its inference uses one thread, so a worker always finds the cores it
 * asks for and a long video only takes what is left. Jobs are queued in the store, so they
 * survive a restart: at open, jobs a dead process left running are queued again (or failed after
 * MIEN_VIDEO_JOB_ATTEMPTS runs); at close, the running ones are put back in the queue, to run
 * again from the start next time. Threads wake when a Start queues a job, and look every
 * JOB_POLL_MS anyway (a job queued by another process). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "api/service_internal.h"
#include "util/util.h"

#define JOB_POLL_MS 1000
#define JOB_NICE 10

void service_jobs_notify(void *ctx) {
  mien_service *svc = ctx;
  pthread_mutex_lock(&svc->jobs_mu);
  svc->jobs_pending++;
  pthread_cond_broadcast(&svc->jobs_cv);
  pthread_mutex_unlock(&svc->jobs_mu);
}

/* One log line per job run, in the fields of `mien serve`'s request log: op VideoJob STATE. */
static void log_job(mien_service *svc, const mien_job *job, mien_status st, const char *err,
                    double ms) {
  char op[64];
  snprintf(op, sizeof op, "VideoJob %s", job->state);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "request_id", job->job_id);
  cJSON_AddStringToObject(o, "op", op);
  cJSON_AddNumberToObject(o, "status", st == MIEN_OK ? 200 : 500);
  if (st != MIEN_OK) cJSON_AddStringToObject(o, "error", err);
  cJSON_AddNumberToObject(o, "ms", (double)(long)(ms * 10 + 0.5) / 10);
  cJSON_AddStringToObject(o, "access_key_id", job->principal);
  char *line = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (line) service_log(svc, line);
  free(line);
}

static void *job_thread(void *arg) {
  mien_service *svc = arg;
  /* Linux's nice is per thread: this one, and every thread it starts. */
  setpriority(PRIO_PROCESS, (id_t)gettid(), JOB_NICE);
  mien_faces_options opt = svc->face_opt;
  opt.threads = 1;
  mien_api api = {
      .store = svc->store, .buckets = svc->buckets, .limits = &svc->limits, .region = svc->region};
  char err[1024] = "";
  mien_status st = mien_faces_create(&opt, &api.faces, err, sizeof err);
  api.faces_owned = st == MIEN_OK;
  mien_job *job = malloc(sizeof *job);
  while (st == MIEN_OK && job && !atomic_load(&svc->jobs_stop)) {
    int ran = 0;
    double t0 = mien_now_ms();
    mien_status rst = mien_video_run_job(&api, &svc->jobs_stop, job, &ran, err, sizeof err);
    if (ran || rst != MIEN_OK) log_job(svc, job, rst, err, mien_now_ms() - t0);
    if (ran) continue;
    pthread_mutex_lock(&svc->jobs_mu);
    if (!svc->jobs_pending && !atomic_load(&svc->jobs_stop)) {
      struct timespec dl;
      clock_gettime(CLOCK_MONOTONIC, &dl);
      dl.tv_nsec += (long)JOB_POLL_MS * 1000000L;
      dl.tv_sec += dl.tv_nsec / 1000000000L;
      dl.tv_nsec %= 1000000000L;
      pthread_cond_timedwait(&svc->jobs_cv, &svc->jobs_mu, &dl);
    }
    svc->jobs_pending = 0;
    pthread_mutex_unlock(&svc->jobs_mu);
  }
  if (st != MIEN_OK) {
    cJSON *o = cJSON_CreateObject();
    char msg[1100];
    snprintf(msg, sizeof msg, "video job thread: %s", err);
    cJSON_AddStringToObject(o, "error", msg);
    char *line = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (line) service_log(svc, line);
    free(line);
  }
  free(job);
  mien_api_release(&api);
  return NULL;
}

mien_status service_jobs_start(mien_service *svc, int n, char *err, size_t errlen) {
  int64_t requeued = 0, failed = 0;
  mien_status st =
      mien_store_job_recover(svc->store, MIEN_VIDEO_JOB_ATTEMPTS, &requeued, &failed, err, errlen);
  if (st != MIEN_OK) return st;
  if (requeued || failed) {
    char line[128];
    snprintf(line, sizeof line, "{\"video_jobs_recovered\":{\"requeued\":%lld,\"failed\":%lld}}",
             (long long)requeued, (long long)failed);
    service_log(svc, line);
  }
  if (!(svc->job_threads = calloc((size_t)n, sizeof *svc->job_threads)))
    return MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  for (; svc->njob_threads < n; svc->njob_threads++)
    if (pthread_create(&svc->job_threads[svc->njob_threads], NULL, job_thread, svc) != 0)
      return MIEN_FAIL(err, errlen, MIEN_ERR_INTERNAL, "cannot start the video job threads");
  return MIEN_OK;
}

void service_jobs_stop(mien_service *svc) {
  pthread_mutex_lock(&svc->jobs_mu);
  atomic_store(&svc->jobs_stop, 1);
  pthread_cond_broadcast(&svc->jobs_cv);
  pthread_mutex_unlock(&svc->jobs_mu);
  for (int i = 0; i < svc->njob_threads; i++) pthread_join(svc->job_threads[i], NULL);
  svc->njob_threads = 0;
  free(svc->job_threads);
  svc->job_threads = NULL;
}
