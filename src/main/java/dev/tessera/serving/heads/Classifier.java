package dev.tessera.serving.heads;

import java.util.List;

/**
 * A classifier (pooler + classifier, {@code num_labels} outputs): softmax over the labels unless raw. As a reranker
 * (one or two labels): one logit (a cross-encoder) gives its sigmoid; two give the probability of the second, the
 * positive class by convention ("equivalent", "entailment", "pos"); raw: that logit itself.
 */
public record Classifier(List<String> labels) implements LabelHead {

    public Classifier {
        labels = List.copyOf(labels);
    }

    @Override
    public String name() { return "classification"; }

    @Override
    public String problemType() { return "single_label_classification"; }

    @Override
    public float[] scores(float[] logits, boolean raw) {
        return raw ? logits : softmax(logits);
    }

    @Override
    public boolean ranks() { return labels.size() <= 2; }

    @Override
    public float pairScore(float[] logits, boolean raw) {
        if (logits.length == 1) return raw ? logits[0] : sigmoid(logits[0]);
        return raw ? logits[1] : softmax(logits)[1];
    }

    /** {@code exp(x_i - max) / sum_j exp(x_j - max)}: the max subtracted so that no exponent overflows. */
    static float[] softmax(float[] logits) {
        float max = Float.NEGATIVE_INFINITY;
        for (float v : logits) max = Math.max(max, v);
        double sum = 0;
        float[] out = new float[logits.length];
        for (int i = 0; i < logits.length; i++) {
            out[i] = (float) Math.exp(logits[i] - max);
            sum += out[i];
        }
        for (int i = 0; i < out.length; i++) out[i] /= (float) sum;
        return out;
    }

    /** {@code 1 / (1 + exp(-x))}. */
    static float sigmoid(float x) {
        return (float) (1 / (1 + Math.exp(-x)));
    }
}
