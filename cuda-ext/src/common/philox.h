/*
 * Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11), the
 * counter-based generator every Tessera backend uses for dropout, so the CPU and CUDA backends
 * draw identical masks from the same (seed, step, site, element index).
 *
 * Usable from C (static inline) and CUDA (__host__ __device__). Checked against the Random123
 * known-answer vectors in tests/test_ops.c.
 */
#ifndef TSR_PHILOX_H
#define TSR_PHILOX_H

#include <math.h>
#include <stdint.h>

#if defined(__CUDACC__)
#define TSR_HD static __host__ __device__ __forceinline__
#else
#define TSR_HD static inline
#endif

#define TSR_PHILOX_M0 0xD2511F53u
#define TSR_PHILOX_M1 0xCD9E8D57u
#define TSR_PHILOX_W0 0x9E3779B9u
#define TSR_PHILOX_W1 0xBB67AE85u

typedef struct tsr_u32x4 { uint32_t v[4]; } tsr_u32x4;

TSR_HD tsr_u32x4 tsr_philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3,
                                   uint32_t k0, uint32_t k1) {
    for (int r = 0; r < 10; r++) {
        if (r > 0) { k0 += TSR_PHILOX_W0; k1 += TSR_PHILOX_W1; }
        uint64_t p0 = (uint64_t)TSR_PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)TSR_PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
    }
    tsr_u32x4 o;
    o.v[0] = c0; o.v[1] = c1; o.v[2] = c2; o.v[3] = c3;
    return o;
}

/*
 * The Tessera mapping from (seed, step, site, element index) to 32 random bits:
 *   counter = (block lo, block hi, site, step lo32) with block = index / 4,
 *   key     = (seed lo32, seed hi32 XOR step hi32),
 *   lane    = index % 4 of the 4 output words.
 * One Philox call thus serves 4 consecutive elements.
 */
TSR_HD tsr_u32x4 tsr_rng_block(uint64_t seed, uint64_t step, uint32_t site, uint64_t block) {
    return tsr_philox4x32_10((uint32_t)block, (uint32_t)(block >> 32), site, (uint32_t)step,
                             (uint32_t)seed, (uint32_t)(seed >> 32) ^ (uint32_t)(step >> 32));
}

/* Uniform in [0, 1) with 24 bits: (bits >> 8) · 2^-24 (exact in float). */
TSR_HD float tsr_u32_to_unit(uint32_t bits) { return (float)(bits >> 8) * (1.0f / 16777216.0f); }

/* Dropout keep decision for element `index`: keep iff uniform >= p. */
TSR_HD int tsr_dropout_keep(uint64_t seed, uint64_t step, uint32_t site, uint64_t index, float p) {
    tsr_u32x4 r = tsr_rng_block(seed, step, site, index >> 2);
    return tsr_u32_to_unit(r.v[index & 3]) >= p;
}

/* Standard normal (Box-Muller on lanes 0,1 / 2,3) for element `index`; used by tsr_init_params. */
TSR_HD float tsr_rng_normal(uint64_t seed, uint32_t site, uint64_t index) {
    tsr_u32x4 r = tsr_rng_block(seed, 0, site, index >> 1);
    int pair = (int)(index & 1) * 2;
    /* u1 in (0, 1] so log is finite */
    float u1 = ((float)(r.v[pair] >> 8) + 1.0f) * (1.0f / 16777216.0f);
    float u2 = tsr_u32_to_unit(r.v[pair + 1]);
    return sqrtf(-2.0f * logf(u1)) * cosf(6.283185307179586f * u2);
}

#endif /* TSR_PHILOX_H */
