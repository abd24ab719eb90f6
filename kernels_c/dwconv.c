/* Depthwise convolution through an indirection buffer, any kernel size and multiplier.
 *
 * Weights are packed per block of QRUN_DW_CR channels with their biases and scales, taps in
 * pairs (qrun_api.h). The SIMD kernels sign-extend two taps' activations to int16,
 * interleave them with 16-bit unpacks and multiply-add the pairs (pmaddwd), so the packed
 * channel order is the order those unpacks produce. They run 3x3 and 5x5 windows with the
 * tap count fixed at compile time, other windows generically, depth multiplier 1; the
 * portable kernel runs everything else and the scalar build. The AVX-512 VNNI build runs tap
 * quads (dwconv_quad.h). The SIMD row kernel runs few channels at horizontal stride 1 over
 * whole output rows with the pairs or the quad tile. */
#include "qrun.h"

static int64_t dwconv_tiles(const void* params) {
    const qrun_dwconv_params* p = (const qrun_dwconv_params*)params;
    return p->row_lanes ? p->rows : p->pixels;
}

static inline int64_t dwconv_block_bytes(int64_t taps) {
    return QRUN_DW_HEADER_BYTES(QRUN_DW_CR) + (taps + 1) / 2 * QRUN_DW_CR * 4;
}

static inline const uint8_t* dwconv_tap(const qrun_dwconv_params* p, const uint8_t* in,
                                        int64_t offset) {
    return offset < 0 ? p->zero : in + offset;
}

/* Tiles are output pixels; a range runs block by block (its channel map made once). */
static void dwconv_run_portable(const qrun_dwconv_params* p, uint8_t* arena, int64_t begin,
                                int64_t end) {
    const int64_t cr = QRUN_DW_CR, half = QRUN_DW_CR / 2;
    const int64_t blocks = (p->channels + cr - 1) / cr;
    const int64_t block_bytes = dwconv_block_bytes(p->taps);
    const uint8_t flip = (uint8_t)p->a_flip;
    const int64_t mult = p->multiplier;
    const qrun_requant rq = p->rq;   /* a local copy: stores to `out` cannot alias it */
    const uint8_t* in = arena + p->in_off;
    for (int64_t b = 0; b < blocks; b++) {
        const uint8_t* packed = (const uint8_t*)p->packed_w + b * block_bytes;
        const int16_t* w = (const int16_t*)(packed + QRUN_DW_HEADER_BYTES(cr));
        const int32_t* multiplier = QRUN_DW_MULTIPLIERS(packed + cr * 4, cr);
        const int32_t* shift = QRUN_DW_SHIFTS(packed + cr * 4, cr);
        int64_t chan[QRUN_DW_CR];   /* packed position -> output channel (-1: padding) */
        int64_t src[QRUN_DW_CR];    /* and the input channel it reads */
        for (int64_t k = 0; k < cr; k++) {
            const int64_t c = b * cr + (k % half) / 4 * 8 + k / half * 4 + k % 4;
            chan[k] = c < p->channels ? c : -1;
            src[k] = c < p->channels ? c / mult : 0;
        }
        for (int64_t px = begin; px < end; px++) {
            const int64_t* ind = p->indirection + px * p->taps;
            uint8_t* out = arena + p->out_off + px * p->channels;
            int32_t acc[QRUN_DW_CR];
            memcpy(acc, packed, sizeof acc);
            for (int64_t t = 0; t < p->taps; t++) {
                const uint8_t* a = dwconv_tap(p, in, ind[t]);
                const int16_t* wt = w + t / 2 * cr * 2 + t % 2;
                for (int64_t k = 0; k < cr; k++)   /* padding: a real byte, weight 0 */
                    acc[k] += qrun_load_a(a[src[k]], flip) * (int32_t)wt[2 * k];
            }
            for (int64_t k = 0; k < cr; k++) {
                if (chan[k] >= 0)
                    out[chan[k]] = qrun_requantize(acc[k], multiplier[k], shift[k], &rq);
            }
        }
    }
}

#if defined(QRUN_ISA_SCALAR)

static void dwconv_run(const void* params, uint8_t* arena, int64_t begin, int64_t end) {
    dwconv_run_portable((const qrun_dwconv_params*)params, arena, begin, end);
}

#else
#include "qrun_simd.h"

/* Per ISA: loading one block's activation bytes as a vector of DWCONV_T int16 (qrun_simd.h's
 * vector width) and storing its output bytes. Everything else is the same code on every
 * ISA, through QRUN_V_(). */
#if defined(QRUN_ISA_AVX512VNNI)

/* n < 32 bytes: masked, the rest read as zero (their weights are zero). */
static inline __m512i dwconv_load_i16(const uint8_t* a, int64_t n, uint8_t flip) {
    const __m256i x = n >= 32 ? _mm256_loadu_si256((const __m256i*)a)
                              : _mm256_maskz_loadu_epi8((__mmask32)((1ull << n) - 1), a);
    return _mm512_cvtepi8_epi16(_mm256_xor_si256(x, _mm256_set1_epi8((char)flip)));
}

/* q: output values as int32, positions [0, 16) and [16, 32); packs restores channel order. */
static inline void dwconv_store(uint8_t* out, __m512i q_lo, __m512i q_hi, int64_t n) {
    const __m256i bytes = _mm512_cvtepi16_epi8(_mm512_packs_epi32(q_lo, q_hi));
    if (n >= 32)
        _mm256_storeu_si256((__m256i*)out, bytes);
    else
        _mm256_mask_storeu_epi8(out, (__mmask32)((1ull << n) - 1), bytes);
}

#elif defined(QRUN_ISA_AVX2)

static inline __m256i dwconv_load_i16(const uint8_t* a, int64_t n, uint8_t flip) {
    uint8_t tail[16] = {0};
    if (n < 16)
        a = memcpy(tail, a, (size_t)n);
    const __m128i x = _mm_loadu_si128((const __m128i*)a);
    return _mm256_cvtepi8_epi16(_mm_xor_si128(x, _mm_set1_epi8((char)flip)));
}

static inline void dwconv_store(uint8_t* out, __m256i q_lo, __m256i q_hi, int64_t n) {
    const __m256i w = _mm256_and_si256(_mm256_packs_epi32(q_lo, q_hi), _mm256_set1_epi16(0xFF));
    const __m256i b = _mm256_permute4x64_epi64(_mm256_packus_epi16(w, w), 0x08);
    const __m128i bytes = _mm256_castsi256_si128(b);
    if (n >= 16) {
        _mm_storeu_si128((__m128i*)out, bytes);
    } else {
        uint8_t tail[16];
        _mm_storeu_si128((__m128i*)tail, bytes);
        memcpy(out, tail, (size_t)n);
    }
}

#elif defined(QRUN_ISA_SSE41)

static inline __m128i dwconv_load_i16(const uint8_t* a, int64_t n, uint8_t flip) {
    uint8_t tail[8] = {0};
    if (n < 8)
        a = memcpy(tail, a, (size_t)n);
    const __m128i x = _mm_loadl_epi64((const __m128i*)a);
    return _mm_cvtepi8_epi16(_mm_xor_si128(x, _mm_set1_epi8((char)flip)));
}

static inline void dwconv_store(uint8_t* out, __m128i q_lo, __m128i q_hi, int64_t n) {
    const __m128i w = _mm_and_si128(_mm_packs_epi32(q_lo, q_hi), _mm_set1_epi16(0xFF));
    const __m128i bytes = _mm_packus_epi16(w, w);
    if (n >= 8) {
        _mm_storel_epi64((__m128i*)out, bytes);
    } else {
        uint8_t tail[8];
        _mm_storel_epi64((__m128i*)tail, bytes);
        memcpy(out, tail, (size_t)n);
    }
}
#endif

#define DWCONV_T QRUN_DW_CR
#define DWCONV_NB 2   /* blocks per tile: two accumulator pairs per block hide latency */
#define DWCONV_ROW_NS 4   /* the row kernel's vector steps per tile, sharing their weights */

/* A block's lo and hi vectors requantized (the block's scales from `scale`, its multipliers
 * and shifts after them) and stored (n bytes at out); *larger: qrun_v_larger_frac. */
static inline void dwconv_requantize_store(uint8_t* out, qrun_vi lo, qrun_vi hi,
                                           const uint8_t* scale, int64_t n,
                                           const qrun_v_requant* rq, qrun_vf* larger) {
    const qrun_vf v_lo = qrun_v_requant_value(lo, QRUN_V_(loadu_ps)((const float*)scale), rq);
    const qrun_vf v_hi = qrun_v_requant_value(
        hi, QRUN_V_(loadu_ps)((const float*)(scale + DWCONV_T * 2)), rq);
    dwconv_store(out, qrun_v_requant_output(v_lo, rq), qrun_v_requant_output(v_hi, rq), n);
    *larger = qrun_v_larger_frac(qrun_v_larger_frac(*larger, v_lo, rq), v_hi, rq);
}

/* A tile's rare path: the block's lanes near a rounding boundary whose bytes are below keep_n
 * go to kept (qrun_requantize_kept). */
static void dwconv_requantize_keep(uint8_t* out, qrun_vi lo, qrun_vi hi, const uint8_t* scale,
                                   int64_t keep_n, const qrun_v_requant* rq,
                                   qrun_requant_kept* kept, int* count) {
    for (int h = 0; h < 2; h++) {
        const uint8_t* s = scale + h * DWCONV_T * 2;
        const qrun_vi acc = h ? hi : lo;
        const int near = qrun_v_near_half(
            qrun_v_requant_value(acc, QRUN_V_(loadu_ps)((const float*)s), rq), rq);
        if (near != 0)
            QRUN_REQUANT_KEEP(kept, *count, QRUN_V_STOREU, acc, near, out + 4 * h, out + 4 * h,
                              QRUN_V_LANES, keep_n - 4 * h, QRUN_DW_MULTIPLIERS(s, DWCONV_T),
                              QRUN_DW_SHIFTS(s, DWCONV_T), -1, QRUN_LANES_PAIRS);
    }
}

/* nb consecutive blocks from channel c0 of one pixel (n channels in all: nb * T, or fewer in
 * a last single block). taps is a compile-time constant for the specialised windows. */
static inline __attribute__((always_inline)) void dwconv_tile(
        const qrun_dwconv_params* p, const uint8_t* in, const int64_t* ind, uint8_t* out,
        const uint8_t* packed, int64_t c0, int64_t n, const qrun_v_requant* rq, const int64_t taps,
        const int nb) {
    const int64_t block_bytes = dwconv_block_bytes(taps);
    const uint8_t flip = (uint8_t)p->a_flip;
    qrun_vi lo[DWCONV_NB], hi[DWCONV_NB];
    for (int b = 0; b < nb; b++) {
        lo[b] = QRUN_V_LOADU(packed + b * block_bytes);
        hi[b] = QRUN_V_LOADU(packed + b * block_bytes + DWCONV_T * 2);
    }
    for (int64_t t = 0; t < taps; t += 2) {
        const uint8_t* a0 = dwconv_tap(p, in, ind[t]) + c0;
        const uint8_t* a1 = t + 1 < taps ? dwconv_tap(p, in, ind[t + 1]) + c0 : a0;
        const uint8_t* w = packed + QRUN_DW_HEADER_BYTES(DWCONV_T) + t / 2 * DWCONV_T * 4;
        for (int b = 0; b < nb; b++) {
            const int64_t nr = nb == 1 ? n : DWCONV_T;
            const qrun_vi r0 = dwconv_load_i16(a0 + b * DWCONV_T, nr, flip);
            const qrun_vi r1 = dwconv_load_i16(a1 + b * DWCONV_T, nr, flip);
            const uint8_t* wb = w + b * block_bytes;
            const qrun_vi pairs_lo = QRUN_V_(unpacklo_epi16)(r0, r1);
            const qrun_vi pairs_hi = QRUN_V_(unpackhi_epi16)(r0, r1);
            lo[b] = QRUN_V_(add_epi32)(lo[b], QRUN_V_(madd_epi16)(pairs_lo, QRUN_V_LOADU(wb)));
            hi[b] = QRUN_V_(add_epi32)(hi[b], QRUN_V_(madd_epi16)(pairs_hi,
                                                                 QRUN_V_LOADU(wb + DWCONV_T * 2)));
        }
    }
    qrun_vf larger = QRUN_V_(setzero_ps)();
    for (int b = 0; b < nb; b++)
        dwconv_requantize_store(out + c0 + b * DWCONV_T, lo[b], hi[b],
                                packed + b * block_bytes + DWCONV_T * 4, nb == 1 ? n : DWCONV_T,
                                rq, &larger);
    if (__builtin_expect(qrun_v_any_near_half(larger, rq), 0)) {
        qrun_requant_kept kept[2 * DWCONV_NB];
        int kept_count = 0;
        for (int b = 0; b < nb; b++)
            dwconv_requantize_keep(out + c0 + b * DWCONV_T, lo[b], hi[b],
                                   packed + b * block_bytes + DWCONV_T * 4,
                                   nb == 1 ? n : DWCONV_T, rq, kept, &kept_count);
        qrun_requantize_kept(kept, kept_count, rq->rq);
    }
}

static inline __attribute__((always_inline)) void dwconv_pixels(
        const qrun_dwconv_params* p, uint8_t* arena, int64_t begin, int64_t end,
        const int64_t taps) {
    const int64_t block_bytes = dwconv_block_bytes(taps);
    const uint8_t* in = arena + p->in_off;
    const qrun_v_requant rq = qrun_v_requant_of(&p->rq);
    for (int64_t px = begin; px < end; px++) {
        const int64_t* ind = p->indirection + px * taps;
        uint8_t* out = arena + p->out_off + px * p->channels;
        const uint8_t* packed = (const uint8_t*)p->packed_w;
        int64_t c0 = 0;
        for (; c0 + DWCONV_NB * DWCONV_T <= p->channels; c0 += DWCONV_NB * DWCONV_T) {
            dwconv_tile(p, in, ind, out, packed, c0, DWCONV_NB * DWCONV_T, &rq, taps, DWCONV_NB);
            packed += DWCONV_NB * block_bytes;
        }
        for (; c0 < p->channels; c0 += DWCONV_T) {
            dwconv_tile(p, in, ind, out, packed, c0, QRUN_MIN(DWCONV_T, p->channels - c0), &rq,
                        taps, 1);
            packed += block_bytes;
        }
    }
}

#if defined(QRUN_ISA_AVX512VNNI)
/* The quad layout (multiplier 1): blocks of 64 channels, and a last block of 32 when the
 * channels leave at most 32 over a multiple of 64 (packing.pack_dwconv_quads), each with its
 * biases and scales, then per group of 4 taps the block's int8 weight quads (quads 1), or its
 * raw uint8 weight quads (quads 2). */
#define DQ_BITS 512
#include "dwconv_quad.h"
#undef DQ_BITS
#define DQ_BITS 256
#include "dwconv_quad.h"
#undef DQ_BITS
#define DQ_PAIR 1
#include "dwconv_quad.h"
#define DQ_ADJACENT 1
#include "dwconv_quad.h"
#undef DQ_ADJACENT
#undef DQ_PAIR
/* The row kernel's functions run the quad tile too. */
#define DWCONV_ROW_TARGET QRUN_TARGET_VNNI
#else
#define DWCONV_ROW_TARGET
#endif

/* ns vector steps of one output row (out_bytes long) from byte j0, row_lanes bytes apart, all
 * with the one packed block's per-lane weights; tap (ky, kx) of output byte j reads byte
 * j + row_shifts[kx] - base of rows[ky]. Each step stores a whole vector where the row has
 * room: its lanes past row_lanes are garbage that the next step overwrites. taps and kw are
 * compile-time constants for 3x3. */
static inline __attribute__((always_inline)) void dwconv_row_tile(
        const qrun_dwconv_params* p, const uint8_t* const* rows, int64_t base, uint8_t* out,
        int64_t j0, int64_t out_bytes, const qrun_v_requant* rq, const int64_t taps,
        const int64_t kw, const int ns) {
    const uint8_t* packed = (const uint8_t*)p->packed_w;
    const int64_t step = p->row_lanes;
    const uint8_t flip = (uint8_t)p->a_flip;
    qrun_vi lo[DWCONV_ROW_NS], hi[DWCONV_ROW_NS];
#pragma GCC unroll 4
    for (int s = 0; s < ns; s++) {
        lo[s] = QRUN_V_LOADU(packed);
        hi[s] = QRUN_V_LOADU(packed + DWCONV_T * 2);
    }
#pragma GCC unroll 16
    for (int64_t t = 0; t < taps; t += 2) {
        const uint8_t* w = packed + QRUN_DW_HEADER_BYTES(DWCONV_T) + t / 2 * DWCONV_T * 4;
        const qrun_vi w_lo = QRUN_V_LOADU(w), w_hi = QRUN_V_LOADU(w + DWCONV_T * 2);
        const int64_t t1 = t + 1 < taps ? t + 1 : t;
        const uint8_t* a0 = rows[t / kw] + p->row_shifts[t % kw] + j0 - base;
        const uint8_t* a1 = rows[t1 / kw] + p->row_shifts[t1 % kw] + j0 - base;
#pragma GCC unroll 4
        for (int s = 0; s < ns; s++) {
            const qrun_vi r0 = dwconv_load_i16(a0 + s * step, DWCONV_T, flip);
            const qrun_vi r1 = dwconv_load_i16(a1 + s * step, DWCONV_T, flip);
            lo[s] = QRUN_V_(add_epi32)(lo[s], QRUN_V_(madd_epi16)(QRUN_V_(unpacklo_epi16)(r0, r1),
                                                                  w_lo));
            hi[s] = QRUN_V_(add_epi32)(hi[s], QRUN_V_(madd_epi16)(QRUN_V_(unpackhi_epi16)(r0, r1),
                                                                  w_hi));
        }
    }
    qrun_vf larger = QRUN_V_(setzero_ps)();
#pragma GCC unroll 4
    for (int s = 0; s < ns; s++) {
        const int64_t j = j0 + s * step;
        dwconv_requantize_store(out + j, lo[s], hi[s], packed + DWCONV_T * 4,
                                QRUN_MIN(DWCONV_T, out_bytes - j), rq, &larger);
    }
    if (__builtin_expect(qrun_v_any_near_half(larger, rq), 0)) {
        /* a step's lanes past its row_lanes bytes are the next step's, stored after it: kept
         * lanes stop at row_lanes */
        qrun_requant_kept kept[2 * DWCONV_ROW_NS];
        int kept_count = 0;
        for (int s = 0; s < ns; s++) {
            const int64_t j = j0 + s * step;
            dwconv_requantize_keep(out + j, lo[s], hi[s], packed + DWCONV_T * 4,
                                   QRUN_MIN(step, out_bytes - j), rq, kept, &kept_count);
        }
        qrun_requantize_kept(kept, kept_count, rq->rq);
    }
}

/* Bytes a row kernel step reads from each tap's row: one int16 vector's worth, or the quad
 * tile's 64. */
#define DWCONV_ROW_BYTES(quad) ((quad) ? 64 : DWCONV_T)

/* ns steps from byte j0 (see dwconv_row_tile): the int16 pairs, or (quad, AVX-512 VNNI) one
 * quad tile per step over the taps' bytes, uw as in dwconv_quad.h. */
DWCONV_ROW_TARGET static inline __attribute__((always_inline)) void dwconv_row_steps(
        const qrun_dwconv_params* p, const uint8_t* const* rows, int64_t base, uint8_t* out,
        int64_t j0, int64_t out_bytes, const qrun_v_requant* rq, const int64_t taps,
        const int64_t kw, const int ns, const int quad, const int uw) {
#if defined(QRUN_ISA_AVX512VNNI)
    if (quad) {
        const uint8_t* at[taps];
        for (int s = 0; s < ns; s++) {
            const int64_t j = j0 + s * p->row_lanes;
            for (int64_t t = 0; t < taps; t++)
                at[t] = rows[t / kw] + (p->row_shifts[t % kw] + j - base);
            dwconv_quad_tile_512(p, at, NULL, out + j, NULL, (const uint8_t*)p->packed_w, 0,
                                 QRUN_MIN(64, out_bytes - j), taps, uw);
        }
        return;
    }
#endif
    dwconv_row_tile(p, rows, base, out, j0, out_bytes, rq, taps, kw, ns);
}

/* The steps from j0 up to j_end whose loads reach outside the input rows: they read copies of
 * the bytes they need, the input zero point outside the rows. */
DWCONV_ROW_TARGET static void dwconv_row_edge(const qrun_dwconv_params* p,
                                              const uint8_t* const* rows, uint8_t* out,
                                              int64_t j0, int64_t j_end, int64_t out_bytes,
                                              const qrun_v_requant* rq, int quad, int uw) {
    const int64_t kh = p->taps / p->kernel_w, step = p->row_lanes;
    const int64_t lo = j0 + p->row_shifts[0];
    const int64_t len = (j_end - 1 - j0) / step * step + j0 + p->row_shifts[p->kernel_w - 1] +
                        DWCONV_ROW_BYTES(quad) - lo;
    uint8_t bytes[kh][len];
    const uint8_t* copies[kh];
    const int64_t from = lo < 0 ? 0 : lo, to = QRUN_MIN(lo + len, p->in_row_bytes);
    for (int64_t ky = 0; ky < kh; ky++) {
        memset(bytes[ky], p->zero[0], (size_t)len);
        if (to > from)
            memcpy(bytes[ky] + (from - lo), rows[ky] + from, (size_t)(to - from));
        copies[ky] = bytes[ky];
    }
    for (int64_t j = j0; j < j_end; j += step) {
        if (quad)
            dwconv_row_steps(p, copies, lo, out, j, out_bytes, rq, p->taps, p->kernel_w, 1, 1,
                             uw);
        else
            dwconv_row_steps(p, copies, lo, out, j, out_bytes, rq, p->taps, p->kernel_w, 1, 0,
                             0);
    }
}

/* Output rows [begin, end): the steps whose loads all fall inside the input rows DWCONV_ROW_NS
 * at a time for the pairs (then one at a time), those at the row's two ends through
 * dwconv_row_edge. Padding rows read the zero row (the input zero point, in_row_bytes
 * long). */
DWCONV_ROW_TARGET static inline __attribute__((always_inline)) void dwconv_rows(
        const qrun_dwconv_params* p, uint8_t* arena, int64_t begin, int64_t end,
        const int64_t taps, const int64_t kw, const int quad, const int uw) {
    const int64_t kh = taps / kw, step = p->row_lanes;
    const int ns = quad ? 1 : DWCONV_ROW_NS;
    const int64_t out_bytes = p->row_pixels * p->channels;
    /* row_shifts grow with kx: a step j reads bytes [j + first, j + last) of each row */
    const int64_t first = p->row_shifts[0];
    const int64_t last = p->row_shifts[kw - 1] + DWCONV_ROW_BYTES(quad);
    const int64_t j_in = QRUN_MIN(first >= 0 ? 0 : (-first + step - 1) / step * step,
                                  (out_bytes + step - 1) / step * step);
    const uint8_t* in = arena + p->in_off;
    const qrun_v_requant rq = qrun_v_requant_of(&p->rq);
    const uint8_t* rows[kh];
    for (int64_t r = begin; r < end; r++) {
        for (int64_t ky = 0; ky < kh; ky++) {
            const int64_t off = p->row_indirection[r * kh + ky];
            rows[ky] = off < 0 ? p->zero : in + off;
        }
        uint8_t* out = arena + p->out_off + r * out_bytes;
        if (j_in > 0)
            dwconv_row_edge(p, rows, out, 0, j_in, out_bytes, &rq, quad, uw);
        int64_t j = j_in;
        for (; j + ns * step <= out_bytes && j + (ns - 1) * step + last <= p->in_row_bytes;
             j += ns * step)
            dwconv_row_steps(p, rows, 0, out, j, out_bytes, &rq, taps, kw, ns, quad, uw);
        for (; j < out_bytes && j + last <= p->in_row_bytes; j += step)
            dwconv_row_steps(p, rows, 0, out, j, out_bytes, &rq, taps, kw, 1, quad, uw);
        if (j < out_bytes)
            dwconv_row_edge(p, rows, out, j, out_bytes, out_bytes, &rq, quad, uw);
    }
}

/* The row kernel, 3x3 windows specialised: int16 pairs, or the quads' layout (quads). */
#define DWCONV_ROWS(quad, uw)                                                                 \
    (p->taps == 9 && p->kernel_w == 3                                                         \
             ? dwconv_rows(p, arena, begin, end, 9, 3, quad, uw)                              \
             : dwconv_rows(p, arena, begin, end, p->taps, p->kernel_w, quad, uw))

DWCONV_ROW_TARGET static void dwconv_run_rows(const qrun_dwconv_params* p, uint8_t* arena,
                                              int64_t begin, int64_t end) {
#if defined(QRUN_ISA_AVX512VNNI)
    if (p->quads == 1) {
        DWCONV_ROWS(1, 0);
        return;
    }
    if (p->quads == 2) {
        DWCONV_ROWS(1, 1);
        return;
    }
#endif
    DWCONV_ROWS(0, 0);
}

#if defined(QRUN_ISA_AVX512VNNI)
/* Whether pixel px + 1 reads, tap by tap, the 32 bytes after pixel px's (no padding taps):
 * a 32-channel layer's neighbours in a row, at stride 1. */
static inline int dwconv_quad_adjacent(const qrun_dwconv_params* p, int64_t px, int64_t taps) {
    const int64_t* ind = p->indirection + px * taps;
    int ok = p->channels == 32;
    for (int64_t t = 0; t < taps; t++)
        ok &= (ind[t] >= 0) & (ind[taps + t] == ind[t] + 32);
    return ok;
}

/* Pixel px's input rows, one per tap. */
static inline void dwconv_quad_rows(const qrun_dwconv_params* p, const uint8_t* in, int64_t px,
                                    int64_t taps, const uint8_t** rows) {
    const int64_t* ind = p->indirection + px * taps;
    for (int64_t t = 0; t < taps; t++)
        rows[t] = dwconv_tap(p, in, ind[t]);
}

QRUN_TARGET_VNNI static inline __attribute__((always_inline)) void dwconv_quad_pixels(
        const qrun_dwconv_params* p, uint8_t* arena, int64_t begin, int64_t end,
        const int64_t taps, const int uw) {
    const int64_t block_bytes = QRUN_DW_HEADER_BYTES(64) + (taps + 3) / 4 * 4 * 64;
    const int64_t wide = p->channels % 64 > 32 ? (p->channels + 63) / 64 : p->channels / 64;
    const uint8_t* in = arena + p->in_off;
    const uint8_t* rows[taps];   /* the pixel's input rows, for every block */
    const uint8_t* rows_b[taps];
    int64_t px = begin;
    if (wide == 0) {   /* at most 32 channels: two pixels at a time in 512 bits */
        for (; px + 2 <= end; px += 2) {
            uint8_t* out = arena + p->out_off + px * p->channels;
            dwconv_quad_rows(p, in, px, taps, rows);
            if (dwconv_quad_adjacent(p, px, taps)) {
                dwconv_quad_tile_pair_adjacent(p, rows, NULL, out, NULL,
                                               (const uint8_t*)p->packed_w, 0, 32, taps, uw);
                continue;
            }
            dwconv_quad_rows(p, in, px + 1, taps, rows_b);
            dwconv_quad_tile_pair(p, rows, rows_b, out, out + p->channels,
                                  (const uint8_t*)p->packed_w, 0, p->channels, taps, uw);
        }
    } else if (64 * wide < p->channels) {   /* the last 32-channel block of two pixels at once */
        for (; px + 2 <= end; px += 2) {
            dwconv_quad_rows(p, in, px, taps, rows);
            dwconv_quad_rows(p, in, px + 1, taps, rows_b);
            uint8_t* out = arena + p->out_off + px * p->channels;
            const uint8_t* packed = (const uint8_t*)p->packed_w;
            for (int64_t b = 0; b < wide; b++) {
                dwconv_quad_tile_512(p, rows, NULL, out, NULL, packed, 64 * b, 64, taps, uw);
                dwconv_quad_tile_512(p, rows_b, NULL, out + p->channels, NULL, packed, 64 * b,
                                     64, taps, uw);
                packed += block_bytes;
            }
            dwconv_quad_tile_pair(p, rows, rows_b, out, out + p->channels, packed, 64 * wide,
                                  p->channels - 64 * wide, taps, uw);
        }
    }
    for (; px < end; px++) {
        uint8_t* out = arena + p->out_off + px * p->channels;
        const uint8_t* packed = (const uint8_t*)p->packed_w;
        dwconv_quad_rows(p, in, px, taps, rows);
        for (int64_t b = 0; b < wide; b++) {
            dwconv_quad_tile_512(p, rows, NULL, out, NULL, packed, 64 * b,
                                 QRUN_MIN(64, p->channels - 64 * b), taps, uw);
            packed += block_bytes;
        }
        if (64 * wide < p->channels)
            dwconv_quad_tile_256(p, rows, NULL, out, NULL, packed, 64 * wide,
                                 p->channels - 64 * wide, taps, uw);
    }
}

QRUN_TARGET_VNNI static void dwconv_run_quads(const qrun_dwconv_params* p, uint8_t* arena,
                                              int64_t begin, int64_t end) {
    if (p->quads == 2) {
        if (p->taps == 9)
            dwconv_quad_pixels(p, arena, begin, end, 9, 1);
        else if (p->taps == 25)
            dwconv_quad_pixels(p, arena, begin, end, 25, 1);
        else
            dwconv_quad_pixels(p, arena, begin, end, p->taps, 1);
    } else {
        if (p->taps == 9)
            dwconv_quad_pixels(p, arena, begin, end, 9, 0);
        else if (p->taps == 25)
            dwconv_quad_pixels(p, arena, begin, end, 25, 0);
        else
            dwconv_quad_pixels(p, arena, begin, end, p->taps, 0);
    }
}
#endif

static void dwconv_run(const void* params, uint8_t* arena, int64_t begin, int64_t end) {
    const qrun_dwconv_params* p = (const qrun_dwconv_params*)params;
    if (p->row_lanes) {
        dwconv_run_rows(p, arena, begin, end);
        return;
    }
#if defined(QRUN_ISA_AVX512VNNI)
    if (p->quads) {
        dwconv_run_quads(p, arena, begin, end);
        return;
    }
#endif
    if (p->multiplier != 1)
        dwconv_run_portable(p, arena, begin, end);
    else if (p->taps == 9)
        dwconv_pixels(p, arena, begin, end, 9);
    else if (p->taps == 25)
        dwconv_pixels(p, arena, begin, end, 25);
    else
        dwconv_pixels(p, arena, begin, end, p->taps);
}
#endif

const qrun_op_entry qrun_dwconv_entry = {dwconv_tiles, dwconv_run};
