/* The interface between the Python plan builder and the C executor.
 *
 * This file is parsed by cffi's cdef() as well as by the C compiler, so it holds
 * declarations only: no preprocessor lines, fixed-width types, plain enums.
 * Every size, stride and offset in these structs was validated in Python before C sees it.
 * Tensors are addressed as byte offsets into the arena passed to qrun_execute().
 */

enum qrun_op_kind {
    QRUN_OP_GEMM = 1,      /* FULLY_CONNECTED, 1x1 stride-1 CONV_2D */
    QRUN_OP_IGEMM = 2,     /* CONV_2D through an indirection buffer */
    QRUN_OP_DWCONV = 3,    /* DEPTHWISE_CONV_2D through an indirection buffer */
    QRUN_OP_COUNT = 4
};

enum qrun_cpu_feature {
    QRUN_CPU_SSE41 = 1,
    QRUN_CPU_AVX2 = 2,          /* with FMA */
    QRUN_CPU_AVX512VNNI = 4     /* with AVX-512 F, BW, VL, DQ */
};

/* What this build is, and the tile sizes the packers must use for it. */
typedef struct {
    const char* name;
    int32_t gemm_mr;     /* rows of A per microkernel call */
    int32_t gemm_nr;     /* output channels per packed weight block */
    int32_t gemm_kr;     /* K elements grouped per channel in the packed weights */
    int32_t dw_cr;       /* channels per packed depthwise block */
} qrun_isa_info;

/* fp32 requantization: acc * scale[c], clamped, rounded to nearest even, + zero point. */
typedef struct {
    const float* scale;     /* one per output channel */
    float min_less_zp;      /* clamp low bound minus the output zero point */
    float max_less_zp;
    int32_t zero_point;
} qrun_requant;

/* C[m, n] = requant(bias[n] + sum_k A[m, k] * W[k, n] + a_sum_mult * sum_k A[m, k]).
 * A is read as int8 after XOR with a_flip (0x80 turns uint8 x into the int8 x - 128).
 * GEMM: row m of A starts at a_off + m * a_stride.
 * IGEMM: row m is the concatenation over taps t of the kc bytes at
 *        a_off + indirection[m * ks + t], or of `zero` when that entry is -1.
 * packed_w: for each block of gemm_nr channels: gemm_nr int32 biases, then ks * kc
 *           groups of gemm_nr x gemm_kr int8 weights (channels padded with zeros). */
typedef struct {
    int64_t m;
    int64_t n;
    int64_t kc;
    int64_t ks;
    int64_t a_off;
    int64_t a_stride;
    const int64_t* indirection;
    const uint8_t* zero;
    const void* packed_w;
    int64_t c_off;
    int64_t c_stride;
    int32_t a_flip;
    int32_t a_sum_mult;
    qrun_requant rq;
} qrun_gemm_params;

/* Depthwise: out[p, c] = requant(bias[c] + sum_t A[p, t, c / multiplier] * W[t, c]).
 * Pixel p, tap t reads input channels at in_off + indirection[p * taps + t] (or `zero`).
 * packed_w: for each block of dw_cr channels: dw_cr int32 biases, then taps x dw_cr int16
 *           weights (w - weight zero point; channels padded with zeros). */
typedef struct {
    int64_t pixels;
    int64_t channels;
    int64_t taps;
    int64_t multiplier;
    int64_t in_off;
    const int64_t* indirection;
    const uint8_t* zero;
    const void* packed_w;
    int64_t out_off;
    int32_t a_flip;
    qrun_requant rq;
} qrun_dwconv_params;

typedef struct {
    int32_t kind;             /* enum qrun_op_kind */
    const void* params;       /* the kind's params struct */
} qrun_node;

typedef struct {
    int32_t num_nodes;
    int32_t num_threads;      /* for the thread pool; 1 runs every tile on the caller */
    const qrun_node* nodes;
} qrun_plan;

const qrun_isa_info* qrun_isa(void);
int32_t qrun_cpu_features(void);
int32_t qrun_execute(const qrun_plan* plan, uint8_t* arena);
