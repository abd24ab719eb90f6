/* Byte-level ops: table lookup, range copies, fills, transposition. Exact by construction. */
#include "qrun.h"

#define DATAMOVE_BLOCK 4096

static int64_t lut_tiles(const void* params) {
    return (((const qrun_lut_params*)params)->n + DATAMOVE_BLOCK - 1) / DATAMOVE_BLOCK;
}

static void lut_run(const void* params, uint8_t* arena, int64_t begin, int64_t end) {
    const qrun_lut_params* p = (const qrun_lut_params*)params;
    const uint8_t* QRUN_RESTRICT in = arena + p->in_off;
    uint8_t* QRUN_RESTRICT out = arena + p->out_off;
    const int64_t stop = QRUN_MIN(end * DATAMOVE_BLOCK, p->n);
    if (p->out_size == 1) {
        for (int64_t i = begin * DATAMOVE_BLOCK; i < stop; i++)
            out[i] = p->table[in[i]];
    } else {
        for (int64_t i = begin * DATAMOVE_BLOCK; i < stop; i++)
            memcpy(out + 4 * i, p->table + 4 * in[i], 4);
    }
}

static int64_t copy_tiles(const void* params) {
    return ((const qrun_copy_params*)params)->count;
}

static void copy_run(const void* params, uint8_t* arena, int64_t begin, int64_t end) {
    const qrun_copy_params* p = (const qrun_copy_params*)params;
    for (int64_t r = begin; r < end; r++) {
        const int64_t* range = p->ranges + 3 * r;
        if (p->table == NULL) {
            memcpy(arena + range[1], arena + range[0], (size_t)range[2]);
        } else {
            const uint8_t* QRUN_RESTRICT in = arena + range[0];
            uint8_t* QRUN_RESTRICT out = arena + range[1];
            for (int64_t i = 0; i < range[2]; i++)
                out[i] = p->table[in[i]];
        }
    }
}

static int64_t fill_tiles(const void* params) {
    return (((const qrun_fill_params*)params)->nbytes + DATAMOVE_BLOCK - 1) / DATAMOVE_BLOCK;
}

static void fill_run(const void* params, uint8_t* arena, int64_t begin, int64_t end) {
    const qrun_fill_params* p = (const qrun_fill_params*)params;
    const int64_t start = begin * DATAMOVE_BLOCK;
    const int64_t stop = QRUN_MIN(end * DATAMOVE_BLOCK, p->nbytes);
    memset(arena + p->off + start, p->value, (size_t)(stop - start));
}

static int64_t transpose_tiles(const void* params) {
    const qrun_transpose_params* p = (const qrun_transpose_params*)params;
    return p->shape[0] * p->shape[1] * p->shape[2] * p->shape[3];
}

/* Tiles are output rows of `inner` bytes. */
static void transpose_run(const void* params, uint8_t* arena, int64_t begin, int64_t end) {
    const qrun_transpose_params* p = (const qrun_transpose_params*)params;
    const int64_t step = p->stride[4];
    for (int64_t row = begin; row < end; row++) {
        int64_t rest = row, src = 0;
        for (int d = 3; d >= 0; d--) {
            src += (rest % p->shape[d]) * p->stride[d];
            rest /= p->shape[d];
        }
        const uint8_t* QRUN_RESTRICT in = arena + p->in_off + src;
        uint8_t* QRUN_RESTRICT out = arena + p->out_off + row * p->inner;
        for (int64_t j = 0; j < p->inner; j++)
            out[j] = in[j * step];
    }
}

const qrun_op_entry qrun_lut_entry = {lut_tiles, lut_run};
const qrun_op_entry qrun_copy_entry = {copy_tiles, copy_run};
const qrun_op_entry qrun_fill_entry = {fill_tiles, fill_run};
const qrun_op_entry qrun_transpose_entry = {transpose_tiles, transpose_run};
