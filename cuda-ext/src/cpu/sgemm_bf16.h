/* bf16-input, fp32-accumulate GEMM on AVX512-BF16 (sgemm_bf16.c, its own -mavx512bf16 translation unit). */
#ifndef TSR_SGEMM_BF16_H
#define TSR_SGEMM_BF16_H
#include <stddef.h>

/* Serial C[M,N] = beta·C + bf16(op(A))·bf16(op(B)), fp32 sums; same arguments as tsr_sgemm_serial.
 * Only call when the CPU has AVX512-BF16 (tsr_gemm_bf16_supported in sgemm.h). */
size_t tsr_gemm_bf16_workspace_floats(void);
void tsr_gemm_bf16_serial(int transA, int transB, int M, int N, int K, const float* A, int lda, const float* B, int ldb,
                          float* C, int ldc, float beta, float* workspace);
#endif
