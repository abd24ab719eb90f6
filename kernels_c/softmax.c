/* SOFTMAX on 8-bit tensors, bit-exact with TFLite's reference kernel: gemmlowp's fixed-point
 * arithmetic, in int64 as qrun's numpy kernel evaluates it. The per-difference exps come
 * from the plan; the row sum's reciprocal is computed here, once per row. The SIMD builds
 * run a row's max, sum and outputs a vector of int32 lanes at a time (a 16-element row is
 * one AVX-512 vector), the scalar loops finish the row; on AVX-512 VBMI, rows of 16 go four
 * to a vector, 16 rows at a time (softmax_rows16). */
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

/* softmax_srdhm on int64 lanes: the same int64 operations (vpmullq is the wrapped product),
 * signs as arithmetic shifts rather than compares into masks (a shorter dependency chain). */
static inline __m512i softmax_v_srdhm(__m512i a, __m512i b) {
    const __m512i int32_min = _mm512_set1_epi64(INT32_MIN);
    __m512i ab = _mm512_mullo_epi64(a, b);
    ab = _mm512_add_epi64(ab, _mm512_add_epi64(
        _mm512_and_si512(_mm512_srai_epi64(ab, 63), _mm512_set1_epi64(1 - (1LL << 31))),
        _mm512_set1_epi64(1LL << 30)));
    ab = _mm512_add_epi64(ab, _mm512_and_si512(_mm512_srai_epi64(ab, 63),
                                               _mm512_set1_epi64((1LL << 31) - 1)));
    const __mmask8 saturate = _mm512_cmpeq_epi64_mask(a, int32_min) &
                              _mm512_cmpeq_epi64_mask(b, int32_min);
    return _mm512_mask_mov_epi64(_mm512_srai_epi64(ab, 31), saturate,
                                 _mm512_set1_epi64(INT32_MAX));
}

/* softmax_shift_left on int32-range lanes as a clamp: past the threshold x << exponent leaves
 * the int32 range on the side of the saturated value (no int64 overflow for exponent <= 2). */
static inline __m512i softmax_v_shift_left(__m512i x, int exponent) {
    return _mm512_min_epi64(_mm512_max_epi64(_mm512_slli_epi64(x, exponent),
                                             _mm512_set1_epi64(INT32_MIN)),
                            _mm512_set1_epi64(INT32_MAX));
}

/* softmax_one_over_one_plus_x, one per lane. */
static inline __m512i softmax_v_one_over_one_plus_x(__m512i a) {
    const __m512i total = _mm512_add_epi64(a, _mm512_set1_epi64(INT32_MAX));
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
    return softmax_v_shift_left(x, 1);
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
        _mm512_storeu_si512((void*)scales, softmax_v_one_over_one_plus_x(
            _mm512_loadu_si512((const void*)shifted)));
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

#if defined(QRUN_ISA_AVX512VNNI)
/* Rows of 16 bytes on CPUs with AVX-512 VBMI, 16 rows at a time, four per 64-byte vector (a
 * row per 128-bit lane): the row maxima by byte shuffles; the exps looked up as four byte
 * planes of the table (vpermi2b) and interleaved into int32 lanes, so that vector q holds
 * elements 4q..4q+3 of each of its four rows; per-lane row sums, their reciprocals, and the
 * outputs packed back to bytes in row order. */
#define SOFTMAX_ROWS16 16

/* Lane j of each 128-bit lane: the sum of that 128-bit lane of the j-th of (a, b, c, d). */
static inline __m512i softmax_sum4(__m512i a, __m512i b, __m512i c, __m512i d) {
    const __m512i ab = _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
    const __m512i cd = _mm512_add_epi32(_mm512_unpacklo_epi32(c, d), _mm512_unpackhi_epi32(c, d));
    return _mm512_add_epi32(_mm512_unpacklo_epi64(ab, cd), _mm512_unpackhi_epi64(ab, cd));
}

__attribute__((target("avx512vbmi")))
static inline __m512i softmax_plane_lookup(const __m512i* plane, __m512i index) {
    const __m512i low = _mm512_permutex2var_epi8(plane[0], index, plane[1]);
    const __m512i high = _mm512_permutex2var_epi8(plane[2], index, plane[3]);
    return _mm512_mask_blend_epi8(_mm512_movepi8_mask(index), low, high);
}

__attribute__((target("avx512vbmi")))
static void softmax_rows16(const qrun_softmax_params* p, uint8_t* arena, int64_t begin,
                           int64_t end, uint8_t flip) {
    __m512i planes[4][4];   /* byte b of the exps, 64 entries a vector */
    for (int v = 0; v < 4; v++) {
        __m512i e[4];
        for (int k = 0; k < 4; k++)
            e[k] = _mm512_loadu_si512((const void*)(p->exps + 64 * v + 16 * k));
        for (int b = 0; b < 4; b++)
            planes[b][v] = _mm512_inserti64x4(
                _mm512_castsi256_si512(_mm256_set_m128i(
                    _mm512_cvtepi32_epi8(_mm512_srli_epi32(e[1], 8 * b)),
                    _mm512_cvtepi32_epi8(_mm512_srli_epi32(e[0], 8 * b)))),
                _mm256_set_m128i(_mm512_cvtepi32_epi8(_mm512_srli_epi32(e[3], 8 * b)),
                                 _mm512_cvtepi32_epi8(_mm512_srli_epi32(e[2], 8 * b))), 1);
    }
    const __m512i flips = _mm512_set1_epi8((char)flip);
    const __m512i swap_bytes = _mm512_set4_epi32(0x0e0f0c0d, 0x0a0b0809, 0x06070405, 0x02030001);
    const __m512i half_share = _mm512_set1_epi32(2048);
    const __m512i round = _mm512_set1_epi64(1LL << 30);
    const __m512i one = _mm512_set1_epi64(1);
    const __m512i out_range = _mm512_set1_epi32(p->out_max - p->out_min);
    const __m512i out_flip = _mm512_set1_epi8((char)p->out_min);
    /* totals come out with row 4g + k at lane 4k + g */
    const __m512i row_order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7,
                                                11, 15);
    for (int64_t row = begin; row + SOFTMAX_ROWS16 <= end; row += SOFTMAX_ROWS16) {
        const uint8_t* in = arena + p->in_off + row * 16;
        uint8_t* out = arena + p->out_off + row * 16;
        __m512i exps[4][4], sums[4];
        for (int g = 0; g < 4; g++) {
            const __m512i x = _mm512_xor_si512(_mm512_loadu_si512((const void*)(in + 64 * g)),
                                               flips);
            __m512i m = _mm512_max_epi8(x, _mm512_shuffle_epi32(x, _MM_PERM_BADC));
            m = _mm512_max_epi8(m, _mm512_shuffle_epi32(m, _MM_PERM_CDAB));
            m = _mm512_max_epi8(m, _mm512_rol_epi32(m, 16));
            m = _mm512_max_epi8(m, _mm512_shuffle_epi8(m, swap_bytes));
            /* x - max + 255 in [0, 255]: x + (255 - max) in bytes */
            const __m512i index = _mm512_add_epi8(x, _mm512_ternarylogic_epi32(m, m, m, 0x55));
            __m512i bytes[4];
            for (int b = 0; b < 4; b++)
                bytes[b] = softmax_plane_lookup(planes[b], index);
            const __m512i lo01 = _mm512_unpacklo_epi8(bytes[0], bytes[1]);
            const __m512i hi01 = _mm512_unpackhi_epi8(bytes[0], bytes[1]);
            const __m512i lo23 = _mm512_unpacklo_epi8(bytes[2], bytes[3]);
            const __m512i hi23 = _mm512_unpackhi_epi8(bytes[2], bytes[3]);
            exps[g][0] = _mm512_unpacklo_epi16(lo01, lo23);
            exps[g][1] = _mm512_unpackhi_epi16(lo01, lo23);
            exps[g][2] = _mm512_unpacklo_epi16(hi01, hi23);
            exps[g][3] = _mm512_unpackhi_epi16(hi01, hi23);
            __m512i s = _mm512_setzero_si512();
            for (int q = 0; q < 4; q++)
                s = _mm512_add_epi32(s, _mm512_srli_epi32(_mm512_add_epi32(exps[g][q], half_share),
                                                          12));
            sums[g] = s;
        }
        /* softmax_reciprocals on 16 lanes: a row sum is below 16 * 2^19 + 1, so its float is
         * exact and gives the leading bit; shifted = sum << headroom less 2^31. */
        const __m512i totals = _mm512_permutexvar_epi32(
            row_order, softmax_sum4(sums[0], sums[1], sums[2], sums[3]));
        const __m512i headroom = _mm512_sub_epi32(
            _mm512_set1_epi32(31 + 127),
            _mm512_srli_epi32(_mm512_castps_si512(_mm512_cvtepi32_ps(totals)), 23));
        const __m512i shifted = _mm512_xor_si512(_mm512_sllv_epi32(totals, headroom),
                                                 _mm512_set1_epi32(INT32_MIN));
        const __m512i exponents = _mm512_sub_epi32(_mm512_set1_epi32(12 + 31 - 8), headroom);
        const __m512i scale32 = _mm512_inserti64x4(
            _mm512_castsi256_si512(_mm512_cvtepi64_epi32(softmax_v_one_over_one_plus_x(
                _mm512_cvtepu32_epi64(_mm512_castsi512_si256(shifted))))),
            _mm512_cvtepi64_epi32(softmax_v_one_over_one_plus_x(
                _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(shifted, 1)))), 1);
        for (int g = 0; g < 4; g++) {
            const __m512i scale = _mm512_permutexvar_epi32(
                _mm512_add_epi32(_mm512_set1_epi32(4 * g),
                                 _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3)),
                scale32);
            const __m512i exponent = _mm512_cvtepu32_epi64(_mm512_castsi512_si256(
                _mm512_permutexvar_epi32(
                    _mm512_add_epi32(_mm512_set1_epi32(4 * g),
                                     _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 0, 0, 0, 0, 0, 0,
                                                       0, 0)),
                    exponents)));
            const __m512i half = _mm512_srli_epi64(_mm512_sllv_epi64(one, exponent), 1);
            __m512i o[4];
            for (int q = 0; q < 4; q++) {
                const __m512i e = exps[g][q];
                __m512i even = _mm512_mul_epu32(e, scale);
                __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(e, 32), scale);
                even = _mm512_srli_epi64(_mm512_add_epi64(even, round), 31);
                odd = _mm512_srli_epi64(_mm512_add_epi64(odd, round), 31);
                even = _mm512_srlv_epi64(_mm512_add_epi64(even, half), exponent);
                odd = _mm512_srlv_epi64(_mm512_add_epi64(odd, half), exponent);
                o[q] = _mm512_min_epi32(_mm512_or_si512(even, _mm512_slli_epi64(odd, 32)),
                                        out_range);
            }
            const __m512i bytes = _mm512_packus_epi16(_mm512_packus_epi32(o[0], o[1]),
                                                      _mm512_packus_epi32(o[2], o[3]));
            _mm512_storeu_si512((void*)(out + 64 * g), _mm512_xor_si512(bytes, out_flip));
        }
    }
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
#if defined(QRUN_ISA_AVX512VNNI)
    static int has_vbmi = -1;   /* racing first calls store the same value */
    if (has_vbmi < 0)
        has_vbmi = __builtin_cpu_supports("avx512vbmi") ? 1 : 0;
    if (p->depth == 16 && has_vbmi) {
        softmax_rows16(p, arena, begin, end, flip);
        begin += (end - begin) / SOFTMAX_ROWS16 * SOFTMAX_ROWS16;
    }
#endif
    for (int64_t block = begin; block < end; block += SOFTMAX_BLOCK_ROWS) {
        const int64_t rows = QRUN_MIN(SOFTMAX_BLOCK_ROWS, end - block);
        if (p->depth <= SOFTMAX_CACHED)
            softmax_block(p, arena, block, rows, flip, cache);
        else
            softmax_block(p, arena, block, rows, flip, NULL);
    }
}

const qrun_op_entry qrun_softmax_entry = {softmax_tiles, softmax_run};
