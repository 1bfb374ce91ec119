/*
 * Memory-bound kernels of the CUDA backend. Arithmetic is fp32 whatever the storage type;
 * dropout masks come from the shared Philox mapping (philox.h), element index = row·width + col.
 */
#include <float.h>
#include <math.h>

#include "kernels.cuh"

namespace {

constexpr int TB = 256; /* threads per block of the elementwise kernels */

__device__ __forceinline__ float drop_apply(const tsr_drop& d, uint64_t idx, float v) {
    if (d.p <= 0.0f) return v;
    return tsr_dropout_keep(d.seed, d.step, d.site, idx, d.p) ? v * (1.0f / (1.0f - d.p)) : 0.0f;
}

#define GRID_STRIDE(i, n) \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

/* index of the tensor holding element i: the last t with off[t] <= i */
__device__ __forceinline__ int find_tensor(const int64_t* off, int nt, int64_t i) {
    int lo = 0, hi = nt - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (off[mid] <= i) lo = mid; else hi = mid - 1;
    }
    return lo;
}

template <typename T>
__device__ __forceinline__ float block_reduce_sum(float v, float* sh) {
    v = warp_sum(v);
    const int lane = threadIdx.x % 32, w = threadIdx.x / 32, nw = (blockDim.x + 31) / 32;
    __syncthreads();
    if (lane == 0) sh[w] = v;
    __syncthreads();
    v = threadIdx.x < nw ? sh[threadIdx.x] : 0.0f;
    if (w == 0) v = warp_sum(v);
    if (threadIdx.x == 0) sh[0] = v;
    __syncthreads();
    return sh[0];
}
__device__ __forceinline__ float block_reduce_max(float v, float* sh) {
    v = warp_max(v);
    const int lane = threadIdx.x % 32, w = threadIdx.x / 32, nw = (blockDim.x + 31) / 32;
    __syncthreads();
    if (lane == 0) sh[w] = v;
    __syncthreads();
    v = threadIdx.x < nw ? sh[threadIdx.x] : -INFINITY;
    if (w == 0) v = warp_max(v);
    if (threadIdx.x == 0) sh[0] = v;
    __syncthreads();
    return sh[0];
}

/* ---------------------------------------------------------------------------------------- */
__global__ void f32_to_bf16_kernel(bf16* dst, const float* src, int64_t n) {
    GRID_STRIDE(i, n) dst[i] = __float2bfloat16(src[i]);
}
__global__ void bf16_to_f32_kernel(float* dst, const bf16* src, int64_t n) {
    GRID_STRIDE(i, n) dst[i] = __bfloat162float(src[i]);
}
__global__ void params_to_bf16_kernel(bf16* dst, const float* src, const int64_t* off, const int64_t* aoff, int nt,
                                      int64_t n) {
    GRID_STRIDE(i, n) {
        int t = find_tensor(off, nt, i);
        dst[aoff[t] + (i - off[t])] = __float2bfloat16(src[i]);
    }
}

__global__ void embed_fwd_kernel(float* out, const int32_t* ids, const int32_t* types, const int32_t* pos,
                                 const float* wte, const float* wtt, const float* wpe, int T, int C) {
    GRID_STRIDE(i, (int64_t)T * C) {
        int64_t t = i / C;
        int c = (int)(i % C);
        float v = wte[(int64_t)ids[t] * C + c] + wtt[(int64_t)(types ? types[t] : 0) * C + c];
        if (wpe) v += wpe[(int64_t)pos[t] * C + c];
        out[i] = v;
    }
}
__global__ void embed_bwd_kernel(float* dwte, float* dwtt, float* dwpe, const float* dout, const int32_t* ids,
                                 const int32_t* types, const int32_t* pos, int T, int C) {
    GRID_STRIDE(i, (int64_t)T * C) {
        int64_t t = i / C;
        int c = (int)(i % C);
        float g = dout[i];
        if (dwte) atomicAdd(dwte + (int64_t)ids[t] * C + c, g);
        if (dwtt) atomicAdd(dwtt + (int64_t)(types ? types[t] : 0) * C + c, g);
        if (dwpe) atomicAdd(dwpe + (int64_t)pos[t] * C + c, g);
    }
}

/* one warp per row */
template <typename TO>
__global__ void layernorm_fwd_kernel(ln_fwd_args a) {
    const int lane = threadIdx.x % 32;
    const int64_t row = (int64_t)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= a.N) return;
    const int C = a.C;
    float* x = a.x + row * C;
    float sum = 0.0f;
    if (a.res) {
        const bf16* r = a.res + row * C;
        const bf16* y = a.y + row * C;
        for (int c = lane; c < C; c += 32) {
            float v = __bfloat162float(y[c]) + (a.ybias ? a.ybias[c] : 0.0f);
            v = __bfloat162float(r[c]) + drop_apply(a.ydrop, (uint64_t)row * C + c, v);
            x[c] = v;
            sum += v;
        }
    } else {
        for (int c = lane; c < C; c += 32) sum += x[c];
    }
    const float mean = warp_sum(sum) / C;
    float sq = 0.0f;
    for (int c = lane; c < C; c += 32) {
        float d = x[c] - mean;
        sq += d * d;
    }
    const float rstd = rsqrtf(warp_sum(sq) / C + a.eps);
    TO* out = reinterpret_cast<TO*>(a.out) + row * C;
    for (int c = lane; c < C; c += 32) {
        float v = (x[c] - mean) * rstd * a.w[c] + a.b[c];
        st(out + c, drop_apply(a.odrop, (uint64_t)row * C + c, v));
    }
    if (lane == 0) {
        if (a.mean) a.mean[row] = mean;
        if (a.rstd) a.rstd[row] = rstd;
    }
}

/* Each warp accumulates dw, db, dbias of its rows in its own shared-memory slice (no atomics in the
 * row loop); the block sums the slices and adds them to the global gradients once. */
__global__ void layernorm_bwd_kernel(ln_bwd_args a) {
    extern __shared__ float sh[]; /* [warps][3][C] */
    const int C = a.C;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, wpb = blockDim.x / 32;
    for (int c = threadIdx.x; c < 3 * C * wpb; c += blockDim.x) sh[c] = 0.0f;
    __syncthreads();
    float* sdw = sh + (size_t)warp * 3 * C;
    float* sdb = sdw + C;
    float* sdbias = sdw + 2 * C;
    for (int64_t row = (int64_t)blockIdx.x * wpb + warp; row < a.N; row += (int64_t)gridDim.x * wpb) {
        const float* dy = a.dy + row * C;
        const float* x = a.x + row * C;
        const float mean = a.mean[row], rstd = a.rstd[row];
        float s1 = 0.0f, s2 = 0.0f;
        for (int c = lane; c < C; c += 32) {
            float g = drop_apply(a.idrop, (uint64_t)row * C + c, dy[c]);
            float xh = (x[c] - mean) * rstd;
            float gw = g * a.w[c];
            s1 += gw;
            s2 += gw * xh;
            sdw[c] += g * xh;
            sdb[c] += g;
        }
        const float m1 = warp_sum(s1) / C, m2 = warp_sum(s2) / C;
        for (int c = lane; c < C; c += 32) {
            float g = drop_apply(a.idrop, (uint64_t)row * C + c, dy[c]);
            float xh = (x[c] - mean) * rstd;
            float dx = rstd * (g * a.w[c] - m1 - xh * m2);
            if (a.dx_f32) {
                float* o = a.dx_f32 + row * C + c;
                *o = a.dx_acc ? *o + dx : dx;
            }
            if (a.dx_bf16 || a.dbias) {
                float db = drop_apply(a.xdrop, (uint64_t)row * C + c, dx);
                if (a.dx_bf16) a.dx_bf16[row * C + c] = __float2bfloat16(db);
                sdbias[c] += db;
            }
        }
    }
    __syncthreads();
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float w = 0.0f, b = 0.0f, bb = 0.0f;
        for (int k = 0; k < wpb; k++) {
            w += sh[(size_t)k * 3 * C + c];
            b += sh[(size_t)k * 3 * C + C + c];
            bb += sh[(size_t)k * 3 * C + 2 * C + c];
        }
        if (a.dw) atomicAdd(a.dw + c, w);
        if (a.db) atomicAdd(a.db + c, b);
        if (a.dbias) atomicAdd(a.dbias + c, bb);
    }
}

template <typename T>
__global__ void geglu_fwd_kernel(T* a, const T* u, int N, int I, tsr_drop d) {
    GRID_STRIDE(i, (int64_t)N * I) {
        int64_t r = i / I;
        int c = (int)(i % I);
        float g = ld(u + r * 2 * I + c), v = ld(u + r * 2 * I + I + c);
        st(a + i, drop_apply(d, (uint64_t)i, gelu_f(g) * v));
    }
}
template <typename T>
__global__ void geglu_bwd_kernel(T* du, const T* u, const T* da, int N, int I, tsr_drop d, bool acc) {
    GRID_STRIDE(i, (int64_t)N * I) {
        int64_t r = i / I;
        int c = (int)(i % I);
        float g = ld(u + r * 2 * I + c), v = ld(u + r * 2 * I + I + c);
        float dd = drop_apply(d, (uint64_t)i, ld(da + i));
        float dg = dd * v * gelu_grad_f(g), dv = dd * gelu_f(g);
        T* pg = du + r * 2 * I + c;
        T* pv = du + r * 2 * I + I + c;
        st(pg, acc ? ld(pg) + dg : dg);
        st(pv, acc ? ld(pv) + dv : dv);
    }
}
template <typename T>
__global__ void bias_gelu_kernel(T* a, T* u, const float* bias, int64_t N, int C) {
    GRID_STRIDE(i, N * C) {
        float x = ld(u + i);
        if (bias) {
            x += bias[i % C];
            st(u + i, x);
            x = ld(u + i); /* gelu of the stored (rounded) pre-activation, as backward sees it */
        }
        if (a) st(a + i, gelu_f(x));
    }
}
template <typename T>
__global__ void gelu_bwd_kernel(T* du, const T* u, const T* da, int64_t n, bool acc) {
    GRID_STRIDE(i, n) {
        float g = ld(da + i) * gelu_grad_f(ld(u + i));
        st(du + i, acc ? ld(du + i) + g : g);
    }
}
template <typename T>
__global__ void bias_add_kernel(T* x, const float* bias, int N, int C) {
    GRID_STRIDE(i, (int64_t)N * C) st(x + i, ld(x + i) + bias[i % C]);
}
__global__ void gelu_bwd_mixed_kernel(bf16* du, const bf16* u, const float* da, int64_t n) {
    GRID_STRIDE(i, n) du[i] = __float2bfloat16(da[i] * gelu_grad_f(__bfloat162float(u[i])));
}
__global__ void bias_tanh_kernel(bf16* x, const float* bias, int N, int C) {
    GRID_STRIDE(i, (int64_t)N * C) x[i] = __float2bfloat16(tanhf(__bfloat162float(x[i]) + bias[i % C]));
}
__global__ void tanh_bwd_kernel(bf16* dpre, const float* dy, const bf16* y, int64_t n) {
    GRID_STRIDE(i, n) {
        float t = __bfloat162float(y[i]);
        dpre[i] = __float2bfloat16(dy[i] * (1.0f - t * t));
    }
}
template <typename T>
__global__ void colsum_kernel(float* dbias, const T* d, int N, int C, float scale) {
    __shared__ float sh[8][33];
    const int c = blockIdx.x * 32 + threadIdx.x;
    float s = 0.0f;
    if (c < C)
        for (int r = blockIdx.y * 8 + threadIdx.y; r < N; r += 8 * gridDim.y) s += ld(d + (int64_t)r * C + c);
    sh[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        for (int y = 1; y < 8; y++) s += sh[y][threadIdx.x];
        atomicAdd(dbias + c, s * scale);
    }
}
template <typename T>
__global__ void dropout_kernel(T* out, const T* in, int64_t n, tsr_drop d, uint64_t off, bool acc) {
    GRID_STRIDE(i, n) {
        float v = drop_apply(d, off + (uint64_t)i, ld(in + i));
        st(out + i, acc ? ld(out + i) + v : v);
    }
}

/* one block per row; dlogits may alias logits (each element is read before it is written) */
template <typename T>
__global__ void softmax_ce_kernel(float* loss_rows, T* dlogits, const T* logits, const int32_t* targets, int V,
                                  float scale, bool acc) {
    __shared__ float sh[32];
    const int64_t row = blockIdx.x;
    const T* x = logits + row * V;
    const int tgt = targets[row];
    float mx = -INFINITY;
    for (int i = threadIdx.x; i < V; i += blockDim.x) mx = fmaxf(mx, ld(x + i));
    mx = block_reduce_max(mx, sh);
    float s = 0.0f;
    for (int i = threadIdx.x; i < V; i += blockDim.x) s += __expf(ld(x + i) - mx);
    s = block_reduce_sum<float>(s, sh);
    const float lse = mx + logf(s);
    const float xt = tgt >= 0 ? ld(x + tgt) : 0.0f;
    __syncthreads(); /* every thread has read x[tgt] before anyone overwrites it */
    if (threadIdx.x == 0) loss_rows[row] = tgt >= 0 ? lse - xt : 0.0f;
    if (dlogits && tgt >= 0) {
        T* dl = dlogits + row * V;
        for (int i = threadIdx.x; i < V; i += blockDim.x) {
            float g = (__expf(ld(x + i) - lse) - (i == tgt ? 1.0f : 0.0f)) * scale;
            st(dl + i, acc ? ld(dl + i) + g : g);
        }
    }
}
/* Distillation (tsr_op_distill_ce), one block per row, fp32 logits. dlogits may alias logits: every thread writes
 * only the elements it read itself, and the row's target logit is read by all before the barrier. */
__global__ void distill_ce_kernel(float* loss_rows, float* dlogits, const float* logits, const int32_t* targets,
                                  const float* soft, int V, float alpha, float temperature, float scale, bool acc) {
    __shared__ float sh[32];
    const int64_t row = blockIdx.x;
    const float* x = logits + row * V;
    const float* q = soft + row * V;
    const int tgt = targets ? targets[row] : -1;
    const float invT = 1.0f / temperature;
    float mx = -INFINITY, mt = -INFINITY;
    for (int i = threadIdx.x; i < V; i += blockDim.x) {
        mx = fmaxf(mx, x[i]);
        mt = fmaxf(mt, x[i] * invT);
    }
    mx = block_reduce_max(mx, sh);
    mt = block_reduce_max(mt, sh);
    float s = 0.0f, sT = 0.0f;
    for (int i = threadIdx.x; i < V; i += blockDim.x) {
        s += __expf(x[i] - mx);
        sT += __expf(x[i] * invT - mt);
    }
    s = block_reduce_sum<float>(s, sh);
    sT = block_reduce_sum<float>(sT, sh);
    const float lse = mx + logf(s), lseT = mt + logf(sT);
    float kl = 0.0f;
    for (int i = threadIdx.x; i < V; i += blockDim.x)
        if (q[i] > 0.0f) kl += q[i] * (logf(q[i]) - (x[i] * invT - lseT));
    kl = block_reduce_sum<float>(kl, sh);
    const float xt = tgt >= 0 ? x[tgt] : 0.0f;
    __syncthreads(); /* every thread has read x[tgt] before anyone overwrites it */
    if (threadIdx.x == 0)
        loss_rows[row] = (tgt >= 0 ? (1.0f - alpha) * (lse - xt) : 0.0f) + alpha * temperature * temperature * kl;
    if (dlogits) {
        float* dl = dlogits + row * V;
        for (int i = threadIdx.x; i < V; i += blockDim.x) {
            float g = alpha * temperature * (__expf(x[i] * invT - lseT) - q[i]);
            if (tgt >= 0) g += (1.0f - alpha) * (__expf(x[i] - lse) - (i == tgt ? 1.0f : 0.0f));
            dl[i] = acc ? dl[i] + g * scale : g * scale;
        }
    }
}
__global__ void sum_kernel(float* out, const float* x, int n, float scale) {
    __shared__ float sh[32];
    float s = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) s += x[i];
    s = block_reduce_sum<float>(s, sh);
    if (threadIdx.x == 0) out[0] = s * scale;
}
__global__ void mse_kernel(float* loss, float* dpred, const float* pred, const float* t, int S) {
    __shared__ float sh[32];
    float s = 0.0f;
    for (int i = threadIdx.x; i < S; i += blockDim.x) {
        float d = pred[i] - t[i];
        s += d * d;
        if (dpred) dpred[i] = 2.0f * d / S;
    }
    s = block_reduce_sum<float>(s, sh);
    if (threadIdx.x == 0) loss[0] = s / S;
}
__global__ void gather_rows_kernel(bf16* out, const bf16* in, const int32_t* rows, int n, int C) {
    GRID_STRIDE(i, (int64_t)n * C) out[i] = in[(int64_t)rows[i / C] * C + i % C];
}
__global__ void scatter_add_rows_kernel(float* out, const float* in, const int32_t* rows, int n, int C) {
    GRID_STRIDE(i, (int64_t)n * C) out[(int64_t)rows[i / C] * C + i % C] += in[i];
}
/* grid (ceil(C / MEAN_THREADS), sequences s0..s0+gridDim.y-1); one thread per column of one sequence, walking its
 * tokens: consecutive threads read consecutive columns of a row (coalesced) */
#define MEAN_THREADS 128
__global__ void mean_rows_fwd_kernel(bf16* __restrict__ out, const bf16* __restrict__ in, const int32_t* __restrict__ cu,
                                     int s0, int C) {
    const int s = s0 + blockIdx.y, c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    const int64_t a = cu[s], e = cu[s + 1];
    double acc = 0.0;
    for (int64_t t = a; t < e; t++) acc += (double)__bfloat162float(in[t * C + c]);
    out[(int64_t)s * C + c] = __float2bfloat16(e > a ? (float)(acc * (1.0 / (double)(e - a))) : 0.0f);
}
/* the same grid; sequences own disjoint token rows and each thread one column of them: no two threads write one element */
__global__ void mean_rows_bwd_kernel(float* __restrict__ dx, const float* __restrict__ dout, const int32_t* __restrict__ cu,
                                     int s0, int C) {
    const int s = s0 + blockIdx.y, c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    const int64_t a = cu[s], e = cu[s + 1];
    if (e <= a) return;
    const float g = dout[(int64_t)s * C + c] * (float)(1.0 / (double)(e - a));
    for (int64_t t = a; t < e; t++) dx[t * C + c] += g;
}

/* lrs (optional, [nt]): per-tensor learning-rate multipliers of the Adam update; the decay is not scaled (tessera.h) */
__global__ void adamw_kernel(float* p, const float* g, float* m, float* v, int64_t n, float lr, float decay, float b1,
                             float b2, float eps, float step_size, float inv_sqrt_bc2, bf16* wbf, const int64_t* off,
                             const int64_t* aoff, int nt, const float* lrs) {
    GRID_STRIDE(i, n) {
        int t = (wbf || lrs) ? find_tensor(off, nt, i) : 0;
        float gi = g[i];
        float mi = b1 * m[i] + (1.0f - b1) * gi;
        float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        float pi = p[i] * decay;
        pi -= (lrs ? step_size * lrs[t] : step_size) * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps);
        m[i] = mi;
        v[i] = vi;
        p[i] = pi;
        if (wbf) wbf[aoff[t] + (i - off[t])] = __float2bfloat16(pi);
    }
    (void)lr;
}
__global__ void sumsq_kernel(double* out, const float* g, int64_t n) {
    __shared__ double sh[32];
    double s = 0.0;
    GRID_STRIDE(i, n) s += (double)g[i] * (double)g[i];
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if (threadIdx.x % 32 == 0) sh[threadIdx.x / 32] = s;
    __syncthreads();
    if (threadIdx.x == 0) {
        double t = 0.0;
        for (int w = 0; w < (int)(blockDim.x / 32); w++) t += sh[w];
        atomicAdd(out, t);
    }
}
__global__ void scale_kernel(float* g, float s, int64_t n) {
    GRID_STRIDE(i, n) g[i] *= s;
}
__global__ void nonfinite_kernel(unsigned long long* first, const float* x, int64_t n) {
    GRID_STRIDE(i, n) if (!isfinite(x[i])) atomicMin(first, (unsigned long long)i);
}

} // namespace

/* ---------------------------------------------------------------------------------------- */
/* launchers                                                                                */
/* ---------------------------------------------------------------------------------------- */
#define LAUNCH1(kernel, n, ...)                                          \
    do {                                                                 \
        if ((n) > 0) {                                                   \
            kernel<<<tsr_blocks((n), TB), TB, 0, st>>>(__VA_ARGS__);     \
            CU_LAUNCH_CHECK();                                           \
        }                                                                \
        return TSR_OK;                                                   \
    } while (0)

int k_f32_to_bf16(cudaStream_t st, bf16* dst, const float* src, int64_t n) { LAUNCH1(f32_to_bf16_kernel, n, dst, src, n); }
int k_bf16_to_f32(cudaStream_t st, float* dst, const bf16* src, int64_t n) { LAUNCH1(bf16_to_f32_kernel, n, dst, src, n); }
int k_params_to_bf16(cudaStream_t st, bf16* dst, const float* src, const int64_t* off, const int64_t* aoff, int nt,
                     int64_t n) {
    LAUNCH1(params_to_bf16_kernel, n, dst, src, off, aoff, nt, n);
}
int k_embed_fwd(cudaStream_t st, float* out, const int32_t* ids, const int32_t* types, const int32_t* pos,
                const float* wte, const float* wtt, const float* wpe, int T, int C) {
    LAUNCH1(embed_fwd_kernel, (int64_t)T * C, out, ids, types, pos, wte, wtt, wpe, T, C);
}
int k_embed_bwd(cudaStream_t st, float* dwte, float* dwtt, float* dwpe, const float* dout, const int32_t* ids,
                const int32_t* types, const int32_t* pos, int T, int C) {
    LAUNCH1(embed_bwd_kernel, (int64_t)T * C, dwte, dwtt, dwpe, dout, ids, types, pos, T, C);
}
int k_layernorm_fwd(cudaStream_t st, const ln_fwd_args& a) {
    if (a.N <= 0) return TSR_OK;
    const int wpb = 8;
    unsigned grid = (unsigned)((a.N + wpb - 1) / wpb);
    if (a.out_f32) layernorm_fwd_kernel<float><<<grid, wpb * 32, 0, st>>>(a);
    else layernorm_fwd_kernel<bf16><<<grid, wpb * 32, 0, st>>>(a);
    CU_LAUNCH_CHECK();
    return TSR_OK;
}
int k_layernorm_bwd(cudaStream_t st, const ln_bwd_args& a) {
    if (a.N <= 0) return TSR_OK;
    const size_t per_warp = (size_t)3 * a.C * sizeof(float), budget = 96 * 1024;
    int wpb = 8;
    while (wpb > 1 && wpb * per_warp > budget) wpb /= 2;
    const size_t smem = wpb * per_warp;
    if (smem > budget) return tsr_set_error(TSR_ERR_INVALID_ARG, "layernorm_bwd: C=%d too large (at most 8192)", a.C);
    if (smem > 48 * 1024)
        CU_TRY(cudaFuncSetAttribute(layernorm_bwd_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    unsigned grid = (unsigned)((a.N + wpb - 1) / wpb);
    if (grid > 264) grid = 264; /* about two blocks per SM; rows are strided over the grid */
    layernorm_bwd_kernel<<<grid, wpb * 32, smem, st>>>(a);
    CU_LAUNCH_CHECK();
    return TSR_OK;
}
template <typename T>
int k_geglu_fwd(cudaStream_t st, T* a, const T* u, int N, int I, tsr_drop d) {
    LAUNCH1(geglu_fwd_kernel<T>, (int64_t)N * I, a, u, N, I, d);
}
template <typename T>
int k_geglu_bwd(cudaStream_t st, T* du, const T* u, const T* da, int N, int I, tsr_drop d, bool acc) {
    LAUNCH1(geglu_bwd_kernel<T>, (int64_t)N * I, du, u, da, N, I, d, acc);
}
template <typename T>
int k_bias_gelu_fwd(cudaStream_t st, T* a, T* u, const float* bias, int64_t N, int C) {
    LAUNCH1(bias_gelu_kernel<T>, N * C, a, u, bias, N, C);
}
template <typename T>
int k_gelu_bwd(cudaStream_t st, T* du, const T* u, const T* da, int64_t n, bool acc) {
    LAUNCH1(gelu_bwd_kernel<T>, n, du, u, da, n, acc);
}
template <typename T>
int k_bias_add(cudaStream_t st, T* x, const float* bias, int N, int C) {
    LAUNCH1(bias_add_kernel<T>, (int64_t)N * C, x, bias, N, C);
}
int k_gelu_bwd_mixed(cudaStream_t st, bf16* du, const bf16* u, const float* da, int64_t n) {
    LAUNCH1(gelu_bwd_mixed_kernel, n, du, u, da, n);
}
int k_bias_tanh(cudaStream_t st, bf16* x, const float* bias, int N, int C) {
    LAUNCH1(bias_tanh_kernel, (int64_t)N * C, x, bias, N, C);
}
int k_tanh_bwd(cudaStream_t st, bf16* dpre, const float* dy, const bf16* y, int64_t n) {
    LAUNCH1(tanh_bwd_kernel, n, dpre, dy, y, n);
}
template <typename T>
int k_colsum(cudaStream_t st, float* dbias, const T* d, int N, int C, float scale) {
    if (N <= 0 || C <= 0) return TSR_OK;
    int ys = (N + 255) / 256;
    if (ys > 128) ys = 128;
    colsum_kernel<T><<<dim3((C + 31) / 32, ys), dim3(32, 8), 0, st>>>(dbias, d, N, C, scale);
    CU_LAUNCH_CHECK();
    return TSR_OK;
}
template <typename T>
int k_dropout(cudaStream_t st, T* out, const T* in, int64_t n, tsr_drop d, uint64_t off, bool acc) {
    LAUNCH1(dropout_kernel<T>, n, out, in, n, d, off, acc);
}
template <typename T>
int k_softmax_ce(cudaStream_t st, float* loss_rows, T* dlogits, const T* logits, const int32_t* targets, int N, int V,
                 float scale, bool acc) {
    if (N <= 0) return TSR_OK;
    softmax_ce_kernel<T><<<N, V >= 4096 ? 512 : 128, 0, st>>>(loss_rows, dlogits, logits, targets, V, scale, acc);
    CU_LAUNCH_CHECK();
    return TSR_OK;
}
int k_distill_ce(cudaStream_t st, float* loss_rows, float* dlogits, const float* logits, const int32_t* targets,
                 const float* soft, int N, int V, float alpha, float temperature, float scale, bool acc) {
    if (N <= 0) return TSR_OK;
    distill_ce_kernel<<<N, V >= 4096 ? 512 : 128, 0, st>>>(loss_rows, dlogits, logits, targets, soft, V, alpha, temperature,
                                                            scale, acc);
    CU_LAUNCH_CHECK();
    return TSR_OK;
}
int k_sum(cudaStream_t st, float* out, const float* x, int n, float scale) {
    sum_kernel<<<1, 512, 0, st>>>(out, x, n, scale);
    CU_LAUNCH_CHECK();
    return TSR_OK;
}
int k_mse(cudaStream_t st, float* loss, float* dpred, const float* pred, const float* t, int S) {
    mse_kernel<<<1, 256, 0, st>>>(loss, dpred, pred, t, S);
    CU_LAUNCH_CHECK();
    return TSR_OK;
}
int k_gather_rows(cudaStream_t st, bf16* out, const bf16* in, const int32_t* rows, int n, int C) {
    LAUNCH1(gather_rows_kernel, (int64_t)n * C, out, in, rows, n, C);
}
int k_scatter_add_rows(cudaStream_t st, float* out, const float* in, const int32_t* rows, int n, int C) {
    LAUNCH1(scatter_add_rows_kernel, (int64_t)n * C, out, in, rows, n, C);
}
int k_mean_rows_fwd(cudaStream_t st, bf16* out, const bf16* in, const int32_t* cu, int S, int C) {
    if (S <= 0 || C <= 0) return TSR_OK;
    for (int s0 = 0; s0 < S; s0 += 65535) { /* gridDim.y <= 65535 */
        dim3 grid((unsigned)((C + MEAN_THREADS - 1) / MEAN_THREADS), (unsigned)(S - s0 < 65535 ? S - s0 : 65535));
        mean_rows_fwd_kernel<<<grid, MEAN_THREADS, 0, st>>>(out, in, cu, s0, C);
        CU_LAUNCH_CHECK();
    }
    return TSR_OK;
}
int k_mean_rows_bwd(cudaStream_t st, float* dx, const float* dout, const int32_t* cu, int S, int C) {
    if (S <= 0 || C <= 0) return TSR_OK;
    for (int s0 = 0; s0 < S; s0 += 65535) {
        dim3 grid((unsigned)((C + MEAN_THREADS - 1) / MEAN_THREADS), (unsigned)(S - s0 < 65535 ? S - s0 : 65535));
        mean_rows_bwd_kernel<<<grid, MEAN_THREADS, 0, st>>>(dx, dout, cu, s0, C);
        CU_LAUNCH_CHECK();
    }
    return TSR_OK;
}
int k_adamw(cudaStream_t st, float* p, const float* g, float* m, float* v, int64_t n, float lr, float initial_lr,
            float b1, float b2, float eps, float wd, int64_t step, bf16* wbf, const int64_t* off, const int64_t* aoff,
            int nt, const float* lrs) {
    /* scalars in double on the host, as the CPU backend computes them */
    double decay = initial_lr > 0 ? 1.0 - (double)wd * ((double)lr / (double)initial_lr) : 1.0 - (double)wd;
    double bc1 = 1.0 - pow((double)b1, (double)step), bc2 = 1.0 - pow((double)b2, (double)step);
    float step_size = (float)((double)lr / bc1);
    float inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
    LAUNCH1(adamw_kernel, n, p, g, m, v, n, lr, (float)decay, b1, b2, eps, step_size, inv_sqrt_bc2, wbf, off, aoff, nt, lrs);
}
int k_sumsq(cudaStream_t st, double* out, const float* g, int64_t n) {
    unsigned b = tsr_blocks(n, TB);
    if (b > 1024) b = 1024;
    sumsq_kernel<<<b, TB, 0, st>>>(out, g, n);
    CU_LAUNCH_CHECK();
    return TSR_OK;
}
int k_scale(cudaStream_t st, float* g, float s, int64_t n) { LAUNCH1(scale_kernel, n, g, s, n); }
int k_first_nonfinite(cudaStream_t st, unsigned long long* first, const float* x, int64_t n) {
    LAUNCH1(nonfinite_kernel, n, first, x, n);
}

/* explicit instantiations */
template int k_geglu_fwd<float>(cudaStream_t, float*, const float*, int, int, tsr_drop);
template int k_geglu_fwd<bf16>(cudaStream_t, bf16*, const bf16*, int, int, tsr_drop);
template int k_geglu_bwd<float>(cudaStream_t, float*, const float*, const float*, int, int, tsr_drop, bool);
template int k_geglu_bwd<bf16>(cudaStream_t, bf16*, const bf16*, const bf16*, int, int, tsr_drop, bool);
template int k_bias_gelu_fwd<float>(cudaStream_t, float*, float*, const float*, int64_t, int);
template int k_bias_gelu_fwd<bf16>(cudaStream_t, bf16*, bf16*, const float*, int64_t, int);
template int k_gelu_bwd<float>(cudaStream_t, float*, const float*, const float*, int64_t, bool);
template int k_gelu_bwd<bf16>(cudaStream_t, bf16*, const bf16*, const bf16*, int64_t, bool);
template int k_colsum<float>(cudaStream_t, float*, const float*, int, int, float);
template int k_colsum<bf16>(cudaStream_t, float*, const bf16*, int, int, float);
template int k_bias_add<float>(cudaStream_t, float*, const float*, int, int);
template int k_bias_add<bf16>(cudaStream_t, bf16*, const float*, int, int);
template int k_dropout<bf16>(cudaStream_t, bf16*, const bf16*, int64_t, tsr_drop, uint64_t, bool);
template int k_dropout<float>(cudaStream_t, float*, const float*, int64_t, tsr_drop, uint64_t, bool);
template int k_softmax_ce<float>(cudaStream_t, float*, float*, const float*, const int32_t*, int, int, float, bool);
template int k_softmax_ce<bf16>(cudaStream_t, float*, bf16*, const bf16*, const int32_t*, int, int, float, bool);
