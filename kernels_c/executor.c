/* The plan executor: runs a partition's nodes in order on the arena, in one call. */
#include <time.h>

#include "qrun.h"

/* The profiler's clock (C11: timespec_get; the node intervals it measures are short). */
static int64_t executor_now_ns(void) {
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const qrun_op_entry* op_entry(int32_t kind) {
    switch (kind) {
    case QRUN_OP_GEMM: return &qrun_gemm_entry;
    case QRUN_OP_IGEMM: return &qrun_igemm_entry;
    case QRUN_OP_DWCONV: return &qrun_dwconv_entry;
    case QRUN_OP_LUT: return &qrun_lut_entry;
    case QRUN_OP_COPY: return &qrun_copy_entry;
    case QRUN_OP_FILL: return &qrun_fill_entry;
    case QRUN_OP_BINARY: return &qrun_binary_entry;
    case QRUN_OP_POOL: return &qrun_pool_entry;
    case QRUN_OP_MEAN: return &qrun_mean_entry;
    case QRUN_OP_TRANSPOSE: return &qrun_transpose_entry;
    case QRUN_OP_RESIZE_BILINEAR: return &qrun_resize_entry;
    case QRUN_OP_ARG: return &qrun_arg_entry;
    case QRUN_OP_QUANTIZE: return &qrun_quantize_entry;
    case QRUN_OP_SOFTMAX: return &qrun_softmax_entry;
    default: return NULL;
    }
}

/* Splitting a node over threads: each chunk (a tile range) should be worth much more than
 * the ~1 us of handing it to another thread, and there are a few chunks per thread so that
 * threads that finish early (uneven tiles, a core busy with another process) take more; a
 * large node gets more, so that no chunk (which no other thread can take once claimed) runs
 * much longer than ~30 us. */
#define EXECUTOR_CHUNK_WORK 65536
#define EXECUTOR_MAX_CHUNK_WORK (1 << 22)
#define EXECUTOR_CHUNKS_PER_THREAD 4

/* A node's work in GEMM multiply-adds; the other kinds are weighted by how much slower per
 * element their kernels are (byte ops, gathers), roughly, as measured on the AVX-512 build
 * (RESIZE_BILINEAR ~0.1 ns per element, ARG_MAX ~0.08 ns per element over a short last axis and
 * ~0.7 ns otherwise, vs ~0.007 ns per GEMM MAC). */
static int64_t executor_node_work(int32_t kind, const void* params, int64_t tiles) {
    switch (kind) {
    case QRUN_OP_GEMM:
    case QRUN_OP_IGEMM: {
        const qrun_gemm_params* p = (const qrun_gemm_params*)params;
        return p->m * p->n * p->kc * p->ks;
    }
    case QRUN_OP_DWCONV: {
        const qrun_dwconv_params* p = (const qrun_dwconv_params*)params;
        return 4 * p->pixels * p->channels * p->taps;
    }
    case QRUN_OP_POOL: {
        const qrun_pool_params* p = (const qrun_pool_params*)params;
        return 4 * p->pixels * p->channels * p->taps;
    }
    case QRUN_OP_MEAN: {
        const qrun_mean_params* p = (const qrun_mean_params*)params;
        return 2 * p->outer * p->inner * p->channels;
    }
    case QRUN_OP_LUT:
        return 8 * ((const qrun_lut_params*)params)->n;
    case QRUN_OP_COPY: {
        const qrun_copy_params* p = (const qrun_copy_params*)params;
        int64_t bytes = 0;
        for (int64_t r = 0; r < p->count; r++)
            bytes += p->ranges[6 * r + 2] * p->ranges[6 * r + 3] + 16 * p->ranges[6 * r + 3];
        return 4 * bytes + 64 * p->count;
    }
    case QRUN_OP_FILL:
        return ((const qrun_fill_params*)params)->nbytes;
    case QRUN_OP_BINARY:
        return 16 * tiles * ((const qrun_binary_params*)params)->inner;
    case QRUN_OP_TRANSPOSE: {
        const qrun_transpose_params* p = (const qrun_transpose_params*)params;
        return 8 * p->shape[0] * p->shape[1] * p->shape[2] * p->shape[3] * p->inner;
    }
    case QRUN_OP_RESIZE_BILINEAR: {
        const qrun_resize_params* p = (const qrun_resize_params*)params;
        return 16 * tiles * p->out_w * p->channels;
    }
    case QRUN_OP_ARG: {
        const qrun_arg_params* p = (const qrun_arg_params*)params;
        return (p->inner == 1 ? 12 : 64) * p->outer * p->axis_size * p->inner;
    }
    case QRUN_OP_QUANTIZE:
        return 8 * ((const qrun_quantize_params*)params)->n;
    case QRUN_OP_SOFTMAX: {
        const qrun_softmax_params* p = (const qrun_softmax_params*)params;
        return 64 * p->rows * p->depth;
    }
    default:
        return 0;
    }
}

int32_t qrun_execute(const qrun_plan* plan, uint8_t* arena) {
    /* With one thread (no pool) no pool code runs. */
    const int64_t threads = plan->pool == NULL ? 1 : qrun_pool_threads(plan->pool);
    for (int32_t i = 0; i < plan->num_nodes; i++) {
        const qrun_node* node = &plan->nodes[i];
        if (plan->timestamps_ns != NULL)
            plan->timestamps_ns[i] = executor_now_ns();
        const qrun_op_entry* e = op_entry(node->kind);
        if (e == NULL)
            return -(i + 1);
        const int64_t tiles = e->tiles(node->params);
        QRUN_CHECK_NODE(plan, i, tiles);
        if (threads == 1) {
            e->run(node->params, arena, 0, tiles);
        } else {
            const int64_t work = executor_node_work(node->kind, node->params, tiles);
            const int64_t coarse = threads * EXECUTOR_CHUNKS_PER_THREAD;
            const int64_t bounded = work / EXECUTOR_MAX_CHUNK_WORK;
            int64_t chunks = QRUN_MIN(bounded > coarse ? bounded : coarse,
                                      work / EXECUTOR_CHUNK_WORK);
            /* A multiple of the threads, so that the chunks divide evenly (a small node's 3
             * chunks on 2 threads would take 2/3 of its time, 2 chunks 1/2). */
            if (chunks > threads)
                chunks -= chunks % threads;
            qrun_pool_run(plan->pool, e, node->params, arena, tiles, chunks);
        }
    }
    if (plan->timestamps_ns != NULL)
        plan->timestamps_ns[plan->num_nodes] = executor_now_ns();
    return 0;
}
