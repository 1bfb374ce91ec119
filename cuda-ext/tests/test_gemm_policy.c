/* Host unit test of the CUDA backend's GEMM engine decisions (src/common/gemm_policy.h): when a
 * cuBLASLt plan is usable, when a call falls back to the wmma kernel, and which fallbacks count. */
#include <stdio.h>
#include <string.h>

#include "common/gemm_policy.h"

static int fails = 0, checks = 0;
#define EXPECT(cond, ...)                                   \
    do {                                                    \
        checks++;                                           \
        if (!(cond)) {                                      \
            fails++;                                        \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);     \
            printf(__VA_ARGS__);                            \
            printf("\n");                                   \
        }                                                   \
    } while (0)

static tsr_lt_plan_steps good(void) {
    tsr_lt_plan_steps s;
    memset(&s, 0, sizeof s);
    s.heuristic_count = 1;
    return s;
}

int main(void) {
    tsr_lt_plan_steps s = good();
    EXPECT(tsr_lt_plan_verdict(&s) == TSR_PLAN_OK, "all steps succeeded -> usable");

    s = good(); s.desc_create = 7;
    EXPECT(tsr_lt_plan_verdict(&s) == TSR_PLAN_DESC, "descriptor failure");
    s = good(); s.setters_failed = 1; /* e.g. TRANSA did not set: would compute A·B instead of Aᵀ·B */
    EXPECT(tsr_lt_plan_verdict(&s) == TSR_PLAN_SETTER, "one failed setter disqualifies the plan");
    s = good(); s.setters_failed = 1; s.heuristic_count = 4;
    EXPECT(tsr_lt_plan_verdict(&s) == TSR_PLAN_SETTER, "a heuristic answer does not rescue a failed setter");
    s = good(); s.layout_create = 7;
    EXPECT(tsr_lt_plan_verdict(&s) == TSR_PLAN_LAYOUT, "layout failure");
    s = good(); s.pref_create = 3;
    EXPECT(tsr_lt_plan_verdict(&s) == TSR_PLAN_PREF, "preference failure");
    s = good(); s.heuristic = 15; /* CUBLAS_STATUS_NOT_SUPPORTED */
    EXPECT(tsr_lt_plan_verdict(&s) == TSR_PLAN_HEURISTIC, "heuristic failure");
    s = good(); s.heuristic_count = 0;
    EXPECT(tsr_lt_plan_verdict(&s) == TSR_PLAN_NO_ALGO, "no algorithm returned");
    s = good(); s.algo_state = 15;
    EXPECT(tsr_lt_plan_verdict(&s) == TSR_PLAN_NO_ALGO, "algorithm with a bad state");
    for (int v = TSR_PLAN_OK; v <= TSR_PLAN_NO_ALGO; v++)
        EXPECT(strcmp(tsr_lt_plan_verdict_name(v), "?") != 0, "verdict %d has a name", v);

    /* engine choice */
    EXPECT(tsr_gemm_choose(1, 0, 1, 1, 1) == TSR_GEMM_LT, "everything fine -> cuBLASLt");
    EXPECT(tsr_gemm_choose(0, 0, 1, 1, 1) == TSR_GEMM_WMMA_NO_LT, "no library -> wmma");
    EXPECT(tsr_gemm_choose(0, 1, 0, 0, 0) == TSR_GEMM_WMMA_NO_LT, "no library wins over forced");
    EXPECT(tsr_gemm_choose(1, 1, 1, 1, 1) == TSR_GEMM_WMMA_FORCED, "forced -> wmma");
    EXPECT(tsr_gemm_choose(1, 0, 0, 1, 1) == TSR_GEMM_WMMA_NO_WORKSPACE, "no workspace -> wmma");
    EXPECT(tsr_gemm_choose(1, 0, 1, 0, 0) == TSR_GEMM_WMMA_PLAN_TABLE_FULL, "plan table full -> wmma");
    EXPECT(tsr_gemm_choose(1, 0, 1, 1, 0) == TSR_GEMM_WMMA_PLAN_FAILED, "plan failed -> wmma");

    /* counting */
    EXPECT(!tsr_gemm_counts_as_fallback(TSR_GEMM_LT), "cuBLASLt is not a fallback");
    EXPECT(!tsr_gemm_counts_as_fallback(TSR_GEMM_WMMA_NO_LT), "no library: not counted (engine line says so)");
    EXPECT(!tsr_gemm_counts_as_fallback(TSR_GEMM_WMMA_FORCED), "forced: not counted");
    EXPECT(tsr_gemm_counts_as_fallback(TSR_GEMM_WMMA_NO_WORKSPACE), "no workspace: counted");
    EXPECT(tsr_gemm_counts_as_fallback(TSR_GEMM_WMMA_PLAN_TABLE_FULL), "table full: counted");
    EXPECT(tsr_gemm_counts_as_fallback(TSR_GEMM_WMMA_PLAN_FAILED), "plan failed: counted");

    /* after cublasLtMatmul */
    EXPECT(!tsr_gemm_retry_after_matmul(0), "success: done");
    EXPECT(tsr_gemm_retry_after_matmul(13), "EXECUTION_FAILED: redo with wmma");
    EXPECT(tsr_gemm_retry_after_matmul(7), "INVALID_VALUE: redo with wmma");

    /* the sequence gemm.cu runs for one shape whose matmul fails once: first call cuBLASLt, then the
     * plan is marked failed and every later call of the shape goes to wmma and is counted */
    int plan_ok = 1;
    long long counted = 0;
    for (int call = 0; call < 3; call++) {
        int c = tsr_gemm_choose(1, 0, 1, 1, plan_ok);
        if (tsr_gemm_counts_as_fallback(c)) counted++;
        if (c == TSR_GEMM_LT && tsr_gemm_retry_after_matmul(call == 0 ? 13 : 0)) {
            plan_ok = 0;
            counted++;
        }
    }
    EXPECT(counted == 3 && !plan_ok, "failing matmul: counted once per call (got %lld)", counted);

    printf("%d checks, %d failed\n", checks, fails);
    return fails ? 1 : 0;
}
