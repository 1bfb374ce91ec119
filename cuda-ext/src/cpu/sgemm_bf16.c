/*
 * bf16 GEMM for the CPU backend's mixed precision (AVX512-BF16): op(A) and op(B) are rounded to bf16
 * (round to nearest even) while they are packed, the products of bf16 pairs are accumulated in fp32 by
 * vdpbf16ps. Same BLIS-style loop nest as sgemm.c; this translation unit is compiled with
 * -mavx512f -mavx512bw -mavx512bf16 and must only be entered after tsr_gemm_bf16_supported() said yes.
 *
 * Packed layout: one 32-bit word = the bf16 pair (k, k+1) of one row (A) or column (B), low half = k.
 *   Ap: MR-row panels, each ceil(kc/2) × MR words (pair-major); Bp: NR-column panels, ceil(kc/2) × NR.
 * vdpbf16ps multiplies a broadcast A pair with 16 B pairs and adds both products to 16 fp32 sums, so
 * one instruction does 64 flops (an fp32 FMA: 32). An odd kc is padded with a zero partner.
 */
#include "sgemm_bf16.h"

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define BKC 384 /* k per block (even): B panel of 32 columns = 24 KB of bf16, A panel of 12 rows = 9 KB */
#define BMC 192
#define BNC 2048
#define BMR 12
#define BNR 32

size_t tsr_gemm_bf16_workspace_floats(void) {
    return (size_t)BMC * BKC / 2 + (size_t)BKC * BNC / 2 + BMR * BNR + 64;
}

static inline __m512bh as_bh(__m512i v) { return (__m512bh)v; }

static void kernel_bf16_12x32(int kp, const uint32_t* A, const uint32_t* B, float* C, int ldc, int acc) {
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00,
           c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00, c80 = c00, c81 = c00,
           c90 = c00, c91 = c00, ca0 = c00, ca1 = c00, cb0 = c00, cb1 = c00;
    for (int p = 0; p < kp; p++) {
        __m512bh b0 = as_bh(_mm512_load_si512(B)), b1 = as_bh(_mm512_load_si512(B + 16));
        __m512bh a;
#define ROW(r, x0, x1) a = as_bh(_mm512_set1_epi32((int)A[r])); x0 = _mm512_dpbf16_ps(x0, a, b0); x1 = _mm512_dpbf16_ps(x1, a, b1);
        ROW(0, c00, c01) ROW(1, c10, c11) ROW(2, c20, c21) ROW(3, c30, c31) ROW(4, c40, c41) ROW(5, c50, c51)
        ROW(6, c60, c61) ROW(7, c70, c71) ROW(8, c80, c81) ROW(9, c90, c91) ROW(10, ca0, ca1) ROW(11, cb0, cb1)
#undef ROW
        A += BMR;
        B += BNR;
    }
#define ST(r, x0, x1) do { float* q = C + (size_t)(r) * ldc; \
        if (acc) { x0 = _mm512_add_ps(x0, _mm512_loadu_ps(q)); x1 = _mm512_add_ps(x1, _mm512_loadu_ps(q + 16)); } \
        _mm512_storeu_ps(q, x0); _mm512_storeu_ps(q + 16, x1); } while (0)
    ST(0, c00, c01); ST(1, c10, c11); ST(2, c20, c21); ST(3, c30, c31); ST(4, c40, c41); ST(5, c50, c51);
    ST(6, c60, c61); ST(7, c70, c71); ST(8, c80, c81); ST(9, c90, c91); ST(10, ca0, ca1); ST(11, cb0, cb1);
#undef ST
}

/* In-register transpose of 16 × 16 32-bit words: after it, r[k] holds word k of every row. */
static inline void transpose16(__m512i r[16]) {
    __m512i t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        r[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        r[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        r[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        r[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (int h = 0; h < 2; h++)
        for (int i = 0; i < 4; i++) {
            t[8 * h + i] = _mm512_shuffle_i32x4(r[8 * h + i], r[8 * h + 4 + i], 0x88);
            t[8 * h + 4 + i] = _mm512_shuffle_i32x4(r[8 * h + i], r[8 * h + 4 + i], 0xdd);
        }
    for (int i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_i32x4(t[i], t[8 + i], 0x88);
        r[8 + i] = _mm512_shuffle_i32x4(t[i], t[8 + i], 0xdd);
    }
}

/* 32 floats (k .. k+31 of a row, the first `n` of them present) -> 16 words: pairs (k+2w, k+2w+1) */
static inline __m512i row_pairs(const float* p, int n) {
    __mmask16 lo = n >= 16 ? 0xffff : (__mmask16)((1u << n) - 1);
    __mmask16 hi = n >= 32 ? 0xffff : n <= 16 ? 0 : (__mmask16)((1u << (n - 16)) - 1);
    __m512 a = _mm512_maskz_loadu_ps(lo, p), b = _mm512_maskz_loadu_ps(hi, p + 16);
    return (__m512i)_mm512_cvtne2ps_pbh(b, a);
}

/* Rows contiguous in k (A not transposed, B transposed): rows[i] + k, i < nrows <= 16, k < kc.
 * dst[p·ld + i] = pair p of row i, for every lane i < width (rows >= nrows are written as zeros). */
static void pack_rows(const float* const* rows, int nrows, int kc, uint32_t* dst, int ld, int width) {
    const __mmask16 wm = (__mmask16)((1u << width) - 1);
    for (int k = 0; k < kc; k += 32) {
        int n = kc - k < 32 ? kc - k : 32;
        __m512i r[16];
        for (int i = 0; i < 16; i++) r[i] = i < nrows ? row_pairs(rows[i] + k, n) : _mm512_setzero_si512();
        transpose16(r);
        int np = (n + 1) / 2;
        for (int w = 0; w < np; w++) _mm512_mask_storeu_epi32(dst + (size_t)(k / 2 + w) * ld, wm, r[w]);
    }
}

/* Rows strided in k (A transposed, B not transposed): element (k, i) at src[k·lds + i], i < n <= 16.
 * dst[p·ld + i] = (src[2p, i], src[2p+1, i]) for every lane i < width (zeros beyond n). */
static void pack_strided(const float* src, int lds, int n, int kc, uint32_t* dst, int ld, int width) {
    const __mmask16 lm = (__mmask16)((1u << n) - 1), wm = (__mmask16)((1u << width) - 1);
    /* 16-bit lanes of cvtne2ps_pbh(odd, even): even row in 0..15, odd row in 16..31 -> interleave */
    const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                         23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    for (int k = 0; k < kc; k += 2) {
        __m512 e = _mm512_maskz_loadu_ps(lm, src + (size_t)k * lds);
        __m512 o = k + 1 < kc ? _mm512_maskz_loadu_ps(lm, src + (size_t)(k + 1) * lds) : _mm512_setzero_ps();
        __m512i v = _mm512_permutexvar_epi16(idx, (__m512i)_mm512_cvtne2ps_pbh(o, e));
        _mm512_mask_storeu_epi32(dst + (size_t)(k / 2) * ld, wm, v);
    }
}

static void pack_A(int transA, const float* A, int lda, int i0, int mc, int p0, int kc, uint32_t* Ap) {
    const int kp = (kc + 1) / 2;
    for (int ir = 0; ir < mc; ir += BMR) {
        int mr = mc - ir < BMR ? mc - ir : BMR;
        uint32_t* dst = Ap + (size_t)ir * kp;
        if (!transA) {
            const float* rows[16];
            for (int i = 0; i < mr; i++) rows[i] = A + (size_t)(i0 + ir + i) * lda + p0;
            pack_rows(rows, mr, kc, dst, BMR, BMR);
        } else {
            pack_strided(A + (size_t)p0 * lda + i0 + ir, lda, mr, kc, dst, BMR, BMR);
        }
    }
}

static void pack_B(int transB, const float* B, int ldb, int j0, int nc, int p0, int kc, uint32_t* Bp) {
    const int kp = (kc + 1) / 2;
    for (int jr = 0; jr < nc; jr += BNR) {
        int nr = nc - jr < BNR ? nc - jr : BNR;
        uint32_t* dst = Bp + (size_t)jr * kp;
        for (int h = 0; h < BNR; h += 16) {
            int n = nr - h < 0 ? 0 : nr - h > 16 ? 16 : nr - h;
            if (!transB) {
                if (n > 0) pack_strided(B + (size_t)p0 * ldb + j0 + jr + h, ldb, n, kc, dst + h, BNR, 16);
                else
                    for (int p = 0; p < kp; p++) memset(dst + (size_t)p * BNR + h, 0, 16 * sizeof(uint32_t));
            } else {
                const float* cols[16];
                for (int j = 0; j < n; j++) cols[j] = B + (size_t)(j0 + jr + h + j) * ldb + p0;
                pack_rows(cols, n, kc, dst + h, BNR, 16);
            }
        }
    }
}

/* words of a whole packed B (K x N): per k block, ceil(kc/2) pairs x N rounded up to the panel width */
size_t tsr_bf16_packed_words(int K, int N) {
    size_t npad = (size_t)(N + BNR - 1) / BNR * BNR, total = 0;
    for (int pc = 0; pc < K; pc += BKC) total += (size_t)((K - pc < BKC ? K - pc : BKC) + 1) / 2 * npad;
    return total;
}

void tsr_bf16_pack_b(int transB, int K, int N, const float* B, int ldb, int j0, int nc, uint32_t* out) {
    size_t npad = (size_t)(N + BNR - 1) / BNR * BNR, at = 0;
    for (int pc = 0; pc < K; pc += BKC) {
        int kc = K - pc < BKC ? K - pc : BKC, kp = (kc + 1) / 2;
        pack_B(transB, B, ldb, j0, nc, pc, kc, out + at + (size_t)j0 * kp);
        at += (size_t)kp * npad;
    }
}

/* Bpk: NULL (pack B here), or B packed whole by tsr_bf16_pack_b with width Ntot, of which this call
 * computes columns [joff, joff + N) */
static void gemm(int transA, int transB, int M, int N, int K, const float* A, int lda, const float* B, int ldb,
                 const uint32_t* Bpk, int Ntot, int joff, float* C, int ldc, float beta, float* ws) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        if (beta == 0.0f)
            for (int i = 0; i < M; i++) memset(C + (size_t)i * ldc, 0, (size_t)N * sizeof(float));
        return;
    }
    const size_t npad = (size_t)(Ntot + BNR - 1) / BNR * BNR;
    uint32_t* Ap = (uint32_t*)ws;
    uint32_t* Bp = Ap + (size_t)BMC * BKC / 2;
    float* tile = (float*)(Bp + (size_t)BKC * BNC / 2);
    for (int jc = 0; jc < N; jc += BNC) {
        int nc = N - jc < BNC ? N - jc : BNC;
        size_t at = 0; /* start of k block pc in Bpk */
        for (int pc = 0; pc < K; pc += BKC) {
            int kc = K - pc < BKC ? K - pc : BKC, kp = (kc + 1) / 2;
            int acc = pc > 0 || beta != 0.0f;
            const uint32_t* Bb;
            if (Bpk) {
                Bb = Bpk + at + (size_t)(joff + jc) * kp;
                at += (size_t)kp * npad;
            } else {
                pack_B(transB, B, ldb, jc, nc, pc, kc, Bp);
                Bb = Bp;
            }
            for (int ic = 0; ic < M; ic += BMC) {
                int mc = M - ic < BMC ? M - ic : BMC;
                pack_A(transA, A, lda, ic, mc, pc, kc, Ap);
                for (int jr = 0; jr < nc; jr += BNR) {
                    int nr = nc - jr < BNR ? nc - jr : BNR;
                    for (int ir = 0; ir < mc; ir += BMR) {
                        int mr = mc - ir < BMR ? mc - ir : BMR;
                        float* Ct = C + (size_t)(ic + ir) * ldc + jc + jr;
                        const uint32_t* a = Ap + (size_t)ir * kp;
                        const uint32_t* b = Bb + (size_t)jr * kp;
                        if (mr == BMR && nr == BNR) {
                            kernel_bf16_12x32(kp, a, b, Ct, ldc, acc);
                        } else {
                            kernel_bf16_12x32(kp, a, b, tile, BNR, 0);
                            for (int i = 0; i < mr; i++)
                                for (int j = 0; j < nr; j++)
                                    Ct[(size_t)i * ldc + j] = acc ? Ct[(size_t)i * ldc + j] + tile[i * BNR + j] : tile[i * BNR + j];
                        }
                    }
                }
            }
        }
    }
}

void tsr_gemm_bf16_serial(int transA, int transB, int M, int N, int K, const float* A, int lda, const float* B, int ldb,
                          float* C, int ldc, float beta, float* ws) {
    gemm(transA, transB, M, N, K, A, lda, B, ldb, NULL, N, 0, C, ldc, beta, ws);
}

void tsr_gemm_bf16_packed_serial(int transA, int M, int N, int K, const float* A, int lda, const uint32_t* Bpk, int Ntot,
                                 int joff, float* C, int ldc, float beta, float* ws) {
    gemm(transA, 0, M, N, K, A, lda, NULL, 0, Bpk, Ntot, joff, C, ldc, beta, ws);
}
