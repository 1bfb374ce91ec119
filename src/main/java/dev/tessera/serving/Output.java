package dev.tessera.serving;

/** What a request wants from the model for each of its sequences. */
public enum Output {
    /** Classifier / regression logits: {@code [labels]} per sequence. */
    LOGITS,
    /** Mean-pooled sentence embedding: {@code [hidden]} per sequence. */
    EMBEDDING,
    /** Every token's last hidden state, row after row: {@code [length × hidden]} per sequence. */
    TOKENS,
    /**
     * SPLADE's sparse lexical vector, for a model with an MLM head: over the vocabulary, {@code max over tokens of
     * log(1 + relu(mlm_logit))}, dense ({@code [vocab]}, mostly zeros) per sequence.
     */
    SPARSE
}
