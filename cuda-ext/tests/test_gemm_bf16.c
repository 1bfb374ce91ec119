/*
 * The bf16 matrix products (src/cpu/sgemm_bf16.c via tsr_gemm) against float64 references, for every
 * transpose combination and the shapes the packing/edge code touches (K odd, K > the k block, partial
 * 12 x 32 tiles, N > the n block, leading dimensions larger than the row, beta 0 and 1).
 *
 * Tolerances, per element (i, j), with S = Σ_k |a_ik·b_kj| and u32 = 2^-24:
 *  1. against the float64 product of the bf16-ROUNDED inputs (what the kernel is meant to compute):
 *     |C - ref_rounded| <= (K + 2)·u32·S — only fp32 summation error is allowed (each of the <= K + 1
 *     additions rounds once to fp32; the products of two 8-bit significands are exact in fp32). A wrong
 *     rounding mode, a dropped or duplicated k, or a pair mixed up with its neighbour breaks this.
 *  2. against the float64 product of the fp32 inputs: |C - ref| <= (2·u + u² + (K + 2)·u32)·S with
 *     u = 2^-8, bf16's unit roundoff (8-bit significand): |bf(a)·bf(b) - a·b| <= (2u + u²)·|a·b|.
 *  3. the kernel really ran in bf16 (when the CPU has AVX512-BF16): some element's error exceeds the
 *     fp32 bound of 1 (a silent fp32 fallback would pass 1 and 2 otherwise, so it is caught here);
 *     without it (TSR_NO_BF16=1, the second ctest entry) the fallback must meet the fp32 bound
 *     |C - ref| <= (K + 2)·u32·S instead.
 *  4. B packed once ahead (tsr_bf16_pack_b_all + tsr_gemm_bf16_packed, the weights' path) gives the same
 *     bits as packing it in the call.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/sgemm.h"

static int g_fail = 0, g_checks = 0;
#define EXPECT(cond, ...) do { g_checks++; if (!(cond)) { g_fail++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static double urand(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return ((rng >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* round to nearest even bf16 (finite, normal inputs), returned as float */
static float bf16(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    u += 0x7fffu + ((u >> 16) & 1u);
    u &= 0xffff0000u;
    memcpy(&x, &u, 4);
    return x;
}

static void run_case(int tA, int tB, int M, int N, int K, int pad, float beta, int bf16_on, double* worst_ratio) {
    int lda = (tA ? M : K) + pad, ldb = (tB ? K : N) + pad, ldc = N + pad;
    size_t na = (size_t)(tA ? K : M) * lda, nb = (size_t)(tB ? N : K) * ldb, nc = (size_t)M * ldc;
    float* A = malloc(na * sizeof(float));
    float* B = malloc(nb * sizeof(float));
    float* C = malloc(nc * sizeof(float));
    float* C0 = malloc(nc * sizeof(float));
    /* values spread over ~6 binades and both signs, like activations and gradients */
    for (size_t i = 0; i < na; i++) A[i] = (float)((urand() - 0.5) * pow(2.0, 6 * urand() - 3));
    for (size_t i = 0; i < nb; i++) B[i] = (float)((urand() - 0.5) * pow(2.0, 6 * urand() - 3));
    for (size_t i = 0; i < nc; i++) C0[i] = C[i] = (float)(urand() - 0.5);
    tsr_gemm(TSR_GEMM_BF16, tA, tB, M, N, K, A, lda, B, ldb, C, ldc, beta);
    if (bf16_on) { /* B packed once (as the model packs its weights): the same numbers, bit for bit */
        tsr_bf16_pack pk = {aligned_alloc(64, (tsr_bf16_pack_words(K, N) * 4 + 63) & ~(size_t)63), 0, 0};
        float* Cp = malloc(nc * sizeof(float));
        memcpy(Cp, C0, nc * sizeof(float));
        tsr_bf16_pack_b_all(tB, K, N, B, ldb, &pk);
        tsr_gemm_bf16_packed(tA, M, N, K, A, lda, &pk, Cp, ldc, beta);
        int same = 1;
        for (int i = 0; i < M; i++) same &= memcmp(Cp + (size_t)i * ldc, C + (size_t)i * ldc, (size_t)N * sizeof(float)) == 0;
        EXPECT(same, "pre-packed B tA=%d tB=%d M=%d N=%d K=%d: differs from packing per call", tA, tB, M, N, K);
        free(pk.words);
        free(Cp);
    }
    const double u = 1.0 / 256, u32 = 1.0 / 16777216;
    long bad1 = -1, bad2 = -1, badf = -1;
    double max_over_fp32 = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double ref = 0, refr = 0, S = 0;
            for (int k = 0; k < K; k++) {
                float a = tA ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                float b = tB ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                ref += (double)a * b;
                refr += (double)bf16(a) * bf16(b);
                S += fabs((double)a * b);
            }
            double c0 = beta != 0 ? C0[(size_t)i * ldc + j] : 0;
            S += fabs(c0);
            ref += c0;
            refr += c0;
            double got = C[(size_t)i * ldc + j];
            double fp32_bound = (K + 2) * u32 * S + 1e-30;
            double e = fabs(got - ref);
            if (e / fp32_bound > max_over_fp32) max_over_fp32 = e / fp32_bound;
            if (bf16_on) {
                if (fabs(got - refr) > fp32_bound && bad1 < 0) bad1 = (long)i * N + j;
                if (e > (2 * u + u * u) * S + fp32_bound && bad2 < 0) bad2 = (long)i * N + j;
                double ratio = e / ((2 * u + u * u) * S + fp32_bound);
                if (ratio > *worst_ratio) *worst_ratio = ratio;
            } else if (e > fp32_bound && badf < 0) {
                badf = (long)i * N + j;
            }
        }
    const char* tag = bf16_on ? "bf16" : "fp32 fallback";
    EXPECT(bad1 < 0, "%s tA=%d tB=%d M=%d N=%d K=%d pad=%d beta=%g: element %ld off the rounded-input reference", tag, tA,
           tB, M, N, K, pad, beta, bad1);
    EXPECT(bad2 < 0, "%s tA=%d tB=%d M=%d N=%d K=%d: element %ld beyond the bf16 error bound", tag, tA, tB, M, N, K, bad2);
    EXPECT(badf < 0, "%s tA=%d tB=%d M=%d N=%d K=%d: element %ld beyond the fp32 bound", tag, tA, tB, M, N, K, badf);
    /* bf16 rounding must be visible once there are enough products (K >= 8) */
    if (bf16_on && K >= 8)
        EXPECT(max_over_fp32 > 1.0, "%s tA=%d tB=%d M=%d N=%d K=%d: error within fp32 bounds everywhere: not bf16?", tag,
               tA, tB, M, N, K);
    free(A); free(B); free(C); free(C0);
}

int main(void) {
    int on = tsr_gemm_bf16_supported();
    printf("bf16 kernels: %s\n", on ? "AVX512-BF16" : "not available here (checking the fp32 fallback)");
    const int shapes[][3] = {{1, 1, 1}, {5, 7, 3}, {12, 32, 2}, {13, 33, 17}, {24, 64, 64}, {11, 31, 385},
                             {37, 70, 769}, {100, 45, 256}, {200, 96, 33}, {3, 2100, 40}, {390, 20, 130}};
    double worst = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int tA = 0; tA < 2; tA++)
            for (int tB = 0; tB < 2; tB++)
                for (int v = 0; v < 2; v++)
                    run_case(tA, tB, shapes[s][0], shapes[s][1], shapes[s][2], v ? 3 : 0, v ? 1.0f : 0.0f, on, &worst);
    if (on) printf("worst |error| / bf16 bound: %.3f\n", worst);
    printf("%d checks, %d failures\n", g_checks, g_fail);
    return g_fail ? 1 : 0;
}
