/* Byte-level ops: table lookup, range copies, fills, transposition. Exact by construction. */
#include "qrun.h"

#define DATAMOVE_BLOCK 4096

static int64_t lut_tiles(const void* params) {
    return (((const qrun_lut_params*)params)->n + DATAMOVE_BLOCK - 1) / DATAMOVE_BLOCK;
}

/* out[i] = table[in[i]] for n bytes. The SIMD builds look up whole vectors: AVX-512 VBMI
 * (when the CPU has it) with two two-register byte permutes (vpermi2b) and the index's top
 * bit choosing between them; AVX2 / AVX-512 without VBMI with 16 vpshufb of 16-entry pieces,
 * where a saturating add of 0x70 to (x ^ piece << 4) keeps the low nibble for the bytes of
 * that piece and sets bit 7 (pshufb's zero) for all others. */
static void lut_bytes_scalar(const uint8_t* table, const uint8_t* QRUN_RESTRICT in,
                             uint8_t* QRUN_RESTRICT out, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        out[i] = table[in[i]];
}

#if defined(QRUN_ISA_AVX2) || defined(QRUN_ISA_AVX512VNNI)
#include <immintrin.h>

static void lut_bytes_pshufb(const uint8_t* table, const uint8_t* QRUN_RESTRICT in,
                             uint8_t* QRUN_RESTRICT out, int64_t n) {
    __m256i pieces[16];
    for (int k = 0; k < 16; k++)
        pieces[k] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i*)(table + 16 * k)));
    const __m256i keep_low = _mm256_set1_epi8(0x70);
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m256i x = _mm256_loadu_si256((const __m256i*)(in + i));
        __m256i y = _mm256_setzero_si256();
        for (int k = 0; k < 16; k++) {
            const __m256i idx = _mm256_adds_epu8(_mm256_xor_si256(x, _mm256_set1_epi8((char)(k << 4))),
                                                 keep_low);
            y = _mm256_or_si256(y, _mm256_shuffle_epi8(pieces[k], idx));
        }
        _mm256_storeu_si256((__m256i*)(out + i), y);
    }
    lut_bytes_scalar(table, in + i, out + i, n - i);
}
#endif

#if defined(QRUN_ISA_AVX512VNNI)
__attribute__((target("avx512vbmi")))
static void lut_bytes_vbmi(const uint8_t* table, const uint8_t* QRUN_RESTRICT in,
                           uint8_t* QRUN_RESTRICT out, int64_t n) {
    const __m512i t0 = _mm512_loadu_si512((const void*)table);
    const __m512i t1 = _mm512_loadu_si512((const void*)(table + 64));
    const __m512i t2 = _mm512_loadu_si512((const void*)(table + 128));
    const __m512i t3 = _mm512_loadu_si512((const void*)(table + 192));
    int64_t i = 0;
    for (; i < n; i += 64) {
        const __mmask64 m = n - i >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << (n - i)) - 1;
        const __m512i x = _mm512_maskz_loadu_epi8(m, in + i);
        const __m512i low = _mm512_permutex2var_epi8(t0, x, t1);
        const __m512i high = _mm512_permutex2var_epi8(t2, x, t3);
        _mm512_mask_storeu_epi8(out + i, m,
                                _mm512_mask_blend_epi8(_mm512_movepi8_mask(x), low, high));
    }
}

static void lut_bytes(const uint8_t* table, const uint8_t* in, uint8_t* out, int64_t n) {
    static int has_vbmi = -1;   /* racing first calls store the same value */
    if (has_vbmi < 0)
        has_vbmi = __builtin_cpu_supports("avx512vbmi") ? 1 : 0;
    if (has_vbmi)
        lut_bytes_vbmi(table, in, out, n);
    else
        lut_bytes_pshufb(table, in, out, n);
}
#elif defined(QRUN_ISA_AVX2)
#define lut_bytes lut_bytes_pshufb
#else
#define lut_bytes lut_bytes_scalar
#endif

static void lut_run(const void* params, uint8_t* arena, int64_t begin, int64_t end) {
    const qrun_lut_params* p = (const qrun_lut_params*)params;
    const uint8_t* QRUN_RESTRICT in = arena + p->in_off;
    uint8_t* QRUN_RESTRICT out = arena + p->out_off;
    const int64_t stop = QRUN_MIN(end * DATAMOVE_BLOCK, p->n);
    if (p->out_size == 1) {
        lut_bytes(p->table, in + begin * DATAMOVE_BLOCK, out + begin * DATAMOVE_BLOCK,
                  stop - begin * DATAMOVE_BLOCK);
    } else {
        for (int64_t i = begin * DATAMOVE_BLOCK; i < stop; i++)
            memcpy(out + 4 * i, p->table + 4 * in[i], 4);
    }
}

static int64_t copy_tiles(const void* params) {
    return ((const qrun_copy_params*)params)->count;
}

/* n bytes (size <= n <= 2 size) as two overlapping moves of a constant size. */
static inline void copy_pair(uint8_t* QRUN_RESTRICT dst, const uint8_t* QRUN_RESTRICT src,
                             int64_t n, size_t size) {
    memcpy(dst, src, size);
    memcpy(dst + n - size, src + n - size, size);
}

/* memcpy for short ranges (per-pixel pieces of CONCATENATION, SPLIT, slices): from 4 to 64
 * bytes two fixed-size moves, which the compiler inlines. */
static inline void copy_bytes(uint8_t* QRUN_RESTRICT dst, const uint8_t* QRUN_RESTRICT src,
                              int64_t n) {
    if (n > 64 || n < 4)
        memcpy(dst, src, (size_t)n);
    else if (n > 32)
        copy_pair(dst, src, n, 32);
    else if (n > 16)
        copy_pair(dst, src, n, 16);
    else if (n > 8)
        copy_pair(dst, src, n, 8);
    else
        copy_pair(dst, src, n, 4);
}

static void copy_run(const void* params, uint8_t* arena, int64_t begin, int64_t end) {
    const qrun_copy_params* p = (const qrun_copy_params*)params;
    for (int64_t r = begin; r < end; r++) {
        const int64_t* range = p->ranges + 6 * r;
        const int64_t n = range[2], rows = range[3], src_step = range[4], dst_step = range[5];
        const uint8_t* src = arena + range[0];
        uint8_t* dst = arena + range[1];
        for (int64_t k = 0; k < rows; k++, src += src_step, dst += dst_step) {
            if (p->table == NULL)
                copy_bytes(dst, src, n);
            else
                lut_bytes(p->table, src, dst, n);
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

/* TRANSPOSE tiles: output rows of `inner` bytes; or, where the last outer axis is the
 * input's contiguous one (stride[3] == 1) and the inner axis is not, groups of
 * TRANSPOSE_BLOCK such rows, transposed a square block at a time (reads and writes of
 * TRANSPOSE_BLOCK contiguous bytes instead of single bytes TRANSPOSE_BLOCK apart). */
#define TRANSPOSE_BLOCK 16

static int transpose_blocked(const qrun_transpose_params* p) {
    return p->stride[3] == 1 && p->stride[4] != 1;
}

static int64_t transpose_tiles(const void* params) {
    const qrun_transpose_params* p = (const qrun_transpose_params*)params;
    const int64_t outer = p->shape[0] * p->shape[1] * p->shape[2];
    if (transpose_blocked(p))
        return outer * ((p->shape[3] + TRANSPOSE_BLOCK - 1) / TRANSPOSE_BLOCK);
    return outer * p->shape[3];
}

/* The input offset of output row `row` (an index over shape[0..3]). */
static int64_t transpose_source(const qrun_transpose_params* p, int64_t row) {
    int64_t src = 0;
    for (int d = 3; d >= 0; d--) {
        src += (row % p->shape[d]) * p->stride[d];
        row /= p->shape[d];
    }
    return src;
}

/* rows x cols bytes: out[r * out_stride + c] = in[c * in_stride + r]. */
static void transpose_block_bytes(const uint8_t* QRUN_RESTRICT in, int64_t in_stride,
                                  uint8_t* QRUN_RESTRICT out, int64_t out_stride, int64_t rows,
                                  int64_t cols) {
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            out[r * out_stride + c] = in[c * in_stride + r];
}

#if defined(QRUN_ISA_SCALAR)
#define transpose_block_full(in, in_stride, out, out_stride) \
    transpose_block_bytes(in, in_stride, out, out_stride, TRANSPOSE_BLOCK, TRANSPOSE_BLOCK)
#else
#include <immintrin.h>

/* A 16 x 16 byte block: four rounds of interleaving rows i and i + 8 transpose it. */
static inline void transpose_block_full(const uint8_t* in, int64_t in_stride, uint8_t* out,
                                        int64_t out_stride) {
    __m128i v[16], t[16];
    for (int i = 0; i < 16; i++)
        v[i] = _mm_loadu_si128((const __m128i*)(in + i * in_stride));
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 8; i++) {
            t[2 * i] = _mm_unpacklo_epi8(v[i], v[i + 8]);
            t[2 * i + 1] = _mm_unpackhi_epi8(v[i], v[i + 8]);
        }
        memcpy(v, t, sizeof v);
    }
    for (int i = 0; i < 16; i++)
        _mm_storeu_si128((__m128i*)(out + i * out_stride), v[i]);
}
#endif

static void transpose_run(const void* params, uint8_t* arena, int64_t begin, int64_t end) {
    const qrun_transpose_params* p = (const qrun_transpose_params*)params;
    const int64_t step = p->stride[4], inner = p->inner;
    const uint8_t* in = arena + p->in_off;
    uint8_t* out = arena + p->out_off;
    if (!transpose_blocked(p)) {
        for (int64_t row = begin; row < end; row++) {
            const uint8_t* QRUN_RESTRICT src = in + transpose_source(p, row);
            uint8_t* QRUN_RESTRICT dst = out + row * inner;
            if (step == 1)
                memcpy(dst, src, (size_t)inner);
            else
                for (int64_t j = 0; j < inner; j++)
                    dst[j] = src[j * step];
        }
        return;
    }
    const int64_t groups = (p->shape[3] + TRANSPOSE_BLOCK - 1) / TRANSPOSE_BLOCK;
    for (int64_t tile = begin; tile < end; tile++) {
        const int64_t first = (tile / groups) * p->shape[3] + (tile % groups) * TRANSPOSE_BLOCK;
        const int64_t rows = QRUN_MIN(TRANSPOSE_BLOCK, (tile / groups + 1) * p->shape[3] - first);
        const uint8_t* src = in + transpose_source(p, first);
        uint8_t* dst = out + first * inner;
        int64_t j = 0;
        if (rows == TRANSPOSE_BLOCK)
            for (; j + TRANSPOSE_BLOCK <= inner; j += TRANSPOSE_BLOCK)
                transpose_block_full(src + j * step, step, dst + j, inner);
        transpose_block_bytes(src + j * step, step, dst + j, inner, rows, inner - j);
    }
}

const qrun_op_entry qrun_lut_entry = {lut_tiles, lut_run};
const qrun_op_entry qrun_copy_entry = {copy_tiles, copy_run};
const qrun_op_entry qrun_fill_entry = {fill_tiles, fill_run};
const qrun_op_entry qrun_transpose_entry = {transpose_tiles, transpose_run};
