/*
 * Varlen multi-head attention with in-kernel ALiBi, FlashAttention-2 style (tiled, online softmax,
 * log-sum-exp saved, backward recomputes the probabilities). bf16 operands on tensor cores (wmma
 * 16x16x16, fp32 accumulate); softmax, ALiBi and dropout in fp32.
 *
 * Layout: qkv [T, 3·NH·D] (row = q heads | k heads | v heads), out [T, NH·D], lse [NH, T].
 * Scores s_ij = q_i·k_j / sqrt(D) - slope_h·|i - j| over the keys of the query's own sequence.
 * Dropout keeps element ((token_i·NH + h)·max_seqlen + j) as in tessera.h, so masks equal the CPU's.
 *
 * Head dims are padded with zeros to DP ∈ {16, 32, 64, 128} in shared memory, so any D <= 128 runs;
 * 64 and 128 use no padding and 16-byte vector loads.
 * Each warp owns 16 query rows of the forward tile, so the softmax needs no block-wide barrier.
 */
#include <math.h>
#include <mma.h>

#include "common.cuh"

using namespace nvcuda;

namespace {

constexpr int FWD_BR = 64;  /* query rows per forward block */
constexpr int FWD_BC = 64;  /* keys per forward iteration */
constexpr int BWD_BC = 64;  /* keys per backward block */
constexpr int BWD_BR = 32;  /* query rows per backward iteration */
constexpr int THREADS = 128;

typedef wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> FragA;
typedef wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::col_major> FragAT;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major> FragB;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major> FragBT;
typedef wmma::fragment<wmma::accumulator, 16, 16, 16, float> FragC;

/* Loads rows [row0, row0+rows) of one head's D columns (at column offset col0 of a row of `stride`
 * elements) into dst[rows][DP], zero-filling padded columns and rows at or past `len`. */
template <int DP>
__device__ __forceinline__ void load_tile(bf16* dst, const bf16* src, int64_t stride, int col0, int row0, int rows,
                                          int len, int D) {
    const bf16 zero = __float2bfloat16(0.0f);
    if (D == DP) { /* 16-byte vectors: D % 8 == 0, so every head slice is 16-byte aligned */
        const int vpr = DP / 8;
        for (int idx = threadIdx.x; idx < rows * vpr; idx += blockDim.x) {
            int r = idx / vpr, c = (idx % vpr) * 8;
            uint4 v = make_uint4(0, 0, 0, 0);
            if (row0 + r < len) v = *reinterpret_cast<const uint4*>(src + (int64_t)(row0 + r) * stride + col0 + c);
            *reinterpret_cast<uint4*>(dst + r * DP + c) = v;
        }
    } else {
        for (int idx = threadIdx.x; idx < rows * DP; idx += blockDim.x) {
            int r = idx / DP, c = idx % DP;
            bf16 v = zero;
            if (row0 + r < len && c < D) v = src[(int64_t)(row0 + r) * stride + col0 + c];
            dst[idx] = v;
        }
    }
}

template <int DP>
constexpr size_t fwd_smem_bytes() {
    return (size_t)3 * FWD_BR * DP * sizeof(bf16)       /* Q, K, V */
           + (size_t)FWD_BR * FWD_BC * sizeof(float)     /* S */
           + (size_t)FWD_BR * FWD_BC * sizeof(bf16)      /* P */
           + (size_t)FWD_BR * DP * sizeof(float)         /* O accumulator */
           + (size_t)2 * FWD_BR * sizeof(float);         /* running max, running sum */
}

template <int DP>
__global__ void __launch_bounds__(THREADS) attn_fwd_kernel(bf16* __restrict__ out, float* __restrict__ lse,
                                                           const bf16* __restrict__ qkv,
                                                           const int32_t* __restrict__ cu, int T, int NH, int D,
                                                           int max_seqlen, const float* __restrict__ slopes,
                                                           float scale, float p, uint64_t seed, uint64_t step,
                                                           uint32_t site) {
    static_assert(FWD_BR == 16 * (THREADS / 32), "one 16-row strip per warp");
    const int h = blockIdx.y, s = blockIdx.z;
    const int start = cu[s], len = cu[s + 1] - start;
    const int q0 = blockIdx.x * FWD_BR;
    if (q0 >= len) return;

    extern __shared__ __align__(128) unsigned char smem[];
    bf16* sQ = reinterpret_cast<bf16*>(smem);
    bf16* sK = sQ + FWD_BR * DP;
    bf16* sV = sK + FWD_BC * DP;
    float* sS = reinterpret_cast<float*>(sV + FWD_BC * DP);
    bf16* sP = reinterpret_cast<bf16*>(sS + FWD_BR * FWD_BC);
    float* sO = reinterpret_cast<float*>(sP + FWD_BR * FWD_BC);
    float* sM = sO + FWD_BR * DP;
    float* sL = sM + FWD_BR;

    const int64_t stride = (int64_t)3 * NH * D;
    const bf16* base = qkv + (int64_t)start * stride;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int rb = warp * 16; /* this warp's rows */
    const float slope = slopes ? slopes[h] : 0.0f;
    const float keep_scale = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f;

    load_tile<DP>(sQ, base, stride, h * D, q0, FWD_BR, len, D);
    for (int i = threadIdx.x; i < FWD_BR * DP; i += blockDim.x) sO[i] = 0.0f;
    for (int i = threadIdx.x; i < FWD_BR; i += blockDim.x) {
        sM[i] = -INFINITY;
        sL[i] = 0.0f;
    }

    for (int k0 = 0; k0 < len; k0 += FWD_BC) {
        __syncthreads(); /* previous tile's K/V fully consumed (and Q/O initialised on the first pass) */
        load_tile<DP>(sK, base, stride, NH * D + h * D, k0, FWD_BC, len, D);
        load_tile<DP>(sV, base, stride, 2 * NH * D + h * D, k0, FWD_BC, len, D);
        __syncthreads();

        /* S[rb:rb+16, :] = Q K^T */
        for (int jb = 0; jb < FWD_BC / 16; jb++) {
            FragC acc;
            wmma::fill_fragment(acc, 0.0f);
            for (int kc = 0; kc < DP / 16; kc++) {
                FragA a;
                FragBT b;
                wmma::load_matrix_sync(a, sQ + rb * DP + kc * 16, DP);
                wmma::load_matrix_sync(b, sK + jb * 16 * DP + kc * 16, DP);
                wmma::mma_sync(acc, a, b, acc);
            }
            wmma::store_matrix_sync(sS + rb * FWD_BC + jb * 16, acc, FWD_BC, wmma::mem_row_major);
        }
        __syncwarp();

        /* online softmax on this warp's 16 rows; each lane holds columns lane and lane + 32 */
        for (int r = 0; r < 16; r++) {
            const int row = rb + r;
            const int i = q0 + row; /* query position in the sequence */
            const float m_old = sM[row];
            float sc[2];
            for (int u = 0; u < 2; u++) {
                int c = lane + 32 * u, j = k0 + c;
                sc[u] = j < len ? sS[row * FWD_BC + c] * scale - slope * fabsf((float)(i - j)) : -INFINITY;
            }
            const float m_new = fmaxf(m_old, warp_max(fmaxf(sc[0], sc[1]))); /* finite: key k0 is valid */
            float pr[2], psum = 0.0f;
            for (int u = 0; u < 2; u++) {
                pr[u] = sc[u] == -INFINITY ? 0.0f : __expf(sc[u] - m_new);
                psum += pr[u];
            }
            psum = warp_sum(psum);
            const float alpha = __expf(m_old - m_new); /* 0 on the first tile (m_old = -inf) */
            for (int u = 0; u < 2; u++) {
                int c = lane + 32 * u;
                float pd = pr[u];
                if (p > 0.0f && i < len && k0 + c < len) {
                    uint64_t e = ((uint64_t)(start + i) * NH + h) * (uint64_t)max_seqlen + (uint64_t)(k0 + c);
                    pd = tsr_dropout_keep(seed, step, site, e, p) ? pd * keep_scale : 0.0f;
                }
                sP[row * FWD_BC + c] = __float2bfloat16(pd);
            }
            for (int c = lane; c < DP; c += 32) sO[row * DP + c] *= alpha;
            __syncwarp();
            if (lane == 0) {
                sM[row] = m_new;
                sL[row] = sL[row] * alpha + psum;
            }
        }
        __syncwarp();

        /* O[rb:rb+16, :] += P V */
        for (int nb = 0; nb < DP / 16; nb++) {
            FragC acc;
            wmma::load_matrix_sync(acc, sO + rb * DP + nb * 16, DP, wmma::mem_row_major);
            for (int kc = 0; kc < FWD_BC / 16; kc++) {
                FragA a;
                FragB b;
                wmma::load_matrix_sync(a, sP + rb * FWD_BC + kc * 16, FWD_BC);
                wmma::load_matrix_sync(b, sV + kc * 16 * DP + nb * 16, DP);
                wmma::mma_sync(acc, a, b, acc);
            }
            wmma::store_matrix_sync(sO + rb * DP + nb * 16, acc, DP, wmma::mem_row_major);
        }
        __syncwarp();
    }

    /* normalise and write this warp's rows */
    for (int r = 0; r < 16; r++) {
        const int row = rb + r, i = q0 + row;
        if (i >= len) break;
        const float l = sL[row];
        const float inv = 1.0f / l;
        bf16* o = out + (int64_t)(start + i) * NH * D + h * D;
        for (int c = lane; c < D; c += 32) o[c] = __float2bfloat16(sO[row * DP + c] * inv);
        if (lane == 0) lse[(int64_t)h * T + start + i] = sM[row] + logf(l);
    }
}

/* delta[h, t] = Σ_d dout[t, h, d] · out[t, h, d] (one warp per (t, h)). */
__global__ void attn_delta_kernel(float* __restrict__ delta, const bf16* __restrict__ dout,
                                  const bf16* __restrict__ out, int T, int NH, int D) {
    int64_t w = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) / 32;
    int lane = threadIdx.x % 32;
    if (w >= (int64_t)T * NH) return;
    int t = (int)(w / NH), h = (int)(w % NH);
    const bf16* a = dout + (int64_t)t * NH * D + h * D;
    const bf16* b = out + (int64_t)t * NH * D + h * D;
    float acc = 0.0f;
    for (int c = lane; c < D; c += 32) acc += __bfloat162float(a[c]) * __bfloat162float(b[c]);
    acc = warp_sum(acc);
    if (lane == 0) delta[(int64_t)h * T + t] = acc;
}

template <int DP>
constexpr size_t bwd_smem_bytes() {
    return (size_t)2 * BWD_BC * DP * sizeof(bf16)                 /* K, V */
           + (size_t)2 * BWD_BR * DP * sizeof(bf16)               /* Q, dO */
           + (size_t)2 * BWD_BR * BWD_BC * sizeof(float)          /* S, dP (then dQ partial) */
           + (size_t)2 * BWD_BR * BWD_BC * sizeof(bf16)           /* P (dropped), dS */
           + (size_t)2 * BWD_BC * DP * sizeof(float)              /* dK, dV accumulators */
           + (size_t)2 * BWD_BR * sizeof(float);                  /* lse, delta of the rows */
}

template <int DP>
__global__ void __launch_bounds__(THREADS) attn_bwd_kernel(bf16* __restrict__ dqkv, float* __restrict__ dq_acc,
                                                           const bf16* __restrict__ dout,
                                                           const bf16* __restrict__ qkv,
                                                           const float* __restrict__ lse,
                                                           const float* __restrict__ delta,
                                                           const int32_t* __restrict__ cu, int T, int NH, int D,
                                                           int max_seqlen, const float* __restrict__ slopes,
                                                           float scale, float p, uint64_t seed, uint64_t step,
                                                           uint32_t site) {
    static_assert(BWD_BC == 16 * (THREADS / 32), "one 16-key strip of dK/dV per warp");
    static_assert(BWD_BR * DP * sizeof(float) <= 2 * BWD_BR * BWD_BC * sizeof(float), "dQ partial fits S+dP");
    const int h = blockIdx.y, s = blockIdx.z;
    const int start = cu[s], len = cu[s + 1] - start;
    const int k0 = blockIdx.x * BWD_BC;
    if (k0 >= len) return;

    extern __shared__ __align__(128) unsigned char smem[];
    bf16* sK = reinterpret_cast<bf16*>(smem);
    bf16* sV = sK + BWD_BC * DP;
    bf16* sQ = sV + BWD_BC * DP;
    bf16* sdO = sQ + BWD_BR * DP;
    float* sS = reinterpret_cast<float*>(sdO + BWD_BR * DP);
    float* sdP = sS + BWD_BR * BWD_BC;
    float* sdQ = sS; /* reuses S and dP once dS is formed */
    bf16* sP = reinterpret_cast<bf16*>(sdP + BWD_BR * BWD_BC);
    bf16* sdS = sP + BWD_BR * BWD_BC;
    float* sdK = reinterpret_cast<float*>(sdS + BWD_BR * BWD_BC);
    float* sdV = sdK + BWD_BC * DP;
    float* sLse = sdV + BWD_BC * DP;
    float* sDelta = sLse + BWD_BR;

    const int64_t stride = (int64_t)3 * NH * D;
    const int64_t ostride = (int64_t)NH * D;
    const bf16* base = qkv + (int64_t)start * stride;
    const bf16* dobase = dout + (int64_t)start * ostride;
    const int warp = threadIdx.x / 32;
    const float slope = slopes ? slopes[h] : 0.0f;
    const float keep_scale = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f;

    load_tile<DP>(sK, base, stride, NH * D + h * D, k0, BWD_BC, len, D);
    load_tile<DP>(sV, base, stride, 2 * NH * D + h * D, k0, BWD_BC, len, D);
    for (int i = threadIdx.x; i < BWD_BC * DP; i += blockDim.x) {
        sdK[i] = 0.0f;
        sdV[i] = 0.0f;
    }

    for (int q0 = 0; q0 < len; q0 += BWD_BR) {
        __syncthreads(); /* previous iteration done with Q, dO and the dQ partial */
        load_tile<DP>(sQ, base, stride, h * D, q0, BWD_BR, len, D);
        load_tile<DP>(sdO, dobase, ostride, h * D, q0, BWD_BR, len, D);
        for (int r = threadIdx.x; r < BWD_BR; r += blockDim.x) {
            int i = q0 + r;
            sLse[r] = i < len ? lse[(int64_t)h * T + start + i] : 0.0f;
            sDelta[r] = i < len ? delta[(int64_t)h * T + start + i] : 0.0f;
        }
        __syncthreads();

        /* S = Q K^T and dP = dO V^T: 2x4 tiles each, two per warp */
        for (int t = warp * 2; t < warp * 2 + 2; t++) {
            const int rb = t / 4, jb = t % 4;
            FragC acc, acc2;
            wmma::fill_fragment(acc, 0.0f);
            wmma::fill_fragment(acc2, 0.0f);
            for (int kc = 0; kc < DP / 16; kc++) {
                FragA a;
                FragBT b;
                wmma::load_matrix_sync(a, sQ + rb * 16 * DP + kc * 16, DP);
                wmma::load_matrix_sync(b, sK + jb * 16 * DP + kc * 16, DP);
                wmma::mma_sync(acc, a, b, acc);
                wmma::load_matrix_sync(a, sdO + rb * 16 * DP + kc * 16, DP);
                wmma::load_matrix_sync(b, sV + jb * 16 * DP + kc * 16, DP);
                wmma::mma_sync(acc2, a, b, acc2);
            }
            wmma::store_matrix_sync(sS + rb * 16 * BWD_BC + jb * 16, acc, BWD_BC, wmma::mem_row_major);
            wmma::store_matrix_sync(sdP + rb * 16 * BWD_BC + jb * 16, acc2, BWD_BC, wmma::mem_row_major);
        }
        __syncthreads();

        /* P = exp(s - lse); Pd = dropped P; dS = P ∘ (dP ∘ mask/(1-p) - delta) */
        for (int idx = threadIdx.x; idx < BWD_BR * BWD_BC; idx += blockDim.x) {
            const int r = idx / BWD_BC, c = idx % BWD_BC;
            const int i = q0 + r, j = k0 + c;
            float pd = 0.0f, ds = 0.0f;
            if (i < len && j < len) {
                float sc = sS[idx] * scale - slope * fabsf((float)(i - j));
                float pr = __expf(sc - sLse[r]);
                float mk = 1.0f;
                if (p > 0.0f) {
                    uint64_t e = ((uint64_t)(start + i) * NH + h) * (uint64_t)max_seqlen + (uint64_t)j;
                    mk = tsr_dropout_keep(seed, step, site, e, p) ? keep_scale : 0.0f;
                }
                pd = pr * mk;
                ds = pr * (sdP[idx] * mk - sDelta[r]);
            }
            sP[idx] = __float2bfloat16(pd);
            sdS[idx] = __float2bfloat16(ds);
        }
        __syncthreads();

        /* dV[w-strip] += Pdᵀ dO ; dK[w-strip] += dSᵀ Q */
        {
            const int kb = warp * 16;
            for (int nb = 0; nb < DP / 16; nb++) {
                FragC accV, accK;
                wmma::load_matrix_sync(accV, sdV + kb * DP + nb * 16, DP, wmma::mem_row_major);
                wmma::load_matrix_sync(accK, sdK + kb * DP + nb * 16, DP, wmma::mem_row_major);
                for (int kc = 0; kc < BWD_BR / 16; kc++) {
                    FragAT a;
                    FragB b;
                    wmma::load_matrix_sync(a, sP + kc * 16 * BWD_BC + kb, BWD_BC);
                    wmma::load_matrix_sync(b, sdO + kc * 16 * DP + nb * 16, DP);
                    wmma::mma_sync(accV, a, b, accV);
                    wmma::load_matrix_sync(a, sdS + kc * 16 * BWD_BC + kb, BWD_BC);
                    wmma::load_matrix_sync(b, sQ + kc * 16 * DP + nb * 16, DP);
                    wmma::mma_sync(accK, a, b, accK);
                }
                wmma::store_matrix_sync(sdV + kb * DP + nb * 16, accV, DP, wmma::mem_row_major);
                wmma::store_matrix_sync(sdK + kb * DP + nb * 16, accK, DP, wmma::mem_row_major);
            }
        }

        /* dQ partial = dS K  ([BWD_BR, DP]) into the S/dP space */
        for (int t = warp; t < (BWD_BR / 16) * (DP / 16); t += THREADS / 32) {
            const int rb = t / (DP / 16), nb = t % (DP / 16);
            FragC acc;
            wmma::fill_fragment(acc, 0.0f);
            for (int kc = 0; kc < BWD_BC / 16; kc++) {
                FragA a;
                FragB b;
                wmma::load_matrix_sync(a, sdS + rb * 16 * BWD_BC + kc * 16, BWD_BC);
                wmma::load_matrix_sync(b, sK + kc * 16 * DP + nb * 16, DP);
                wmma::mma_sync(acc, a, b, acc);
            }
            wmma::store_matrix_sync(sdQ + rb * 16 * DP + nb * 16, acc, DP, wmma::mem_row_major);
        }
        __syncthreads();
        for (int idx = threadIdx.x; idx < BWD_BR * DP; idx += blockDim.x) {
            const int r = idx / DP, c = idx % DP;
            if (q0 + r < len && c < D) atomicAdd(dq_acc + (int64_t)(start + q0 + r) * ostride + h * D + c, sdQ[idx]);
        }
    }
    __syncthreads();

    /* this block owns keys [k0, k0+64) of head h: write dK (scaled) and dV */
    for (int idx = threadIdx.x; idx < BWD_BC * DP; idx += blockDim.x) {
        const int r = idx / DP, c = idx % DP;
        if (k0 + r < len && c < D) {
            bf16* row = dqkv + (int64_t)(start + k0 + r) * stride;
            row[NH * D + h * D + c] = __float2bfloat16(sdK[idx] * scale);
            row[2 * NH * D + h * D + c] = __float2bfloat16(sdV[idx]);
        }
    }
}

/* dQ: dqkv[t, q part] = scale · dq_acc[t] */
__global__ void attn_dq_kernel(bf16* __restrict__ dqkv, const float* __restrict__ dq_acc, int T, int NH, int D,
                               float scale) {
    const int64_t n = (int64_t)T * NH * D;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t t = i / ((int64_t)NH * D), c = i % ((int64_t)NH * D);
        dqkv[t * 3 * NH * D + c] = __float2bfloat16(dq_acc[i] * scale);
    }
}

template <int DP>
int launch_fwd(cudaStream_t st, bf16* out, float* lse, const bf16* qkv, const int32_t* cu, int S, int max_seqlen,
               int T, int NH, int D, const float* slopes, float p, uint64_t seed, uint64_t step, uint32_t site) {
    const size_t smem = fwd_smem_bytes<DP>();
    CU_TRY(cudaFuncSetAttribute(attn_fwd_kernel<DP>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    dim3 grid((max_seqlen + FWD_BR - 1) / FWD_BR, NH, S);
    attn_fwd_kernel<DP><<<grid, THREADS, smem, st>>>(out, lse, qkv, cu, T, NH, D, max_seqlen, slopes,
                                                      1.0f / sqrtf((float)D), p, seed, step, site);
    CU_LAUNCH_CHECK();
    return TSR_OK;
}

template <int DP>
int launch_bwd(cudaStream_t st, bf16* dqkv, float* dq_acc, const bf16* dout, const bf16* qkv, const float* lse,
               const float* delta, const int32_t* cu, int S, int max_seqlen, int T, int NH, int D,
               const float* slopes, float p, uint64_t seed, uint64_t step, uint32_t site) {
    const size_t smem = bwd_smem_bytes<DP>();
    CU_TRY(cudaFuncSetAttribute(attn_bwd_kernel<DP>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    dim3 grid((max_seqlen + BWD_BC - 1) / BWD_BC, NH, S);
    attn_bwd_kernel<DP><<<grid, THREADS, smem, st>>>(dqkv, dq_acc, dout, qkv, lse, delta, cu, T, NH, D, max_seqlen,
                                                      slopes, 1.0f / sqrtf((float)D), p, seed, step, site);
    CU_LAUNCH_CHECK();
    return TSR_OK;
}

} // namespace

int tsr_attn_supported(int D) {
    if (D < 1 || D > 128)
        return tsr_set_error(TSR_ERR_INVALID_ARG, "CUDA attention supports head_dim 1..128 (got %d)", D);
    return TSR_OK;
}

int64_t tsr_attn_bwd_ws_floats(int T, int NH, int D) { return (int64_t)T * NH * D + (int64_t)NH * T; }

int tsr_attn_fwd(cudaStream_t st, bf16* out, float* lse, const bf16* qkv, const int32_t* cu, int S, int max_seqlen,
                 int T, int NH, int D, const float* slopes, float p, uint64_t seed, uint64_t step, uint32_t site) {
    TSR_TRY(tsr_attn_supported(D));
    if (D <= 16) return launch_fwd<16>(st, out, lse, qkv, cu, S, max_seqlen, T, NH, D, slopes, p, seed, step, site);
    if (D <= 32) return launch_fwd<32>(st, out, lse, qkv, cu, S, max_seqlen, T, NH, D, slopes, p, seed, step, site);
    if (D <= 64) return launch_fwd<64>(st, out, lse, qkv, cu, S, max_seqlen, T, NH, D, slopes, p, seed, step, site);
    return launch_fwd<128>(st, out, lse, qkv, cu, S, max_seqlen, T, NH, D, slopes, p, seed, step, site);
}

int tsr_attn_bwd(cudaStream_t st, bf16* dqkv, const bf16* dout, const bf16* qkv, const bf16* out, const float* lse,
                 const int32_t* cu, int S, int max_seqlen, int T, int NH, int D, const float* slopes, float p,
                 uint64_t seed, uint64_t step, uint32_t site, float* ws) {
    TSR_TRY(tsr_attn_supported(D));
    float* dq_acc = ws;
    float* delta = ws + (int64_t)T * NH * D;
    CU_TRY(cudaMemsetAsync(dq_acc, 0, sizeof(float) * (size_t)T * NH * D, st));
    {
        int64_t threads = (int64_t)T * NH * 32;
        attn_delta_kernel<<<(unsigned)((threads + 255) / 256), 256, 0, st>>>(delta, dout, out, T, NH, D);
        CU_LAUNCH_CHECK();
    }
    if (D <= 16)
        TSR_TRY(launch_bwd<16>(st, dqkv, dq_acc, dout, qkv, lse, delta, cu, S, max_seqlen, T, NH, D, slopes, p, seed, step, site));
    else if (D <= 32)
        TSR_TRY(launch_bwd<32>(st, dqkv, dq_acc, dout, qkv, lse, delta, cu, S, max_seqlen, T, NH, D, slopes, p, seed, step, site));
    else if (D <= 64)
        TSR_TRY(launch_bwd<64>(st, dqkv, dq_acc, dout, qkv, lse, delta, cu, S, max_seqlen, T, NH, D, slopes, p, seed, step, site));
    else
        TSR_TRY(launch_bwd<128>(st, dqkv, dq_acc, dout, qkv, lse, delta, cu, S, max_seqlen, T, NH, D, slopes, p, seed, step, site));
    attn_dq_kernel<<<tsr_blocks((int64_t)T * NH * D, 256), 256, 0, st>>>(dqkv, dq_acc, T, NH, D, 1.0f / sqrtf((float)D));
    CU_LAUNCH_CHECK();
    return TSR_OK;
}
