/* Depthwise convolution through an indirection buffer, any kernel size and multiplier. */
#include "qrun.h"

static int64_t dwconv_tiles(const void* params) {
    return ((const qrun_dwconv_params*)params)->pixels;
}

/* Tiles are output pixels; each runs over every block of CR channels. */
static void dwconv_run(const void* params, uint8_t* arena, int64_t begin, int64_t end) {
    const qrun_dwconv_params* p = (const qrun_dwconv_params*)params;
    const int64_t blocks = (p->channels + QRUN_DW_CR - 1) / QRUN_DW_CR;
    const int64_t block_bytes = QRUN_DW_CR * 4 + p->taps * QRUN_DW_CR * 2;
    const uint8_t flip = (uint8_t)p->a_flip;
    const int64_t mult = p->multiplier;
    const qrun_requant rq = p->rq;   /* a local copy: stores to `out` cannot alias it */

    for (int64_t px = begin; px < end; px++) {
        const int64_t* ind = p->indirection + px * p->taps;
        uint8_t* out = arena + p->out_off + px * p->channels;
        for (int64_t b = 0; b < blocks; b++) {
            const uint8_t* packed = (const uint8_t*)p->packed_w + b * block_bytes;
            const int16_t* w = (const int16_t*)(packed + QRUN_DW_CR * 4);
            const int64_t c0 = b * QRUN_DW_CR;
            const int64_t cn = QRUN_MIN(QRUN_DW_CR, p->channels - c0);
            int32_t acc[QRUN_DW_CR];
            memcpy(acc, packed, sizeof acc);
            for (int64_t t = 0; t < p->taps; t++) {
                const uint8_t* a = ind[t] < 0 ? p->zero : arena + p->in_off + ind[t];
                const int16_t* wt = w + t * QRUN_DW_CR;
                if (mult == 1) {
                    for (int64_t j = 0; j < cn; j++)
                        acc[j] += qrun_load_a(a[c0 + j], flip) * (int32_t)wt[j];
                } else {
                    for (int64_t j = 0; j < cn; j++)
                        acc[j] += qrun_load_a(a[(c0 + j) / mult], flip) * (int32_t)wt[j];
                }
            }
            for (int64_t j = 0; j < cn; j++)
                out[c0 + j] = qrun_requantize(acc[j], rq.scale[c0 + j], &rq);
        }
    }
}

const qrun_op_entry qrun_dwconv_entry = {dwconv_tiles, dwconv_run};
