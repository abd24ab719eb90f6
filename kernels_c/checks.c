/* Debug builds (QRUN_DEBUG=1 at build time): each node's preconditions, checked by the
 * executor before it runs the node. Python validates every size and offset when it builds a
 * plan (qrun/delegate/plan.py); these checks restate the contract of qrun_api.h in C, so that
 * a plan builder bug stops with a message naming the node and the field instead of reading
 * or writing outside the arena. The kernels themselves stay free of checks. A failed check
 * prints "qrun debug check failed: node I (KIND): FIELD: CONDITION" and aborts. */
#include "qrun.h"

int32_t qrun_debug_checks(void) {
#if defined(QRUN_DEBUG)
    return 1;
#else
    return 0;
#endif
}

#if defined(QRUN_DEBUG)
#include <stdio.h>
#include <stdlib.h>

/* The node being checked, for the message; the arena every range must lie in. */
typedef struct {
    const char* kind;
    int32_t node;
    int64_t arena_bytes;
} checks_node;

static void checks_fail(const checks_node* n, const char* field, const char* condition) {
    fprintf(stderr, "qrun debug check failed: node %d (%s): %s: %s\n", (int)n->node, n->kind,
            field, condition);
    fflush(stderr);
    abort();
}

#define CHECKS_REQUIRE(n, field, condition) \
    do { \
        if (!(condition)) \
            checks_fail(n, field, #condition); \
    } while (0)

/* a * b, failing on int64 overflow (corrupt sizes must not wrap into plausible ones). */
static int64_t checks_mul(const checks_node* n, const char* field, int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r))
        checks_fail(n, field, "size overflows int64");
    return r;
}

/* nbytes bytes at arena offset off lie inside the arena (nothing to check when empty). */
static void checks_range(const checks_node* n, const char* field, int64_t off, int64_t nbytes) {
    CHECKS_REQUIRE(n, field, nbytes >= 0);
    if (nbytes == 0)
        return;
    CHECKS_REQUIRE(n, field, off >= 0 && off <= n->arena_bytes);
    CHECKS_REQUIRE(n, field, nbytes <= n->arena_bytes - off);
}

/* The bytes of a strided view (dims axes of shape[d] elements, stride[d] bytes apart,
 * elements of elem bytes) from arena offset off lie inside the arena. */
static void checks_strided(const checks_node* n, const char* field, int64_t off, int dims,
                           const int64_t* shape, const int64_t* stride, int64_t elem) {
    int64_t lo = 0, hi = 0;
    for (int d = 0; d < dims; d++) {
        CHECKS_REQUIRE(n, field, shape[d] >= 0);
        if (shape[d] == 0)
            return;
        const int64_t span = checks_mul(n, field, shape[d] - 1, stride[d]);
        if (__builtin_add_overflow(span < 0 ? lo : hi, span, span < 0 ? &lo : &hi))
            checks_fail(n, field, "size overflows int64");
    }
    int64_t bytes;
    if (__builtin_sub_overflow(hi, lo, &bytes) || __builtin_add_overflow(bytes, elem, &bytes))
        checks_fail(n, field, "size overflows int64");
    CHECKS_REQUIRE(n, field, off >= 0 && lo >= -off);
    checks_range(n, field, off + lo, bytes);
}

/* An indirection buffer of count entries: each is -1 (the zero row) or an offset from base
 * whose row of row_bytes lies inside the arena. */
static void checks_indirection(const checks_node* n, const char* field, const int64_t* entries,
                               int64_t count, int64_t base, int64_t row_bytes) {
    CHECKS_REQUIRE(n, field, entries != NULL || count == 0);
    for (int64_t i = 0; i < count; i++) {
        const int64_t e = entries[i];
        CHECKS_REQUIRE(n, field, e >= -1 && e <= n->arena_bytes);
        if (e >= 0)
            checks_range(n, field, base + e, row_bytes);
    }
}

/* The channels' multipliers and shifts in the ranges the integer requantization takes
 * (qrun_requantize); the fp32 path's near_half at most 1/2, or -1 (every lane). */
static void checks_requant(const checks_node* n, const qrun_requant* rq, int64_t channels) {
    CHECKS_REQUIRE(n, "rq.scale", rq->scale != NULL);
    CHECKS_REQUIRE(n, "rq.multiplier", rq->multiplier != NULL);
    CHECKS_REQUIRE(n, "rq.shift", rq->shift != NULL);
    CHECKS_REQUIRE(n, "rq.min_less_zp", rq->min_less_zp <= rq->max_less_zp);
    CHECKS_REQUIRE(n, "rq.min_less_zp", rq->min_less_zp >= -255 && rq->max_less_zp <= 255);
    CHECKS_REQUIRE(n, "rq.near_half", rq->near_half == -1.0f ||
                                          (rq->near_half > 0 && rq->near_half <= 0.5f));
    CHECKS_REQUIRE(n, "rq.single_rounding", rq->single_rounding == 0 || rq->single_rounding == 1);
    const int32_t max_shift = rq->single_rounding ? 30 : 31;
    for (int64_t c = 0; c < channels; c++) {
        const int32_t m = rq->multiplier[c], s = rq->shift[c];
        CHECKS_REQUIRE(n, "rq.multiplier", m == 0 || m >= (1 << 30));
        CHECKS_REQUIRE(n, "rq.shift", s >= -31 && (m == 0 || s <= max_shift));
        CHECKS_REQUIRE(n, "rq.shift", rq->near_half == -1.0f || rq->single_rounding ||
                                          m == 0 || s < 0);
    }
}

static int checks_is_flip(int32_t flip) {
    return flip == 0 || flip == 0x80;
}

/* IGEMM's windows: every tap (a row term plus a column term) that is not negative (the zero
 * row) reads in_c bytes inside the arena; the kernel tap table within the window. */
static void checks_igemm_taps(const checks_node* n, const qrun_gemm_params* p) {
    CHECKS_REQUIRE(n, "out_w", p->out_w > 0 && p->m % p->out_w == 0);
    CHECKS_REQUIRE(n, "kh", p->kh > 0);
    CHECKS_REQUIRE(n, "kw", p->kw > 0);
    CHECKS_REQUIRE(n, "in_c", p->in_c > 0);
    CHECKS_REQUIRE(n, "zero", p->zero != NULL);
    CHECKS_REQUIRE(n, "tap_rows", p->tap_rows != NULL);
    CHECKS_REQUIRE(n, "tap_cols", p->tap_cols != NULL);
    CHECKS_REQUIRE(n, "tap_yx", p->tap_yx != NULL);
    if (p->kx_fused) {
        CHECKS_REQUIRE(n, "ks", p->ks == p->kh && p->kh <= QRUN_GEMM_FUSED_KH_MAX);
        CHECKS_REQUIRE(n, "kc", p->kc == p->kw * p->in_c &&
                                    p->kh * p->kc <= QRUN_GEMM_FUSED_WINDOW_MAX);
    } else {
        CHECKS_REQUIRE(n, "ks", p->ks == p->kh * p->kw);
        CHECKS_REQUIRE(n, "kc", p->kc == p->in_c);
    }
    for (int64_t t = 0; t < p->ks; t++) {
        CHECKS_REQUIRE(n, "tap_yx", p->tap_yx[2 * t] >= 0 && p->tap_yx[2 * t] < p->kh);
        CHECKS_REQUIRE(n, "tap_yx", p->tap_yx[2 * t + 1] >= 0 && p->tap_yx[2 * t + 1] < p->kw);
    }
    const int64_t row_entries = checks_mul(n, "kh", p->m / p->out_w, p->kh);
    const int64_t col_entries = checks_mul(n, "kw", p->out_w, p->kw);
    for (int64_t r = 0; r < row_entries; r++) {
        for (int64_t c = 0; c < col_entries; c++) {
            int64_t off;
            if (__builtin_add_overflow(p->tap_rows[r], p->tap_cols[c], &off))
                checks_fail(n, "tap_rows + tap_cols", "offset overflows int64");
            CHECKS_REQUIRE(n, "tap_rows + tap_cols", off <= n->arena_bytes);
            if (off >= 0)
                checks_range(n, "tap_rows + tap_cols", p->a_off + off, p->in_c);
        }
    }
}

static void checks_gemm(const checks_node* n, const qrun_gemm_params* p, int indirect) {
    CHECKS_REQUIRE(n, "m", p->m >= 0);
    CHECKS_REQUIRE(n, "n", p->n > 0);
    CHECKS_REQUIRE(n, "kc", p->kc > 0);
    CHECKS_REQUIRE(n, "ks", p->ks > 0);
    if (p->k_major)
        CHECKS_REQUIRE(n, "nr", p->nr == p->n && p->n <= QRUN_GEMM_K_MAJOR_N_MAX);
    else
        CHECKS_REQUIRE(n, "nr", p->nr > 0 && p->nr <= QRUN_GEMM_NR &&
                                    p->nr % QRUN_GEMM_NR_STEP == 0);
    CHECKS_REQUIRE(n, "packed_w", p->packed_w != NULL);
    CHECKS_REQUIRE(n, "a_flip", checks_is_flip(p->a_flip));
    checks_requant(n, &p->rq, p->n);
    if (indirect) {
        checks_igemm_taps(n, p);
    } else {
        CHECKS_REQUIRE(n, "ks", p->ks == 1);
        const int64_t shape[2] = {p->m, p->kc}, stride[2] = {p->a_stride, 1};
        checks_strided(n, "a_off", p->a_off, 2, shape, stride, 1);
    }
    const int64_t shape[2] = {p->m, p->n}, stride[2] = {p->c_stride, 1};
    checks_strided(n, "c_off", p->c_off, 2, shape, stride, 1);
}

/* The row kernel: output rows of row_pixels pixels, each tap row an input row (or padding). */
static void checks_dwconv_rows(const checks_node* n, const qrun_dwconv_params* p) {
    CHECKS_REQUIRE(n, "multiplier", p->multiplier == 1);
    CHECKS_REQUIRE(n, "row_lanes", p->row_lanes > 0 && p->row_lanes % p->channels == 0);
    CHECKS_REQUIRE(n, "rows", p->rows >= 0);
    CHECKS_REQUIRE(n, "row_pixels", p->row_pixels > 0);
    CHECKS_REQUIRE(n, "in_row_bytes", p->in_row_bytes > 0);
    CHECKS_REQUIRE(n, "kernel_w", p->kernel_w > 0 && p->taps % p->kernel_w == 0);
    CHECKS_REQUIRE(n, "row_shifts", p->row_shifts != NULL);
    checks_indirection(n, "row_indirection", p->row_indirection,
                       checks_mul(n, "rows", p->rows, p->taps / p->kernel_w), p->in_off,
                       p->in_row_bytes);
    const int64_t pixels = checks_mul(n, "row_pixels", p->rows, p->row_pixels);
    checks_range(n, "out_off", p->out_off, checks_mul(n, "channels", pixels, p->channels));
}

static void checks_dwconv(const checks_node* n, const qrun_dwconv_params* p) {
    CHECKS_REQUIRE(n, "channels", p->channels > 0);
    CHECKS_REQUIRE(n, "taps", p->taps > 0);
    CHECKS_REQUIRE(n, "multiplier", p->multiplier > 0 && p->channels % p->multiplier == 0);
    CHECKS_REQUIRE(n, "packed_w", p->packed_w != NULL);
    CHECKS_REQUIRE(n, "a_flip", checks_is_flip(p->a_flip));
    CHECKS_REQUIRE(n, "quads", p->quads == 0 || (QRUN_DW_QUAD_CR > 0 && (p->quads == 1 ||
                                                                         p->quads == 2)));
    checks_requant(n, &p->rq, p->channels);
    if (p->row_lanes != 0) {
        checks_dwconv_rows(n, p);
        return;
    }
    CHECKS_REQUIRE(n, "pixels", p->pixels >= 0);
    CHECKS_REQUIRE(n, "zero", p->zero != NULL);
    checks_indirection(n, "indirection", p->indirection,
                       checks_mul(n, "pixels", p->pixels, p->taps), p->in_off,
                       p->channels / p->multiplier);
    checks_range(n, "out_off", p->out_off, checks_mul(n, "pixels", p->pixels, p->channels));
}

static void checks_lut(const checks_node* n, const qrun_lut_params* p) {
    CHECKS_REQUIRE(n, "out_size", p->out_size == 1 || p->out_size == 4);
    CHECKS_REQUIRE(n, "table", p->table != NULL);
    checks_range(n, "in_off", p->in_off, p->n);
    checks_range(n, "out_off", p->out_off, checks_mul(n, "n", p->n, p->out_size));
}

static void checks_copy(const checks_node* n, const qrun_copy_params* p) {
    CHECKS_REQUIRE(n, "count", p->count >= 0);
    CHECKS_REQUIRE(n, "ranges", p->ranges != NULL || p->count == 0);
    for (int64_t r = 0; r < p->count; r++) {
        const int64_t* range = p->ranges + 6 * r;
        const int64_t shape[2] = {range[3], range[2]};
        const int64_t src_stride[2] = {range[4], 1}, dst_stride[2] = {range[5], 1};
        checks_strided(n, "ranges (source)", range[0], 2, shape, src_stride, 1);
        checks_strided(n, "ranges (destination)", range[1], 2, shape, dst_stride, 1);
    }
}

static void checks_fill(const checks_node* n, const qrun_fill_params* p) {
    CHECKS_REQUIRE(n, "value", p->value >= -128 && p->value <= 255);
    checks_range(n, "off", p->off, p->nbytes);
}

/* Rows of a broadcast [shape[0..3], inner] view: the dense output's byte count. */
static int64_t checks_rows_bytes(const checks_node* n, const int64_t* shape, int64_t inner) {
    int64_t total = inner;
    for (int d = 0; d < 4; d++) {
        CHECKS_REQUIRE(n, "shape", shape[d] >= 0);
        total = checks_mul(n, "shape", total, shape[d]);
    }
    CHECKS_REQUIRE(n, "inner", inner >= 0);
    return total;
}

static void checks_binary(const checks_node* n, const qrun_binary_params* p) {
    CHECKS_REQUIRE(n, "kind", p->kind >= QRUN_BINARY_ADD && p->kind <= QRUN_BINARY_F32_DIV);
    CHECKS_REQUIRE(n, "table", p->kind != QRUN_BINARY_TABLE || p->table != NULL);
    /* the vector lookup reads table_rows 256-byte rows of the 65536-byte table */
    CHECKS_REQUIRE(n, "table_rows", p->table_rows >= 0 && p->table_rows <= 256);
    CHECKS_REQUIRE(n, "flip", checks_is_flip(p->flip));
    /* ADD, SUB, MUL: the reference fixed point's multipliers (not negative, so never both
     * operands INT32_MIN in qrun_mulhi_q31) and shifts (0..31), a clamp within a byte's values */
    CHECKS_REQUIRE(n, "a_mult", p->a_mult >= 0);
    CHECKS_REQUIRE(n, "b_mult", p->b_mult >= 0);
    CHECKS_REQUIRE(n, "out_mult", p->out_mult >= 0);
    CHECKS_REQUIRE(n, "a_shift", p->a_shift >= 0 && p->a_shift <= 31);
    CHECKS_REQUIRE(n, "b_shift", p->b_shift >= 0 && p->b_shift <= 31);
    CHECKS_REQUIRE(n, "out_left_shift", p->out_left_shift >= 0 && p->out_left_shift <= 31);
    CHECKS_REQUIRE(n, "out_right_shift", p->out_right_shift >= 0 && p->out_right_shift <= 31);
    /* ADD, SUB, MUL: 0 or a power of two up to 8192 (binary.c's tie_mask) */
    CHECKS_REQUIRE(n, "near_tie", (p->kind != QRUN_BINARY_ADD && p->kind != QRUN_BINARY_SUB &&
                                   p->kind != QRUN_BINARY_MUL) ||
                   (p->near_tie >= 0 && p->near_tie <= 8192 &&
                    (p->near_tie & (p->near_tie - 1)) == 0));
    CHECKS_REQUIRE(n, "out_zero", p->out_zero >= -128 && p->out_zero <= 255);
    CHECKS_REQUIRE(n, "out_min_less_zero", p->out_min_less_zero <= p->out_max_less_zero &&
                   p->out_min_less_zero + p->out_zero >= -128 &&
                   p->out_max_less_zero + p->out_zero <= 255);
    /* float kinds: float32 elements (strides in elements), read and written as floats */
    const int64_t size = p->kind >= QRUN_BINARY_F32_ADD ? 4 : 1;
    CHECKS_REQUIRE(n, "out_off", p->out_off % size == 0);
    CHECKS_REQUIRE(n, "a_off", p->a_const != NULL || p->a_off % size == 0);
    CHECKS_REQUIRE(n, "b_off", p->b_const != NULL || p->b_off % size == 0);
    const int64_t shape[5] = {p->shape[0], p->shape[1], p->shape[2], p->shape[3], p->inner};
    int64_t a_stride[5], b_stride[5];
    for (int d = 0; d < 5; d++) {
        a_stride[d] = checks_mul(n, "a_stride", p->a_stride[d], size);
        b_stride[d] = checks_mul(n, "b_stride", p->b_stride[d], size);
    }
    checks_range(n, "out_off", p->out_off,
                 checks_mul(n, "inner", checks_rows_bytes(n, p->shape, p->inner), size));
    if (p->a_const == NULL)
        checks_strided(n, "a_off", p->a_off, 5, shape, a_stride, size);
    if (p->b_const == NULL)
        checks_strided(n, "b_off", p->b_off, 5, shape, b_stride, size);
}

static void checks_pool(const checks_node* n, const qrun_pool_params* p) {
    CHECKS_REQUIRE(n, "pixels", p->pixels >= 0);
    CHECKS_REQUIRE(n, "channels", p->channels > 0);
    CHECKS_REQUIRE(n, "taps", p->taps > 0);
    CHECKS_REQUIRE(n, "is_max", p->is_max == 0 || p->is_max == 1);
    CHECKS_REQUIRE(n, "is_signed", p->is_signed == 0 || p->is_signed == 1);
    CHECKS_REQUIRE(n, "act_min", p->act_min <= p->act_max);
    checks_indirection(n, "indirection", p->indirection,
                       checks_mul(n, "pixels", p->pixels, p->taps), p->in_off, p->channels);
    for (int64_t px = 0; px < p->pixels; px++) {   /* the average divides by the valid taps */
        int64_t valid = 0;
        for (int64_t t = 0; t < p->taps; t++)
            valid += p->indirection[px * p->taps + t] >= 0;
        CHECKS_REQUIRE(n, "indirection (a pixel without a valid tap)", valid > 0);
    }
    checks_range(n, "out_off", p->out_off, checks_mul(n, "pixels", p->pixels, p->channels));
}

static void checks_mean(const checks_node* n, const qrun_mean_params* p) {
    CHECKS_REQUIRE(n, "outer", p->outer >= 0);
    CHECKS_REQUIRE(n, "inner", p->inner >= 0);
    CHECKS_REQUIRE(n, "channels", p->channels > 0);
    CHECKS_REQUIRE(n, "flip", checks_is_flip(p->flip));
    CHECKS_REQUIRE(n, "left_shift", p->left_shift >= 0 && p->left_shift < 32);
    CHECKS_REQUIRE(n, "right_shift", p->right_shift >= 0 && p->right_shift < 32);
    CHECKS_REQUIRE(n, "out_min", p->out_min <= p->out_max);
    const int64_t rows = checks_mul(n, "outer", p->outer, p->inner);
    checks_range(n, "in_off", p->in_off, checks_mul(n, "channels", rows, p->channels));
    checks_range(n, "out_off", p->out_off, checks_mul(n, "channels", p->outer, p->channels));
}

static void checks_transpose(const checks_node* n, const qrun_transpose_params* p) {
    const int64_t shape[5] = {p->shape[0], p->shape[1], p->shape[2], p->shape[3], p->inner};
    checks_range(n, "out_off", p->out_off, checks_rows_bytes(n, p->shape, p->inner));
    checks_strided(n, "in_off", p->in_off, 5, shape, p->stride, 1);
}

/* Each of count source indices (rows or columns) lies in [0, size). */
static void checks_indices(const checks_node* n, const char* field, const int64_t* index,
                           int64_t count, int64_t size) {
    CHECKS_REQUIRE(n, field, index != NULL);
    for (int64_t i = 0; i < count; i++)
        CHECKS_REQUIRE(n, field, index[i] >= 0 && index[i] < size);
}

static void checks_resize(const checks_node* n, const qrun_resize_params* p) {
    CHECKS_REQUIRE(n, "batch", p->batch >= 0);
    CHECKS_REQUIRE(n, "in_h", p->in_h > 0);
    CHECKS_REQUIRE(n, "in_w", p->in_w > 0);
    CHECKS_REQUIRE(n, "channels", p->channels > 0);
    CHECKS_REQUIRE(n, "out_h", p->out_h > 0);
    CHECKS_REQUIRE(n, "out_w", p->out_w > 0);
    checks_indices(n, "y0", p->y0, p->out_h, p->in_h);
    checks_indices(n, "y1", p->y1, p->out_h, p->in_h);
    checks_indices(n, "x0", p->x0, p->out_w, p->in_w);
    checks_indices(n, "x1", p->x1, p->out_w, p->in_w);
    if (p->integer) {   /* weights in 1/1024, negative below the first row with half-pixel
                           centers: within +-1024 the blend stays in int32 */
        CHECKS_REQUIRE(n, "iy", p->iy != NULL);
        CHECKS_REQUIRE(n, "ix", p->ix != NULL);
        for (int64_t y = 0; y < p->out_h; y++)
            CHECKS_REQUIRE(n, "iy", p->iy[y] >= -1024 && p->iy[y] <= 1024);
        for (int64_t x = 0; x < p->out_w; x++)
            CHECKS_REQUIRE(n, "ix", p->ix[x] >= -1024 && p->ix[x] <= 1024);
    } else {
        CHECKS_REQUIRE(n, "fy", p->fy != NULL);
        CHECKS_REQUIRE(n, "fx", p->fx != NULL);
    }
    const int64_t image = checks_mul(n, "in_w", checks_mul(n, "in_h", p->in_h, p->in_w),
                                     p->channels);
    const int64_t out = checks_mul(n, "out_w", checks_mul(n, "out_h", p->out_h, p->out_w),
                                   p->channels);
    checks_range(n, "in_off", p->in_off, checks_mul(n, "batch", p->batch, image));
    checks_range(n, "out_off", p->out_off, checks_mul(n, "batch", p->batch, out));
}

static void checks_arg(const checks_node* n, const qrun_arg_params* p) {
    CHECKS_REQUIRE(n, "outer", p->outer >= 0);
    CHECKS_REQUIRE(n, "axis_size", p->axis_size > 0);
    CHECKS_REQUIRE(n, "inner", p->inner >= 0);
    CHECKS_REQUIRE(n, "out_size", p->out_size == 4 || p->out_size == 8);
    const int64_t rows = checks_mul(n, "outer", p->outer, p->inner);
    checks_range(n, "in_off", p->in_off, checks_mul(n, "axis_size", rows, p->axis_size));
    checks_range(n, "out_off", p->out_off, checks_mul(n, "out_size", rows, p->out_size));
}

static void checks_quantize(const checks_node* n, const qrun_quantize_params* p) {
    CHECKS_REQUIRE(n, "in_off", p->in_off % 4 == 0);   /* read as floats */
    CHECKS_REQUIRE(n, "qmin", p->qmin <= p->qmax);
    checks_range(n, "in_off", p->in_off, checks_mul(n, "n", p->n, 4));
    checks_range(n, "out_off", p->out_off, p->n);
}

static void checks_softmax(const checks_node* n, const qrun_softmax_params* p) {
    CHECKS_REQUIRE(n, "rows", p->rows >= 0);
    CHECKS_REQUIRE(n, "depth", p->depth > 0);
    CHECKS_REQUIRE(n, "is_signed", p->is_signed == 0 || p->is_signed == 1);
    CHECKS_REQUIRE(n, "out_min", p->out_min <= p->out_max);
    CHECKS_REQUIRE(n, "exps", p->exps != NULL);
    const int64_t bytes = checks_mul(n, "depth", p->rows, p->depth);
    checks_range(n, "in_off", p->in_off, bytes);
    checks_range(n, "out_off", p->out_off, bytes);
}

static const char* const checks_kind_names[QRUN_OP_COUNT] = {
    [QRUN_OP_GEMM] = "GEMM", [QRUN_OP_IGEMM] = "IGEMM", [QRUN_OP_DWCONV] = "DWCONV",
    [QRUN_OP_LUT] = "LUT", [QRUN_OP_COPY] = "COPY", [QRUN_OP_FILL] = "FILL",
    [QRUN_OP_BINARY] = "BINARY", [QRUN_OP_POOL] = "POOL", [QRUN_OP_MEAN] = "MEAN",
    [QRUN_OP_TRANSPOSE] = "TRANSPOSE", [QRUN_OP_RESIZE_BILINEAR] = "RESIZE_BILINEAR",
    [QRUN_OP_ARG] = "ARG", [QRUN_OP_QUANTIZE] = "QUANTIZE", [QRUN_OP_SOFTMAX] = "SOFTMAX",
};

/* The executor found the node's kind in its table and counted its tiles. */
void qrun_check_node(const qrun_plan* plan, int32_t index, int64_t tiles) {
    const qrun_node* node = &plan->nodes[index];
    const checks_node n = {checks_kind_names[node->kind], index, plan->arena_bytes};
    CHECKS_REQUIRE(&n, "arena_bytes", plan->arena_bytes > 0);
    CHECKS_REQUIRE(&n, "params", node->params != NULL);
    CHECKS_REQUIRE(&n, "tiles", tiles >= 0);
    const void* p = node->params;
    switch (node->kind) {
    case QRUN_OP_GEMM: checks_gemm(&n, p, 0); break;
    case QRUN_OP_IGEMM: checks_gemm(&n, p, 1); break;
    case QRUN_OP_DWCONV: checks_dwconv(&n, p); break;
    case QRUN_OP_LUT: checks_lut(&n, p); break;
    case QRUN_OP_COPY: checks_copy(&n, p); break;
    case QRUN_OP_FILL: checks_fill(&n, p); break;
    case QRUN_OP_BINARY: checks_binary(&n, p); break;
    case QRUN_OP_POOL: checks_pool(&n, p); break;
    case QRUN_OP_MEAN: checks_mean(&n, p); break;
    case QRUN_OP_TRANSPOSE: checks_transpose(&n, p); break;
    case QRUN_OP_RESIZE_BILINEAR: checks_resize(&n, p); break;
    case QRUN_OP_ARG: checks_arg(&n, p); break;
    case QRUN_OP_QUANTIZE: checks_quantize(&n, p); break;
    case QRUN_OP_SOFTMAX: checks_softmax(&n, p); break;
    }
}
#endif
