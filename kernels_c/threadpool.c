/* The thread pool: num_threads - 1 workers and the calling thread run an op's tile ranges.
 *
 * One job (one node) at a time, split into chunks of tiles. The job's generation, chunk count
 * and next unclaimed chunk share one atomic word, so claiming a chunk is one CAS that also
 * proves the job is still the current one. The caller runs chunks too and then waits only
 * for chunks that were claimed: a worker that has not woken up yet (or a machine with fewer
 * free cores than threads) never stalls a job, and a worker can never run a stale job.
 * After its last chunk a worker spins for THREADPOOL_SPIN_NS (the next node follows within
 * microseconds) and then sleeps on a condition variable: an idle interpreter costs no CPU.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "qrun.h"

/* Long enough to bridge the Python between two invokes of a tight loop, short enough that
 * an interpreter left alone is asleep at once. */
#define THREADPOOL_SPIN_NS 200000
/* The caller's wait for claimed chunks: spins of this many pauses before it yields. */
#define THREADPOOL_WAIT_SPINS 4096

/* The state word: generation (bits 32..63), chunk count (16..31), next chunk (0..15). */
#define THREADPOOL_CHUNKS(s) (((s) >> 16) & 0xFFFF)
#define THREADPOOL_NEXT(s) ((s) & 0xFFFF)
#define THREADPOOL_OPEN(s) (THREADPOOL_NEXT(s) < THREADPOOL_CHUNKS(s))

struct qrun_pool {
    _Alignas(64) _Atomic uint64_t state;
    _Alignas(64) _Atomic int64_t done;   /* chunks of the current job finished */
    /* The current job: written by the caller only while no chunk is claimed or running. */
    _Alignas(64) const qrun_op_entry* entry;
    const void* params;
    uint8_t* arena;
    int64_t tiles;
    int64_t chunks_dispatched;           /* caller only: for tests and profiles */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    _Atomic int32_t sleepers;
    _Atomic int32_t stop;
    pid_t pid;                           /* the workers exist in this process only */
    int32_t num_threads;
    int32_t num_workers;
    pthread_t workers[];
};

static inline void threadpool_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static int64_t threadpool_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Claims the next chunk of the current job into *chunk / *chunks; 0 when none is left. */
static int threadpool_claim(qrun_pool* pool, int64_t* chunk, int64_t* chunks) {
    uint64_t s = atomic_load_explicit(&pool->state, memory_order_acquire);
    while (THREADPOOL_OPEN(s)) {
        if (atomic_compare_exchange_weak_explicit(&pool->state, &s, s + 1,
                                                  memory_order_acq_rel, memory_order_acquire)) {
            *chunk = (int64_t)THREADPOOL_NEXT(s);
            *chunks = (int64_t)THREADPOOL_CHUNKS(s);
            return 1;
        }
    }
    return 0;
}

/* Runs every chunk still unclaimed; the job's fields are stable while a chunk is claimed. */
static void threadpool_run_chunks(qrun_pool* pool) {
    int64_t chunk, chunks;
    while (threadpool_claim(pool, &chunk, &chunks)) {
        const int64_t tiles = pool->tiles;
        pool->entry->run(pool->params, pool->arena, tiles * chunk / chunks,
                         tiles * (chunk + 1) / chunks);
        atomic_fetch_add_explicit(&pool->done, 1, memory_order_release);
    }
}

/* A worker between jobs: 1 when a job has chunks to claim, 0 when the pool stops. */
static int threadpool_wait_for_job(qrun_pool* pool) {
    const int64_t deadline = threadpool_now_ns() + THREADPOOL_SPIN_NS;
    for (int64_t i = 1;; i++) {
        if (atomic_load_explicit(&pool->stop, memory_order_relaxed))
            return 0;
        if (THREADPOOL_OPEN(atomic_load_explicit(&pool->state, memory_order_relaxed)))
            return 1;
        threadpool_pause();
        if (i % 64 == 0 && threadpool_now_ns() > deadline)
            break;
    }
    /* Sleep. sleepers is raised before the state is checked again and the caller publishes
     * the state before it reads sleepers (both sequentially consistent), so one of the two
     * sees the other: no lost wake-up. */
    pthread_mutex_lock(&pool->lock);
    atomic_fetch_add(&pool->sleepers, 1);
    while (!atomic_load(&pool->stop) && !THREADPOOL_OPEN(atomic_load(&pool->state)))
        pthread_cond_wait(&pool->wake, &pool->lock);
    atomic_fetch_sub(&pool->sleepers, 1);
    pthread_mutex_unlock(&pool->lock);
    return !atomic_load(&pool->stop);
}

static void* threadpool_worker(void* arg) {
    qrun_pool* pool = (qrun_pool*)arg;
    do
        threadpool_run_chunks(pool);
    while (threadpool_wait_for_job(pool));
    return NULL;
}

qrun_pool* qrun_pool_create(int32_t num_threads) {
    if (num_threads < 2)
        return NULL;
    const size_t size = sizeof(qrun_pool) + (size_t)(num_threads - 1) * sizeof(pthread_t);
    qrun_pool* pool = (qrun_pool*)aligned_alloc(64, (size + 63) / 64 * 64);
    if (pool == NULL)
        return NULL;
    memset(pool, 0, size);
    atomic_init(&pool->state, 0);
    atomic_init(&pool->done, 0);
    atomic_init(&pool->sleepers, 0);
    atomic_init(&pool->stop, 0);
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pool->pid = getpid();
    pool->num_threads = num_threads;
    /* Workers block every signal: Python handles signals on its main thread. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    /* A worker that cannot be started only means fewer helpers: jobs never wait for one. */
    while (pool->num_workers < num_threads - 1 &&
           pthread_create(&pool->workers[pool->num_workers], NULL, threadpool_worker, pool) == 0)
        pool->num_workers++;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return pool;
}

void qrun_pool_destroy(qrun_pool* pool) {
    if (pool == NULL)
        return;
    /* In a forked child the workers do not exist and the lock may be held by one of them
     * in the parent: leave the memory alone. */
    if (pool->pid != getpid())
        return;
    pthread_mutex_lock(&pool->lock);
    atomic_store(&pool->stop, 1);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    for (int32_t i = 0; i < pool->num_workers; i++)
        pthread_join(pool->workers[i], NULL);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->lock);
    free(pool);
}

int32_t qrun_pool_threads(const qrun_pool* pool) {
    if (pool == NULL || pool->pid != getpid())
        return 1;
    return pool->num_workers + 1;
}

int64_t qrun_pool_chunks_dispatched(const qrun_pool* pool) {
    return pool == NULL ? 0 : pool->chunks_dispatched;
}

void qrun_pool_run(qrun_pool* pool, const qrun_op_entry* entry, const void* params,
                   uint8_t* arena, int64_t tiles, int64_t chunks) {
    chunks = QRUN_MIN(QRUN_MIN(chunks, tiles), QRUN_POOL_MAX_CHUNKS);
    if (chunks <= 1) {
        entry->run(params, arena, 0, tiles);
        return;
    }
    pool->entry = entry;
    pool->params = params;
    pool->arena = arena;
    pool->tiles = tiles;
    pool->chunks_dispatched += chunks;
    atomic_store_explicit(&pool->done, 0, memory_order_relaxed);
    const uint64_t generation = (atomic_load_explicit(&pool->state, memory_order_relaxed) >> 32) + 1;
    atomic_store(&pool->state, generation << 32 | (uint64_t)chunks << 16);
    int32_t sleepers = atomic_load(&pool->sleepers);
    if (sleepers > 0) {
        pthread_mutex_lock(&pool->lock);
        for (int64_t i = 1; i < chunks && sleepers > 0; i++, sleepers--)
            pthread_cond_signal(&pool->wake);
        pthread_mutex_unlock(&pool->lock);
    }
    threadpool_run_chunks(pool);
    /* What is left are chunks other threads claimed and are running. */
    for (int64_t i = 1; atomic_load_explicit(&pool->done, memory_order_acquire) < chunks; i++) {
        threadpool_pause();
        if (i % THREADPOOL_WAIT_SPINS == 0)
            sched_yield();
    }
}
