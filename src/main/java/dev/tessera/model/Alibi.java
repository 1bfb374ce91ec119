package dev.tessera.model;

/** ALiBi slopes exactly as MosaicBERT computes them (symmetric bias {@code -slope_h * |i - j|}). */
public final class Alibi {
    private Alibi() {}

    public static double[] slopes(int numHeads) {
        int p = Integer.highestOneBit(numHeads);
        double[] out = new double[numHeads];
        double[] base = powerOfTwoSlopes(p);
        System.arraycopy(base, 0, out, 0, p);
        if (p != numHeads) {
            // the even-indexed slopes of 2p heads, n - p of them
            double[] extra = powerOfTwoSlopes(2 * p);
            for (int i = 0; i < numHeads - p; i++) out[p + i] = extra[2 * i];
        }
        return out;
    }

    private static double[] powerOfTwoSlopes(int n) {
        double[] s = new double[n];
        for (int k = 0; k < n; k++) s[k] = Math.pow(2.0, -8.0 * (k + 1) / n);
        return s;
    }
}
