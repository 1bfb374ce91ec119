package dev.tessera.data;

import java.util.SplittableRandom;

/**
 * The shuffled order of an epoch: a pure function of (seed, epoch, n), so a resumed run reproduces it.
 *
 * <p>Method: a {@link SplittableRandom} seeded with {@code mix(seed, epoch)} (the SplitMix64 finaliser
 * applied to {@code seed ^ (epoch · 0x9E3779B97F4A7C15)}) drives a Fisher–Yates shuffle of 0..n-1, from the
 * last position down: for i = n-1 … 1, swap i with {@code nextInt(i + 1)}. SplittableRandom's algorithm
 * is specified by the JDK, so the order is the same on every JVM.
 */
public final class DataOrder {

    private DataOrder() {}

    public static int[] permutation(long seed, int epoch, int n) {
        if (n < 0) throw new IllegalArgumentException("n must be >= 0, got " + n);
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        SplittableRandom rnd = new SplittableRandom(mix(seed, epoch));
        for (int i = n - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    /** Combines two numbers into a well-spread 64-bit seed (SplitMix64 finaliser). */
    public static long mix(long a, long b) {
        long z = a ^ (b * 0x9E3779B97F4A7C15L);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
