package dev.tessera.glue;

import java.util.Arrays;

/** Evaluation metrics of GLUE. Inputs are parallel arrays of predictions and gold values. */
public final class Metrics {

    private Metrics() {}

    /** Fraction of predictions equal to the gold label. */
    public static double accuracy(int[] pred, int[] gold) {
        check(pred.length, gold.length);
        int ok = 0;
        for (int i = 0; i < pred.length; i++) if (pred[i] == gold[i]) ok++;
        return (double) ok / pred.length;
    }

    /** Binary F1 with class 1 as positive: 2·TP / (2·TP + FP + FN); 0 when there is no positive at all. */
    public static double f1(int[] pred, int[] gold) {
        check(pred.length, gold.length);
        long tp = 0, fp = 0, fn = 0;
        for (int i = 0; i < pred.length; i++) {
            if (pred[i] == 1 && gold[i] == 1) tp++;
            else if (pred[i] == 1) fp++;
            else if (gold[i] == 1) fn++;
        }
        long d = 2 * tp + fp + fn;
        return d == 0 ? 0.0 : 2.0 * tp / d;
    }

    /**
     * Matthews correlation coefficient (multi-class form of Gorodkin 2004; for two classes it is
     * (TP·TN − FP·FN) / √((TP+FP)(TP+FN)(TN+FP)(TN+FN))). 0 when a denominator term is 0.
     */
    public static double matthews(int[] pred, int[] gold) {
        check(pred.length, gold.length);
        int k = 0;
        for (int i = 0; i < pred.length; i++) k = Math.max(k, Math.max(pred[i], gold[i]) + 1);
        long[] t = new long[k], p = new long[k];
        long c = 0, s = pred.length;
        for (int i = 0; i < pred.length; i++) {
            t[gold[i]]++;
            p[pred[i]]++;
            if (pred[i] == gold[i]) c++;
        }
        double pt = 0, pp = 0, tt = 0;
        for (int j = 0; j < k; j++) {
            pt += (double) p[j] * t[j];
            pp += (double) p[j] * p[j];
            tt += (double) t[j] * t[j];
        }
        double den = Math.sqrt((double) s * s - pp) * Math.sqrt((double) s * s - tt);
        return den == 0 ? 0.0 : ((double) c * s - pt) / den;
    }

    /** Pearson correlation; NaN when either side is constant. */
    public static double pearson(double[] x, double[] y) {
        check(x.length, y.length);
        int n = x.length;
        double mx = 0, my = 0;
        for (int i = 0; i < n; i++) { mx += x[i]; my += y[i]; }
        mx /= n;
        my /= n;
        double sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < n; i++) {
            double dx = x[i] - mx, dy = y[i] - my;
            sxy += dx * dy;
            sxx += dx * dx;
            syy += dy * dy;
        }
        return sxy / Math.sqrt(sxx * syy);
    }

    /** Spearman correlation: Pearson of the ranks, tied values getting the average of their ranks. */
    public static double spearman(double[] x, double[] y) {
        check(x.length, y.length);
        return pearson(ranks(x), ranks(y));
    }

    /** 1-based ranks; a group of equal values shares the mean of the ranks it spans. */
    public static double[] ranks(double[] v) {
        Integer[] idx = new Integer[v.length];
        for (int i = 0; i < v.length; i++) idx[i] = i;
        Arrays.sort(idx, (a, b) -> Double.compare(v[a], v[b]));
        double[] r = new double[v.length];
        int i = 0;
        while (i < v.length) {
            int j = i;
            while (j + 1 < v.length && v[idx[j + 1]] == v[idx[i]]) j++;
            double avg = (i + j) / 2.0 + 1;
            for (int k = i; k <= j; k++) r[idx[k]] = avg;
            i = j + 1;
        }
        return r;
    }

    /** Index of the largest logit per row of a row-major {@code [n, k]} array. */
    public static int[] argmax(float[] logits, int k) {
        int n = logits.length / k;
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            int best = 0;
            for (int j = 1; j < k; j++) if (logits[i * k + j] > logits[i * k + best]) best = j;
            out[i] = best;
        }
        return out;
    }

    private static void check(int a, int b) {
        if (a != b) throw new IllegalArgumentException("predictions (" + a + ") and gold values (" + b + ") differ in number");
        if (a == 0) throw new IllegalArgumentException("no examples to evaluate");
    }
}
