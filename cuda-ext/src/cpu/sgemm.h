/* Packed, cache-blocked fp32 GEMM for the CPU backend (row-major). */
#ifndef TSR_SGEMM_H
#define TSR_SGEMM_H
#include <stddef.h>
#include <stdint.h>

/*
 * C[M,N] = beta·C + op(A)[M,K] · op(B)[K,N], beta ∈ {0, 1}.
 * op(A)[i,k] = transA ? A[k·lda + i] : A[i·lda + k];  op(B)[k,j] = transB ? B[j·ldb + k] : B[k·ldb + j].
 * tsr_sgemm splits the work over the OpenMP threads (serial when called inside a parallel region).
 */
void tsr_sgemm(int transA, int transB, int M, int N, int K, const float* A, int lda, const float* B, int ldb,
               float* C, int ldc, float beta);

/* Serial version using caller-provided workspace of tsr_sgemm_workspace_floats() floats (64-byte aligned). */
size_t tsr_sgemm_workspace_floats(void);
void tsr_sgemm_serial(int transA, int transB, int M, int N, int K, const float* A, int lda, const float* B, int ldb,
                      float* C, int ldc, float beta, float* workspace);

/* 1 if a tsr_sgemm since the last call failed to allocate its ~2.4 MB workspace (then it computed
 * nothing); resets the flag. The model and the per-op entry points turn it into TSR_ERR_OOM. */
int tsr_sgemm_take_failure(void);

/* Scratch of the calling thread (64-byte aligned, >= floats), valid until its next call on this thread;
 * freed at thread exit. NULL when out of memory. */
float* tsr_thread_workspace(size_t floats);

/* Precision of tsr_gemm: fp32, or bf16 inputs (op(A), op(B) rounded to nearest even bf16) with fp32
 * sums on AVX512-BF16. On a CPU without it TSR_GEMM_BF16 computes in fp32 (the fallback). */
enum { TSR_GEMM_FP32 = 0, TSR_GEMM_BF16 = 1 };
void tsr_gemm(int precision, int transA, int transB, int M, int N, int K, const float* A, int lda, const float* B,
              int ldb, float* C, int ldc, float beta);
/* 1 if TSR_GEMM_BF16 runs the bf16 kernels here (AVX512-BF16 present, TSR_NO_BF16/TSR_NO_AVX512 unset) */
int tsr_gemm_bf16_supported(void);

/* A bf16-packed B operand (op(B) is K x N), packed once for many products (a weight, once per step).
 * Only when tsr_gemm_bf16_supported(). words: tsr_bf16_pack_words(K, N) 32-bit words, 64-byte aligned. */
typedef struct { uint32_t* words; int K, N; } tsr_bf16_pack;
size_t tsr_bf16_pack_words(int K, int N);
void tsr_bf16_pack_b_all(int transB, int K, int N, const float* B, int ldb, tsr_bf16_pack* pk);
/* C[M,N] = beta·C + bf16(op(A))·packed B, fp32 sums; threads as tsr_gemm */
void tsr_gemm_bf16_packed(int transA, int M, int N, int K, const float* A, int lda, const tsr_bf16_pack* pk, float* C,
                          int ldc, float beta);

/* "avx512", "avx2" or "scalar" */
const char* tsr_sgemm_isa(void);
#endif
