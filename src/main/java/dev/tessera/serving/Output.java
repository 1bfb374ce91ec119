package dev.tessera.serving;

/** What a request wants from the model for each of its sequences. */
public enum Output {
    /** Classifier / regression logits: {@code [labels]} per sequence. */
    LOGITS,
    /** Mean-pooled sentence embedding: {@code [hidden]} per sequence. */
    EMBEDDING,
    /** Every token's last hidden state, row after row: {@code [length × hidden]} per sequence. */
    TOKENS
}
