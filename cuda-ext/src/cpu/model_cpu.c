/*
 * The CPU backend: whole-model forward/backward over the parameter block, AdamW, buffers, and the
 * per-op entry points. Activations live in one arena allocated once for the token budget.
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/model.h"
#include "cpu_ops.h"
#include "sgemm.h"

typedef struct {
    float *qkv, *att, *lse, *r1, *mean1, *rstd1, *h, *ff1, *a, *r2, *mean2, *rstd2, *y;
    uint8_t *mask_ao, *mask_ffn;
} layer_acts;

typedef struct {
    float* blocks[4]; /* params, grads, m, v */
    char* arena;
    /* copy of the batch (for backward) */
    int32_t *ids, *types, *cu, *pos, *tgt_idx, *tgt_lbl, *cls_labels, *row_cu;
    float* targets;
    float* soft; /* distillation: the batch's soft targets [S, num_labels] (classification head) */
    int distill; /* the last forward had soft targets: its loss is tsr_op_distill_ce's with d_alpha, d_temp */
    float d_alpha, d_temp;
    /* embeddings */
    float *emb, *emb_mean, *emb_rstd, *x0;
    uint8_t* emb_mask;
    layer_acts* L;
    /* MLM head */
    float *m_x, *m_d, *m_g, *m_ln, *m_mean, *m_rstd, *m_logits, *m_inv, *loss_rows;
    /* classifier head */
    float *c_in, *c_d, *c_t, *c_drop, *c_logits;
    double* c_acc; /* MEAN pooling: [max_seqs, H] double sums (one row per sequence) */
    uint8_t* c_mask;
    /* backward scratch */
    float *dY, *dX, *dR2, *dR1, *dAO, *dATT, *dBIG, *dMID, *dM1, *dM2, *dC1, *dC2;
    /* state of the last forward */
    int have_fwd, T, S, max_seqlen, n_tgt;
    int subset; /* the last layer ran only on the MLM targets (rows tgt_idx, per sequence row_cu) */
    uint64_t seed, step;
    float p_hidden, p_attn;
    /* tsr_zero_grad defers the zeroing of the linear-weight gradients (most of the block: every one is
     * first written by one matmul of the backward, which then overwrites instead of accumulating);
     * anything else that reads or writes the gradient block first materialises the zeros */
    int lazy_zero, n_deferred;
    /* tsr_clip_grad_norm's scaling is pending in grad_scale (AdamW applies it as it reads g; anything else
     * writes it first); grads_finite: the last norm found every gradient finite (no change since), so
     * AdamW's finiteness check need not read the block again */
    float grad_scale;
    int grads_finite;
    int64_t *deferred_off, *deferred_n;
    /* bf16 on AVX512-BF16: every linear weight packed to bf16 once per parameter update, for the forward
     * (w as op(B) = wᵀ) and for the backward's data product (op(B) = w); rebuilt by the next forward after
     * a parameter write, AdamW step, precision change, and by every forward once a raw parameter pointer
     * (tsr_buffer_ptr) has been handed out */
    struct { const float* w; tsr_bf16_pack fwd, bwd; } * packs;
    uint32_t* pack_mem;
    int packs_valid, params_exposed;
    int precision;        /* TSR_PRECISION_*: the matrix products' inputs (fp32 or bf16; sums always fp32) */
    struct profile* prof; /* TSR_PROFILE=1: per-op wall time, printed to stderr when the model is freed */
} cpu_impl;

#define IMPL(m) ((cpu_impl*)(m)->impl)

/* ---------------------------------------------------------------------------------------- */
/* Per-op profile (TSR_PROFILE=1): wall time of every op of the step, matmuls by role and shape */
/* ---------------------------------------------------------------------------------------- */

#define PROF_MAX 64
struct profile {
    int n, steps;
    double fwd_s, bwd_s; /* whole tsr_forward / tsr_backward: what the entries do not cover is "other" */
    struct { const char* what; double s, flop; long calls; int m, n, k; } e[PROF_MAX];
};

static double prof_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* `what` is a string literal; m·n·k the matmul shape (0 for other ops) */
static void prof_add(struct profile* p, const char* what, double t0, int m, int n, int k) {
    double dt = prof_now() - t0;
    int i = 0;
    while (i < p->n && p->e[i].what != what) i++;
    if (i == p->n) {
        if (p->n == PROF_MAX) return;
        p->n++;
        p->e[i].what = what;
    }
    p->e[i].s += dt;
    p->e[i].calls++;
    p->e[i].flop += 2.0 * m * n * k;
    p->e[i].m = m;
    p->e[i].n = n;
    p->e[i].k = k;
}

#define PROF(c, what, call)                                           \
    do {                                                              \
        double t0_ = (c)->prof ? prof_now() : 0;                      \
        call;                                                         \
        if ((c)->prof) prof_add((c)->prof, what, t0_, 0, 0, 0);       \
    } while (0)

static void prof_print(const struct profile* p) {
    int order[PROF_MAX];
    double total = 0;
    for (int i = 0; i < p->n; i++) {
        order[i] = i;
        total += p->e[i].s;
    }
    for (int i = 1; i < p->n; i++) /* by time, descending */
        for (int j = i; j > 0 && p->e[order[j]].s > p->e[order[j - 1]].s; j--) {
            int t = order[j]; order[j] = order[j - 1]; order[j - 1] = t;
        }
    int steps = p->steps > 0 ? p->steps : 1;
    fprintf(stderr, "tessera-cpu profile: %d training steps, forward %.2f + backward %.2f ms/step, %.2f ms/step in "
            "the ops below (%d threads)\n", p->steps, 1e3 * p->fwd_s / steps, 1e3 * p->bwd_s / steps, 1e3 * total / steps,
            omp_get_max_threads());
    fprintf(stderr, "  %-34s %9s %6s %7s  %s\n", "op", "ms/step", "%", "GFLOP/s", "last shape M x N x K");
    for (int r = 0; r < p->n; r++) {
        int i = order[r];
        fprintf(stderr, "  %-34s %9.3f %6.1f", p->e[i].what, 1e3 * p->e[i].s / steps, 100 * p->e[i].s / total);
        if (p->e[i].flop > 0)
            fprintf(stderr, " %7.1f  %d x %d x %d\n", p->e[i].flop / p->e[i].s / 1e9, p->e[i].m, p->e[i].n, p->e[i].k);
        else
            fprintf(stderr, "\n");
    }
    double other = p->fwd_s + p->bwd_s;
    for (int i = 0; i < p->n; i++)
        if (strncmp(p->e[i].what, "opt ", 4)) other -= p->e[i].s;
    fprintf(stderr, "  %-34s %9.3f         (copies, residual adds, memsets in forward/backward)\n", "other",
            1e3 * other / steps);
}

/* Two-pass carving: pass 0 sums the sizes, pass 1 assigns pointers into the arena. */
typedef struct { char* base; size_t off; } carver;
static void* carve(carver* cv, size_t bytes) {
    size_t at = cv->off;
    cv->off += (bytes + 63) & ~(size_t)63;
    return cv->base ? cv->base + at : NULL;
}

static void layout_acts(tsr_model* m, carver* cv) {
    cpu_impl* c = IMPL(m);
    const tsr_config* g = &m->cfg;
    size_t T = (size_t)g->max_tokens, S = (size_t)g->max_seqs, H = (size_t)g->hidden_size, I = (size_t)g->intermediate_size;
    size_t NH = (size_t)g->num_heads, Mt = (size_t)g->max_mlm_targets, V = (size_t)g->vocab_size;
    int mosaic = g->variant == TSR_VARIANT_MOSAIC_BERT;
    size_t F = sizeof(float);
    size_t ff1 = mosaic ? 2 * I : I;
    size_t big = 3 * H > ff1 ? 3 * H : ff1;
    c->ids = carve(cv, T * 4);
    c->types = carve(cv, T * 4);
    c->cu = carve(cv, (S + 1) * 4);
    c->pos = carve(cv, T * 4);
    c->tgt_idx = carve(cv, T * 4);
    c->tgt_lbl = carve(cv, T * 4);
    c->cls_labels = carve(cv, S * 4);
    c->row_cu = carve(cv, (S + 1) * 4);
    c->targets = carve(cv, S * F);
    c->emb = carve(cv, T * H * F);
    c->emb_mean = carve(cv, T * F);
    c->emb_rstd = carve(cv, T * F);
    c->x0 = carve(cv, T * H * F);
    c->emb_mask = carve(cv, T * H);
    for (int l = 0; l < g->num_layers; l++) {
        layer_acts* a = cv->base ? &c->L[l] : &(layer_acts){0};
        a->qkv = carve(cv, T * 3 * H * F);
        a->att = carve(cv, T * H * F);
        a->lse = carve(cv, NH * T * F);
        a->r1 = carve(cv, T * H * F);
        a->mean1 = carve(cv, T * F);
        a->rstd1 = carve(cv, T * F);
        a->h = carve(cv, T * H * F);
        a->ff1 = carve(cv, T * ff1 * F);
        a->a = carve(cv, T * I * F);
        a->r2 = carve(cv, T * H * F);
        a->mean2 = carve(cv, T * F);
        a->rstd2 = carve(cv, T * F);
        a->y = carve(cv, T * H * F);
        a->mask_ao = carve(cv, T * H);
        a->mask_ffn = carve(cv, T * (I > H ? I : H));
    }
    if (g->head == TSR_HEAD_MLM) {
        c->m_x = carve(cv, Mt * H * F);
        c->m_d = carve(cv, Mt * H * F);
        c->m_g = carve(cv, Mt * H * F);
        c->m_ln = carve(cv, Mt * H * F);
        c->m_mean = carve(cv, Mt * F);
        c->m_rstd = carve(cv, Mt * F);
        c->m_logits = carve(cv, Mt * V * F);
        c->m_inv = carve(cv, Mt * F);
        c->loss_rows = carve(cv, Mt * F);
        c->dM1 = carve(cv, Mt * H * F);
        c->dM2 = carve(cv, Mt * H * F);
    } else if (g->head != TSR_HEAD_NONE) {
        size_t NL = (size_t)g->num_labels;
        c->c_in = carve(cv, S * H * F);
        if (g->pooling == TSR_POOLING_MEAN) c->c_acc = carve(cv, S * H * sizeof(double));
        c->c_d = carve(cv, S * H * F);
        c->c_t = carve(cv, S * H * F);
        c->c_drop = carve(cv, S * H * F);
        c->c_logits = carve(cv, S * NL * F);
        if (g->head == TSR_HEAD_CLASSIFICATION) c->soft = carve(cv, S * NL * F);
        c->c_mask = carve(cv, S * H);
        c->loss_rows = carve(cv, S * F);
        c->dC1 = carve(cv, S * H * F);
        c->dC2 = carve(cv, S * (H > NL ? H : NL) * F);
    }
    c->dY = carve(cv, T * H * F);
    c->dX = carve(cv, T * H * F);
    c->dR2 = carve(cv, T * H * F);
    c->dR1 = carve(cv, T * H * F);
    c->dAO = carve(cv, T * H * F);
    c->dATT = carve(cv, T * H * F);
    c->dBIG = carve(cv, T * big * F);
    c->dMID = carve(cv, T * I * F);
}

static void cpu_model_free(tsr_model* m) {
    cpu_impl* c = IMPL(m);
    if (!c) return;
    if (c->prof) {
        prof_print(c->prof);
        free(c->prof);
    }
    for (int i = 0; i < 4; i++) free(c->blocks[i]);
    free(c->deferred_off);
    free(c->packs);
    free(c->pack_mem);
    free(c->arena);
    free(c->L);
    free(c);
    m->impl = NULL;
}

static int cpu_model_init(tsr_model* m) {
    cpu_impl* c = calloc(1, sizeof *c);
    if (!c) return tsr_set_error(TSR_ERR_OOM, "CPU backend: out of memory");
    m->impl = c;
    c->grad_scale = 1.0f;
    const char* prof = getenv("TSR_PROFILE");
    if (prof && *prof && strcmp(prof, "0")) c->prof = calloc(1, sizeof *c->prof);
    size_t n = (size_t)m->num_params;
    for (int i = 0; i < 4; i++) {
        c->blocks[i] = calloc(n ? n : 1, sizeof(float));
        if (!c->blocks[i]) {
            cpu_model_free(m);
            return tsr_set_error(TSR_ERR_OOM, "CPU backend: cannot allocate 4 blocks of %zu floats", n);
        }
    }
    c->L = calloc((size_t)(m->cfg.num_layers ? m->cfg.num_layers : 1), sizeof *c->L);
    /* the gradients tsr_zero_grad may defer: those the backward's weight matmuls (MM_BWD) write first */
    int nd = 0, cap = 4 * m->cfg.num_layers + 2;
    c->deferred_off = malloc(2 * (size_t)cap * sizeof(int64_t));
    if (!c->deferred_off) {
        cpu_model_free(m);
        return tsr_set_error(TSR_ERR_OOM, "CPU backend: out of memory");
    }
    c->deferred_n = c->deferred_off + cap;
    const tsr_layout* Lo = &m->layout;
    for (int t = 0; t < m->num_tensors; t++) {
        int64_t off = m->tensors[t].offset;
        int def = m->cfg.head == TSR_HEAD_MLM ? off == Lo->wte || off == Lo->mlm_w
                : m->cfg.head != TSR_HEAD_NONE ? off == Lo->pool_w || off == Lo->cls_w : 0;
        for (int l = 0; l < m->cfg.num_layers; l++) {
            const tsr_layer_offsets* o = &Lo->layers[l];
            def |= off == o->qkv_w || off == o->ao_w || off == o->ff1_w || off == o->ff2_w;
        }
        if (def && nd < cap) {
            c->deferred_off[nd] = off;
            c->deferred_n[nd++] = m->tensors[t].numel;
        }
    }
    c->n_deferred = nd;
    carver cv = {NULL, 0};
    layout_acts(m, &cv);
    size_t bytes = cv.off;
    c->arena = aligned_alloc(64, bytes);
    if (!c->L || !c->arena) {
        cpu_model_free(m);
        return tsr_set_error(TSR_ERR_OOM, "CPU backend: cannot allocate %.1f MB of activations for max_tokens=%d",
                             bytes / 1e6, m->cfg.max_tokens);
    }
    cv.base = c->arena;
    cv.off = 0;
    layout_acts(m, &cv);
    return TSR_OK;
}

static int cpu_available(void) { return TSR_OK; }

/* zeroes n floats, split over the threads (one core's store bandwidth is the limit otherwise) */
static void par_zero(float* p, int64_t n) {
#pragma omp parallel for schedule(static) if (n > (1 << 18))
    for (int64_t c0 = 0; c0 < n; c0 += 1 << 16) memset(p + c0, 0, (size_t)((n - c0 < (1 << 16) ? n - c0 : 1 << 16)) * sizeof(float));
}

/* the zeros tsr_zero_grad deferred, written now */
static void zeros_materialize(const tsr_model* m) {
    cpu_impl* c = IMPL(m);
    if (!c->lazy_zero) return;
    for (int i = 0; i < c->n_deferred; i++) par_zero(c->blocks[1] + c->deferred_off[i], c->deferred_n[i]);
    c->lazy_zero = 0;
}

/* deferred zeros and a pending clip scale, written now (before anything else touches the gradient block) */
static void grads_materialize(const tsr_model* m) {
    cpu_impl* c = IMPL(m);
    zeros_materialize(m);
    if (c->grad_scale == 1.0f) return;
    float* g = c->blocks[1];
    const float k = c->grad_scale;
    int64_t n = m->num_params;
#pragma omp parallel for simd if (n > 65536)
    for (int64_t i = 0; i < n; i++) g[i] *= k;
    c->grad_scale = 1.0f;
}

static int cpu_buffer_ptr(tsr_model* m, int which, float** out) {
    if (which == TSR_BUF_GRADS) {
        grads_materialize(m);
        IMPL(m)->grads_finite = 0; /* may be written through the pointer */
    }
    if (which == TSR_BUF_PARAMS) IMPL(m)->params_exposed = 1;
    *out = IMPL(m)->blocks[which];
    return TSR_OK;
}
static int cpu_buffer_read(const tsr_model* m, int which, int64_t off, int64_t n, float* dst) {
    if (which == TSR_BUF_GRADS) grads_materialize(m);
    memcpy(dst, IMPL(m)->blocks[which] + off, (size_t)n * sizeof(float));
    return TSR_OK;
}
static int cpu_buffer_write(tsr_model* m, int which, int64_t off, int64_t n, const float* src) {
    if (which == TSR_BUF_GRADS) {
        grads_materialize(m);
        IMPL(m)->grads_finite = 0;
    }
    memcpy(IMPL(m)->blocks[which] + off, src, (size_t)n * sizeof(float));
    if (which == TSR_BUF_PARAMS) IMPL(m)->have_fwd = IMPL(m)->packs_valid = 0; /* saved activations, packs are stale */
    return TSR_OK;
}
static int check_finite_impl(const tsr_model* m, int which, int64_t* first_bad) {
    if (which == TSR_BUF_GRADS) {
        if (IMPL(m)->grads_finite) {
            if (first_bad) *first_bad = -1;
            return TSR_OK;
        }
        grads_materialize(m);
    }
    const float* b = IMPL(m)->blocks[which];
    int64_t n = m->num_params, bad = -1;
    /* x·0 is 0 for finite x and NaN for NaN/Inf: a vectorizable screen per chunk, exact scan only on a hit */
    for (int64_t c0 = 0; c0 < n && bad < 0; c0 += 4096) {
        int64_t c1 = c0 + 4096 < n ? c0 + 4096 : n;
        float acc = 0;
#pragma omp simd reduction(+ : acc)
        for (int64_t i = c0; i < c1; i++) acc += b[i] * 0.0f;
        if (acc != 0.0f || acc != acc)
            for (int64_t i = c0; i < c1; i++)
                if (!isfinite(b[i])) {
                    bad = i;
                    break;
                }
    }
    if (first_bad) *first_bad = bad;
    if (bad < 0) return TSR_OK;
    const char* name = "?";
    for (int t = 0; t < m->num_tensors; t++)
        if (bad >= m->tensors[t].offset && bad < m->tensors[t].offset + m->tensors[t].numel) name = m->tensors[t].name;
    static const char* names[] = {"parameters", "gradients", "AdamW m", "AdamW v"};
    return tsr_set_error(TSR_ERR_NONFINITE, "non-finite value %g in the %s at element %lld (tensor %s)", (double)b[bad],
                         names[which], (long long)bad, name);
}

/* ---------------------------------------------------------------------------------------- */
/* Forward                                                                                  */
/* ---------------------------------------------------------------------------------------- */

/* dropout masks for R rows of `width`: row r of the mask is element range [tok·width, (tok+1)·width) of the
 * full [T, width] tensor, tok = rows[r] (or r), so a row subset draws exactly the full tensor's entries */
static void rows_dropout_mask(uint8_t* mask, int R, int width, const int32_t* rows, float p, uint64_t seed, uint64_t step,
                              uint32_t site) {
    if (!rows) {
        cpu_dropout_mask(mask, (int64_t)R * width, p, seed, step, site, 0);
        return;
    }
    for (int r = 0; r < R; r++)
        cpu_dropout_mask(mask + (size_t)r * width, width, p, seed, step, site, (uint64_t)rows[r] * (uint64_t)width);
}

/* index of w's bf16 packs, or -1 (fp32, no AVX512-BF16, or not packed) */
static int find_pack(const cpu_impl* c, const float* w) {
    if (!c->packs_valid) return -1;
    for (int i = 0; i < c->n_deferred; i++)
        if (c->packs[i].w == w) return i;
    return -1;
}

/* rows x cols of the product that weight tensor `off` enters: its shape, except BERT's query weight,
 * which starts the fused [3H, H] QKV matrix (key and value weights follow it in the block) */
static void weight_dims(const tsr_model* m, int64_t off, int* rows, int* cols) {
    *rows = *cols = 0;
    for (int j = 0; j < m->num_tensors; j++)
        if (m->tensors[j].offset == off) {
            *rows = m->tensors[j].shape[0];
            *cols = m->tensors[j].shape[1];
        }
    for (int l = 0; l < m->cfg.num_layers; l++)
        if (m->layout.layers[l].qkv_w == off) *rows = 3 * m->cfg.hidden_size;
}

/* (re)packs every linear weight for bf16 when needed; on allocation failure the products pack per call */
static void ensure_packs(tsr_model* m) {
    cpu_impl* c = IMPL(m);
    if (c->precision != TSR_GEMM_BF16 || !tsr_gemm_bf16_supported()) {
        c->packs_valid = 0;
        return;
    }
    if (c->packs_valid && !c->params_exposed) return;
    int n = c->n_deferred, rows, cols;
    if (!c->packs) { /* the weights are the tensors whose gradient zeros are deferred (see there) */
        size_t words = 0;
        for (int i = 0; i < n; i++) {
            weight_dims(m, c->deferred_off[i], &rows, &cols);
            words += (tsr_bf16_pack_words(cols, rows) + 15) / 16 * 16 + (tsr_bf16_pack_words(rows, cols) + 15) / 16 * 16;
        }
        c->packs = calloc((size_t)(n ? n : 1), sizeof *c->packs);
        c->pack_mem = aligned_alloc(64, words * 4 + 64);
        if (!c->packs || !c->pack_mem) {
            free(c->packs);
            free(c->pack_mem);
            c->packs = NULL;
            c->pack_mem = NULL;
            return;
        }
        uint32_t* at = c->pack_mem;
        for (int i = 0; i < n; i++) {
            weight_dims(m, c->deferred_off[i], &rows, &cols);
            c->packs[i].w = c->blocks[0] + c->deferred_off[i];
            c->packs[i].fwd.words = at;
            at += (tsr_bf16_pack_words(cols, rows) + 15) / 16 * 16;
            c->packs[i].bwd.words = at;
            at += (tsr_bf16_pack_words(rows, cols) + 15) / 16 * 16;
        }
    }
    for (int i = 0; i < n; i++) {
        weight_dims(m, c->deferred_off[i], &rows, &cols);
        /* forward: out = x·wᵀ, op(B)[k=in, j=out] = w[j, k]; backward data: dx = dy·w, op(B) = w [out, in] */
        tsr_bf16_pack_b_all(1, cols, rows, c->packs[i].w, cols, &c->packs[i].fwd);
        tsr_bf16_pack_b_all(0, rows, cols, c->packs[i].w, cols, &c->packs[i].bwd);
    }
    c->packs_valid = 1;
}

/* linear layers in the model's precision, timed under "mm fwd <what>" / "mm bwd-data|bwd-weight <what>" */
#define MM_FWD(what, out, inp, w, bias, N, C, OC)                                                         \
    do {                                                                                                \
        double t0_ = c->prof ? prof_now() : 0;                                                          \
        int k_ = find_pack(c, w);                                                                       \
        if (k_ >= 0) {                                                                                  \
            tsr_gemm_bf16_packed(0, N, OC, C, inp, C, &c->packs[k_].fwd, out, OC, 0.0f);                 \
            if (bias) cpu_bias_add(out, bias, N, OC);                                                   \
        } else {                                                                                        \
            cpu_matmul_fwd_prec(c->precision, out, inp, w, bias, N, C, OC);                              \
        }                                                                                               \
        if (c->prof) prof_add(c->prof, "mm fwd " what, t0_, N, OC, C);                                   \
    } while (0)
#define MM_BWD(what, dinp, dw, dbias, dout, inp, w, N, C, OC, beta)                                       \
    do {                                                                                                \
        double t0_ = c->prof ? prof_now() : 0;                                                          \
        int k_ = find_pack(c, w);                                                                       \
        if (k_ >= 0) tsr_gemm_bf16_packed(0, N, C, OC, dout, OC, &c->packs[k_].bwd, dinp, C, beta);      \
        else cpu_matmul_bwd_prec(c->precision, dinp, NULL, NULL, dout, inp, w, N, C, OC, beta, 1.0f);    \
        if (c->prof) prof_add(c->prof, "mm bwd-data " what, t0_, N, C, OC);                              \
        t0_ = c->prof ? prof_now() : 0;                                                                 \
        cpu_matmul_bwd_prec(c->precision, NULL, dw, dbias, dout, inp, w, N, C, OC, beta, c->lazy_zero ? 0.0f : 1.0f); \
        if (c->prof) prof_add(c->prof, "mm bwd-weight " what, t0_, OC, C, N);                            \
    } while (0)

#define P(off) (c->blocks[0] + (off))
#define G(off) (c->blocks[1] + (off))

/* MEAN pooling (tsr_config.pooling): row s of out[S, H] = the mean of sequence s's rows of x[T, H] */
static void pool_mean_fwd(float* out, double* acc, const float* x, const int32_t* cu, int S, int H) {
#pragma omp parallel for if ((int64_t)cu[S] * H > 65536)
    for (int s = 0; s < S; s++) cpu_mean_rows_fwd(out + (size_t)s * H, x, cu[s], cu[s + 1], H, acc + (size_t)s * H);
}

/* its backward: every token of sequence s gets dout[s] / L_s added (sequences own disjoint rows: no races) */
static void pool_mean_bwd(float* dx, const float* dout, const int32_t* cu, int S, int H) {
#pragma omp parallel for if ((int64_t)cu[S] * H > 65536)
    for (int s = 0; s < S; s++) cpu_mean_rows_bwd(dx, dout + (size_t)s * H, cu[s], cu[s + 1], H);
}

static int cpu_forward_impl(tsr_model* m, const tsr_batch* b, float* loss_out, float* logits_out, uint64_t seed,
                            uint64_t step, int training) {
    cpu_impl* c = IMPL(m);
    const tsr_config* g = &m->cfg;
    const tsr_layout* Lo = &m->layout;
    const int T = b->num_tokens, S = b->num_seqs, H = g->hidden_size, I = g->intermediate_size;
    const int NH = g->num_heads, D = H / NH;
    const int mosaic = g->variant == TSR_VARIANT_MOSAIC_BERT;
    const float eps = g->layer_norm_eps;
    const float ph = training ? g->hidden_dropout : 0.0f, pa = training ? g->attention_dropout : 0.0f;
    int st;
    c->have_fwd = 0;
    PROF(c, "bf16 weight packing", ensure_packs(m));
    c->T = T;
    c->S = S;
    c->max_seqlen = b->max_seqlen;
    c->seed = seed;
    c->step = step;
    c->p_hidden = ph;
    c->p_attn = pa;
    memcpy(c->ids, b->input_ids, (size_t)T * 4);
    if (b->token_type_ids) memcpy(c->types, b->token_type_ids, (size_t)T * 4);
    else memset(c->types, 0, (size_t)T * 4);
    memcpy(c->cu, b->cu_seqlens, (size_t)(S + 1) * 4);
    for (int s = 0; s < S; s++)
        for (int t = c->cu[s]; t < c->cu[s + 1]; t++) c->pos[t] = t - c->cu[s];

    /* embeddings -> LayerNorm -> dropout */
    PROF(c, "embeddings fwd", cpu_embed_fwd(c->emb, c->ids, c->types, c->pos, P(Lo->wte), P(Lo->wtt), mosaic ? NULL : P(Lo->wpe), T, H));
    PROF(c, "layernorm fwd", cpu_layernorm_fwd(c->x0, c->emb_mean, c->emb_rstd, c->emb, P(Lo->emb_ln_w), P(Lo->emb_ln_b), T, H, eps));
    if (ph > 0) {
        PROF(c, "dropout fwd", cpu_dropout_mask(c->emb_mask, (int64_t)T * H, ph, seed, step, TSR_DROPOUT_SITE(-1, TSR_DROP_EMBEDDINGS), 0));
        PROF(c, "dropout fwd", cpu_dropout_apply(c->x0, c->x0, c->emb_mask, (int64_t)T * H, ph));
    }

    /* MLM: the head runs only on labelled tokens (all tokens when there are no labels); as in the
     * MosaicBERT reference, the last layer then also runs only for those tokens (their outputs are
     * all the head reads; keys and values still come from every token) */
    c->n_tgt = 0;
    c->subset = 0;
    if (g->head == TSR_HEAD_MLM) {
        int n = 0;
        for (int t = 0; t < T; t++) {
            int lbl = b->mlm_labels ? b->mlm_labels[t] : 0;
            if (!b->mlm_labels || lbl >= 0) {
                c->tgt_idx[n] = t;
                c->tgt_lbl[n] = b->mlm_labels ? lbl : -1;
                n++;
            }
        }
        c->n_tgt = n;
        c->subset = g->num_layers > 0 && n > 0 && n < T;
        if (c->subset) {
            int r = 0;
            for (int s = 0; s <= S; s++) {
                while (r < n && c->tgt_idx[r] < c->cu[s]) r++;
                c->row_cu[s] = r;
            }
        }
    }

    const float* x = c->x0;
    for (int l = 0; l < g->num_layers; l++) {
        const tsr_layer_offsets* o = &Lo->layers[l];
        layer_acts* a = &c->L[l];
        /* R output rows: all T tokens, or the MLM targets in the last layer */
        const int32_t* rows = c->subset && l == g->num_layers - 1 ? c->tgt_idx : NULL;
        const int R = rows ? c->n_tgt : T;
        MM_FWD("qkv", a->qkv, x, P(o->qkv_w), P(o->qkv_b), T, H, 3 * H);
        const float* slopes = mosaic ? m->alibi_slopes : NULL;
        uint32_t site = TSR_DROPOUT_SITE(l, TSR_DROP_ATTN_PROBS);
        double ta_ = c->prof ? prof_now() : 0;
        st = rows ? cpu_attention_rows_fwd(a->att, a->lse, a->qkv, c->cu, S, b->max_seqlen, NH, D, rows, c->row_cu, R,
                                           slopes, pa, seed, step, site)
                  : cpu_attention_fwd(a->att, a->lse, a->qkv, c->cu, S, b->max_seqlen, NH, D, slopes, pa, seed, step, site);
        if (c->prof) prof_add(c->prof, "attention fwd", ta_, 0, 0, 0);
        if (st) return tsr_set_error(st, "CPU attention: out of memory (max_seqlen %d)", b->max_seqlen);
        /* r1 = x + dropout(att·Woᵀ + bo) */
        MM_FWD("attn-out", a->r1, a->att, P(o->ao_w), P(o->ao_b), R, H, H);
        if (ph > 0) {
            PROF(c, "dropout fwd", rows_dropout_mask(a->mask_ao, R, H, rows, ph, seed, step, TSR_DROPOUT_SITE(l, TSR_DROP_ATTN_OUT)));
            PROF(c, "dropout fwd", cpu_dropout_apply(a->r1, a->r1, a->mask_ao, (int64_t)R * H, ph));
        }
#pragma omp parallel for if ((int64_t)R * H > 16384)
        for (int r = 0; r < R; r++) {
            const float* xr = x + (size_t)(rows ? rows[r] : r) * H;
            float* o1 = a->r1 + (size_t)r * H;
            for (int k = 0; k < H; k++) o1[k] += xr[k];
        }
        PROF(c, "layernorm fwd", cpu_layernorm_fwd(a->h, a->mean1, a->rstd1, a->r1, P(o->ln1_w), P(o->ln1_b), R, H, eps));
        if (mosaic) {
            /* r2 = h + wo(dropout(gelu(gate) ⊙ value)) */
            MM_FWD("ffn-in", a->ff1, a->h, P(o->ff1_w), NULL, R, H, 2 * I);
            PROF(c, "geglu fwd", cpu_geglu_fwd(a->a, a->ff1, R, I));
            if (ph > 0) {
                PROF(c, "dropout fwd", rows_dropout_mask(a->mask_ffn, R, I, rows, ph, seed, step, TSR_DROPOUT_SITE(l, TSR_DROP_FFN)));
                PROF(c, "dropout fwd", cpu_dropout_apply(a->a, a->a, a->mask_ffn, (int64_t)R * I, ph));
            }
            MM_FWD("ffn-out", a->r2, a->a, P(o->ff2_w), P(o->ff2_b), R, I, H);
        } else {
            /* r2 = h + dropout(W2·gelu(W1·h)) */
            MM_FWD("ffn-in", a->ff1, a->h, P(o->ff1_w), P(o->ff1_b), R, H, I);
            PROF(c, "gelu fwd", cpu_gelu_fwd(a->a, a->ff1, (int64_t)R * I));
            MM_FWD("ffn-out", a->r2, a->a, P(o->ff2_w), P(o->ff2_b), R, I, H);
            if (ph > 0) {
                rows_dropout_mask(a->mask_ffn, R, H, rows, ph, seed, step, TSR_DROPOUT_SITE(l, TSR_DROP_FFN));
                PROF(c, "dropout fwd", cpu_dropout_apply(a->r2, a->r2, a->mask_ffn, (int64_t)R * H, ph));
            }
        }
#pragma omp parallel for simd if ((int64_t)R * H > 16384)
        for (int64_t i = 0; i < (int64_t)R * H; i++) a->r2[i] += a->h[i];
        PROF(c, "layernorm fwd", cpu_layernorm_fwd(a->y, a->mean2, a->rstd2, a->r2, P(o->ln2_w), P(o->ln2_b), R, H, eps));
        x = a->y;
    }

    double loss = 0;
    int has_labels = 0;
    if (g->head == TSR_HEAD_NONE) {
        if (logits_out) memcpy(logits_out, x, (size_t)T * H * sizeof(float));
    } else if (g->head == TSR_HEAD_MLM) {
        int n = c->n_tgt;
        has_labels = b->mlm_labels != NULL;
        if (n > 0) {
            /* subset: the last layer's rows already are the targets, in order */
            for (int i = 0; i < n; i++)
                memcpy(c->m_x + (size_t)i * H, x + (size_t)(c->subset ? i : c->tgt_idx[i]) * H, (size_t)H * sizeof(float));
            MM_FWD("mlm-transform", c->m_d, c->m_x, P(Lo->mlm_w), P(Lo->mlm_b), n, H, H);
            PROF(c, "gelu fwd", cpu_gelu_fwd(c->m_g, c->m_d, (int64_t)n * H));
            PROF(c, "layernorm fwd", cpu_layernorm_fwd(c->m_ln, c->m_mean, c->m_rstd, c->m_g, P(Lo->mlm_ln_w), P(Lo->mlm_ln_b), n, H, eps));
            MM_FWD("mlm-decoder", c->m_logits, c->m_ln, P(Lo->wte), P(Lo->mlm_dec_b), n, H, g->vocab_size);
            if (logits_out) memcpy(logits_out, c->m_logits, (size_t)n * g->vocab_size * sizeof(float));
            if (has_labels) {
                if (training) /* logits become exp(x - max) and 1/Σ: backward normalises and scales in one pass */
                    PROF(c, "softmax-ce fwd", cpu_softmax_ce_exp_inplace(c->loss_rows, c->m_logits, c->m_inv, c->tgt_lbl, n, g->vocab_size));
                else
                    cpu_softmax_ce(c->loss_rows, NULL, c->m_logits, c->tgt_lbl, n, g->vocab_size, 0.0f);
                for (int i = 0; i < n; i++) loss += c->loss_rows[i];
                loss /= n;
            }
        }
    } else {
        const int NL = g->num_labels;
        if (g->pooling == TSR_POOLING_MEAN) pool_mean_fwd(c->c_in, c->c_acc, x, c->cu, S, H);
        else
            for (int s = 0; s < S; s++) memcpy(c->c_in + (size_t)s * H, x + (size_t)c->cu[s] * H, (size_t)H * sizeof(float));
        MM_FWD("pooler", c->c_d, c->c_in, P(Lo->pool_w), P(Lo->pool_b), S, H, H);
        cpu_tanh_fwd(c->c_t, c->c_d, (int64_t)S * H);
        memcpy(c->c_drop, c->c_t, (size_t)S * H * sizeof(float));
        if (ph > 0) {
            cpu_dropout_mask(c->c_mask, (int64_t)S * H, ph, seed, step, TSR_DROPOUT_SITE(g->num_layers, TSR_DROP_CLASSIFIER), 0);
            cpu_dropout_apply(c->c_drop, c->c_drop, c->c_mask, (int64_t)S * H, ph);
        }
        MM_FWD("classifier", c->c_logits, c->c_drop, P(Lo->cls_w), P(Lo->cls_b), S, H, NL);
        if (logits_out) memcpy(logits_out, c->c_logits, (size_t)S * NL * sizeof(float));
        if (g->head == TSR_HEAD_CLASSIFICATION && (b->class_labels || b->soft_targets)) {
            has_labels = 1;
            if (b->class_labels) memcpy(c->cls_labels, b->class_labels, (size_t)S * 4);
            else
                for (int s = 0; s < S; s++) c->cls_labels[s] = -1; /* soft targets only: no row has a hard label */
            c->distill = b->soft_targets != NULL;
            if (c->distill) {
                memcpy(c->soft, b->soft_targets, (size_t)S * NL * sizeof(float));
                c->d_alpha = b->distill_alpha;
                c->d_temp = b->distill_temperature;
                cpu_distill_ce(c->loss_rows, NULL, c->c_logits, c->cls_labels, c->soft, S, NL, c->d_alpha, c->d_temp, 0.0f);
            } else {
                cpu_softmax_ce(c->loss_rows, NULL, c->c_logits, c->cls_labels, S, NL, 0.0f);
            }
            for (int s = 0; s < S; s++) loss += c->loss_rows[s];
            loss /= S; /* every row weighs 1/S, with a hard label or not (tessera.h) */
        } else if (g->head == TSR_HEAD_REGRESSION && b->targets) {
            has_labels = 1;
            memcpy(c->targets, b->targets, (size_t)S * sizeof(float));
            for (int s = 0; s < S; s++) {
                double d = (double)c->c_logits[s] - c->targets[s];
                loss += d * d;
            }
            loss /= S;
        }
    }
    *loss_out = (float)loss;
    c->have_fwd = training && has_labels;
    return TSR_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Backward                                                                                 */
/* ---------------------------------------------------------------------------------------- */

static void dropout_bwd_inplace_(float* d, const uint8_t* mask, int64_t n, float p) {
    if (p > 0) cpu_dropout_apply(d, d, mask, n, p);
}
#define dropout_bwd_inplace(d, mask, n, p) PROF(c, "dropout bwd", dropout_bwd_inplace_(d, mask, n, p))

static int cpu_backward_impl(tsr_model* m, float loss_scale) {
    cpu_impl* c = IMPL(m);
    if (!c->have_fwd)
        return tsr_set_error(TSR_ERR_STATE, "tsr_backward: needs a preceding tsr_forward with training=1 and labels "
                                            "(and no parameter write in between)");
    const tsr_config* g = &m->cfg;
    const tsr_layout* Lo = &m->layout;
    const int T = c->T, S = c->S, H = g->hidden_size, I = g->intermediate_size, NH = g->num_heads, D = H / NH;
    const int mosaic = g->variant == TSR_VARIANT_MOSAIC_BERT;
    const float ph = c->p_hidden;
    const size_t TH = (size_t)T * H;
    float* dY = c->dY;
    int st;

    /* deferred zeros (tsr_zero_grad): every MM_BWD below overwrites its weight gradient; without MLM
     * targets the head's are not written at all */
    if (g->head == TSR_HEAD_MLM && c->n_tgt == 0) grads_materialize(m);
    if (c->grad_scale != 1.0f) grads_materialize(m); /* the pending clip scale applies to what is there now */
    c->grads_finite = 0;

    /* ---- head: produce dY = dLoss/d(final hidden states) ---- */
    memset(dY, 0, TH * sizeof(float));
    if (g->head == TSR_HEAD_MLM) {
        int n = c->n_tgt, V = g->vocab_size;
        if (n > 0) {
            float* dl = c->m_logits; /* exp(x - max) rows (training forward) -> dlogits in place */
            PROF(c, "softmax-ce bwd", cpu_ce_grad_from_exp(dl, c->m_inv, c->tgt_lbl, n, V, loss_scale / n));
            /* decoder tied to wte: logits = ln · wteᵀ + b */
            MM_BWD("mlm-decoder", c->dM1, G(Lo->wte), G(Lo->mlm_dec_b), dl, c->m_ln, P(Lo->wte), n, H, V, 0.0f);
            memset(c->dM2, 0, (size_t)n * H * sizeof(float));
            cpu_layernorm_bwd(c->dM2, G(Lo->mlm_ln_w), G(Lo->mlm_ln_b), c->dM1, c->m_g, P(Lo->mlm_ln_w), c->m_mean,
                              c->m_rstd, n, H);
            memset(c->dM1, 0, (size_t)n * H * sizeof(float));
            cpu_gelu_bwd(c->dM1, c->m_d, c->dM2, (int64_t)n * H);
            MM_BWD("mlm-transform", c->dM2, G(Lo->mlm_w), G(Lo->mlm_b), c->dM1, c->m_x, P(Lo->mlm_w), n, H, H, 0.0f);
            for (int i = 0; i < n; i++) { /* subset: dY has one row per target */
                float* d = dY + (size_t)(c->subset ? i : c->tgt_idx[i]) * H;
                const float* s = c->dM2 + (size_t)i * H;
                for (int k = 0; k < H; k++) d[k] += s[k];
            }
        }
    } else if (g->head != TSR_HEAD_NONE) {
        const int NL = g->num_labels;
        float* dl = c->dC2;
        if (g->head == TSR_HEAD_CLASSIFICATION) {
            memset(dl, 0, (size_t)S * NL * sizeof(float));
            if (c->distill)
                cpu_distill_ce(c->loss_rows, dl, c->c_logits, c->cls_labels, c->soft, S, NL, c->d_alpha, c->d_temp, loss_scale / S);
            else
                cpu_softmax_ce(c->loss_rows, dl, c->c_logits, c->cls_labels, S, NL, loss_scale / S);
        } else {
            for (int s = 0; s < S; s++) dl[s] = 2.0f * (c->c_logits[s] - c->targets[s]) * loss_scale / S;
        }
        MM_BWD("classifier", c->dC1, G(Lo->cls_w), G(Lo->cls_b), dl, c->c_drop, P(Lo->cls_w), S, H, NL, 0.0f);
        dropout_bwd_inplace(c->dC1, c->c_mask, (int64_t)S * H, ph);
        for (int64_t i = 0; i < (int64_t)S * H; i++) c->dC1[i] *= 1.0f - c->c_t[i] * c->c_t[i];
        MM_BWD("pooler", c->dC2, G(Lo->pool_w), G(Lo->pool_b), c->dC1, c->c_in, P(Lo->pool_w), S, H, H, 0.0f);
        if (g->pooling == TSR_POOLING_MEAN) pool_mean_bwd(dY, c->dC2, c->cu, S, H);
        else
            for (int s = 0; s < S; s++) {
                float* d = dY + (size_t)c->cu[s] * H;
                for (int k = 0; k < H; k++) d[k] += c->dC2[(size_t)s * H + k];
            }
    }

    /* ---- encoder layers, last to first ---- */
    for (int l = g->num_layers - 1; l >= 0; l--) {
        const tsr_layer_offsets* o = &Lo->layers[l];
        layer_acts* a = &c->L[l];
        const float* x = l > 0 ? c->L[l - 1].y : c->x0;
        const int32_t* rows = c->subset && l == g->num_layers - 1 ? c->tgt_idx : NULL;
        const int R = rows ? c->n_tgt : T;
        const size_t RH = (size_t)R * H;
        /* y = LN2(r2); dR2 then also collects the FFN input's gradient (residual: dH = dR2 + FFN'), so it is dH */
        PROF(c, "layernorm bwd", cpu_layernorm_bwd_set(c->dR2, G(o->ln2_w), G(o->ln2_b), dY, a->r2, P(o->ln2_w), a->mean2, a->rstd2, R, H));
        float* dH = c->dR2;
        if (mosaic) {
            MM_BWD("ffn-out", c->dMID, G(o->ff2_w), G(o->ff2_b), c->dR2, a->a, P(o->ff2_w), R, I, H, 0.0f);
            dropout_bwd_inplace(c->dMID, a->mask_ffn, (int64_t)R * I, ph);
            PROF(c, "geglu bwd", cpu_geglu_bwd_set(c->dBIG, a->ff1, c->dMID, R, I));
            MM_BWD("ffn-in", dH, G(o->ff1_w), NULL, c->dBIG, a->h, P(o->ff1_w), R, H, 2 * I, 1.0f);
        } else {
            const float* dout = c->dR2;
            if (ph > 0) {
                PROF(c, "dropout bwd", cpu_dropout_apply(c->dAO, c->dR2, a->mask_ffn, (int64_t)RH, ph));
                dout = c->dAO;
            }
            MM_BWD("ffn-out", c->dMID, G(o->ff2_w), G(o->ff2_b), dout, a->a, P(o->ff2_w), R, I, H, 0.0f);
            memset(c->dBIG, 0, (size_t)R * I * sizeof(float));
            cpu_gelu_bwd(c->dBIG, a->ff1, c->dMID, (int64_t)R * I);
            MM_BWD("ffn-in", dH, G(o->ff1_w), G(o->ff1_b), c->dBIG, a->h, P(o->ff1_w), R, H, I, 1.0f);
        }
        /* h = LN1(r1) */
        PROF(c, "layernorm bwd", cpu_layernorm_bwd_set(c->dR1, G(o->ln1_w), G(o->ln1_b), dH, a->r1, P(o->ln1_w), a->mean1, a->rstd1, R, H));
        const float* dAO = c->dR1;
        if (ph > 0) {
            PROF(c, "dropout bwd", cpu_dropout_apply(c->dAO, c->dR1, a->mask_ao, (int64_t)RH, ph));
            dAO = c->dAO;
        }
        MM_BWD("attn-out", c->dATT, G(o->ao_w), G(o->ao_b), dAO, a->att, P(o->ao_w), R, H, H, 0.0f);
        if (rows) memset(c->dBIG, 0, (size_t)T * 3 * H * sizeof(float)); /* dQ only at the rows: zeros elsewhere */
        const float* slopes = mosaic ? m->alibi_slopes : NULL;
        uint32_t site = TSR_DROPOUT_SITE(l, TSR_DROP_ATTN_PROBS);
        double ta_ = c->prof ? prof_now() : 0;
        st = rows ? cpu_attention_rows_bwd(c->dBIG, c->dATT, a->qkv, a->att, a->lse, c->cu, S, c->max_seqlen, NH, D, rows,
                                           c->row_cu, R, slopes, c->p_attn, c->seed, c->step, site)
                  : cpu_attention_bwd_set(c->dBIG, c->dATT, a->qkv, a->att, a->lse, c->cu, S, c->max_seqlen, NH, D, slopes,
                                          c->p_attn, c->seed, c->step, site);
        if (c->prof) prof_add(c->prof, "attention bwd", ta_, 0, 0, 0);
        if (st) return tsr_set_error(st, "CPU attention backward: out of memory");
        /* residual into the layer input (only the target rows in a subset layer); the full layer's dR1 takes
         * the QKV input gradient in place and becomes the next dY (buffers rotate, no copy) */
        if (rows) {
            memset(c->dX, 0, TH * sizeof(float));
            for (int r = 0; r < R; r++) {
                float* d = c->dX + (size_t)rows[r] * H;
                const float* s1 = c->dR1 + (size_t)r * H;
                for (int k = 0; k < H; k++) d[k] += s1[k];
            }
            MM_BWD("qkv", c->dX, G(o->qkv_w), G(o->qkv_b), c->dBIG, x, P(o->qkv_w), T, H, 3 * H, 1.0f);
            float* t = dY;
            dY = c->dX;
            c->dX = t;
        } else {
            MM_BWD("qkv", c->dR1, G(o->qkv_w), G(o->qkv_b), c->dBIG, x, P(o->qkv_w), T, H, 3 * H, 1.0f);
            float* t = dY;
            dY = c->dR1;
            c->dR1 = t;
        }
    }
    /* ---- embeddings ---- */
    dropout_bwd_inplace(dY, c->emb_mask, (int64_t)TH, ph);
    PROF(c, "layernorm bwd", cpu_layernorm_bwd_set(c->dR1, G(Lo->emb_ln_w), G(Lo->emb_ln_b), dY, c->emb, P(Lo->emb_ln_w), c->emb_mean, c->emb_rstd, T, H));
    PROF(c, "embeddings bwd", cpu_embed_bwd(G(Lo->wte), G(Lo->wtt), mosaic ? NULL : G(Lo->wpe), c->dR1, c->ids, c->types, c->pos, T, H));
    c->dY = dY; /* c->dX already holds the other scratch buffer */
    c->have_fwd = 0;
    c->lazy_zero = 0; /* every deferred gradient has been written */
    return TSR_OK;
}

static int oom_check(int st, const char* what) {
    if (tsr_sgemm_take_failure() && st == TSR_OK)
        return tsr_set_error(TSR_ERR_OOM, "%s: out of memory for matmul workspace; results are invalid", what);
    return st;
}

static int cpu_forward(tsr_model* m, const tsr_batch* b, float* loss_out, float* logits_out, uint64_t seed, uint64_t step,
                       int training) {
    tsr_sgemm_take_failure();
    struct profile* p = IMPL(m)->prof;
    double t0 = p ? prof_now() : 0;
    int st = oom_check(cpu_forward_impl(m, b, loss_out, logits_out, seed, step, training), "tsr_forward");
    if (p) p->fwd_s += prof_now() - t0;
    if (st) IMPL(m)->have_fwd = 0;
    return st;
}

static int cpu_backward(tsr_model* m, float loss_scale) {
    tsr_sgemm_take_failure();
    struct profile* p = IMPL(m)->prof;
    double t0 = p ? prof_now() : 0;
    int st = oom_check(cpu_backward_impl(m, loss_scale), "tsr_backward");
    if (st != TSR_OK && st != TSR_ERR_STATE) IMPL(m)->lazy_zero = 0; /* failed part-way: the gradients are invalid */
    if (p) {
        p->bwd_s += prof_now() - t0;
        p->steps++;
    }
    return st;
}

/* ---------------------------------------------------------------------------------------- */
/* Optimizer and gradient utilities                                                         */
/* ---------------------------------------------------------------------------------------- */

/* zeroes every gradient except the deferred ones (their first backward matmul overwrites them) */
static void zero_grad_impl(tsr_model* m) {
    cpu_impl* c = IMPL(m);
    if (c->lazy_zero) return;
    int64_t at = 0; /* tensors are contiguous in block order; zero the gaps between deferred ones */
    for (int t = 0; t < m->num_tensors; t++) {
        int64_t off = m->tensors[t].offset, n = m->tensors[t].numel;
        int def = 0;
        for (int i = 0; i < c->n_deferred && !def; i++) def = c->deferred_off[i] == off;
        if (def) {
            if (off > at) par_zero(c->blocks[1] + at, off - at);
            at = off + n;
        }
    }
    if (m->num_params > at) par_zero(c->blocks[1] + at, m->num_params - at);
    c->lazy_zero = 1;
}

static int cpu_zero_grad(tsr_model* m) {
    cpu_impl* c = IMPL(m);
    c->grad_scale = 1.0f;
    PROF(c, "opt zero-grad", zero_grad_impl(m));
    c->grads_finite = 1;
    return TSR_OK;
}

static int grad_sumsq_impl(tsr_model* m, double* out) {
    zeros_materialize(m);
    const float* g = IMPL(m)->blocks[1];
    const float k = IMPL(m)->grad_scale; /* Σ (g·k)², k the pending clip scale, as if it were applied */
    int64_t n = m->num_params;
    double s = 0;
    /* float partial sums over chunks of 1024 (vectorized), combined in double */
#pragma omp parallel for reduction(+ : s) if (n > 65536)
    for (int64_t c0 = 0; c0 < n; c0 += 1024) {
        int64_t c1 = c0 + 1024 < n ? c0 + 1024 : n;
        float part = 0;
#pragma omp simd reduction(+ : part)
        for (int64_t i = c0; i < c1; i++) part += (g[i] * k) * (g[i] * k);
        s += part;
    }
    *out = s;
    IMPL(m)->grads_finite = isfinite(s); /* a finite sum of squares: every element is finite */
    return TSR_OK;
}

/* pending: applied by AdamW as it reads the gradients, or by grads_materialize before any other use */
static int scale_grads_impl(tsr_model* m, float k) {
    cpu_impl* c = IMPL(m);
    if (c->grad_scale != 1.0f) grads_materialize(m); /* one pending factor at a time: same rounding as eager */
    c->grad_scale = k;
    if (!(isfinite(k) && fabsf(k) <= 1.0f)) c->grads_finite = 0; /* could overflow */
    return TSR_OK;
}

/* the same, timed (TSR_PROFILE) */
static int cpu_check_finite(const tsr_model* m, int which, int64_t* first_bad) {
    int st;
    PROF(IMPL(m), "opt check-finite", st = check_finite_impl(m, which, first_bad));
    return st;
}
static int cpu_grad_sumsq(tsr_model* m, double* out) {
    int st;
    PROF(IMPL(m), "opt grad-norm", st = grad_sumsq_impl(m, out));
    return st;
}
static int cpu_scale_grads(tsr_model* m, float k) {
    int st;
    PROF(IMPL(m), "opt clip-scale", st = scale_grads_impl(m, k));
    return st;
}

/* AdamW under per-tensor learning-rate scales (tsr_set_lr_scales): one pass over each run of consecutive tensors
 * that share a scale (the tensors of one encoder layer do), so a model with L layers takes about L + 2 passes */
static void adamw_lr_scaled(tsr_model* m, float lr, float initial_lr, float b1, float b2, float eps, float wd, int64_t step) {
    cpu_impl* c = IMPL(m);
    const float* s = m->lr_scales;
    for (int t0 = 0, t1; t0 < m->num_tensors; t0 = t1) {
        for (t1 = t0 + 1; t1 < m->num_tensors && s[t1] == s[t0]; t1++) {}
        int64_t off = m->tensors[t0].offset, n = m->tensors[t1 - 1].offset + m->tensors[t1 - 1].numel - off;
        cpu_adamw_lr_scaled(c->blocks[0] + off, c->blocks[1] + off, c->grad_scale, c->blocks[2] + off, c->blocks[3] + off, n,
                            lr, initial_lr, s[t0], b1, b2, eps, wd, step);
    }
}

static int cpu_adamw_step(tsr_model* m, float lr, float initial_lr, float b1, float b2, float eps, float wd, int64_t step) {
    cpu_impl* c = IMPL(m);
    zeros_materialize(m);
    c->packs_valid = 0;
    if (m->lr_scales)
        PROF(c, "opt adamw", adamw_lr_scaled(m, lr, initial_lr, b1, b2, eps, wd, step));
    else
        PROF(c, "opt adamw", cpu_adamw_scaled(c->blocks[0], c->blocks[1], c->grad_scale, c->blocks[2], c->blocks[3],
                                              m->num_params, lr, initial_lr, b1, b2, eps, wd, step));
    c->have_fwd = 0;
    return TSR_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Per-op entry points                                                                      */
/* ---------------------------------------------------------------------------------------- */

static int op_matmul_fwd(float* out, const float* inp, const float* w, const float* bias, int N, int C, int OC) {
    tsr_sgemm_take_failure();
    cpu_matmul_fwd(out, inp, w, bias, N, C, OC);
    return oom_check(TSR_OK, "tsr_op_matmul_fwd");
}
static int op_matmul_bwd(float* dinp, float* dw, float* dbias, const float* dout, const float* inp, const float* w, int N,
                         int C, int OC) {
    tsr_sgemm_take_failure();
    cpu_matmul_bwd(dinp, dw, dbias, dout, inp, w, N, C, OC, 1.0f);
    return oom_check(TSR_OK, "tsr_op_matmul_bwd");
}
static int op_layernorm_fwd(float* out, float* mean, float* rstd, const float* inp, const float* w, const float* b, int N,
                            int C, float eps) {
    cpu_layernorm_fwd(out, mean, rstd, inp, w, b, N, C, eps);
    return TSR_OK;
}
static int op_layernorm_bwd(float* dinp, float* dw, float* db, const float* dout, const float* inp, const float* w,
                            const float* mean, const float* rstd, int N, int C) {
    cpu_layernorm_bwd(dinp, dw, db, dout, inp, w, mean, rstd, N, C);
    return TSR_OK;
}
static int op_gelu_fwd(float* out, const float* inp, int64_t n) {
    cpu_gelu_fwd(out, inp, n);
    return TSR_OK;
}
static int op_gelu_bwd(float* dinp, const float* inp, const float* dout, int64_t n) {
    cpu_gelu_bwd(dinp, inp, dout, n);
    return TSR_OK;
}
static int op_geglu_fwd(float* out, const float* inp, int N, int I) {
    cpu_geglu_fwd(out, inp, N, I);
    return TSR_OK;
}
static int op_geglu_bwd(float* dinp, const float* inp, const float* dout, int N, int I) {
    cpu_geglu_bwd(dinp, inp, dout, N, I);
    return TSR_OK;
}
static int op_attention_fwd(float* out, float* lse, const float* qkv, const int32_t* cu, int S, int max_seqlen, int NH,
                            int D, const float* slopes, float p, uint64_t seed, uint64_t step, uint32_t site) {
    int st = cpu_attention_fwd(out, lse, qkv, cu, S, max_seqlen, NH, D, slopes, p, seed, step, site);
    return st ? tsr_set_error(st, "attention: out of memory") : TSR_OK;
}
static int op_attention_bwd(float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse,
                            const int32_t* cu, int S, int max_seqlen, int NH, int D, const float* slopes, float p,
                            uint64_t seed, uint64_t step, uint32_t site) {
    int st = cpu_attention_bwd(dqkv, dout, qkv, out, lse, cu, S, max_seqlen, NH, D, slopes, p, seed, step, site);
    return st ? tsr_set_error(st, "attention: out of memory") : TSR_OK;
}
static int op_dropout(float* out, const float* inp, int64_t n, float p, uint64_t seed, uint64_t step, uint32_t site,
                      uint64_t off, int accumulate) {
    if (p <= 0) {
        for (int64_t i = 0; i < n; i++) out[i] = accumulate ? out[i] + inp[i] : inp[i];
        return TSR_OK;
    }
    uint8_t* mask = malloc((size_t)n);
    if (!mask) return tsr_set_error(TSR_ERR_OOM, "dropout: out of memory");
    cpu_dropout_mask(mask, n, p, seed, step, site, off);
    float k = 1.0f / (1.0f - p);
    for (int64_t i = 0; i < n; i++) {
        float v = mask[i] ? inp[i] * k : 0.0f;
        out[i] = accumulate ? out[i] + v : v;
    }
    free(mask);
    return TSR_OK;
}
static int op_dropout_fwd(float* out, const float* inp, int64_t n, float p, uint64_t seed, uint64_t step, uint32_t site,
                          uint64_t off) {
    return op_dropout(out, inp, n, p, seed, step, site, off, 0);
}
static int op_dropout_bwd(float* dinp, const float* dout, int64_t n, float p, uint64_t seed, uint64_t step,
                          uint32_t site, uint64_t off) {
    return op_dropout(dinp, dout, n, p, seed, step, site, off, 1);
}
static int op_softmax_ce(float* loss_rows, float* dlogits, const float* logits, const int32_t* targets, int N, int V,
                         float scale) {
    cpu_softmax_ce(loss_rows, dlogits, logits, targets, N, V, scale);
    return TSR_OK;
}
static int op_distill_ce(float* loss_rows, float* dlogits, const float* logits, const int32_t* targets, const float* soft,
                         int N, int V, float alpha, float temperature, float scale) {
    cpu_distill_ce(loss_rows, dlogits, logits, targets, soft, N, V, alpha, temperature, scale);
    return TSR_OK;
}
static int op_embed_fwd(float* out, const int32_t* ids, const int32_t* types, const int32_t* pos, const float* wte,
                        const float* wtt, const float* wpe, int T, int C) {
    cpu_embed_fwd(out, ids, types, pos, wte, wtt, wpe, T, C);
    return TSR_OK;
}
static int op_embed_bwd(float* dwte, float* dwtt, float* dwpe, const float* dout, const int32_t* ids,
                        const int32_t* types, const int32_t* pos, int T, int C) {
    cpu_embed_bwd(dwte, dwtt, dwpe, dout, ids, types, pos, T, C);
    return TSR_OK;
}
static int op_adamw(float* p, const float* g, float* mm, float* v, int64_t n, float lr, float initial_lr, float b1,
                    float b2, float eps, float wd, int64_t step) {
    cpu_adamw(p, g, mm, v, n, lr, initial_lr, b1, b2, eps, wd, step);
    return TSR_OK;
}

static int cpu_set_precision(tsr_model* m, int precision) {
    IMPL(m)->precision = precision == TSR_PRECISION_BF16 ? TSR_GEMM_BF16 : TSR_GEMM_FP32;
    IMPL(m)->packs_valid = 0;
    return TSR_OK;
}

static const tsr_backend_ops CPU_OPS = {
    .name = "cpu",
    .available = cpu_available,
    .model_init = cpu_model_init,
    .model_free = cpu_model_free,
    .buffer_ptr = cpu_buffer_ptr,
    .buffer_read = cpu_buffer_read,
    .buffer_write = cpu_buffer_write,
    .check_finite = cpu_check_finite,
    .forward = cpu_forward,
    .backward = cpu_backward,
    .zero_grad = cpu_zero_grad,
    .grad_sumsq = cpu_grad_sumsq,
    .scale_grads = cpu_scale_grads,
    .adamw = cpu_adamw_step,
    .matmul_fwd = op_matmul_fwd,
    .matmul_bwd = op_matmul_bwd,
    .layernorm_fwd = op_layernorm_fwd,
    .layernorm_bwd = op_layernorm_bwd,
    .gelu_fwd = op_gelu_fwd,
    .gelu_bwd = op_gelu_bwd,
    .geglu_fwd = op_geglu_fwd,
    .geglu_bwd = op_geglu_bwd,
    .attention_fwd = op_attention_fwd,
    .attention_bwd = op_attention_bwd,
    .dropout_fwd = op_dropout_fwd,
    .dropout_bwd = op_dropout_bwd,
    .softmax_ce = op_softmax_ce,
    .distill_ce = op_distill_ce,
    .embed_fwd = op_embed_fwd,
    .embed_bwd = op_embed_bwd,
    .adamw_raw = op_adamw,
    .set_precision = cpu_set_precision,
};

const tsr_backend_ops* tsr_cpu_backend(void) { return &CPU_OPS; }

int tsr_set_num_threads(int n) {
    if (n > 0) omp_set_num_threads(n);
    return TSR_OK;
}
int tsr_get_num_threads(void) { return omp_get_max_threads(); }
const char* tsr_cpu_isa(void) { return tsr_sgemm_isa(); }
int tsr_cpu_bf16(void) { return tsr_gemm_bf16_supported(); }
