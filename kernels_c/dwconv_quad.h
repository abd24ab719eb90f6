/* Template of dwconv.c's int8-quad depthwise tile (AVX-512 VNNI build), included once per
 * variant: DQ_BITS 512 (64-channel blocks), 256 (32-channel blocks: the last block of channel
 * counts that leave at most 32 over a multiple of 64), DQ_PAIR (a 32-channel block of two
 * pixels, rows and rows_b, in one 512-bit vector: at most 32 channels in all), or DQ_PAIR
 * with DQ_ADJACENT (exactly 32 channels, each of the second pixel's rows 32 bytes after the
 * first's, its output right after the first's: one load per row, one store).
 *
 * One block from channel c0 (n of its DQ_CR channels real) of one pixel: vpdpbusd on 4 taps
 * at a time, the last group's missing taps zero bytes (no loads). int8 weights (uw 0):
 * activations + 128 (unsigned) times the weights. uint8 weights (uw 1): the raw weights
 * (unsigned) times the int8 activations, less the weight zero point (one per tensor, in a
 * register) times the activations. Byte then word unpacks of 4 rows give accumulator k,
 * 128-bit lane L, the channels 16 L + 4 k + i (the packed order); two packs restore channel
 * order. The requantization is qrun_simd.h's: float operations, and the lanes near a
 * rounding boundary recomputed with the integers. */
#if defined(DQ_PAIR)
#define DQ_(op) _mm512_##op
#define DQ_SI(op) _mm512_##op##_si512
#define DQ_CR 32
#define DQ_HALF_LANES 8   /* lanes 8..15: the second pixel */
#define DQ_INDEX_MASK 7   /* both halves hold the same 8 channels' constants */
#define dq_vi __m512i
#define dq_vf __m512
#define dq_mask __mmask32
#define DQ_CONST(ptr) _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i*)(ptr)))
#define DQ_CONST_PS(ptr) _mm512_broadcast_f32x8(_mm256_loadu_ps((const float*)(ptr)))
#if defined(DQ_ADJACENT)
#define DQ_TILE dwconv_quad_tile_pair_adjacent
#define DQ_OUT out
#define DQ_OUT_B (out + DQ_CR)
#define DQ_ROW(t) _mm512_loadu_si512((const void*)rows[t])
#define DQ_STORE(v) _mm512_storeu_si512((void*)out, v)
#else
#define DQ_TILE dwconv_quad_tile_pair
#define DQ_OUT (out + c0)
#define DQ_OUT_B (out_b + c0)
#define DQ_HALF(a) (full ? _mm256_loadu_si256((const __m256i*)(a)) \
                         : _mm256_maskz_loadu_epi8(mask, (a)))
#define DQ_ROW(t) _mm512_inserti64x4(_mm512_castsi256_si512(DQ_HALF(rows[t] + c0)), \
                                     DQ_HALF(rows_b[t] + c0), 1)
#define DQ_STORE(v)                                                                  \
    do {                                                                             \
        _mm256_mask_storeu_epi8(out + c0, mask, _mm512_castsi512_si256(v));          \
        _mm256_mask_storeu_epi8(out_b + c0, mask, _mm512_extracti64x4_epi64(v, 1));  \
    } while (0)
#endif
#elif DQ_BITS == 512
#define DQ_(op) _mm512_##op
#define DQ_SI(op) _mm512_##op##_si512
#define DQ_CR 64
#define DQ_HALF_LANES 16
#define DQ_INDEX_MASK -1
#define dq_vi __m512i
#define dq_vf __m512
#define dq_mask __mmask64
#define DQ_TILE dwconv_quad_tile_512
#else
#define DQ_(op) _mm256_##op
#define DQ_SI(op) _mm256_##op##_si256
#define DQ_CR 32
#define DQ_HALF_LANES 8
#define DQ_INDEX_MASK -1
#define dq_vi __m256i
#define dq_vf __m256
#define dq_mask __mmask32
#define DQ_TILE dwconv_quad_tile_256
#endif
#define DQ_STORE_I32(ptr, v) DQ_SI(storeu)((void*)(ptr), v)
#if !defined(DQ_PAIR)
#define DQ_OUT (out + c0)
#define DQ_OUT_B (out + c0)
#define DQ_ROW(t) (full ? DQ_SI(loadu)((const void*)(rows[t] + c0)) \
                        : DQ_(maskz_loadu_epi8)(mask, rows[t] + c0))
#define DQ_CONST(ptr) DQ_SI(loadu)((const void*)(ptr))
#define DQ_CONST_PS(ptr) DQ_(loadu_ps)((const float*)(ptr))
#define DQ_STORE(v) DQ_(mask_storeu_epi8)(out + c0, mask, v)
#endif

QRUN_TARGET_VNNI static inline __attribute__((always_inline)) void DQ_TILE(
        const qrun_dwconv_params* p, const uint8_t* const* rows, const uint8_t* const* rows_b,
        uint8_t* out, uint8_t* out_b, const uint8_t* packed, int64_t c0, int64_t n,
        const int64_t taps, const int uw) {
    /* unused by the adjacent pair variant: its rows are whole */
    const int full __attribute__((unused)) = n == DQ_CR;
    const dq_mask mask __attribute__((unused)) =
            full ? (dq_mask)~(dq_mask)0 : (dq_mask)(((uint64_t)1 << n) - 1);
    const dq_vi flip = DQ_(set1_epi8)((char)(uw ? p->a_flip : p->a_flip ^ 0x80));
    const dq_vi zw = DQ_(set1_epi8)((char)p->w_zero_point);
    dq_vi acc[4], zacc[4];
    for (int k = 0; k < 4; k++) {
        acc[k] = DQ_CONST(packed + DQ_CR * k);
        zacc[k] = DQ_SI(setzero)();
    }
    for (int64_t t = 0; t < taps; t += 4) {
        dq_vi r[4];
        for (int k = 0; k < 4; k++)
            r[k] = t + k < taps ? DQ_SI(xor)(DQ_ROW(t + k), flip) : DQ_SI(setzero)();
        const dq_vi lo01 = DQ_(unpacklo_epi8)(r[0], r[1]), hi01 = DQ_(unpackhi_epi8)(r[0], r[1]);
        const dq_vi lo23 = DQ_(unpacklo_epi8)(r[2], r[3]), hi23 = DQ_(unpackhi_epi8)(r[2], r[3]);
        const dq_vi quads[4] = {DQ_(unpacklo_epi16)(lo01, lo23), DQ_(unpackhi_epi16)(lo01, lo23),
                                DQ_(unpacklo_epi16)(hi01, hi23), DQ_(unpackhi_epi16)(hi01, hi23)};
        const uint8_t* w = packed + QRUN_DW_HEADER_BYTES(DQ_CR) + t * DQ_CR;
        for (int k = 0; k < 4; k++) {
            const dq_vi wk = DQ_CONST(w + DQ_CR * k);
            if (uw) {
                acc[k] = DQ_(dpbusd_epi32)(acc[k], wk, quads[k]);
                zacc[k] = DQ_(dpbusd_epi32)(zacc[k], zw, quads[k]);
            } else {
                acc[k] = DQ_(dpbusd_epi32)(acc[k], quads[k], wk);
            }
        }
    }
    if (uw) {
        for (int k = 0; k < 4; k++)
            acc[k] = DQ_(sub_epi32)(acc[k], zacc[k]);
    }
    /* qrun_v_requant_value(), qrun_v_requant_output() */
    dq_vi q[4];
    dq_vf frac[4];
    for (int k = 0; k < 4; k++) {
        const dq_vf scale = DQ_CONST_PS(packed + DQ_CR * 4 + DQ_CR * k);
        const dq_vf x = DQ_(cvtepi32_ps)(acc[k]);
        const dq_vf nudge = DQ_(or_ps)(
            DQ_(and_ps)(scale, DQ_(set1_ps)(qrun_float_of_bits(p->rq.nudge_mask))),
            DQ_(and_ps)(x, DQ_(set1_ps)(-0.0f)));
        dq_vf v = DQ_(fmadd_ps)(x, scale, nudge);
        v = DQ_(max_ps)(v, DQ_(set1_ps)(p->rq.min_less_zp));
        v = DQ_(min_ps)(v, DQ_(set1_ps)(p->rq.max_less_zp));
        frac[k] = DQ_(reduce_ps)(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        v = DQ_(add_ps)(v, DQ_(set1_ps)(12582912.0f));
        q[k] = DQ_(sub_epi32)(DQ_SI(castps)(v), DQ_(set1_epi32)(0x4B400000 - p->rq.zero_point));
    }
    const dq_vi low_bytes = DQ_(set1_epi16)(0xFF);
    const dq_vi words01 = DQ_SI(and)(DQ_(packs_epi32)(q[0], q[1]), low_bytes);
    const dq_vi words23 = DQ_SI(and)(DQ_(packs_epi32)(q[2], q[3]), low_bytes);
    DQ_STORE(DQ_(packus_epi16)(words01, words23));
    /* qrun_v_larger_frac() over the four, checked once */
    const dq_vf near_half = DQ_(set1_ps)(p->rq.near_half);
    const dq_vf larger = DQ_(range_ps)(DQ_(range_ps)(frac[0], frac[1], 0x0B),
                                       DQ_(range_ps)(frac[2], frac[3], 0x0B), 0x0B);
    if (__builtin_expect(DQ_(cmp_ps_mask)(larger, near_half, _CMP_GE_OQ) != 0, 0)) {
        qrun_requant_kept kept[4];
        int kept_count = 0;
        for (int k = 0; k < 4; k++) {
            const uint8_t* scales = packed + DQ_CR * 4 + DQ_CR * k;
            const int near = (int)DQ_(cmp_ps_mask)(
                DQ_(range_ps)(frac[k], frac[k], 0x0B), near_half, _CMP_GE_OQ);
            if (near != 0)
                QRUN_REQUANT_KEEP(kept, kept_count, DQ_STORE_I32, acc[k], near, DQ_OUT + 4 * k,
                                  DQ_OUT_B + 4 * k, DQ_HALF_LANES, n - 4 * k,
                                  QRUN_DW_MULTIPLIERS(scales, DQ_CR),
                                  QRUN_DW_SHIFTS(scales, DQ_CR), DQ_INDEX_MASK, QRUN_LANES_QUADS);
        }
        qrun_requantize_kept(kept, kept_count, &p->rq);
    }
}

#undef DQ_
#undef DQ_SI
#undef DQ_HALF_LANES
#undef DQ_OUT
#undef DQ_OUT_B
#undef DQ_INDEX_MASK
#undef DQ_STORE_I32
#undef DQ_CR
#undef DQ_TILE
#undef dq_vi
#undef dq_vf
#undef dq_mask
#undef DQ_ROW
#undef DQ_CONST
#undef DQ_CONST_PS
#undef DQ_STORE
#undef DQ_HALF
