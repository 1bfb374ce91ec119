/*
 * Shared helpers of the CUDA backend: error mapping, bf16 conversions, launch sizes, and the
 * declarations of the kernels' host-side launchers (kernels.cu, attention.cu, gemm.cu).
 */
#ifndef TSR_CUDA_COMMON_CUH
#define TSR_CUDA_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "../common/model.h"
#include "../common/philox.h"

typedef __nv_bfloat16 bf16;

/* Turns a CUDA error into a TSR status with the call site in the message. */
#define CU_TRY(expr)                                                                              \
    do {                                                                                          \
        cudaError_t e_ = (expr);                                                                  \
        if (e_ != cudaSuccess)                                                                    \
            return tsr_set_error(e_ == cudaErrorMemoryAllocation ? TSR_ERR_OOM : TSR_ERR_DEVICE, \
                                 "CUDA %s: %s (%s:%d: %s)", cudaGetErrorName(e_),                \
                                 cudaGetErrorString(e_), __FILE__, __LINE__, #expr);              \
    } while (0)
/* After a kernel launch: catches bad launch configurations without synchronising. */
#define CU_LAUNCH_CHECK() CU_TRY(cudaGetLastError())
/* Propagates a TSR status. */
#define TSR_TRY(expr)              \
    do {                           \
        int s_ = (expr);           \
        if (s_ != TSR_OK) return s_; \
    } while (0)

static inline unsigned tsr_blocks(int64_t n, int threads) {
    int64_t b = (n + threads - 1) / threads;
    if (b > 65535LL * 64) b = 65535LL * 64; /* kernels use grid-stride loops */
    return (unsigned)(b < 1 ? 1 : b);
}

/* ---- type-generic loads/stores (fp32 <-> bf16) ---- */
__device__ __forceinline__ float ld(const float* p) { return *p; }
__device__ __forceinline__ float ld(const bf16* p) { return __bfloat162float(*p); }
__device__ __forceinline__ void st(float* p, float v) { *p = v; }
__device__ __forceinline__ void st(bf16* p, float v) { *p = __float2bfloat16(v); }

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* Exact GELU and its derivative, in fp32 (erf, as the CPU backend and MosaicBERT's GeGLU). */
__device__ __forceinline__ float gelu_f(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }
__device__ __forceinline__ float gelu_grad_f(float x) {
    float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752f));
    float pdf = 0.39894228040143268f * __expf(-0.5f * x * x);
    return cdf + x * pdf;
}

/* ------------------------------------------------------------------------------------------ */
/* Launchers (all asynchronous on `st`; return a TSR status)                                   */
/* ------------------------------------------------------------------------------------------ */
#ifdef __cplusplus
extern "C++" {
#endif

/* GEMM in cuBLAS column-major terms: D[m,n] = alpha·op(A)·op(B) + beta·D, A/B bf16, fp32 accumulate.
 * D is fp32 (d_f32 != 0) or bf16. Uses cuBLASLt when it could be loaded, else our wmma kernel. */
int tsr_gemm(cudaStream_t st, bool transA, bool transB, int m, int n, int k, const bf16* A, int lda,
             const bf16* B, int ldb, void* D, int ldd, bool d_f32, float alpha, float beta);
/* "cublasLt <version>" or "wmma fallback (reason)". */
const char* tsr_gemm_engine(void);
void tsr_gemm_force_fallback(int on); /* tests: compare the two engines */
/* fallback counters (gemm_policy.h): failed plans (shapes), failed matmuls, wmma calls cuBLASLt was meant to run */
void tsr_gemm_fallback_stats(long long* plans, long long* matmuls, long long* calls, const char** last);
/* Loads cuBLASLt and allocates the stream's workspace now (model creation), not inside a step. */
void tsr_gemm_prepare_stream(cudaStream_t st);
/* Frees the cuBLASLt workspace of a stream about to be destroyed (after it is synchronised). */
void tsr_gemm_release_stream(cudaStream_t st);

/* Row-major helpers for y = x·Wᵀ (x [N,C], W [OC,C], y [N,OC]) and its gradients. */
int tsr_linear_fwd(cudaStream_t st, void* y, bool y_f32, const bf16* x, const bf16* w, int N, int C, int OC);
int tsr_linear_bwd_data(cudaStream_t st, void* dx, bool dx_f32, float alpha, float beta, const bf16* dy, const bf16* w, int N,
                        int C, int OC);
int tsr_linear_bwd_weight(cudaStream_t st, float* dw, float alpha, const bf16* dy, const bf16* x, int N, int C, int OC);

/* Attention (attention.cu). qkv bf16 [T, 3·NH·D]; out bf16 [T, NH·D]; lse fp32 [NH, T].
 * cu_seqlens and slopes are device pointers (slopes may be NULL: no ALiBi). */
int tsr_attn_fwd(cudaStream_t st, bf16* out, float* lse, const bf16* qkv, const int32_t* cu_seqlens, int num_seqs,
                 int max_seqlen, int T, int NH, int D, const float* slopes, float p, uint64_t seed, uint64_t step,
                 uint32_t site);
/* dqkv bf16 [T, 3·NH·D] is OVERWRITTEN; ws_f32 needs tsr_attn_bwd_ws_floats(T, NH, D) floats. */
int tsr_attn_bwd(cudaStream_t st, bf16* dqkv, const bf16* dout, const bf16* qkv, const bf16* out, const float* lse,
                 const int32_t* cu_seqlens, int num_seqs, int max_seqlen, int T, int NH, int D, const float* slopes,
                 float p, uint64_t seed, uint64_t step, uint32_t site, float* ws_f32);
int64_t tsr_attn_bwd_ws_floats(int T, int NH, int D);
int tsr_attn_supported(int D); /* TSR_OK or TSR_ERR_INVALID_ARG with a message */

#ifdef __cplusplus
}
#endif

#endif
