/* CPU kernels shared by the per-op entry points and the CPU model (fp32, OpenMP). */
#ifndef TSR_CPU_OPS_H
#define TSR_CPU_OPS_H
#include <stdint.h>

/* out[N,OC] = inp[N,C]·wᵀ + bias */
void cpu_matmul_fwd(float* out, const float* inp, const float* w, const float* bias, int N, int C, int OC);
/* dinp (+)= dout·w (overwrite when dinp_beta == 0); dw += doutᵀ·inp; dbias += Σ dout; NULL = skip */
void cpu_matmul_bwd(float* dinp, float* dw, float* dbias, const float* dout, const float* inp, const float* w, int N,
                    int C, int OC, float dinp_beta);
/* the same with the matrix products in `prec` (TSR_GEMM_FP32 / TSR_GEMM_BF16 of sgemm.h); bias sums fp32;
 * backward: dw = dw_beta·dw + doutᵀ·inp (dw_beta 0 or 1) */
void cpu_matmul_fwd_prec(int prec, float* out, const float* inp, const float* w, const float* bias, int N, int C,
                         int OC);
void cpu_matmul_bwd_prec(int prec, float* dinp, float* dw, float* dbias, const float* dout, const float* inp,
                         const float* w, int N, int C, int OC, float dinp_beta, float dw_beta);
/* out[N,OC] += bias */
void cpu_bias_add(float* out, const float* bias, int N, int OC);
void cpu_layernorm_fwd(float* out, float* mean, float* rstd, const float* inp, const float* w, const float* b, int N,
                       int C, float eps);
void cpu_layernorm_bwd(float* dinp, float* dw, float* db, const float* dout, const float* inp, const float* w,
                       const float* mean, const float* rstd, int N, int C);
/* the same, dinp overwritten instead of accumulated */
void cpu_layernorm_bwd_set(float* dinp, float* dw, float* db, const float* dout, const float* inp, const float* w,
                           const float* mean, const float* rstd, int N, int C);
void cpu_gelu_fwd(float* out, const float* inp, int64_t n);
void cpu_gelu_bwd(float* dinp, const float* inp, const float* dout, int64_t n);
void cpu_geglu_fwd(float* out, const float* inp, int N, int I);
/* the same on the calling thread only (no OpenMP), for callers with their own thread pool */
void cpu_geglu_fwd_serial(float* out, const float* inp, int64_t N, int I);
void cpu_geglu_bwd(float* dinp, const float* inp, const float* dout, int N, int I);
/* the same, dinp overwritten instead of accumulated */
void cpu_geglu_bwd_set(float* dinp, const float* inp, const float* dout, int N, int I);
void cpu_tanh_fwd(float* out, const float* inp, int64_t n);
/* Mean of the rows [start, end) of x[·, C]: out[C] = (1/L)·Σ_t x[t, ·], L = end - start, summed in double (acc: C
 * doubles of scratch) and rounded once; zeros when L = 0. Serial (callers parallelise over sequences). Shared by the
 * tessera ONNX op PackedMeanPool and the model's MEAN pooling, so serving and training pool alike. */
void cpu_mean_rows_fwd(float* out, const float* x, int64_t start, int64_t end, int C, double* acc);
/* its backward: dx[t, ·] += dout[·] / L for t in [start, end) */
void cpu_mean_rows_bwd(float* dx, const float* dout, int64_t start, int64_t end, int C);
/* returns 0 or TSR_ERR_OOM */
int cpu_attention_fwd(float* out, float* lse, const float* qkv, const int32_t* cu, int S, int max_seqlen, int NH,
                      int D, const float* slopes, float p, uint64_t seed, uint64_t step, uint32_t site);
int cpu_attention_bwd(float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse,
                      const int32_t* cu, int S, int max_seqlen, int NH, int D, const float* slopes, float p,
                      uint64_t seed, uint64_t step, uint32_t site);
/* the same, dqkv overwritten instead of accumulated */
int cpu_attention_bwd_set(float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse,
                          const int32_t* cu, int S, int max_seqlen, int NH, int D, const float* slopes, float p,
                          uint64_t seed, uint64_t step, uint32_t site);
/* One (sequence, head) task of the forward, serial (no OpenMP; for callers with their own thread pool):
 * the sequence is tokens [start, start+L) of qkv [T, 3·NH·D]; writes out[start..start+L, h·D..h·D+D)
 * and, unless lse is NULL, lse[h, start..start+L). slopes NULL = no ALiBi; scale multiplies q·k.
 * No dropout. Returns 0 or TSR_ERR_OOM. */
int cpu_attention_fwd_one(float* out, float* lse, const float* qkv, int start, int L, int T, int NH, int D, int h,
                          const float* slopes, float scale);
/* the same for a subset of query rows: rows[r] = global token of output row r, rows of sequence s are
 * r in [row_cu[s], row_cu[s+1]) (ascending tokens); out[n_rows, NH·D], lse[NH, n_rows]; backward
 * accumulates dQ only at those tokens and dK, dV at all tokens */
int cpu_attention_rows_fwd(float* out, float* lse, const float* qkv, const int32_t* cu, int S, int max_seqlen, int NH,
                           int D, const int32_t* rows, const int32_t* row_cu, int n_rows, const float* slopes, float p,
                           uint64_t seed, uint64_t step, uint32_t site);
int cpu_attention_rows_bwd(float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse,
                           const int32_t* cu, int S, int max_seqlen, int NH, int D, const int32_t* rows,
                           const int32_t* row_cu, int n_rows, const float* slopes, float p, uint64_t seed, uint64_t step,
                           uint32_t site);
/* keep mask (1 = keep) for elements [offset, offset+n) */
void cpu_dropout_mask(uint8_t* mask, int64_t n, float p, uint64_t seed, uint64_t step, uint32_t site, uint64_t offset);
/* out = inp·mask/(1-p) (in place allowed) */
void cpu_dropout_apply(float* out, const float* inp, const uint8_t* mask, int64_t n, float p);
/* loss_rows[N]; dlogits += scale·(softmax - onehot) if non-NULL */
void cpu_softmax_ce(float* loss_rows, float* dlogits, const float* logits, const int32_t* targets, int N, int V,
                    float scale);
/* distillation loss rows and (if dlogits) += scale·gradient, see tsr_op_distill_ce; targets may be NULL */
void cpu_distill_ce(float* loss_rows, float* dlogits, const float* logits, const int32_t* targets, const float* soft,
                    int N, int V, float alpha, float temperature, float scale);
/* training MLM loss in two halves: forward leaves exp(x - max) rows and inv = 1/Σ per row; backward turns
 * them into scale·(softmax - onehot) in place (one pass over the logits each) */
void cpu_softmax_ce_exp_inplace(float* loss_rows, float* logits, float* inv, const int32_t* targets, int N, int V);
void cpu_ce_grad_from_exp(float* x_exp, const float* inv, const int32_t* targets, int N, int V, float scale);
void cpu_embed_fwd(float* out, const int32_t* ids, const int32_t* types, const int32_t* pos, const float* wte,
                   const float* wtt, const float* wpe, int T, int C);
void cpu_embed_bwd(float* dwte, float* dwtt, float* dwpe, const float* dout, const int32_t* ids, const int32_t* types,
                   const int32_t* pos, int T, int C);
void cpu_adamw(float* p, const float* g, float* m, float* v, int64_t n, float lr, float initial_lr, float b1, float b2,
               float eps, float wd, int64_t step);
/* the same with gradients g·gscale (a pending clip scale) */
void cpu_adamw_scaled(float* p, const float* g, float gscale, float* m, float* v, int64_t n, float lr, float initial_lr,
                      float b1, float b2, float eps, float wd, int64_t step);
/* the same with the Adam update's learning rate multiplied by lr_scale (tsr_set_lr_scales); the decoupled
 * weight decay is not multiplied (see tsr_adamw_step in tessera.h) */
void cpu_adamw_lr_scaled(float* p, const float* g, float gscale, float* m, float* v, int64_t n, float lr, float initial_lr,
                         float lr_scale, float b1, float b2, float eps, float wd, int64_t step);
#endif
