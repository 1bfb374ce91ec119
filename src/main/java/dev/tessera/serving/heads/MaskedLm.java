package dev.tessera.serving.heads;

import java.util.List;

/**
 * The masked-language-model head: SPLADE sparse vectors ({@code Output.SPARSE}: per vocabulary entry, the max over a
 * sequence's tokens of {@code log(1 + relu(logit))}, which the engine computes). Listed as an embedding model.
 */
public record MaskedLm() implements OutputHead {

    @Override
    public String name() { return "mlm"; }

    @Override
    public Kind kind() { return Kind.EMBEDDING; }

    /**
     * One input's sparse vector from the vectors of its windows (one unless a long input was read in windows): the
     * element-wise max, i.e. the max over every window's tokens. Written into the first window's vector.
     */
    public float[] sparse(List<float[]> windows) {
        float[] v = windows.get(0);
        for (int w = 1; w < windows.size(); w++) {
            float[] next = windows.get(w);
            for (int k = 0; k < v.length; k++) v[k] = Math.max(v[k], next[k]);
        }
        return v;
    }
}
