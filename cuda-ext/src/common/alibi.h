/* ALiBi slopes (DESIGN.md §3), shared by libtessera (tsr_alibi_slopes) and libtessera_ortops. */
#ifndef TSR_ALIBI_H
#define TSR_ALIBI_H
#include <math.h>

/* out[n] for n > 0 heads: the p = 2^floor(log2 n) slopes 2^(-8(k+1)/p), then the even-indexed slopes
 * of 2p heads, 2^(-8(2i+1)/(2p)), for the remaining n - p heads */
static inline void tsr_alibi_slopes_fill(int n, float* out) {
    int p = 1;
    while (p * 2 <= n) p *= 2;
    for (int k = 0; k < p; k++) out[k] = (float)pow(2.0, -8.0 * (k + 1) / p);
    for (int i = 0; i < n - p; i++) out[p + i] = (float)pow(2.0, -8.0 * (2 * i + 1) / (2.0 * p));
}
#endif
