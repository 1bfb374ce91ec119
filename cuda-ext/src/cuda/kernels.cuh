/*
 * Elementwise, normalisation, embedding, loss and optimizer kernels (kernels.cu): host launchers.
 * All run asynchronously on the given stream and return a TSR status (launch errors only).
 */
#ifndef TSR_CUDA_KERNELS_CUH
#define TSR_CUDA_KERNELS_CUH

#include "common.cuh"

struct tsr_drop {           /* a dropout site; p == 0 disables it */
    float p;
    uint64_t seed, step;
    uint32_t site;
};

int k_f32_to_bf16(cudaStream_t st, bf16* dst, const float* src, int64_t n);
int k_bf16_to_f32(cudaStream_t st, float* dst, const bf16* src, int64_t n);
/* dst (bf16 working copy, tensor t at aoff[t]) from the fp32 block (tensor t at off[t], numel[t]). */
int k_params_to_bf16(cudaStream_t st, bf16* dst, const float* src, const int64_t* d_off, const int64_t* d_aoff,
                     int ntensors, int64_t n);

/* out[T,C] = wte[ids] + wtt[types] (+ wpe[pos]); fp32 params. */
int k_embed_fwd(cudaStream_t st, float* out, const int32_t* ids, const int32_t* types, const int32_t* pos,
                const float* wte, const float* wtt, const float* wpe, int T, int C);
int k_embed_bwd(cudaStream_t st, float* dwte, float* dwtt, float* dwpe, const float* dout, const int32_t* ids,
                const int32_t* types, const int32_t* pos, int T, int C);

/*
 * LayerNorm forward over rows of C. Input: x (fp32), or — when res != NULL — the residual sum
 * z = res + drop(y + bias) formed on the fly and stored to x (fp32, saved for backward).
 * out = drop_out(LN(input)), fp32 or bf16 (out_f32). mean/rstd may be NULL.
 */
struct ln_fwd_args {
    float* x;                 /* input, or where z is written when res != NULL */
    const bf16* res;          /* optional residual (bf16) */
    const bf16* y;            /* with res: the branch output (bf16) */
    const float* ybias;       /* with res: optional bias of the branch (fp32 [C]) */
    tsr_drop ydrop;           /* with res: dropout on y + bias */
    const float* w;
    const float* b;
    void* out;
    bool out_f32;
    tsr_drop odrop;           /* dropout on the output */
    float* mean;
    float* rstd;
    int N, C;
    float eps;
};
int k_layernorm_fwd(cudaStream_t st, const ln_fwd_args& a);

/*
 * LayerNorm backward. g = idrop_bwd(dy) (dropout of the LN OUTPUT, if any, undone first);
 * dx = LN'(g); dw += Σ g·x̂, db += Σ g. Then
 *   dx_f32 (optional): = dx (dx_acc false) or += dx (true);
 *   dx_bf16 (optional): = xdrop_bwd(dx) — gradient of the branch behind a dropout;
 *   dbias (optional): += Σ_rows xdrop_bwd(dx).
 */
struct ln_bwd_args {
    const float* dy;
    tsr_drop idrop;
    const float* x;
    const float* w;
    const float* mean;
    const float* rstd;
    float* dw;
    float* db;
    float* dx_f32;
    bool dx_acc;
    bf16* dx_bf16;
    tsr_drop xdrop;
    float* dbias;
    int N, C;
};
int k_layernorm_bwd(cudaStream_t st, const ln_bwd_args& a);

/* GeGLU: u[N,2I] -> a[N,I] = drop(gelu(u[:, :I]) ⊙ u[:, I:]); backward du from da (dropout undone). */
template <typename T>
int k_geglu_fwd(cudaStream_t st, T* a, const T* u, int N, int I, tsr_drop d);
template <typename T>
int k_geglu_bwd(cudaStream_t st, T* du, const T* u, const T* da, int N, int I, tsr_drop d, bool acc);
/* u[N,C] += bias (in place, optional) then a = gelu(u) (a may alias nothing; a optional). */
template <typename T>
int k_bias_gelu_fwd(cudaStream_t st, T* a, T* u, const float* bias, int64_t N, int C);
/* du = da · gelu'(u) */
template <typename T>
int k_gelu_bwd(cudaStream_t st, T* du, const T* u, const T* da, int64_t n, bool acc);
/* x[N,C] += bias, in place */
template <typename T>
int k_bias_add(cudaStream_t st, T* x, const float* bias, int N, int C);
/* du (bf16) = da (fp32) · gelu'(u) */
int k_gelu_bwd_mixed(cudaStream_t st, bf16* du, const bf16* u, const float* da, int64_t n);
/* out = tanh(x + bias) in place on x (bf16) */
int k_bias_tanh(cudaStream_t st, bf16* x, const float* bias, int N, int C);
/* dpre = dy · (1 - y²) */
int k_tanh_bwd(cudaStream_t st, bf16* dpre, const float* dy, const bf16* y, int64_t n);
/* dbias[c] += scale · Σ_r d[r, c] */
template <typename T>
int k_colsum(cudaStream_t st, float* dbias, const T* d, int N, int C, float scale);

template <typename T>
int k_dropout(cudaStream_t st, T* out, const T* in, int64_t n, tsr_drop d, uint64_t index_offset, bool acc);

/*
 * Softmax cross-entropy per row of logits (fp32 or bf16). loss_rows[r] = -log softmax[target]
 * (0 if target < 0). dlogits (optional, may alias logits): = or += grad_scale·(softmax - onehot).
 */
template <typename T>
int k_softmax_ce(cudaStream_t st, float* loss_rows, T* dlogits, const T* logits, const int32_t* targets, int N,
                 int V, float grad_scale, bool acc);
/*
 * Distillation loss per row of fp32 logits (tsr_op_distill_ce): loss_rows[r] = (1-alpha)·CE (rows with targets[r] >= 0;
 * targets may be NULL) + alpha·T²·KL(soft_r ‖ softmax(x_r/T)); dlogits (optional, may alias logits when !acc):
 * = or += grad_scale·gradient.
 */
int k_distill_ce(cudaStream_t st, float* loss_rows, float* dlogits, const float* logits, const int32_t* targets,
                 const float* soft, int N, int V, float alpha, float temperature, float grad_scale, bool acc);
/* out[0] = Σ x[i] · scale */
int k_sum(cudaStream_t st, float* out, const float* x, int n, float scale);
/* Regression: loss = mean (pred - t)²; dpred = 2(pred - t)/S (fp32). */
int k_mse(cudaStream_t st, float* loss, float* dpred, const float* pred, const float* t, int S);

/* rows gather/scatter (bf16 / fp32) */
int k_gather_rows(cudaStream_t st, bf16* out, const bf16* in, const int32_t* rows, int n, int C);
int k_scatter_add_rows(cudaStream_t st, float* out, const float* in, const int32_t* rows, int n, int C);
/* MEAN pooling (tsr_config.pooling), mirroring the CPU backend's cpu_mean_rows_fwd/bwd:
 * out[s, ·] = (1/L_s)·Σ_{t in [cu[s], cu[s+1])} in[t, ·] (sums in double, bf16 in and out; zeros when L_s = 0);
 * backward dx[t, ·] += dout[s, ·] / L_s for every token t of sequence s (fp32). cu: device [S + 1]. */
int k_mean_rows_fwd(cudaStream_t st, bf16* out, const bf16* in, const int32_t* cu, int S, int C);
int k_mean_rows_bwd(cudaStream_t st, float* dx, const float* dout, const int32_t* cu, int S, int C);

/* AdamW (tessera.h) on n floats; wbf (optional) receives bf16 copies at the aligned tensor offsets; d_lrs
 * (optional, [ntensors], needs d_off) multiplies each tensor's Adam step, not its decay (tsr_set_lr_scales). */
int k_adamw(cudaStream_t st, float* p, const float* g, float* m, float* v, int64_t n, float lr, float initial_lr,
            float b1, float b2, float eps, float wd, int64_t step, bf16* wbf, const int64_t* d_off,
            const int64_t* d_aoff, int ntensors, const float* d_lrs);
/* out[0] += Σ g² (double) */
int k_sumsq(cudaStream_t st, double* out, const float* g, int64_t n);
int k_scale(cudaStream_t st, float* g, float s, int64_t n);
/* first[0] = min index of a non-finite element (initialise to INT64_MAX first) */
int k_first_nonfinite(cudaStream_t st, unsigned long long* first, const float* x, int64_t n);

#endif
