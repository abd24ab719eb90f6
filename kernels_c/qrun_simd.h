/* The SIMD builds' vector of int32 lanes (and its fp32 twin) for the kernels that requantize
 * per element: one set of names over SSE4.1 (4 lanes), AVX2 (8) and AVX-512 (16), so each
 * kernel body is written once. Not included by the scalar build.
 *
 * qrun_v_any_zero_under2(x, y, mask): whether x & mask or y & mask is 0 in any lane.
 * qrun_v_quantize() is qrun_quantize() on a vector: the same fp32 operations (max, min, add of
 * 1.5 * 2^23), so every ISA rounds exactly as the scalar build does; the convolutions'
 * requantization (qrun_v_requant_value() and on) is exact through its rare integer path
 * instead; qrun_v_mulhi_q31() and qrun_v_rounding_shift() are qrun.h's reference fixed point
 * on a vector. */
#ifndef QRUN_SIMD_H
#define QRUN_SIMD_H

#include <immintrin.h>

#include "qrun.h"

#if defined(QRUN_ISA_AVX512VNNI)
#define QRUN_V_(op) _mm512_##op
#define QRUN_V_LANES 16
#define QRUN_V_LOADU(ptr) _mm512_loadu_si512((const void*)(ptr))
#define QRUN_V_STOREU(ptr, v) _mm512_storeu_si512((void*)(ptr), v)
#define QRUN_V_CAST_SI(v) _mm512_castps_si512(v)
#define QRUN_V_CAST_PS(v) _mm512_castsi512_ps(v)
#define QRUN_V_SET1_EPI64(x) _mm512_set1_epi64(x)
#define QRUN_V_BLEND_ODD_EPI32(even, odd) _mm512_mask_blend_epi32(0xAAAA, even, odd)
#define QRUN_V_TRUNC_PS(v) _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC)
typedef __m512i qrun_vi;
typedef __m512 qrun_vf;

/* QRUN_V_LANES bytes, XOR flip, sign-extended to int32 lanes. */
static inline __m512i qrun_v_load_bytes(const uint8_t* a, uint8_t flip) {
    const __m128i x = _mm_loadu_si128((const __m128i*)a);
    return _mm512_cvtepi8_epi32(_mm_xor_si128(x, _mm_set1_epi8((char)flip)));
}

/* The low byte of every lane. */
static inline void qrun_v_store_bytes(uint8_t* out, __m512i q) {
    _mm_storeu_si128((__m128i*)out, _mm512_cvtepi32_epi8(q));
}

static inline int qrun_v_any_zero_under2(__m512i x, __m512i y, __m512i mask) {
    return !_kortestz_mask16_u8(_mm512_testn_epi32_mask(x, mask),
                                _mm512_testn_epi32_mask(y, mask));
}

#elif defined(QRUN_ISA_AVX2)
#define QRUN_V_(op) _mm256_##op
#define QRUN_V_LANES 8
#define QRUN_V_LOADU(ptr) _mm256_loadu_si256((const __m256i*)(ptr))
#define QRUN_V_STOREU(ptr, v) _mm256_storeu_si256((__m256i*)(ptr), v)
#define QRUN_V_CAST_SI(v) _mm256_castps_si256(v)
#define QRUN_V_CAST_PS(v) _mm256_castsi256_ps(v)
#define QRUN_V_CMPGE_PS(a, b) _mm256_cmp_ps(a, b, _CMP_GE_OQ)
#define QRUN_V_SET1_EPI64(x) _mm256_set1_epi64x(x)
#define QRUN_V_BLEND_ODD_EPI32(even, odd) _mm256_blend_epi32(even, odd, 0xAA)
#define QRUN_V_TRUNC_PS(v) _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC)
typedef __m256i qrun_vi;
typedef __m256 qrun_vf;

static inline __m256i qrun_v_load_bytes(const uint8_t* a, uint8_t flip) {
    const __m128i x = _mm_loadl_epi64((const __m128i*)a);
    return _mm256_cvtepi8_epi32(_mm_xor_si128(x, _mm_set1_epi8((char)flip)));
}

static inline void qrun_v_store_bytes(uint8_t* out, __m256i q) {
    const __m256i low = _mm256_shuffle_epi8(q, _mm256_setr_epi8(
        0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, 0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1));
    const __m128i bytes = _mm_or_si128(_mm256_castsi256_si128(low),
                                       _mm256_extracti128_si256(low, 1));
    _mm_storel_epi64((__m128i*)out, bytes);
}

static inline int qrun_v_any_zero_under2(__m256i x, __m256i y, __m256i mask) {
    const __m256i zero = _mm256_setzero_si256();
    const __m256i any = _mm256_or_si256(_mm256_cmpeq_epi32(_mm256_and_si256(x, mask), zero),
                                        _mm256_cmpeq_epi32(_mm256_and_si256(y, mask), zero));
    return !_mm256_testz_si256(any, any);
}

#elif defined(QRUN_ISA_SSE41)
#define QRUN_V_(op) _mm_##op
#define QRUN_V_LANES 4
#define QRUN_V_LOADU(ptr) _mm_loadu_si128((const __m128i*)(ptr))
#define QRUN_V_STOREU(ptr, v) _mm_storeu_si128((__m128i*)(ptr), v)
#define QRUN_V_CAST_SI(v) _mm_castps_si128(v)
#define QRUN_V_CAST_PS(v) _mm_castsi128_ps(v)
#define QRUN_V_CMPGE_PS(a, b) _mm_cmpge_ps(a, b)
#define QRUN_V_SET1_EPI64(x) _mm_set1_epi64x(x)
#define QRUN_V_BLEND_ODD_EPI32(even, odd) _mm_blend_epi16(even, odd, 0xCC)
#define QRUN_V_TRUNC_PS(v) _mm_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC)
typedef __m128i qrun_vi;
typedef __m128 qrun_vf;

static inline __m128i qrun_v_load_bytes(const uint8_t* a, uint8_t flip) {
    int32_t word;
    memcpy(&word, a, 4);
    return _mm_cvtepi8_epi32(_mm_xor_si128(_mm_cvtsi32_si128(word), _mm_set1_epi8((char)flip)));
}

static inline void qrun_v_store_bytes(uint8_t* out, __m128i q) {
    const int32_t word = _mm_cvtsi128_si32(
        _mm_shuffle_epi8(q, _mm_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                          -1, -1)));
    memcpy(out, &word, 4);
}

static inline int qrun_v_any_zero_under2(__m128i x, __m128i y, __m128i mask) {
    const __m128i zero = _mm_setzero_si128();
    const __m128i any = _mm_or_si128(_mm_cmpeq_epi32(_mm_and_si128(x, mask), zero),
                                     _mm_cmpeq_epi32(_mm_and_si128(y, mask), zero));
    return !_mm_testz_si128(any, any);
}
#endif

typedef struct {
    qrun_vf min_less_zp, max_less_zp, magic;
    qrun_vf magic_zp;       /* 1.5 * 2^23 + the zero point */
    qrun_vf nudge_mask;     /* qrun_requant.nudge_mask's bits */
    qrun_vf near_half;      /* qrun_requant.near_half */
    qrun_vi bits_less_zp;   /* the bits of 1.5 * 2^23, less the zero point */
    const qrun_requant* rq; /* for the lanes recomputed with the integers */
} qrun_v_requant;

static inline qrun_v_requant qrun_v_requant_of(const qrun_requant* rq) {
    qrun_v_requant v;
    v.nudge_mask = QRUN_V_(set1_ps)(qrun_float_of_bits(rq->nudge_mask));
    v.near_half = QRUN_V_(set1_ps)(rq->near_half);
    v.min_less_zp = QRUN_V_(set1_ps)(rq->min_less_zp);
    v.max_less_zp = QRUN_V_(set1_ps)(rq->max_less_zp);
    v.magic = QRUN_V_(set1_ps)(12582912.0f);
    v.magic_zp = QRUN_V_(set1_ps)(12582912.0f + (float)rq->zero_point);
    v.bits_less_zp = QRUN_V_(set1_epi32)(0x4B400000 - rq->zero_point);
    v.rq = rq;
    return v;
}

/* Scaled floats -> output values as int32 (their low bytes are the output bytes). */
static inline qrun_vi qrun_v_quantize(qrun_vf v, const qrun_v_requant* rq) {
    v = QRUN_V_(max_ps)(v, rq->min_less_zp);
    v = QRUN_V_(min_ps)(v, rq->max_less_zp);
    v = QRUN_V_(add_ps)(v, rq->magic);
    return QRUN_V_(sub_epi32)(QRUN_V_CAST_SI(v), rq->bits_less_zp);
}

/* The clamped v: acc * scale, nudged (the fp32 path of qrun_requant on a vector). The nudge
 * takes acc's sign and joins the product in one FMA where the build has one (the builds need
 * not round alike: plan.py's bound holds for either, and the lanes it cannot vouch for are
 * redone with the integers). */
static inline qrun_vf qrun_v_requant_value(qrun_vi acc, qrun_vf scale, const qrun_v_requant* rq) {
    const qrun_vf x = QRUN_V_(cvtepi32_ps)(acc);
    const qrun_vf nudge = QRUN_V_(or_ps)(QRUN_V_(and_ps)(scale, rq->nudge_mask),
                                         QRUN_V_(and_ps)(x, QRUN_V_(set1_ps)(-0.0f)));
#if defined(QRUN_ISA_SSE41)
    const qrun_vf v = QRUN_V_(add_ps)(QRUN_V_(mul_ps)(x, scale), nudge);
#else
    const qrun_vf v = QRUN_V_(fmadd_ps)(x, scale, nudge);
#endif
    return QRUN_V_(min_ps)(QRUN_V_(max_ps)(v, rq->min_less_zp), rq->max_less_zp);
}

/* The output values of the clamped v as int32 (their low bytes are the output bytes). */
static inline qrun_vi qrun_v_requant_output(qrun_vf v, const qrun_v_requant* rq) {
    return QRUN_V_(sub_epi32)(QRUN_V_CAST_SI(QRUN_V_(add_ps)(v, rq->magic)), rq->bits_less_zp);
}

/* The same low bytes in one operation, for a caller that keeps only those: v + zero point
 * rounded in the float's low bits (1.5 * 2^23 + zp + v is exact to the integer, and its low
 * byte is that of rint(v) + zp; a tie may round the other way, but qrun_v_near_half flags
 * every tie for the integer path). */
static inline qrun_vi qrun_v_requant_output_bytes(qrun_vf v, const qrun_v_requant* rq) {
    return QRUN_V_CAST_SI(QRUN_V_(add_ps)(v, rq->magic_zp));
}

/* v - rint(v) (exact). */
static inline qrun_vf qrun_v_frac(qrun_vf v, const qrun_v_requant* rq) {
#if defined(QRUN_ISA_AVX512VNNI)
    (void)rq;
    return _mm512_reduce_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
#else
    return QRUN_V_(sub_ps)(v, QRUN_V_(sub_ps)(QRUN_V_(add_ps)(v, rq->magic), rq->magic));
#endif
}

/* The lanes (bit i: lane i) of the clamped v at least near_half from rint(v): those
 * recomputed with the integers (QRUN_REQUANT_KEEP). */
static inline int qrun_v_near_half(qrun_vf v, const qrun_v_requant* rq) {
    const qrun_vf abs_frac = QRUN_V_(and_ps)(qrun_v_frac(v, rq),
                                             QRUN_V_CAST_PS(QRUN_V_(set1_epi32)(0x7FFFFFFF)));
#if defined(QRUN_ISA_AVX512VNNI)
    return (int)_mm512_cmp_ps_mask(abs_frac, rq->near_half, _CMP_GE_OQ);
#else
    return QRUN_V_(movemask_ps)(QRUN_V_CMPGE_PS(abs_frac, rq->near_half));
#endif
}

/* The running largest |v - rint(v)| per lane of a tile's vectors (from zero), checked once
 * per tile (qrun_v_any_near_half) so that the common case costs two operations per vector
 * (AVX-512: vreduceps, and vrangeps for the larger magnitude); a tile with a lane near a
 * rounding boundary then finds its lanes with qrun_v_near_half. */
static inline qrun_vf qrun_v_larger_frac(qrun_vf larger, qrun_vf v, const qrun_v_requant* rq) {
#if defined(QRUN_ISA_AVX512VNNI)
    return _mm512_range_ps(larger, qrun_v_frac(v, rq), 0x0B);
#else
    return QRUN_V_(max_ps)(larger, QRUN_V_(and_ps)(qrun_v_frac(v, rq), QRUN_V_CAST_PS(
                                                       QRUN_V_(set1_epi32)(0x7FFFFFFF))));
#endif
}

static inline int qrun_v_any_near_half(qrun_vf larger, const qrun_v_requant* rq) {
#if defined(QRUN_ISA_AVX512VNNI)
    return _mm512_cmp_ps_mask(larger, rq->near_half, _CMP_GE_OQ) != 0;
#else
    return QRUN_V_(movemask_ps)(QRUN_V_CMPGE_PS(larger, rq->near_half)) != 0;
#endif
}

/* Keeps acc (an int32 vector, stored by STORE) in kept[count++] with its lanes `near` and
 * their places (qrun_requant_kept's fields, in order from out0). */
#define QRUN_REQUANT_KEEP(kept, count, STORE, acc_, near_, out0_, out1_, half_, n_,          \
                          multiplier_, shift_, index_mask_, layout_)                           \
    do {                                                                                       \
        qrun_requant_kept* e_ = &(kept)[(count)++];                                            \
        STORE(e_->acc, acc_);                                                                  \
        e_->lanes = (uint64_t)(near_);                                                         \
        e_->out[0] = (out0_);                                                                  \
        e_->out[1] = (out1_);                                                                  \
        e_->half = (half_);                                                                    \
        e_->n = (n_);                                                                          \
        e_->multiplier = (multiplier_);                                                        \
        e_->shift = (shift_);                                                                  \
        e_->index_mask = (index_mask_);                                                        \
        e_->layout = (layout_);                                                                \
    } while (0)

/* qrun_mulhi_q31() per lane: even and odd lanes as 64-bit products, each rounded sum's bits
 * 31..62 moved into its own lane. */
static inline qrun_vi qrun_v_mulhi_q31(qrun_vi a, qrun_vi b) {
    const qrun_vi half = QRUN_V_SET1_EPI64(1 << 30);
    const qrun_vi even = QRUN_V_(add_epi64)(QRUN_V_(mul_epi32)(a, b), half);
    const qrun_vi odd = QRUN_V_(add_epi64)(QRUN_V_(mul_epi32)(
        QRUN_V_(srli_epi64)(a, 32), QRUN_V_(srli_epi64)(b, 32)), half);
    return QRUN_V_BLEND_ODD_EPI32(QRUN_V_(srli_epi64)(even, 31), QRUN_V_(slli_epi64)(odd, 1));
}

/* qrun_rounding_shift() per lane, one exponent: x & mask as x - (x >> e << e), and the
 * comparison as the sign of threshold - remainder. */
static inline qrun_vi qrun_v_rounding_shift(qrun_vi x, int32_t exponent) {
    const __m128i e = _mm_cvtsi32_si128(exponent);
    const qrun_vi quotient = QRUN_V_(sra_epi32)(x, e);
    const qrun_vi remainder = QRUN_V_(sub_epi32)(x, QRUN_V_(sll_epi32)(quotient, e));
    const qrun_vi threshold = QRUN_V_(sub_epi32)(
        QRUN_V_(set1_epi32)((int32_t)((1u << exponent) - 1) >> 1), QRUN_V_(srai_epi32)(x, 31));
    return QRUN_V_(sub_epi32)(quotient, QRUN_V_(srai_epi32)(
        QRUN_V_(sub_epi32)(threshold, remainder), 31));
}

#endif
