/*
 * libtessera_ortops.so: ONNX Runtime custom-op domain "tessera" (op set 1), loaded with
 * RegisterCustomOpsLibrary / registerCustomOpLibrary / register_custom_ops_library. Ops (float32):
 *   UnpaddedAlibiAttention(qkv[T,3H], cu_seqlens int64[B+1]) -> [T,H]   (CPU; CUDA when built with nvcc)
 *   PackedMeanPool(h[T,H], cu_seqlens int64[B+1]) -> [B,H]               (CPU; CUDA when built with nvcc)
 *   GeGLU(x[T,2I]) -> [T,I]                                              (CPU)
 *   QuantizeRows(x[T,K]) -> (q uint8[T,K], scale[T], zero_point int32[T])  (CPU)
 *   DequantizeRows(y int32[T,N], scale[T], zero_point int32[T], w_colsum int32[N], w_scale[N], bias[N]?)
 *     -> [T,N]                                                           (CPU)
 * The last two wrap a MatMulInteger(q, W int8) so that activations are quantized per row (token) rather than
 * per tensor: one outlier token no longer coarsens every other token's grid (README: int8).
 * Contracts: cuda-ext/README.md. Only the C API is used, through the OrtApiBase that ORT passes to
 * RegisterCustomOps (nothing of ORT is linked). CPU work runs in ORT's intra-op thread pool
 * (KernelContext_ParallelFor), one serial work item per (sequence, head) / sequence / row block.
 */
#define _GNU_SOURCE /* qsort_r */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <immintrin.h>
#include <onnxruntime_c_api.h>

#include "../common/alibi.h"
#include "../cpu/cpu_ops.h"
#include "ortops_cuda.h"

#define EXPORT __attribute__((visibility("default")))
#define MAXR 8

static const OrtApi* g_api; /* set by RegisterCustomOps; used where ORT passes no OrtApi (shape inference) */

typedef enum { OP_ATTN, OP_POOL, OP_GEGLU, OP_QROWS, OP_DQROWS } op_kind;

typedef struct {
    OrtCustomOp base; /* first member: ORT hands back &base */
    op_kind kind;
    int cuda;
} tsr_op;

typedef struct {
    const OrtApi* api;
    op_kind kind;
    int cuda;
    int num_heads, alibi, has_scale;
    float scale;
    float* slopes; /* [num_heads] or NULL (alibi = 0) */
} tsr_kernel;

static const char* op_name(op_kind k) {
    static const char* names[] = {"UnpaddedAlibiAttention", "PackedMeanPool", "GeGLU", "QuantizeRows", "DequantizeRows"};
    return names[k];
}

static OrtStatus* errorf(const OrtApi* api, OrtErrorCode code, op_kind k, const char* fmt, ...) {
    char msg[512];
    int n = snprintf(msg, sizeof msg, "tessera.%s: ", op_name(k));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    return api->CreateStatus(code, msg);
}

#define TRY(expr)                         \
    do {                                  \
        OrtStatus* st_ = (expr);          \
        if (st_) return st_;              \
    } while (0)

/* ---- threading ---------------------------------------------------------------------------- */

/* Work items run in ORT's intra-op pool (default), or, with TSR_ORTOPS_OPENMP=1, in an OpenMP loop
 * (kept for comparison: measured slower / oversubscribing next to ORT's spinning pool; README). */
static int use_openmp(void) {
    static int v = -1;
    if (v < 0) {
        const char* e = getenv("TSR_ORTOPS_OPENMP");
        v = e && e[0] == '1';
    }
    return v;
}

static OrtStatus* parallel_for(const OrtApi* api, OrtKernelContext* ctx, void (*fn)(void*, size_t), size_t n, void* user) {
    if (n == 0) return NULL;
    if (n == 1) {
        fn(user, 0);
        return NULL;
    }
    if (use_openmp()) {
#pragma omp parallel for schedule(dynamic)
        for (long i = 0; i < (long)n; i++) fn(user, (size_t)i);
        return NULL;
    }
    return api->KernelContext_ParallelFor(ctx, fn, n, 0, user);
}

/* ---- inputs ------------------------------------------------------------------------------- */

typedef struct {
    const OrtValue* v;
    size_t rank;
    int64_t dims[MAXR];
    void* data;
} tensor_in;

static OrtStatus* get_input(const OrtApi* api, OrtKernelContext* ctx, op_kind k, size_t i, const char* name, tensor_in* t) {
    TRY(api->KernelContext_GetInput(ctx, i, &t->v));
    if (!t->v) return errorf(api, ORT_INVALID_ARGUMENT, k, "input %s is missing", name);
    OrtTensorTypeAndShapeInfo* info;
    TRY(api->GetTensorTypeAndShape(t->v, &info));
    OrtStatus* st = api->GetDimensionsCount(info, &t->rank);
    if (!st && t->rank > MAXR) st = errorf(api, ORT_INVALID_ARGUMENT, k, "input %s has rank %zu", name, t->rank);
    if (!st) st = api->GetDimensions(info, t->dims, t->rank);
    api->ReleaseTensorTypeAndShapeInfo(info);
    if (st) return st;
    return api->GetTensorMutableData((OrtValue*)t->v, &t->data);
}

static OrtStatus* get_output_n(const OrtApi* api, OrtKernelContext* ctx, size_t i, const int64_t* dims, size_t rank, void** out) {
    OrtValue* v;
    TRY(api->KernelContext_GetOutput(ctx, i, dims, rank, &v));
    return api->GetTensorMutableData(v, out);
}

static OrtStatus* get_output(const OrtApi* api, OrtKernelContext* ctx, int64_t d0, int64_t d1, float** out) {
    const int64_t dims[2] = {d0, d1};
    return get_output_n(api, ctx, 0, dims, 2, (void**)out);
}

/* cu_seqlens: rank 1, B+1 >= 1 entries, cu[0] = 0, non-decreasing, cu[B] = T (cu on the host) */
static OrtStatus* check_cu(const OrtApi* api, op_kind k, const tensor_in* cu, int64_t T) {
    if (cu->rank != 1 || cu->dims[0] < 1)
        return errorf(api, ORT_INVALID_ARGUMENT, k, "cu_seqlens must be int64[B+1] with B+1 >= 1 entries (got rank %zu%s)",
                      cu->rank, cu->rank == 1 ? ", 0 entries" : "");
    const int64_t* c = cu->data;
    const int64_t B = cu->dims[0] - 1;
    if (c[0] != 0) return errorf(api, ORT_INVALID_ARGUMENT, k, "cu_seqlens[0] = %lld, must be 0", (long long)c[0]);
    for (int64_t b = 0; b < B; b++)
        if (c[b + 1] < c[b])
            return errorf(api, ORT_INVALID_ARGUMENT, k, "cu_seqlens must be non-decreasing (cu_seqlens[%lld] = %lld < cu_seqlens[%lld] = %lld)",
                          (long long)(b + 1), (long long)c[b + 1], (long long)b, (long long)c[b]);
    if (c[B] != T)
        return errorf(api, ORT_INVALID_ARGUMENT, k, "cu_seqlens[B] = %lld (B = %lld) must equal the number of tokens T = %lld",
                      (long long)c[B], (long long)B, (long long)T);
    return NULL;
}

static OrtStatus* check_rank2(const OrtApi* api, op_kind k, const tensor_in* t, const char* name) {
    if (t->rank != 2) return errorf(api, ORT_INVALID_ARGUMENT, k, "%s must have rank 2 (got rank %zu)", name, t->rank);
    if (t->dims[0] > INT_MAX || t->dims[1] > INT_MAX / 4)
        return errorf(api, ORT_INVALID_ARGUMENT, k, "%s is too large ([%lld, %lld])", name, (long long)t->dims[0],
                      (long long)t->dims[1]);
    return NULL;
}

/* qkv [T, 3H] with H = num_heads · D, D >= 1 */
static OrtStatus* check_qkv(const OrtApi* api, const tsr_kernel* kr, const tensor_in* qkv) {
    TRY(check_rank2(api, OP_ATTN, qkv, "qkv"));
    int64_t cols = qkv->dims[1];
    if (cols <= 0 || cols % (3 * kr->num_heads) != 0)
        return errorf(api, ORT_INVALID_ARGUMENT, OP_ATTN,
                      "qkv has %lld columns, must be a positive multiple of 3·num_heads = %d ([T, 3·num_heads·head_dim])",
                      (long long)cols, 3 * kr->num_heads);
    return NULL;
}

/* ---- CPU kernels -------------------------------------------------------------------------- */

typedef struct {
    float* out;
    const float* x;
    const int64_t* cu;
    const int32_t* order; /* sequences, longest first */
    int T, NH, D, H;
    const float* slopes;
    float scale;
    volatile int oom;
} attn_job;

static void attn_item(void* u, size_t i) {
    attn_job* j = u;
    int b = j->order[i / (size_t)j->NH], h = (int)(i % (size_t)j->NH);
    int start = (int)j->cu[b], L = (int)(j->cu[b + 1] - j->cu[b]);
    if (cpu_attention_fwd_one(j->out, NULL, j->x, start, L, j->T, j->NH, j->D, h, j->slopes, j->scale)) j->oom = 1;
}

static int by_len_desc(const void* a, const void* b, void* cu_) {
    const int64_t* cu = cu_;
    int x = *(const int32_t*)a, y = *(const int32_t*)b;
    int64_t lx = cu[x + 1] - cu[x], ly = cu[y + 1] - cu[y];
    return lx < ly ? 1 : lx > ly ? -1 : (x > y) - (x < y);
}

static OrtStatus* attn_cpu(tsr_kernel* kr, OrtKernelContext* ctx) {
    const OrtApi* api = kr->api;
    tensor_in qkv, cu;
    TRY(get_input(api, ctx, OP_ATTN, 0, "qkv", &qkv));
    TRY(get_input(api, ctx, OP_ATTN, 1, "cu_seqlens", &cu));
    TRY(check_qkv(api, kr, &qkv));
    const int64_t T = qkv.dims[0];
    TRY(check_cu(api, OP_ATTN, &cu, T));
    const int H = (int)(qkv.dims[1] / 3), D = H / kr->num_heads;
    float* out;
    TRY(get_output(api, ctx, T, H, &out));
    const int64_t B = cu.dims[0] - 1;
    if (T == 0) return NULL;
    int32_t* order = malloc((size_t)B * sizeof *order);
    if (!order) return errorf(api, ORT_FAIL, OP_ATTN, "out of memory");
    int32_t n = 0;
    const int64_t* c = cu.data;
    for (int64_t b = 0; b < B; b++)
        if (c[b + 1] > c[b]) order[n++] = (int32_t)b;
    qsort_r(order, (size_t)n, sizeof *order, by_len_desc, (void*)c);
    attn_job j = {out, qkv.data, c, order, (int)T, kr->num_heads, D, H, kr->slopes,
                  kr->has_scale ? kr->scale : 1.0f / sqrtf((float)D), 0};
    OrtStatus* st = parallel_for(api, ctx, attn_item, (size_t)n * (size_t)kr->num_heads, &j);
    free(order);
    if (!st && j.oom) st = errorf(api, ORT_FAIL, OP_ATTN, "out of memory (attention workspace)");
    return st;
}

typedef struct {
    float* out;
    const float* x;
    const int64_t* cu;
    int H;
    volatile int oom;
} pool_job;

static void pool_item(void* u, size_t b) {
    pool_job* j = u;
    const int H = j->H;
    double* acc = malloc((size_t)(H ? H : 1) * sizeof(double)); /* double sums: exact enough for any length */
    if (!acc) {
        j->oom = 1;
        return;
    }
    /* the kernel of the training model's MEAN pooling (cpu_ops.h) */
    cpu_mean_rows_fwd(j->out + b * (size_t)H, j->x, j->cu[b], j->cu[b + 1], H, acc);
    free(acc);
}

static OrtStatus* pool_cpu(tsr_kernel* kr, OrtKernelContext* ctx) {
    const OrtApi* api = kr->api;
    tensor_in h, cu;
    TRY(get_input(api, ctx, OP_POOL, 0, "h", &h));
    TRY(get_input(api, ctx, OP_POOL, 1, "cu_seqlens", &cu));
    TRY(check_rank2(api, OP_POOL, &h, "h"));
    TRY(check_cu(api, OP_POOL, &cu, h.dims[0]));
    const int64_t B = cu.dims[0] - 1;
    float* out;
    TRY(get_output(api, ctx, B, h.dims[1], &out));
    if (B == 0 || h.dims[1] == 0) return NULL;
    pool_job j = {out, h.data, cu.data, (int)h.dims[1], 0};
    OrtStatus* st = parallel_for(api, ctx, pool_item, (size_t)B, &j);
    if (!st && j.oom) st = errorf(api, ORT_FAIL, OP_POOL, "out of memory");
    return st;
}

#define GEGLU_ROWS 16
typedef struct {
    float* out;
    const float* x;
    int64_t T;
    int I;
} geglu_job;

static void geglu_item(void* u, size_t i) {
    geglu_job* j = u;
    int64_t r0 = (int64_t)i * GEGLU_ROWS, n = j->T - r0 < GEGLU_ROWS ? j->T - r0 : GEGLU_ROWS;
    cpu_geglu_fwd_serial(j->out + r0 * j->I, j->x + r0 * 2 * j->I, n, j->I);
}

static OrtStatus* geglu_cpu(tsr_kernel* kr, OrtKernelContext* ctx) {
    const OrtApi* api = kr->api;
    tensor_in x;
    TRY(get_input(api, ctx, OP_GEGLU, 0, "x", &x));
    TRY(check_rank2(api, OP_GEGLU, &x, "x"));
    if (x.dims[1] % 2)
        return errorf(api, ORT_INVALID_ARGUMENT, OP_GEGLU, "x has %lld columns, must be even ([T, 2I])", (long long)x.dims[1]);
    const int I = (int)(x.dims[1] / 2);
    float* out;
    TRY(get_output(api, ctx, x.dims[0], I, &out));
    if (x.dims[0] == 0 || I == 0) return NULL;
    geglu_job j = {out, x.data, x.dims[0], I};
    return parallel_for(api, ctx, geglu_item, (size_t)((x.dims[0] + GEGLU_ROWS - 1) / GEGLU_ROWS), &j);
}

/* ---- per-row int8 activations ----------------------------------------------------------- */

/* Asymmetric uint8 per row, the range widened to include 0 so that 0 is exact (as DynamicQuantizeLinear):
 * scale = (max - min) / 255, zero_point = round(-min / scale), q = clamp(round(x / scale) + zero_point, 0, 255). */
#define QROWS_ROWS 16

typedef struct {
    const float* x;
    uint8_t* q;
    float* scale;
    int32_t* zp;
    int64_t T, K;
} qrows_job;

/* AVX2 (RegisterCustomOps refuses CPUs without it): two passes per row, min/max then round-and-pack,
 * 8 floats at a time; rounding is to nearest even, as DynamicQuantizeLinear's. */
__attribute__((target("avx2,fma"))) static void qrows_item(void* u, size_t i) {
    qrows_job* j = u;
    int64_t r0 = (int64_t)i * QROWS_ROWS, r1 = r0 + QROWS_ROWS < j->T ? r0 + QROWS_ROWS : j->T;
    const int64_t K = j->K, K8 = K & ~(int64_t)7;
    for (int64_t r = r0; r < r1; r++) {
        const float* x = j->x + r * K;
        uint8_t* q = j->q + r * K;
        __m256 vlo = _mm256_setzero_ps(), vhi = _mm256_setzero_ps();
        for (int64_t k = 0; k < K8; k += 8) {
            __m256 v = _mm256_loadu_ps(x + k);
            vlo = _mm256_min_ps(vlo, v), vhi = _mm256_max_ps(vhi, v);
        }
        float lo8[8], hi8[8], lo = 0, hi = 0;
        _mm256_storeu_ps(lo8, vlo), _mm256_storeu_ps(hi8, vhi);
        for (int t = 0; t < 8; t++) lo = lo8[t] < lo ? lo8[t] : lo, hi = hi8[t] > hi ? hi8[t] : hi;
        for (int64_t k = K8; k < K; k++) lo = x[k] < lo ? x[k] : lo, hi = x[k] > hi ? x[k] : hi;
        float scale = (hi - lo) / 255.0f;
        if (!(scale > 0) || !isfinite(scale)) scale = 1.0f; /* an all-zero row (or non-finite input) */
        const float inv = 1.0f / scale;
        float z = nearbyintf(-lo * inv);
        z = z < 0 ? 0 : z > 255 ? 255 : z;
        const __m256 vinv = _mm256_set1_ps(inv), vz = _mm256_set1_ps(z), v0 = _mm256_setzero_ps(), v255 = _mm256_set1_ps(255);
        for (int64_t k = 0; k < K8; k += 8) {
            __m256 v = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + k), vinv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            v = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(v, vz), v0), v255);
            __m256i n32 = _mm256_cvtps_epi32(v);                                      /* 8 x int32 in 0..255 */
            __m128i n16 = _mm_packus_epi32(_mm256_castsi256_si128(n32), _mm256_extracti128_si256(n32, 1));
            _mm_storel_epi64((__m128i*)(q + k), _mm_packus_epi16(n16, n16));
        }
        for (int64_t k = K8; k < K; k++) {
            float v = nearbyintf(x[k] * inv) + z;
            q[k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
        j->scale[r] = scale;
        j->zp[r] = (int32_t)z;
    }
}

static OrtStatus* qrows_cpu(tsr_kernel* kr, OrtKernelContext* ctx) {
    const OrtApi* api = kr->api;
    tensor_in x;
    TRY(get_input(api, ctx, OP_QROWS, 0, "x", &x));
    TRY(check_rank2(api, OP_QROWS, &x, "x"));
    const int64_t T = x.dims[0], K = x.dims[1], dq[2] = {T, K}, dr[1] = {T};
    qrows_job j = {x.data, NULL, NULL, NULL, T, K};
    TRY(get_output_n(api, ctx, 0, dq, 2, (void**)&j.q));
    TRY(get_output_n(api, ctx, 1, dr, 1, (void**)&j.scale));
    TRY(get_output_n(api, ctx, 2, dr, 1, (void**)&j.zp));
    return parallel_for(api, ctx, qrows_item, (size_t)((T + QROWS_ROWS - 1) / QROWS_ROWS), &j);
}

/* out[t,n] = scale[t] * w_scale[n] * (y[t,n] - zero_point[t] * w_colsum[n]) + bias[n]: the zero-point term is
 * exact integer arithmetic (|zp · colsum| <= 255 · 127 · K fits int32 for K < 66000). */
typedef struct {
    const int32_t *y, *zp, *colsum;
    const float *scale, *wscale, *bias;
    float* out;
    int64_t T, N;
} dqrows_job;

__attribute__((target("avx2,fma"))) static void dqrows_item(void* u, size_t i) { /* auto-vectorised */
    dqrows_job* j = u;
    int64_t r0 = (int64_t)i * QROWS_ROWS, r1 = r0 + QROWS_ROWS < j->T ? r0 + QROWS_ROWS : j->T;
    for (int64_t r = r0; r < r1; r++) {
        const int32_t* y = j->y + r * j->N;
        float* o = j->out + r * j->N;
        const int32_t zp = j->zp[r];
        const float s = j->scale[r];
        if (j->bias)
            for (int64_t n = 0; n < j->N; n++) o[n] = (float)(y[n] - zp * j->colsum[n]) * (s * j->wscale[n]) + j->bias[n];
        else
            for (int64_t n = 0; n < j->N; n++) o[n] = (float)(y[n] - zp * j->colsum[n]) * (s * j->wscale[n]);
    }
}

static OrtStatus* dqrows_cpu(tsr_kernel* kr, OrtKernelContext* ctx) {
    const OrtApi* api = kr->api;
    tensor_in y, scale, zp, colsum, wscale, bias = {0};
    TRY(get_input(api, ctx, OP_DQROWS, 0, "y", &y));
    TRY(check_rank2(api, OP_DQROWS, &y, "y"));
    TRY(get_input(api, ctx, OP_DQROWS, 1, "scale", &scale));
    TRY(get_input(api, ctx, OP_DQROWS, 2, "zero_point", &zp));
    TRY(get_input(api, ctx, OP_DQROWS, 3, "w_colsum", &colsum));
    TRY(get_input(api, ctx, OP_DQROWS, 4, "w_scale", &wscale));
    size_t n_in = 0;
    TRY(api->KernelContext_GetInputCount(ctx, &n_in));
    const OrtValue* b = NULL;
    if (n_in > 5) TRY(api->KernelContext_GetInput(ctx, 5, &b));
    if (b) TRY(get_input(api, ctx, OP_DQROWS, 5, "bias", &bias));
    const int64_t T = y.dims[0], N = y.dims[1];
    const tensor_in* per_row[] = {&scale, &zp};
    const tensor_in* per_col[] = {&colsum, &wscale, b ? &bias : NULL};
    for (int i = 0; i < 2; i++)
        if (per_row[i]->rank != 1 || per_row[i]->dims[0] != T)
            return errorf(api, ORT_INVALID_ARGUMENT, OP_DQROWS, "input %d must be [T] = [%lld]", i + 1, (long long)T);
    for (int i = 0; i < 3; i++)
        if (per_col[i] && (per_col[i]->rank != 1 || per_col[i]->dims[0] != N))
            return errorf(api, ORT_INVALID_ARGUMENT, OP_DQROWS, "input %d must be [N] = [%lld]", i + 3, (long long)N);
    dqrows_job j = {y.data, zp.data, colsum.data, scale.data, wscale.data, b ? bias.data : NULL, NULL, T, N};
    TRY(get_output(api, ctx, T, N, &j.out));
    return parallel_for(api, ctx, dqrows_item, (size_t)((T + QROWS_ROWS - 1) / QROWS_ROWS), &j);
}

/* ---- CUDA kernels (host side; device code in ortops_cuda.cu) ------------------------------ */

#ifdef TSR_ORTOPS_CUDA
static OrtStatus* cuda_status(const OrtApi* api, op_kind k, const char* err) {
    return err ? errorf(api, ORT_FAIL, k, "CUDA: %s", err) : NULL;
}

static OrtStatus* attn_cuda(tsr_kernel* kr, OrtKernelContext* ctx) {
    const OrtApi* api = kr->api;
    tensor_in qkv, cu;
    TRY(get_input(api, ctx, OP_ATTN, 0, "qkv", &qkv));
    TRY(get_input(api, ctx, OP_ATTN, 1, "cu_seqlens", &cu)); /* a CPU input (GetInputMemoryType) */
    TRY(check_qkv(api, kr, &qkv));
    const int64_t T = qkv.dims[0];
    TRY(check_cu(api, OP_ATTN, &cu, T));
    const int H = (int)(qkv.dims[1] / 3), D = H / kr->num_heads;
    float* out;
    TRY(get_output(api, ctx, T, H, &out));
    if (T == 0) return NULL;
    void* stream = NULL;
    TRY(api->KernelContext_GetGPUComputeStream(ctx, &stream));
    return cuda_status(api, OP_ATTN,
                       tsr_ortops_cuda_attention(stream, out, qkv.data, cu.data, (int)(cu.dims[0] - 1), (int)T,
                                                 kr->num_heads, D, kr->slopes,
                                                 kr->has_scale ? kr->scale : 1.0f / sqrtf((float)D)));
}

static OrtStatus* pool_cuda(tsr_kernel* kr, OrtKernelContext* ctx) {
    const OrtApi* api = kr->api;
    tensor_in h, cu;
    TRY(get_input(api, ctx, OP_POOL, 0, "h", &h));
    TRY(get_input(api, ctx, OP_POOL, 1, "cu_seqlens", &cu));
    TRY(check_rank2(api, OP_POOL, &h, "h"));
    TRY(check_cu(api, OP_POOL, &cu, h.dims[0]));
    const int64_t B = cu.dims[0] - 1;
    float* out;
    TRY(get_output(api, ctx, B, h.dims[1], &out));
    if (B == 0 || h.dims[1] == 0) return NULL;
    void* stream = NULL;
    TRY(api->KernelContext_GetGPUComputeStream(ctx, &stream));
    return cuda_status(api, OP_POOL, tsr_ortops_cuda_mean_pool(stream, out, h.data, cu.data, (int)B, (int)h.dims[1]));
}
#endif

/* ---- OrtCustomOp callbacks ---------------------------------------------------------------- */

static void ORT_API_CALL kernel_destroy(void* k) {
    tsr_kernel* kr = k;
    if (!kr) return;
    free(kr->slopes);
    free(kr);
}

static OrtStatus* ORT_API_CALL create_kernel(const OrtCustomOp* op_, const OrtApi* api, const OrtKernelInfo* info,
                                             void** out) {
    const tsr_op* op = (const tsr_op*)op_;
    *out = NULL;
    tsr_kernel* kr = calloc(1, sizeof *kr);
    if (!kr) return errorf(api, ORT_FAIL, op->kind, "out of memory");
    kr->api = api;
    kr->kind = op->kind;
    kr->cuda = op->cuda;
    if (op->kind == OP_ATTN) {
        int64_t nh = 0, alibi = 1;
        OrtStatus* st = api->KernelInfoGetAttribute_int64(info, "num_heads", &nh);
        if (st) {
            api->ReleaseStatus(st);
            kernel_destroy(kr);
            return errorf(api, ORT_INVALID_ARGUMENT, op->kind, "attribute num_heads (int) is required");
        }
        if (nh <= 0 || nh > 65536) {
            kernel_destroy(kr);
            return errorf(api, ORT_INVALID_ARGUMENT, op->kind, "num_heads = %lld, must be in 1..65536", (long long)nh);
        }
        st = api->KernelInfoGetAttribute_int64(info, "alibi", &alibi);
        if (st) api->ReleaseStatus(st), alibi = 1;
        if (alibi != 0 && alibi != 1) {
            kernel_destroy(kr);
            return errorf(api, ORT_INVALID_ARGUMENT, op->kind, "alibi = %lld, must be 0 or 1", (long long)alibi);
        }
        float scale = 0;
        st = api->KernelInfoGetAttribute_float(info, "scale", &scale);
        if (st) {
            api->ReleaseStatus(st);
        } else {
            if (!isfinite(scale)) {
                kernel_destroy(kr);
                return errorf(api, ORT_INVALID_ARGUMENT, op->kind, "scale must be finite");
            }
            kr->has_scale = 1;
            kr->scale = scale;
        }
        kr->num_heads = (int)nh;
        kr->alibi = (int)alibi;
        if (alibi) {
            kr->slopes = malloc((size_t)nh * sizeof(float));
            if (!kr->slopes) {
                kernel_destroy(kr);
                return errorf(api, ORT_FAIL, op->kind, "out of memory");
            }
            tsr_alibi_slopes_fill((int)nh, kr->slopes);
        }
    }
    *out = kr;
    return NULL;
}

static OrtStatus* ORT_API_CALL kernel_compute(void* k, OrtKernelContext* ctx) {
    tsr_kernel* kr = k;
#ifdef TSR_ORTOPS_CUDA
    if (kr->cuda) return kr->kind == OP_ATTN ? attn_cuda(kr, ctx) : pool_cuda(kr, ctx);
#endif
    switch (kr->kind) {
    case OP_ATTN: return attn_cpu(kr, ctx);
    case OP_POOL: return pool_cpu(kr, ctx);
    case OP_QROWS: return qrows_cpu(kr, ctx);
    case OP_DQROWS: return dqrows_cpu(kr, ctx);
    default: return geglu_cpu(kr, ctx);
    }
}

static const char* ORT_API_CALL get_name(const OrtCustomOp* op) { return op_name(((const tsr_op*)op)->kind); }
static const char* ORT_API_CALL get_ep(const OrtCustomOp* op) {
    return ((const tsr_op*)op)->cuda ? "CUDAExecutionProvider" : "CPUExecutionProvider";
}
static op_kind kind_of(const OrtCustomOp* op) { return ((const tsr_op*)op)->kind; }
static size_t ORT_API_CALL input_count(const OrtCustomOp* op) {
    op_kind k = kind_of(op);
    return k == OP_GEGLU || k == OP_QROWS ? 1 : k == OP_DQROWS ? 6 : 2;
}
static ONNXTensorElementDataType ORT_API_CALL input_type(const OrtCustomOp* op, size_t i) {
    if (kind_of(op) == OP_DQROWS)
        return i == 0 || i == 2 || i == 3 ? ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32 : ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
    if (kind_of(op) == OP_QROWS) return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
    return i == 1 ? ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64 : ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
}
static size_t ORT_API_CALL output_count(const OrtCustomOp* op) { return kind_of(op) == OP_QROWS ? 3 : 1; }
static ONNXTensorElementDataType ORT_API_CALL output_type(const OrtCustomOp* op, size_t i) {
    if (kind_of(op) == OP_QROWS)
        return i == 0 ? ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8 : i == 1 ? ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT : ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32;
    return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
}
static OrtCustomOpInputOutputCharacteristic ORT_API_CALL input_char(const OrtCustomOp* op, size_t i) {
    return kind_of(op) == OP_DQROWS && i == 5 ? INPUT_OUTPUT_OPTIONAL : INPUT_OUTPUT_REQUIRED;
}
static OrtCustomOpInputOutputCharacteristic ORT_API_CALL output_char(const OrtCustomOp* op, size_t i) {
    (void)op, (void)i;
    return INPUT_OUTPUT_REQUIRED;
}
/* the CUDA kernels validate cu_seqlens on the host and copy it themselves */
static OrtMemType ORT_API_CALL input_mem(const OrtCustomOp* op, size_t i) {
    return ((const tsr_op*)op)->cuda && i == 1 ? OrtMemTypeCPUInput : OrtMemTypeDefault;
}
static int ORT_API_CALL one(const OrtCustomOp* op) { return (void)op, 1; }
static int ORT_API_CALL zero(const OrtCustomOp* op) { return (void)op, 0; }
static int ORT_API_CALL start_version(const OrtCustomOp* op) { return (void)op, 1; }
static int ORT_API_CALL end_version(const OrtCustomOp* op) { return (void)op, INT_MAX; }
static size_t ORT_API_CALL no_alias(int** in, int** out) {
    *in = NULL, *out = NULL;
    return 0;
}
static void ORT_API_CALL release_alias(int* in, int* out) { (void)in, (void)out; }

/* ---- shape inference ---------------------------------------------------------------------- */

typedef struct {
    size_t rank;
    int64_t dims[MAXR];
    const char* names[MAXR];
    OrtTensorTypeAndShapeInfo* info;
} shape_in;

static OrtStatus* shape_of(const OrtApi* api, OrtShapeInferContext* ctx, size_t i, shape_in* s) {
    s->rank = 0;
    s->info = NULL;
    TRY(api->ShapeInferContext_GetInputTypeShape(ctx, i, &s->info));
    TRY(api->GetDimensionsCount(s->info, &s->rank));
    if (s->rank > MAXR) s->rank = MAXR + 1; /* reported as a bad rank below */
    else {
        TRY(api->GetDimensions(s->info, s->dims, s->rank));
        TRY(api->GetSymbolicDimensions(s->info, s->names, s->rank));
    }
    return NULL;
}

static OrtStatus* set_output_typed(const OrtApi* api, OrtShapeInferContext* ctx, size_t index, ONNXTensorElementDataType type,
                                   size_t rank, int64_t d0, const char* n0, int64_t d1, const char* n1) {
    OrtTensorTypeAndShapeInfo* info;
    TRY(api->CreateTensorTypeAndShapeInfo(&info));
    const int64_t dims[2] = {d0, d1};
    /* an unknown dim needs a name: ORT would otherwise record the -1 as a fixed size (and warn at run time) */
    const char* names[2] = {d0 < 0 ? (n0 && *n0 ? n0 : "tessera_dim0") : "", d1 < 0 ? (n1 && *n1 ? n1 : "tessera_dim1") : ""};
    OrtStatus* st = api->SetTensorElementType(info, type);
    if (!st) st = api->SetDimensions(info, dims, rank);
    if (!st) st = api->SetSymbolicDimensions(info, names, rank);
    if (!st) st = api->ShapeInferContext_SetOutputTypeShape(ctx, index, info);
    api->ReleaseTensorTypeAndShapeInfo(info);
    return st;
}

static OrtStatus* set_output(const OrtApi* api, OrtShapeInferContext* ctx, int64_t d0, const char* n0, int64_t d1,
                             const char* n1) {
    return set_output_typed(api, ctx, 0, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, 2, d0, n0, d1, n1);
}

static OrtStatus* infer_impl(const OrtApi* api, op_kind k, OrtShapeInferContext* ctx, shape_in* x, shape_in* cu) {
    TRY(shape_of(api, ctx, 0, x));
    /* rank 0 = no shape in the graph: leave the output shape unknown */
    if (x->rank == 0) return NULL;
    if (x->rank != 2) return errorf(api, ORT_INVALID_ARGUMENT, k, "input 0 must have rank 2 (got rank %zu)", x->rank);
    int64_t d0 = x->dims[0], d1 = x->dims[1];
    const char* n0 = x->names[0];
    char derived[160]; /* a name for an unknown output dim derived from an input's dim name */
    if (k == OP_ATTN) {
        const OrtOpAttr* attr = NULL;
        int64_t nh = 0;
        size_t len = 0;
        OrtStatus* st = api->ShapeInferContext_GetAttribute(ctx, "num_heads", &attr);
        if (st) api->ReleaseStatus(st), attr = NULL;
        if (!attr) return errorf(api, ORT_INVALID_ARGUMENT, k, "attribute num_heads (int) is required");
        TRY(api->ReadOpAttr(attr, ORT_OP_ATTR_INT, &nh, sizeof nh, &len));
        if (nh <= 0) return errorf(api, ORT_INVALID_ARGUMENT, k, "num_heads = %lld, must be positive", (long long)nh);
        if (d1 >= 0 && (d1 == 0 || d1 % (3 * nh)))
            return errorf(api, ORT_INVALID_ARGUMENT, k, "qkv has %lld columns, must be a positive multiple of 3·num_heads = %lld",
                          (long long)d1, (long long)(3 * nh));
        snprintf(derived, sizeof derived, "%s/3", x->names[1] && *x->names[1] ? x->names[1] : "qkv_cols");
        return set_output(api, ctx, d0, n0, d1 >= 0 ? d1 / 3 : -1, derived);
    }
    if (k == OP_QROWS) {
        TRY(set_output_typed(api, ctx, 0, ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8, 2, d0, n0, d1, x->names[1]));
        TRY(set_output_typed(api, ctx, 1, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, 1, d0, n0, 0, NULL));
        return set_output_typed(api, ctx, 2, ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32, 1, d0, n0, 0, NULL);
    }
    if (k == OP_DQROWS) return set_output(api, ctx, d0, n0, d1, x->names[1]);
    if (k == OP_GEGLU) {
        if (d1 >= 0 && d1 % 2) return errorf(api, ORT_INVALID_ARGUMENT, k, "x has %lld columns, must be even", (long long)d1);
        snprintf(derived, sizeof derived, "%s/2", x->names[1] && *x->names[1] ? x->names[1] : "x_cols");
        return set_output(api, ctx, d0, n0, d1 >= 0 ? d1 / 2 : -1, derived);
    }
    TRY(shape_of(api, ctx, 1, cu));
    int64_t b = cu->rank == 1 && cu->dims[0] > 0 ? cu->dims[0] - 1 : -1;
    snprintf(derived, sizeof derived, "%s-1", cu->rank == 1 && cu->names[0] && *cu->names[0] ? cu->names[0] : "cu_seqlens_len");
    return set_output(api, ctx, b, derived, d1, x->names[1]);
}

static OrtStatus* ORT_API_CALL infer_shape(const OrtCustomOp* op, OrtShapeInferContext* ctx) {
    const OrtApi* api = g_api;
    shape_in x = {0}, cu = {0};
    /* The infos from ShapeInferContext_GetInputTypeShape belong to the context: releasing them here made
     * ORT 1.23 free them twice (a crash in session creation), so they are not released. */
    return infer_impl(api, ((const tsr_op*)op)->kind, ctx, &x, &cu);
}

/* ---- registration ------------------------------------------------------------------------- */

static void init_op(tsr_op* op, op_kind kind, int cuda) {
    memset(op, 0, sizeof *op);
    op->kind = kind;
    op->cuda = cuda;
    OrtCustomOp* b = &op->base;
    b->version = ORT_API_VERSION;
    b->GetName = get_name;
    b->GetExecutionProviderType = get_ep;
    b->GetInputType = input_type;
    b->GetInputTypeCount = input_count;
    b->GetOutputType = output_type;
    b->GetOutputTypeCount = output_count;
    b->KernelDestroy = kernel_destroy;
    b->GetInputCharacteristic = input_char;
    b->GetOutputCharacteristic = output_char;
    b->GetInputMemoryType = input_mem;
    b->GetVariadicInputMinArity = one;
    b->GetVariadicInputHomogeneity = zero;
    b->GetVariadicOutputMinArity = one;
    b->GetVariadicOutputHomogeneity = zero;
    b->CreateKernelV2 = create_kernel;
    b->KernelComputeV2 = kernel_compute;
    b->InferOutputShapeFn = infer_shape;
    b->GetStartVersion = start_version;
    b->GetEndVersion = end_version;
    b->GetMayInplace = no_alias;
    b->ReleaseMayInplace = release_alias;
    b->GetAliasMap = no_alias;
    b->ReleaseAliasMap = release_alias;
}

#define N_CPU_OPS 5
#define N_CUDA_OPS 2
static tsr_op g_ops[N_CPU_OPS + N_CUDA_OPS];
static int g_n_ops;

static void init_ops(void) {
    init_op(&g_ops[0], OP_ATTN, 0);
    init_op(&g_ops[1], OP_POOL, 0);
    init_op(&g_ops[2], OP_GEGLU, 0);
    init_op(&g_ops[3], OP_QROWS, 0);
    init_op(&g_ops[4], OP_DQROWS, 0);
    g_n_ops = N_CPU_OPS;
#ifdef TSR_ORTOPS_CUDA
    init_op(&g_ops[5], OP_ATTN, 1);
    init_op(&g_ops[6], OP_POOL, 1);
    g_n_ops += N_CUDA_OPS;
#endif
}

/* The library's entry point (ORT looks it up by name after dlopen). */
EXPORT OrtStatus* ORT_API_CALL RegisterCustomOps(OrtSessionOptions* options, const OrtApiBase* api_base) {
    const OrtApi* api = api_base->GetApi(ORT_API_VERSION);
    if (!api) {
        /* an older runtime: any API version it has can still report the problem */
        for (uint32_t v = ORT_API_VERSION - 1; v >= 1 && !api; v--) api = api_base->GetApi(v);
        char msg[256];
        snprintf(msg, sizeof msg, "libtessera_ortops needs ONNX Runtime >= 1.%d (C API %d); this runtime is %s",
                 ORT_API_VERSION, ORT_API_VERSION, api_base->GetVersionString());
        return api ? api->CreateStatus(ORT_NOT_IMPLEMENTED, msg) : NULL;
    }
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        return api->CreateStatus(ORT_NOT_IMPLEMENTED, "libtessera_ortops: the CPU kernels need AVX2 and FMA (x86-64-v3)");
    g_api = api;
    if (!g_n_ops) init_ops(); /* idempotent; ORT only reads the op structs */
    /* The domain must outlive every session created from these options; ORT does not own it, so it is
     * deliberately never released (a few bytes per registration). */
    OrtCustomOpDomain* domain = NULL;
    TRY(api->CreateCustomOpDomain("tessera", &domain));
    for (int i = 0; i < g_n_ops; i++) TRY(api->CustomOpDomain_Add(domain, &g_ops[i].base));
    return api->AddCustomOpDomain(options, domain);
}
