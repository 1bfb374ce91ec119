/*
 * CUDA EP kernels of libtessera_ortops (fp32 in/out, fp32 math). Run on ORT's compute stream.
 *
 * Attention: the FlashAttention-2 scheme of src/cuda/attention.cu (key tiles in shared memory, online
 * softmax with a running max / sum, in-kernel ALiBi, no L×L matrix), in fp32 without tensor cores so
 * results match the CPU op to float32 rounding. Block = 4 warps × 4 query rows; in a key tile each lane
 * scores one key, then every lane accumulates its head-dim columns of O. head_dim <= 128.
 */
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "ortops_cuda.h"

namespace {

constexpr int WARPS = 4;
constexpr int ROWS_PER_WARP = 4;
constexpr int BR = WARPS * ROWS_PER_WARP; /* query rows per block */
constexpr int BC = 32;                    /* keys per tile (one per lane) */
constexpr int DMAX = 128;
constexpr int CPL = DMAX / 32;            /* head-dim columns per lane */

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* grid (ceil(max_len / BR), NH, sequences of this launch); cu: int64[B+1] on the device */
__global__ void __launch_bounds__(WARPS * 32) attn_fwd_f32(float* __restrict__ out, const float* __restrict__ qkv,
                                                           const int64_t* __restrict__ cu, int b0, int NH, int D,
                                                           const float* __restrict__ slopes, float scale) {
    const int h = blockIdx.y, b = b0 + blockIdx.z;
    const int64_t start = cu[b];
    const int len = (int)(cu[b + 1] - start);
    const int q0 = blockIdx.x * BR;
    if (q0 >= len) return;
    const int HD = NH * D;
    const int64_t ld = 3 * (int64_t)HD;
    const int DP = D + 1; /* padded row: lane j reads K[j][c] without bank conflicts */
    extern __shared__ float smem[];
    float* sQ = smem;                 /* [BR][D] */
    float* sK = sQ + BR * D;          /* [BC][DP] */
    float* sV = sK + BC * DP;         /* [BC][D] */
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const float slope = slopes ? slopes[h] : 0.0f;
    const float* base = qkv + start * ld;

    for (int idx = threadIdx.x; idx < BR * D; idx += blockDim.x) {
        int r = idx / D, c = idx % D;
        sQ[idx] = q0 + r < len ? base[(int64_t)(q0 + r) * ld + h * D + c] * scale : 0.0f;
    }
    float m[ROWS_PER_WARP], l[ROWS_PER_WARP], o[ROWS_PER_WARP][CPL];
    for (int r = 0; r < ROWS_PER_WARP; r++) {
        m[r] = -INFINITY;
        l[r] = 0.0f;
        for (int u = 0; u < CPL; u++) o[r][u] = 0.0f;
    }
    for (int k0 = 0; k0 < len; k0 += BC) {
        __syncthreads();
        for (int idx = threadIdx.x; idx < BC * D; idx += blockDim.x) {
            int j = idx / D, c = idx % D;
            bool ok = k0 + j < len;
            const float* row = base + (int64_t)(k0 + j) * ld + h * D + c;
            sK[j * DP + c] = ok ? row[HD] : 0.0f;
            sV[j * D + c] = ok ? row[2 * HD] : 0.0f;
        }
        __syncthreads();
        const int j = k0 + lane;
        for (int r = 0; r < ROWS_PER_WARP; r++) {
            const int qi = warp * ROWS_PER_WARP + r, i = q0 + qi;
            if (i >= len) break; /* warp-uniform */
            float s = -INFINITY;
            if (j < len) {
                const float* q = sQ + qi * D;
                const float* k = sK + lane * DP;
                float acc = 0.0f;
                for (int c = 0; c < D; c++) acc = fmaf(q[c], k[c], acc);
                s = acc - slope * fabsf((float)(i - j));
            }
            const float m_new = fmaxf(m[r], warp_max(s)); /* finite: key k0 < len */
            const float p = j < len ? expf(s - m_new) : 0.0f;
            const float corr = expf(m[r] - m_new);    /* 0 on the first tile */
            l[r] = l[r] * corr + warp_sum(p);
            m[r] = m_new;
            for (int u = 0; u < CPL; u++) o[r][u] *= corr;
            const int nk = min(BC, len - k0);
            for (int jj = 0; jj < nk; jj++) {
                const float pj = __shfl_sync(0xffffffffu, p, jj);
                for (int u = 0; u < CPL; u++) {
                    const int c = lane + 32 * u;
                    if (c < D) o[r][u] = fmaf(pj, sV[jj * D + c], o[r][u]);
                }
            }
        }
    }
    for (int r = 0; r < ROWS_PER_WARP; r++) {
        const int i = q0 + warp * ROWS_PER_WARP + r;
        if (i >= len) break;
        const float inv = 1.0f / l[r];
        float* dst = out + (start + i) * (int64_t)HD + h * D;
        for (int u = 0; u < CPL; u++) {
            const int c = lane + 32 * u;
            if (c < D) dst[c] = o[r][u] * inv;
        }
    }
}

/* grid (ceil(H / 128), B); one thread per column of one sequence */
__global__ void mean_pool_f32(float* __restrict__ out, const float* __restrict__ h, const int64_t* __restrict__ cu,
                              int H) {
    const int b = blockIdx.y, c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= H) return;
    const int64_t s = cu[b], e = cu[b + 1];
    double acc = 0.0;
    for (int64_t t = s; t < e; t++) acc += h[t * H + c];
    out[(int64_t)b * H + c] = e > s ? (float)(acc / (double)(e - s)) : 0.0f;
}

/* device copy of cu (and slopes) on the stream; freed stream-ordered after the kernels */
const char* upload(cudaStream_t st, void** dev, const int64_t* cu, int B, const float* slopes, int NH) {
    size_t cub = (size_t)(B + 1) * sizeof(int64_t), sb = slopes ? (size_t)NH * sizeof(float) : 0;
    cudaError_t e = cudaMallocAsync(dev, cub + sb, st);
    if (e == cudaSuccess) e = cudaMemcpyAsync(*dev, cu, cub, cudaMemcpyHostToDevice, st);
    if (e == cudaSuccess && sb) e = cudaMemcpyAsync((char*)*dev + cub, slopes, sb, cudaMemcpyHostToDevice, st);
    return e == cudaSuccess ? nullptr : cudaGetErrorString(e);
}

}  // namespace

extern "C" const char* tsr_ortops_cuda_attention(void* stream, float* out, const float* qkv, const int64_t* cu_host,
                                                 int B, int T, int NH, int D, const float* slopes_host, float scale) {
    if (D > DMAX) return "head_dim > 128 is not supported by the CUDA kernel";
    if (NH > 65535) return "num_heads > 65535 is not supported by the CUDA kernel";
    cudaStream_t st = (cudaStream_t)stream;
    int64_t max_len = 0;
    for (int b = 0; b < B; b++) max_len = cu_host[b + 1] - cu_host[b] > max_len ? cu_host[b + 1] - cu_host[b] : max_len;
    if (max_len == 0 || T == 0) return nullptr;
    void* dev = nullptr;
    const char* err = upload(st, &dev, cu_host, B, slopes_host, NH);
    if (err) return err;
    const int64_t* cu = (const int64_t*)dev;
    const float* slopes = slopes_host ? (const float*)((char*)dev + (size_t)(B + 1) * sizeof(int64_t)) : nullptr;
    const size_t smem = ((size_t)BR * D + (size_t)BC * (D + 1) + (size_t)BC * D) * sizeof(float);
    for (int b0 = 0; b0 < B; b0 += 65535) {
        dim3 grid((unsigned)((max_len + BR - 1) / BR), (unsigned)NH, (unsigned)(B - b0 < 65535 ? B - b0 : 65535));
        attn_fwd_f32<<<grid, WARPS * 32, smem, st>>>(out, qkv, cu, b0, NH, D, slopes, scale);
    }
    cudaError_t e = cudaGetLastError();
    cudaFreeAsync(dev, st);
    return e == cudaSuccess ? nullptr : cudaGetErrorString(e);
}

extern "C" const char* tsr_ortops_cuda_mean_pool(void* stream, float* out, const float* h, const int64_t* cu_host,
                                                 int B, int H) {
    cudaStream_t st = (cudaStream_t)stream;
    void* dev = nullptr;
    const char* err = upload(st, &dev, cu_host, B, nullptr, 0);
    if (err) return err;
    for (int b0 = 0; b0 < B; b0 += 65535) {
        dim3 grid((unsigned)((H + 127) / 128), (unsigned)(B - b0 < 65535 ? B - b0 : 65535));
        mean_pool_f32<<<grid, 128, 0, st>>>(out + (int64_t)b0 * H, h, (const int64_t*)dev + b0, H);
    }
    cudaError_t e = cudaGetLastError();
    cudaFreeAsync(dev, st);
    return e == cudaSuccess ? nullptr : cudaGetErrorString(e);
}
