/*
 * Matrix products of the CUDA backend: bf16 operands, fp32 accumulation.
 *
 * cuBLASLt is loaded with dlopen at run time (libcublasLt.so.13, then .so.12, or $TSR_CUBLASLT), so
 * the library needs no cuBLAS to build or to load; the few types and entry points used are declared
 * below from the documented cublasLt.h ABI. Without cuBLASLt (or with TSR_GEMM=wmma) a tiled wmma
 * kernel does the work.
 * Descriptors and the chosen algorithm are cached per problem shape (no heuristic call per GEMM).
 * Every cuBLASLt call's status is checked; a shape whose plan cannot be built (any step, attribute
 * setters included) or whose cublasLtMatmul fails runs the wmma kernel, and is counted
 * (tsr_cuda_gemm_fallbacks). Decisions: src/common/gemm_policy.h (host-tested).
 */
#include <dlfcn.h>
#include <glob.h>
#include <link.h>
#include <mma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mutex>

#include "common.cuh"
#include "../common/gemm_policy.h"

using namespace nvcuda;

/* ------------------------------------------------------------------------------------------ */
/* cuBLASLt ABI (subset)                                                                       */
/* ------------------------------------------------------------------------------------------ */
namespace lt {
typedef int status_t; /* cublasStatus_t: 0 = success */
typedef void* handle_t;
typedef void* desc_t;
typedef void* layout_t;
typedef void* pref_t;
struct algo_t { uint64_t data[8]; };
struct heuristic_t {
    algo_t algo;
    size_t workspaceSize;
    status_t state;
    float wavesCount;
    int reserved[4];
};
enum {
    COMPUTE_32F = 68,           /* CUBLAS_COMPUTE_32F */
    DESC_SCALE_TYPE = 1,        /* CUBLASLT_MATMUL_DESC_SCALE_TYPE */
    DESC_TRANSA = 3,
    DESC_TRANSB = 4,
    PREF_MAX_WORKSPACE = 1,     /* CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES */
    PREF_ALIGN_A = 5, PREF_ALIGN_B = 6, PREF_ALIGN_C = 7, PREF_ALIGN_D = 8,
    OP_N = 0, OP_T = 1
};
struct api {
    status_t (*create)(handle_t*);
    status_t (*destroy)(handle_t);
    size_t (*get_version)(void);
    status_t (*desc_create)(desc_t*, int compute, cudaDataType_t scale);
    status_t (*desc_destroy)(desc_t);
    status_t (*desc_set)(desc_t, int attr, const void* buf, size_t n);
    status_t (*layout_create)(layout_t*, cudaDataType_t, uint64_t rows, uint64_t cols, int64_t ld);
    status_t (*layout_destroy)(layout_t);
    status_t (*pref_create)(pref_t*);
    status_t (*pref_destroy)(pref_t);
    status_t (*pref_set)(pref_t, int attr, const void* buf, size_t n);
    status_t (*heuristic)(handle_t, desc_t, layout_t, layout_t, layout_t, layout_t, pref_t, int, heuristic_t*, int*);
    status_t (*matmul)(handle_t, desc_t, const void* alpha, const void* A, layout_t, const void* B, layout_t,
                       const void* beta, const void* C, layout_t, void* D, layout_t, const algo_t*, void* ws,
                       size_t ws_size, cudaStream_t);
};
} // namespace lt

namespace {

struct plan {
    bool used;
    /* key */
    bool ta, tb, d_f32, beta_nz;
    int m, n, k, lda, ldb, ldd, align_a, align_b, align_d;
    /* value */
    bool ok; /* false: the plan is unusable (or a matmul on it failed): use the fallback */
    int verdict; /* TSR_PLAN_* */
    lt::desc_t desc;
    lt::layout_t la, lb, ld;
    lt::algo_t algo;
};

constexpr int PLAN_SLOTS = 512;
constexpr size_t WS_BYTES = 32u << 20;

struct state {
    std::mutex mu;
    bool tried = false;
    void* lib = nullptr;
    lt::api f{};
    lt::handle_t handle = nullptr;
    /* cuBLASLt workspace per stream: concurrent models (own streams) must not share one */
    struct { cudaStream_t st; void* ws; } wss[64];
    int nws = 0;
    char engine[704] = "not initialised";
    plan plans[PLAN_SLOTS];
    bool force_fallback = false;
    char lib_path[512] = "";
    /* counters (under mu): shapes whose plan failed, matmuls that failed, wmma calls that cuBLASLt was meant to run */
    long long fb_plans = 0, fb_matmuls = 0, fb_calls = 0;
    char fb_last[200] = "";
} g;

template <typename F>
bool sym(F& fp, const char* name) {
    fp = reinterpret_cast<F>(dlsym(g.lib, name));
    return fp != nullptr;
}

/* Called once, under the lock. Leaves g.handle NULL when cuBLASLt is unusable. */
void init_lt() {
    g.tried = true;
    const char* force = getenv("TSR_GEMM");
    if (force && strcmp(force, "wmma") == 0) { /* tests: exercise the fallback kernel */
        snprintf(g.engine, sizeof g.engine, "wmma fallback (TSR_GEMM=wmma)");
        return;
    }
    /* $TSR_CUBLASLT, then the loader's search (LD_LIBRARY_PATH, ldconfig), then the known CUDA 13
     * (and 12) locations: toolkit, versioned toolkits, the nvidia-cublas pip wheel */
    const char* env = getenv("TSR_CUBLASLT");
    if (env && *env) g.lib = dlopen(env, RTLD_NOW | RTLD_LOCAL);
    const char* names[] = {"libcublasLt.so.13", "libcublasLt.so.12"};
    const char* dirs[] = {"/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib",
                          "/usr/local/cuda-13*/targets/x86_64-linux/lib", "/usr/local/cuda-13*/lib64",
                          "/usr/local/lib/python3*/dist-packages/nvidia/cu13/lib",
                          "/usr/local/lib/python3*/site-packages/nvidia/cu13/lib",
                          "/usr/local/lib/python3*/dist-packages/nvidia/cublas/lib",
                          "/usr/local/lib/python3*/site-packages/nvidia/cublas/lib",
                          "/usr/lib/python3/dist-packages/nvidia/cublas/lib",
                          "/opt/conda/lib/python3*/site-packages/nvidia/cublas/lib", "/opt/conda/lib",
                          "/usr/lib/x86_64-linux-gnu", "/usr/local/cuda-12*/targets/x86_64-linux/lib"};
    for (const char* nm : names) {
        if (g.lib) break;
        g.lib = dlopen(nm, RTLD_NOW | RTLD_LOCAL);
        for (const char* d : dirs) {
            if (g.lib) break;
            char pat[400];
            snprintf(pat, sizeof pat, "%s/%s", d, nm);
            glob_t gl;
            if (glob(pat, 0, nullptr, &gl) == 0) {
                for (size_t i = gl.gl_pathc; i-- > 0 && !g.lib;) /* newest version directory first */
                    g.lib = dlopen(gl.gl_pathv[i], RTLD_NOW | RTLD_LOCAL);
                globfree(&gl);
            }
        }
    }
    if (!g.lib && !(env && *env)) g.lib = dlopen("libcublasLt.so", RTLD_NOW | RTLD_LOCAL);
    if (!g.lib) {
        snprintf(g.engine, sizeof g.engine, "wmma fallback (libcublasLt.so.13/.12 not found; set TSR_CUBLASLT or LD_LIBRARY_PATH)");
        return;
    }
    {
        struct link_map* lm = nullptr;
        if (dlinfo(g.lib, RTLD_DI_LINKMAP, &lm) == 0 && lm && lm->l_name)
            snprintf(g.lib_path, sizeof g.lib_path, "%s", lm->l_name);
        else
            snprintf(g.lib_path, sizeof g.lib_path, "%s", env && *env ? env : "?");
    }
    bool ok = sym(g.f.create, "cublasLtCreate") && sym(g.f.destroy, "cublasLtDestroy") &&
              sym(g.f.get_version, "cublasLtGetVersion") && sym(g.f.desc_create, "cublasLtMatmulDescCreate") &&
              sym(g.f.desc_destroy, "cublasLtMatmulDescDestroy") &&
              sym(g.f.desc_set, "cublasLtMatmulDescSetAttribute") &&
              sym(g.f.layout_create, "cublasLtMatrixLayoutCreate") &&
              sym(g.f.layout_destroy, "cublasLtMatrixLayoutDestroy") &&
              sym(g.f.pref_create, "cublasLtMatmulPreferenceCreate") &&
              sym(g.f.pref_destroy, "cublasLtMatmulPreferenceDestroy") &&
              sym(g.f.pref_set, "cublasLtMatmulPreferenceSetAttribute") &&
              sym(g.f.heuristic, "cublasLtMatmulAlgoGetHeuristic") && sym(g.f.matmul, "cublasLtMatmul");
    if (!ok) {
        snprintf(g.engine, sizeof g.engine, "wmma fallback (%s lacks a needed symbol)", g.lib_path);
        return;
    }
    if (g.f.create(&g.handle) != 0) {
        g.handle = nullptr;
        snprintf(g.engine, sizeof g.engine, "wmma fallback (cublasLtCreate failed; %s)", g.lib_path);
        return;
    }
    snprintf(g.engine, sizeof g.engine, "cublasLt %zu (%s)", g.f.get_version(), g.lib_path);
}

/* under the lock; NULL when no workspace can be had (then the fallback kernel runs) */
void* stream_workspace(cudaStream_t s) {
    for (int i = 0; i < g.nws; i++)
        if (g.wss[i].st == s) return g.wss[i].ws;
    if (g.nws == (int)(sizeof g.wss / sizeof g.wss[0])) return nullptr;
    void* w = nullptr;
    if (cudaMalloc(&w, WS_BYTES) != cudaSuccess) {
        cudaGetLastError();
        return nullptr;
    }
    g.wss[g.nws].st = s;
    g.wss[g.nws].ws = w;
    g.nws++;
    return w;
}

int align_of(const void* p) {
    uintptr_t a = (uintptr_t)p;
    int al = 256;
    while (al > 1 && (a % (uintptr_t)al) != 0) al >>= 1;
    return al;
}

/* Builds p's descriptors and picks its algorithm; every status is recorded, p->ok only if all succeeded. */
void build_plan(plan* p) {
    tsr_lt_plan_steps stp;
    memset(&stp, 0, sizeof stp);
    const bool ta = p->ta, tb = p->tb;
    const int m = p->m, n = p->n, k = p->k;
    int opa = ta ? lt::OP_T : lt::OP_N, opb = tb ? lt::OP_T : lt::OP_N;
    lt::pref_t pref = nullptr;
    stp.desc_create = g.f.desc_create(&p->desc, lt::COMPUTE_32F, CUDA_R_32F);
    if (stp.desc_create != 0) {
        p->desc = nullptr;
        goto done;
    }
    stp.setters_failed += g.f.desc_set(p->desc, lt::DESC_TRANSA, &opa, sizeof opa) != 0;
    stp.setters_failed += g.f.desc_set(p->desc, lt::DESC_TRANSB, &opb, sizeof opb) != 0;
    if (stp.setters_failed) goto done;
    /* stored shapes: A is m×k (N) or k×m (T), B is k×n (N) or n×k (T), column-major */
    if ((stp.layout_create = g.f.layout_create(&p->la, CUDA_R_16BF, ta ? k : m, ta ? m : k, p->lda)) != 0 ||
        (stp.layout_create = g.f.layout_create(&p->lb, CUDA_R_16BF, tb ? n : k, tb ? k : n, p->ldb)) != 0 ||
        (stp.layout_create = g.f.layout_create(&p->ld, p->d_f32 ? CUDA_R_32F : CUDA_R_16BF, m, n, p->ldd)) != 0)
        goto done;
    stp.pref_create = g.f.pref_create(&pref);
    if (stp.pref_create != 0) {
        pref = nullptr;
        goto done;
    }
    {
        size_t wsb = WS_BYTES;
        uint32_t a32 = (uint32_t)p->align_a, b32 = (uint32_t)p->align_b, d32 = (uint32_t)p->align_d;
        stp.setters_failed += g.f.pref_set(pref, lt::PREF_MAX_WORKSPACE, &wsb, sizeof wsb) != 0;
        stp.setters_failed += g.f.pref_set(pref, lt::PREF_ALIGN_A, &a32, sizeof a32) != 0;
        stp.setters_failed += g.f.pref_set(pref, lt::PREF_ALIGN_B, &b32, sizeof b32) != 0;
        stp.setters_failed += g.f.pref_set(pref, lt::PREF_ALIGN_C, &d32, sizeof d32) != 0;
        stp.setters_failed += g.f.pref_set(pref, lt::PREF_ALIGN_D, &d32, sizeof d32) != 0;
        if (stp.setters_failed) goto done;
        lt::heuristic_t res[1];
        memset(res, 0, sizeof res);
        int count = 0;
        stp.heuristic = g.f.heuristic(g.handle, p->desc, p->la, p->lb, p->ld, p->ld, pref, 1, res, &count);
        stp.heuristic_count = count;
        stp.algo_state = res[0].state;
        if (stp.heuristic == 0 && count > 0 && res[0].state == 0) p->algo = res[0].algo;
    }
done:
    if (pref) g.f.pref_destroy(pref);
    p->verdict = tsr_lt_plan_verdict(&stp);
    p->ok = p->verdict == TSR_PLAN_OK;
}

/* Finds or builds the plan for this problem. Returns nullptr when the table is full. */
plan* get_plan(bool ta, bool tb, int m, int n, int k, int lda, int ldb, int ldd, bool d_f32, bool beta_nz, int aa,
               int ab, int ad) {
    uint64_t hsh = 1469598103934665603ull;
    const int key[] = {ta, tb, m, n, k, lda, ldb, ldd, d_f32, beta_nz, aa, ab, ad};
    for (int v : key) hsh = (hsh ^ (uint64_t)(uint32_t)v) * 1099511628211ull;
    for (int probe = 0; probe < PLAN_SLOTS; probe++) {
        plan* p = &g.plans[(hsh + probe) % PLAN_SLOTS];
        if (p->used) {
            if (p->ta == ta && p->tb == tb && p->m == m && p->n == n && p->k == k && p->lda == lda && p->ldb == ldb &&
                p->ldd == ldd && p->d_f32 == d_f32 && p->beta_nz == beta_nz && p->align_a == aa && p->align_b == ab &&
                p->align_d == ad)
                return p;
            continue;
        }
        memset(p, 0, sizeof *p);
        p->used = true;
        p->ta = ta; p->tb = tb; p->m = m; p->n = n; p->k = k; p->lda = lda; p->ldb = ldb; p->ldd = ldd;
        p->d_f32 = d_f32; p->beta_nz = beta_nz; p->align_a = aa; p->align_b = ab; p->align_d = ad;
        p->ok = false;
        build_plan(p);
        if (!p->ok) {
            g.fb_plans++;
            snprintf(g.fb_last, sizeof g.fb_last, "plan %s failed: ta=%d tb=%d m=%d n=%d k=%d lda=%d ldb=%d ldd=%d %s",
                     tsr_lt_plan_verdict_name(p->verdict), ta, tb, m, n, k, lda, ldb, ldd, d_f32 ? "f32" : "bf16");
        }
        return p;
    }
    return nullptr;
}

/* ------------------------------------------------------------------------------------------ */
/* Fallback: 64×64 block tiles, 4 warps of 32×32, k-chunks of 32, scalar bounds-checked loads   */
/* ------------------------------------------------------------------------------------------ */
constexpr int GT = 64, GK = 32, GPAD = 8;

template <typename TD>
__global__ void __launch_bounds__(128) gemm_fallback_kernel(bool ta, bool tb, int m, int n, int k,
                                                            const bf16* __restrict__ A, int lda,
                                                            const bf16* __restrict__ B, int ldb, TD* D, int ldd,
                                                            float alpha, float beta) {
    __shared__ __align__(32) bf16 sA[GT][GK + GPAD]; /* (m, k) row-major */
    __shared__ __align__(32) bf16 sB[GT][GK + GPAD]; /* (n, k): B as col-major k×n */
    __shared__ __align__(32) float sC[GT][GT];       /* (m, n) row-major */
    const int m0 = blockIdx.x * GT, n0 = blockIdx.y * GT;
    const int warp = threadIdx.x / 32;
    const int wm = (warp / 2) * 32, wn = (warp % 2) * 32;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) wmma::fill_fragment(acc[i][j], 0.0f);
    const bf16 zero = __float2bfloat16(0.0f);
    for (int k0 = 0; k0 < k; k0 += GK) {
        for (int idx = threadIdx.x; idx < GT * GK; idx += blockDim.x) {
            /* walk the contiguous dimension fastest */
            int r, c;
            if (ta) { r = idx / GK; c = idx % GK; } else { c = idx / GT; r = idx % GT; }
            int mm = m0 + r, kk = k0 + c;
            bf16 v = zero;
            if (mm < m && kk < k) v = ta ? A[(int64_t)mm * lda + kk] : A[(int64_t)kk * lda + mm];
            sA[r][c] = v;
        }
        for (int idx = threadIdx.x; idx < GT * GK; idx += blockDim.x) {
            int r, c;
            if (!tb) { r = idx / GK; c = idx % GK; } else { c = idx / GT; r = idx % GT; }
            int nn = n0 + r, kk = k0 + c;
            bf16 v = zero;
            if (nn < n && kk < k) v = tb ? B[(int64_t)kk * ldb + nn] : B[(int64_t)nn * ldb + kk];
            sB[r][c] = v;
        }
        __syncthreads();
        for (int kc = 0; kc < GK; kc += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> a[2];
            wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major> b[2];
            for (int i = 0; i < 2; i++) wmma::load_matrix_sync(a[i], &sA[wm + 16 * i][kc], GK + GPAD);
            for (int j = 0; j < 2; j++) wmma::load_matrix_sync(b[j], &sB[wn + 16 * j][kc], GK + GPAD);
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
        }
        __syncthreads();
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            wmma::store_matrix_sync(&sC[wm + 16 * i][wn + 16 * j], acc[i][j], GT, wmma::mem_row_major);
    __syncthreads();
    for (int idx = threadIdx.x; idx < GT * GT; idx += blockDim.x) {
        int c = idx / GT, r = idx % GT; /* r (m) fastest: D is column-major */
        int mm = m0 + r, nn = n0 + c;
        if (mm < m && nn < n) {
            TD* d = D + (int64_t)nn * ldd + mm;
            float v = alpha * sC[r][c];
            if (beta != 0.0f) v += beta * ld(d);
            st(d, v);
        }
    }
}

int gemm_fallback(cudaStream_t s, bool ta, bool tb, int m, int n, int k, const bf16* A, int lda, const bf16* B,
                  int ldb, void* D, int ldd, bool d_f32, float alpha, float beta) {
    dim3 grid((m + GT - 1) / GT, (n + GT - 1) / GT);
    if (grid.y > 65535) return tsr_set_error(TSR_ERR_INTERNAL, "gemm fallback: n=%d too large", n);
    if (d_f32)
        gemm_fallback_kernel<float><<<grid, 128, 0, s>>>(ta, tb, m, n, k, A, lda, B, ldb, (float*)D, ldd, alpha, beta);
    else
        gemm_fallback_kernel<bf16><<<grid, 128, 0, s>>>(ta, tb, m, n, k, A, lda, B, ldb, (bf16*)D, ldd, alpha, beta);
    CU_LAUNCH_CHECK();
    return TSR_OK;
}

} // namespace

const char* tsr_gemm_engine(void) {
    std::lock_guard<std::mutex> lock(g.mu);
    if (!g.tried) init_lt();
    if (g.force_fallback) return "wmma fallback (forced)";
    return g.engine;
}

void tsr_gemm_prepare_stream(cudaStream_t s) {
    std::lock_guard<std::mutex> lock(g.mu);
    if (!g.tried) init_lt();
    if (g.handle) (void)stream_workspace(s);
}

void tsr_gemm_release_stream(cudaStream_t s) {
    std::lock_guard<std::mutex> lock(g.mu);
    for (int i = 0; i < g.nws; i++)
        if (g.wss[i].st == s) {
            cudaFree(g.wss[i].ws);
            g.wss[i] = g.wss[--g.nws];
            return;
        }
}

void tsr_gemm_force_fallback(int on) {
    std::lock_guard<std::mutex> lock(g.mu);
    g.force_fallback = on != 0;
}

int tsr_gemm(cudaStream_t s, bool ta, bool tb, int m, int n, int k, const bf16* A, int lda, const bf16* B, int ldb,
             void* D, int ldd, bool d_f32, float alpha, float beta) {
    if (m <= 0 || n <= 0) return TSR_OK;
    if (k <= 0) return tsr_set_error(TSR_ERR_INTERNAL, "tsr_gemm: k=%d", k);
    plan* p = nullptr;
    void* ws = nullptr;
    int choice;
    {
        std::lock_guard<std::mutex> lock(g.mu);
        if (!g.tried) init_lt();
        const bool have_lt = g.handle != nullptr;
        if (have_lt && !g.force_fallback) {
            ws = stream_workspace(s);
            if (ws)
                p = get_plan(ta, tb, m, n, k, lda, ldb, ldd, d_f32, beta != 0.0f, align_of(A), align_of(B), align_of(D));
        }
        choice = tsr_gemm_choose(have_lt, g.force_fallback, ws != nullptr, p != nullptr, p && p->ok);
        if (tsr_gemm_counts_as_fallback(choice)) g.fb_calls++;
    }
    if (choice == TSR_GEMM_LT) {
        lt::status_t r = g.f.matmul(g.handle, p->desc, &alpha, A, p->la, B, p->lb, &beta, D, p->ld, D, p->ld, &p->algo,
                                    ws, WS_BYTES, s);
        if (!tsr_gemm_retry_after_matmul(r)) return TSR_OK;
        /* cuBLASLt checks its arguments before launching, so D is untouched: redo the call with wmma */
        std::lock_guard<std::mutex> lock(g.mu);
        p->ok = false;
        g.fb_matmuls++;
        g.fb_calls++;
        snprintf(g.fb_last, sizeof g.fb_last, "cublasLtMatmul status %d: ta=%d tb=%d m=%d n=%d k=%d lda=%d ldb=%d ldd=%d %s",
                 r, ta, tb, m, n, k, lda, ldb, ldd, d_f32 ? "f32" : "bf16");
    }
    return gemm_fallback(s, ta, tb, m, n, k, A, lda, B, ldb, D, ldd, d_f32, alpha, beta);
}

void tsr_gemm_fallback_stats(long long* plans, long long* matmuls, long long* calls, const char** last) {
    std::lock_guard<std::mutex> lock(g.mu);
    if (plans) *plans = g.fb_plans;
    if (matmuls) *matmuls = g.fb_matmuls;
    if (calls) *calls = g.fb_calls;
    if (last) *last = g.fb_last;
}

/* y[N,OC] = x[N,C]·W[OC,C]ᵀ  ⇔  column-major yᵀ[OC,N] = op_T(W)·xᵀ */
int tsr_linear_fwd(cudaStream_t s, void* y, bool y_f32, const bf16* x, const bf16* w, int N, int C, int OC) {
    return tsr_gemm(s, true, false, OC, N, C, w, C, x, C, y, OC, y_f32, 1.0f, 0.0f);
}

/* dx[N,C] (=|+=) dy[N,OC]·W[OC,C]  ⇔  dxᵀ[C,N] = Wᵀ·dyᵀ with W column-major [C,OC] */
int tsr_linear_bwd_data(cudaStream_t s, void* dx, bool dx_f32, float alpha, float beta, const bf16* dy, const bf16* w, int N,
                        int C, int OC) {
    return tsr_gemm(s, false, false, C, N, OC, w, C, dy, OC, dx, C, dx_f32, alpha, beta);
}

/* dW[OC,C] += dy[N,OC]ᵀ·x[N,C]  ⇔  dWᵀ[C,OC] += xᵀ[C,N]·op_T(dyᵀ[OC,N]) */
int tsr_linear_bwd_weight(cudaStream_t s, float* dw, float alpha, const bf16* dy, const bf16* x, int N, int C, int OC) {
    return tsr_gemm(s, false, true, C, OC, N, x, C, dy, OC, dw, C, true, alpha, 1.0f);
}
