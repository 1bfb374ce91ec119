/*
 * CPU kernels (fp32). Compiled for x86-64-v3; matmuls go through the packed sgemm (AVX-512 when the
 * CPU has it). Every reduction is split so that each output element is summed by one thread in a
 * fixed order: results do not depend on the thread count.
 */
#include "cpu_ops.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "../../include/tessera.h"
#include "../common/philox.h"
#include "sgemm.h"
#include "vmath.h"

#define PAR_MIN 16384 /* elements below which a loop is not worth the OpenMP fork */

/* dst[c] += Σ_rows src[r, c]; columns split across threads (deterministic). */
static void colsum_acc(float* dst, const float* src, int N, int C) {
#pragma omp parallel if ((int64_t)N * C > PAR_MIN)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int c0 = (int)((int64_t)C * t / nt), c1 = (int)((int64_t)C * (t + 1) / nt);
        for (int r = 0; r < N; r++) {
            const float* s = src + (size_t)r * C;
            for (int c = c0; c < c1; c++) dst[c] += s[c];
        }
    }
}

void cpu_bias_add(float* out, const float* bias, int N, int OC) {
#pragma omp parallel for if ((int64_t)N * OC > PAR_MIN)
    for (int r = 0; r < N; r++) {
        float* o = out + (size_t)r * OC;
        for (int c = 0; c < OC; c++) o[c] += bias[c];
    }
}

void cpu_matmul_fwd_prec(int prec, float* out, const float* inp, const float* w, const float* bias, int N, int C,
                         int OC) {
    tsr_gemm(prec, 0, 1, N, OC, C, inp, C, w, C, out, OC, 0.0f);
    if (bias) cpu_bias_add(out, bias, N, OC);
}

void cpu_matmul_fwd(float* out, const float* inp, const float* w, const float* bias, int N, int C, int OC) {
    cpu_matmul_fwd_prec(TSR_GEMM_FP32, out, inp, w, bias, N, C, OC);
}

void cpu_matmul_bwd_prec(int prec, float* dinp, float* dw, float* dbias, const float* dout, const float* inp,
                         const float* w, int N, int C, int OC, float dinp_beta, float dw_beta) {
    if (dinp) tsr_gemm(prec, 0, 0, N, C, OC, dout, OC, w, C, dinp, C, dinp_beta);
    if (dw) tsr_gemm(prec, 1, 0, OC, C, N, dout, OC, inp, C, dw, C, dw_beta);
    if (dbias) colsum_acc(dbias, dout, N, OC);
}

void cpu_matmul_bwd(float* dinp, float* dw, float* dbias, const float* dout, const float* inp, const float* w, int N,
                    int C, int OC, float dinp_beta) {
    cpu_matmul_bwd_prec(TSR_GEMM_FP32, dinp, dw, dbias, dout, inp, w, N, C, OC, dinp_beta, 1.0f);
}

void cpu_layernorm_fwd(float* out, float* mean, float* rstd, const float* inp, const float* w, const float* b, int N,
                       int C, float eps) {
#pragma omp parallel for if ((int64_t)N * C > PAR_MIN)
    for (int r = 0; r < N; r++) {
        const float* x = inp + (size_t)r * C;
        float* o = out + (size_t)r * C;
        /* simd reductions: 8 partial sums per row (a fixed order, so still independent of the threads) */
        float s = 0;
#pragma omp simd reduction(+ : s)
        for (int c = 0; c < C; c++) s += x[c];
        float mu = s / C;
        float v = 0;
#pragma omp simd reduction(+ : v)
        for (int c = 0; c < C; c++) {
            float d = x[c] - mu;
            v += d * d;
        }
        float rs = 1.0f / sqrtf(v / C + eps);
        for (int c = 0; c < C; c++) o[c] = (x[c] - mu) * rs * w[c] + b[c];
        if (mean) mean[r] = mu;
        if (rstd) rstd[r] = rs;
    }
}

static void layernorm_bwd(float* dinp, float* dw, float* db, const float* dout, const float* inp, const float* w,
                          const float* mean, const float* rstd, int N, int C, int set);
void cpu_layernorm_bwd(float* dinp, float* dw, float* db, const float* dout, const float* inp, const float* w,
                       const float* mean, const float* rstd, int N, int C) {
    layernorm_bwd(dinp, dw, db, dout, inp, w, mean, rstd, N, C, 0);
}
void cpu_layernorm_bwd_set(float* dinp, float* dw, float* db, const float* dout, const float* inp, const float* w,
                           const float* mean, const float* rstd, int N, int C) {
    layernorm_bwd(dinp, dw, db, dout, inp, w, mean, rstd, N, C, 1);
}

static void layernorm_bwd(float* dinp, float* dw, float* db, const float* dout, const float* inp, const float* w,
                          const float* mean, const float* rstd, int N, int C, int set) {
#pragma omp parallel for if ((int64_t)N * C > PAR_MIN)
    for (int r = 0; r < N; r++) {
        const float* x = inp + (size_t)r * C;
        const float* dy = dout + (size_t)r * C;
        float* dx = dinp + (size_t)r * C;
        float mu = mean[r], rs = rstd[r];
        float sum_g = 0, sum_gx = 0;
#pragma omp simd reduction(+ : sum_g, sum_gx)
        for (int c = 0; c < C; c++) {
            float g = dy[c] * w[c];
            sum_g += g;
            sum_gx += g * (x[c] - mu) * rs;
        }
        sum_g /= C;
        sum_gx /= C;
        for (int c = 0; c < C; c++) {
            float xh = (x[c] - mu) * rs;
            float v = rs * (dy[c] * w[c] - sum_g - xh * sum_gx);
            dx[c] = set ? v : dx[c] + v;
        }
    }
    /* weight/bias gradients: columns split across threads */
#pragma omp parallel if ((int64_t)N * C > PAR_MIN)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int c0 = (int)((int64_t)C * t / nt), c1 = (int)((int64_t)C * (t + 1) / nt);
        for (int r = 0; r < N; r++) {
            const float* x = inp + (size_t)r * C;
            const float* dy = dout + (size_t)r * C;
            float mu = mean[r], rs = rstd[r];
            for (int c = c0; c < c1; c++) {
                dw[c] += dy[c] * (x[c] - mu) * rs;
                db[c] += dy[c];
            }
        }
    }
}

/* ---- GELU (exact erf) ------------------------------------------------------------------- */

static inline float phi_scalar(float x) { return 0.5f * erfcf(-x * 0.70710678118654752f); }
static inline float pdf_scalar(float x) { return 0.39894228040143268f * expf(-0.5f * x * x); }

void cpu_gelu_fwd(float* out, const float* inp, int64_t n) {
    int64_t nv = n & ~(int64_t)7;
#pragma omp parallel for if (n > PAR_MIN)
    for (int64_t i = 0; i < nv; i += 8) {
        __m256 x = _mm256_loadu_ps(inp + i);
        _mm256_storeu_ps(out + i, _mm256_mul_ps(x, tsr_phi256(x)));
    }
    for (int64_t i = nv; i < n; i++) out[i] = inp[i] * phi_scalar(inp[i]);
}

static inline __m256 gelu_grad256(__m256 x) {
    /* d/dx x·Φ(x) = Φ(x) + x·φ(x) */
    __m256 pdf = _mm256_mul_ps(_mm256_set1_ps(0.39894228040143268f),
                               tsr_exp256(_mm256_mul_ps(_mm256_set1_ps(-0.5f), _mm256_mul_ps(x, x))));
    return _mm256_fmadd_ps(x, pdf, tsr_phi256(x));
}

void cpu_gelu_bwd(float* dinp, const float* inp, const float* dout, int64_t n) {
    int64_t nv = n & ~(int64_t)7;
#pragma omp parallel for if (n > PAR_MIN)
    for (int64_t i = 0; i < nv; i += 8) {
        __m256 x = _mm256_loadu_ps(inp + i);
        __m256 g = _mm256_mul_ps(gelu_grad256(x), _mm256_loadu_ps(dout + i));
        _mm256_storeu_ps(dinp + i, _mm256_add_ps(_mm256_loadu_ps(dinp + i), g));
    }
    for (int64_t i = nv; i < n; i++) dinp[i] += (phi_scalar(inp[i]) + inp[i] * pdf_scalar(inp[i])) * dout[i];
}

/* 1 when the AVX-512 elementwise paths may run (the sgemm dispatch picked AVX-512) */
static int use_avx512(void) {
    static int v = -1;
    if (v < 0) v = strcmp(tsr_sgemm_isa(), "avx512") == 0;
    return v;
}

__attribute__((target("avx512f"))) static inline __m512 gelu_grad512(__m512 x) {
    __m512 pdf = _mm512_mul_ps(_mm512_set1_ps(0.39894228040143268f),
                               tsr_exp512(_mm512_mul_ps(_mm512_set1_ps(-0.5f), _mm512_mul_ps(x, x))));
    return _mm512_fmadd_ps(x, pdf, tsr_phi512(x));
}

/* columns [0, 16·⌊I/16⌋) of a GeGLU row on 16 lanes; returns where the 8-lane code continues */
__attribute__((target("avx512f"))) static int geglu_row512(float* o, const float* g, int I) {
    const float* v = g + I;
    int c = 0;
    for (; c + 16 <= I; c += 16) {
        __m512 x = _mm512_loadu_ps(g + c);
        _mm512_storeu_ps(o + c, _mm512_mul_ps(_mm512_mul_ps(x, tsr_phi512(x)), _mm512_loadu_ps(v + c)));
    }
    return c;
}

__attribute__((target("avx512f"))) static int geglu_bwd_row512(float* dg, const float* g, const float* dy, int I) {
    const float* v = g + I;
    float* dv = dg + I;
    int c = 0;
    for (; c + 16 <= I; c += 16) {
        __m512 x = _mm512_loadu_ps(g + c), d = _mm512_loadu_ps(dy + c);
        __m512 gel = _mm512_mul_ps(x, tsr_phi512(x));
        _mm512_storeu_ps(dv + c, _mm512_fmadd_ps(gel, d, _mm512_loadu_ps(dv + c)));
        __m512 dgv = _mm512_mul_ps(_mm512_mul_ps(gelu_grad512(x), _mm512_loadu_ps(v + c)), d);
        _mm512_storeu_ps(dg + c, _mm512_add_ps(_mm512_loadu_ps(dg + c), dgv));
    }
    return c;
}

static inline void geglu_row(float* o, const float* g, int I) {
    const float* v = g + I;
    int c = use_avx512() ? geglu_row512(o, g, I) : 0;
    for (; c + 8 <= I; c += 8) {
        __m256 x = _mm256_loadu_ps(g + c);
        _mm256_storeu_ps(o + c, _mm256_mul_ps(_mm256_mul_ps(x, tsr_phi256(x)), _mm256_loadu_ps(v + c)));
    }
    for (; c < I; c++) o[c] = g[c] * phi_scalar(g[c]) * v[c];
}

void cpu_geglu_fwd(float* out, const float* inp, int N, int I) {
#pragma omp parallel for if ((int64_t)N * I > PAR_MIN)
    for (int r = 0; r < N; r++) geglu_row(out + (size_t)r * I, inp + (size_t)r * 2 * I, I);
}

void cpu_geglu_fwd_serial(float* out, const float* inp, int64_t N, int I) {
    for (int64_t r = 0; r < N; r++) geglu_row(out + (size_t)r * I, inp + (size_t)r * 2 * I, I);
}

static void geglu_bwd(float* dinp, const float* inp, const float* dout, int N, int I, int set);
void cpu_geglu_bwd(float* dinp, const float* inp, const float* dout, int N, int I) { geglu_bwd(dinp, inp, dout, N, I, 0); }
void cpu_geglu_bwd_set(float* dinp, const float* inp, const float* dout, int N, int I) { geglu_bwd(dinp, inp, dout, N, I, 1); }

static void geglu_bwd(float* dinp, const float* inp, const float* dout, int N, int I, int set) {
#pragma omp parallel for if ((int64_t)N * I > PAR_MIN)
    for (int r = 0; r < N; r++) {
        const float* g = inp + (size_t)r * 2 * I;
        const float* v = g + I;
        const float* dy = dout + (size_t)r * I;
        float* dg = dinp + (size_t)r * 2 * I;
        float* dv = dg + I;
        if (set) memset(dg, 0, (size_t)2 * I * sizeof(float)); /* the row, while it is in cache */
        int c = use_avx512() ? geglu_bwd_row512(dg, g, dy, I) : 0;
        for (; c + 8 <= I; c += 8) {
            __m256 x = _mm256_loadu_ps(g + c), d = _mm256_loadu_ps(dy + c);
            __m256 gel = _mm256_mul_ps(x, tsr_phi256(x));
            _mm256_storeu_ps(dv + c, _mm256_fmadd_ps(gel, d, _mm256_loadu_ps(dv + c)));
            __m256 dgv = _mm256_mul_ps(_mm256_mul_ps(gelu_grad256(x), _mm256_loadu_ps(v + c)), d);
            _mm256_storeu_ps(dg + c, _mm256_add_ps(_mm256_loadu_ps(dg + c), dgv));
        }
        for (; c < I; c++) {
            float x = g[c];
            dv[c] += x * phi_scalar(x) * dy[c];
            dg[c] += (phi_scalar(x) + x * pdf_scalar(x)) * v[c] * dy[c];
        }
    }
}

void cpu_tanh_fwd(float* out, const float* inp, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = tanhf(inp[i]);
}

/* ---- mean over a sequence's rows (the packed mean pool; the classifier's MEAN pooling) ------ */

void cpu_mean_rows_fwd(float* out, const float* x, int64_t start, int64_t end, int C, double* acc) {
    if (end <= start) {
        memset(out, 0, (size_t)C * sizeof(float));
        return;
    }
    memset(acc, 0, (size_t)C * sizeof(double));
    for (int64_t t = start; t < end; t++) {
        const float* r = x + (size_t)t * C;
        for (int c = 0; c < C; c++) acc[c] += r[c];
    }
    const double inv = 1.0 / (double)(end - start);
    for (int c = 0; c < C; c++) out[c] = (float)(acc[c] * inv);
}

void cpu_mean_rows_bwd(float* dx, const float* dout, int64_t start, int64_t end, int C) {
    if (end <= start) return;
    const float inv = (float)(1.0 / (double)(end - start));
    for (int64_t t = start; t < end; t++) {
        float* d = dx + (size_t)t * C;
        for (int c = 0; c < C; c++) d[c] += dout[c] * inv;
    }
}

/* ---- dropout ---------------------------------------------------------------------------- */

/* 16 Philox4x32-10 blocks at once (AVX-512): mulhilo via two 32x32->64 multiplies (even/odd lanes). */
__attribute__((target("avx512f"))) static inline __m512i mulhi32(__m512i a, __m512i m) {
    __m512i even = _mm512_mul_epu32(a, m);
    __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
    return _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
}

/* mask bytes for blocks [b, b + 16): out[4·(block - b) + lane] */
__attribute__((target("avx512f"))) static void dropout_mask16(uint8_t* out, uint64_t b, uint64_t seed, uint64_t step,
                                                              uint32_t site, uint32_t thr) {
    const __m512i M0 = _mm512_set1_epi32((int)TSR_PHILOX_M0), M1 = _mm512_set1_epi32((int)TSR_PHILOX_M1);
    __m512i c0 = _mm512_add_epi32(_mm512_set1_epi32((int)(uint32_t)b),
                                  _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    /* carry into the high word where the 16 blocks cross a 2^32 boundary */
    __mmask16 carry = _mm512_cmplt_epu32_mask(c0, _mm512_set1_epi32((int)(uint32_t)b));
    __m512i c1 = _mm512_mask_add_epi32(_mm512_set1_epi32((int)(uint32_t)(b >> 32)), carry,
                                       _mm512_set1_epi32((int)(uint32_t)(b >> 32)), _mm512_set1_epi32(1));
    __m512i c2 = _mm512_set1_epi32((int)site), c3 = _mm512_set1_epi32((int)(uint32_t)step);
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32) ^ (uint32_t)(step >> 32);
    for (int r = 0; r < 10; r++) {
        if (r > 0) { k0 += TSR_PHILOX_W0; k1 += TSR_PHILOX_W1; }
        __m512i hi0 = mulhi32(c0, M0), lo0 = _mm512_mullo_epi32(c0, M0);
        __m512i hi1 = mulhi32(c2, M1), lo1 = _mm512_mullo_epi32(c2, M1);
        c0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), _mm512_set1_epi32((int)k0));
        c1 = lo1;
        c2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), _mm512_set1_epi32((int)k1));
        c3 = lo0;
    }
    /* keep iff (bits >> 8) >= thr, i.e. (bits >> 8)·2^-24 >= p exactly as tsr_dropout_keep */
    const __m512i T = _mm512_set1_epi32((int)thr), one = _mm512_set1_epi32(1);
    __m512i w = _mm512_maskz_mov_epi32(_mm512_cmpge_epu32_mask(_mm512_srli_epi32(c0, 8), T), one);
    w = _mm512_or_si512(w, _mm512_slli_epi32(_mm512_maskz_mov_epi32(_mm512_cmpge_epu32_mask(_mm512_srli_epi32(c1, 8), T), one), 8));
    w = _mm512_or_si512(w, _mm512_slli_epi32(_mm512_maskz_mov_epi32(_mm512_cmpge_epu32_mask(_mm512_srli_epi32(c2, 8), T), one), 16));
    w = _mm512_or_si512(w, _mm512_slli_epi32(_mm512_maskz_mov_epi32(_mm512_cmpge_epu32_mask(_mm512_srli_epi32(c3, 8), T), one), 24));
    _mm512_storeu_si512(out, w);
}

void cpu_dropout_mask(uint8_t* mask, int64_t n, float p, uint64_t seed, uint64_t step, uint32_t site, uint64_t offset) {
    if (p <= 0) {
        memset(mask, 1, (size_t)n);
        return;
    }
    /* one Philox call yields the 4 elements of a block (index / 4) */
    int64_t b0 = (int64_t)(offset >> 2), b1 = (int64_t)((offset + (uint64_t)n - 1) >> 2);
    static int avx512 = -1;
    if (avx512 < 0) avx512 = strcmp(tsr_sgemm_isa(), "avx512") == 0;
    /* blocks fully inside the range, in groups of 16, take the vector path */
    int64_t f0 = (int64_t)((offset + 3) >> 2), f1 = (int64_t)((offset + (uint64_t)n) >> 2); /* [f0, f1) full */
    int64_t groups = avx512 && f1 > f0 ? (f1 - f0) / 16 : 0;
    uint32_t thr = (uint32_t)ceil((double)p * 16777216.0);
#pragma omp parallel for if (groups > 64)
    for (int64_t g = 0; g < groups; g++)
        dropout_mask16(mask + ((uint64_t)(f0 + g * 16) * 4 - offset), (uint64_t)(f0 + g * 16), seed, step, site, thr);
    int64_t v0 = f0, v1 = f0 + groups * 16; /* blocks done by the vector path */
#pragma omp parallel for if (n > 4096 && groups == 0)
    for (int64_t b = b0; b <= b1; b++) {
        if (b >= v0 && b < v1) continue;
        tsr_u32x4 r = tsr_rng_block(seed, step, site, (uint64_t)b);
        for (int lane = 0; lane < 4; lane++) {
            uint64_t idx = (uint64_t)b * 4 + lane;
            if (idx >= offset && idx < offset + (uint64_t)n) mask[idx - offset] = tsr_u32_to_unit(r.v[lane]) >= p;
        }
    }
}

void cpu_dropout_apply(float* out, const float* inp, const uint8_t* mask, int64_t n, float p) {
    float scale = 1.0f / (1.0f - p);
    /* multiply by 0 or scale: branch-free, vectorizes (mask values are 0/1) */
#pragma omp parallel for simd if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) out[i] = inp[i] * ((float)mask[i] * scale);
}

/* ---- attention -------------------------------------------------------------------------- */

/*
 * Attention over unpadded sequences, optionally only for a subset of query rows (MosaicBERT runs the
 * last layer of an MLM step only for the labelled tokens). One task per (sequence, head):
 *   full:   queries = all tokens of the sequence, outputs/lse at the tokens' rows;
 *   subset: queries = tokens rows[r] for r in [row_cu[s], row_cu[s+1]), outputs/lse at row r.
 * Keys/values are always all tokens of the sequence. Probabilities are recomputed in backward from the
 * saved log-sum-exp. Dropout element index uses the query's global token, so a subset draws exactly
 * the mask entries the full computation would.
 */
typedef struct {
    const float* qkv;
    const int32_t *cu, *rows, *row_cu;
    int S, max_seqlen, NH, D, T, n_rows;
    const float* slopes;
    float p, scale;
    uint64_t seed, step;
    uint32_t site;
    int set; /* backward without subset rows: overwrite dqkv (every element is written by one task) */
} attn_args;

typedef struct {
    int start, L, Lq, ob, lb, lstride, qld, h;
    const float* q;   /* query rows (strided in qkv, or gathered) */
    const int32_t* tok; /* global token of query i (subset) or NULL (= start + i) */
} attn_task;

/* sets up task (s, h); gathers subset query rows into qbuf; returns 0 if there is nothing to do */
static int attn_setup(const attn_args* a, int s, int h, float* qbuf, attn_task* t) {
    const int HD = a->NH * a->D, ld = 3 * HD;
    t->h = h;
    t->start = a->cu[s];
    t->L = a->cu[s + 1] - t->start;
    if (!a->rows) {
        t->Lq = t->L;
        t->q = a->qkv + (size_t)t->start * ld + h * a->D;
        t->qld = ld;
        t->ob = t->lb = t->start;
        t->lstride = a->T;
        t->tok = NULL;
    } else {
        int r0 = a->row_cu[s];
        t->Lq = a->row_cu[s + 1] - r0;
        for (int i = 0; i < t->Lq; i++)
            memcpy(qbuf + (size_t)i * a->D, a->qkv + (size_t)a->rows[r0 + i] * ld + h * a->D, (size_t)a->D * sizeof(float));
        t->q = qbuf;
        t->qld = a->D;
        t->ob = t->lb = r0;
        t->lstride = a->n_rows;
        t->tok = a->rows + r0;
    }
    return t->Lq > 0;
}

static inline int attn_tok(const attn_task* t, int i) { return t->tok ? t->tok[i] : t->start + i; }

/* s[i, j] = scale·q_i·k_j - slope·|pos_i - j| */
static void attn_scores(const attn_args* a, const attn_task* t, float* sc, float* ws) {
    const int HD = a->NH * a->D, ld = 3 * HD;
    const float* k = a->qkv + (size_t)t->start * ld + HD + t->h * a->D;
    float slope = a->slopes ? a->slopes[t->h] : 0.0f;
    tsr_sgemm_serial(0, 1, t->Lq, t->L, a->D, t->q, t->qld, k, ld, sc, t->L, 0.0f, ws);
    for (int i = 0; i < t->Lq; i++) {
        float* row = sc + (size_t)i * t->L;
        int pos = attn_tok(t, i) - t->start;
        for (int j = 0; j < t->L; j++) row[j] = row[j] * a->scale - slope * (float)abs(pos - j);
    }
}

static inline float attn_keep_scale(const attn_args* a, int64_t tok, int h, int j) {
    uint64_t idx = ((uint64_t)tok * a->NH + h) * (uint64_t)a->max_seqlen + j;
    return tsr_dropout_keep(a->seed, a->step, a->site, idx, a->p) ? 1.0f / (1.0f - a->p) : 0.0f;
}

static float* attn_workspace(size_t need, int* own) {
    /* long sequences: a private buffer, so threads do not keep L² floats after the call */
    *own = need > ((size_t)1 << 24);
    return *own ? aligned_alloc(64, ((need * sizeof(float)) + 63) & ~(size_t)63) : tsr_thread_workspace(need);
}

/* forward of one task into out (and lse, unless NULL); P holds max_seqlen² floats, ws the sgemm workspace */
static void attn_fwd_task(const attn_args* a, const attn_task* t, float* P, float* ws, float* out, float* lse) {
    const int HD = a->NH * a->D, ld = 3 * HD;
    attn_scores(a, t, P, ws);
    const int L = t->L;
    for (int i = 0; i < t->Lq; i++) {
        float* row = P + (size_t)i * L;
        float mx = tsr_row_max(row, L);
        float sum = (float)tsr_exp_sub_sum(row, L, mx);
        if (lse) lse[(size_t)t->h * t->lstride + t->lb + i] = mx + logf(sum);
        float inv = 1.0f / sum;
        if (a->p > 0) {
            int tok = attn_tok(t, i);
            for (int j = 0; j < L; j++) row[j] *= inv * attn_keep_scale(a, tok, t->h, j);
        } else {
            for (int j = 0; j < L; j++) row[j] *= inv;
        }
    }
    const float* v = a->qkv + (size_t)t->start * ld + 2 * HD + t->h * a->D;
    tsr_sgemm_serial(0, 0, t->Lq, a->D, L, P, L, v, ld, out + (size_t)t->ob * HD + t->h * a->D, HD, 0.0f, ws);
}

static int attention_fwd_impl(const attn_args* a, float* out, float* lse) {
    const size_t wsz = tsr_sgemm_workspace_floats(), LL = (size_t)a->max_seqlen * a->max_seqlen;
    int oom = 0;
#pragma omp parallel
    {
        int own;
        float* ws = attn_workspace(wsz + LL + (size_t)a->max_seqlen * a->D + 32, &own);
        if (!ws) {
#pragma omp atomic write
            oom = 1;
        }
        float* P = ws ? ws + wsz : NULL;
        float* qbuf = ws ? P + LL : NULL;
#pragma omp for schedule(dynamic)
        for (int task = 0; task < a->S * a->NH; task++) {
            attn_task t;
            if (!ws || !attn_setup(a, task / a->NH, task % a->NH, qbuf, &t)) continue;
            attn_fwd_task(a, &t, P, ws, out, lse);
        }
        if (own) free(ws);
    }
    return oom ? TSR_ERR_OOM : TSR_OK;
}

int cpu_attention_fwd_one(float* out, float* lse, const float* qkv, int start, int L, int T, int NH, int D, int h,
                          const float* slopes, float scale) {
    if (L <= 0) return TSR_OK;
    const int32_t cu[2] = {start, start + L};
    attn_args a = {qkv, cu, NULL, NULL, 1, L, NH, D, T, 0, slopes, 0.0f, scale, 0, 0, 0, 0};
    const size_t wsz = tsr_sgemm_workspace_floats();
    int own;
    float* ws = attn_workspace(wsz + (size_t)L * L + 32, &own);
    if (!ws) return TSR_ERR_OOM;
    attn_task t;
    attn_setup(&a, 0, h, NULL, &t);
    attn_fwd_task(&a, &t, ws + wsz, ws, out, lse);
    if (own) free(ws);
    return TSR_OK;
}

static int attention_bwd_impl(const attn_args* a, float* dqkv, const float* dout, const float* out, const float* lse) {
    const int HD = a->NH * a->D, ld = 3 * HD, D = a->D;
    const size_t wsz = tsr_sgemm_workspace_floats(), LL = (size_t)a->max_seqlen * a->max_seqlen;
    int oom = 0;
#pragma omp parallel
    {
        int own;
        float* ws = attn_workspace(wsz + 3 * LL + (size_t)a->max_seqlen * (2 * D + 1) + 64, &own);
        if (!ws) {
#pragma omp atomic write
            oom = 1;
        }
        float* P = ws ? ws + wsz : NULL;
        float* dP = ws ? P + LL : NULL;
        float* Pd = ws ? dP + LL : NULL;
        float* qbuf = ws ? Pd + LL : NULL;
        float* dqbuf = ws ? qbuf + (size_t)a->max_seqlen * D : NULL;
        float* Di = ws ? dqbuf + (size_t)a->max_seqlen * D : NULL;
        /* subset rows write dQ through a scatter: tasks of the same sequence and different heads touch
         * disjoint columns, so there is no race */
#pragma omp for schedule(dynamic)
        for (int task = 0; task < a->S * a->NH; task++) {
            attn_task t;
            if (!ws || !attn_setup(a, task / a->NH, task % a->NH, qbuf, &t)) continue;
            const int L = t.L, Lq = t.Lq, h = t.h;
            const float* k = a->qkv + (size_t)t.start * ld + HD + h * D;
            const float* v = k + HD;
            float* dk = dqkv + (size_t)t.start * ld + HD + h * D;
            float* dv = dk + HD;
            const float* dO = dout + (size_t)t.ob * HD + h * D;
            const float* O = out + (size_t)t.ob * HD + h * D;
            attn_scores(a, &t, P, ws);
            for (int i = 0; i < Lq; i++) {
                float* row = P + (size_t)i * L;
                float l = lse[(size_t)h * t.lstride + t.lb + i];
                __m256 vl = _mm256_set1_ps(l);
                int j = 0;
                for (; j + 8 <= L; j += 8) _mm256_storeu_ps(row + j, tsr_exp256(_mm256_sub_ps(_mm256_loadu_ps(row + j), vl)));
                for (; j < L; j++) row[j] = expf(row[j] - l);
                float d = 0;
                for (int c = 0; c < D; c++) d += dO[(size_t)i * HD + c] * O[(size_t)i * HD + c];
                Di[i] = d;
            }
            /* dropped probabilities P̃ (what multiplied V) */
            const float* Pt = P;
            if (a->p > 0) {
                for (int i = 0; i < Lq; i++) {
                    int tok = attn_tok(&t, i);
                    for (int j = 0; j < L; j++) Pd[(size_t)i * L + j] = P[(size_t)i * L + j] * attn_keep_scale(a, tok, h, j);
                }
                Pt = Pd;
            }
            /* dV += P̃ᵀ·dO ; dP̃ = dO·Vᵀ */
            const float beta = a->set ? 0.0f : 1.0f;
            tsr_sgemm_serial(1, 0, L, D, Lq, Pt, L, dO, HD, dv, ld, beta, ws);
            tsr_sgemm_serial(0, 1, Lq, L, D, dO, HD, v, ld, dP, L, 0.0f, ws);
            /* dS = P ⊙ (dP - D_i) with dP = dP̃ ⊙ mask/(1-p); the score scale folded in */
            for (int i = 0; i < Lq; i++) {
                float* dr = dP + (size_t)i * L;
                const float* pr = P + (size_t)i * L;
                if (a->p > 0) {
                    int tok = attn_tok(&t, i);
                    for (int j = 0; j < L; j++) dr[j] = pr[j] * (dr[j] * attn_keep_scale(a, tok, h, j) - Di[i]) * a->scale;
                } else {
                    for (int j = 0; j < L; j++) dr[j] = pr[j] * (dr[j] - Di[i]) * a->scale;
                }
            }
            /* dQ += dS·K ; dK += dSᵀ·Q */
            if (!t.tok) {
                float* dq = dqkv + (size_t)t.start * ld + h * D;
                tsr_sgemm_serial(0, 0, Lq, D, L, dP, L, k, ld, dq, ld, beta, ws);
            } else {
                tsr_sgemm_serial(0, 0, Lq, D, L, dP, L, k, ld, dqbuf, D, 0.0f, ws);
                for (int i = 0; i < Lq; i++) {
                    float* dq = dqkv + (size_t)t.tok[i] * ld + h * D;
                    for (int c = 0; c < D; c++) dq[c] += dqbuf[(size_t)i * D + c];
                }
            }
            tsr_sgemm_serial(1, 0, L, D, Lq, dP, L, t.q, t.qld, dk, ld, beta, ws);
        }
        if (own) free(ws);
    }
    return oom ? TSR_ERR_OOM : TSR_OK;
}

int cpu_attention_fwd(float* out, float* lse, const float* qkv, const int32_t* cu, int S, int max_seqlen, int NH,
                      int D, const float* slopes, float p, uint64_t seed, uint64_t step, uint32_t site) {
    attn_args a = {qkv, cu, NULL, NULL, S, max_seqlen, NH, D, cu[S], 0, slopes, p, 1.0f / sqrtf((float)D), seed, step, site, 0};
    return attention_fwd_impl(&a, out, lse);
}

int cpu_attention_bwd(float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse,
                      const int32_t* cu, int S, int max_seqlen, int NH, int D, const float* slopes, float p,
                      uint64_t seed, uint64_t step, uint32_t site) {
    attn_args a = {qkv, cu, NULL, NULL, S, max_seqlen, NH, D, cu[S], 0, slopes, p, 1.0f / sqrtf((float)D), seed, step, site, 0};
    return attention_bwd_impl(&a, dqkv, dout, out, lse);
}

int cpu_attention_bwd_set(float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse,
                          const int32_t* cu, int S, int max_seqlen, int NH, int D, const float* slopes, float p,
                          uint64_t seed, uint64_t step, uint32_t site) {
    attn_args a = {qkv, cu, NULL, NULL, S, max_seqlen, NH, D, cu[S], 0, slopes, p, 1.0f / sqrtf((float)D), seed, step, site, 1};
    return attention_bwd_impl(&a, dqkv, dout, out, lse);
}

int cpu_attention_rows_fwd(float* out, float* lse, const float* qkv, const int32_t* cu, int S, int max_seqlen, int NH,
                           int D, const int32_t* rows, const int32_t* row_cu, int n_rows, const float* slopes, float p,
                           uint64_t seed, uint64_t step, uint32_t site) {
    attn_args a = {qkv, cu, rows, row_cu, S, max_seqlen, NH, D, cu[S], n_rows, slopes, p, 1.0f / sqrtf((float)D), seed, step, site, 0};
    return attention_fwd_impl(&a, out, lse);
}

int cpu_attention_rows_bwd(float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse,
                           const int32_t* cu, int S, int max_seqlen, int NH, int D, const int32_t* rows,
                           const int32_t* row_cu, int n_rows, const float* slopes, float p, uint64_t seed, uint64_t step,
                           uint32_t site) {
    attn_args a = {qkv, cu, rows, row_cu, S, max_seqlen, NH, D, cu[S], n_rows, slopes, p, 1.0f / sqrtf((float)D), seed, step, site, 0};
    return attention_bwd_impl(&a, dqkv, dout, out, lse);
}

/* ---- loss ------------------------------------------------------------------------------- */

void cpu_softmax_ce(float* loss_rows, float* dlogits, const float* logits, const int32_t* targets, int N, int V,
                    float scale) {
#pragma omp parallel for if ((int64_t)N * V > PAR_MIN)
    for (int r = 0; r < N; r++) {
        int t = targets[r];
        if (t < 0) {
            loss_rows[r] = 0;
            continue;
        }
        const float* x = logits + (size_t)r * V;
        float mx = tsr_row_max(x, V);
        __m256 vm = _mm256_set1_ps(mx), vs = _mm256_setzero_ps();
        int j;
        for (j = 0; j + 8 <= V; j += 8) vs = _mm256_add_ps(vs, tsr_exp256(_mm256_sub_ps(_mm256_loadu_ps(x + j), vm)));
        double sum = tsr_hsum256(vs);
        for (; j < V; j++) sum += expf(x[j] - mx);
        float lse = mx + (float)log(sum);
        loss_rows[r] = lse - x[t];
        if (dlogits) {
            float* d = dlogits + (size_t)r * V;
            __m256 vl = _mm256_set1_ps(lse), vsc = _mm256_set1_ps(scale);
            for (j = 0; j + 8 <= V; j += 8) {
                __m256 pr = tsr_exp256(_mm256_sub_ps(_mm256_loadu_ps(x + j), vl));
                _mm256_storeu_ps(d + j, _mm256_fmadd_ps(pr, vsc, _mm256_loadu_ps(d + j)));
            }
            for (; j < V; j++) d[j] += scale * expf(x[j] - lse);
            d[t] -= scale;
        }
    }
}

/* Distillation (tessera.h, tsr_op_distill_ce): the hard term through cpu_softmax_ce scaled by (1 - alpha), so that
 * alpha = 0 is plain cross-entropy to the bit; the soft term alpha·T²·KL(q ‖ softmax(x/T)) and its gradient
 * alpha·T·(softmax(x/T) - q) in double per row (classification rows are short: num_labels entries). */
void cpu_distill_ce(float* loss_rows, float* dlogits, const float* logits, const int32_t* targets, const float* soft,
                    int N, int V, float alpha, float temperature, float scale) {
    const float keep = 1.0f - alpha;
    if (targets) {
        cpu_softmax_ce(loss_rows, dlogits, logits, targets, N, V, scale * keep);
        for (int r = 0; r < N; r++) loss_rows[r] *= keep;
    } else {
        for (int r = 0; r < N; r++) loss_rows[r] = 0.0f;
    }
    if (alpha == 0.0f) return;
    const double T = temperature, a = alpha;
    for (int r = 0; r < N; r++) {
        const float* x = logits + (size_t)r * V;
        const float* q = soft + (size_t)r * V;
        double mx = -INFINITY;
        for (int j = 0; j < V; j++) mx = fmax(mx, x[j] / T);
        double sum = 0;
        for (int j = 0; j < V; j++) sum += exp(x[j] / T - mx);
        const double lse = mx + log(sum);
        double kl = 0;
        for (int j = 0; j < V; j++)
            if (q[j] > 0) kl += q[j] * (log((double)q[j]) - (x[j] / T - lse));
        loss_rows[r] = (float)((double)loss_rows[r] + a * T * T * kl);
        if (dlogits) {
            float* d = dlogits + (size_t)r * V;
            for (int j = 0; j < V; j++) d[j] += (float)(scale * a * T * (exp(x[j] / T - lse) - q[j]));
        }
    }
}

/* row max and the softmax numerator on 16 lanes (the 8-lane tsr_row_max / tsr_exp_sub_sum otherwise) */
__attribute__((target("avx512f"))) static double exp_sub_sum512(float* x, int n, float* mx_out) {
    __m512 vm = _mm512_set1_ps(-INFINITY);
    int j = 0;
    for (; j + 16 <= n; j += 16) vm = _mm512_max_ps(vm, _mm512_loadu_ps(x + j));
    float mx = _mm512_reduce_max_ps(vm);
    for (; j < n; j++) mx = x[j] > mx ? x[j] : mx;
    __m512 vs = _mm512_setzero_ps();
    vm = _mm512_set1_ps(mx);
    for (j = 0; j + 16 <= n; j += 16) {
        __m512 e = tsr_exp512(_mm512_sub_ps(_mm512_loadu_ps(x + j), vm));
        _mm512_storeu_ps(x + j, e);
        vs = _mm512_add_ps(vs, e);
    }
    double sum = _mm512_reduce_add_ps(vs);
    for (; j < n; j++) {
        x[j] = expf(x[j] - mx);
        sum += x[j];
    }
    *mx_out = mx;
    return sum;
}

/* Training forward of the MLM loss: loss_rows[r] = -log softmax(x_r)[t_r]; x_r <- exp(x_r - max_r) in
 * place and inv[r] = 1 / Σ_j exp(x_rj - max_r) (one exp pass; the backward's single pass over the row
 * normalises and scales, see cpu_ce_grad_from_exp). Targets >= 0. */
void cpu_softmax_ce_exp_inplace(float* loss_rows, float* logits, float* inv, const int32_t* targets, int N, int V) {
#pragma omp parallel for if ((int64_t)N * V > PAR_MIN)
    for (int r = 0; r < N; r++) {
        float* x = logits + (size_t)r * V;
        float xt = x[targets[r]], mx;
        double sum;
        if (use_avx512()) {
            sum = exp_sub_sum512(x, V, &mx);
        } else {
            mx = tsr_row_max(x, V);
            sum = tsr_exp_sub_sum(x, V, mx);
        }
        loss_rows[r] = mx + (float)log(sum) - xt;
        inv[r] = (float)(1.0 / sum);
    }
}

/* exp(x - max) rows and their 1/Σ -> scale·(softmax - onehot), in place */
void cpu_ce_grad_from_exp(float* x_exp, const float* inv, const int32_t* targets, int N, int V, float scale) {
#pragma omp parallel for if ((int64_t)N * V > PAR_MIN)
    for (int r = 0; r < N; r++) {
        float* x = x_exp + (size_t)r * V;
        const float k = inv[r] * scale;
        for (int j = 0; j < V; j++) x[j] *= k;
        x[targets[r]] -= scale;
    }
}

/* ---- embeddings ------------------------------------------------------------------------- */

void cpu_embed_fwd(float* out, const int32_t* ids, const int32_t* types, const int32_t* pos, const float* wte,
                   const float* wtt, const float* wpe, int T, int C) {
#pragma omp parallel for if ((int64_t)T * C > PAR_MIN)
    for (int t = 0; t < T; t++) {
        float* o = out + (size_t)t * C;
        const float* a = wte + (size_t)ids[t] * C;
        const float* b = wtt + (size_t)(types ? types[t] : 0) * C;
        for (int c = 0; c < C; c++) o[c] = a[c] + b[c];
        if (wpe) {
            const float* e = wpe + (size_t)pos[t] * C;
            for (int c = 0; c < C; c++) o[c] += e[c];
        }
    }
}

void cpu_embed_bwd(float* dwte, float* dwtt, float* dwpe, const float* dout, const int32_t* ids, const int32_t* types,
                   const int32_t* pos, int T, int C) {
    /* scatter-add without races: each thread owns a slice of the columns */
#pragma omp parallel if ((int64_t)T * C > PAR_MIN)
    {
        int th = omp_get_thread_num(), nt = omp_get_num_threads();
        int c0 = (int)((int64_t)C * th / nt), c1 = (int)((int64_t)C * (th + 1) / nt);
        for (int t = 0; t < T; t++) {
            const float* d = dout + (size_t)t * C;
            if (dwte) {
                float* g = dwte + (size_t)ids[t] * C;
                for (int c = c0; c < c1; c++) g[c] += d[c];
            }
            if (dwtt) {
                float* g = dwtt + (size_t)(types ? types[t] : 0) * C;
                for (int c = c0; c < c1; c++) g[c] += d[c];
            }
            if (dwpe) {
                float* g = dwpe + (size_t)pos[t] * C;
                for (int c = c0; c < c1; c++) g[c] += d[c];
            }
        }
    }
}

/* ---- optimizer -------------------------------------------------------------------------- */

void cpu_adamw(float* p, const float* g, float* m, float* v, int64_t n, float lr, float initial_lr, float b1, float b2,
               float eps, float wd, int64_t step) {
    cpu_adamw_scaled(p, g, 1.0f, m, v, n, lr, initial_lr, b1, b2, eps, wd, step);
}

void cpu_adamw_scaled(float* p, const float* g, float gscale, float* m, float* v, int64_t n, float lr, float initial_lr,
                      float b1, float b2, float eps, float wd, int64_t step) {
    cpu_adamw_lr_scaled(p, g, gscale, m, v, n, lr, initial_lr, 1.0f, b1, b2, eps, wd, step);
}

void cpu_adamw_lr_scaled(float* p, const float* g, float gscale, float* m, float* v, int64_t n, float lr, float initial_lr,
                         float lr_scale, float b1, float b2, float eps, float wd, int64_t step) {
    /* the decay uses the schedule ratio lr/initial_lr, which a group's scale leaves unchanged (tessera.h) */
    float decay = 1.0f - wd * (initial_lr > 0 ? lr / initial_lr : 1.0f);
    float bc1 = 1.0f - (float)pow(b1, (double)step);
    float bc2 = 1.0f - (float)pow(b2, (double)step);
    /* lr_scale 1 leaves step_size bit-identical to the unscaled update */
    float step_size = lr / bc1 * lr_scale, inv_sqrt_bc2 = 1.0f / sqrtf(bc2);
#pragma omp parallel for simd if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i] * gscale;
        float mi = b1 * m[i] + (1.0f - b1) * gi;
        float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float pi = p[i] * decay;
        p[i] = pi - step_size * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps);
    }
}
