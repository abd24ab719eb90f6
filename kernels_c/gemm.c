/* GEMM and indirect GEMM (convolution) with the requantization epilogue (exact: qrun_requant).
 *
 * Both run the same MR x NR block kernel per ISA; they differ only in how row r of A at tap t
 * is found: GEMM rows are strided, IGEMM rows come from the indirection buffer.
 * Kernels: scalar (KR 1), SSE4.1 / AVX2 (KR 2: A and W sign-extended to 16 bits, pmaddwd),
 * AVX-512 VNNI (KR 4, or 8 for 16-channel blocks: vpdpbusd, unsigned x signed bytes: A as the
 * value + 128; QRUN_GEMM_DOT_OFFSET tells the packer). All keep the same int32
 * accumulators (wrapping) and requantize them as the reference does, so every ISA gives the
 * same bytes.
 */
#include "qrun.h"

#if !defined(QRUN_ISA_SCALAR)
#include "qrun_simd.h"
#endif

static inline int64_t gemm_round_up(int64_t x, int64_t q) {
    return (x + q - 1) / q * q;
}

#if !defined(QRUN_ISA_AVX512VNNI)
/* A running sum of bytes read as int8 (x ^ flip). The SSE4.1 / AVX2 builds add up the bytes
 * x ^ flip ^ 0x80 (the int8 value + 128) with psadbw into a vector, reduced and less 128 per
 * byte once at the end; the other bytes go to `sum`. */
typedef struct {
#if !defined(QRUN_ISA_SCALAR)
    __m128i v;
#endif
    int64_t biased;   /* bytes in v */
    int32_t sum;
} gemm_sum;

static inline void gemm_sum_init(gemm_sum* s) {
#if !defined(QRUN_ISA_SCALAR)
    s->v = _mm_setzero_si128();
#endif
    s->biased = 0;
    s->sum = 0;
}

static inline void gemm_sum_add(gemm_sum* s, const uint8_t* a, int64_t n, uint8_t flip) {
    int64_t k = 0;
#if !defined(QRUN_ISA_SCALAR)
    const __m128i to_unsigned = _mm_set1_epi8((char)(0x80 ^ flip));
    for (; k + 16 <= n; k += 16) {
        const __m128i x = _mm_loadu_si128((const __m128i*)(a + k));
        s->v = _mm_add_epi64(s->v, _mm_sad_epu8(_mm_xor_si128(x, to_unsigned),
                                                _mm_setzero_si128()));
    }
    s->biased += k;
#endif
    for (; k < n; k++)
        s->sum += qrun_load_a(a[k], flip);
}

static inline int32_t gemm_sum_total(const gemm_sum* s) {
#if !defined(QRUN_ISA_SCALAR)
    return s->sum + (int32_t)(_mm_cvtsi128_si64(s->v) + _mm_extract_epi64(s->v, 1)
                              - 128 * s->biased);
#else
    return s->sum;
#endif
}
#endif

/* A block of MR rows: where its rows are and their row-sum terms, found once for all the
 * channel blocks. Rows past mr repeat the last valid one (computed, never stored). */
typedef struct {
    int64_t m0, mr;
    const uint8_t* a_base;                /* arena + a_off */
    const uint8_t* row[QRUN_GEMM_MR];     /* GEMM: row r */
    const int64_t* rows[QRUN_GEMM_MR];    /* IGEMM: row r's kh input-row entries */
    const int64_t* cols[QRUN_GEMM_MR];    /* IGEMM: row r's kw column entries */
    /* kx_fused: row r's tap ky, gathered into window[r] when the window crosses the left
     * or right edge (a function call in the kernels' loop would spill the accumulators). */
    const uint8_t* fused[QRUN_GEMM_MR][QRUN_GEMM_FUSED_KH_MAX];
    uint8_t window[QRUN_GEMM_MR][QRUN_GEMM_FUSED_WINDOW_MAX];
    int32_t term[QRUN_GEMM_MR];
    int interior;                         /* see gemm_tile_init */
    const uint8_t* whole;                 /* interior, every tap inside: its first pixel's
                                             window origin (else NULL) */
    int64_t q, x;                         /* IGEMM: the output row and column of pixel m0 */
} gemm_tile;

/* Rows r0 .. r0 + rows - 1 of the tile at kernel tap t: a[r] is row r0 + r. */
static inline void gemm_rows(const qrun_gemm_params* p, const gemm_tile* g, int64_t t,
                             int r0, const int rows, const uint8_t* a[QRUN_GEMM_MR]) {
    if (p->tap_rows == NULL) {
        for (int i = 0; i < rows; i++)
            a[i] = g->row[r0 + i];
        return;
    }
    if (g->whole != NULL) {
        const uint8_t* a0 = g->whole + p->tap_off[t];
        for (int i = 0; i < rows; i++)
            a[i] = a0 + (r0 + i) * p->col_step;
        return;
    }
    const int64_t ky = p->tap_yx[2 * t], kx = p->tap_yx[2 * t + 1];
    if (g->interior) {
        const int64_t y = g->rows[0][ky];
        const int64_t step = y < 0 ? 0 : p->col_step;
        const uint8_t* a0 = y < 0 ? p->zero : g->a_base + y + g->cols[0][kx];
        for (int i = 0; i < rows; i++)
            a[i] = a0 + (r0 + i) * step;
        return;
    }
    for (int i = 0; i < rows; i++) {
        const int r = r0 + i;
        if (!p->kx_fused) {
            const int64_t off = g->rows[r][ky] + g->cols[r][kx];
            a[i] = off < 0 ? p->zero : g->a_base + off;
        } else {
            a[i] = g->fused[r][ky];
        }
    }
}

/* a_sum_mult * (row sum of A read as int8): the weight zero point's term (uint8 weights with
 * a zero point other than 128). It does not depend on the output channel, so it is
 * computed once per row block, outside the block kernels, over the bytes the kernels read:
 * ks taps of kc bytes per row (kx_fused: a window row's kw pixels at once). Rows past mr
 * repeat the last valid one (summed, never used). */
#if defined(QRUN_ISA_AVX512VNNI)
/* vpsadbw running sums of the MR rows, `slots` rows per vector when a tap's kc bytes fit a
 * 64 / slots byte slot (row r in vector r / slots, slot r % slots: a masked load from the
 * row's address less the slot's offset reads only the row's bytes), then every row's 64-bit
 * lanes added up together, not one horizontal reduction per row. */
__attribute__((always_inline))
static inline void gemm_row_terms_slots(const qrun_gemm_params* p, gemm_tile* g,
                                        const int slots) {
    enum { VECTORS_MAX = (QRUN_GEMM_MR + 3) / 4 * 4 };
    const int vectors = (QRUN_GEMM_MR + slots - 1) / slots, width = 64 / slots;
    const int64_t kc = p->kc;
    const int raw = p->a_flip == 0x80;   /* uint8 A: its bytes are the int8 value + 128 */
    __m512i sum[VECTORS_MAX];
    for (int v = 0; v < VECTORS_MAX; v++)
        sum[v] = _mm512_setzero_si512();
    for (int64_t t = 0; t < p->ks; t++) {
        const uint8_t* a[QRUN_GEMM_MR];
        gemm_rows(p, g, t, 0, QRUN_GEMM_MR, a);
        for (int64_t k = 0; k < kc; k += width) {
            const __mmask64 mask =
                kc - k >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << (kc - k)) - 1;
            /* int8 A: XORed with 0x80 where a row's bytes are (the others stay 0). */
            __mmask64 used = 0;
            for (int s = 0; s < slots; s++)
                used |= mask << (width * s);
            const __m512i flip = _mm512_maskz_mov_epi8(used, _mm512_set1_epi8((char)0x80));
#pragma GCC unroll 8
            for (int v = 0; v < vectors; v++) {
                /* Zero-masked loads ORed together: merging loads would chain. */
                __m512i x = _mm512_setzero_si512();
#pragma GCC unroll 4
                for (int s = 0; s < slots; s++) {
                    const int r = v * slots + s;
                    if (r < QRUN_GEMM_MR)
                        x = _mm512_or_si512(x, _mm512_maskz_loadu_epi8(mask << (width * s),
                                                                       a[r] + k - width * s));
                }
                if (!raw)
                    x = _mm512_xor_si512(x, flip);
                sum[v] = _mm512_add_epi64(sum[v], _mm512_sad_epu8(x, _mm512_setzero_si512()));
            }
        }
    }
    __m512i total;
    if (slots == 4) {
        /* Two 64-bit lanes per row: their sum in the even lane, the even lanes gathered. */
        for (int v = 0; v < vectors; v++)
            sum[v] = _mm512_add_epi64(sum[v], _mm512_bsrli_epi128(sum[v], 8));
        total = _mm512_permutex2var_epi64(sum[0], _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14),
                                          sum[1]);
    } else if (slots == 2) {
        /* Four lanes per row: their sum in lanes 0 and 4, gathered by pairs of vectors. */
        __m512i pair[2];
        for (int v = 0; v < vectors; v++) {
            sum[v] = _mm512_add_epi64(sum[v], _mm512_bsrli_epi128(sum[v], 8));
            sum[v] = _mm512_add_epi64(sum[v], _mm512_shuffle_i64x2(sum[v], sum[v], 0xB1));
        }
        for (int i = 0; i < 2; i++)
            pair[i] = _mm512_permutex2var_epi64(sum[2 * i], _mm512_setr_epi64(0, 4, 8, 12, 0, 0, 0, 0),
                                                sum[2 * i + 1]);
        total = _mm512_shuffle_i64x2(pair[0], pair[1], 0x44);
    } else {
        /* A transpose-add: 128-bit lane i of s[0] holds (row 0, row 1)'s lanes 2i + 2i+1;
         * then pairs of those across 128-bit lanes, twice: lane r of `total` is row r's. */
        __m512i s[4], q[2];
        for (int i = 0; i < 4; i++)
            s[i] = _mm512_add_epi64(_mm512_unpacklo_epi64(sum[2 * i], sum[2 * i + 1]),
                                    _mm512_unpackhi_epi64(sum[2 * i], sum[2 * i + 1]));
        for (int i = 0; i < 2; i++)
            q[i] = _mm512_add_epi64(_mm512_shuffle_i64x2(s[2 * i], s[2 * i + 1], 0x88),
                                    _mm512_shuffle_i64x2(s[2 * i], s[2 * i + 1], 0xDD));
        total = _mm512_add_epi64(_mm512_shuffle_i64x2(q[0], q[1], 0x88),
                                 _mm512_shuffle_i64x2(q[0], q[1], 0xDD));
    }
    /* Less 128 per byte, wrapped to int32 as the scalar sum is. */
    const __m256i sums = _mm256_sub_epi32(_mm512_cvtepi64_epi32(total),
                                          _mm256_set1_epi32((int32_t)(128 * p->ks * kc)));
    /* Straight into g->term: a copy through a wider temporary stalls on store forwarding. */
    _mm256_mask_storeu_epi32(g->term, (__mmask8)((1u << QRUN_GEMM_MR) - 1),
                             _mm256_mullo_epi32(sums, _mm256_set1_epi32(p->a_sum_mult)));
}

static void gemm_row_terms(const qrun_gemm_params* p, gemm_tile* g) {
    if (p->a_sum_mult == 0)
        memset(g->term, 0, sizeof g->term);
    else if (p->kc <= 16)
        gemm_row_terms_slots(p, g, 4);
    else if (p->kc <= 32)
        gemm_row_terms_slots(p, g, 2);
    else
        gemm_row_terms_slots(p, g, 1);
}
#else
static void gemm_row_terms(const qrun_gemm_params* p, gemm_tile* g) {
    memset(g->term, 0, sizeof g->term);
    if (p->a_sum_mult == 0)
        return;
    const uint8_t flip = (uint8_t)p->a_flip;
    /* A row at a time, its running sum in registers (an array of MR sums was slower). */
    for (int r = 0; r < g->mr; r++) {
        gemm_sum s;
        gemm_sum_init(&s);
        if (p->tap_rows == NULL) {
            gemm_sum_add(&s, g->row[r], p->kc, flip);
        } else {
            for (int64_t t = 0; t < p->ks; t++) {
                const uint8_t* a[QRUN_GEMM_MR];
                gemm_rows(p, g, t, r, 1, a);
                gemm_sum_add(&s, a[0], p->kc, flip);
            }
        }
        g->term[r] = p->a_sum_mult * gemm_sum_total(&s);
    }
}
#endif

/* Row r's kx_fused taps: its window's kw contiguous pixels per kernel row, or, when the
 * window crosses the left or right edge, its pixels gathered (the zero point's bytes
 * outside). */
static void gemm_fuse_taps(const qrun_gemm_params* p, gemm_tile* g, int64_t r) {
    const int64_t* rows = g->rows[r];
    const int64_t* cols = g->cols[r];
    const int64_t kc = p->kw * p->in_c;
    const int inside = cols[0] >= 0 && cols[p->kw - 1] >= 0;
    for (int64_t ky = 0; ky < p->kh; ky++) {
        const int64_t y = rows[ky];
        if (inside) {
            g->fused[r][ky] = y < 0 ? p->zero : g->a_base + y + cols[0];
            continue;
        }
        uint8_t* dst = g->window[r] + ky * kc;
        for (int64_t kx = 0; kx < p->kw; kx++) {
            const int64_t off = y + cols[kx];
            memcpy(dst + kx * p->in_c, off < 0 ? p->zero : g->a_base + off, (size_t)p->in_c);
        }
        g->fused[r][ky] = dst;
    }
}

/* IGEMM: row block g->m0's row and column entries, from g->q, g->x (its first pixel's output
 * row and column), which move on to the next row block's. A full tile within one output row
 * whose windows are all inside across is `interior`: row r reads row 0's pixel + r * col_step
 * (packing.gemm_tap_buffers checks that it may), so only row 0's entries are kept. */
static void gemm_tile_taps(const qrun_gemm_params* p, gemm_tile* g) {
    const int64_t kh = p->kh, kw = p->kw;
    int64_t q = g->q, x = g->x;
    if (g->mr == QRUN_GEMM_MR && x + QRUN_GEMM_MR <= p->out_w) {
        const int64_t* cols = p->tap_cols + x * kw;
        g->interior = p->col_step != 0 && cols[0] >= 0 && cols[QRUN_GEMM_MR * kw - 1] >= 0;
        if (g->interior) {
            g->rows[0] = p->tap_rows + q * kh;
            g->cols[0] = cols;
            x += QRUN_GEMM_MR;
            g->q = x == p->out_w ? q + 1 : q;
            g->x = x == p->out_w ? 0 : x;
            return;
        }
    }
    g->interior = 0;
    /* q and x in locals: stepped through g, each step waited on the store before it. */
    for (int64_t r = 0; r < QRUN_GEMM_MR; r++) {
        if (r > 0 && r >= g->mr) {  /* r > 0 spelled out for GCC's -Warray-bounds */
            g->rows[r] = g->rows[r - 1];
            g->cols[r] = g->cols[r - 1];
            continue;
        }
        g->rows[r] = p->tap_rows + q * kh;
        g->cols[r] = p->tap_cols + x * kw;
        if (++x == p->out_w) {
            x = 0;
            q++;
        }
    }
    g->q = q;
    g->x = x;
}

/* Row block `row_block` into g (IGEMM: a division per tile range, not per row). */
static void gemm_tile_init(const qrun_gemm_params* p, const uint8_t* arena, int64_t row_block,
                           gemm_tile* g) {
    g->m0 = row_block * QRUN_GEMM_MR;
    g->mr = QRUN_MIN(QRUN_GEMM_MR, p->m - g->m0);
    g->a_base = arena + p->a_off;
    g->interior = 0;
    g->whole = NULL;
    if (p->tap_rows == NULL) {
        for (int64_t r = 0; r < QRUN_GEMM_MR; r++)
            g->row[r] = g->a_base + (g->m0 + (r < g->mr ? r : g->mr - 1)) * p->a_stride;
    } else {
        gemm_tile_taps(p, g);
        const int64_t* rows = g->rows[0];
        if (g->interior && p->tap_off != NULL && rows[0] >= 0 && rows[p->kh - 1] >= 0)
            g->whole = g->a_base + rows[0] + g->cols[0][0];
        if (p->kx_fused && !g->interior)
            for (int64_t r = 0; r < QRUN_GEMM_MR; r++)
                gemm_fuse_taps(p, g, r);
    }
    gemm_row_terms(p, g);
}

/* Channel block `block`'s packed biases (then its weights, right after them). */
static inline const uint8_t* gemm_packed_block(const qrun_gemm_params* p, int64_t block) {
    const int64_t kcp = gemm_round_up(p->kc, p->nr == QRUN_GEMM_NR_STEP ? QRUN_GEMM_KR_SINGLE
                                                                        : QRUN_GEMM_KR);
    return (const uint8_t*)p->packed_w + block * (p->nr * 4 + p->ks * kcp * p->nr);
}

static inline uint8_t* gemm_out_row(const qrun_gemm_params* p, uint8_t* arena, int64_t m,
                                    int64_t n0) {
    return arena + p->c_off + m * p->c_stride + n0;
}

/* One MR x nr block of C: the tile's rows, channel block `block`. */
typedef void (*gemm_block_fn)(const qrun_gemm_params*, uint8_t*, const gemm_tile*, int64_t);

#if defined(QRUN_ISA_AVX512VNNI)

/* The plan picks the channel block width per op (a multiple of 16 up to QRUN_GEMM_NR: the
 * least padding, then the widest); each width is one instance of the template below. */
#define GEMM_NV_MAX (QRUN_GEMM_NR / 16)

/* vpdpbusd multiplies unsigned by signed bytes; A is the unsigned operand:
 * GEMM_A_RAW: uint8 A as it is (its bytes are the int8 value + 128; the packer subtracts
 *   128 x the weight sums from the bias);
 * GEMM_A_XOR: int8 A ^ 0x80, the same value + 128, one XOR per broadcast. (Weights packed
 *   + 128 with int8 A as the signed operand, and 128 x A's row sum taken off per row block,
 *   saves the XOR but was 0-27% slower on every layer shape measured on this AMD EPYC.) */
enum { GEMM_A_RAW, GEMM_A_XOR };

/* acc[r][j] += the next kr bytes of K of row r (broadcast into av by the statement given)
 * x the next nw weight vectors. */
#define GEMM_VNNI_STEP(...)                                                                 \
    do {                                                                                    \
        __m512i wv[GEMM_NV_MAX];                                                            \
        _Pragma("GCC unroll 8") for (int j = 0; j < nw; j++)                                \
            wv[j] = _mm512_loadu_si512(w + 64 * j);                                         \
        _Pragma("GCC unroll 16") for (int r = 0; r < mrows; r++) {                          \
            __m512i av;                                                                     \
            __VA_ARGS__;                                                                    \
            if (mode == GEMM_A_XOR)                                                         \
                av = _mm512_xor_si512(av, _mm512_set1_epi8((char)0x80));                    \
            _Pragma("GCC unroll 8") for (int j = 0; j < nw; j++)                            \
                acc[r][j] = _mm512_dpbusd_epi32(acc[r][j], av, wv[j]);                      \
        }                                                                                   \
        w += 64 * nw;                                                                       \
    } while (0)

/* The kr (4 or 8) row bytes at a in every group of a vector: memcpy, as rows have no
 * alignment (one unaligned load). */
QRUN_TARGET_VNNI static inline __m512i gemm_broadcast_row(const uint8_t* a, const int kr) {
    if (kr == 8) {
        int64_t v;
        memcpy(&v, a, 8);
        return _mm512_set1_epi64(v);
    }
    int32_t v;
    memcpy(&v, a, 4);
    return _mm512_set1_epi32(v);
}

/* The same for the K tail's bytes (the mask's): a masked load reads nothing past the row (and
 * never faults). */
QRUN_TARGET_VNNI static inline __m512i gemm_broadcast_tail(const uint8_t* a, __mmask16 tail,
                                                           const int kr) {
    const __m128i bytes = _mm_maskz_loadu_epi8(tail, a);
    return kr == 8 ? _mm512_broadcastq_epi64(bytes) : _mm512_broadcastd_epi32(bytes);
}

/* mrows x (16 nv) channels: MR rows, or 1 for a tile of one row (a batch-1 FULLY_CONNECTED,
 * the last row of 7 x 7). Inlined into one function per shape and operand order, so that
 * every loop over rows and vectors unrolls and the accumulators stay in registers.
 * K in groups of kr bytes: c4 (kr 4), one weight vector per 16 channels; or, for one vector
 * of channels (nv 1), c8: the two weight vectors of a group hold channels 0-7 and 8-15, lane
 * 2i and 2i+1 of vector h channel 8h + i's bytes 0-3 and 4-7, so that one 8-byte broadcast
 * of a row feeds two dot products (c4 would take a broadcast per dot product, the bound of
 * a 16-channel tile: 7 broadcasts per 7). The halves are added at the end. */
QRUN_TARGET_VNNI __attribute__((always_inline))
static inline void gemm_block_vnni(const qrun_gemm_params* p, uint8_t* arena,
                                   const gemm_tile* g, int64_t block, const int mrows,
                                   const int nv, const int kr, const int mode) {
    const int64_t m0 = g->m0, mr = g->mr;
    const int64_t kc = p->kc;
    const uint8_t* packed = gemm_packed_block(p, block);
    const int8_t* w = (const int8_t*)(packed + 64 * nv);
    const int nw = kr == 8 ? 2 : nv;   /* accumulators per row */
    const __mmask16 tail = (__mmask16)((1u << (kc % kr)) - 1);
    __m512i acc[QRUN_GEMM_MR][GEMM_NV_MAX];

#pragma GCC unroll 8
    for (int j = 0; j < nw; j++) {
        const __m512i init =
            kr == 8 ? _mm512_setzero_si512() : _mm512_loadu_si512(packed + 64 * j);
#pragma GCC unroll 16
        for (int r = 0; r < mrows; r++)
            acc[r][j] = init;
    }

    for (int64_t t = 0; t < p->ks; t++) {
        const uint8_t* a[QRUN_GEMM_MR];
        gemm_rows(p, g, t, 0, mrows, a);
        int64_t k = 0;
        for (; k + kr <= kc; k += kr)
            GEMM_VNNI_STEP(av = gemm_broadcast_row(a[r] + k, kr));
        if (tail)
            GEMM_VNNI_STEP(av = gemm_broadcast_tail(a[r] + k, tail, kr));
    }
    if (kr == 8) {
        /* Each 64-bit lane's two halves added in its low half, then the low halves of both
         * vectors gathered: channels 0-7, 8-15. */
        const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24,
                                               26, 28, 30);
        const __m512i bias = _mm512_loadu_si512(packed);
#pragma GCC unroll 16
        for (int r = 0; r < mrows; r++) {
            const __m512i lo = _mm512_add_epi32(acc[r][0], _mm512_srli_epi64(acc[r][0], 32));
            const __m512i hi = _mm512_add_epi32(acc[r][1], _mm512_srli_epi64(acc[r][1], 32));
            acc[r][0] = _mm512_add_epi32(bias, _mm512_permutex2var_epi32(lo, even, hi));
        }
    }

    const int64_t n0 = block * 16 * nv;
    const int64_t nc = QRUN_MIN(16 * nv, p->n - n0);
    const qrun_requant rq = p->rq;   /* a local copy: stores to C cannot alias it */
    const qrun_v_requant vrq = qrun_v_requant_of(&rq);
    const int has_term = p->a_sum_mult != 0;
    qrun_requant_kept kept[QRUN_GEMM_MR * GEMM_NV_MAX];
    int kept_count = 0;
#pragma GCC unroll 8
    for (int j = 0; j < nv; j++) {
        const int64_t lanes = nc - 16 * j;
        if (lanes <= 0)
            break;
        const __mmask16 mask = lanes >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << lanes) - 1);
        const int64_t c0 = n0 + 16 * j;
        const __m512 scale = _mm512_maskz_loadu_ps(mask, rq.scale + c0);
        __m512 larger = _mm512_setzero_ps();
#pragma GCC unroll 16
        for (int r = 0; r < mrows; r++) {
            if (r >= mr)
                break;
            const __m512i x = has_term ? _mm512_add_epi32(acc[r][j], _mm512_set1_epi32(g->term[r]))
                                       : acc[r][j];
            const __m512 v = qrun_v_requant_value(x, scale, &vrq);
            _mm512_mask_cvtepi32_storeu_epi8(gemm_out_row(p, arena, m0 + r, c0), mask,
                                             qrun_v_requant_output_bytes(v, &vrq));
            larger = qrun_v_larger_frac(larger, v, &vrq);
        }
        if (__builtin_expect(qrun_v_any_near_half(larger, &vrq), 0)) {
#pragma GCC unroll 16
            for (int r = 0; r < mrows; r++) {
                if (r >= mr)
                    break;
                const __m512i x = _mm512_add_epi32(acc[r][j], _mm512_set1_epi32(g->term[r]));
                const int near = qrun_v_near_half(qrun_v_requant_value(x, scale, &vrq), &vrq);
                if (near != 0)
                    QRUN_REQUANT_KEEP(kept, kept_count, QRUN_V_STOREU, x, near,
                                      gemm_out_row(p, arena, m0 + r, c0),
                                      gemm_out_row(p, arena, m0 + r, c0), 16, lanes,
                                      rq.multiplier + c0, rq.shift + c0, -1, QRUN_LANES_LINEAR);
            }
        }
    }
    if (kept_count != 0)
        qrun_requantize_kept(kept, kept_count, &rq);
}

#define GEMM_VNNI_INSTANCES(prefix, mode)                                                    \
    GEMM_VNNI_INSTANCE(prefix##_gemm_7x16c8__avx512vnni, QRUN_GEMM_MR, 1, 8, mode)           \
    GEMM_VNNI_INSTANCE(prefix##_gemm_7x32c4__avx512vnni, QRUN_GEMM_MR, 2, 4, mode)           \
    GEMM_VNNI_INSTANCE(prefix##_gemm_7x48c4__avx512vnni, QRUN_GEMM_MR, 3, 4, mode)           \
    GEMM_VNNI_INSTANCE(prefix##_gemm_1x16c8__avx512vnni, 1, 1, 8, mode)                      \
    GEMM_VNNI_INSTANCE(prefix##_gemm_1x32c4__avx512vnni, 1, 2, 4, mode)                      \
    GEMM_VNNI_INSTANCE(prefix##_gemm_1x48c4__avx512vnni, 1, 3, 4, mode)
#define GEMM_VNNI_INSTANCE(name, mrows, nv, kr, mode)                                        \
    QRUN_TARGET_VNNI static void name(const qrun_gemm_params* p, uint8_t* arena,             \
                                      const gemm_tile* g, int64_t block) {                   \
        gemm_block_vnni(p, arena, g, block, mrows, nv, kr, mode);                            \
    }
GEMM_VNNI_INSTANCES(qu8, GEMM_A_RAW)
GEMM_VNNI_INSTANCES(qs8, GEMM_A_XOR)

#define GEMM_VNNI_WIDTHS(prefix, rows)                                                       \
    {prefix##_gemm_##rows##x16c8__avx512vnni, prefix##_gemm_##rows##x32c4__avx512vnni,        \
     prefix##_gemm_##rows##x48c4__avx512vnni}

/* Few output channels (k_major, n <= 8): vectors run along K instead of N, so no lane is
 * padding but K's (to 64 bytes per tap). acc[r][j] holds 16 partial sums of row r x channel
 * j, reduced at the end. Row groups of `rg` (as many as the registers hold: rg x n
 * accumulators); the last group of the tile overlaps the one before it (its rows are
 * computed twice, stored twice with the same bytes). A_RAW and A_XOR only: the masked-off
 * bytes of A meet zero weights. */
QRUN_TARGET_VNNI __attribute__((always_inline))
static inline void gemm_block_k_major(const qrun_gemm_params* p, uint8_t* arena,
                                      const gemm_tile* g, const int n, const int rg,
                                      const int mode) {
    const int64_t kc = p->kc, kcp = gemm_round_up(kc, 64);
    const int32_t* bias = (const int32_t*)p->packed_w;
    const qrun_requant rq = p->rq;
    for (int r0 = 0; r0 < g->mr; r0 += rg) {
        const int first = QRUN_MIN(r0, QRUN_GEMM_MR - rg);
        const int8_t* w = (const int8_t*)p->packed_w + 64;
        __m512i acc[QRUN_GEMM_MR][8];
#pragma GCC unroll 8
        for (int r = 0; r < rg; r++)
#pragma GCC unroll 8
            for (int j = 0; j < n; j++)
                acc[r][j] = _mm512_setzero_si512();
        for (int64_t t = 0; t < p->ks; t++) {
            const uint8_t* a[QRUN_GEMM_MR];
            gemm_rows(p, g, t, first, rg, a);
            for (int64_t k = 0; k < kc; k += 64) {
                const __mmask64 mask =
                    kc - k >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << (kc - k)) - 1;
                __m512i wv[8];
#pragma GCC unroll 8
                for (int j = 0; j < n; j++)
                    wv[j] = _mm512_loadu_si512(w + j * kcp + k);
#pragma GCC unroll 8
                for (int r = 0; r < rg; r++) {
                    __m512i av = _mm512_maskz_loadu_epi8(mask, a[r] + k);
                    if (mode == GEMM_A_XOR)
                        av = _mm512_xor_si512(av, _mm512_set1_epi8((char)0x80));
#pragma GCC unroll 8
                    for (int j = 0; j < n; j++)
                        acc[r][j] = _mm512_dpbusd_epi32(acc[r][j], av, wv[j]);
                }
            }
            w += n * kcp;
        }
#pragma GCC unroll 8
        for (int r = 0; r < rg; r++) {
            if (first + r >= g->mr)
                break;
            uint8_t* c = gemm_out_row(p, arena, g->m0 + first + r, 0);
#pragma GCC unroll 8
            for (int j = 0; j < n; j++) {
                const int32_t x = _mm512_reduce_add_epi32(acc[r][j]) + bias[j];
                c[j] = qrun_requantize(x + g->term[first + r], rq.multiplier[j], rq.shift[j], &rq);
            }
        }
    }
}

/* (channels, rows per group): at most 24 accumulators. */
#define GEMM_K_MAJOR_INSTANCES(prefix, mode)                                                 \
    GEMM_K_MAJOR_INSTANCE(prefix##_gemm_7x1k64__avx512vnni, 1, 7, mode)                      \
    GEMM_K_MAJOR_INSTANCE(prefix##_gemm_7x2k64__avx512vnni, 2, 7, mode)                      \
    GEMM_K_MAJOR_INSTANCE(prefix##_gemm_7x3k64__avx512vnni, 3, 7, mode)                      \
    GEMM_K_MAJOR_INSTANCE(prefix##_gemm_4x4k64__avx512vnni, 4, 4, mode)                      \
    GEMM_K_MAJOR_INSTANCE(prefix##_gemm_4x5k64__avx512vnni, 5, 4, mode)                      \
    GEMM_K_MAJOR_INSTANCE(prefix##_gemm_4x6k64__avx512vnni, 6, 4, mode)                      \
    GEMM_K_MAJOR_INSTANCE(prefix##_gemm_3x7k64__avx512vnni, 7, 3, mode)                      \
    GEMM_K_MAJOR_INSTANCE(prefix##_gemm_3x8k64__avx512vnni, 8, 3, mode)
#define GEMM_K_MAJOR_INSTANCE(name, n, rg, mode)                                             \
    QRUN_TARGET_VNNI static void name(const qrun_gemm_params* p, uint8_t* arena,             \
                                      const gemm_tile* g, int64_t block) {                   \
        (void)block;                                                                         \
        gemm_block_k_major(p, arena, g, n, rg, mode);                                        \
    }
GEMM_K_MAJOR_INSTANCES(qu8, GEMM_A_RAW)
GEMM_K_MAJOR_INSTANCES(qs8, GEMM_A_XOR)

#define GEMM_K_MAJOR_CHANNELS(prefix)                                                        \
    {prefix##_gemm_7x1k64__avx512vnni, prefix##_gemm_7x2k64__avx512vnni,                      \
     prefix##_gemm_7x3k64__avx512vnni, prefix##_gemm_4x4k64__avx512vnni,                      \
     prefix##_gemm_4x5k64__avx512vnni, prefix##_gemm_4x6k64__avx512vnni,                      \
     prefix##_gemm_3x7k64__avx512vnni, prefix##_gemm_3x8k64__avx512vnni}

/* The kernel for tiles of `rows` rows (MR, or 1) of this op. */
static gemm_block_fn gemm_block_for(const qrun_gemm_params* p, int64_t rows) {
    static const gemm_block_fn by_mode[2][2][GEMM_NV_MAX] = {
        {GEMM_VNNI_WIDTHS(qu8, 7), GEMM_VNNI_WIDTHS(qu8, 1)},
        {GEMM_VNNI_WIDTHS(qs8, 7), GEMM_VNNI_WIDTHS(qs8, 1)}};
    static const gemm_block_fn k_major[2][QRUN_GEMM_K_MAJOR_N_MAX] = {
        GEMM_K_MAJOR_CHANNELS(qu8), GEMM_K_MAJOR_CHANNELS(qs8)};
    const int mode = p->a_flip ? GEMM_A_RAW : GEMM_A_XOR;
    if (p->k_major)
        return k_major[mode][p->n - 1];
    return by_mode[mode][rows == 1][p->nr / 16 - 1];
}

#elif defined(QRUN_ISA_AVX2) || defined(QRUN_ISA_SSE41)

/* One template for both: a vector holds GEMM_LANES int32 accumulators (one per channel); the
 * packed weights hold, per pair of K, GEMM_LANES channels x 2 int8 per vector. */
#if defined(QRUN_ISA_AVX2)
#define GEMM_LANES 8
typedef __m256i gemm_vi;
typedef __m256 gemm_vf;
#define gemm_load_w(ptr) _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)(ptr)))
#define gemm_dup_a(a16) _mm256_broadcastsi128_si256(a16)
#define gemm_pair(a, imm) _mm256_shuffle_epi32(a, imm)
#define gemm_madd _mm256_madd_epi16
#define gemm_add _mm256_add_epi32
#define gemm_set1 _mm256_set1_epi32
#define gemm_load_bias(ptr) _mm256_loadu_si256((const __m256i*)(ptr))
#define gemm_load_ps _mm256_loadu_ps
#else
#define GEMM_LANES 4
typedef __m128i gemm_vi;
typedef __m128 gemm_vf;
#define gemm_load_w(ptr) _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i*)(ptr)))
#define gemm_dup_a(a16) (a16)
#define gemm_pair(a, imm) _mm_shuffle_epi32(a, imm)
#define gemm_madd _mm_madd_epi16
#define gemm_add _mm_add_epi32
#define gemm_set1 _mm_set1_epi32
#define gemm_load_bias(ptr) _mm_loadu_si128((const __m128i*)(ptr))
#define gemm_load_ps _mm_loadu_ps
#endif

#define GEMM_NV (QRUN_GEMM_NR / GEMM_LANES)

/* The low byte of each int32 lane, stored to out (GEMM_LANES bytes). */
static inline void gemm_store_low_bytes(uint8_t* out, gemm_vi q) {
    const __m128i low_bytes = _mm_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1,
                                            -1, -1, -1, -1);
#if defined(QRUN_ISA_AVX2)
    const __m128i b0 = _mm_shuffle_epi8(_mm256_castsi256_si128(q), low_bytes);
    const __m128i b1 = _mm_shuffle_epi8(_mm256_extracti128_si256(q, 1), low_bytes);
    _mm_storel_epi64((__m128i*)out, _mm_unpacklo_epi32(b0, b1));
#else
    const int32_t b = _mm_cvtsi128_si32(_mm_shuffle_epi8(q, low_bytes));
    memcpy(out, &b, 4);
#endif
}

/* acc[r][j] += (A pair `imm` of each row) x (the next weight vectors); w moves past them. */
#define GEMM_MADD_STEP(imm)                                                        \
    do {                                                                           \
        gemm_vi wv[GEMM_NV];                                                       \
        _Pragma("GCC unroll 8") for (int j = 0; j < GEMM_NV; j++)                  \
            wv[j] = gemm_load_w(w + 2 * GEMM_LANES * j);                           \
        _Pragma("GCC unroll 16") for (int r = 0; r < QRUN_GEMM_MR; r++) {          \
            const gemm_vi ap = gemm_pair(a16[r], imm);                             \
            _Pragma("GCC unroll 8") for (int j = 0; j < GEMM_NV; j++)              \
                acc[r][j] = gemm_add(acc[r][j], gemm_madd(ap, wv[j]));             \
        }                                                                          \
        w += QRUN_GEMM_NR * 2;                                                     \
    } while (0)

static void gemm_block(const qrun_gemm_params* p, uint8_t* arena, const gemm_tile* g,
                       int64_t block) {
    const int64_t m0 = g->m0, mr = g->mr;
    const int32_t* term = g->term;
    const uint8_t* packed = gemm_packed_block(p, block);
    const int8_t* w = (const int8_t*)(packed + QRUN_GEMM_NR * 4);
    const __m128i flip = _mm_set1_epi8((char)p->a_flip);
    const int64_t kc = p->kc;
    gemm_vi acc[QRUN_GEMM_MR][GEMM_NV];

#pragma GCC unroll 8
    for (int j = 0; j < GEMM_NV; j++) {
        const gemm_vi bias = gemm_load_bias(packed + 4 * GEMM_LANES * j);
#pragma GCC unroll 16
        for (int r = 0; r < QRUN_GEMM_MR; r++)
            acc[r][j] = bias;
    }

    for (int64_t t = 0; t < p->ks; t++) {
        const uint8_t* a[QRUN_GEMM_MR];
        gemm_rows(p, g, t, 0, QRUN_GEMM_MR, a);
        /* 8 bytes of K per row at a time: sign-extended once, then 4 pairs broadcast. */
        for (int64_t k = 0; k < kc; k += 8) {
            const int64_t n = kc - k < 8 ? kc - k : 8;
            gemm_vi a16[QRUN_GEMM_MR];
#pragma GCC unroll 16
            for (int r = 0; r < QRUN_GEMM_MR; r++) {
                __m128i x;
                if (n == 8) {
                    x = _mm_loadl_epi64((const __m128i*)(a[r] + k));
                } else {
                    /* Byte by byte: no library call, nothing read past the row. */
                    uint64_t tail = 0;
                    for (int64_t i = 0; i < n; i++)
                        tail |= (uint64_t)a[r][k + i] << (8 * i);
                    x = _mm_cvtsi64_si128((int64_t)tail);
                }
                a16[r] = gemm_dup_a(_mm_cvtepi8_epi16(_mm_xor_si128(x, flip)));
            }
            /* Only the pairs the packed weights hold (kc rounded up to 2). */
            GEMM_MADD_STEP(0x00);
            if (n > 2)
                GEMM_MADD_STEP(0x55);
            if (n > 4)
                GEMM_MADD_STEP(0xAA);
            if (n > 6)
                GEMM_MADD_STEP(0xFF);
        }
    }

    const int64_t n0 = block * QRUN_GEMM_NR;
    const int64_t nc = QRUN_MIN(QRUN_GEMM_NR, p->n - n0);
    const qrun_requant rq = p->rq;   /* a local copy: stores to C cannot alias it */
    float padded[QRUN_GEMM_NR] = {0};
    const float* scale = rq.scale + n0;
    if (nc < QRUN_GEMM_NR) {
        memcpy(padded, scale, (size_t)nc * sizeof(float));
        scale = padded;
    }
    const qrun_v_requant vrq = qrun_v_requant_of(&rq);
    qrun_requant_kept kept[QRUN_GEMM_MR * GEMM_NV];
    int kept_count = 0;
#pragma GCC unroll 16
    for (int r = 0; r < QRUN_GEMM_MR; r++) {
        if (r >= mr)
            break;
        uint8_t out[QRUN_GEMM_NR];
        uint8_t* c = gemm_out_row(p, arena, m0 + r, n0);
#pragma GCC unroll 8
        for (int j = 0; j < GEMM_NV; j++) {
            const gemm_vi x = gemm_add(acc[r][j], gemm_set1(term[r]));
            const gemm_vf v = qrun_v_requant_value(x, gemm_load_ps(scale + GEMM_LANES * j), &vrq);
            gemm_store_low_bytes(out + GEMM_LANES * j, qrun_v_requant_output_bytes(v, &vrq));
            const int near = qrun_v_near_half(v, &vrq);
            if (__builtin_expect(near != 0, 0))
                QRUN_REQUANT_KEEP(kept, kept_count, QRUN_V_STOREU, x, near, c + GEMM_LANES * j,
                                  c + GEMM_LANES * j, GEMM_LANES, nc - GEMM_LANES * j,
                                  rq.multiplier + n0 + GEMM_LANES * j,
                                  rq.shift + n0 + GEMM_LANES * j, -1, QRUN_LANES_LINEAR);
        }
        if (nc == QRUN_GEMM_NR)
            memcpy(c, out, QRUN_GEMM_NR);
        else
            memcpy(c, out, (size_t)nc);
    }
    if (kept_count != 0)
        qrun_requantize_kept(kept, kept_count, &rq);
}

#else

static void gemm_block(const qrun_gemm_params* p, uint8_t* arena, const gemm_tile* g,
                       int64_t block) {
    const int64_t m0 = g->m0, mr = g->mr;
    const int32_t* term = g->term;
    const uint8_t* packed = gemm_packed_block(p, block);
    const int8_t* w = (const int8_t*)(packed + QRUN_GEMM_NR * 4);
    const uint8_t flip = (uint8_t)p->a_flip;
    int32_t bias[QRUN_GEMM_NR];
    int32_t acc[QRUN_GEMM_MR][QRUN_GEMM_NR];

    memcpy(bias, packed, sizeof bias);
    for (int64_t r = 0; r < QRUN_GEMM_MR; r++)
        for (int64_t j = 0; j < QRUN_GEMM_NR; j++)
            acc[r][j] = bias[j];

    for (int64_t t = 0; t < p->ks; t++) {
        const uint8_t* a[QRUN_GEMM_MR];
        gemm_rows(p, g, t, 0, QRUN_GEMM_MR, a);
        for (int64_t k = 0; k < p->kc; k++) {
            for (int64_t r = 0; r < QRUN_GEMM_MR; r++) {
                const int32_t x = qrun_load_a(a[r][k], flip);
                for (int64_t j = 0; j < QRUN_GEMM_NR; j++)
                    acc[r][j] += x * (int32_t)w[j];
            }
            w += QRUN_GEMM_NR;
        }
    }

    const int64_t n0 = block * QRUN_GEMM_NR;
    const int64_t nc = QRUN_MIN(QRUN_GEMM_NR, p->n - n0);
    const qrun_requant rq = p->rq;   /* a local copy: stores to `c` cannot alias it */
    const int32_t* multiplier = rq.multiplier + n0;
    const int32_t* shift = rq.shift + n0;
    for (int64_t r = 0; r < mr; r++) {
        uint8_t* c = gemm_out_row(p, arena, m0 + r, n0);
        for (int64_t j = 0; j < nc; j++)
            c[j] = qrun_requantize(acc[r][j] + term[r], multiplier[j], shift[j], &rq);
    }
}

#endif

#if !defined(QRUN_ISA_AVX512VNNI)
/* One kernel in this build (p->nr == QRUN_GEMM_NR, tiles of MR rows). */
static gemm_block_fn gemm_block_for(const qrun_gemm_params* p, int64_t rows) {
    (void)p;
    (void)rows;
    return gemm_block;
}
#endif

static inline int64_t gemm_channel_blocks(const qrun_gemm_params* p) {
    return (p->n + p->nr - 1) / p->nr;
}

static int64_t gemm_tiles(const void* params) {
    const qrun_gemm_params* p = (const qrun_gemm_params*)params;
    return (p->m + QRUN_GEMM_MR - 1) / QRUN_GEMM_MR * gemm_channel_blocks(p);
}

/* A tile is one MR x nr block: row block tile / blocks, channel block tile % blocks. Row-major,
 * so that a range runs whole row blocks where it can (their rows found and summed once), and
 * an op with few row blocks (7 x 7 and 14 x 14 maps, a batch-1 FULLY_CONNECTED) still splits
 * evenly over threads, by channel blocks. */
static void gemm_run(const void* params, uint8_t* arena, int64_t begin, int64_t end) {
    const qrun_gemm_params* p = (const qrun_gemm_params*)params;
    const int64_t blocks = gemm_channel_blocks(p);
    const gemm_block_fn full = gemm_block_for(p, QRUN_GEMM_MR), single = gemm_block_for(p, 1);
    gemm_tile g;
    if (p->tap_rows != NULL) {
        const int64_t m0 = begin / blocks * QRUN_GEMM_MR;
        g.q = m0 / p->out_w;
        g.x = m0 - g.q * p->out_w;
    }
    /* One division per range: the row blocks follow one another. */
    int64_t row_block = begin / blocks, first = begin - row_block * blocks;
    for (int64_t tile = begin; tile < end; row_block++, first = 0) {
        gemm_tile_init(p, arena, row_block, &g);
        const gemm_block_fn block_fn = g.mr == 1 ? single : full;
        const int64_t last = QRUN_MIN(blocks, first + end - tile);
        for (int64_t b = first; b < last; b++)
            block_fn(p, arena, &g, b);
        tile += last - first;
    }
}

const qrun_op_entry qrun_gemm_entry = {gemm_tiles, gemm_run};
const qrun_op_entry qrun_igemm_entry = {gemm_tiles, gemm_run};
