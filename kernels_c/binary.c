/* ADD, SUB, MUL with broadcasting, requantized in fp32; other binary byte ops, and ADD, SUB,
 * MUL with a constant operand of few values, through an exact 256 x 256 table; float32 ADD,
 * SUB, MUL, DIV (IEEE, exact). */
#include "qrun.h"

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
static inline int64_t binary_vectors(const qrun_binary_params* p, const uint8_t* a,
                                     const uint8_t* b, uint8_t* out) {
    (void)p, (void)a, (void)b, (void)out;
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

/* ADD/SUB (is_mul 0) or MUL over the whole vectors of one row whose operands advance by
 * step_a, step_b (1, or 0: a broadcast value), in the scalar loop's float operations. */
static inline __attribute__((always_inline)) int64_t binary_vectors_for(
        const qrun_binary_params* p, const uint8_t* a, const uint8_t* b, uint8_t* out,
        const int is_mul, const int step_a, const int step_b) {
    const uint8_t flip = (uint8_t)p->flip;
    const qrun_v_requant rq = qrun_v_requant_of(&p->rq);
    const qrun_vi za = QRUN_V_(set1_epi32)(p->a_zero), zb = QRUN_V_(set1_epi32)(p->b_zero);
    const qrun_vf fa = QRUN_V_(set1_ps)(p->a_scale), fb = QRUN_V_(set1_ps)(p->b_scale);
    const qrun_vi a_value = QRUN_V_(set1_epi32)(qrun_load_a(a[0], flip) - p->a_zero);
    const qrun_vi b_value = QRUN_V_(set1_epi32)(qrun_load_a(b[0], flip) - p->b_zero);
    int64_t j = 0;
    for (; j + QRUN_V_LANES <= p->inner; j += QRUN_V_LANES) {
        const qrun_vi va = step_a ? QRUN_V_(sub_epi32)(qrun_v_load_bytes(a + j, flip), za)
                                  : a_value;
        const qrun_vi vb = step_b ? QRUN_V_(sub_epi32)(qrun_v_load_bytes(b + j, flip), zb)
                                  : b_value;
        qrun_vf v;
        if (is_mul)
            v = QRUN_V_(mul_ps)(QRUN_V_(cvtepi32_ps)(QRUN_V_(mullo_epi32)(va, vb)), fa);
        else
            v = QRUN_V_(add_ps)(QRUN_V_(mul_ps)(QRUN_V_(cvtepi32_ps)(va), fa),
                                QRUN_V_(mul_ps)(QRUN_V_(cvtepi32_ps)(vb), fb));
        qrun_v_store_bytes(out + j, qrun_v_quantize(v, &rq));
    }
    return j;
}

/* The row's leading elements done in vectors (the common broadcasts: same shape, a scalar
 * or per-channel operand); the caller's scalar loop does the rest. */
static int64_t binary_vectors(const qrun_binary_params* p, const uint8_t* a, const uint8_t* b,
                              uint8_t* out) {
    const int64_t sa = p->a_stride[4], sb = p->b_stride[4];
    return p->kind == QRUN_BINARY_MUL
        ? BINARY_BY_STEPS(sa, sb, binary_vectors_for, p, a, b, out, 1)
        : BINARY_BY_STEPS(sa, sb, binary_vectors_for, p, a, b, out, 0);
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
    } else if (p->kind == QRUN_BINARY_MUL) {
        for (int64_t j = binary_vectors(p, a, b, out); j < p->inner; j++) {
            const int32_t prod = (qrun_load_a(a[j * sa], flip) - p->a_zero) *
                                 (qrun_load_a(b[j * sb], flip) - p->b_zero);
            out[j] = qrun_quantize((float)prod * p->a_scale, &p->rq);
        }
    } else {
        for (int64_t j = binary_vectors(p, a, b, out); j < p->inner; j++) {
            const float va = (float)(qrun_load_a(a[j * sa], flip) - p->a_zero) * p->a_scale;
            const float vb = (float)(qrun_load_a(b[j * sb], flip) - p->b_zero) * p->b_scale;
            out[j] = qrun_quantize(va + vb, &p->rq);
        }
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
    for (int64_t row = begin; row < end; row++) {
        int64_t rest = row, ia = 0, ib = 0;
        for (int d = 3; d >= 0; d--) {
            const int64_t i = rest % p->shape[d];
            rest /= p->shape[d];
            ia += i * p->a_stride[d];
            ib += i * p->b_stride[d];
        }
        const uint8_t* a = (p->a_const ? p->a_const : arena + p->a_off) + ia * size;
        const uint8_t* b = (p->b_const ? p->b_const : arena + p->b_off) + ib * size;
        uint8_t* out = arena + p->out_off + row * p->inner * size;
        if (size == 4)
            binary_f32_row(p, (const float*)a, (const float*)b, (float*)out);
        else
            binary_row(p, a, b, out);
    }
}

const qrun_op_entry qrun_binary_entry = {binary_tiles, binary_run};
