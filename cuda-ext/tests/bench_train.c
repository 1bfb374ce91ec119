/*
 * Training-step throughput of the CPU backend (benchmark, not a test): MosaicBERT or BERT with
 * an MLM head, a batch of unpadded sequences whose lengths and tokens come from the same LCG as
 * bench/train_cpu_torch.py, so both sides train on the identical batch.
 * Step = zero_grad + forward + backward + clip(1.0) + AdamW. Prints one JSON line.
 *   bench_train [layers hidden heads intermediate seq batch steps threads variant(0 mosaic,1 bert)
 *                precision(0 fp32, 1 bf16) vocab(default 30528)]
 * TSR_PROFILE=1 adds the per-op profile of the steps (warm-up included) on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../include/tessera.h"

static uint64_t lcg_state;
static uint32_t lcg(void) {
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(lcg_state >> 33);
}
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char** argv) {
    int a[11] = {4, 256, 4, 1024, 128, 16, 10, 0, 0, 0, 30528};
    for (int i = 1; i < argc && i <= 11; i++) a[i - 1] = atoi(argv[i]);
    int layers = a[0], H = a[1], NH = a[2], I = a[3], seq = a[4], B = a[5], steps = a[6], threads = a[7], variant = a[8];
    int precision = a[9];
    const int V = a[10];
    if (threads > 0) tsr_set_num_threads(threads);
    /* batch: lengths uniform in [seq/4, seq], tokens uniform in [5, V), 30% of tokens labelled */
    lcg_state = 42;
    int* len = malloc(sizeof(int) * B);
    int T = 0;
    for (int s = 0; s < B; s++) {
        len[s] = seq / 4 + (int)(lcg() % (uint32_t)(seq - seq / 4 + 1));
        T += len[s];
    }
    int32_t* ids = malloc(sizeof(int32_t) * T);
    int32_t* types = calloc((size_t)T, sizeof(int32_t));
    int32_t* labels = malloc(sizeof(int32_t) * T);
    int32_t* cu = malloc(sizeof(int32_t) * (B + 1));
    cu[0] = 0;
    for (int s = 0; s < B; s++) cu[s + 1] = cu[s] + len[s];
    int n_masked = 0;
    for (int t = 0; t < T; t++) {
        ids[t] = 5 + (int)(lcg() % (uint32_t)(V - 5));
        int masked = lcg() % 1000 < 300;
        labels[t] = masked ? (int)(lcg() % (uint32_t)V) : -100;
        n_masked += masked;
    }
    tsr_config c = {variant, TSR_HEAD_MLM, V, H, layers, NH, I, 2, variant == 1 ? 512 : 0, 0, 1e-12f, 0.1f, 0.0f, T, B, 0};
    tsr_model* m;
    if (tsr_model_create(&c, TSR_BACKEND_CPU, &m)) {
        fprintf(stderr, "create: %s\n", tsr_last_error());
        return 1;
    }
    tsr_init_params(m, 1, 0.02f);
    if (tsr_set_precision(m, precision)) {
        fprintf(stderr, "precision: %s\n", tsr_last_error());
        return 1;
    }
    tsr_batch b = {T, B, 0, 0, ids, types, cu, labels, NULL, NULL};
    double t0 = 0, c0 = 0;
    float loss = 0, norm = 0;
    int warm = 2;
    double t_fwd = 0, t_bwd = 0, t_opt = 0;
    for (int s = 0; s < warm + steps; s++) {
        if (s == warm) { t0 = now(); c0 = cpu_now(); }
        double q0 = now();
        tsr_zero_grad(m);
        if (tsr_forward(m, &b, &loss, NULL, 7, (uint64_t)s, 1)) { fprintf(stderr, "forward: %s\n", tsr_last_error()); return 1; }
        double q1 = now();
        tsr_backward(m, 1.0f);
        double q2 = now();
        tsr_clip_grad_norm(m, 1.0f, &norm);
        tsr_adamw_step(m, 5e-4f, 5e-4f, 0.9f, 0.98f, 1e-6f, 1e-5f, s + 1);
        double q3 = now();
        if (s >= warm) { t_fwd += q1 - q0; t_bwd += q2 - q1; t_opt += q3 - q2; }
    }
    double dt = (now() - t0) / steps;
    double cpu_s = (cpu_now() - c0) / steps; /* CPU seconds of all threads per step: robust to other load */
    const char* prec = precision == TSR_PRECISION_BF16 ? (tsr_cpu_bf16() ? "bf16" : "bf16-fallback-fp32") : "fp32";
    printf("{\"impl\": \"tessera-cpu\", \"precision\": \"%s\", \"isa\": \"%s\", \"threads\": %d, \"tokens\": %d, \"padded_tokens\": %d, \"masked\": %d, "
           "\"params\": %lld, \"step_s\": %.4f, \"cpu_s\": %.4f, \"tokens_per_s\": %.1f, \"fwd_s\": %.4f, \"bwd_s\": %.4f, \"opt_s\": %.4f, \"loss\": %.4f}\n",
           prec, tsr_cpu_isa(), tsr_get_num_threads(), T, B * seq, n_masked, (long long)tsr_num_params(m), dt, cpu_s, T / dt,
           t_fwd / steps, t_bwd / steps, t_opt / steps, loss);
    tsr_model_destroy(m);
    return 0;
}
