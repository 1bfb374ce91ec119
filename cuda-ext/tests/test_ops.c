/*
 * Op-level tests of the CPU backend (the CUDA backend is checked against it by bench/gpu/gpu_check):
 *  - every op's backward against central finite differences of a scalar projection
 *    L = Σ w·out (w random, accumulated in double), on sampled input elements;
 *  - Philox4x32-10 known-answer vectors (Random123), ALiBi slopes of DESIGN.md §3;
 *  - matmul forward against a double-precision loop for all shapes the sgemm edge code touches;
 *  - bad input -> error codes, never a crash.
 * Tolerance of the gradient checks: |fd - analytic| <= 3e-3·max(1, max|analytic|). The ops run in
 * fp32: the projection L has rounding noise ~1e-7·Σ|w·out|, divided by 2h (h = 1e-2) that is ~1e-5..1e-4;
 * the central difference's truncation error is h²/6·f''' ~ 2e-5·f'''. 3e-3 leaves margin for both
 * while a wrong gradient term (a missing factor, a wrong index) is off by O(1).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../include/tessera.h"
#include "common/philox.h"

static int g_fail = 0, g_checks = 0;
static const int BE = TSR_BACKEND_CPU;
/* tolerance multiplier of every op check (1: the fp32 CPU backend these tests run on) */
static double g_tol = 1.0;

#define EXPECT(cond, ...) do { g_checks++; if (!(cond)) { g_fail++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)
#define OK(call) do { int st_ = (call); EXPECT(st_ == TSR_OK, "%s -> %s: %s", #call, tsr_status_name(st_), tsr_last_error()); } while (0)

static uint64_t rng_state = 0x12345678abcdefULL;
static double urand(void) { /* xorshift, (0,1) */
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return ((rng_state >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}
static float nrand(void) { return (float)(sqrt(-2 * log(urand())) * cos(6.283185307179586 * urand())); }
static float* randv(int64_t n, float scale) {
    float* v = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) v[i] = nrand() * scale;
    return v;
}
static float* zeros(int64_t n) { return calloc((size_t)n, sizeof(float)); }
static double* randw(int64_t n) {
    double* w = malloc((size_t)n * sizeof(double));
    for (int64_t i = 0; i < n; i++) w[i] = 2 * urand() - 1;
    return w;
}

/* ---- finite-difference harness ---------------------------------------------------------- */
typedef void (*fwd_fn)(void* ctx, float* out);
typedef struct { fwd_fn f; void* ctx; float* out; int64_t nout; const double* w; } projection;

static double project(const projection* p) {
    p->f(p->ctx, p->out);
    double s = 0;
    for (int64_t i = 0; i < p->nout; i++) s += p->w[i] * p->out[i];
    return s;
}

static void check_grad(const char* what, const projection* p, float* x, int64_t nx, const float* analytic, int samples) {
    double maxan = 0, maxerr = 0;
    for (int64_t i = 0; i < nx; i++) maxan = fmax(maxan, fabs(analytic[i]));
    double tol = g_tol * 3e-3 * fmax(1.0, maxan);
    int n = samples < nx ? samples : (int)nx;
    for (int s = 0; s < n; s++) {
        int64_t i = samples < nx ? (int64_t)(urand() * nx) : s;
        float x0 = x[i];
        float h = 1e-2f;
        x[i] = x0 + h;
        double lp = project(p);
        x[i] = x0 - h;
        double lm = project(p);
        x[i] = x0;
        double fd = (lp - lm) / (2.0 * h);
        double err = fabs(fd - analytic[i]);
        if (err > maxerr) maxerr = err;
        if (err > tol) {
            EXPECT(0, "%s: element %lld fd=%.6g analytic=%.6g (tol %.3g)", what, (long long)i, fd, analytic[i], tol);
            return;
        }
        g_checks++;
    }
    printf("  %-34s max|fd-an| = %.2e (max|grad| %.3g, tol %.2e)\n", what, maxerr, maxan, tol);
}

/* ---- matmul ----------------------------------------------------------------------------- */
typedef struct { float *inp, *w, *b; int N, C, OC; } mm_ctx;
static void mm_fwd(void* c, float* out) {
    mm_ctx* m = c;
    tsr_op_matmul_fwd(BE, out, m->inp, m->w, m->b, m->N, m->C, m->OC);
}

static void test_matmul(int N, int C, int OC) {
    mm_ctx m = {randv((int64_t)N * C, 1), randv((int64_t)OC * C, 0.5f), randv(OC, 1), N, C, OC};
    float* out = zeros((int64_t)N * OC);
    OK(tsr_op_matmul_fwd(BE, out, m.inp, m.w, m.b, N, C, OC));
    double maxe = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < OC; j++) {
            double s = m.b[j];
            for (int k = 0; k < C; k++) s += (double)m.inp[(size_t)i * C + k] * m.w[(size_t)j * C + k];
            maxe = fmax(maxe, fabs(s - out[(size_t)i * OC + j]) / (1 + fabs(s)));
        }
    EXPECT(maxe < g_tol * 1e-5, "matmul fwd %dx%dx%d: rel err %g", N, C, OC, maxe);
    double* w = randw((int64_t)N * OC);
    /* analytic gradients of L = Σ w·out: dout = w */
    float* dout = malloc((size_t)N * OC * sizeof(float));
    for (int64_t i = 0; i < (int64_t)N * OC; i++) dout[i] = (float)w[i];
    float *dinp = zeros((int64_t)N * C), *dw = zeros((int64_t)OC * C), *db = zeros(OC);
    OK(tsr_op_matmul_bwd(BE, dinp, dw, db, dout, m.inp, m.w, N, C, OC));
    projection p = {mm_fwd, &m, out, (int64_t)N * OC, w};
    char name[96];
    snprintf(name, sizeof name, "matmul %dx%dx%d dinp", N, C, OC);
    check_grad(name, &p, m.inp, (int64_t)N * C, dinp, 40);
    snprintf(name, sizeof name, "matmul %dx%dx%d dw", N, C, OC);
    check_grad(name, &p, m.w, (int64_t)OC * C, dw, 40);
    snprintf(name, sizeof name, "matmul %dx%dx%d dbias", N, C, OC);
    check_grad(name, &p, m.b, OC, db, 40);
    /* accumulation semantics: a second backward doubles the gradients */
    float* dw2 = malloc((size_t)OC * C * sizeof(float));
    memcpy(dw2, dw, (size_t)OC * C * sizeof(float));
    OK(tsr_op_matmul_bwd(BE, NULL, dw2, NULL, dout, m.inp, m.w, N, C, OC));
    double e = 0;
    for (int64_t i = 0; i < (int64_t)OC * C; i++) e = fmax(e, fabs(dw2[i] - 2 * dw[i]));
    EXPECT(e < g_tol * 1e-3, "matmul bwd must accumulate (+=), err %g", e);
    free(m.inp); free(m.w); free(m.b); free(out); free(w); free(dout); free(dinp); free(dw); free(db); free(dw2);
}

/* ---- layernorm -------------------------------------------------------------------------- */
typedef struct { float *inp, *w, *b, *mean, *rstd; int N, C; } ln_ctx;
static void ln_fwd(void* c, float* out) {
    ln_ctx* l = c;
    tsr_op_layernorm_fwd(BE, out, l->mean, l->rstd, l->inp, l->w, l->b, l->N, l->C, 1e-12f);
}
static void test_layernorm(int N, int C) {
    ln_ctx l = {randv((int64_t)N * C, 2), randv(C, 1), randv(C, 1), zeros(N), zeros(N), N, C};
    for (int i = 0; i < C; i++) l.w[i] += 1;
    float* out = zeros((int64_t)N * C);
    double* w = randw((int64_t)N * C);
    float* dout = malloc((size_t)N * C * sizeof(float));
    for (int64_t i = 0; i < (int64_t)N * C; i++) dout[i] = (float)w[i];
    ln_fwd(&l, out);
    float *dinp = zeros((int64_t)N * C), *dw = zeros(C), *db = zeros(C);
    OK(tsr_op_layernorm_bwd(BE, dinp, dw, db, dout, l.inp, l.w, l.mean, l.rstd, N, C));
    projection p = {ln_fwd, &l, out, (int64_t)N * C, w};
    check_grad("layernorm dinp", &p, l.inp, (int64_t)N * C, dinp, 60);
    check_grad("layernorm dw", &p, l.w, C, dw, 60);
    check_grad("layernorm db", &p, l.b, C, db, 60);
    /* forward against double */
    ln_fwd(&l, out);
    double maxe = 0;
    for (int r = 0; r < N; r++) {
        double mu = 0, var = 0;
        for (int c = 0; c < C; c++) mu += l.inp[(size_t)r * C + c];
        mu /= C;
        for (int c = 0; c < C; c++) var += pow(l.inp[(size_t)r * C + c] - mu, 2);
        var /= C;
        for (int c = 0; c < C; c++) {
            double y = (l.inp[(size_t)r * C + c] - mu) / sqrt(var + 1e-12) * l.w[c] + l.b[c];
            maxe = fmax(maxe, fabs(y - out[(size_t)r * C + c]));
        }
    }
    EXPECT(maxe < g_tol * 1e-5, "layernorm forward vs double: %g", maxe);
    free(l.inp); free(l.w); free(l.b); free(l.mean); free(l.rstd); free(out); free(w); free(dout); free(dinp); free(dw); free(db);
}

/* ---- gelu / geglu ----------------------------------------------------------------------- */
typedef struct { float* inp; int64_t n; int N, I; } act_ctx;
static void gelu_fwd(void* c, float* out) { act_ctx* a = c; tsr_op_gelu_fwd(BE, out, a->inp, a->n); }
static void geglu_fwd(void* c, float* out) { act_ctx* a = c; tsr_op_geglu_fwd(BE, out, a->inp, a->N, a->I); }

static void test_gelu(void) {
    int64_t n = 1003; /* not a multiple of 8: the scalar tail runs too */
    act_ctx a = {randv(n, 3), n, 0, 0};
    a.inp[0] = 0; a.inp[1] = -12; a.inp[2] = 12; a.inp[3] = -5.5f;
    float* out = zeros(n);
    OK(tsr_op_gelu_fwd(BE, out, a.inp, n));
    double maxe = 0;
    for (int64_t i = 0; i < n; i++) {
        double x = a.inp[i], y = 0.5 * x * (1 + erf(x / sqrt(2.0)));
        maxe = fmax(maxe, fabs(y - out[i]) / fmax(1e-3, fabs(y)));
    }
    /* relative error against exact-erf GELU in double (erfc fit: 1.2e-7; exp: ~1e-7) */
    EXPECT(maxe < g_tol * 2e-6, "gelu forward relative error vs erf (double) %g", maxe);
    printf("  gelu forward: max rel err vs double erf = %.2e\n", maxe);
    double* w = randw(n);
    float* dout = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) dout[i] = (float)w[i];
    float* dinp = zeros(n);
    OK(tsr_op_gelu_bwd(BE, dinp, a.inp, dout, n));
    projection p = {gelu_fwd, &a, out, n, w};
    check_grad("gelu dinp", &p, a.inp, n, dinp, 200);
    free(a.inp); free(out); free(w); free(dout); free(dinp);

    int N = 7, I = 37;
    act_ctx g = {randv((int64_t)N * 2 * I, 2), 0, N, I};
    out = zeros((int64_t)N * I);
    OK(tsr_op_geglu_fwd(BE, out, g.inp, N, I));
    maxe = 0;
    for (int r = 0; r < N; r++)
        for (int c = 0; c < I; c++) {
            double x = g.inp[(size_t)r * 2 * I + c], v = g.inp[(size_t)r * 2 * I + I + c];
            double y = 0.5 * x * (1 + erf(x / sqrt(2.0))) * v; /* gate = first half */
            maxe = fmax(maxe, fabs(y - out[(size_t)r * I + c]) / fmax(1e-3, fabs(y)));
        }
    EXPECT(maxe < g_tol * 2e-6, "geglu forward (gate = first half) rel err %g", maxe);
    w = randw((int64_t)N * I);
    dout = malloc((size_t)N * I * sizeof(float));
    for (int64_t i = 0; i < (int64_t)N * I; i++) dout[i] = (float)w[i];
    dinp = zeros((int64_t)N * 2 * I);
    OK(tsr_op_geglu_bwd(BE, dinp, g.inp, dout, N, I));
    projection q = {geglu_fwd, &g, out, (int64_t)N * I, w};
    check_grad("geglu dinp", &q, g.inp, (int64_t)N * 2 * I, dinp, 200);
    free(g.inp); free(out); free(w); free(dout); free(dinp);
}

/* ---- attention -------------------------------------------------------------------------- */
typedef struct { float *qkv, *lse, *slopes; int32_t* cu; int S, maxlen, NH, D; float p; } at_ctx;
static void at_fwd(void* c, float* out) {
    at_ctx* a = c;
    tsr_op_attention_fwd(BE, out, a->lse, a->qkv, a->cu, a->S, a->maxlen, a->NH, a->D, a->slopes, a->p, 42, 7, 3);
}

/* naive double reference of the forward (no dropout) */
static double attention_ref_err(const at_ctx* a, const float* out) {
    int HD = a->NH * a->D, ld = 3 * HD;
    double maxe = 0;
    for (int s = 0; s < a->S; s++)
        for (int h = 0; h < a->NH; h++) {
            int st = a->cu[s], L = a->cu[s + 1] - st;
            for (int i = 0; i < L; i++) {
                double sc[64], mx = -1e300, sum = 0;
                for (int j = 0; j < L; j++) {
                    double d = 0;
                    for (int k = 0; k < a->D; k++) d += (double)a->qkv[(size_t)(st + i) * ld + h * a->D + k] * a->qkv[(size_t)(st + j) * ld + HD + h * a->D + k];
                    sc[j] = d / sqrt(a->D) - (a->slopes ? a->slopes[h] : 0) * abs(i - j);
                    mx = fmax(mx, sc[j]);
                }
                for (int j = 0; j < L; j++) sum += (sc[j] = exp(sc[j] - mx));
                for (int k = 0; k < a->D; k++) {
                    double o = 0;
                    for (int j = 0; j < L; j++) o += sc[j] / sum * a->qkv[(size_t)(st + j) * ld + 2 * HD + h * a->D + k];
                    maxe = fmax(maxe, fabs(o - out[(size_t)(st + i) * HD + h * a->D + k]));
                }
            }
        }
    return maxe;
}

static void test_attention(float p, int alibi) {
    int32_t cu[] = {0, 1, 10, 27, 50}; /* lengths 1, 9, 17, 23 */
    int S = 4, T = 50, NH = 3, D = 8, HD = NH * D;
    float slopes[3];
    tsr_alibi_slopes(NH, slopes);
    at_ctx a = {randv((int64_t)T * 3 * HD, 1), zeros((int64_t)NH * T), alibi ? slopes : NULL, cu, S, 23, NH, D, p};
    float* out = zeros((int64_t)T * HD);
    at_fwd(&a, out);
    if (p == 0) {
        double e = attention_ref_err(&a, out);
        EXPECT(e < g_tol * 1e-5, "attention forward vs double reference: %g", e);
        printf("  attention forward (alibi=%d) max err vs double = %.2e\n", alibi, e);
    }
    double* w = randw((int64_t)T * HD);
    float* dout = malloc((size_t)T * HD * sizeof(float));
    for (int64_t i = 0; i < (int64_t)T * HD; i++) dout[i] = (float)w[i];
    float* dqkv = zeros((int64_t)T * 3 * HD);
    OK(tsr_op_attention_bwd(BE, dqkv, dout, a.qkv, out, a.lse, cu, S, 23, NH, D, a.slopes, p, 42, 7, 3));
    projection pr = {at_fwd, &a, out, (int64_t)T * HD, w};
    char name[64];
    snprintf(name, sizeof name, "attention dqkv (p=%.1f, alibi=%d)", p, alibi);
    check_grad(name, &pr, a.qkv, (int64_t)T * 3 * HD, dqkv, 300);
    free(a.qkv); free(a.lse); free(out); free(w); free(dout); free(dqkv);
}

/* ---- softmax cross-entropy ---------------------------------------------------------------- */
typedef struct { float* logits; int32_t* t; int N, V; } ce_ctx;
static void ce_fwd(void* c, float* out) { ce_ctx* e = c; tsr_op_softmax_ce(BE, out, NULL, e->logits, e->t, e->N, e->V, 1); }
static void test_ce(void) {
    int N = 9, V = 45;
    int32_t t[9] = {3, -100, 0, 44, 12, 7, -1, 30, 2};
    ce_ctx e = {randv((int64_t)N * V, 3), t, N, V};
    float* loss = zeros(N);
    float* dl = zeros((int64_t)N * V);
    double* w = randw(N);
    /* dL/dlogits for L = Σ w_r loss_r: run per row with grad_scale w_r */
    for (int r = 0; r < N; r++) OK(tsr_op_softmax_ce(BE, loss + r, dl + (size_t)r * V, e.logits + (size_t)r * V, t + r, 1, V, (float)w[r]));
    double maxe = 0;
    for (int r = 0; r < N; r++) {
        if (t[r] < 0) { EXPECT(loss[r] == 0, "ignored row has loss 0"); continue; }
        double mx = -1e300, s = 0;
        for (int j = 0; j < V; j++) mx = fmax(mx, e.logits[(size_t)r * V + j]);
        for (int j = 0; j < V; j++) s += exp(e.logits[(size_t)r * V + j] - mx);
        maxe = fmax(maxe, fabs(mx + log(s) - e.logits[(size_t)r * V + t[r]] - loss[r]));
    }
    EXPECT(maxe < g_tol * 1e-5, "cross-entropy forward vs double %g", maxe);
    projection p = {ce_fwd, &e, loss, N, w};
    check_grad("softmax-ce dlogits", &p, e.logits, (int64_t)N * V, dl, 200);
    int32_t bad = 45;
    EXPECT(tsr_op_softmax_ce(BE, loss, NULL, e.logits, &bad, 1, V, 1) == TSR_ERR_LABEL_RANGE, "target >= V -> LABEL_RANGE");
    free(e.logits); free(loss); free(dl); free(w);
}

/* ---- embeddings, dropout, adamw ----------------------------------------------------------- */
typedef struct { int32_t *ids, *types, *pos; float *wte, *wtt, *wpe; int T, C; } em_ctx;
static void em_fwd(void* c, float* out) { em_ctx* e = c; tsr_op_embed_fwd(BE, out, e->ids, e->types, e->pos, e->wte, e->wtt, e->wpe, e->T, e->C); }
static void test_embed(void) {
    int T = 12, C = 10, V = 6;
    int32_t ids[12] = {0, 5, 5, 2, 3, 5, 1, 0, 4, 4, 2, 5}, types[12] = {0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 0, 1}, pos[12] = {0, 1, 2, 3, 0, 1, 2, 0, 1, 2, 3, 4};
    em_ctx e = {ids, types, pos, randv((int64_t)V * C, 1), randv(2 * C, 1), randv(5 * C, 1), T, C};
    float* out = zeros((int64_t)T * C);
    double* w = randw((int64_t)T * C);
    float* dout = malloc((size_t)T * C * sizeof(float));
    for (int64_t i = 0; i < (int64_t)T * C; i++) dout[i] = (float)w[i];
    float *dwte = zeros((int64_t)V * C), *dwtt = zeros(2 * C), *dwpe = zeros(5 * C);
    OK(tsr_op_embed_bwd(BE, dwte, dwtt, dwpe, dout, ids, types, pos, T, C));
    projection p = {em_fwd, &e, out, (int64_t)T * C, w};
    check_grad("embedding dwte", &p, e.wte, (int64_t)V * C, dwte, 60);
    check_grad("embedding dwtt", &p, e.wtt, 2 * C, dwtt, 20);
    check_grad("embedding dwpe", &p, e.wpe, 5 * C, dwpe, 50);
    free(e.wte); free(e.wtt); free(e.wpe); free(out); free(w); free(dout); free(dwte); free(dwtt); free(dwpe);
}

static void test_dropout(void) {
    int64_t n = 100003;
    float* x = randv(n, 1);
    float* y = zeros(n);
    float p = 0.25f;
    OK(tsr_op_dropout_fwd(BE, y, x, n, p, 99, 5, 17, 0));
    int64_t kept = 0;
    for (int64_t i = 0; i < n; i++) {
        int keep = tsr_dropout_keep(99, 5, 17, (uint64_t)i, p);
        kept += keep;
        if (fabsf(y[i] - (keep ? x[i] / (1 - p) : 0)) > 1e-6f) { EXPECT(0, "dropout element %lld disagrees with philox.h", (long long)i); break; }
    }
    double rate = (double)kept / n;
    /* binomial std of the keep rate: sqrt(p(1-p)/n) = 1.4e-3 */
    EXPECT(fabs(rate - 0.75) < 6e-3, "dropout keep rate %g not ~0.75", rate);
    printf("  dropout keep rate %.4f (p=0.25, n=%lld)\n", rate, (long long)n);
    /* index_offset: a slice gets the same mask as the whole */
    float* y2 = zeros(1000);
    OK(tsr_op_dropout_fwd(BE, y2, x + 501, 1000, p, 99, 5, 17, 501));
    EXPECT(memcmp(y2, y + 501, 1000 * sizeof(float)) == 0, "dropout with index_offset reproduces the slice");
    /* backward: dinp += mask·dout/(1-p) */
    float* d = zeros(n);
    OK(tsr_op_dropout_bwd(BE, d, x, n, p, 99, 5, 17, 0));
    EXPECT(memcmp(d, y, (size_t)n * sizeof(float)) == 0, "dropout backward uses the forward mask");
    /* a different step draws a different mask */
    OK(tsr_op_dropout_fwd(BE, y2, x, 1000, p, 99, 6, 17, 0));
    EXPECT(memcmp(y2, y, 1000 * sizeof(float)) != 0, "another step, another mask");
    free(x); free(y); free(y2); free(d);
}

static void test_adamw(void) {
    /* one element, worked by hand in double with Composer's DecoupledAdamW formula */
    float p = 0.5f, g = 0.2f, m = 0.1f, v = 0.01f;
    double lr = 1e-3, lr0 = 2e-3, b1 = 0.9, b2 = 0.98, eps = 1e-6, wd = 1e-2;
    int step = 3;
    double pd = p * (1 - wd * lr / lr0), md = b1 * m + (1 - b1) * g, vd = b2 * v + (1 - b2) * g * g;
    pd -= lr / (1 - pow(b1, step)) * md / (sqrt(vd) / sqrt(1 - pow(b2, step)) + eps);
    OK(tsr_op_adamw(BE, &p, &g, &m, &v, 1, (float)lr, (float)lr0, (float)b1, (float)b2, (float)eps, (float)wd, step));
    EXPECT(fabs(p - pd) < 1e-7 && fabs(m - md) < 1e-8 && fabs(v - vd) < 1e-9, "adamw: p %.9g vs %.9g", p, pd);
}

/* ---- philox, alibi ------------------------------------------------------------------------ */
static void test_philox(void) {
    /* Random123 kat_vectors, philox4x32_10 */
    tsr_u32x4 a = tsr_philox4x32_10(0, 0, 0, 0, 0, 0);
    EXPECT(a.v[0] == 0x6627e8d5u && a.v[1] == 0xe169c58du && a.v[2] == 0xbc57ac4cu && a.v[3] == 0x9b00dbd8u,
           "philox KAT zero: %08x %08x %08x %08x", a.v[0], a.v[1], a.v[2], a.v[3]);
    tsr_u32x4 b = tsr_philox4x32_10(~0u, ~0u, ~0u, ~0u, ~0u, ~0u);
    EXPECT(b.v[0] == 0x408f276du && b.v[1] == 0x41c83b0eu && b.v[2] == 0xa20bc7c6u && b.v[3] == 0x6d5451fdu,
           "philox KAT ones: %08x %08x %08x %08x", b.v[0], b.v[1], b.v[2], b.v[3]);
    tsr_u32x4 c = tsr_philox4x32_10(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u);
    EXPECT(c.v[0] == 0xd16cfe09u && c.v[1] == 0x94fdcceBu && c.v[2] == 0x5001e420u && c.v[3] == 0x24126ea1u,
           "philox KAT pi: %08x %08x %08x %08x", c.v[0], c.v[1], c.v[2], c.v[3]);
}

static void test_alibi(void) {
    float s[12];
    OK(tsr_alibi_slopes(12, s));
    double want[12] = {1.0 / 2, 1.0 / 4, 1.0 / 8, 1.0 / 16, 1.0 / 32, 1.0 / 64, 1.0 / 128, 1.0 / 256,
                       pow(2, -0.5), pow(2, -1.5), pow(2, -2.5), pow(2, -3.5)};
    for (int i = 0; i < 12; i++) EXPECT(fabs(s[i] - want[i]) < 1e-7, "alibi 12 heads slope %d: %g vs %g", i, s[i], want[i]);
    OK(tsr_alibi_slopes(4, s));
    EXPECT(fabs(s[0] - 0.25) < 1e-7 && fabs(s[3] - 1.0 / 256) < 1e-9, "alibi 4 heads");
}

/* ---- bad input ---------------------------------------------------------------------------- */
static void test_bad_input(void) {
    tsr_config c = {TSR_VARIANT_MOSAIC_BERT, TSR_HEAD_MLM, 50, 16, 1, 2, 32, 2, 0, 0, 1e-12f, 0.1f, 0.0f, 20, 4, 0};
    tsr_model* m = NULL;
    OK(tsr_model_create(&c, TSR_BACKEND_CPU, &m));
    OK(tsr_init_params(m, 1, 0.02f));
    int32_t ids[21], cu[3] = {0, 10, 21}, lbl[21];
    for (int i = 0; i < 21; i++) { ids[i] = i % 50; lbl[i] = i % 3 == 0 ? i : -100; }
    tsr_batch b = {21, 2, 0, 0, ids, NULL, cu, lbl, NULL, NULL};
    float loss;
    int st = tsr_forward(m, &b, &loss, NULL, 1, 1, 1);
    EXPECT(st == TSR_ERR_BUDGET, "21 tokens over a budget of 20 -> BUDGET (got %s: %s)", tsr_status_name(st), tsr_last_error());
    printf("  over budget: %s: %s\n", tsr_status_name(st), tsr_last_error());
    b.num_tokens = 20; cu[2] = 20;
    OK(tsr_forward(m, &b, &loss, NULL, 1, 1, 1));
    ids[3] = 50;
    st = tsr_forward(m, &b, &loss, NULL, 1, 1, 1);
    EXPECT(st == TSR_ERR_TOKEN_RANGE, "token id == vocab -> TOKEN_RANGE (got %s)", tsr_status_name(st));
    printf("  token id out of range: %s: %s\n", tsr_status_name(st), tsr_last_error());
    ids[3] = -1;
    EXPECT(tsr_forward(m, &b, &loss, NULL, 1, 1, 1) == TSR_ERR_TOKEN_RANGE, "negative token id -> TOKEN_RANGE");
    ids[3] = 3;
    lbl[4] = 50;
    st = tsr_forward(m, &b, &loss, NULL, 1, 1, 1);
    EXPECT(st == TSR_ERR_LABEL_RANGE, "MLM label == vocab -> LABEL_RANGE (got %s)", tsr_status_name(st));
    printf("  label out of range: %s: %s\n", tsr_status_name(st), tsr_last_error());
    lbl[4] = -100;
    cu[1] = 25;
    EXPECT(tsr_forward(m, &b, &loss, NULL, 1, 1, 1) == TSR_ERR_INVALID_ARG, "non-monotonic cu_seqlens -> INVALID_ARG");
    cu[1] = 10;
    b.max_seqlen = 3;
    EXPECT(tsr_forward(m, &b, &loss, NULL, 1, 1, 1) == TSR_ERR_INVALID_ARG, "wrong max_seqlen -> INVALID_ARG");
    b.max_seqlen = 0;
    EXPECT(tsr_backward(m, 1) == TSR_ERR_STATE, "backward after a failed forward -> STATE");
    /* NaN in parameters: rejected on write, detected if planted directly */
    float nanv = NAN;
    st = tsr_buffer_write(m, TSR_BUF_PARAMS, 5, 1, &nanv);
    EXPECT(st == TSR_ERR_NONFINITE, "writing NaN params -> NONFINITE (got %s)", tsr_status_name(st));
    printf("  NaN parameter write: %s: %s\n", tsr_status_name(st), tsr_last_error());
    float* params;
    OK(tsr_buffer_ptr(m, TSR_BUF_PARAMS, &params));
    params[7] = INFINITY;
    int64_t bad = -2;
    EXPECT(tsr_check_finite(m, TSR_BUF_PARAMS, &bad) == TSR_ERR_NONFINITE && bad == 7, "check_finite finds element 7 (got %lld)", (long long)bad);
    st = tsr_forward(m, &b, &loss, NULL, 1, 1, 1);
    EXPECT(st == TSR_ERR_NONFINITE, "forward with Inf in the word embeddings -> NONFINITE (got %s)", tsr_status_name(st));
    params[7] = 0;
    OK(tsr_forward(m, &b, &loss, NULL, 1, 1, 1));
    OK(tsr_backward(m, 1));
    float* grads;
    OK(tsr_buffer_ptr(m, TSR_BUF_GRADS, &grads));
    grads[3] = NAN;
    float norm;
    EXPECT(tsr_clip_grad_norm(m, 1.0f, &norm) == TSR_ERR_NONFINITE, "clip with NaN grads -> NONFINITE");
    float before = params[10];
    EXPECT(tsr_adamw_step(m, 1e-3f, 1e-3f, 0.9f, 0.98f, 1e-6f, 1e-5f, 1) == TSR_ERR_NONFINITE && params[10] == before,
           "adamw with NaN grads -> NONFINITE, params untouched");
    EXPECT(tsr_adamw_step(m, 1e-3f, 1e-3f, 0.9f, 1.5f, 1e-6f, 1e-5f, 1) == TSR_ERR_INVALID_ARG, "beta2 >= 1 -> INVALID_ARG");
    EXPECT(tsr_buffer_read(m, TSR_BUF_PARAMS, tsr_num_params(m) - 1, 2, &nanv) == TSR_ERR_INVALID_ARG, "read past the block");
    EXPECT(tsr_tensor_index(m, "no.such.tensor", NULL) == TSR_ERR_INVALID_ARG, "unknown tensor name");
    tsr_model_destroy(m);
    /* configs */
    tsr_config bad_c = c;
    bad_c.num_heads = 3;
    EXPECT(tsr_model_create(&bad_c, TSR_BACKEND_CPU, &m) == TSR_ERR_INVALID_ARG && m == NULL, "hidden %% heads != 0");
    bad_c = c; bad_c.head = TSR_HEAD_CLASSIFICATION; bad_c.num_labels = 1;
    EXPECT(tsr_model_create(&bad_c, TSR_BACKEND_CPU, &m) == TSR_ERR_INVALID_ARG, "classification with 1 label");
    EXPECT(tsr_model_create(&c, 7, &m) == TSR_ERR_INVALID_ARG, "unknown backend");
    st = tsr_backend_available(TSR_BACKEND_CUDA);
    printf("  CUDA backend: %s%s%s\n", tsr_status_name(st), st ? ": " : "", st ? tsr_last_error() : "");
    EXPECT(st == TSR_OK || st == TSR_ERR_NO_BACKEND, "CUDA availability is OK or NO_BACKEND");
    EXPECT(tsr_op_matmul_fwd(TSR_BACKEND_CPU, NULL, NULL, NULL, NULL, 1, 1, 1) == TSR_ERR_INVALID_ARG, "NULL pointers");
    EXPECT(tsr_model_create(NULL, 0, NULL) == TSR_ERR_INVALID_ARG, "NULL config");
    tsr_model_destroy(NULL);
}

int main(int argc, char** argv) {
    (void)argc; (void)argv;
    printf("libtessera ops test, sgemm isa %s, %d threads\n", tsr_cpu_isa(), tsr_get_num_threads());
    /* fp32 finite-difference tolerances hold for the CPU backend only; the bf16 CUDA backend is
     * checked against the CPU backend, with bf16 bounds, by bench/gpu/gpu_check. */
    test_matmul(1, 1, 1);
    test_matmul(13, 29, 37);
    test_matmul(37, 70, 45);
    test_matmul(200, 300, 70); /* > one MC block, K > KC */
    test_layernorm(11, 37);
    test_gelu();
    test_attention(0.0f, 1);
    test_attention(0.0f, 0);
    test_attention(0.2f, 1);
    test_ce();
    test_embed();
    test_dropout();
    test_adamw();
    test_philox();
    test_alibi();
    test_bad_input();
    printf("%d checks, %d failures\n", g_checks, g_fail);
    return g_fail ? 1 : 0;
}
