package dev.tessera.model;

/** What sits on top of the encoder. */
public enum Head {
    /** Bare encoder: last_hidden_state (and mean-pooled sentence embedding). */
    NONE,
    /** pooler + classifier with num_labels &gt; 1, softmax scores. */
    CLASSIFICATION,
    /** pooler + classifier with one output, MSE loss, raw score. */
    REGRESSION,
    /** cls.predictions transform + decoder tied to the word embeddings. */
    MLM
}
