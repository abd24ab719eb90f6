/* GEMM and indirect GEMM (convolution) with the fp32 requantization epilogue.
 *
 * Both run the same MR x NR gemm_microkernel; they differ only in how row r of A at tap t is
 * found: GEMM rows are strided, IGEMM rows come from the indirection buffer. */
#include "qrun.h"

#define GEMM_GROUP_BYTES (QRUN_GEMM_NR * QRUN_GEMM_KR)

static inline int64_t gemm_round_up(int64_t x, int64_t q) {
    return (x + q - 1) / q * q;
}

/* Row r (< mr) at tap t of the row block starting at m0. */
static inline const uint8_t* gemm_row_at(const qrun_gemm_params* p, const uint8_t* arena,
                                    int64_t m0, int64_t r, int64_t t) {
    if (p->indirection == NULL)
        return arena + p->a_off + (m0 + r) * p->a_stride;
    int64_t off = p->indirection[(m0 + r) * p->ks + t];
    return off < 0 ? p->zero : arena + p->a_off + off;
}

static void gemm_microkernel(const qrun_gemm_params* p, uint8_t* arena, int64_t m0, int64_t mr,
                        int64_t block) {
    const int64_t kcp = gemm_round_up(p->kc, QRUN_GEMM_KR);
    const int64_t block_bytes = QRUN_GEMM_NR * 4 + p->ks * kcp * QRUN_GEMM_NR;
    const uint8_t* packed = (const uint8_t*)p->packed_w + block * block_bytes;
    const int8_t* w = (const int8_t*)(packed + QRUN_GEMM_NR * 4);
    const uint8_t flip = (uint8_t)p->a_flip;
    int32_t bias[QRUN_GEMM_NR];
    int32_t acc[QRUN_GEMM_MR][QRUN_GEMM_NR];
    int32_t asum[QRUN_GEMM_MR] = {0};

    memcpy(bias, packed, sizeof bias);
    for (int64_t r = 0; r < QRUN_GEMM_MR; r++)
        for (int64_t j = 0; j < QRUN_GEMM_NR; j++)
            acc[r][j] = bias[j];

    for (int64_t t = 0; t < p->ks; t++) {
        const uint8_t* a[QRUN_GEMM_MR];
        for (int64_t r = 0; r < QRUN_GEMM_MR; r++)
            a[r] = gemm_row_at(p, arena, m0, r < mr ? r : mr - 1, t);
        const int8_t* wt = w + t * kcp * QRUN_GEMM_NR;
        for (int64_t k = 0; k < p->kc; k++) {
            const int8_t* wk = wt + (k / QRUN_GEMM_KR) * GEMM_GROUP_BYTES + k % QRUN_GEMM_KR;
            for (int64_t r = 0; r < QRUN_GEMM_MR; r++) {
                const int32_t x = qrun_load_a(a[r][k], flip);
                asum[r] += x;
                for (int64_t j = 0; j < QRUN_GEMM_NR; j++)
                    acc[r][j] += x * (int32_t)wk[j * QRUN_GEMM_KR];
            }
        }
    }

    const int64_t n0 = block * QRUN_GEMM_NR;
    const int64_t nc = QRUN_MIN(QRUN_GEMM_NR, p->n - n0);
    const qrun_requant rq = p->rq;   /* a local copy: stores to `c` cannot alias it */
    const float* scale = rq.scale + n0;
    for (int64_t r = 0; r < mr; r++) {
        uint8_t* c = arena + p->c_off + (m0 + r) * p->c_stride + n0;
        const int32_t corr = p->a_sum_mult * asum[r];
        for (int64_t j = 0; j < nc; j++)
            c[j] = qrun_requantize(acc[r][j] + corr, scale[j], &rq);
    }
}

static int64_t gemm_tiles(const void* params) {
    const qrun_gemm_params* p = (const qrun_gemm_params*)params;
    return (p->m + QRUN_GEMM_MR - 1) / QRUN_GEMM_MR;
}

/* Tiles are blocks of MR rows; each runs over every block of NR output channels. */
static void gemm_run(const void* params, uint8_t* arena, int64_t begin, int64_t end) {
    const qrun_gemm_params* p = (const qrun_gemm_params*)params;
    const int64_t blocks = (p->n + QRUN_GEMM_NR - 1) / QRUN_GEMM_NR;
    for (int64_t tile = begin; tile < end; tile++) {
        const int64_t m0 = tile * QRUN_GEMM_MR;
        const int64_t mr = QRUN_MIN(QRUN_GEMM_MR, p->m - m0);
        for (int64_t b = 0; b < blocks; b++)
            gemm_microkernel(p, arena, m0, mr, b);
    }
}

const qrun_op_entry qrun_gemm_entry = {gemm_tiles, gemm_run};
const qrun_op_entry qrun_igemm_entry = {gemm_tiles, gemm_run};
