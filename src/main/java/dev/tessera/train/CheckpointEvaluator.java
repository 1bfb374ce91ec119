package dev.tessera.train;

import dev.tessera.data.Batch;
import dev.tessera.data.FinetuneEncoder;
import dev.tessera.data.LabelSet;
import dev.tessera.data.ShardSet;
import dev.tessera.data.SpecialTokens;
import dev.tessera.glue.GlueTask;
import dev.tessera.hf.HfCheckpoint;
import dev.tessera.kernels.NativeLibrary;
import dev.tessera.kernels.NativeModel;
import dev.tessera.model.BertModel;
import dev.tessera.model.ModelConfig;
import dev.tessera.model.Variant;
import dev.tessera.tokenize.TextTokenizer;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A saved checkpoint scored on the native CPU backend without dropout: its weights, and its own tokenizer for the
 * examples. The one way to evaluate a checkpoint directory: the {@code eval} command and the study's test scores
 * ({@link #evaluate}, a classification or regression head), the study's held-out MLM loss by length
 * ({@link #evaluateMlm}). A run's own periodic evaluations score the model in memory ({@link Evaluator}).
 */
public final class CheckpointEvaluator implements AutoCloseable {
    private final Path dir;
    private final BertModel model;
    private final int threads;
    private TextTokenizer tokenizer; // opened when the examples are first encoded

    private CheckpointEvaluator(Path dir, BertModel model, int threads) {
        this.dir = dir;
        this.model = model;
        this.threads = threads;
    }

    /** Loads the weights of {@code dir}; {@code threads} CPU threads of the native backend (0: its default). */
    public static CheckpointEvaluator open(Path dir, int threads) {
        return new CheckpointEvaluator(dir, HfCheckpoint.load(dir), threads);
    }

    public ModelConfig config() { return model.config(); }

    public BertModel model() { return model; }

    /** Encodes labelled examples with the checkpoint's tokenizer, at most {@code maxLen} tokens each. */
    public FinetuneEncoder encoder(int maxLen) {
        return new FinetuneEncoder(tokenizer()::ids, specials(), maxLen);
    }

    /**
     * The task's metrics, {@code loss} and {@code examples} of the classification or regression head on
     * {@code examples} (all of them, in order), packed under {@code tokenBudget} tokens and {@code maxSeqs} sequences.
     */
    public Map<String, Double> evaluate(List<FinetuneEncoder.Encoded> examples, LabelSet labels, GlueTask task,
                                        int tokenBudget, int maxSeqs) {
        try (NativeModel m = nativeModel(tokenBudget, maxSeqs)) {
            return Evaluator.evaluate(m, examples, labels, task, tokenBudget, maxSeqs, Integer.MAX_VALUE);
        }
    }

    /**
     * The logits of the classification or regression head for every example, in order ({@code [examples, outputs]}
     * row-major), packed under {@code tokenBudget} tokens and {@code maxSeqs} sequences; the examples' labels are not read.
     * A distillation teacher's pass over the training rows ({@link Distillation}).
     */
    public float[] logits(List<FinetuneEncoder.Encoded> examples, int tokenBudget, int maxSeqs) {
        int k = model.config().isRegression() ? 1 : model.config().numLabels();
        float[] all = new float[Math.multiplyExact(examples.size(), k)];
        int[] order = java.util.stream.IntStream.range(0, examples.size()).toArray();
        try (NativeModel m = nativeModel(tokenBudget, maxSeqs)) {
            float[][] out = new float[1][];
            int row = 0;
            for (Batch b : FinetuneEncoder.batches(examples, order, maxSeqs, tokenBudget)) {
                m.forward(b.withoutLabels(), 0, 0, false, out);
                System.arraycopy(out[0], 0, all, row * k, b.numSequences() * k);
                row += b.numSequences();
            }
        }
        return all;
    }

    /**
     * Held-out MLM loss and masked-token accuracy of the MLM head on token shards built by a pretraining run
     * ({@code shard_dir}/eval), cut into sequences of at most {@code maxLen} tokens and masked at {@code maskRate} with
     * a fixed seed: the first {@code batches} microbatches of {@code tokenBudget} tokens. Used to compare
     * architectures at one mask rate and across lengths.
     */
    public Map<String, Double> evaluateMlm(Path evalShards, int maxLen, double maskRate, int batches, int tokenBudget, long seed) {
        ModelConfig cfg = model.config();
        if (cfg.variant() == Variant.BERT && maxLen > cfg.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("length " + maxLen + " exceeds the " + cfg.maxPositionEmbeddings() + " learned positions");
        }
        SpecialTokens specials = specials();
        int budget = Math.max(tokenBudget, maxLen), maxSeqs = budget / 3 + 1;
        try (ShardSet set = ShardSet.open(evalShards); NativeModel m = nativeModel(budget, maxSeqs)) {
            return Pretrainer.evaluate(m, Pretrainer.heldOut(set, maxLen, specials, seed, maskRate, cfg.vocabSize(), batches,
                    budget, maxSeqs));
        }
    }

    private NativeModel nativeModel(int tokenBudget, int maxSeqs) {
        if (threads > 0) NativeLibrary.get().setNumThreads(threads);
        return NativeModel.fromBertModel(model, 0f, 0f, tokenBudget, maxSeqs, NativeLibrary.Backend.CPU);
    }

    private TextTokenizer tokenizer() {
        if (tokenizer == null) tokenizer = TextTokenizer.load(dir);
        return tokenizer;
    }

    private SpecialTokens specials() { return TrainingSetup.specials(tokenizer(), dir); }

    @Override
    public void close() {
        if (tokenizer != null) tokenizer.close();
    }
}
