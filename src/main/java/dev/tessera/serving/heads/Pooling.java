package dev.tessera.serving.heads;

import dev.tessera.serving.ServingException;
import java.util.Arrays;
import java.util.List;

/**
 * The encoder side every model has, whatever its {@link OutputHead}: mean-pooled sentence vectors
 * ({@code Output.EMBEDDING}, TEI's pooling "mean") and every token's vector ({@code Output.TOKENS}).
 *
 * @param width the hidden size: a sentence vector's length and a token vector's
 */
public record Pooling(int width) {

    /** {@code dimensions} (Matryoshka) as asked: positive and at most the model's width. */
    public void checkDimensions(Integer dimensions, String model) {
        if (dimensions == null) return;
        if (dimensions <= 0) throw new ServingException.Unsupported("`dimensions` should be positive, got " + dimensions);
        if (dimensions > width) {
            throw new ServingException.Unsupported("`dimensions` should be smaller than the maximum embedding dimension: "
                    + dimensions + " > " + width + " (the width of model '" + model + "')");
        }
    }

    /**
     * One input's sentence vector from the mean-pooled vectors of its windows (one unless a long input was read in
     * windows; {@code windows} are their token ids): pooled by {@link #poolWindows}, then the first {@code dimensions}
     * components, then L2-normalised when {@code normalize} (TEI's order).
     */
    public float[] sentence(List<float[]> vectors, List<long[]> windows, Integer dimensions, boolean normalize) {
        float[] v = vectors.size() == 1 ? vectors.get(0) : poolWindows(vectors, windows);
        if (dimensions != null && dimensions < v.length) v = Arrays.copyOf(v, dimensions);
        if (normalize) normalize(v);
        return v;
    }

    /** One sequence's token vectors ({@code [length][width]}) from the engine's row ({@code [length × width]}, row after row). */
    public float[][] tokens(float[] flat) {
        float[][] rows = new float[flat.length / width][];
        for (int t = 0; t < rows.length; t++) rows[t] = Arrays.copyOfRange(flat, t * width, (t + 1) * width);
        return rows;
    }

    /**
     * A long input's vector from its windows: the mean of the windows' mean-pooled vectors weighted by each window's
     * token count (special tokens included), i.e. the mean over every token position of every window.
     */
    static float[] poolWindows(List<float[]> vectors, List<long[]> windows) {
        float[] out = new float[vectors.get(0).length];
        double total = 0;
        for (long[] w : windows) total += w.length;
        for (int w = 0; w < vectors.size(); w++) {
            double weight = windows.get(w).length / total;
            float[] v = vectors.get(w);
            for (int k = 0; k < out.length; k++) out[k] += (float) (weight * v[k]);
        }
        return out;
    }

    /** Scales {@code v} to unit L2 norm in place (a zero vector stays zero). */
    static void normalize(float[] v) {
        double norm = 0;
        for (float x : v) norm += x * x;
        float inv = (float) (1.0 / Math.max(Math.sqrt(norm), 1e-12));
        for (int i = 0; i < v.length; i++) v[i] *= inv;
    }
}
