/* Runtime CPU feature detection; the loader asks the scalar build which ISAs the CPU runs. */
#include "qrun.h"

int32_t qrun_cpu_features(void) {
    int32_t f = 0;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.1"))
        f |= QRUN_CPU_SSE41;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        f |= QRUN_CPU_AVX2;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vnni"))
        f |= QRUN_CPU_AVX512VNNI;
#endif
    return f;
}

static const qrun_isa_info isa_info = {
    QRUN_ISA_NAME, QRUN_GEMM_MR, QRUN_GEMM_NR, QRUN_GEMM_NR_STEP, QRUN_GEMM_KR,
    QRUN_GEMM_KR_SINGLE, QRUN_GEMM_DOT_OFFSET, QRUN_GEMM_FUSED_KH_MAX,
    QRUN_GEMM_FUSED_WINDOW_MAX, QRUN_GEMM_K_MAJOR_N_MAX, QRUN_DW_CR, QRUN_DW_QUAD_CR,
    QRUN_DW_ROW_CR,
};

const qrun_isa_info* qrun_isa(void) {
    return &isa_info;
}
