/*
 * Per-tensor learning-rate scales (tsr_set_lr_scales) in tsr_adamw_step, against an independent scalar
 * reference: Composer's DecoupledAdamW written out below in double, one parameter group per tensor with
 * lr_group = s·lr and initial_lr_group = s·initial_lr, so the decay factor 1 - wd·lr/initial_lr does not
 * depend on s while the Adam step is s times larger.
 *
 * Tolerance: |native - reference| <= 1e-6·(|p·decay| + |update|) per parameter, and 1e-6 of the two
 * terms of each moment. The backend computes every element with ~6 rounded float32 operations
 * (2^-24 ≈ 6e-8 relative each), so its error stays below ~5e-7 of the larger term; 1e-6 leaves
 * margin. The mistakes this guards against are far larger: a scale on the wrong tensor changes the
 * update by |s_i - s_j| of itself (here >= 0.05 of it), a decay multiplied by the scale moves p by
 * wd·(lr/lr0)·(1-s)·|p| (here ~5e-3·|p|).
 *
 * Also: scales all 1 give bit for bit the unscaled update (fast path vs per-tensor passes), NULL
 * restores it, and bad scales (NaN, Inf, negative) are TSR_ERR_INVALID_ARG with the previous scales kept.
 * Runs on the CPU backend, and on the CUDA backend too when one is usable.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../include/tessera.h"

static int g_fail = 0, g_checks = 0;
#define EXPECT(cond, ...) do { g_checks++; if (!(cond)) { g_fail++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)
#define OK(call) do { int st_ = (call); EXPECT(st_ == TSR_OK, "%s -> %s: %s", #call, tsr_status_name(st_), tsr_last_error()); } while (0)

static uint64_t rng = 0x2545F4914F6CDD1DULL;
static double urand(void) { /* xorshift, [0, 1) */
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (rng >> 11) * (1.0 / 9007199254740992.0);
}

/* optimizer settings of every step below; lr/lr0 = 0.5 and wd = 1e-2 make the decay visible */
static const float LR = 2e-3f, LR0 = 4e-3f, B1 = 0.9f, B2 = 0.98f, EPS = 1e-6f, WD = 1e-2f;
static const int64_t STEP = 3;

/* the gradient of one training batch, from a CPU model (so every backend steps on the same numbers) */
static float* batch_gradient(const tsr_config* c) {
    tsr_model* m = NULL;
    OK(tsr_model_create(c, TSR_BACKEND_CPU, &m));
    if (!m) return NULL;
    int64_t P = tsr_num_params(m);
    OK(tsr_init_params(m, 7, 0.05f));
    int32_t ids[12], cu[3] = {0, 5, 12}, cls[2] = {1, 0}, mlm[12];
    for (int i = 0; i < 12; i++) {
        ids[i] = (i * 7 + 3) % c->vocab_size;
        mlm[i] = i % 3 == 1 ? (i * 5) % c->vocab_size : -100;
    }
    tsr_batch b = {12, 2, 0, 0, ids, NULL, cu, c->head == TSR_HEAD_MLM ? mlm : NULL,
                   c->head == TSR_HEAD_CLASSIFICATION ? cls : NULL, NULL};
    float loss, *g = malloc(P * sizeof(float));
    OK(tsr_zero_grad(m));
    OK(tsr_forward(m, &b, &loss, NULL, 5, 1, 1));
    OK(tsr_backward(m, 1.0f));
    OK(tsr_buffer_read(m, TSR_BUF_GRADS, 0, P, g));
    tsr_model_destroy(m);
    return g;
}

/* a model in a reproducible state: init params, random moments (as after earlier steps), gradient g0. On the
 * CPU the gradient is then clipped, and the clip factor stays pending until AdamW reads the gradients (the
 * path a training step takes); CUDA's reduction order is not fixed, so there the gradient stays as written. */
static tsr_model* prepared(const tsr_config* c, int backend, const float* g0, const float* m0, const float* v0) {
    tsr_model* m = NULL;
    if (tsr_model_create(c, backend, &m) != TSR_OK) return NULL;
    int64_t P = tsr_num_params(m);
    OK(tsr_init_params(m, 7, 0.05f));
    OK(tsr_buffer_write(m, TSR_BUF_ADAM_M, 0, P, m0));
    OK(tsr_buffer_write(m, TSR_BUF_ADAM_V, 0, P, v0));
    OK(tsr_buffer_write(m, TSR_BUF_GRADS, 0, P, g0));
    float norm;
    if (backend == TSR_BACKEND_CPU) {
        OK(tsr_clip_grad_norm(m, 0.5f, &norm));
        EXPECT(norm > 0.5f, "the clip is active (norm %g)", (double)norm);
    }
    return m;
}

typedef struct { float *p, *g, *m, *v; } blocks;
static blocks read_all(tsr_model* m, int64_t P, int with_grads) {
    blocks b = {malloc(P * sizeof(float)), with_grads ? malloc(P * sizeof(float)) : NULL, malloc(P * sizeof(float)),
                malloc(P * sizeof(float))};
    OK(tsr_buffer_read(m, TSR_BUF_PARAMS, 0, P, b.p));
    if (with_grads) OK(tsr_buffer_read(m, TSR_BUF_GRADS, 0, P, b.g));
    OK(tsr_buffer_read(m, TSR_BUF_ADAM_M, 0, P, b.m));
    OK(tsr_buffer_read(m, TSR_BUF_ADAM_V, 0, P, b.v));
    return b;
}
static void free_blocks(blocks b) { free(b.p); free(b.g); free(b.m); free(b.v); }

/* the reference: one step of DecoupledAdamW for one element, in double, for a group with learning rate s·LR and
 * initial learning rate s·LR0. For s = 0 (initial_lr 0) Composer would use the factor 1 - wd; tessera.h keeps the
 * schedule ratio LR/LR0 for every scale, so a tensor at scale 0 decays like the others. */
static void reference(double p, double g, double m, double v, double s, double* po, double* mo, double* vo, double* scale_p) {
    double lr_group = s * LR, lr0_group = s * LR0;
    double decay = 1.0 - WD * (s > 0 ? lr_group / lr0_group : (double)LR / LR0);
    *mo = B1 * m + (1.0 - B1) * g;
    *vo = B2 * v + (1.0 - B2) * g * g;
    double bc1 = 1.0 - pow(B1, (double)STEP), bc2 = 1.0 - pow(B2, (double)STEP);
    double upd = (lr_group / bc1) * *mo / (sqrt(*vo) / sqrt(bc2) + EPS);
    *po = p * decay - upd;
    *scale_p = fabs(p * decay) + fabs(upd);
}

static void check_against_reference(const char* name, const tsr_config* c, int backend, const float* g0, const float* m0,
                                    const float* v0) {
    tsr_model* a = prepared(c, backend, g0, m0, v0);
    tsr_model* twin = prepared(c, backend, g0, m0, v0);
    EXPECT(a && twin, "%s: model create: %s", name, tsr_last_error());
    if (!a || !twin) return;
    const int64_t P = tsr_num_params(a);
    const int nt = tsr_num_tensors(a);
    /* the state before the step; the gradients from the twin, so that `a` steps on its pending clip factor */
    blocks before = read_all(a, P, 0);
    blocks tw = read_all(twin, P, 1);
    EXPECT(memcmp(before.p, tw.p, P * sizeof(float)) == 0, "%s: twin models start equal", name);
    /* a different scale per tensor (runs of equal ones too: tensors 2k and 2k+1 share one), one of them 0 */
    float* s = malloc(nt * sizeof(float));
    for (int t = 0; t < nt; t++) s[t] = t % 2 ? s[t - 1] : (float)(0.05 + 1.2 * urand());
    s[nt / 2 | 1] = 0.0f;
    s[nt - 1] = 1.0f;
    /* invalid scales are refused and leave the previous ones (none) in place */
    float* bad = malloc(nt * sizeof(float));
    const float bads[3] = {NAN, INFINITY, -1e-3f};
    for (int k = 0; k < 3; k++) {
        memcpy(bad, s, nt * sizeof(float));
        bad[nt - 2] = bads[k];
        int st = tsr_set_lr_scales(a, bad);
        EXPECT(st == TSR_ERR_INVALID_ARG, "%s: scale %g -> INVALID_ARG (got %s)", name, (double)bads[k], tsr_status_name(st));
        if (k == 2) printf("  %s: bad scale: %s: %s\n", name, tsr_status_name(st), tsr_last_error());
    }
    EXPECT(tsr_set_lr_scales(NULL, s) == TSR_ERR_INVALID_ARG, "NULL model -> INVALID_ARG");
    OK(tsr_set_lr_scales(a, s));
    /* a failed call after a good one keeps the good one */
    EXPECT(tsr_set_lr_scales(a, bad) == TSR_ERR_INVALID_ARG, "%s: bad scales after good ones", name);
    OK(tsr_adamw_step(a, LR, LR0, B1, B2, EPS, WD, STEP));
    blocks after = read_all(a, P, 0);
    double worst_p = 0, worst_mv = 0;
    int bad_count = 0;
    for (int t = 0; t < nt; t++) {
        const char* tn;
        int64_t off, numel;
        OK(tsr_tensor_info(a, t, &tn, &off, &numel, NULL, NULL));
        for (int64_t i = off; i < off + numel; i++) {
            double pr, mr, vr, sp;
            reference(before.p[i], tw.g[i], before.m[i], before.v[i], s[t], &pr, &mr, &vr, &sp);
            double ep = fabs(after.p[i] - pr) / fmax(sp, 1e-30);
            double em = fabs(after.m[i] - mr) / fmax(fabs(B1 * before.m[i]) + fabs((1.0 - B1) * tw.g[i]), 1e-30);
            double ev = fabs(after.v[i] - vr) / fmax(fabs(B2 * before.v[i]) + fabs((1.0 - B2) * tw.g[i] * tw.g[i]), 1e-30);
            worst_p = fmax(worst_p, ep);
            worst_mv = fmax(worst_mv, fmax(em, ev));
            if ((ep > 1e-6 || em > 1e-6 || ev > 1e-6) && bad_count++ < 5)
                EXPECT(0, "%s: %s[%lld] (scale %g): p %.9g vs %.9g, m %.9g vs %.9g, v %.9g vs %.9g", name, tn,
                       (long long)(i - off), (double)s[t], after.p[i], pr, after.m[i], mr, after.v[i], vr);
            else
                g_checks++;
        }
    }
    EXPECT(bad_count == 0, "%s: %d elements off the reference", name, bad_count);
    printf("  %s: %d tensors, %lld params, scales in [0, 1.25]: worst p error %.2e, m/v %.2e (of the terms; bound 1e-6)\n",
           name, nt, (long long)P, worst_p, worst_mv);
    free(s); free(bad);
    free_blocks(before); free_blocks(tw); free_blocks(after);
    tsr_model_destroy(a);
    tsr_model_destroy(twin);
}

/* scales all 1 = no scales, bit for bit; NULL after scales restores the unscaled update */
static void check_ones_exact(const char* name, const tsr_config* c, int backend, const float* g0, const float* m0,
                             const float* v0) {
    tsr_model* plain = prepared(c, backend, g0, m0, v0);
    tsr_model* ones = prepared(c, backend, g0, m0, v0);
    tsr_model* reset = prepared(c, backend, g0, m0, v0);
    EXPECT(plain && ones && reset, "%s: model create: %s", name, tsr_last_error());
    if (!plain || !ones || !reset) return;
    const int64_t P = tsr_num_params(plain);
    const int nt = tsr_num_tensors(plain);
    float* s = malloc(nt * sizeof(float));
    for (int t = 0; t < nt; t++) s[t] = 1.0f;
    OK(tsr_set_lr_scales(ones, s));
    for (int t = 0; t < nt; t++) s[t] = 0.5f;
    OK(tsr_set_lr_scales(reset, s));
    OK(tsr_set_lr_scales(reset, NULL));
    OK(tsr_adamw_step(plain, LR, LR0, B1, B2, EPS, WD, STEP));
    OK(tsr_adamw_step(ones, LR, LR0, B1, B2, EPS, WD, STEP));
    OK(tsr_adamw_step(reset, LR, LR0, B1, B2, EPS, WD, STEP));
    blocks x = read_all(plain, P, 0), y = read_all(ones, P, 0), z = read_all(reset, P, 0);
    EXPECT(memcmp(x.p, y.p, P * sizeof(float)) == 0 && memcmp(x.m, y.m, P * sizeof(float)) == 0 &&
           memcmp(x.v, y.v, P * sizeof(float)) == 0, "%s: scales all 1 differ from no scales", name);
    EXPECT(memcmp(x.p, z.p, P * sizeof(float)) == 0, "%s: scales removed with NULL differ from no scales", name);
    printf("  %s: scales all 1 == no scales (params, m, v bit for bit); NULL removes scales\n", name);
    free(s);
    free_blocks(x); free_blocks(y); free_blocks(z);
    tsr_model_destroy(plain); tsr_model_destroy(ones); tsr_model_destroy(reset);
}

static void run(const char* backend_name, int backend) {
    /* MosaicBERT classifier (the finetuning case) and classic BERT with the MLM head (tied decoder) */
    const tsr_config cfgs[2] = {
        {TSR_VARIANT_MOSAIC_BERT, TSR_HEAD_CLASSIFICATION, 64, 16, 2, 2, 24, 2, 0, 3, 1e-12f, 0.1f, 0.0f, 16, 4, 0},
        {TSR_VARIANT_BERT, TSR_HEAD_MLM, 64, 16, 2, 2, 24, 2, 32, 0, 1e-12f, 0.1f, 0.1f, 16, 4, 0},
    };
    const char* names[2] = {"mosaic_bert classification", "bert mlm"};
    for (int k = 0; k < 2; k++) {
        tsr_model* probe = NULL;
        OK(tsr_model_create(&cfgs[k], TSR_BACKEND_CPU, &probe));
        if (!probe) return;
        int64_t P = tsr_num_params(probe);
        tsr_model_destroy(probe);
        float* g0 = batch_gradient(&cfgs[k]);
        if (!g0) return;
        float *m0 = malloc(P * sizeof(float)), *v0 = malloc(P * sizeof(float));
        for (int64_t i = 0; i < P; i++) {
            m0[i] = (float)(1e-2 * (2 * urand() - 1));
            v0[i] = (float)(1e-4 * urand());
        }
        char name[96];
        snprintf(name, sizeof name, "%s, %s", backend_name, names[k]);
        check_against_reference(name, &cfgs[k], backend, g0, m0, v0);
        check_ones_exact(name, &cfgs[k], backend, g0, m0, v0);
        free(g0); free(m0); free(v0);
    }
}

int main(void) {
    printf("tsr_set_lr_scales / tsr_adamw_step against a scalar DecoupledAdamW reference\n");
    run("cpu", TSR_BACKEND_CPU);
    if (tsr_backend_available(TSR_BACKEND_CUDA) == TSR_OK) run("cuda", TSR_BACKEND_CUDA);
    else printf("  cuda: skipped (%s)\n", tsr_last_error());
    printf("%d checks, %d failures\n", g_checks, g_fail);
    return g_fail ? 1 : 0;
}
