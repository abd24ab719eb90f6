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
    QRUN_OP_LUT = 4,       /* unary ops on bytes: LOGISTIC, TANH, ..., DEQUANTIZE */
    QRUN_OP_COPY = 5,      /* byte ranges: RESHAPE, CONCATENATION, PAD, SPLIT, RESIZE_NEAREST */
    QRUN_OP_FILL = 6,      /* a byte value over a range: PAD's border */
    QRUN_OP_BINARY = 7,    /* ADD, SUB, MUL with broadcasting */
    QRUN_OP_POOL = 8,      /* AVERAGE_POOL_2D, MAX_POOL_2D through an indirection buffer */
    QRUN_OP_MEAN = 9,      /* MEAN over the inner axes of [outer, inner, channels] */
    QRUN_OP_TRANSPOSE = 10,
    QRUN_OP_RESIZE_BILINEAR = 11,
    QRUN_OP_ARG = 12,      /* ARG_MAX, ARG_MIN */
    QRUN_OP_QUANTIZE = 13, /* float32 -> int8/uint8 */
    QRUN_OP_SOFTMAX = 14,
    QRUN_OP_COUNT = 15
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
    int32_t gemm_nr;     /* output channels per packed weight block: at most this, */
    int32_t gemm_nr_step; /* a multiple of this (the plan picks per op: qrun_gemm_params.nr) */
    int32_t gemm_kr;     /* K elements grouped per channel in the packed weights, */
    int32_t gemm_kr_single; /* in those of an op with nr == gemm_nr_step */
    int32_t gemm_dot_offset; /* nonzero (128): a u8 x s8 dot product. A is read as the
                                unsigned value + 128: bias -= 128 * weight sums */
    int32_t gemm_fused_kh_max; /* IGEMM kx_fused: at most this many kernel rows and */
    int32_t gemm_fused_window_max; /* window bytes (kh * kw * in_c) */
    int32_t gemm_k_major_n_max; /* nonzero: the K-major kernels for at most this many
                                   output channels (qrun_gemm_params.k_major) */
    int32_t dw_cr;       /* channels per packed depthwise block */
    int32_t dw_quad_cr;  /* nonzero: channels per block of the depthwise int8-quad layout
                            (u8 x s8 dot products, int8 weights; qrun_dwconv_params.quads) */
    int32_t dw_row_cr;   /* nonzero: lanes of the depthwise row kernel's vector
                            (qrun_dwconv_params.row_lanes) */
} qrun_isa_info;

/* Requantization, bit-exact with TFLite's reference: per output channel the reference's
 * multiplier M (0 or in [2^30, 2^31)) and shift, out = clamp(MultiplyByQuantizedMultiplier(acc,
 * M, shift) + zero point) (double rounding: CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV; a
 * left shift below 32) or, with single_rounding (FULLY_CONNECTED), of
 * (acc M + 2^(30 - shift)) >> (31 - shift) (shift at most 30).
 * The SIMD kernels compute acc * scale[c] in fp32 (scale: M 2^(shift - 31) rounded toward
 * zero), nudged away from zero by nudge_mask (0x7F800000: the largest power of two not above
 * the scale, 2^(shift - 1); where the double rounding rounds at 2^-31 of M first), clamp it
 * and round it to nearest even; a vector with a lane whose clamped value v has
 * |v - rint(v)| >= near_half (near a rounding boundary, where fp32 may differ) is recomputed
 * with the integers (qrun_requantize_kept). near_half -1: every lane (left shifts, or
 * channels without a right shift under double rounding). The scalar build and the scalar
 * epilogues always use the integers. Ops that only clamp and round (binary.c) use the clamp
 * bounds and zero point alone. */
typedef struct {
    const float* scale;          /* one per output channel */
    const int32_t* multiplier;   /* M, one per output channel */
    const int32_t* shift;        /* one per output channel: left if > 0 */
    float min_less_zp;           /* clamp low bound minus the output zero point */
    float max_less_zp;
    int32_t zero_point;
    uint32_t nudge_mask;
    float near_half;
    int32_t single_rounding;
} qrun_requant;

/* C[m, n] = requant(bias[n] + sum_k A[m, k] * W[k, n] + a_sum_mult * sum_k A[m, k]).
 * A is read as int8 after XOR with a_flip (0x80 turns uint8 x into the int8 x - 128).
 * GEMM (tap_rows NULL): row m of A is the kc bytes at a_off + m * a_stride (ks 1).
 * IGEMM: pixel m is (q, x) = (m / out_w, m % out_w); its window tap (ky, kx) is the in_c
 *        bytes at a_off + tap_rows[q * kh + ky] + tap_cols[x * kw + kx], or `zero` when that
 *        sum is negative (an entry outside the input is below -2^60). Row m of A is the
 *        concatenation of its taps, ky-major: ks = kh * kw taps of kc = in_c bytes; or, with
 *        kx_fused (dilation 1 across), ks = kh taps of kc = kw * in_c bytes, each a pixel's kw
 *        contiguous taps (gathered when the window crosses the left or right edge; `zero`
 *        then holds kc bytes; kh <= gemm_fused_kh_max, kh * kc <= gemm_fused_window_max).
 * packed_w: for each block of nr channels: nr int32 biases, then ks * ceil(kc / kr)
 *           groups of nr x kr int8 weights (channels and K padded with zeros), kr the
 *           ISA's gemm_kr, or gemm_kr_single where nr == gemm_nr_step;
 *           k_major (n <= gemm_k_major_n_max, nr == n): 64 bytes holding the n int32 biases,
 *           then per tap, n rows of kc int8 weights, each zero-padded to a multiple of 64. */
typedef struct {
    int64_t m;
    int64_t n;
    int64_t kc;
    int64_t ks;
    int64_t nr;               /* channels per packed weight block (see qrun_isa_info) */
    int64_t a_off;
    int64_t a_stride;
    const int64_t* tap_rows;  /* IGEMM: [batch * out_h][kh] byte offsets of input rows */
    const int64_t* tap_cols;  /* IGEMM: [out_w][kw] byte offsets within an input row */
    const int32_t* tap_yx;    /* IGEMM: [ks][2] kernel tap t's (ky, kx) (kx 0 when fused) */
    const int64_t* tap_off;   /* IGEMM, or NULL: [ks] kernel tap t's offset from the window's
                                 first pixel when its first and last rows are inside (then
                                 every row is, at tap_rows[.][0] + this less the column term) */
    int64_t out_w;
    int64_t col_step;         /* IGEMM: nonzero when MR consecutive pixels of an output row
                                 whose windows are inside across read pixels col_step bytes
                                 apart, tap by tap */
    int64_t kh;
    int64_t kw;
    int64_t in_c;
    const uint8_t* zero;
    const void* packed_w;
    int64_t c_off;
    int64_t c_stride;
    int32_t a_flip;
    int32_t a_sum_mult;
    int32_t kx_fused;
    int32_t k_major;
    qrun_requant rq;
} qrun_gemm_params;

/* Depthwise: out[p, c] = requant(bias[c] + sum_t A[p, t, c / multiplier] * W[t, c]).
 * Pixel p, tap t reads input channels at in_off + indirection[p * taps + t] (or `zero`).
 * packed_w: for each block of dw_cr channels: dw_cr int32 biases, dw_cr float scales, dw_cr
 *           int32 multipliers, dw_cr int32 shifts (rq's, reordered), then per pair of taps dw_cr pairs of int16 weights (w - weight zero
 *           point; an odd last tap pairs with 0), channels in the order of
 *           packing.dwconv_positions (channels padded with zeros). */
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
    int32_t quads;            /* packed_w in the quad layout (packing.pack_dwconv_quads):
                                 1 int8 weights, 2 raw uint8 weights */
    int32_t w_zero_point;     /* quads 2: the weights' zero point (one per tensor) */
    qrun_requant rq;
    /* The row kernel (nonzero row_lanes; multiplier 1, horizontal stride 1, few channels):
     * an output row is a 1-D convolution over its bytes, output byte j (pixel j / channels)
     * reading byte j + row_shifts[kx] of input row ky, padding outside the row. packed_w is
     * one block of dw_row_cr lanes (int16 pairs) or, with quads, of the quad layout's 64,
     * whose lane i holds channel i % channels (i < row_lanes, a multiple of channels) or
     * zeros. Tiles are output rows instead of pixels. */
    int64_t row_lanes;        /* output bytes per vector step */
    int64_t rows;             /* batch * output height */
    int64_t row_pixels;       /* output width */
    int64_t in_row_bytes;     /* input width * channels */
    int64_t kernel_w;
    const int64_t* row_indirection; /* [rows, taps / kernel_w]: input row offsets, -1: padding */
    const int64_t* row_shifts;      /* [kernel_w]: (kx * dilation_w - pad_left) * channels */
} qrun_dwconv_params;

/* out[i] = table[in[i]] for n input bytes; entries of out_size bytes (1, or 4 for
 * DEQUANTIZE's floats). */
typedef struct {
    int64_t n;
    int64_t in_off;
    int64_t out_off;
    int32_t out_size;
    const uint8_t* table;     /* 256 entries of out_size bytes, indexed by the input byte */
} qrun_lut_params;

/* For each of `count` strided ranges r = ranges[6r .. 6r + 5] = (src, dst, nbytes, rows,
 * src_step, dst_step): for k < rows, copy nbytes bytes from arena offset src + k src_step to
 * dst + k dst_step, through `table` when it is not NULL (out = table[in]: a requantization).
 * No two copies write the same byte. */
typedef struct {
    int64_t count;
    const int64_t* ranges;
    const uint8_t* table;
} qrun_copy_params;

/* A permutation of bytes: the dense output [shape[0..3]..., inner] takes element
 * in[in_off + sum_d i_d * stride[d]] (stride[4]: along the inner axis). */
typedef struct {
    int64_t shape[4];
    int64_t inner;
    int64_t stride[5];
    int64_t in_off;
    int64_t out_off;
} qrun_transpose_params;

typedef struct {
    int64_t off;
    int64_t nbytes;
    int32_t value;
} qrun_fill_params;

enum qrun_binary_kind {
    /* int8/uint8, TFLite's reference fixed point (bit-exact): ADD, SUB: a_term + b_term
     * (a_term - b_term), each input's term ((x - zero) << 20) * mult rounded right by its shift,
     * then the output multiplier; MUL: (a - a_zero) * (b - b_zero), then the output multiplier */
    QRUN_BINARY_ADD = 0,
    QRUN_BINARY_MUL = 1,
    QRUN_BINARY_TABLE = 2,    /* table[a * 256 + b] (bytes), exact: MAXIMUM, MINIMUM, PRELU; and
                               * ADD, SUB, MUL with a constant a (the index of its value) */
    QRUN_BINARY_SUB = 3,
    /* float32 a op b, clamped to [f_min, f_max] (NaN passes): IEEE, exact */
    QRUN_BINARY_F32_ADD = 4,
    QRUN_BINARY_F32_SUB = 5,
    QRUN_BINARY_F32_MUL = 6,
    QRUN_BINARY_F32_DIV = 7
};

/* Elementwise on a broadcast [rows..., inner] output: the output is dense; a and b advance
 * by their own element strides (0 along broadcast axes). shape[0..3] are the outer axes
 * (rows = their product), stride[4] the inner axis. Byte kinds read values as int8 (flip);
 * float kinds read and write float32 (offsets in bytes, strides in elements).
 * ADD, SUB, MUL's output multiplier (MultiplyByQuantizedMultiplier): acc << out_left_shift
 * (wrapping), qrun_mulhi_q31 by out_mult, rounded right by out_right_shift, clamped to
 * [out_min_less_zero, out_max_less_zero], plus out_zero: the output byte (int8 or uint8). */
typedef struct {
    int32_t kind;
    int32_t flip;
    int32_t a_zero;
    int32_t b_zero;
    int32_t a_mult;           /* ADD, SUB: the inputs' multipliers (Q31) and right shifts */
    int32_t a_shift;
    int32_t b_mult;
    int32_t b_shift;
    int32_t out_mult;
    int32_t out_left_shift;
    int32_t out_right_shift;
    int32_t out_zero;
    int32_t out_min_less_zero;
    int32_t out_max_less_zero;
    /* the fp32 fast path, a_scale * (a - a_zero) + b_scale * (b - b_zero) (SUB: b_scale < 0) or
     * a_scale * (a - a_zero) * (b - b_zero) (MUL, moved away from zero by 2^-(out_right_shift
     * + 1)), clamped, on a grid of 2^-14, rounded; a lane within near_tie steps of the grid
     * from a rounding tie (a power of two up to 8192: every lane; 0: none) takes the fixed
     * point */
    float a_scale;
    float b_scale;
    int32_t near_tie;
    int64_t shape[4];
    int64_t inner;
    int64_t a_stride[5];
    int64_t b_stride[5];
    int64_t a_off;
    int64_t b_off;
    const uint8_t* a_const;   /* a constant operand (then a_off is unused), else NULL */
    const uint8_t* b_const;
    int64_t out_off;
    const uint8_t* table;     /* QRUN_BINARY_TABLE: 65536 output bytes */
    int64_t table_rows;       /* QRUN_BINARY_TABLE: a < table_rows (when not 0) */
    float f_min;              /* float kinds: the fused activation's range */
    float f_max;
} qrun_binary_params;

/* Pooling, exact: out[p, c] = max or rounded average over the valid taps (indirection
 * entry >= 0) of in[in_off + indirection[p * taps + t] + c], clamped to [act_min, act_max].
 * is_signed: bytes are int8 (else uint8). Every pixel has at least one valid tap. */
typedef struct {
    int64_t pixels;
    int64_t channels;
    int64_t taps;
    int64_t in_off;
    const int64_t* indirection;
    int64_t out_off;
    int32_t is_max;
    int32_t is_signed;
    int32_t act_min;
    int32_t act_max;
} qrun_pool_params;

/* out[o, c] = clamp(out_zero + MultiplyByQuantizedMultiplier(sum_i (in[o, i, c] - in_zero),
 * multiplier, left_shift - right_shift)) over [outer, inner, channels], as TFLite's reference
 * MEAN (1/inner folded into the multiplier). Values read as int8 (flip); the plan ensures the
 * sum shifted left by left_shift fits in int32. */
typedef struct {
    int64_t outer;
    int64_t inner;
    int64_t channels;
    int64_t in_off;
    int64_t out_off;
    int32_t flip;
    int32_t in_zero;
    int32_t multiplier;
    int32_t left_shift;
    int32_t right_shift;
    int32_t out_zero;
    int32_t out_min;
    int32_t out_max;
} qrun_mean_params;

/* RESIZE_BILINEAR as TFLite's reference kernel computes it. Output row r (of out_h) blends
 * input rows y0[r], y1[r] with weight dy[r]; column c blends x0[c], x1[c] with dx[c].
 * integer (int8): weights in 1/1024 (iy/ix), a 20-bit sum rounded half away from zero.
 * float (uint8): float32 weights (fy/fx), the reference's operation order, + 0.5 truncated. */
typedef struct {
    int32_t integer;
    int64_t batch;
    int64_t in_h;
    int64_t in_w;
    int64_t channels;
    int64_t out_h;
    int64_t out_w;
    const int64_t* y0;
    const int64_t* y1;
    const int64_t* x0;
    const int64_t* x1;
    const int32_t* iy;
    const int32_t* ix;
    const float* fy;
    const float* fx;
    int64_t in_off;
    int64_t out_off;
} qrun_resize_params;

/* ARG_MAX / ARG_MIN over the middle axis of [outer, axis_size, inner]: the first index of
 * the extreme value, stored as int32 or int64 (out_size 4 or 8). */
typedef struct {
    int64_t outer;
    int64_t axis_size;
    int64_t inner;
    int32_t is_signed;
    int32_t is_min;
    int32_t out_size;
    int64_t in_off;
    int64_t out_off;
} qrun_arg_params;

/* QUANTIZE float32 -> bytes as TFLite's AffineQuantize: round(x / scale) half away from
 * zero (non-finite or out of int32: INT32_MIN), + zero point, clamped to [qmin, qmax]. */
typedef struct {
    int64_t n;
    int64_t in_off;
    int64_t out_off;
    float scale;
    int32_t zero_point;
    int32_t qmin;
    int32_t qmax;
} qrun_quantize_params;

/* SOFTMAX over rows of `depth` bytes, bit-exact with TFLite's 8-bit reference kernel: per
 * byte difference d = x - row max (index d + 255), exps[] is exp in Q0.31 (>= 0; 0 where d
 * is below the kernel's diff_min: such an output is out_min); the fixed-point reciprocal of
 * the sum of their Q12.19 shares scales the exps. Bytes read as int8 when is_signed. */
typedef struct {
    int64_t rows;
    int64_t depth;
    int32_t is_signed;
    int32_t out_min;
    int32_t out_max;
    const int32_t* exps;
    int64_t in_off;
    int64_t out_off;
} qrun_softmax_params;

/* The thread pool (threadpool.c): created once per interpreter with num_threads >= 2. */
typedef struct qrun_pool qrun_pool;

typedef struct {
    int32_t kind;             /* enum qrun_op_kind */
    const void* params;       /* the kind's params struct */
} qrun_node;

typedef struct {
    int32_t num_nodes;
    qrun_pool* pool;          /* splits each node's tiles over threads; NULL: all on the caller */
    const qrun_node* nodes;
    int64_t* timestamps_ns;   /* profiler (NULL: off): node i starts at [i]; [num_nodes]: end */
    int64_t arena_bytes;      /* the arena's size: debug builds check every node's ranges */
} qrun_plan;

const qrun_isa_info* qrun_isa(void);
int32_t qrun_cpu_features(void);
int32_t qrun_execute(const qrun_plan* plan, uint8_t* arena);
int32_t qrun_debug_checks(void);   /* 1: built with QRUN_DEBUG (checks.c), else 0 */
qrun_pool* qrun_pool_create(int32_t num_threads);
void qrun_pool_destroy(qrun_pool* pool);
int64_t qrun_pool_chunks_dispatched(const qrun_pool* pool);   /* tile ranges handed out so far */
