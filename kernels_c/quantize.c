/* QUANTIZE float32 -> int8/uint8, exact with TFLite's reference AffineQuantize. */
#include <math.h>

#include "qrun.h"

#define QUANTIZE_BLOCK 4096

static int64_t quantize_tiles(const void* params) {
    return (((const qrun_quantize_params*)params)->n + QUANTIZE_BLOCK - 1) / QUANTIZE_BLOCK;
}

static void quantize_run(const void* params, uint8_t* arena, int64_t begin, int64_t end) {
    const qrun_quantize_params* p = (const qrun_quantize_params*)params;
    const float* in = (const float*)(arena + p->in_off);
    uint8_t* out = arena + p->out_off;
    const int64_t stop = QRUN_MIN(end * QUANTIZE_BLOCK, p->n);
    for (int64_t i = begin * QUANTIZE_BLOCK; i < stop; i++) {
        const float r = roundf(in[i] / p->scale);
        /* x86's conversion of NaN and out-of-range values: INT32_MIN. */
        const int32_t q = (r >= -2147483648.0f && r < 2147483648.0f) ? (int32_t)r : INT32_MIN;
        int32_t v = q + p->zero_point;
        v = v < p->qmin ? p->qmin : v;
        v = v > p->qmax ? p->qmax : v;
        out[i] = (uint8_t)v;
    }
}

const qrun_op_entry qrun_quantize_entry = {quantize_tiles, quantize_run};
