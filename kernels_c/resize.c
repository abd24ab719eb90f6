/* RESIZE_BILINEAR, bit-exact with TFLite's reference kernel (integer path for int8, float32
 * path for uint8, in the reference's operation order). */
#include "qrun.h"

static int64_t resize_tiles(const void* params) {
    const qrun_resize_params* p = (const qrun_resize_params*)params;
    return p->batch * p->out_h;
}

/* Tiles are output rows (batch, y). */
static void resize_run(const void* params, uint8_t* arena, int64_t begin, int64_t end) {
    const qrun_resize_params* p = (const qrun_resize_params*)params;
    const int64_t c = p->channels;
    for (int64_t row = begin; row < end; row++) {
        const int64_t b = row / p->out_h, y = row % p->out_h;
        const uint8_t* image = arena + p->in_off + b * p->in_h * p->in_w * c;
        const uint8_t* top = image + p->y0[y] * p->in_w * c;
        const uint8_t* bottom = image + p->y1[y] * p->in_w * c;
        uint8_t* out = arena + p->out_off + row * p->out_w * c;
        for (int64_t x = 0; x < p->out_w; x++) {
            const int64_t l = p->x0[x] * c, r = p->x1[x] * c;
            uint8_t* o = out + x * c;
            if (p->integer) {
                const int32_t dy = p->iy[y], dx = p->ix[x];
                const int32_t wtl = (1024 - dy) * (1024 - dx), wbl = dy * (1024 - dx);
                const int32_t wtr = (1024 - dy) * dx, wbr = dy * dx;
                for (int64_t k = 0; k < c; k++) {
                    const int32_t total = (int8_t)top[l + k] * wtl + (int8_t)bottom[l + k] * wbl +
                                          (int8_t)top[r + k] * wtr + (int8_t)bottom[r + k] * wbr;
                    o[k] = (uint8_t)((total + (total > 0 ? 1 << 19 : -(1 << 19))) / (1 << 20));
                }
            } else {
                const float dy = p->fy[y], dx = p->fx[x];
                const float uy = 1.0f - dy, ux = 1.0f - dx;
                for (int64_t k = 0; k < c; k++) {
                    float total = (float)top[l + k] * uy * ux;
                    total += (float)bottom[l + k] * dy * ux;
                    total += (float)top[r + k] * uy * dx;
                    total += (float)bottom[r + k] * dy * dx;
                    o[k] = (uint8_t)(int32_t)(total + 0.5f);
                }
            }
        }
    }
}

const qrun_op_entry qrun_resize_entry = {resize_tiles, resize_run};
