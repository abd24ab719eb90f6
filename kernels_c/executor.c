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

int32_t qrun_execute(const qrun_plan* plan, uint8_t* arena) {
    for (int32_t i = 0; i < plan->num_nodes; i++) {
        const qrun_node* node = &plan->nodes[i];
        if (plan->timestamps_ns != NULL)
            plan->timestamps_ns[i] = executor_now_ns();
        const qrun_op_entry* e = op_entry(node->kind);
        if (e == NULL)
            return -(i + 1);
        /* Single-threaded: the caller runs every tile; the pool will split this range. */
        e->run(node->params, arena, 0, e->tiles(node->params));
    }
    if (plan->timestamps_ns != NULL)
        plan->timestamps_ns[plan->num_nodes] = executor_now_ns();
    return 0;
}
