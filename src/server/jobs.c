/* jobs.c - the server's video job threads (docs/video.md): a few threads, `--video-jobs`
 * (default 1), each with its own face pipeline, that take queued StartFaceDetection and
 * StartFaceSearch jobs from the store and run them to the end.
 *
 * Image requests come first: a job thread runs at nice +10 (and so do the decoder threads it
 * starts, which inherit it) and its inference uses one thread, so a request worker always finds
 * the cores it asks for and a long video only takes what is left. Jobs are queued in the store,
 * so they survive a restart: at start, jobs a dead process left running are queued again (or
 * failed after MIEN_VIDEO_JOB_ATTEMPTS runs); at stop, the running ones are put back in the
 * queue, to run again from the start next time. Threads wake when a Start queues a job, and
 * look every JOB_POLL_MS anyway (a job queued by another process). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "server/server.h"
#include "util/util.h"

#define JOB_POLL_MS 1000
#define JOB_NICE 10

void srv_jobs_notify(void *ctx) {
  srv *s = ctx;
  pthread_mutex_lock(&s->jobs_mu);
  s->jobs_pending++;
  pthread_cond_broadcast(&s->jobs_cv);
  pthread_mutex_unlock(&s->jobs_mu);
}

/* One log line per job run: the JSON the request log uses, op VideoJob. */
static void log_job(const mien_job *job, mien_status st, const char *err, double ms) {
  srv_response r = {.status = st == MIEN_OK ? 200 : 500};
  snprintf(r.op, sizeof r.op, "VideoJob %s", job->state);
  snprintf(r.request_id, sizeof r.request_id, "%s", job->job_id);
  snprintf(r.principal, sizeof r.principal, "%.100s", job->principal);
  if (st != MIEN_OK) snprintf(r.error, sizeof r.error, "%.60s", err);
  srv_log(&r, NULL, ms);
}

static void *job_thread(void *arg) {
  srv *s = arg;
  /* Linux's nice is per thread: this one, and every thread it starts. */
  setpriority(PRIO_PROCESS, (id_t)gettid(), JOB_NICE);
  mien_api api = {.store = s->store, .buckets = s->cfg.buckets};
  mien_faces_options opt = {.threads = 1};
  char err[1024] = "";
  mien_status st = mien_faces_create(&opt, &api.faces, err, sizeof err);
  api.faces_owned = st == MIEN_OK;
  mien_job *job = malloc(sizeof *job);
  while (st == MIEN_OK && job && !atomic_load(&s->jobs_stop)) {
    int ran = 0;
    double t0 = mien_now_ms();
    mien_status rst = mien_video_run_job(&api, &s->jobs_stop, job, &ran, err, sizeof err);
    if (ran || rst != MIEN_OK) log_job(job, rst, err, mien_now_ms() - t0);
    if (ran) continue;
    pthread_mutex_lock(&s->jobs_mu);
    if (!s->jobs_pending && !atomic_load(&s->jobs_stop)) {
      struct timespec dl;
      clock_gettime(CLOCK_MONOTONIC, &dl);
      dl.tv_nsec += (long)JOB_POLL_MS * 1000000L;
      dl.tv_sec += dl.tv_nsec / 1000000000L;
      dl.tv_nsec %= 1000000000L;
      pthread_cond_timedwait(&s->jobs_cv, &s->jobs_mu, &dl);
    }
    s->jobs_pending = 0;
    pthread_mutex_unlock(&s->jobs_mu);
  }
  if (st != MIEN_OK) fprintf(stderr, "{\"error\":\"video job thread: %s\"}\n", err);
  free(job);
  mien_api_release(&api);
  return NULL;
}

mien_status srv_jobs_start(srv *s, char *err, size_t errlen) {
  int64_t requeued = 0, failed = 0;
  mien_status st =
      mien_store_job_recover(s->store, MIEN_VIDEO_JOB_ATTEMPTS, &requeued, &failed, err, errlen);
  if (st != MIEN_OK) return st;
  if (requeued || failed)
    fprintf(stderr, "{\"video_jobs_recovered\":{\"requeued\":%lld,\"failed\":%lld}}\n",
            (long long)requeued, (long long)failed);
  int n = s->cfg.video_jobs > 0 ? s->cfg.video_jobs : SRV_DEFAULT_VIDEO_JOBS;
  if (!(s->job_threads = calloc((size_t)n, sizeof *s->job_threads)))
    return MIEN_FAIL(err, errlen, MIEN_ERR_NOMEM, "out of memory");
  for (; s->njob_threads < n; s->njob_threads++)
    if (pthread_create(&s->job_threads[s->njob_threads], NULL, job_thread, s) != 0)
      return MIEN_FAIL(err, errlen, MIEN_ERR_INTERNAL, "cannot start the video job threads");
  return MIEN_OK;
}

void srv_jobs_stop(srv *s) {
  pthread_mutex_lock(&s->jobs_mu);
  atomic_store(&s->jobs_stop, 1);
  pthread_cond_broadcast(&s->jobs_cv);
  pthread_mutex_unlock(&s->jobs_mu);
  for (int i = 0; i < s->njob_threads; i++) pthread_join(s->job_threads[i], NULL);
  s->njob_threads = 0;
  free(s->job_threads);
  s->job_threads = NULL;
}
