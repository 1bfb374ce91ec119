package dev.tessera.serving.heads;

import java.util.List;

/**
 * A classifier (pooler + classifier, {@code num_labels} outputs): softmax over the labels unless raw; a multi-label
 * one ({@code problem_type} {@code multi_label_classification}, trained with one sigmoid per label) scores each label
 * on its own, by its sigmoid. As a reranker (one or two labels): one logit (a cross-encoder) gives its sigmoid; two
 * give the probability of the second, the positive class by convention ("equivalent", "entailment", "pos"); raw: that
 * logit itself.
 *
 * @param multiLabel whether labels are independent (sigmoid each) rather than exclusive (softmax over them)
 */
public record Classifier(List<String> labels, boolean multiLabel) implements LabelHead {

    /** Hugging Face's {@code problem_type} of a multi-label classifier. */
    public static final String MULTI_LABEL = "multi_label_classification";

    public Classifier {
        labels = List.copyOf(labels);
    }

    @Override
    public String name() { return "classification"; }

    @Override
    public String problemType() { return multiLabel ? MULTI_LABEL : "single_label_classification"; }

    @Override
    public float[] scores(float[] logits, boolean raw) {
        return raw ? logits : multiLabel ? sigmoid(logits) : softmax(logits);
    }

    @Override
    public boolean ranks() { return labels.size() <= 2; }

    @Override
    public float pairScore(float[] logits, boolean raw) {
        if (logits.length == 1) return raw ? logits[0] : sigmoid(logits[0]);
        return raw ? logits[1] : scores(logits, false)[1];
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

    /** The sigmoid of each logit. */
    static float[] sigmoid(float[] logits) {
        float[] out = new float[logits.length];
        for (int i = 0; i < logits.length; i++) out[i] = sigmoid(logits[i]);
        return out;
    }

    /** {@code 1 / (1 + exp(-x))}. */
    static float sigmoid(float x) {
        return (float) (1 / (1 + Math.exp(-x)));
    }
}
