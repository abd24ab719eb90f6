/* The thread pool: num_threads - 1 workers and the calling thread run an op's tile ranges.
 *
 * One job (one node) at a time, split into chunks of tiles. Each thread owns a lane: a
 * contiguous run of the job's chunks, so that a thread works on the same rows of
 * consecutive nodes (their data stays in its core's cache). A thread takes chunks from the
 * front of its own lane, then steals from the back of the others'. A lane is one atomic word
 * holding the job's generation and the lane's [begin, end) chunks, so a claim is one CAS that
 * also proves the job is still the current one: a late worker never runs a stale job, and the
 * caller waits only for chunks that were claimed, never for a worker that has not woken up
 * (a busy machine, or a forked child where the workers do not exist).
 * Waiting spins first and then sleeps on a condition variable: a worker after a job spins for
 * THREADPOOL_SPIN_NS (the next node follows within microseconds), so an idle interpreter
 * costs no CPU; the caller, waiting for claimed chunks, spins for THREADPOOL_WAIT_NS, so that
 * a worker that lost its core (a busy machine, more threads than cores) can have the caller's.
 * A worker that finds itself on the caller's core moves off it (see threadpool_leave_cpu).
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
/* Longer than a chunk takes: a caller waits this long only for a worker off its core. */
#define THREADPOOL_WAIT_NS 50000

/* A lane word: job generation (bits 32..63), first (16..31) and end (0..15) chunk left. */
#define THREADPOOL_BEGIN(s) (((s) >> 16) & 0xFFFF)
#define THREADPOOL_END(s) ((s) & 0xFFFF)

typedef struct {
    _Alignas(64) _Atomic uint64_t word;
} threadpool_lane;

struct qrun_pool {
    _Alignas(64) _Atomic uint64_t generation;   /* the current job's */
    _Alignas(64) _Atomic int64_t done;          /* chunks of the current job finished */
    /* The current job: written by the caller only while no chunk is claimed or running. */
    _Alignas(64) const qrun_op_entry* entry;
    const void* params;
    uint8_t* arena;
    int64_t tiles;
    int64_t chunks;
    int64_t chunks_dispatched;                  /* caller only: for tests and profiles */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_cond_t finished;                    /* the last chunk of a job is done */
    _Atomic int32_t sleepers;
    _Atomic int32_t caller_sleeps;
    _Atomic int32_t caller_cpu;                 /* where the caller published the last job */
    _Atomic int32_t stop;
    pid_t pid;                                  /* the workers exist in this process only */
    int32_t num_threads;                        /* lanes: the caller's is 0 */
    int32_t num_workers;                        /* started */
    threadpool_lane* lanes;
    pthread_t workers[];
};

typedef struct {
    qrun_pool* pool;
    int32_t lane;
} threadpool_worker_arg;

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

/* Claims a chunk of a lane: the front one (own lane) or the back one (stealing); -1 when
 * the lane is empty. */
static int64_t threadpool_claim(threadpool_lane* lane, int front) {
    uint64_t s = atomic_load_explicit(&lane->word, memory_order_acquire);
    while (THREADPOOL_BEGIN(s) < THREADPOOL_END(s)) {
        const uint64_t next = front ? s + (1u << 16) : s - 1;
        if (atomic_compare_exchange_weak_explicit(&lane->word, &s, next, memory_order_acq_rel,
                                                  memory_order_acquire))
            return (int64_t)(front ? THREADPOOL_BEGIN(s) : THREADPOOL_END(s) - 1);
    }
    return -1;
}

/* Runs the chunks of lane `own`, then steals the others'. The job's fields are stable while
 * a chunk of it is claimed. */
static void threadpool_run_chunks(qrun_pool* pool, int32_t own) {
    const int32_t lanes = pool->num_threads;
    for (int32_t k = 0; k < lanes; k++) {
        threadpool_lane* lane = &pool->lanes[(own + k) % lanes];
        int64_t chunk;
        while ((chunk = threadpool_claim(lane, k == 0)) >= 0) {
            const int64_t tiles = pool->tiles, chunks = pool->chunks;
            pool->entry->run(pool->params, pool->arena, tiles * chunk / chunks,
                             tiles * (chunk + 1) / chunks);
            /* The caller sleeps only after it raised caller_sleeps and found chunks left
             * (sequentially consistent, as the increment): no lost wake-up. */
            if (atomic_fetch_add(&pool->done, 1) + 1 == chunks &&
                atomic_load(&pool->caller_sleeps)) {
                pthread_mutex_lock(&pool->lock);
                pthread_cond_signal(&pool->finished);
                pthread_mutex_unlock(&pool->lock);
            }
        }
    }
}

/* A busy machine's scheduler may queue a woken worker on the caller's core, where it only
 * takes turns with the caller. Moves the calling worker off `cpu`: a one-off affinity change
 * (then the original mask again, so the scheduler stays free to place it later). 1 if it is
 * still on `cpu` (no other core allowed). */
static int threadpool_leave_cpu(int cpu) {
    if (sched_getcpu() != cpu)
        return 0;
    cpu_set_t allowed, others;
    if (sched_getaffinity(0, sizeof allowed, &allowed) == 0) {
        others = allowed;
        CPU_CLR(cpu, &others);
        if (CPU_COUNT(&others) > 0 && sched_setaffinity(0, sizeof others, &others) == 0)
            sched_setaffinity(0, sizeof allowed, &allowed);
    }
    return sched_getcpu() == cpu;
}

/* A worker between jobs: 1 when the generation moved past *seen (updated), 0 on stop. */
static int threadpool_wait_for_job(qrun_pool* pool, uint64_t* seen) {
    /* A worker left on the caller's core does not spin: that would only take the core from
     * the caller. */
    const int stuck = threadpool_leave_cpu(atomic_load_explicit(&pool->caller_cpu,
                                                                memory_order_relaxed));
    const int64_t deadline = stuck ? 0 : threadpool_now_ns() + THREADPOOL_SPIN_NS;
    for (int64_t i = 1;; i++) {
        if (atomic_load_explicit(&pool->stop, memory_order_relaxed))
            return 0;
        const uint64_t g = atomic_load_explicit(&pool->generation, memory_order_acquire);
        if (g != *seen) {
            *seen = g;
            return 1;
        }
        threadpool_pause();
        if (i % 64 == 0 && threadpool_now_ns() > deadline)
            break;
    }
    /* Sleep. sleepers is raised before the generation is read again and the caller publishes
     * the generation before it reads sleepers (both sequentially consistent), so one of the
     * two sees the other: no lost wake-up. */
    pthread_mutex_lock(&pool->lock);
    atomic_fetch_add(&pool->sleepers, 1);
    while (!atomic_load(&pool->stop) && atomic_load(&pool->generation) == *seen)
        pthread_cond_wait(&pool->wake, &pool->lock);
    atomic_fetch_sub(&pool->sleepers, 1);
    pthread_mutex_unlock(&pool->lock);
    *seen = atomic_load(&pool->generation);
    return !atomic_load(&pool->stop);
}

static void* threadpool_worker(void* arg) {
    qrun_pool* pool = ((threadpool_worker_arg*)arg)->pool;
    const int32_t lane = ((threadpool_worker_arg*)arg)->lane;
    free(arg);
    uint64_t seen = 0;
    while (threadpool_wait_for_job(pool, &seen))
        threadpool_run_chunks(pool, lane);
    return NULL;
}

qrun_pool* qrun_pool_create(int32_t num_threads) {
    if (num_threads < 2)
        return NULL;
    const size_t size = sizeof(qrun_pool) + (size_t)(num_threads - 1) * sizeof(pthread_t);
    qrun_pool* pool = (qrun_pool*)aligned_alloc(64, (size + 63) / 64 * 64);
    threadpool_lane* lanes = (threadpool_lane*)aligned_alloc(
        64, (size_t)num_threads * sizeof(threadpool_lane));
    if (pool == NULL || lanes == NULL) {
        free(pool);
        free(lanes);
        return NULL;
    }
    memset(pool, 0, size);
    for (int32_t t = 0; t < num_threads; t++)
        atomic_init(&lanes[t].word, 0);
    atomic_init(&pool->generation, 0);
    atomic_init(&pool->done, 0);
    atomic_init(&pool->sleepers, 0);
    atomic_init(&pool->stop, 0);
    atomic_init(&pool->caller_sleeps, 0);
    atomic_init(&pool->caller_cpu, -1);
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pthread_cond_init(&pool->finished, NULL);
    pool->pid = getpid();
    pool->num_threads = 1;
    pool->lanes = lanes;
    /* Workers block every signal: Python handles signals on its main thread. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    /* A worker that cannot be started only means fewer lanes: jobs never wait for one. */
    while (pool->num_workers < num_threads - 1) {
        threadpool_worker_arg* arg = (threadpool_worker_arg*)malloc(sizeof *arg);
        if (arg == NULL)
            break;
        arg->pool = pool;
        arg->lane = pool->num_workers + 1;
        if (pthread_create(&pool->workers[pool->num_workers], NULL, threadpool_worker, arg)) {
            free(arg);
            break;
        }
        pool->num_workers++;
        pool->num_threads++;
    }
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
    pthread_cond_destroy(&pool->finished);
    pthread_mutex_destroy(&pool->lock);
    free(pool->lanes);
    free(pool);
}

int32_t qrun_pool_threads(const qrun_pool* pool) {
    if (pool == NULL || pool->pid != getpid())
        return 1;
    return pool->num_threads;
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
    pool->chunks = chunks;
    pool->chunks_dispatched += chunks;
    atomic_store_explicit(&pool->done, 0, memory_order_relaxed);
    atomic_store_explicit(&pool->caller_cpu, sched_getcpu(), memory_order_relaxed);
    const uint64_t generation = atomic_load_explicit(&pool->generation, memory_order_relaxed) + 1;
    const int32_t lanes = pool->num_threads;
    for (int32_t t = 0; t < lanes; t++)
        atomic_store_explicit(&pool->lanes[t].word,
                              (generation & 0xFFFFFFFFu) << 32
                                  | (uint64_t)(chunks * t / lanes) << 16
                                  | (uint64_t)(chunks * (t + 1) / lanes),
                              memory_order_release);
    atomic_store(&pool->generation, generation);
    if (atomic_load(&pool->sleepers) > 0) {
        pthread_mutex_lock(&pool->lock);
        pthread_cond_broadcast(&pool->wake);
        pthread_mutex_unlock(&pool->lock);
    }
    threadpool_run_chunks(pool, 0);
    /* What is left are chunks other threads claimed and are running. */
    int64_t deadline = 0;
    for (int64_t i = 1; atomic_load_explicit(&pool->done, memory_order_acquire) < chunks; i++) {
        threadpool_pause();
        if (i % 64 == 0) {
            const int64_t now = threadpool_now_ns();
            if (deadline == 0) {
                deadline = now + THREADPOOL_WAIT_NS;
            } else if (now > deadline) {
                pthread_mutex_lock(&pool->lock);
                atomic_store(&pool->caller_sleeps, 1);
                while (atomic_load(&pool->done) < chunks)
                    pthread_cond_wait(&pool->finished, &pool->lock);
                atomic_store(&pool->caller_sleeps, 0);
                pthread_mutex_unlock(&pool->lock);
            }
        }
    }
}
