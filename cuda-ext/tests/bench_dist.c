/*
 * Data-parallel benchmarks (not a test; bench/dist/run.sh drives it). One process per rank, ranks from
 * the environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) as in training.
 *   bench_dist train layers hidden heads inter seq batch micro steps threads
 *     the training loop's step: a global batch of `batch` unpadded sequences (lengths seq/4..seq, as
 *     bench_train) in `micro` microbatches; rank r runs microbatches i % world == r, then the gradient
 *     all-reduce, clip, AdamW. Rank 0 prints tokens/s of the whole job (global tokens / step time).
 *   bench_dist allreduce layers hidden heads inter vocab reps
 *     the gradient all-reduce alone for a MosaicBERT MLM model of that shape (bucketed, as in training):
 *     rank 0 prints the parameter count, median and best time, and the algorithm bandwidth (bytes/time).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../include/tessera.h"
#include "../include/tessera_dist.h"

static uint64_t lcg_state = 42;
static uint32_t lcg(void) {
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(lcg_state >> 33);
}
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static int cmp(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return x < y ? -1 : x > y;
}
#define CHECK(x) do { if ((x) != TSR_OK) { fprintf(stderr, "rank %d: %s: %s\n", tsr_dist_rank(), #x, tsr_last_error()); return 1; } } while (0)

static int train(int* a) {
    /* TSR_BENCH_BACKEND=cuda: the CUDA backend with NCCL (bench/gpu/run.sh's smoke, WORLD_SIZE=1 TSR_DIST_FORCE=1) */
    const char* be = getenv("TSR_BENCH_BACKEND");
    int backend = be && strcmp(be, "cuda") == 0 ? TSR_BACKEND_CUDA : TSR_BACKEND_CPU;
    int layers = a[0], H = a[1], NH = a[2], I = a[3], seq = a[4], B = a[5], micro = a[6], steps = a[7], threads = a[8];
    const int V = 30528;
    if (threads > 0) tsr_set_num_threads(threads);
    CHECK(tsr_dist_init(backend, "bench", 60000, 120000, NULL));
    int rank = tsr_dist_rank(), world = tsr_dist_world_size();
    /* microbatch k holds sequences k, k+micro, ... (same for every rank: the data order is shared) */
    int* len = malloc(sizeof(int) * B);
    long total_tokens = 0;
    for (int s = 0; s < B; s++) total_tokens += len[s] = seq / 4 + (int)(lcg() % (uint32_t)(seq - seq / 4 + 1));
    int max_t = 0, max_s = 0;
    tsr_batch* mb = calloc((size_t)micro, sizeof(tsr_batch));
    for (int k = 0; k < micro; k++) {
        int T = 0, S = 0;
        for (int s = k; s < B; s += micro) T += len[s], S++;
        int32_t* ids = malloc(sizeof(int32_t) * T);
        int32_t* types = calloc((size_t)T, sizeof(int32_t));
        int32_t* labels = malloc(sizeof(int32_t) * T);
        int32_t* cu = malloc(sizeof(int32_t) * (S + 1));
        cu[0] = 0;
        int j = 0;
        for (int s = k; s < B; s += micro, j++) cu[j + 1] = cu[j] + len[s];
        for (int t = 0; t < T; t++) {
            ids[t] = 5 + (int)(lcg() % (uint32_t)(V - 5));
            labels[t] = lcg() % 1000 < 300 ? (int)(lcg() % (uint32_t)V) : -100;
        }
        mb[k] = (tsr_batch){T, S, 0, 0, ids, types, cu, labels, NULL, NULL};
        if (T > max_t) max_t = T;
        if (S > max_s) max_s = S;
    }
    tsr_config c = {0, TSR_HEAD_MLM, V, H, layers, NH, I, 2, 0, 0, 1e-12f, 0.1f, 0.0f, max_t, max_s, 0};
    tsr_model* m;
    CHECK(tsr_model_create(&c, backend, &m));
    if (rank == 0) tsr_init_params(m, 1, 0.02f);
    CHECK(tsr_dist_broadcast(m, TSR_BUF_PARAMS));
    int warm = 2;
    double t0 = 0, t_ar = 0;
    float loss, norm;
    for (int s = 0; s < warm + steps; s++) {
        if (s == warm) {
            CHECK(tsr_dist_barrier(0));
            t0 = now();
        }
        tsr_zero_grad(m);
        for (int k = rank; k < micro; k += world) {
            CHECK(tsr_forward(m, &mb[k], &loss, NULL, 7, ((uint64_t)s << 16) + (uint64_t)k, 1));
            CHECK(tsr_backward(m, (float)world / (float)micro));
        }
        double q = now();
        CHECK(tsr_dist_allreduce_grads(m, 0));
        if (s >= warm) t_ar += now() - q;
        tsr_clip_grad_norm(m, 1.0f, &norm);
        tsr_adamw_step(m, 5e-4f, 5e-4f, 0.9f, 0.98f, 1e-6f, 1e-5f, s + 1);
    }
    double dt = (now() - t0) / steps;
    if (rank == 0)
        printf("{\"mode\": \"train\", \"backend\": \"%s\", \"world\": %d, \"threads\": %d, \"params\": %lld, \"tokens_per_step\": %ld, \"step_s\": %.4f, "
               "\"allreduce_s\": %.5f, \"tokens_per_s\": %.1f}\n",
               backend == TSR_BACKEND_CUDA ? "cuda" : "cpu", world, tsr_get_num_threads(), (long long)tsr_num_params(m), total_tokens, dt, t_ar / steps, total_tokens / dt);
    tsr_model_destroy(m);
    tsr_dist_finalize();
    return 0;
}

static int allreduce(int* a) {
    int layers = a[0], H = a[1], NH = a[2], I = a[3], V = a[4], reps = a[5];
    tsr_set_num_threads(1);
    CHECK(tsr_dist_init(TSR_BACKEND_CPU, "bench", 60000, 300000, NULL));
    tsr_config c = {0, TSR_HEAD_MLM, V, H, layers, NH, I, 2, 0, 0, 1e-12f, 0.0f, 0.0f, 16, 1, 0};
    tsr_model* m;
    CHECK(tsr_model_create(&c, TSR_BACKEND_CPU, &m));
    double* t = malloc(sizeof(double) * reps);
    CHECK(tsr_dist_allreduce_grads(m, 0)); /* warm-up: connections, page faults */
    for (int r = 0; r < reps; r++) {
        CHECK(tsr_dist_barrier(0));
        double q = now();
        CHECK(tsr_dist_allreduce_grads(m, 0));
        t[r] = now() - q;
    }
    qsort(t, (size_t)reps, sizeof(double), cmp);
    long long n = tsr_num_params(m);
    if (tsr_dist_rank() == 0)
        printf("{\"mode\": \"allreduce\", \"world\": %d, \"params\": %lld, \"bytes\": %lld, \"median_s\": %.5f, \"best_s\": %.5f, "
               "\"algbw_gbit_s\": %.3f}\n",
               tsr_dist_world_size(), n, n * 4, t[reps / 2], t[0], n * 4 * 8 / t[reps / 2] / 1e9);
    tsr_model_destroy(m);
    tsr_dist_finalize();
    return 0;
}

int main(int argc, char** argv) {
    int a[9] = {0};
    for (int i = 2; i < argc && i < 11; i++) a[i - 2] = atoi(argv[i]);
    if (argc > 1 && strcmp(argv[1], "train") == 0 && argc >= 11) return train(a);
    if (argc > 1 && strcmp(argv[1], "allreduce") == 0 && argc >= 8) return allreduce(a);
    fprintf(stderr, "usage: bench_dist train layers hidden heads inter seq batch micro steps threads\n"
                    "       bench_dist allreduce layers hidden heads inter vocab reps\n");
    return 2;
}
