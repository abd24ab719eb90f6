/* QUANTIZE float32 -> int8/uint8, exact with TFLite's reference AffineQuantize. */
#include <math.h>

#include "qrun.h"

#define QUANTIZE_BLOCK 4096

static int64_t quantize_tiles(const void* params) {
    return (((const qrun_quantize_params*)params)->n + QUANTIZE_BLOCK - 1) / QUANTIZE_BLOCK;
}

static inline uint8_t quantize_one(float x, const qrun_quantize_params* p) {
    const float r = roundf(x / p->scale);
    /* x86's conversion of NaN and out-of-range values: INT32_MIN. */
    const int32_t q = (r >= -2147483648.0f && r < 2147483648.0f) ? (int32_t)r : INT32_MIN;
    int32_t v = q + p->zero_point;
    v = v < p->qmin ? p->qmin : v;
    v = v > p->qmax ? p->qmax : v;
    return (uint8_t)v;
}

#if defined(QRUN_ISA_SCALAR)
static inline int64_t quantize_vectors(const qrun_quantize_params* p, const float* in,
                                       uint8_t* out, int64_t n) {
    (void)p, (void)in, (void)out, (void)n;
    return 0;
}
#else
#include "qrun_simd.h"

/* The leading whole vectors. roundf (half away from zero) as t + trunc(2 (d - t)) with
 * t = trunc(d): d - t and its double are exact, so this is roundf's value; NaN and infinities
 * stay NaN / infinite and convert to INT32_MIN as the scalar code's range check does. */
static int64_t quantize_vectors(const qrun_quantize_params* p, const float* in, uint8_t* out,
                                int64_t n) {
    const qrun_vf scale = QRUN_V_(set1_ps)(p->scale), two = QRUN_V_(set1_ps)(2.0f);
    const qrun_vi zero_point = QRUN_V_(set1_epi32)(p->zero_point);
    const qrun_vi qmin = QRUN_V_(set1_epi32)(p->qmin), qmax = QRUN_V_(set1_epi32)(p->qmax);
    int64_t i = 0;
    for (; i + QRUN_V_LANES <= n; i += QRUN_V_LANES) {
        const qrun_vf d = QRUN_V_(div_ps)(QRUN_V_(loadu_ps)(in + i), scale);
        const qrun_vf t = QRUN_V_TRUNC_PS(d);
        const qrun_vf r = QRUN_V_(add_ps)(
            t, QRUN_V_TRUNC_PS(QRUN_V_(mul_ps)(QRUN_V_(sub_ps)(d, t), two)));
        qrun_vi v = QRUN_V_(add_epi32)(QRUN_V_(cvttps_epi32)(r), zero_point);
        v = QRUN_V_(min_epi32)(QRUN_V_(max_epi32)(v, qmin), qmax);
        qrun_v_store_bytes(out + i, v);
    }
    return i;
}
#endif

static void quantize_run(const void* params, uint8_t* arena, int64_t begin, int64_t end) {
    const qrun_quantize_params* p = (const qrun_quantize_params*)params;
    const int64_t start = begin * QUANTIZE_BLOCK, stop = QRUN_MIN(end * QUANTIZE_BLOCK, p->n);
    const float* in = (const float*)(arena + p->in_off) + start;
    uint8_t* out = arena + p->out_off + start;
    for (int64_t i = quantize_vectors(p, in, out, stop - start); i < stop - start; i++)
        out[i] = quantize_one(in[i], p);
}

const qrun_op_entry qrun_quantize_entry = {quantize_tiles, quantize_run};
