/*
 * Peak arithmetic rates of this CPU, the denominators of Tessera's CPU MFU (bench/train_cpu.sh):
 *   fp32: vfmadd231ps zmm (16 lanes x 2 flops) and
 *   bf16: vdpbf16ps zmm (16 lanes x 2 bf16 products x 2 flops, fp32 accumulate), AVX512-BF16,
 * each on 1 and 2 threads (OpenMP). 16 independent accumulator chains per thread hide the
 * instruction latency; operands stay in registers, so this is the core's issue rate, nothing else.
 * Best of 5 trials of ~0.2 s each. Prints one JSON line (GFLOP/s).
 * Built by cuda-ext/CMakeLists.txt as target bench_peak:  target/.../bench_peak [max_threads (default 2)]
 */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define CHAINS 16

/* returns a value that depends on every accumulator so nothing is optimised away */
__attribute__((target("avx512f"), noinline)) static float fma_loop(long iters, float seed) {
    __m512 acc[CHAINS];
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_ps(seed * (float)i);
    const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-3f);
    for (long it = 0; it < iters; it++) {
#pragma GCC unroll 16
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    }
    __m512 s = acc[0];
    for (int i = 1; i < CHAINS; i++) s = _mm512_add_ps(s, acc[i]);
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx512f,avx512bf16"), noinline)) static float dpbf16_loop(long iters, float seed) {
    __m512 acc[CHAINS];
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_ps(seed * (float)i);
    const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(-1e-3f));
    const __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.5f), _mm512_set1_ps(0.25f));
    for (long it = 0; it < iters; it++) {
#pragma GCC unroll 16
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
    }
    __m512 s = acc[0];
    for (int i = 1; i < CHAINS; i++) s = _mm512_add_ps(s, acc[i]);
    return _mm512_reduce_add_ps(s);
}

/* GFLOP/s of `kind` (0 fp32 FMA, 1 bf16 dot) on `threads` threads, best of 5 trials */
static double rate(int kind, int threads, volatile float* sink) {
    const long iters = 2000000; /* per thread and trial: 2e6 x 16 instructions */
    const double flops_per_instr = kind == 0 ? 32.0 : 64.0;
    double best = 0;
    for (int trial = 0; trial < 5; trial++) {
        double t0 = now();
#pragma omp parallel num_threads(threads)
        {
            float r = kind == 0 ? fma_loop(iters, 1e-6f * (float)omp_get_thread_num())
                                : dpbf16_loop(iters, 1e-6f * (float)omp_get_thread_num());
#pragma omp atomic
            *sink += r;
        }
        double dt = now() - t0;
        double g = flops_per_instr * CHAINS * (double)iters * threads / dt / 1e9;
        if (g > best) best = g;
    }
    return best;
}

int main(int argc, char** argv) {
    int max_threads = argc > 1 ? atoi(argv[1]) : 2;
    if (max_threads < 1) max_threads = 1;
    __builtin_cpu_init();
    int has512 = __builtin_cpu_supports("avx512f"), hasbf16 = has512 && __builtin_cpu_supports("avx512bf16");
    if (!has512) {
        printf("{\"error\": \"no AVX-512 on this CPU\"}\n");
        return 1;
    }
    volatile float sink = 0;
    printf("{\"fp32_fma_gflops\": {");
    for (int t = 1; t <= max_threads; t++) printf("%s\"%d\": %.1f", t > 1 ? ", " : "", t, rate(0, t, &sink));
    printf("}, \"bf16_dot_gflops\": {");
    for (int t = 1; t <= max_threads && hasbf16; t++) printf("%s\"%d\": %.1f", t > 1 ? ", " : "", t, rate(1, t, &sink));
    printf("}, \"avx512bf16\": %s}\n", hasbf16 ? "true" : "false");
    return sink == 12345.0f; /* never: keeps the sink alive */
}
