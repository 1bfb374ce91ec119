package dev.tessera.model;

/** The two encoder families Tessera runs. Detected from the weights, never from {@code model_type}. */
public enum Variant {
    /** ALiBi, fused Wqkv, GeGLU ({@code gated_layers}), no position embeddings. */
    MOSAIC_BERT,
    /** bert-base-uncased layout: learned positions, separate q/k/v, GELU FFN. */
    BERT
}
