/* SOFTMAX on 8-bit tensors, bit-exact with TFLite's reference kernel: gemmlowp's fixed-point
 * arithmetic, in int64 as qrun's numpy kernel evaluates it. The per-difference exps come
 * from the plan; the row sum's reciprocal is computed here, once per row. The SIMD builds
 * run a row's max, sum and outputs a vector of int32 lanes at a time (a 16-element row is
 * one AVX-512 vector), the scalar loops finish the row. */
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

/* Rows per block: their reciprocals are computed together (one AVX-512 vector of int64).
 * The SIMD builds keep the exps they gather for the row sum of rows up to SOFTMAX_CACHED
 * long, for the outputs. */
#define SOFTMAX_BLOCK_ROWS 8
#define SOFTMAX_CACHED 64

/* An exp's Q12.19 share of the row sum: RoundingDivideByPOT(exp, 12) of a non-negative exp. */
static inline int32_t softmax_share(int64_t e) {
    return (int32_t)((e + 2048) >> 12);
}

#if defined(QRUN_ISA_AVX512VNNI)
#include <immintrin.h>

/* softmax_srdhm on int64 lanes: the same int64 operations (vpmullq is the wrapped product). */
static inline __m512i softmax_v_srdhm(__m512i a, __m512i b) {
    const __m512i zero = _mm512_setzero_si512();
    const __m512i int32_min = _mm512_set1_epi64(INT32_MIN);
    __m512i ab = _mm512_mullo_epi64(a, b);
    const __mmask8 negative = _mm512_cmplt_epi64_mask(ab, zero);
    ab = _mm512_add_epi64(ab, _mm512_set1_epi64(1LL << 30));
    ab = _mm512_mask_add_epi64(ab, negative, ab, _mm512_set1_epi64(1 - (1LL << 31)));
    ab = _mm512_mask_add_epi64(ab, _mm512_cmplt_epi64_mask(ab, zero), ab,
                               _mm512_set1_epi64((1LL << 31) - 1));
    const __mmask8 saturate = _mm512_cmpeq_epi64_mask(a, int32_min) &
                              _mm512_cmpeq_epi64_mask(b, int32_min);
    return _mm512_mask_mov_epi64(_mm512_srai_epi64(ab, 31), saturate,
                                 _mm512_set1_epi64(INT32_MAX));
}

static inline __m512i softmax_v_shift_left(__m512i x, int exponent) {
    const __m512i threshold = _mm512_set1_epi64((1LL << (31 - exponent)) - 1);
    const __mmask8 high = _mm512_cmpgt_epi64_mask(x, threshold);
    const __mmask8 low = _mm512_cmplt_epi64_mask(x, _mm512_sub_epi64(_mm512_setzero_si512(),
                                                                     threshold));
    const __m512i shifted = _mm512_mask_mov_epi64(_mm512_slli_epi64(x, exponent), high,
                                                  _mm512_set1_epi64(INT32_MAX));
    return _mm512_mask_mov_epi64(shifted, low, _mm512_set1_epi64(INT32_MIN));
}

/* softmax_one_over_one_plus_x of a block's rows, one per lane. */
static void softmax_one_over_one_plus_x_block(const int64_t* a, int64_t* result) {
    const __m512i total = _mm512_add_epi64(_mm512_loadu_si512((const void*)a),
                                           _mm512_set1_epi64(INT32_MAX));
    const __m512i one = _mm512_set1_epi64(1);
    const __m512i up = _mm512_srai_epi64(_mm512_add_epi64(total, one), 1);
    const __m512i down = _mm512_sub_epi64(_mm512_setzero_si512(),
                                          _mm512_srai_epi64(_mm512_sub_epi64(one, total), 1));
    const __m512i half_denominator = _mm512_mask_mov_epi64(
        up, _mm512_cmplt_epi64_mask(total, _mm512_setzero_si512()), down);
    __m512i x = _mm512_add_epi64(_mm512_set1_epi64(1515870810),
                                 softmax_v_srdhm(half_denominator, _mm512_set1_epi64(-1010580540)));
    for (int i = 0; i < 3; i++) {
        const __m512i one_minus = _mm512_sub_epi64(_mm512_set1_epi64(1LL << 29),
                                                   softmax_v_srdhm(half_denominator, x));
        x = _mm512_add_epi64(x, softmax_v_shift_left(softmax_v_srdhm(x, one_minus), 2));
    }
    _mm512_storeu_si512((void*)result, softmax_v_shift_left(x, 1));
}
#endif

/* GetReciprocal of each row's (wrapped) int32 sum with 12 integer bits: the Q0.31 scale of
 * the exps and the output's rounding shift (8 output bits). */
static void softmax_reciprocals(const int32_t* totals, int64_t rows, int64_t* scales,
                                int64_t* exponents) {
    int64_t shifted[SOFTMAX_BLOCK_ROWS];
    for (int64_t k = 0; k < rows; k++) {
        const int64_t sum = totals[k];
        const uint64_t magnitude = (uint64_t)(sum < 0 ? -sum : sum);
        const int64_t headroom_plus_one = magnitude ? __builtin_clzll(magnitude) - 32 : 32;
        shifted[k] = (int64_t)(((uint64_t)sum << headroom_plus_one) & 0xFFFFFFFFu) - (1LL << 31);
        exponents[k] = (12 - headroom_plus_one) + 31 - 8;
    }
#if defined(QRUN_ISA_AVX512VNNI)
    if (rows == SOFTMAX_BLOCK_ROWS) {
        softmax_one_over_one_plus_x_block(shifted, scales);
        return;
    }
#endif
    for (int64_t k = 0; k < rows; k++)
        scales[k] = softmax_one_over_one_plus_x(shifted[k]);
}

#if defined(QRUN_ISA_SCALAR)
static inline int64_t softmax_max_vectors(const uint8_t* in, int64_t depth, uint8_t flip,
                                          int32_t* top) {
    (void)in, (void)depth, (void)flip, (void)top;
    return 0;
}

static inline int64_t softmax_sum_vectors(const qrun_softmax_params* p, const uint8_t* in,
                                          uint8_t flip, int32_t top, int32_t* total,
                                          int32_t* cache) {
    (void)p, (void)in, (void)flip, (void)top, (void)total, (void)cache;
    return 0;
}

static inline int64_t softmax_out_vectors(const qrun_softmax_params* p, const uint8_t* in,
                                          uint8_t* out, uint8_t flip, int32_t top,
                                          int64_t scale, int64_t exponent, const int32_t* cache) {
    (void)p, (void)in, (void)out, (void)flip, (void)top, (void)scale, (void)exponent;
    (void)cache;
    return 0;
}
#else
#include "qrun_simd.h"

/* Per ISA: a lookup of int32 table entries by lane, the horizontal max and sum, and a
 * 64-bit lane constant. SSE4.1 has no gather: four loads. */
#if defined(QRUN_ISA_AVX512VNNI)
#define SOFTMAX_V_SET1_64(x) _mm512_set1_epi64(x)
static inline __m512i softmax_v_gather(const int32_t* table, __m512i index) {
    return _mm512_i32gather_epi32(index, (const void*)table, 4);
}
static inline int32_t softmax_v_hmax(__m512i v) { return _mm512_reduce_max_epi32(v); }
static inline int32_t softmax_v_hsum(__m512i v) { return _mm512_reduce_add_epi32(v); }
#else
static inline int32_t softmax_hmax128(__m128i v) {
    v = _mm_max_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm_max_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(v);
}
static inline int32_t softmax_hsum128(__m128i v) {
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(v);
}
#if defined(QRUN_ISA_AVX2)
#define SOFTMAX_V_SET1_64(x) _mm256_set1_epi64x(x)
static inline __m256i softmax_v_gather(const int32_t* table, __m256i index) {
    return _mm256_i32gather_epi32((const int*)table, index, 4);
}
static inline int32_t softmax_v_hmax(__m256i v) {
    return softmax_hmax128(_mm_max_epi32(_mm256_castsi256_si128(v),
                                         _mm256_extracti128_si256(v, 1)));
}
static inline int32_t softmax_v_hsum(__m256i v) {
    return softmax_hsum128(_mm_add_epi32(_mm256_castsi256_si128(v),
                                         _mm256_extracti128_si256(v, 1)));
}
#else
#define SOFTMAX_V_SET1_64(x) _mm_set1_epi64x(x)
static inline __m128i softmax_v_gather(const int32_t* table, __m128i index) {
    return _mm_setr_epi32(table[_mm_cvtsi128_si32(index)], table[_mm_extract_epi32(index, 1)],
                          table[_mm_extract_epi32(index, 2)], table[_mm_extract_epi32(index, 3)]);
}
#define softmax_v_hmax softmax_hmax128
#define softmax_v_hsum softmax_hsum128
#endif
#endif

static inline qrun_vi softmax_v_index(const uint8_t* in, uint8_t flip, qrun_vi offset) {
    return QRUN_V_(add_epi32)(qrun_v_load_bytes(in, flip), offset);
}

static inline int64_t softmax_max_vectors(const uint8_t* in, int64_t depth, uint8_t flip,
                                          int32_t* top) {
    qrun_vi m = QRUN_V_(set1_epi32)(*top);
    int64_t i = 0;
    for (; i + QRUN_V_LANES <= depth; i += QRUN_V_LANES)
        m = QRUN_V_(max_epi32)(m, qrun_v_load_bytes(in + i, flip));
    *top = softmax_v_hmax(m);
    return i;
}

/* The row sum of the exps' shares (exp + 2048 < 2^32: a logical shift); the exps go to
 * `cache` when it is not NULL. */
static inline int64_t softmax_sum_vectors(const qrun_softmax_params* p, const uint8_t* in,
                                          uint8_t flip, int32_t top, int32_t* total,
                                          int32_t* cache) {
    const qrun_vi offset = QRUN_V_(set1_epi32)(255 - top);
    const qrun_vi half = QRUN_V_(set1_epi32)(2048);
    qrun_vi s = QRUN_V_(set1_epi32)(0);
    int64_t i = 0;
    for (; i + QRUN_V_LANES <= p->depth; i += QRUN_V_LANES) {
        const qrun_vi e = softmax_v_gather(p->exps, softmax_v_index(in + i, flip, offset));
        if (cache != NULL)
            QRUN_V_STOREU(cache + i, e);
        s = QRUN_V_(add_epi32)(s, QRUN_V_(srli_epi32)(QRUN_V_(add_epi32)(e, half), 12));
    }
    *total = softmax_v_hsum(s);
    return i;
}

/* The outputs. The scale is in [2^30 - 4, 2^31 - 1] for every int32 sum (checked over all
 * of them) and the exps are >= 0, so srdhm(scale, exp) and the rounding shift act on
 * non-negative values, where they are an add and a logical shift of the 64-bit products
 * (even and odd lanes apart). */
static inline int64_t softmax_out_vectors(const qrun_softmax_params* p, const uint8_t* in,
                                          uint8_t* out, uint8_t flip, int32_t top,
                                          int64_t scale_q31, int64_t exponent_bits,
                                          const int32_t* cache) {
    const qrun_vi offset = QRUN_V_(set1_epi32)(255 - top);
    const qrun_vi scale = QRUN_V_(set1_epi32)((int32_t)scale_q31);
    const qrun_vi round = SOFTMAX_V_SET1_64(1LL << 30);
    const qrun_vi half = SOFTMAX_V_SET1_64((1LL << exponent_bits) >> 1);
    const __m128i exponent = _mm_cvtsi32_si128((int)exponent_bits);
    const qrun_vi out_min = QRUN_V_(set1_epi32)(p->out_min);
    const qrun_vi out_max = QRUN_V_(set1_epi32)(p->out_max);
    int64_t i = 0;
    for (; i + QRUN_V_LANES <= p->depth; i += QRUN_V_LANES) {
        const qrun_vi e = cache != NULL ? QRUN_V_LOADU(cache + i)
                                        : softmax_v_gather(p->exps, softmax_v_index(in + i, flip, offset));
        qrun_vi even = QRUN_V_(mul_epu32)(e, scale);
        qrun_vi odd = QRUN_V_(mul_epu32)(QRUN_V_(srli_epi64)(e, 32), scale);
        even = QRUN_V_(srli_epi64)(QRUN_V_(add_epi64)(even, round), 31);
        odd = QRUN_V_(srli_epi64)(QRUN_V_(add_epi64)(odd, round), 31);
        even = QRUN_V_(srl_epi64)(QRUN_V_(add_epi64)(even, half), exponent);
        odd = QRUN_V_(srl_epi64)(QRUN_V_(add_epi64)(odd, half), exponent);
        const qrun_vi v = QRUN_V_(add_epi64)(even, QRUN_V_(slli_epi64)(odd, 32));
        qrun_v_store_bytes(out + i, QRUN_V_(min_epi32)(QRUN_V_(add_epi32)(v, out_min), out_max));
    }
    return i;
}
#endif

static int64_t softmax_tiles(const void* params) {
    return ((const qrun_softmax_params*)params)->rows;
}

/* Rows [block, block + rows) with their exps kept in `cache` (SOFTMAX_CACHED per row), or
 * gathered twice when it is NULL: inlined for each, so that neither tests it per vector. */
static inline __attribute__((always_inline)) void softmax_block(
        const qrun_softmax_params* p, uint8_t* arena, int64_t block, int64_t rows,
        uint8_t flip, int32_t* cache) {
    int32_t tops[SOFTMAX_BLOCK_ROWS], totals[SOFTMAX_BLOCK_ROWS];
    int64_t scales[SOFTMAX_BLOCK_ROWS], exponents[SOFTMAX_BLOCK_ROWS];
    for (int64_t k = 0; k < rows; k++) {
        const uint8_t* in = arena + p->in_off + (block + k) * p->depth;
        int32_t top = -128;
        int64_t i = softmax_max_vectors(in, p->depth, flip, &top);
        for (; i < p->depth; i++) {
            const int32_t v = qrun_load_a(in[i], flip);
            top = v > top ? v : top;
        }
        int32_t total = 0;
        i = softmax_sum_vectors(p, in, flip, top, &total,
                                cache != NULL ? cache + k * SOFTMAX_CACHED : NULL);
        for (; i < p->depth; i++)
            total += softmax_share(p->exps[qrun_load_a(in[i], flip) - top + 255]);
        tops[k] = top;
        totals[k] = total;
    }
    softmax_reciprocals(totals, rows, scales, exponents);
    for (int64_t k = 0; k < rows; k++) {
        const uint8_t* in = arena + p->in_off + (block + k) * p->depth;
        uint8_t* out = arena + p->out_off + (block + k) * p->depth;
        const int64_t scale = scales[k], exponent = exponents[k];
        int64_t i = softmax_out_vectors(p, in, out, flip, tops[k], scale, exponent,
                                        cache != NULL ? cache + k * SOFTMAX_CACHED : NULL);
        for (; i < p->depth; i++) {
            const int64_t e = p->exps[qrun_load_a(in[i], flip) - tops[k] + 255];
            const int64_t v = softmax_rdbp(softmax_srdhm(scale, e), exponent) + p->out_min;
            out[i] = (uint8_t)(v < p->out_min ? p->out_min : v > p->out_max ? p->out_max : v);
        }
    }
}

static void softmax_run(const void* params, uint8_t* arena, int64_t begin, int64_t end) {
    const qrun_softmax_params* p = (const qrun_softmax_params*)params;
    const uint8_t flip = p->is_signed ? 0 : 0x80;   /* uint8 less 128: the same differences */
    int32_t cache[SOFTMAX_BLOCK_ROWS * SOFTMAX_CACHED];
    for (int64_t block = begin; block < end; block += SOFTMAX_BLOCK_ROWS) {
        const int64_t rows = QRUN_MIN(SOFTMAX_BLOCK_ROWS, end - block);
        if (p->depth <= SOFTMAX_CACHED)
            softmax_block(p, arena, block, rows, flip, cache);
        else
            softmax_block(p, arena, block, rows, flip, NULL);
    }
}

const qrun_op_entry qrun_softmax_entry = {softmax_tiles, softmax_run};
