/*
 * GEMM engine decisions of the CUDA backend (src/cuda/gemm.cu), kept free of CUDA so they can be
 * unit-tested on any host (tests/test_gemm_policy.c).
 *
 * A cuBLASLt plan (descriptor + layouts + preference + heuristic) is usable only if every step
 * succeeded: a TRANSA/TRANSB attribute that did not set would compute the wrong product on square
 * shapes, so a failed setter disqualifies the plan. A shape whose plan is unusable, or whose
 * cublasLtMatmul call failed once, runs the wmma fallback kernel from then on; each such decision is
 * counted (tsr_cuda_gemm_fallbacks in tessera_dist.h).
 */
#ifndef TSR_GEMM_POLICY_H
#define TSR_GEMM_POLICY_H

/* Status of each step of building a plan; 0 = success (cublasStatus_t convention). */
typedef struct {
    int desc_create;      /* cublasLtMatmulDescCreate */
    int setters_failed;   /* number of Desc/Preference SetAttribute calls that returned non-zero */
    int layout_create;    /* first non-zero of the three cublasLtMatrixLayoutCreate calls, else 0 */
    int pref_create;      /* cublasLtMatmulPreferenceCreate */
    int heuristic;        /* cublasLtMatmulAlgoGetHeuristic */
    int heuristic_count;  /* algorithms returned */
    int algo_state;       /* heuristic result's state */
} tsr_lt_plan_steps;

enum {
    TSR_PLAN_OK = 0,
    TSR_PLAN_DESC,      /* descriptor creation failed */
    TSR_PLAN_SETTER,    /* an attribute setter failed */
    TSR_PLAN_LAYOUT,
    TSR_PLAN_PREF,
    TSR_PLAN_HEURISTIC, /* heuristic call failed */
    TSR_PLAN_NO_ALGO    /* no algorithm (count 0 or bad state) */
};

/* Why a plan is unusable (TSR_PLAN_OK: usable). Checked in the order the steps run. */
static inline int tsr_lt_plan_verdict(const tsr_lt_plan_steps* s) {
    if (s->desc_create != 0) return TSR_PLAN_DESC;
    if (s->setters_failed != 0) return TSR_PLAN_SETTER;
    if (s->layout_create != 0) return TSR_PLAN_LAYOUT;
    if (s->pref_create != 0) return TSR_PLAN_PREF;
    if (s->heuristic != 0) return TSR_PLAN_HEURISTIC;
    if (s->heuristic_count <= 0 || s->algo_state != 0) return TSR_PLAN_NO_ALGO;
    return TSR_PLAN_OK;
}

static inline const char* tsr_lt_plan_verdict_name(int v) {
    switch (v) {
    case TSR_PLAN_OK: return "ok";
    case TSR_PLAN_DESC: return "descriptor";
    case TSR_PLAN_SETTER: return "attribute setter";
    case TSR_PLAN_LAYOUT: return "layout";
    case TSR_PLAN_PREF: return "preference";
    case TSR_PLAN_HEURISTIC: return "heuristic";
    case TSR_PLAN_NO_ALGO: return "no algorithm";
    default: return "?";
    }
}

/* Which engine runs one GEMM call. */
enum {
    TSR_GEMM_LT = 0,              /* cublasLtMatmul with the cached plan */
    TSR_GEMM_WMMA_NO_LT,          /* cuBLASLt not loaded or TSR_GEMM=wmma: not counted */
    TSR_GEMM_WMMA_FORCED,         /* tsr_gemm_force_fallback: not counted */
    TSR_GEMM_WMMA_NO_WORKSPACE,   /* counted */
    TSR_GEMM_WMMA_PLAN_TABLE_FULL,/* counted */
    TSR_GEMM_WMMA_PLAN_FAILED     /* plan unusable or an earlier matmul on the shape failed: counted */
};

/* have_lt: cuBLASLt loaded with a handle; forced: fallback forced by the caller; have_ws: a stream
 * workspace exists; have_plan: the plan table had room; plan_ok: the plan is usable and no matmul on
 * this shape has failed. */
static inline int tsr_gemm_choose(int have_lt, int forced, int have_ws, int have_plan, int plan_ok) {
    if (!have_lt) return TSR_GEMM_WMMA_NO_LT;
    if (forced) return TSR_GEMM_WMMA_FORCED;
    if (!have_ws) return TSR_GEMM_WMMA_NO_WORKSPACE;
    if (!have_plan) return TSR_GEMM_WMMA_PLAN_TABLE_FULL;
    if (!plan_ok) return TSR_GEMM_WMMA_PLAN_FAILED;
    return TSR_GEMM_LT;
}

/* Whether a wmma call chosen as `choice` counts as a fallback (cuBLASLt was meant to run it). */
static inline int tsr_gemm_counts_as_fallback(int choice) { return choice >= TSR_GEMM_WMMA_NO_WORKSPACE; }

/* After cublasLtMatmul returned `status`: 1 = run the wmma kernel for this call and mark the shape's
 * plan failed (later calls go straight to wmma), 0 = done. */
static inline int tsr_gemm_retry_after_matmul(int status) { return status != 0; }

#endif /* TSR_GEMM_POLICY_H */
