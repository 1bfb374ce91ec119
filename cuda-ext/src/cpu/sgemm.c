/*
 * Packed, cache-blocked sgemm (BLIS-style loop nest) with an AVX-512 12×32 micro-kernel, an AVX2
 * 6×16 fallback and a scalar one, chosen once at run time from CPUID.
 *   jc (NC cols of C) → pc (KC of K; pack B KC×NC, L2) → ic (MC rows; pack A MC×KC)
 *   → jr (NR) → ir (MR): micro-kernel on packed panels, accumulators in registers.
 */
#include "sgemm.h"
#include "sgemm_bf16.h"

#include <immintrin.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#ifndef KC
#define KC 256
#endif
#ifndef MC
#define MC 192
#endif
#define NC 2048 /* multiple of 32 and 16 */
#define MR_MAX 12
#define NR_MAX 32

typedef void (*kernel_fn)(int kc, const float* A, const float* B, float* C, int ldc, int accumulate);

/* ----------------------------------------------------------------------------------------- */

__attribute__((target("avx512f,fma")))
static void kernel_avx512_12x32(int kc, const float* A, const float* B, float* C, int ldc, int acc) {
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00,
           c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00, c80 = c00, c81 = c00,
           c90 = c00, c91 = c00, ca0 = c00, ca1 = c00, cb0 = c00, cb1 = c00;
    for (int k = 0; k < kc; k++) {
        __m512 b0 = _mm512_load_ps(B), b1 = _mm512_load_ps(B + 16);
        __m512 a;
#define ROW(r, x0, x1) a = _mm512_set1_ps(A[r]); x0 = _mm512_fmadd_ps(a, b0, x0); x1 = _mm512_fmadd_ps(a, b1, x1);
        ROW(0, c00, c01) ROW(1, c10, c11) ROW(2, c20, c21) ROW(3, c30, c31) ROW(4, c40, c41) ROW(5, c50, c51)
        ROW(6, c60, c61) ROW(7, c70, c71) ROW(8, c80, c81) ROW(9, c90, c91) ROW(10, ca0, ca1) ROW(11, cb0, cb1)
#undef ROW
        A += 12;
        B += 32;
    }
#define ST(r, x0, x1) do { float* p = C + (size_t)(r) * ldc; \
        if (acc) { x0 = _mm512_add_ps(x0, _mm512_loadu_ps(p)); x1 = _mm512_add_ps(x1, _mm512_loadu_ps(p + 16)); } \
        _mm512_storeu_ps(p, x0); _mm512_storeu_ps(p + 16, x1); } while (0)
    ST(0, c00, c01); ST(1, c10, c11); ST(2, c20, c21); ST(3, c30, c31); ST(4, c40, c41); ST(5, c50, c51);
    ST(6, c60, c61); ST(7, c70, c71); ST(8, c80, c81); ST(9, c90, c91); ST(10, ca0, ca1); ST(11, cb0, cb1);
#undef ST
}

__attribute__((target("avx2,fma")))
static void kernel_avx2_6x16(int kc, const float* A, const float* B, float* C, int ldc, int acc) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00,
           c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int k = 0; k < kc; k++) {
        __m256 b0 = _mm256_load_ps(B), b1 = _mm256_load_ps(B + 8);
        __m256 a;
#define ROW(r, x0, x1) a = _mm256_broadcast_ss(A + r); x0 = _mm256_fmadd_ps(a, b0, x0); x1 = _mm256_fmadd_ps(a, b1, x1);
        ROW(0, c00, c01) ROW(1, c10, c11) ROW(2, c20, c21) ROW(3, c30, c31) ROW(4, c40, c41) ROW(5, c50, c51)
#undef ROW
        A += 6;
        B += 16;
    }
#define ST(r, x0, x1) do { float* p = C + (size_t)(r) * ldc; \
        if (acc) { x0 = _mm256_add_ps(x0, _mm256_loadu_ps(p)); x1 = _mm256_add_ps(x1, _mm256_loadu_ps(p + 8)); } \
        _mm256_storeu_ps(p, x0); _mm256_storeu_ps(p + 8, x1); } while (0)
    ST(0, c00, c01); ST(1, c10, c11); ST(2, c20, c21); ST(3, c30, c31); ST(4, c40, c41); ST(5, c50, c51);
#undef ST
}

static void kernel_scalar_4x8(int kc, const float* A, const float* B, float* C, int ldc, int acc) {
    float c[4][8] = {{0}};
    for (int k = 0; k < kc; k++, A += 4, B += 8)
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 8; j++) c[i][j] += A[i] * B[j];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++) C[(size_t)i * ldc + j] = acc ? C[(size_t)i * ldc + j] + c[i][j] : c[i][j];
}

/* ----------------------------------------------------------------------------------------- */

static struct { kernel_fn fn; int mr, nr; const char* isa; } g_kern;

/* set when a call could not get its workspace (and computed nothing); see tsr_sgemm_take_failure */
static int g_sgemm_failed;

int tsr_sgemm_take_failure(void) {
    int f;
#pragma omp atomic capture
    { f = g_sgemm_failed; g_sgemm_failed = 0; }
    return f;
}

static void note_failure(void) {
#pragma omp atomic write
    g_sgemm_failed = 1;
}

static pthread_once_t g_kern_once = PTHREAD_ONCE_INIT;

static void pick_kernel_once(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && !getenv("TSR_NO_AVX512")) {
        g_kern.mr = 12; g_kern.nr = 32; g_kern.isa = "avx512"; g_kern.fn = kernel_avx512_12x32;
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        g_kern.mr = 6; g_kern.nr = 16; g_kern.isa = "avx2"; g_kern.fn = kernel_avx2_6x16;
    } else {
        g_kern.mr = 4; g_kern.nr = 8; g_kern.isa = "scalar"; g_kern.fn = kernel_scalar_4x8;
    }
}

static void pick_kernel(void) { pthread_once(&g_kern_once, pick_kernel_once); }

const char* tsr_sgemm_isa(void) {
    pick_kernel();
    return g_kern.isa;
}

/* Per-thread scratch, grown on demand and freed when the thread exits (pthread key destructor):
 * no allocation (and no page faults) per call in the steady state. */
typedef struct { float* p; size_t n; } thread_ws;
static pthread_key_t g_ws_key;
static pthread_once_t g_ws_once = PTHREAD_ONCE_INIT;
static void ws_destroy(void* v) {
    thread_ws* w = v;
    free(w->p);
    free(w);
}
static void ws_key_init(void) { pthread_key_create(&g_ws_key, ws_destroy); }

float* tsr_thread_workspace(size_t floats) {
    pthread_once(&g_ws_once, ws_key_init);
    thread_ws* w = pthread_getspecific(g_ws_key);
    if (!w) {
        w = calloc(1, sizeof *w);
        if (!w) return NULL;
        pthread_setspecific(g_ws_key, w);
    }
    if (w->n < floats) {
        free(w->p);
        size_t bytes = (floats * sizeof(float) + 63) & ~(size_t)63;
        w->p = aligned_alloc(64, bytes);
        w->n = w->p ? floats : 0;
    }
    return w->p;
}

size_t tsr_sgemm_workspace_floats(void) { return (size_t)MC * KC + (size_t)KC * NC + MR_MAX * NR_MAX + 64; }

/* In-register transpose of 16 rows × 16 floats (AVX-512): after it, r[k] holds element k of every row. */
__attribute__((target("avx512f"))) static inline void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
        __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
        r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    for (int h = 0; h < 2; h++)
        for (int i = 0; i < 4; i++) {
            t[8 * h + i] = _mm512_shuffle_f32x4(r[8 * h + i], r[8 * h + 4 + i], 0x88);
            t[8 * h + 4 + i] = _mm512_shuffle_f32x4(r[8 * h + i], r[8 * h + 4 + i], 0xdd);
        }
    for (int i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0x88);
        r[8 + i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0xdd);
    }
}

/* Transposing copy of `rows` (<= 16) row pointers × kc floats into k-major panels of width `ld`:
 * dst[k·ld + i] = rows[i][k]. AVX-512 for whole 16-column blocks, scalar for the tail. */
__attribute__((target("avx512f"))) static void gather_rows_avx512(const float* const* rows, int nrows, int kc, float* dst, int ld) {
    int k = 0;
    __mmask16 m = (__mmask16)((1u << nrows) - 1);
    for (; k + 16 <= kc; k += 16) {
        __m512 r[16];
        for (int i = 0; i < 16; i++) r[i] = i < nrows ? _mm512_loadu_ps(rows[i] + k) : _mm512_setzero_ps();
        transpose16(r);
        for (int kk = 0; kk < 16; kk++) _mm512_mask_storeu_ps(dst + (size_t)(k + kk) * ld, m, r[kk]);
    }
    for (; k < kc; k++)
        for (int i = 0; i < nrows; i++) dst[(size_t)k * ld + i] = rows[i][k];
}

/* Ap: MR-row panels, each kc × MR (k-major), zero-padded rows. */
static void pack_A(int transA, const float* A, int lda, int i0, int mc, int p0, int kc, float* Ap, int MR) {
    for (int ir = 0; ir < mc; ir += MR) {
        int mr = mc - ir < MR ? mc - ir : MR;
        float* dst = Ap + (size_t)ir * kc;
        if (!transA) {
            /* transposing copy: contiguous writes, reads from mr rows that stay in L1 */
            const float* rows[MR_MAX];
            for (int i = 0; i < mr; i++) rows[i] = A + (size_t)(i0 + ir + i) * lda + p0;
            if (g_kern.fn == kernel_avx512_12x32) {
                gather_rows_avx512(rows, mr, kc, dst, MR);
            } else {
                for (int k = 0; k < kc; k++)
                    for (int i = 0; i < mr; i++) dst[k * MR + i] = rows[i][k];
            }
        } else {
            for (int k = 0; k < kc; k++) {
                const float* src = A + (size_t)(p0 + k) * lda + i0 + ir;
                for (int i = 0; i < mr; i++) dst[k * MR + i] = src[i];
            }
        }
        if (mr < MR)
            for (int k = 0; k < kc; k++)
                for (int i = mr; i < MR; i++) dst[k * MR + i] = 0.0f;
    }
}

/* Bp: NR-column panels, each kc × NR (k-major), zero-padded columns. */
static void pack_B(int transB, const float* B, int ldb, int j0, int nc, int p0, int kc, float* Bp, int NR) {
    for (int jr = 0; jr < nc; jr += NR) {
        int nr = nc - jr < NR ? nc - jr : NR;
        float* dst = Bp + (size_t)jr * kc;
        if (!transB) {
            for (int k = 0; k < kc; k++) {
                const float* src = B + (size_t)(p0 + k) * ldb + j0 + jr;
                for (int j = 0; j < nr; j++) dst[k * NR + j] = src[j];
                for (int j = nr; j < NR; j++) dst[k * NR + j] = 0.0f;
            }
        } else {
            const float* cols[NR_MAX];
            for (int j = 0; j < nr; j++) cols[j] = B + (size_t)(j0 + jr + j) * ldb + p0;
            if (g_kern.fn == kernel_avx512_12x32) {
                for (int j = 0; j < nr; j += 16) gather_rows_avx512(cols + j, nr - j < 16 ? nr - j : 16, kc, dst + j, NR);
            } else {
                for (int k = 0; k < kc; k++)
                    for (int j = 0; j < nr; j++) dst[k * NR + j] = cols[j][k];
            }
            if (nr < NR)
                for (int k = 0; k < kc; k++)
                    for (int j = nr; j < NR; j++) dst[k * NR + j] = 0.0f;
        }
    }
}

static void gemm_block(int transA, int transB, int M, int N, int K, const float* A, int lda, const float* B, int ldb,
                       float* C, int ldc, float beta, float* ws) {
    pick_kernel();
    const int MR = g_kern.mr, NR = g_kern.nr;
    if (K <= 0) {
        if (beta == 0.0f)
            for (int i = 0; i < M; i++) memset(C + (size_t)i * ldc, 0, (size_t)N * sizeof(float));
        return;
    }
    float* Ap = ws;
    float* Bp = ws + (size_t)MC * KC;
    float* tile = Bp + (size_t)KC * NC;
    for (int jc = 0; jc < N; jc += NC) {
        int nc = N - jc < NC ? N - jc : NC;
        for (int pc = 0; pc < K; pc += KC) {
            int kc = K - pc < KC ? K - pc : KC;
            int acc = pc > 0 || beta != 0.0f;
            pack_B(transB, B, ldb, jc, nc, pc, kc, Bp, NR);
            for (int ic = 0; ic < M; ic += MC) {
                int mc = M - ic < MC ? M - ic : MC;
                pack_A(transA, A, lda, ic, mc, pc, kc, Ap, MR);
                for (int jr = 0; jr < nc; jr += NR) {
                    int nr = nc - jr < NR ? nc - jr : NR;
                    for (int ir = 0; ir < mc; ir += MR) {
                        int mr = mc - ir < MR ? mc - ir : MR;
                        float* Ct = C + (size_t)(ic + ir) * ldc + jc + jr;
                        if (mr == MR && nr == NR) {
                            g_kern.fn(kc, Ap + (size_t)ir * kc, Bp + (size_t)jr * kc, Ct, ldc, acc);
                        } else {
                            g_kern.fn(kc, Ap + (size_t)ir * kc, Bp + (size_t)jr * kc, tile, NR, 0);
                            for (int i = 0; i < mr; i++)
                                for (int j = 0; j < nr; j++)
                                    Ct[(size_t)i * ldc + j] = acc ? Ct[(size_t)i * ldc + j] + tile[i * NR + j] : tile[i * NR + j];
                        }
                    }
                }
            }
        }
    }
}

void tsr_sgemm_serial(int transA, int transB, int M, int N, int K, const float* A, int lda, const float* B, int ldb,
                      float* C, int ldc, float beta, float* ws) {
    if (M <= 0 || N <= 0) return;
    gemm_block(transA, transB, M, N, K, A, lda, B, ldb, C, ldc, beta, ws);
}

/* 1 when bf16 products can run here: AVX512-BF16 (and AVX512-BW for the packing), not vetoed by
 * TSR_NO_AVX512 / TSR_NO_BF16 */
static int g_bf16 = -1;
static pthread_once_t g_bf16_once = PTHREAD_ONCE_INIT;
static void bf16_once(void) {
    __builtin_cpu_init();
    g_bf16 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512bf16") && !getenv("TSR_NO_AVX512") && !getenv("TSR_NO_BF16");
}
int tsr_gemm_bf16_supported(void) {
    pthread_once(&g_bf16_once, bf16_once);
    return g_bf16;
}

/* serial block: fp32, or bf16 inputs with fp32 sums, B packed here or pre-packed (pk, columns from joff) */
static void block(int bf16, int transA, int transB, int M, int N, int K, const float* A, int lda, const float* B,
                  int ldb, const tsr_bf16_pack* pk, int joff, float* C, int ldc, float beta, float* ws) {
    if (pk) tsr_gemm_bf16_packed_serial(transA, M, N, K, A, lda, pk->words, pk->N, joff, C, ldc, beta, ws);
    else if (bf16) tsr_gemm_bf16_serial(transA, transB, M, N, K, A, lda, B, ldb, C, ldc, beta, ws);
    else gemm_block(transA, transB, M, N, K, A, lda, B, ldb, C, ldc, beta, ws);
}

static void gemm_parallel(int bf16, int transA, int transB, int M, int N, int K, const float* A, int lda,
                          const float* B, int ldb, const tsr_bf16_pack* pk, float* C, int ldc, float beta) {
    if (M <= 0 || N <= 0) return;
    pick_kernel();
    int nt = omp_in_parallel() ? 1 : omp_get_max_threads();
    double flops = 2.0 * M * N * K;
    if (flops < 2e6) nt = 1; /* not worth waking the team */
    size_t wsz = bf16 ? tsr_gemm_bf16_workspace_floats() : tsr_sgemm_workspace_floats();
    if (nt <= 1) {
        float* ws = tsr_thread_workspace(wsz);
        if (!ws) {
            note_failure();
            return;
        }
        block(bf16, transA, transB, M, N, K, A, lda, B, ldb, pk, 0, C, ldc, beta, ws);
        return;
    }
    /* split the larger of M and N into nt contiguous chunks aligned to the micro-tile (12 x 32 for
     * AVX-512 fp32 and bf16 alike) */
    int split_m = M >= N;
    int unit = bf16 ? (split_m ? 12 : 32) : (split_m ? g_kern.mr : g_kern.nr);
    int total = split_m ? M : N;
    int chunks = (total + unit - 1) / unit;
    if (chunks < nt) nt = chunks;
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), n = omp_get_num_threads();
        int c0 = (int)((long)chunks * t / n) * unit, c1 = (int)((long)chunks * (t + 1) / n) * unit;
        if (c1 > total) c1 = total;
        if (c0 < c1) {
            float* ws = tsr_thread_workspace(wsz);
            if (!ws) note_failure();
            if (ws) {
                if (split_m)
                    block(bf16, transA, transB, c1 - c0, N, K, transA ? A + c0 : A + (size_t)c0 * lda, lda, B, ldb, pk,
                          0, C + (size_t)c0 * ldc, ldc, beta, ws);
                else
                    block(bf16, transA, transB, M, c1 - c0, K, A, lda, transB ? B + (size_t)c0 * ldb : B + c0, ldb,
                          pk, c0, C + c0, ldc, beta, ws);
            }
        }
    }
}

void tsr_sgemm(int transA, int transB, int M, int N, int K, const float* A, int lda, const float* B, int ldb,
               float* C, int ldc, float beta) {
    gemm_parallel(0, transA, transB, M, N, K, A, lda, B, ldb, NULL, C, ldc, beta);
}

void tsr_gemm(int precision, int transA, int transB, int M, int N, int K, const float* A, int lda, const float* B,
              int ldb, float* C, int ldc, float beta) {
    int bf16 = precision == TSR_GEMM_BF16 && tsr_gemm_bf16_supported();
    gemm_parallel(bf16, transA, transB, M, N, K, A, lda, B, ldb, NULL, C, ldc, beta);
}

size_t tsr_bf16_pack_words(int K, int N) { return tsr_gemm_bf16_supported() ? tsr_bf16_packed_words(K, N) : 0; }

void tsr_bf16_pack_b_all(int transB, int K, int N, const float* B, int ldb, tsr_bf16_pack* pk) {
    pk->K = K;
    pk->N = N;
    int chunks = (N + 31) / 32;
    int nt = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (nt > chunks) nt = chunks;
#pragma omp parallel num_threads(nt) if (nt > 1 && (double)K * N > 65536)
    {
        int t = omp_get_thread_num(), n = omp_get_num_threads();
        int c0 = (int)((long)chunks * t / n) * 32, c1 = (int)((long)chunks * (t + 1) / n) * 32;
        if (c1 > N) c1 = N;
        if (c0 < c1) tsr_bf16_pack_b(transB, K, N, B, ldb, c0, c1 - c0, pk->words);
    }
}

void tsr_gemm_bf16_packed(int transA, int M, int N, int K, const float* A, int lda, const tsr_bf16_pack* pk, float* C,
                          int ldc, float beta) {
    gemm_parallel(1, transA, 0, M, N, K, A, lda, NULL, 0, pk, C, ldc, beta);
}
