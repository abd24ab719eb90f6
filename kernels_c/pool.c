/* Max and average pooling through an indirection buffer; reductions: MEAN, ARG_MAX/MIN. */
#include "qrun.h"

#define POOL_CB 64

static int64_t pool_tiles(const void* params) {
    return ((const qrun_pool_params*)params)->pixels;
}

static inline int32_t pool_load(uint8_t x, int32_t is_signed) {
    return is_signed ? (int32_t)(int8_t)x : (int32_t)x;
}

/* A MEAN sum -> output byte: TFLite's reference MultiplyByQuantizedMultiplier, zero point,
 * clamp (mean_vectors does the same on vectors). */
static inline uint8_t mean_requantize(int32_t acc, const qrun_mean_params* p) {
    int32_t v = qrun_mulhi_q31((int32_t)((uint32_t)acc << p->left_shift), p->multiplier);
    v = qrun_rounding_shift(v, p->right_shift) + p->out_zero;
    v = v < p->out_min ? p->out_min : v;
    return (uint8_t)(v > p->out_max ? p->out_max : v);
}

#if defined(QRUN_ISA_SCALAR)
static inline int64_t pool_vectors(const qrun_pool_params* p, const uint8_t* in,
                                   const int64_t* ind, uint8_t* out) {
    (void)p, (void)in, (void)ind, (void)out;
    return 0;
}

static inline int64_t mean_vectors(const qrun_mean_params* p, const uint8_t* in, uint8_t* out,
                                   int32_t bias) {
    (void)p, (void)in, (void)out, (void)bias;
    return 0;
}
#else
#include "qrun_simd.h"

/* POOL_MAX_EXACT_TAPS: below it, |sum + count / 2| < 2^22, so the float quotient truncates to
 * the integer one (it is within 2^-24 relative of n / d, which is at least 1 / d from the
 * next integer) and the average is exact in float division. */
#define POOL_MAX_EXACT_TAPS 16384

/* Max pooling of one pixel's leading whole vectors of channel bytes (byte max and clamp). */
static int64_t pool_max_bytes(const qrun_pool_params* p, const uint8_t* in, const int64_t* ind,
                              uint8_t* out) {
    const int64_t width = QRUN_V_LANES * 4;
    const qrun_vi lo = QRUN_V_(set1_epi8)((char)p->act_min);
    const qrun_vi hi = QRUN_V_(set1_epi8)((char)p->act_max);
    int64_t c = 0;
    for (; c + width <= p->channels; c += width) {
        qrun_vi acc = QRUN_V_(set1_epi8)((char)(p->is_signed ? -128 : 0));
        for (int64_t t = 0; t < p->taps; t++) {
            if (ind[t] < 0)
                continue;
            const qrun_vi v = QRUN_V_LOADU(in + ind[t] + c);
            acc = p->is_signed ? QRUN_V_(max_epi8)(acc, v) : QRUN_V_(max_epu8)(acc, v);
        }
        acc = p->is_signed ? QRUN_V_(min_epi8)(QRUN_V_(max_epi8)(acc, lo), hi)
                           : QRUN_V_(min_epu8)(QRUN_V_(max_epu8)(acc, lo), hi);
        QRUN_V_STOREU(out + c, acc);
    }
    return c;
}

/* One pixel's leading whole vectors of channels (max: bytes, then int32 lanes; uint8 bytes
 * as x - 128, so one signed max serves both); the caller's scalar loop does the rest. */
static int64_t pool_vectors(const qrun_pool_params* p, const uint8_t* in, const int64_t* ind,
                            uint8_t* out) {
    if (p->taps >= POOL_MAX_EXACT_TAPS)
        return 0;
    const uint8_t flip = p->is_signed ? 0 : 0x80;
    const qrun_vi shift = QRUN_V_(set1_epi32)(p->is_signed ? 0 : 128);
    const qrun_vi lo = QRUN_V_(set1_epi32)(p->act_min), hi = QRUN_V_(set1_epi32)(p->act_max);
    int64_t c = p->is_max ? pool_max_bytes(p, in, ind, out) : 0;
    for (; c + QRUN_V_LANES <= p->channels; c += QRUN_V_LANES) {
        qrun_vi acc = QRUN_V_(set1_epi32)(p->is_max ? INT32_MIN : 0);
        int32_t count = 0;
        for (int64_t t = 0; t < p->taps; t++) {
            if (ind[t] < 0)
                continue;
            const qrun_vi v = qrun_v_load_bytes(in + ind[t] + c, flip);
            acc = p->is_max ? QRUN_V_(max_epi32)(acc, v) : QRUN_V_(add_epi32)(acc, v);
            count++;
        }
        qrun_vi v;
        if (p->is_max) {
            v = QRUN_V_(add_epi32)(acc, shift);
        } else {
            const qrun_vi sum = QRUN_V_(add_epi32)(acc, QRUN_V_(mullo_epi32)(
                shift, QRUN_V_(set1_epi32)(count)));
            const qrun_vi negative = QRUN_V_(srai_epi32)(sum, 31);   /* 0 or -1 */
            const qrun_vi half = QRUN_V_(mullo_epi32)(   /* count / 2 with the sum's sign */
                QRUN_V_(set1_epi32)(count / 2),
                QRUN_V_(add_epi32)(QRUN_V_(set1_epi32)(1), QRUN_V_(add_epi32)(negative, negative)));
            v = QRUN_V_(cvttps_epi32)(QRUN_V_(div_ps)(
                QRUN_V_(cvtepi32_ps)(QRUN_V_(add_epi32)(sum, half)),
                QRUN_V_(set1_ps)((float)count)));
        }
        qrun_v_store_bytes(out + c, QRUN_V_(min_epi32)(QRUN_V_(max_epi32)(v, lo), hi));
    }
    return c;
}

static int64_t mean_vectors(const qrun_mean_params* p, const uint8_t* in, uint8_t* out,
                            int32_t bias) {
    const uint8_t flip = (uint8_t)p->flip;
    const __m128i left_shift = _mm_cvtsi32_si128(p->left_shift);
    const qrun_vi multiplier = QRUN_V_(set1_epi32)(p->multiplier);
    const qrun_vi zero = QRUN_V_(set1_epi32)(p->out_zero);
    const qrun_vi lo = QRUN_V_(set1_epi32)(p->out_min), hi = QRUN_V_(set1_epi32)(p->out_max);
    int64_t c = 0;
    for (; c + QRUN_V_LANES <= p->channels; c += QRUN_V_LANES) {
        qrun_vi acc = QRUN_V_(set1_epi32)(bias);
        for (int64_t i = 0; i < p->inner; i++)
            acc = QRUN_V_(add_epi32)(acc, qrun_v_load_bytes(in + i * p->channels + c, flip));
        acc = qrun_v_mulhi_q31(QRUN_V_(sll_epi32)(acc, left_shift), multiplier);
        acc = QRUN_V_(add_epi32)(qrun_v_rounding_shift(acc, p->right_shift), zero);
        qrun_v_store_bytes(out + c, QRUN_V_(min_epi32)(QRUN_V_(max_epi32)(acc, lo), hi));
    }
    return c;
}
#endif

/* Tiles are output pixels. The average rounds half away from zero, as TFLite does. */
static void pool_run(const void* params, uint8_t* arena, int64_t begin, int64_t end) {
    const qrun_pool_params* p = (const qrun_pool_params*)params;
    for (int64_t px = begin; px < end; px++) {
        const int64_t* ind = p->indirection + px * p->taps;
        uint8_t* out = arena + p->out_off + px * p->channels;
        const int64_t done = pool_vectors(p, arena + p->in_off, ind, out);
        for (int64_t c0 = done; c0 < p->channels; c0 += POOL_CB) {
            const int64_t cn = QRUN_MIN(POOL_CB, p->channels - c0);
            int32_t acc[POOL_CB];
            int32_t count = 0;
            for (int64_t j = 0; j < cn; j++)
                acc[j] = p->is_max ? INT32_MIN : 0;
            for (int64_t t = 0; t < p->taps; t++) {
                if (ind[t] < 0)
                    continue;
                const uint8_t* a = arena + p->in_off + ind[t] + c0;
                count++;
                if (p->is_max) {
                    for (int64_t j = 0; j < cn; j++) {
                        const int32_t v = pool_load(a[j], p->is_signed);
                        acc[j] = v > acc[j] ? v : acc[j];
                    }
                } else {
                    for (int64_t j = 0; j < cn; j++)
                        acc[j] += pool_load(a[j], p->is_signed);
                }
            }
            for (int64_t j = 0; j < cn; j++) {
                int32_t v = acc[j];
                if (!p->is_max)
                    v = v > 0 ? (v + count / 2) / count : (v - count / 2) / count;
                v = v < p->act_min ? p->act_min : v;
                v = v > p->act_max ? p->act_max : v;
                out[c0 + j] = (uint8_t)v;
            }
        }
    }
}

static int64_t mean_tiles(const void* params) {
    return ((const qrun_mean_params*)params)->outer;
}

static void mean_run(const void* params, uint8_t* arena, int64_t begin, int64_t end) {
    const qrun_mean_params* p = (const qrun_mean_params*)params;
    const uint8_t flip = (uint8_t)p->flip;
    const int32_t bias = (int32_t)(-p->inner * p->in_zero);
    for (int64_t o = begin; o < end; o++) {
        const uint8_t* in = arena + p->in_off + o * p->inner * p->channels;
        uint8_t* out = arena + p->out_off + o * p->channels;
        for (int64_t c0 = mean_vectors(p, in, out, bias); c0 < p->channels; c0 += POOL_CB) {
            const int64_t cn = QRUN_MIN(POOL_CB, p->channels - c0);
            int32_t acc[POOL_CB];
            for (int64_t j = 0; j < cn; j++)
                acc[j] = bias;
            for (int64_t i = 0; i < p->inner; i++) {
                const uint8_t* a = in + i * p->channels + c0;
                for (int64_t j = 0; j < cn; j++)
                    acc[j] += qrun_load_a(a[j], flip);
            }
            for (int64_t j = 0; j < cn; j++)
                out[c0 + j] = mean_requantize(acc[j], p);
        }
    }
}

/* ARG_MAX / ARG_MIN over a last axis of up to 32 (segmentation heads: 19-21 classes per
 * pixel), one pixel at a time: the bytes XORed to keys whose signed maximum is the
 * extreme (0x80: uint8 as signed; 0xFF: reversed order for ARG_MIN), lanes past the axis
 * capped to -128 (they come after every real lane, so never the first maximum), the
 * maximum broadcast to every lane (across the 128-bit halves, then within them), and the
 * first lane equal to it. The AVX-512 build uses the 256-bit vectors too: at 19-21 classes
 * they take half the time of 512-bit ones (fewer reduction steps and split loads). */
#if defined(QRUN_ISA_AVX2) || defined(QRUN_ISA_AVX512VNNI)
#define ARG_V_BYTES 32
#define ARG_V_(op) _mm256_##op
#define ARG_V_LOADU(ptr) _mm256_loadu_si256((const __m256i*)(ptr))
#define ARG_V_XOR(a, b) _mm256_xor_si256(a, b)
typedef __m256i arg_v;

static inline arg_v arg_max_across_halves(arg_v k) {
    return _mm256_max_epi8(k, _mm256_permute2x128_si256(k, k, 1));
}
#elif defined(QRUN_ISA_SSE41)
#define ARG_V_BYTES 16
#define ARG_V_(op) _mm_##op
#define ARG_V_LOADU(ptr) _mm_loadu_si128((const __m128i*)(ptr))
#define ARG_V_XOR(a, b) _mm_xor_si128(a, b)
typedef __m128i arg_v;

static inline arg_v arg_max_across_halves(arg_v k) {
    return k;
}
#endif

#if !defined(QRUN_ISA_SCALAR)
/* Axes up to 32 on every SIMD build: one AVX2 vector or two SSE ones. */
#define ARG_VECTOR_BYTES 32
#define ARG_VECTORS (ARG_VECTOR_BYTES / ARG_V_BYTES)

/* caps + ARG_VECTOR_BYTES - n: 127 in the first n lanes, -128 after. */
static inline int64_t arg_first_max_key(const uint8_t* row, int64_t n, arg_v flip,
                                        const int8_t* caps) {
    const int8_t* cap = caps + ARG_VECTOR_BYTES - n;
    arg_v k[ARG_VECTORS];
    for (int v = 0; v < ARG_VECTORS; v++)
        k[v] = ARG_V_(min_epi8)(ARG_V_XOR(ARG_V_LOADU(row + v * ARG_V_BYTES), flip),
                                ARG_V_LOADU(cap + v * ARG_V_BYTES));
    arg_v m = k[0];
    for (int v = 1; v < ARG_VECTORS; v++)
        m = ARG_V_(max_epi8)(m, k[v]);
    m = arg_max_across_halves(m);
    m = ARG_V_(max_epi8)(m, ARG_V_(alignr_epi8)(m, m, 8));
    m = ARG_V_(max_epi8)(m, ARG_V_(alignr_epi8)(m, m, 4));
    m = ARG_V_(max_epi8)(m, ARG_V_(alignr_epi8)(m, m, 2));
    m = ARG_V_(max_epi8)(m, ARG_V_(alignr_epi8)(m, m, 1));
    uint32_t equal = 0;
    for (int v = 0; v < ARG_VECTORS; v++)
        equal |= (uint32_t)ARG_V_(movemask_epi8)(ARG_V_(cmpeq_epi8)(k[v], m)) << (v * ARG_V_BYTES);
    return __builtin_ctz(equal);
}
#endif

static int64_t arg_tiles(const void* params) {
    return ((const qrun_arg_params*)params)->outer;
}

static void arg_run(const void* params, uint8_t* arena, int64_t begin, int64_t end) {
    const qrun_arg_params* p = (const qrun_arg_params*)params;
#if !defined(QRUN_ISA_SCALAR)
    int8_t caps[2 * ARG_VECTOR_BYTES];
    memset(caps, 127, ARG_VECTOR_BYTES);
    memset(caps + ARG_VECTOR_BYTES, -128, ARG_VECTOR_BYTES);
    const arg_v flip =
        ARG_V_(set1_epi8)((char)((p->is_signed ? 0 : 0x80) ^ (p->is_min ? 0xFF : 0)));
    /* Pixels whose vector load stays inside the input tensor. */
    const int64_t vector_end =
        p->inner == 1 && p->axis_size <= ARG_VECTOR_BYTES
            ? QRUN_MIN(end, p->outer - (ARG_VECTOR_BYTES - 1) / p->axis_size)
            : begin;
    for (int64_t o = begin; o < vector_end; o++) {
        const int64_t index = arg_first_max_key(arena + p->in_off + o * p->axis_size,
                                                p->axis_size, flip, caps);
        uint8_t* out = arena + p->out_off + o * p->out_size;
        if (p->out_size == 8) {
            memcpy(out, &index, 8);
        } else {
            const int32_t index32 = (int32_t)index;
            memcpy(out, &index32, 4);
        }
    }
    if (vector_end > begin)
        begin = vector_end;
#endif
    for (int64_t o = begin; o < end; o++) {
        const uint8_t* in = arena + p->in_off + o * p->axis_size * p->inner;
        uint8_t* out = arena + p->out_off + o * p->inner * p->out_size;
        for (int64_t i = 0; i < p->inner; i++) {
            int32_t best = pool_load(in[i], p->is_signed);
            int64_t index = 0;
            for (int64_t a = 1; a < p->axis_size; a++) {
                const int32_t v = pool_load(in[a * p->inner + i], p->is_signed);
                if (p->is_min ? v < best : v > best) {
                    best = v;
                    index = a;
                }
            }
            if (p->out_size == 8) {
                memcpy(out + 8 * i, &index, 8);
            } else {
                const int32_t index32 = (int32_t)index;
                memcpy(out + 4 * i, &index32, 4);
            }
        }
    }
}

const qrun_op_entry qrun_pool_entry = {pool_tiles, pool_run};
const qrun_op_entry qrun_arg_entry = {arg_tiles, arg_run};
const qrun_op_entry qrun_mean_entry = {mean_tiles, mean_run};
