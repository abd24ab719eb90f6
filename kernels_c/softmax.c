/* SOFTMAX on 8-bit tensors, bit-exact with TFLite's reference kernel: gemmlowp's fixed-point
 * arithmetic, in int64 as qrun's numpy kernel evaluates it. The per-difference exps come
 * from the plan; the row sum's reciprocal is computed here. */
#include "qrun.h"

/* SaturatingRoundingDoublingHighMul. */
static inline int64_t softmax_srdhm(int64_t a, int64_t b) {
    if (a == INT32_MIN && b == INT32_MIN)
        return INT32_MAX;
    int64_t ab = a * b;
    ab += (1LL << 30) + ((ab >> 63) & (1 - (1LL << 31)));
    ab += (ab >> 63) & ((1LL << 31) - 1);
    return ab >> 31;
}

/* RoundingDivideByPOT: halves away from zero. */
static inline int64_t softmax_rdbp(int64_t x, int64_t exponent) {
    const int64_t half = (1LL << exponent) >> 1;
    return (x + half + ((x >> 63) & -(int64_t)(half > 0))) >> exponent;
}

/* SaturatingRoundingMultiplyByPOT with a non-negative exponent. */
static inline int64_t softmax_shift_left(int64_t x, int64_t exponent) {
    const int64_t threshold = (1LL << (31 - exponent)) - 1;
    return x > threshold ? INT32_MAX : x < -threshold ? INT32_MIN : x * (1LL << exponent);
}

/* 1 / (1 + a) for a in [0, 1) in Q0.31, by Newton-Raphson in Q2.29. */
static int64_t softmax_one_over_one_plus_x(int64_t a) {
    const int64_t total = a + INT32_MAX;
    const int64_t half_denominator = total >= 0 ? (total + 1) / 2 : -((1 - total) / 2);
    int64_t x = 1515870810 + softmax_srdhm(half_denominator, -1010580540);
    for (int i = 0; i < 3; i++) {
        const int64_t one_minus = (1LL << 29) - softmax_srdhm(half_denominator, x);
        x = x + softmax_shift_left(softmax_srdhm(x, one_minus), 2);
    }
    return softmax_shift_left(x, 1);
}

static int64_t softmax_tiles(const void* params) {
    return ((const qrun_softmax_params*)params)->rows;
}

static inline int32_t softmax_load(uint8_t x, int32_t is_signed) {
    return is_signed ? (int32_t)(int8_t)x : (int32_t)x;
}

static void softmax_run(const void* params, uint8_t* arena, int64_t begin, int64_t end) {
    const qrun_softmax_params* p = (const qrun_softmax_params*)params;
    for (int64_t row = begin; row < end; row++) {
        const uint8_t* in = arena + p->in_off + row * p->depth;
        uint8_t* out = arena + p->out_off + row * p->depth;
        int32_t top = softmax_load(in[0], p->is_signed);
        for (int64_t i = 1; i < p->depth; i++) {
            const int32_t v = softmax_load(in[i], p->is_signed);
            top = v > top ? v : top;
        }
        int64_t total = 0;
        for (int64_t i = 0; i < p->depth; i++)
            total += p->sums[softmax_load(in[i], p->is_signed) - top + 255];
        /* GetReciprocal of the int32 (wrapped) sum, with 12 integer bits. */
        const int64_t sum = (int32_t)(uint32_t)total;
        const uint64_t magnitude = (uint64_t)(sum < 0 ? -sum : sum);
        const int64_t headroom_plus_one = magnitude ? __builtin_clzll(magnitude) - 32 : 32;
        const int64_t num_bits_over_unit = 12 - headroom_plus_one;
        const int64_t shifted = (int64_t)(((uint64_t)sum << headroom_plus_one) & 0xFFFFFFFFu) -
                                (1LL << 31);
        const int64_t scale = softmax_one_over_one_plus_x(shifted);
        const int64_t exponent = num_bits_over_unit + 31 - 8;
        for (int64_t i = 0; i < p->depth; i++) {
            const int64_t d = softmax_load(in[i], p->is_signed) - top + 255;
            int64_t v = p->out_min;
            if (p->valid[d]) {
                v = softmax_rdbp(softmax_srdhm(scale, p->exps[d]), exponent) + p->out_min;
                v = v < p->out_min ? p->out_min : v > p->out_max ? p->out_max : v;
            }
            out[i] = (uint8_t)v;
        }
    }
}

const qrun_op_entry qrun_softmax_entry = {softmax_tiles, softmax_run};
