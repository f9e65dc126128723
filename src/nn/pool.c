/* pool.c - the worker threads that split one layer's work.
 *
 * A layer of a face model takes 20 us to 2 ms, so waking sleeping threads through a condition
 * variable (tens of microseconds) would cost as much as the work. Workers therefore spin on a
 * job counter for a short while (SPIN_NS) after each job and only then sleep; the caller works
 * on tasks too, and tasks are claimed with an atomic counter so uneven tasks balance themselves.
 * Spinning is bounded in time, and waiting for a descheduled worker yields the CPU, so a busy
 * machine (other processes, more threads than cores) degrades gracefully instead of burning
 * whole time slices.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>

#include "nn/fpu.h"
#include "nn/nn.h"

#define SPIN_NS 100000 /* 0.1 ms: longer than the gap between two layers */

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#else
#define cpu_relax() ((void)0)
#endif

struct nn_pool {
  int nthreads; /* including the caller */
  pthread_t *threads;
  pthread_mutex_t mu;
  pthread_cond_t wake;
  atomic_uint generation; /* bumped once per job */
  atomic_int next_task, done_workers;
  int ntasks, quit;
  void (*fn)(void *, int, int);
  void *ctx;
};

typedef struct {
  nn_pool *p;
  int index;
} worker_arg;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Spins until *v != seen or SPIN_NS pass; returns the last value read. */
static unsigned spin_while_equal(atomic_uint *v, unsigned seen) {
  int64_t until = now_ns() + SPIN_NS;
  unsigned g;
  for (int i = 1; (g = atomic_load(v)) == seen; i++) {
    cpu_relax();
    if ((i & 63) == 0 && now_ns() > until) break;
  }
  return g;
}

static void work(nn_pool *p, int thread) {
  for (;;) {
    int t = atomic_fetch_add(&p->next_task, 1);
    if (t >= p->ntasks) break;
    p->fn(p->ctx, t, thread);
  }
}

static void *worker(void *arg) {
  worker_arg wa = *(worker_arg *)arg;
  free(arg);
  nn_pool *p = wa.p;
  unsigned seen = 0;
  nn_fpu_enter(); /* workers only ever run engine code */
  for (;;) {
    unsigned g = spin_while_equal(&p->generation, seen);
    if (g == seen) {
      pthread_mutex_lock(&p->mu);
      while ((g = atomic_load(&p->generation)) == seen && !p->quit)
        pthread_cond_wait(&p->wake, &p->mu);
      pthread_mutex_unlock(&p->mu);
    }
    if (p->quit) return NULL;
    seen = g;
    work(p, wa.index);
    atomic_fetch_add(&p->done_workers, 1);
  }
}

nn_pool *nn_pool_create(int nthreads) {
  nn_pool *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->nthreads = nthreads < 1 ? 1 : nthreads;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->wake, NULL);
  if (p->nthreads > 1) {
    p->threads = calloc((size_t)p->nthreads - 1, sizeof *p->threads);
    if (!p->threads) goto fail;
    for (int i = 1; i < p->nthreads; i++) {
      worker_arg *wa = malloc(sizeof *wa);
      if (!wa) goto fail;
      *wa = (worker_arg){p, i};
      if (pthread_create(&p->threads[i - 1], NULL, worker, wa)) {
        free(wa);
        p->nthreads = i;
        goto fail;
      }
    }
  }
  return p;
fail:
  nn_pool_free(p);
  return NULL;
}

void nn_pool_free(nn_pool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  p->quit = 1;
  atomic_fetch_add(&p->generation, 1);
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  for (int i = 1; i < p->nthreads; i++)
    if (p->threads && p->threads[i - 1]) pthread_join(p->threads[i - 1], NULL);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->wake);
  free(p->threads);
  free(p);
}

void nn_pool_run(nn_pool *p, int ntasks, void (*fn)(void *ctx, int task, int thread), void *ctx) {
  if (!p || p->nthreads == 1 || ntasks <= 1) {
    for (int t = 0; t < ntasks; t++) fn(ctx, t, 0);
    return;
  }
  p->fn = fn;
  p->ctx = ctx;
  p->ntasks = ntasks;
  atomic_store(&p->next_task, 0);
  atomic_store(&p->done_workers, 0);
  pthread_mutex_lock(&p->mu);
  atomic_fetch_add(&p->generation, 1);
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  work(p, 0);
  for (int i = 1; atomic_load(&p->done_workers) < p->nthreads - 1; i++) {
    cpu_relax();
    if ((i & 1023) == 0) sched_yield(); /* a worker was descheduled: let it run */
  }
}
