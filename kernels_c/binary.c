/* ADD, SUB, MUL with broadcasting, requantized in fp32; other binary byte ops through an
 * exact 256 x 256 table. */
#include "qrun.h"

static int64_t binary_tiles(const void* params) {
    const qrun_binary_params* p = (const qrun_binary_params*)params;
    return p->shape[0] * p->shape[1] * p->shape[2] * p->shape[3];
}

/* Tiles are output rows of `inner` elements. */
static void binary_run(const void* params, uint8_t* arena, int64_t begin, int64_t end) {
    const qrun_binary_params* p = (const qrun_binary_params*)params;
    const uint8_t flip = (uint8_t)p->flip;
    const int64_t sa = p->a_stride[4], sb = p->b_stride[4];
    for (int64_t row = begin; row < end; row++) {
        int64_t rest = row, ia = 0, ib = 0;
        for (int d = 3; d >= 0; d--) {
            const int64_t i = rest % p->shape[d];
            rest /= p->shape[d];
            ia += i * p->a_stride[d];
            ib += i * p->b_stride[d];
        }
        const uint8_t* a = (p->a_const ? p->a_const : arena + p->a_off) + ia;
        const uint8_t* b = (p->b_const ? p->b_const : arena + p->b_off) + ib;
        uint8_t* out = arena + p->out_off + row * p->inner;
        if (p->kind == QRUN_BINARY_TABLE) {
            for (int64_t j = 0; j < p->inner; j++)
                out[j] = p->table[((size_t)a[j * sa] << 8) | b[j * sb]];
        } else if (p->kind == QRUN_BINARY_MUL) {
            for (int64_t j = 0; j < p->inner; j++) {
                const int32_t prod = (qrun_load_a(a[j * sa], flip) - p->a_zero) *
                                     (qrun_load_a(b[j * sb], flip) - p->b_zero);
                out[j] = qrun_quantize((float)prod * p->a_scale, &p->rq);
            }
        } else {
            for (int64_t j = 0; j < p->inner; j++) {
                const float va = (float)(qrun_load_a(a[j * sa], flip) - p->a_zero) * p->a_scale;
                const float vb = (float)(qrun_load_a(b[j * sb], flip) - p->b_zero) * p->b_scale;
                out[j] = qrun_quantize(va + vb, &p->rq);
            }
        }
    }
}

const qrun_op_entry qrun_binary_entry = {binary_tiles, binary_run};
