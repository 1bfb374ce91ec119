/* bf16-input, fp32-accumulate GEMM on AVX512-BF16 (sgemm_bf16.c, its own -mavx512bf16 translation unit). */
#ifndef TSR_SGEMM_BF16_H
#define TSR_SGEMM_BF16_H
#include <stddef.h>
#include <stdint.h>

/* Serial C[M,N] = beta·C + bf16(op(A))·bf16(op(B)), fp32 sums; same arguments as tsr_sgemm_serial.
 * Only call when the CPU has AVX512-BF16 (tsr_gemm_bf16_supported in sgemm.h). */
size_t tsr_gemm_bf16_workspace_floats(void);
void tsr_gemm_bf16_serial(int transA, int transB, int M, int N, int K, const float* A, int lda, const float* B, int ldb,
                          float* C, int ldc, float beta, float* workspace);

/* B (op(B) is K x N) packed once, e.g. a weight once per optimizer step, for many products: the packed
 * size in 32-bit words, the packing of columns [j0, j0 + nc) (nc a multiple of 32 unless it ends at N),
 * and the product with it (columns [joff, joff + N) of a packed B of width Ntot). */
size_t tsr_bf16_packed_words(int K, int N);
void tsr_bf16_pack_b(int transB, int K, int N, const float* B, int ldb, int j0, int nc, uint32_t* out);
void tsr_gemm_bf16_packed_serial(int transA, int M, int N, int K, const float* A, int lda, const uint32_t* Bpk, int Ntot,
                                 int joff, float* C, int ldc, float beta, float* workspace);
#endif
