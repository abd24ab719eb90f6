/* RESIZE_BILINEAR, bit-exact with TFLite's reference kernel (integer path for int8, float32
 * path for uint8, in the reference's operation order).
 *
 * An output row is done in chunks of at most RESIZE_BLOCK elements (whole pixels, or one
 * pixel's channel range when a pixel has more channels). For a chunk, the horizontal pass
 * of an input row (gathering the left and right source pixel of every output pixel) is
 * cached and reused by all the output rows of the tile range that read that input row (an
 * 8x upscale reads each input row for ~16 output rows); the vertical pass then runs over
 * contiguous elements.
 *   integer: the cached row holds left * (1024 - dx) + right * dx, and the output is
 *     top * (1024 - dy) + bottom * dy: the reference's four-term int32 sum regrouped
 *     (exact: no term leaves int32).
 *   float: the cached row holds the left and right values as floats, and the vertical pass
 *     does the reference's float operations, in its order, on every element. */
#include "qrun.h"

#if defined(QRUN_ISA_SCALAR)
#define RESIZE_LANES 1
#else
#include "qrun_simd.h"
#define RESIZE_LANES QRUN_V_LANES
#endif

#define RESIZE_BLOCK 512

/* Pixels [xa, xb), channels [ka, ka + kn) of an output row: (xb - xa) * kn contiguous output
 * bytes (kn < channels only for a single pixel). */
typedef struct {
    int64_t xa, xb, ka, kn;
} resize_chunk;

/* One input row's horizontal pass over a chunk; a vector of slack for the last pixel's
 * spill. row: batch * in_h + y of the row held, -1 for none. */
typedef struct {
    int64_t row;
    int32_t mix[RESIZE_BLOCK + RESIZE_LANES];
    float left[RESIZE_BLOCK + RESIZE_LANES];
    float right[RESIZE_BLOCK + RESIZE_LANES];
} resize_row;

/* The horizontal pass of input row `in` for the chunk's pixels. Vector loops end with a
 * whole vector that spills into the next pixel's lanes (written after it) or the slack; their
 * loads stay inside the input tensor (`in_end`), else the scalar loop does the rest. */
static void resize_fill(const qrun_resize_params* p, const uint8_t* in, const uint8_t* in_end,
                        const resize_chunk* ch, resize_row* s) {
    (void)in_end;   /* the scalar build reads element by element */
    const int64_t c = p->channels;
    for (int64_t x = ch->xa; x < ch->xb; x++) {
        const uint8_t* l = in + p->x0[x] * c + ch->ka;
        const uint8_t* r = in + p->x1[x] * c + ch->ka;
        const int64_t at = (x - ch->xa) * ch->kn;
#if !defined(QRUN_ISA_SCALAR)
        const int64_t limit = in_end - (l > r ? l : r) - RESIZE_LANES;
#endif
        int64_t k = 0;
        if (p->integer) {
            const int32_t dx = p->ix[x];
            int32_t* o = s->mix + at;
#if !defined(QRUN_ISA_SCALAR)
            const qrun_vi ux_v = QRUN_V_(set1_epi32)(1024 - dx), dx_v = QRUN_V_(set1_epi32)(dx);
            for (; k < ch->kn && k <= limit; k += RESIZE_LANES)
                QRUN_V_STOREU(o + k, QRUN_V_(add_epi32)(
                    QRUN_V_(mullo_epi32)(qrun_v_load_bytes(l + k, 0), ux_v),
                    QRUN_V_(mullo_epi32)(qrun_v_load_bytes(r + k, 0), dx_v)));
#endif
            for (; k < ch->kn; k++)
                o[k] = (int8_t)l[k] * (1024 - dx) + (int8_t)r[k] * dx;
        } else {
            float* ol = s->left + at;
            float* or_ = s->right + at;
#if !defined(QRUN_ISA_SCALAR)
            /* Bytes as x - 128 (the flip), + 128: the exact value. */
            const qrun_vi bias = QRUN_V_(set1_epi32)(128);
            for (; k < ch->kn && k <= limit; k += RESIZE_LANES) {
                QRUN_V_(storeu_ps)(ol + k, QRUN_V_(cvtepi32_ps)(
                    QRUN_V_(add_epi32)(qrun_v_load_bytes(l + k, 0x80), bias)));
                QRUN_V_(storeu_ps)(or_ + k, QRUN_V_(cvtepi32_ps)(
                    QRUN_V_(add_epi32)(qrun_v_load_bytes(r + k, 0x80), bias)));
            }
#endif
            for (; k < ch->kn; k++) {
                ol[k] = (float)l[k];
                or_[k] = (float)r[k];
            }
        }
    }
}

/* The slot holding input row `row` (filled now if no slot does), never evicting `keep`. */
static const resize_row* resize_fetch(const qrun_resize_params* p, const uint8_t* image,
                                      const uint8_t* in_end, const resize_chunk* ch,
                                      resize_row slots[2], int64_t row, int64_t keep) {
    if (slots[0].row == row)
        return &slots[0];
    if (slots[1].row == row)
        return &slots[1];
    resize_row* s = slots[0].row == keep ? &slots[1] : &slots[0];
    resize_fill(p, image + row * p->in_w * p->channels, in_end, ch, s);
    s->row = row;
    return s;
}

/* Integer vertical pass: (top * (1024 - dy) + bottom * dy) / 2^20 rounded half away from
 * zero. The vectors round as total + 2^19 - 1 + (total > 0), shifted right by 20 (floor),
 * which equals the reference's truncating division of total +- 2^19. */
static void resize_blend_integer(const int32_t* top, const int32_t* bottom, int32_t dy,
                                 int64_t n, uint8_t* out) {
    int64_t i = 0;
#if !defined(QRUN_ISA_SCALAR)
    const qrun_vi uy_v = QRUN_V_(set1_epi32)(1024 - dy), dy_v = QRUN_V_(set1_epi32)(dy);
    const qrun_vi half = QRUN_V_(set1_epi32)((1 << 19) - 1), zero = QRUN_V_(set1_epi32)(0);
    for (; i + RESIZE_LANES <= n; i += RESIZE_LANES) {
        const qrun_vi total = QRUN_V_(add_epi32)(
            QRUN_V_(mullo_epi32)(QRUN_V_LOADU(top + i), uy_v),
            QRUN_V_(mullo_epi32)(QRUN_V_LOADU(bottom + i), dy_v));
        const qrun_vi positive = QRUN_V_(srli_epi32)(QRUN_V_(sub_epi32)(zero, total), 31);
        qrun_v_store_bytes(out + i, QRUN_V_(srai_epi32)(
            QRUN_V_(add_epi32)(QRUN_V_(add_epi32)(total, half), positive), 20));
    }
#endif
    for (; i < n; i++) {
        const int32_t total = top[i] * (1024 - dy) + bottom[i] * dy;
        out[i] = (uint8_t)((total + (total > 0 ? 1 << 19 : -(1 << 19))) / (1 << 20));
    }
}

/* Float vertical pass: the reference's
 * top_left * (1 - dy) * (1 - dx) + bottom_left * dy * (1 - dx) + top_right * (1 - dy) * dx
 * + bottom_right * dy * dx, left to right, + 0.5 truncated. */
static void resize_blend_float(const resize_row* top, const resize_row* bottom, float dy,
                               const float* ux, const float* dx, int64_t n, uint8_t* out) {
    const float uy = 1.0f - dy;
    int64_t i = 0;
#if !defined(QRUN_ISA_SCALAR)
    const qrun_vf uy_v = QRUN_V_(set1_ps)(uy), dy_v = QRUN_V_(set1_ps)(dy);
    const qrun_vf half = QRUN_V_(set1_ps)(0.5f);
    for (; i + RESIZE_LANES <= n; i += RESIZE_LANES) {
        const qrun_vf ux_i = QRUN_V_(loadu_ps)(ux + i), dx_i = QRUN_V_(loadu_ps)(dx + i);
        qrun_vf total = QRUN_V_(mul_ps)(
            QRUN_V_(mul_ps)(QRUN_V_(loadu_ps)(top->left + i), uy_v), ux_i);
        total = QRUN_V_(add_ps)(total, QRUN_V_(mul_ps)(
            QRUN_V_(mul_ps)(QRUN_V_(loadu_ps)(bottom->left + i), dy_v), ux_i));
        total = QRUN_V_(add_ps)(total, QRUN_V_(mul_ps)(
            QRUN_V_(mul_ps)(QRUN_V_(loadu_ps)(top->right + i), uy_v), dx_i));
        total = QRUN_V_(add_ps)(total, QRUN_V_(mul_ps)(
            QRUN_V_(mul_ps)(QRUN_V_(loadu_ps)(bottom->right + i), dy_v), dx_i));
        qrun_v_store_bytes(out + i, QRUN_V_(cvttps_epi32)(QRUN_V_(add_ps)(total, half)));
    }
#endif
    for (; i < n; i++) {
        float total = top->left[i] * uy * ux[i];
        total += bottom->left[i] * dy * ux[i];
        total += top->right[i] * uy * dx[i];
        total += bottom->right[i] * dy * dx[i];
        out[i] = (uint8_t)(int32_t)(total + 0.5f);
    }
}

static int64_t resize_tiles(const void* params) {
    const qrun_resize_params* p = (const qrun_resize_params*)params;
    return p->batch * p->out_h;
}

/* Tiles are output rows (batch, y); the chunk loop is outside the row loop so that a chunk's
 * cached input rows serve the whole tile range. */
static void resize_run(const void* params, uint8_t* arena, int64_t begin, int64_t end) {
    const qrun_resize_params* p = (const qrun_resize_params*)params;
    const int64_t c = p->channels;
    const uint8_t* image = arena + p->in_off;
    const uint8_t* in_end = image + p->batch * p->in_h * p->in_w * c;
    const int64_t kstep = QRUN_MIN(c, RESIZE_BLOCK), xstep = RESIZE_BLOCK / kstep;
    resize_row slots[2];
    float ux[RESIZE_BLOCK], dx[RESIZE_BLOCK];
    for (int64_t xa = 0; xa < p->out_w; xa += xstep) {
        for (int64_t ka = 0; ka < c; ka += kstep) {
            const resize_chunk ch = {xa, QRUN_MIN(xa + xstep, p->out_w), ka,
                                     QRUN_MIN(kstep, c - ka)};
            const int64_t n = (ch.xb - ch.xa) * ch.kn;
            if (!p->integer) {
                for (int64_t x = ch.xa; x < ch.xb; x++) {
                    for (int64_t k = 0; k < ch.kn; k++) {
                        ux[(x - ch.xa) * ch.kn + k] = 1.0f - p->fx[x];
                        dx[(x - ch.xa) * ch.kn + k] = p->fx[x];
                    }
                }
            }
            slots[0].row = slots[1].row = -1;
            for (int64_t row = begin; row < end; row++) {
                const int64_t b = row / p->out_h, y = row % p->out_h;
                const int64_t t = b * p->in_h + p->y0[y], u = b * p->in_h + p->y1[y];
                const resize_row* top = resize_fetch(p, image, in_end, &ch, slots, t, u);
                const resize_row* bottom = resize_fetch(p, image, in_end, &ch, slots, u, t);
                uint8_t* out = arena + p->out_off + (row * p->out_w + ch.xa) * c + ch.ka;
                if (p->integer)
                    resize_blend_integer(top->mix, bottom->mix, p->iy[y], n, out);
                else
                    resize_blend_float(top, bottom, p->fy[y], ux, dx, n, out);
            }
        }
    }
}

const qrun_op_entry qrun_resize_entry = {resize_tiles, resize_run};
