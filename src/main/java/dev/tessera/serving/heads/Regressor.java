package dev.tessera.serving.heads;

import java.util.List;

/** A regression head (one output, e.g. STS-B or a cross-encoder trained with MSE): its value, raw or not. */
public record Regressor(List<String> labels) implements LabelHead {

    public Regressor {
        labels = List.copyOf(labels);
    }

    @Override
    public String name() { return "regression"; }

    @Override
    public String problemType() { return "regression"; }

    @Override
    public float[] scores(float[] logits, boolean raw) { return logits; }

    @Override
    public boolean ranks() { return true; }

    @Override
    public float pairScore(float[] logits, boolean raw) { return logits[0]; }
}
