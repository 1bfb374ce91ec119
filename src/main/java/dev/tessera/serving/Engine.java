package dev.tessera.serving;

/**
 * Runs batches through one model: one implementation per ONNX dialect × execution provider
 * ({@code serving.ort}). The batcher schedules and never touches ONNX Runtime itself; an engine is used
 * by one thread at a time (the model's batcher).
 */
public interface Engine extends AutoCloseable {

    /** Per sequence of the batch, in order: the rows asked for in {@link Batch#outputs()} (null otherwise). */
    record Result(float[][] logits, float[][] embeddings, float[][] tokens, float[][] sparse) {
        public Result(float[][] logits, float[][] embeddings, float[][] tokens) { this(logits, embeddings, tokens, null); }

        public float[] row(Output output, int i) {
            return switch (output) {
                case LOGITS -> logits[i];
                case EMBEDDING -> embeddings[i];
                case TOKENS -> tokens[i];
                case SPARSE -> sparse[i];
            };
        }
    }

    Result run(Batch batch) throws Exception;

    /**
     * True when a run costs the batch's real tokens (Σ Lᵢ, attention Σ Lᵢ²); false when the engine pads to
     * {@code size × maxLength}, so the batcher should group sequences of similar length.
     */
    boolean packed();

    /** What it runs and where, as {@code /info} reports it. */
    Description description();

    record Description(String dialect, String precision, String device, String note) {}

    @Override
    void close();
}
