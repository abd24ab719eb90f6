/* Internal header of the C kernels: the API, the per-ISA tile sizes, the shared epilogue.
 *
 * Every .c file here is compiled once per ISA (see build_ffi.py); the build defines one of
 * QRUN_ISA_SCALAR, QRUN_ISA_SSE41, QRUN_ISA_AVX2, QRUN_ISA_AVX512VNNI. A kernel with a SIMD
 * variant selects it with #if on these macros; the plan layout it needs is described by
 * qrun_isa() so that the Python packers follow it.
 */
#ifndef QRUN_H
#define QRUN_H

/* POSIX threads, clocks, signals and sched_getcpu for threadpool.c (the cffi build already
 * has them from Python.h, which must come first). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "qrun_api.h"

#if defined(QRUN_ISA_AVX512VNNI)
#define QRUN_ISA_NAME "avx512vnni"
#elif defined(QRUN_ISA_AVX2)
#define QRUN_ISA_NAME "avx2"
#elif defined(QRUN_ISA_SSE41)
#define QRUN_ISA_NAME "sse41"
#else
#define QRUN_ISA_SCALAR 1
#define QRUN_ISA_NAME "scalar"
#endif

/* The AVX-512 VNNI build is compiled without -mavx512vnni (GCC 12 miscompiles signed int8
 * dot products into vpdpbusd); functions using VNNI intrinsics carry this attribute. */
#if defined(QRUN_ISA_AVX512VNNI)
#define QRUN_TARGET_VNNI __attribute__((target("avx512vnni")))
#endif

/* GEMM tiles per ISA (gemm.c): MR rows x nr channels, nr a multiple of NR_STEP up to NR
 * (chosen per op by the plan), K grouped by KR in the packed weights, by KR_SINGLE where a
 * block is one step wide (nr == NR_STEP). DOT_OFFSET: the VNNI kernels' unsigned operand is
 * the value + 128 (see qrun_isa_info.gemm_dot_offset). */
#if defined(QRUN_ISA_AVX512VNNI)
#define QRUN_GEMM_MR 7
/* Not 64: 7 x 4 accumulators and 4 weight vectors exceed the 32 registers (a spill per K
 * step); 7x32 and 7x48 were 0.92-0.995x the time of 7x64 wherever the plan chose 64. */
#define QRUN_GEMM_NR 48
#define QRUN_GEMM_NR_STEP 16
#define QRUN_GEMM_KR 4
#define QRUN_GEMM_KR_SINGLE 8
#define QRUN_GEMM_DOT_OFFSET 128
#elif defined(QRUN_ISA_AVX2)
#define QRUN_GEMM_MR 4
#define QRUN_GEMM_NR 16
#define QRUN_GEMM_KR 2
#elif defined(QRUN_ISA_SSE41)
#define QRUN_GEMM_MR 4
#define QRUN_GEMM_NR 8
#define QRUN_GEMM_KR 2
#else
#define QRUN_GEMM_MR 4
#define QRUN_GEMM_NR 8
#define QRUN_GEMM_KR 1
#endif
#ifndef QRUN_GEMM_DOT_OFFSET
#define QRUN_GEMM_DOT_OFFSET 0
#endif
/* IGEMM kx_fused: at most this many kernel rows, and window bytes per pixel (a tile gathers
 * the windows that cross an edge into MR rows of this size). */
#define QRUN_GEMM_FUSED_KH_MAX 16
#define QRUN_GEMM_FUSED_WINDOW_MAX 2048
/* The K-major kernels (small N) exist in the VNNI build only. */
#if defined(QRUN_ISA_AVX512VNNI)
#define QRUN_GEMM_K_MAJOR_N_MAX 8
#else
#define QRUN_GEMM_K_MAJOR_N_MAX 0
#endif
#ifndef QRUN_GEMM_NR_STEP
#define QRUN_GEMM_NR_STEP QRUN_GEMM_NR
#endif
#ifndef QRUN_GEMM_KR_SINGLE
#define QRUN_GEMM_KR_SINGLE QRUN_GEMM_KR
#endif

/* Depthwise channels per packed block: one vector of int16 activations (32 for AVX-512,
 * 16 for AVX2, 8 for SSE4.1); the scalar build reads the same layout with 16. */
#if defined(QRUN_ISA_AVX512VNNI)
#define QRUN_DW_CR 32
#elif defined(QRUN_ISA_SSE41)
#define QRUN_DW_CR 8
#else
#define QRUN_DW_CR 16
#endif
/* The VNNI build's depthwise int8-quad layout: 64 channels x 4 taps per vpdpbusd group. */
#if defined(QRUN_ISA_AVX512VNNI)
#define QRUN_DW_QUAD_CR 64
#else
#define QRUN_DW_QUAD_CR 0
#endif
/* The depthwise row kernel's lanes: one int16 vector in the SIMD builds, none in scalar. */
#if defined(QRUN_ISA_SCALAR)
#define QRUN_DW_ROW_CR 0
#else
#define QRUN_DW_ROW_CR QRUN_DW_CR
#endif

#define QRUN_RESTRICT __restrict__
#define QRUN_MIN(a, b) ((a) < (b) ? (a) : (b))

/* An op kind's entry in the executor table: the number of independent tiles it splits into
 * and the function that runs tiles [begin, end). The thread pool hands out tile ranges. */
typedef struct {
    int64_t (*tiles)(const void* params);
    void (*run)(const void* params, uint8_t* arena, int64_t begin, int64_t end);
} qrun_op_entry;

extern const qrun_op_entry qrun_gemm_entry;
extern const qrun_op_entry qrun_igemm_entry;
extern const qrun_op_entry qrun_dwconv_entry;
extern const qrun_op_entry qrun_lut_entry;
extern const qrun_op_entry qrun_copy_entry;
extern const qrun_op_entry qrun_fill_entry;
extern const qrun_op_entry qrun_binary_entry;
extern const qrun_op_entry qrun_pool_entry;
extern const qrun_op_entry qrun_mean_entry;
extern const qrun_op_entry qrun_transpose_entry;
extern const qrun_op_entry qrun_resize_entry;
extern const qrun_op_entry qrun_arg_entry;
extern const qrun_op_entry qrun_quantize_entry;
extern const qrun_op_entry qrun_softmax_entry;

/* The thread pool's internals for the executor (threadpool.c). Threads the pool runs on
 * (1 for NULL, or in a forked child); runs tiles [0, tiles) of an entry as `chunks` ranges
 * on the pool's threads and the caller, returning when all are done. */
#define QRUN_POOL_MAX_CHUNKS 0xFFFF
int32_t qrun_pool_threads(const qrun_pool* pool);
void qrun_pool_run(qrun_pool* pool, const qrun_op_entry* entry, const void* params,
                   uint8_t* arena, int64_t tiles, int64_t chunks);

/* Debug builds check each node's preconditions before running it (checks.c). */
#if defined(QRUN_DEBUG)
void qrun_check_node(const qrun_plan* plan, int32_t index, int64_t tiles);
#define QRUN_CHECK_NODE(plan, index, tiles) qrun_check_node(plan, index, tiles)
#else
#define QRUN_CHECK_NODE(plan, index, tiles) ((void)0)
#endif

/* A scaled float -> output byte. The same float operations in every build (max, min, add
 * of 1.5 * 2^23 which rounds to nearest even), so every ISA gives the same answer. */
static inline uint8_t qrun_quantize(float v, const qrun_requant* rq) {
    v = v < rq->min_less_zp ? rq->min_less_zp : v;
    v = v > rq->max_less_zp ? rq->max_less_zp : v;
    v += 12582912.0f;
    int32_t bits;
    memcpy(&bits, &v, sizeof bits);
    return (uint8_t)(bits - 0x4B400000 + rq->zero_point);
}

static inline float qrun_float_of_bits(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* TFLite's reference fixed point (gemmlowp), for the ops that must equal it bit for bit.
 * SaturatingRoundingDoublingHighMul for products that cannot saturate (not both INT32_MIN):
 * its nudge and truncation toward zero amount to rounding a * b / 2^31 half up. */
static inline int32_t qrun_mulhi_q31(int32_t a, int32_t b) {
    return (int32_t)(((int64_t)a * b + (1 << 30)) >> 31);
}

/* RoundingDivideByPOT: x / 2^exponent (0..31) rounded half away from zero. */
static inline int32_t qrun_rounding_shift(int32_t x, int32_t exponent) {
    const int32_t mask = (int32_t)((1u << exponent) - 1);
    const int32_t threshold = (mask >> 1) + (x < 0);
    return (x >> exponent) + ((x & mask) > threshold);
}

/* int32 accumulator -> output byte, as the reference requantizes it (qrun_requant): the
 * scalar epilogues, and the SIMD ones near a rounding boundary. */
static inline uint8_t qrun_requantize(int32_t acc, int32_t multiplier, int32_t shift,
                                      const qrun_requant* rq) {
    int64_t v;
    if (rq->single_rounding) {
        v = ((int64_t)acc * multiplier + ((int64_t)1 << (30 - shift))) >> (31 - shift);
    } else if (shift > 0) {
        v = qrun_mulhi_q31((int32_t)((uint32_t)acc << shift), multiplier);
    } else {
        v = qrun_rounding_shift(qrun_mulhi_q31(acc, multiplier), -shift);
    }
    const int64_t lo = (int64_t)rq->min_less_zp, hi = (int64_t)rq->max_less_zp;
    v = v < lo ? lo : v > hi ? hi : v;
    return (uint8_t)(v + rq->zero_point);
}

/* The SIMD epilogues' rare path: a vector whose lanes `lanes` (bit i: lane i) were near a
 * rounding boundary, kept by the kernel (QRUN_REQUANT_KEEP) and recomputed with the integers
 * once its tile is stored (qrun_requantize_kept): a call in the kernel's loop would make the
 * compiler spill the vectors live across it. Lane i's byte is out[i / half] + its offset in
 * the vector's layout (below), written only where the offset is below n; its multiplier and
 * shift are entry i & index_mask of `multiplier` and `shift`. */
enum {
    QRUN_LANES_LINEAR,   /* offset i */
    QRUN_LANES_PAIRS,    /* i + (i & ~3): the depthwise int16 pairs' lo vector (hi: out + 4) */
    QRUN_LANES_QUADS     /* 4 (i & ~3) + (i & 3): the quad tile's accumulator (k: out + 4 k) */
};
typedef struct {
    int32_t acc[16];
    uint64_t lanes;
    uint8_t* out[2];
    int64_t half, n, index_mask;
    const int32_t* multiplier;
    const int32_t* shift;
    int32_t layout;
} qrun_requant_kept;

__attribute__((noinline, cold, unused)) static void qrun_requantize_kept(
        const qrun_requant_kept* kept, int count, const qrun_requant* rq) {
    for (int k = 0; k < count; k++) {
        const qrun_requant_kept* e = &kept[k];
        for (uint64_t lanes = e->lanes; lanes != 0; lanes &= lanes - 1) {
            const int i = __builtin_ctzll(lanes), j = (int)(i % e->half);
            const int64_t offset = e->layout == QRUN_LANES_PAIRS ? j + (j & ~3)
                                   : e->layout == QRUN_LANES_QUADS ? 4 * (j & ~3) + (j & 3)
                                                                   : j;
            if (offset < e->n)
                e->out[i / e->half][offset] = qrun_requantize(
                    e->acc[i], e->multiplier[i & e->index_mask], e->shift[i & e->index_mask], rq);
        }
    }
}

/* Depthwise packed blocks of cr channels start with cr int32 biases, cr float scales, cr int32
 * multipliers and cr int32 shifts (qrun_dwconv_params.packed_w): the weights follow. */
#define QRUN_DW_HEADER_BYTES(cr) ((cr) * 16)
#define QRUN_DW_MULTIPLIERS(scale, cr) ((const int32_t*)((const uint8_t*)(scale) + (cr) * 4))
#define QRUN_DW_SHIFTS(scale, cr) ((const int32_t*)((const uint8_t*)(scale) + (cr) * 8))

/* Input bytes as int8: x itself for int8 tensors, x - 128 for uint8 (flip = 0x80). */
static inline int32_t qrun_load_a(uint8_t x, uint8_t flip) {
    return (int32_t)(int8_t)(x ^ flip);
}

#endif
