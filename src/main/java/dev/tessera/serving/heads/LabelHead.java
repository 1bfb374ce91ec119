package dev.tessera.serving.heads;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * A head with one output per label (a classifier or a regressor): /predict's labelled scores and, where it can,
 * /rerank's pair score, from one sequence's logits ({@code Output.LOGITS}).
 */
public sealed interface LabelHead extends OutputHead permits Classifier, Regressor {

    /** The label names in id order ({@code id2label}). */
    List<String> labels();

    /** {@code problem_type} as Hugging Face spells it. */
    String problemType();

    /** One sequence's score per label, in label order; {@code raw}: the logits themselves. */
    float[] scores(float[] logits, boolean raw);

    /** Whether it scores a (query, text) pair for /rerank. */
    boolean ranks();

    /** The relevance of one (query, text) pair from its logits (only when {@link #ranks()}). */
    float pairScore(float[] logits, boolean raw);

    @Override
    default Kind kind() {
        return labels().size() == 1 ? Kind.RERANKER : Kind.CLASSIFIER;
    }

    /** One sequence's labels with their scores, best first (/predict). */
    default List<LabelScore> predict(float[] logits, boolean raw) {
        float[] scores = scores(logits, raw);
        List<String> labels = labels();
        List<LabelScore> row = new ArrayList<>(scores.length);
        for (int i = 0; i < scores.length; i++) row.add(new LabelScore(labels.get(i), scores[i]));
        row.sort(Comparator.comparingDouble(LabelScore::score).reversed());
        return row;
    }
}
