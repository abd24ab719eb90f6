/* ADD, SUB, MUL with broadcasting, bit-exact with TFLite's reference fixed point (through an
 * fp32 fast path where it is provably equal); other binary byte ops, and ADD,
 * SUB, MUL with a constant operand of few values, through an exact 256 x 256 table; float32
 * ADD, SUB, MUL, DIV (IEEE, exact). */
#include "qrun.h"

/* ADD, SUB: an input's term on the common scale, ((x - zero) << 20) * mult rounded right by
 * shift (x - zero has 9 bits: no overflow). */
static inline int32_t binary_term(int32_t x, int32_t mult, int32_t shift) {
    return qrun_rounding_shift(qrun_mulhi_q31(x * (1 << 20), mult), shift);
}

/* The output multiplier (the shift left wraps as the reference's int32 does), the clamp,
 * then the zero point (after the clamp: a wrapped product's value plus it would overflow). */
static inline uint8_t binary_output(const qrun_binary_params* p, int32_t acc) {
    int32_t v = qrun_rounding_shift(
        qrun_mulhi_q31((int32_t)((uint32_t)acc << p->out_left_shift), p->out_mult),
        p->out_right_shift);
    v = v < p->out_min_less_zero ? p->out_min_less_zero : v;
    v = v > p->out_max_less_zero ? p->out_max_less_zero : v;
    return (uint8_t)(v + p->out_zero);
}

/* The fp32 fast path (every build; qrun_binary_params.near_tie bounds its distance from the
 * fixed point): ADD, SUB: v = a_scale * (a - a_zero) + b_scale * (b - b_zero); MUL:
 * v = a_scale * (a - a_zero) * (b - b_zero) moved away from zero by 2^-(e + 1), e the output's
 * right shift (none without one), which makes the reference's two roundings
 * (binary_v_output()) one rounding of it, half up; v clamped to [-255, 255]. v + 768 keeps 14
 * fraction bits of v, rounded: n = v * 2^14 rounded. Added with
 * grid = 768 + 1/2 + near_tie / 2^14 instead, the sum's low 14 bits are
 * (n + 2^13 + near_tie) mod 2^14, which is below 2 near_tie (a power of two: the bits of
 * tie_mask are 0) when n is within near_tie of a tie; the output is
 * floor((n + 2^13) / 2^14) + zero. Other lanes take the fixed point (none for near_tie 0: the
 * fast path is then exact, ties included). */
#define BINARY_GRID_BITS 0x44400000   /* 768.0f */

/* The fast path's constants, once per row (the output stores may alias the params). */
typedef struct {
    float a_scale, b_scale, lo, hi, grid, nudge;
    int32_t tie_mask, round_offset;
} binary_fast;

static inline binary_fast binary_fast_of(const qrun_binary_params* p) {
    const int32_t e = p->out_right_shift;
    binary_fast f;
    f.a_scale = p->a_scale;
    f.b_scale = p->b_scale;
    f.lo = (float)p->out_min_less_zero;
    f.hi = (float)p->out_max_less_zero;
    f.grid = 768.5f + (float)p->near_tie / 16384.0f;
    f.nudge = e ? qrun_float_of_bits((uint32_t)(126 - e) << 23) : 0.0f;
    /* near_tie 0: bit 30, set in every sum (768 <= v + grid < 1024): no lane is near */
    f.tie_mask = p->near_tie ? 16383 & ~(2 * p->near_tie - 1) : 1 << 30;
    f.round_offset = BINARY_GRID_BITS + p->near_tie - p->out_zero * 16384;
    return f;
}

/* One ADD (sign 1), SUB (-1) or MUL (0) element of inputs less their zero points. */
static inline uint8_t binary_element(const qrun_binary_params* p, const binary_fast* f,
                                     int32_t xa, int32_t xb, int32_t sign) {
    float v;
    if (sign) {
        v = (float)xa * f->a_scale + (float)xb * f->b_scale;
    } else {
        v = (float)(xa * xb) * f->a_scale;
        v += v < 0.0f ? -f->nudge : f->nudge;
    }
    v = v < f->lo ? f->lo : v;
    v = v > f->hi ? f->hi : v;
    v += f->grid;
    int32_t bits;
    memcpy(&bits, &v, sizeof bits);
    if (__builtin_expect(bits & f->tie_mask, 1))
        return (uint8_t)((bits - f->round_offset) >> 14);
    return binary_output(p, sign ? binary_term(xa, p->a_mult, p->a_shift) +
                                   sign * binary_term(xb, p->b_mult, p->b_shift) : xa * xb);
}

/* Row `row`'s operands and output (elements of `size` bytes). */
static inline void binary_row_pointers(const qrun_binary_params* p, uint8_t* arena, int64_t row,
                                       int64_t size, const uint8_t** a, const uint8_t** b,
                                       uint8_t** out) {
    int64_t rest = row, ia = 0, ib = 0;
    for (int d = 3; d >= 0; d--) {
        const int64_t i = rest % p->shape[d];
        rest /= p->shape[d];
        ia += i * p->a_stride[d];
        ib += i * p->b_stride[d];
    }
    *a = (p->a_const ? p->a_const : arena + p->a_off) + ia * size;
    *b = (p->b_const ? p->b_const : arena + p->b_off) + ib * size;
    *out = arena + p->out_off + row * p->inner * size;
}

/* ADD (1), SUB (-1) or MUL (0): binary_element()'s sign. */
static inline int32_t binary_sign(int32_t kind) {
    return kind == QRUN_BINARY_MUL ? 0 : kind == QRUN_BINARY_SUB ? -1 : 1;
}

static int64_t binary_tiles(const void* params) {
    const qrun_binary_params* p = (const qrun_binary_params*)params;
    return p->shape[0] * p->shape[1] * p->shape[2] * p->shape[3];
}

static inline float binary_f32(int kind, float a, float b) {
    switch (kind) {
    case QRUN_BINARY_F32_ADD: return a + b;
    case QRUN_BINARY_F32_SUB: return a - b;
    case QRUN_BINARY_F32_MUL: return a * b;
    default: return a / b;
    }
}

/* TFLite's clamp, std::min(std::max(v, lo), hi): a NaN passes through. */
static inline float binary_f32_clamp(float v, float lo, float hi) {
    v = lo > v ? lo : v;
    return hi < v ? hi : v;
}

#if defined(QRUN_ISA_SCALAR)
static inline int binary_vector_rows(const qrun_binary_params* p, uint8_t* arena, int64_t begin,
                                     int64_t end) {
    (void)p, (void)arena, (void)begin, (void)end;
    return 0;
}

static inline int64_t binary_f32_vectors(const qrun_binary_params* p, const float* a,
                                         const float* b, float* out) {
    (void)p, (void)a, (void)b, (void)out;
    return 0;
}
#else
#include "qrun_simd.h"

/* fn(args..., step_a, step_b) for a row whose operands advance by 1 or 0 (a broadcast value)
 * with constant steps; 0 (no element done) for other strides. */
#define BINARY_BY_STEPS(sa, sb, fn, ...)                                                   \
    ((sa) == 1 && (sb) == 1 ? fn(__VA_ARGS__, 1, 1)                                        \
     : (sa) == 1 && (sb) == 0 ? fn(__VA_ARGS__, 1, 0)                                      \
     : (sa) == 0 && (sb) == 1 ? fn(__VA_ARGS__, 0, 1) : 0)

/* binary_term()'s constants for a vector: mult = high * 2^11 + low (low < 2^11). */
typedef struct {
    qrun_vi high, low, half;
    __m128i shift, sign_shift;
} binary_v_term_of;

static inline binary_v_term_of binary_v_term_constants(int32_t mult, int32_t shift) {
    binary_v_term_of t;
    t.high = QRUN_V_(set1_epi32)(mult >> 11);
    t.low = QRUN_V_(set1_epi32)(mult & 2047);
    t.half = QRUN_V_(set1_epi32)(shift ? 1 << (shift - 1) : 0);
    t.shift = _mm_cvtsi32_si128(shift);
    t.sign_shift = _mm_cvtsi32_si128(shift ? 31 : 32);
    return t;
}

/* binary_term() per lane in int32 products: qrun_mulhi_q31(x * 2^20, mult) is
 * floor((x * mult + 2^10) / 2^11) = f = x * high + floor((x * low + 2^10) / 2^11) (|x| < 2^9:
 * no overflow), and the rounding shift by e > 0 is floor((f + 2^(e - 1) - (f < 0)) / 2^e),
 * where f < 0 exactly when x < 0 (mult is 0 or at least 2^30; 0 comes with e = 0). */
static inline qrun_vi binary_v_term(qrun_vi x, const binary_v_term_of* t) {
    const qrun_vi f = QRUN_V_(add_epi32)(
        QRUN_V_(mullo_epi32)(x, t->high),
        QRUN_V_(srai_epi32)(QRUN_V_(add_epi32)(QRUN_V_(mullo_epi32)(x, t->low),
                                               QRUN_V_(set1_epi32)(1 << 10)), 11));
    return QRUN_V_(sra_epi32)(
        QRUN_V_(sub_epi32)(QRUN_V_(add_epi32)(f, t->half), QRUN_V_(srl_epi32)(x, t->sign_shift)),
        t->shift);
}

/* The output multiplier's constants: binary_output() on a vector. */
typedef struct {
    qrun_vi mult, round, lo, hi, zero;
    __m128i left_shift, right_shift, sign_shift;
} binary_v_out;

static inline binary_v_out binary_v_out_of(const qrun_binary_params* p) {
    binary_v_out o;
    const int32_t e = p->out_right_shift;
    o.mult = QRUN_V_(set1_epi32)(p->out_mult);
    /* qrun_mulhi_q31's 2^30 and, in the same sum, the rounding shift's half (2^(e - 1)) */
    o.round = QRUN_V_SET1_EPI64((1LL << 30) + (e ? (1LL << (e + 30)) : 0));
    o.lo = QRUN_V_(set1_epi32)(p->out_min_less_zero);
    o.hi = QRUN_V_(set1_epi32)(p->out_max_less_zero);
    o.zero = QRUN_V_(set1_epi32)(p->out_zero);
    o.left_shift = _mm_cvtsi32_si128(p->out_left_shift);
    o.right_shift = _mm_cvtsi32_si128(e);
    o.sign_shift = _mm_cvtsi32_si128(e ? 31 : 32);   /* x < 0 as 1, or 0 for e = 0 */
    return o;
}

/* binary_output() per lane, its two roundings fused: with x = acc << left_shift,
 * qrun_mulhi_q31 is floor((x * mult + 2^30) / 2^31) = f and the rounding shift by e > 0 is
 * floor((f + 2^(e - 1) - (f < 0)) / 2^e), so floor((x * mult + 2^30 + 2^(e + 30)) / 2^31) is
 * taken from 64-bit products as qrun_v_mulhi_q31() does, less 1 where x < 0 (f < 0 there, or f
 * is 0 for x = -1, mult = 2^30, where either gives 0), shifted right by e. x * mult + the
 * rounding stays below 2^62: x < 2^31 only with e = 0 (a multiplier of at least 1/2). */
static inline qrun_vi binary_v_output(qrun_vi acc, const binary_v_out* o) {
    const qrun_vi x = QRUN_V_(sll_epi32)(acc, o->left_shift);
    const qrun_vi even = QRUN_V_(add_epi64)(QRUN_V_(mul_epi32)(x, o->mult), o->round);
    const qrun_vi odd = QRUN_V_(add_epi64)(
        QRUN_V_(mul_epi32)(QRUN_V_(srli_epi64)(x, 32), o->mult), o->round);
    qrun_vi v = QRUN_V_BLEND_ODD_EPI32(QRUN_V_(srli_epi64)(even, 31), QRUN_V_(slli_epi64)(odd, 1));
    v = QRUN_V_(sub_epi32)(v, QRUN_V_(srl_epi32)(x, o->sign_shift));
    v = QRUN_V_(sra_epi32)(v, o->right_shift);
    return QRUN_V_(add_epi32)(QRUN_V_(min_epi32)(QRUN_V_(max_epi32)(v, o->lo), o->hi), o->zero);
}

/* An op's constants, and a broadcast operand's values (set per row). */
typedef struct {
    uint8_t flip;
    qrun_vi a_zero, b_zero;
    binary_v_term_of a_term_of, b_term_of;
    qrun_vi a_value, b_value;     /* a broadcast operand: its value less the zero point, */
    qrun_vi a_term, b_term;       /* its term, */
    qrun_vf a_scaled, b_scaled;   /* its fp32 value */
    qrun_vf a_scale, b_scale, lo, hi, grid, nudge, sign;
    qrun_vi tie_mask, round_offset;
    binary_v_out o;
} binary_v_row;

static inline binary_v_row binary_v_row_of(const qrun_binary_params* p) {
    binary_v_row r;
    r.flip = (uint8_t)p->flip;
    r.a_zero = QRUN_V_(set1_epi32)(p->a_zero);
    r.b_zero = QRUN_V_(set1_epi32)(p->b_zero);
    r.a_term_of = binary_v_term_constants(p->a_mult, p->a_shift);
    r.b_term_of = binary_v_term_constants(p->b_mult, p->b_shift);
    r.a_value = r.b_value = r.a_term = r.b_term = QRUN_V_(set1_epi32)(0);
    r.a_scale = QRUN_V_(set1_ps)(p->a_scale);
    r.b_scale = QRUN_V_(set1_ps)(p->b_scale);
    r.lo = QRUN_V_(set1_ps)((float)p->out_min_less_zero);
    r.hi = QRUN_V_(set1_ps)((float)p->out_max_less_zero);
    const binary_fast f = binary_fast_of(p);
    r.grid = QRUN_V_(set1_ps)(f.grid);
    r.nudge = QRUN_V_(set1_ps)(f.nudge);
    r.sign = QRUN_V_(set1_ps)(-0.0f);
    r.tie_mask = QRUN_V_(set1_epi32)(f.tie_mask);
    r.round_offset = QRUN_V_(set1_epi32)(f.round_offset);
    r.a_scaled = r.b_scaled = QRUN_V_(set1_ps)(0.0f);
    r.o = binary_v_out_of(p);
    return r;
}

/* A broadcast operand's byte x: its value less the zero point, its term and fp32 value. */
static inline void binary_v_broadcast(const qrun_binary_params* p, uint8_t x, int32_t zero,
                                      int32_t mult, int32_t shift, float scale, qrun_vi* value,
                                      qrun_vi* term, qrun_vf* scaled) {
    const int32_t v = qrun_load_a(x, (uint8_t)p->flip) - zero;
    *value = QRUN_V_(set1_epi32)(v);
    *term = QRUN_V_(set1_epi32)(binary_term(v, mult, shift));
    *scaled = QRUN_V_(set1_ps)((float)v * scale);
}

/* An operand's vector less its zero point (step 1), or its broadcast value (step 0). */
static inline qrun_vi binary_v_operand(const uint8_t* x, int step, qrun_vi zero, qrun_vi value,
                                       uint8_t flip) {
    return step ? QRUN_V_(sub_epi32)(qrun_v_load_bytes(x, flip), zero) : value;
}

/* The fast path's v + grid, as bits. */
static inline qrun_vi binary_v_grid(const binary_v_row* r, const uint8_t* a, const uint8_t* b,
                                    int kind, int step_a, int step_b) {
    qrun_vf v;
    if (kind == QRUN_BINARY_MUL) {
        const qrun_vi va = binary_v_operand(a, step_a, r->a_zero, r->a_value, r->flip);
        const qrun_vi vb = binary_v_operand(b, step_b, r->b_zero, r->b_value, r->flip);
        v = QRUN_V_(mul_ps)(QRUN_V_(cvtepi32_ps)(QRUN_V_(mullo_epi32)(va, vb)), r->a_scale);
        v = QRUN_V_(add_ps)(v, QRUN_V_(or_ps)(r->nudge, QRUN_V_(and_ps)(v, r->sign)));
    } else {
        const qrun_vf sa = step_a ? QRUN_V_(mul_ps)(QRUN_V_(cvtepi32_ps)(
            binary_v_operand(a, 1, r->a_zero, r->a_value, r->flip)), r->a_scale) : r->a_scaled;
        const qrun_vf sb = step_b ? QRUN_V_(mul_ps)(QRUN_V_(cvtepi32_ps)(
            binary_v_operand(b, 1, r->b_zero, r->b_value, r->flip)), r->b_scale) : r->b_scaled;
        v = QRUN_V_(add_ps)(sa, sb);
    }
    v = QRUN_V_(min_ps)(QRUN_V_(max_ps)(v, r->lo), r->hi);
    return QRUN_V_CAST_SI(QRUN_V_(add_ps)(v, r->grid));
}

/* The fixed point: the output bytes as int32 lanes. */
static inline qrun_vi binary_v_exact(const binary_v_row* r, const uint8_t* a, const uint8_t* b,
                                     int kind, int step_a, int step_b) {
    const qrun_vi va = binary_v_operand(a, step_a, r->a_zero, r->a_value, r->flip);
    const qrun_vi vb = binary_v_operand(b, step_b, r->b_zero, r->b_value, r->flip);
    if (kind == QRUN_BINARY_MUL)
        return binary_v_output(QRUN_V_(mullo_epi32)(va, vb), &r->o);
    const qrun_vi ta = step_a ? binary_v_term(va, &r->a_term_of) : r->a_term;
    const qrun_vi tb = step_b ? binary_v_term(vb, &r->b_term_of) : r->b_term;
    return binary_v_output(
        kind == QRUN_BINARY_SUB ? QRUN_V_(sub_epi32)(ta, tb) : QRUN_V_(add_epi32)(ta, tb),
        &r->o);
}

/* Rows go through the fast path in chunks of this many elements (a multiple of two
 * vectors), noting the pairs of vectors to redo (no branch per pair), then redoing them; after
 * a chunk that redid over a quarter of its pairs (data at ties: inputs whose scaled values
 * meet at halves), the rest of the row takes the fixed point directly. */
#define BINARY_CHUNK 1024

/* ADD, SUB or MUL (kind) over the whole vectors of one row whose operands advance by step_a,
 * step_b (1, or 0: a broadcast value): the fp32 fast path two vectors at a time, the fixed
 * point for both when a lane is near a tie. */
static inline __attribute__((always_inline)) void binary_vectors_row(
        const binary_v_row* rp, const uint8_t* a, const uint8_t* b, uint8_t* out,
        const int64_t whole, const int kind, const int step_a, const int step_b) {
    const binary_v_row r = *rp;
    const int64_t lanes = QRUN_V_LANES;
    int64_t exact_from = whole;
    for (int64_t chunk = 0; chunk < exact_from; chunk += BINARY_CHUNK) {
        const int64_t end = QRUN_MIN(chunk + BINARY_CHUNK, whole);
        int32_t redo[BINARY_CHUNK / QRUN_V_LANES];
        int32_t redone = 0;
        int64_t j = chunk;
        for (; j + 2 * lanes <= end; j += 2 * lanes) {
            const qrun_vi g0 = binary_v_grid(&r, a + j * step_a, b + j * step_b, kind, step_a,
                                             step_b);
            const qrun_vi g1 = binary_v_grid(&r, a + (j + lanes) * step_a,
                                             b + (j + lanes) * step_b, kind, step_a, step_b);
            qrun_v_store_bytes(out + j, QRUN_V_(srai_epi32)(
                QRUN_V_(sub_epi32)(g0, r.round_offset), 14));
            qrun_v_store_bytes(out + j + lanes, QRUN_V_(srai_epi32)(
                QRUN_V_(sub_epi32)(g1, r.round_offset), 14));
            redo[redone] = (int32_t)j;
            redone += qrun_v_any_zero_under2(g0, g1, r.tie_mask);
        }
        if (j < end) {   /* a last single vector: a pair of itself */
            const qrun_vi g0 = binary_v_grid(&r, a + j * step_a, b + j * step_b, kind, step_a,
                                             step_b);
            qrun_v_store_bytes(out + j, QRUN_V_(srai_epi32)(
                QRUN_V_(sub_epi32)(g0, r.round_offset), 14));
            redo[redone] = (int32_t)j;
            redone += qrun_v_any_zero_under2(g0, g0, r.tie_mask);
        }
        for (int32_t i = 0; i < redone; i++) {
            const int64_t j = redo[i], k = j + 2 * lanes <= end ? j + lanes : j;
            qrun_v_store_bytes(out + j, binary_v_exact(&r, a + j * step_a, b + j * step_b, kind,
                                                       step_a, step_b));
            qrun_v_store_bytes(out + k, binary_v_exact(&r, a + k * step_a, b + k * step_b, kind,
                                                       step_a, step_b));
        }
        if (redone * 8 * lanes > end - chunk)
            exact_from = end;
    }
    for (int64_t j = exact_from; j < whole; j += lanes)
        qrun_v_store_bytes(out + j, binary_v_exact(&r, a + j * step_a, b + j * step_b, kind,
                                                   step_a, step_b));
}

/* Rows [begin, end) of ADD, SUB or MUL whose operands advance by step_a, step_b: the whole
 * vectors of each row, then its tail with binary_element(); the constants built once. */
static inline __attribute__((always_inline)) int binary_vector_rows_for(
        const qrun_binary_params* p, uint8_t* arena, int64_t begin, int64_t end,
        const int kind, const int step_a, const int step_b) {
    binary_v_row r = binary_v_row_of(p);
    const binary_fast f = binary_fast_of(p);
    const int32_t a_zero = p->a_zero, b_zero = p->b_zero;
    const int32_t a_mult = p->a_mult, a_shift = p->a_shift, b_mult = p->b_mult;
    const int32_t b_shift = p->b_shift;
    const int64_t inner = p->inner, whole = inner - inner % QRUN_V_LANES;
    for (int64_t row = begin; row < end; row++) {
        const uint8_t *a, *b;
        uint8_t* out;
        binary_row_pointers(p, arena, row, 1, &a, &b, &out);
        if (!step_a)
            binary_v_broadcast(p, a[0], a_zero, a_mult, a_shift, f.a_scale, &r.a_value,
                               &r.a_term, &r.a_scaled);
        if (!step_b)
            binary_v_broadcast(p, b[0], b_zero, b_mult, b_shift, f.b_scale, &r.b_value,
                               &r.b_term, &r.b_scaled);
        binary_vectors_row(&r, a, b, out, whole, kind, step_a, step_b);
        for (int64_t j = whole; j < inner; j++)
            out[j] = binary_element(p, &f, qrun_load_a(a[j * step_a], r.flip) - a_zero,
                                    qrun_load_a(b[j * step_b], r.flip) - b_zero,
                                    binary_sign(kind));
    }
    return 1;
}

/* ADD, SUB, MUL rows in vectors for the common broadcasts (same shape, a scalar or
 * per-channel operand); 0 for other strides. */
static int binary_vector_rows(const qrun_binary_params* p, uint8_t* arena, int64_t begin,
                              int64_t end) {
    const int64_t sa = p->a_stride[4], sb = p->b_stride[4];
    switch (p->kind) {
    case QRUN_BINARY_MUL:
        return BINARY_BY_STEPS(sa, sb, binary_vector_rows_for, p, arena, begin, end,
                               QRUN_BINARY_MUL);
    case QRUN_BINARY_SUB:
        return BINARY_BY_STEPS(sa, sb, binary_vector_rows_for, p, arena, begin, end,
                               QRUN_BINARY_SUB);
    case QRUN_BINARY_ADD:
        return BINARY_BY_STEPS(sa, sb, binary_vector_rows_for, p, arena, begin, end,
                               QRUN_BINARY_ADD);
    default:
        return 0;
    }
}

static inline qrun_vf binary_v_f32(int kind, qrun_vf a, qrun_vf b) {
    switch (kind) {
    case QRUN_BINARY_F32_ADD: return QRUN_V_(add_ps)(a, b);
    case QRUN_BINARY_F32_SUB: return QRUN_V_(sub_ps)(a, b);
    case QRUN_BINARY_F32_MUL: return QRUN_V_(mul_ps)(a, b);
    default: return QRUN_V_(div_ps)(a, b);
    }
}

/* The float kinds' whole vectors of one row. max_ps(lo, v) is lo > v ? lo : v and
 * min_ps(hi, v) is hi < v ? hi : v, NaN included: binary_f32_clamp() on a vector. */
static inline __attribute__((always_inline)) int64_t binary_f32_vectors_for(
        const qrun_binary_params* p, const float* a, const float* b, float* out,
        const int kind, const int step_a, const int step_b) {
    const qrun_vf lo = QRUN_V_(set1_ps)(p->f_min), hi = QRUN_V_(set1_ps)(p->f_max);
    const qrun_vf a_value = QRUN_V_(set1_ps)(a[0]), b_value = QRUN_V_(set1_ps)(b[0]);
    int64_t j = 0;
    for (; j + QRUN_V_LANES <= p->inner; j += QRUN_V_LANES) {
        const qrun_vf va = step_a ? QRUN_V_(loadu_ps)(a + j) : a_value;
        const qrun_vf vb = step_b ? QRUN_V_(loadu_ps)(b + j) : b_value;
        const qrun_vf v = binary_v_f32(kind, va, vb);
        QRUN_V_(storeu_ps)(out + j, QRUN_V_(min_ps)(hi, QRUN_V_(max_ps)(lo, v)));
    }
    return j;
}

static int64_t binary_f32_vectors(const qrun_binary_params* p, const float* a, const float* b,
                                  float* out) {
    const int64_t sa = p->a_stride[4], sb = p->b_stride[4];
    switch (p->kind) {
    case QRUN_BINARY_F32_ADD:
        return BINARY_BY_STEPS(sa, sb, binary_f32_vectors_for, p, a, b, out, QRUN_BINARY_F32_ADD);
    case QRUN_BINARY_F32_SUB:
        return BINARY_BY_STEPS(sa, sb, binary_f32_vectors_for, p, a, b, out, QRUN_BINARY_F32_SUB);
    case QRUN_BINARY_F32_MUL:
        return BINARY_BY_STEPS(sa, sb, binary_f32_vectors_for, p, a, b, out, QRUN_BINARY_F32_MUL);
    default:
        return BINARY_BY_STEPS(sa, sb, binary_f32_vectors_for, p, a, b, out, QRUN_BINARY_F32_DIV);
    }
}
#endif

#if defined(QRUN_ISA_AVX512VNNI)
/* Table rows of at most this many 256-byte tables are looked up in vectors. */
#define BINARY_TABLE_VECTOR_ROWS 8

/* table[a << 8 | b] over a row where b advances and a (< table_rows) advances with it or is
 * broadcast: each row's
 * 256-entry table looked up as datamove.c's lut_bytes_vbmi() does, kept where a selects it. */
__attribute__((target("avx512vbmi")))
static void binary_table_row_vbmi(const qrun_binary_params* p, const uint8_t* a,
                                  const uint8_t* b, uint8_t* out) {
    for (int64_t j = 0; j < p->inner; j += 64) {
        const __mmask64 m = p->inner - j >= 64 ? ~(__mmask64)0
                                               : ((__mmask64)1 << (p->inner - j)) - 1;
        const __m512i row = p->a_stride[4] ? _mm512_maskz_loadu_epi8(m, a + j)
                                           : _mm512_set1_epi8((char)a[0]);
        const __m512i x = _mm512_maskz_loadu_epi8(m, b + j);
        const __mmask64 high = _mm512_movepi8_mask(x);
        __m512i y = _mm512_setzero_si512();
        for (int64_t t = 0; t < p->table_rows; t++) {
            const uint8_t* table = p->table + (t << 8);
            const __m512i low = _mm512_permutex2var_epi8(
                _mm512_loadu_si512((const void*)table), x,
                _mm512_loadu_si512((const void*)(table + 64)));
            const __m512i top = _mm512_permutex2var_epi8(
                _mm512_loadu_si512((const void*)(table + 128)), x,
                _mm512_loadu_si512((const void*)(table + 192)));
            y = _mm512_mask_mov_epi8(y, _mm512_cmpeq_epi8_mask(row, _mm512_set1_epi8((char)t)),
                                     _mm512_mask_blend_epi8(high, low, top));
        }
        _mm512_mask_storeu_epi8(out + j, m, y);
    }
}

/* The row in vectors when the CPU has VBMI and a selects one of few tables. */
static int binary_table_vectors(const qrun_binary_params* p, const uint8_t* a,
                                const uint8_t* b, uint8_t* out) {
    static int has_vbmi = -1;   /* racing first calls store the same value */
    if (has_vbmi < 0)
        has_vbmi = __builtin_cpu_supports("avx512vbmi") ? 1 : 0;
    if (!has_vbmi || p->table_rows == 0 || p->table_rows > BINARY_TABLE_VECTOR_ROWS ||
        p->a_stride[4] > 1 || p->b_stride[4] != 1)
        return 0;
    binary_table_row_vbmi(p, a, b, out);
    return 1;
}
#else
static int binary_table_vectors(const qrun_binary_params* p, const uint8_t* a,
                                const uint8_t* b, uint8_t* out) {
    (void)p, (void)a, (void)b, (void)out;
    return 0;
}
#endif

/* One output row of the byte kinds. */
static void binary_row(const qrun_binary_params* p, const uint8_t* a, const uint8_t* b,
                       uint8_t* out) {
    const uint8_t flip = (uint8_t)p->flip;
    const int64_t sa = p->a_stride[4], sb = p->b_stride[4];
    if (p->kind == QRUN_BINARY_TABLE) {
        if (binary_table_vectors(p, a, b, out))
            return;
        for (int64_t j = 0; j < p->inner; j++)
            out[j] = p->table[((size_t)a[j * sa] << 8) | b[j * sb]];
    } else {
        const int32_t sign = binary_sign(p->kind), a_zero = p->a_zero, b_zero = p->b_zero;
        const int64_t inner = p->inner;
        const binary_fast f = binary_fast_of(p);
        for (int64_t j = 0; j < inner; j++)
            out[j] = binary_element(p, &f, qrun_load_a(a[j * sa], flip) - a_zero,
                                    qrun_load_a(b[j * sb], flip) - b_zero, sign);
    }
}

/* One output row of the float kinds. */
static void binary_f32_row(const qrun_binary_params* p, const float* a, const float* b,
                           float* out) {
    const int64_t sa = p->a_stride[4], sb = p->b_stride[4];
    for (int64_t j = binary_f32_vectors(p, a, b, out); j < p->inner; j++)
        out[j] = binary_f32_clamp(binary_f32(p->kind, a[j * sa], b[j * sb]), p->f_min, p->f_max);
}

/* Tiles are output rows of `inner` elements. */
static void binary_run(const void* params, uint8_t* arena, int64_t begin, int64_t end) {
    const qrun_binary_params* p = (const qrun_binary_params*)params;
    const int64_t size = p->kind >= QRUN_BINARY_F32_ADD ? 4 : 1;
    if (binary_vector_rows(p, arena, begin, end))
        return;
    for (int64_t row = begin; row < end; row++) {
        const uint8_t *a, *b;
        uint8_t* out;
        binary_row_pointers(p, arena, row, size, &a, &b, &out);
        if (size == 4)
            binary_f32_row(p, (const float*)a, (const float*)b, (float*)out);
        else
            binary_row(p, a, b, out);
    }
}

const qrun_op_entry qrun_binary_entry = {binary_tiles, binary_run};
