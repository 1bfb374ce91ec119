package dev.tessera.train;

import dev.tessera.data.SpecialTokens;
import dev.tessera.kernels.NativeConfig;
import dev.tessera.model.ModelConfig;
import dev.tessera.tokenize.TextTokenizer;

import java.nio.file.Path;

/**
 * What {@link Pretrainer} and {@link Finetuner} set up alike when a run starts, in this order: the recipe's paths
 * checked and resolved ({@link Recipe#confined}); the data-parallel rendezvous (first, so that ranks started with
 * another recipe are refused before anything is written); the log (rank 0 logs, the other ranks are silent); the
 * checkpointer of the output directory and, on rank 0, the checkpoint to resume from; the tokenizer and its special
 * tokens. Closing it closes the tokenizer, then leaves the data-parallel job.
 */
final class TrainingSetup implements AutoCloseable {
    /** The recipe with its paths confined: what the run uses. */
    final Recipe recipe;
    final TrainOptions options;
    final DataParallel dp;
    final TrainingListener log;
    final Path tokenizerDir;
    final Checkpointer checkpointer;
    /** The checkpoint rank 0 resumes from; null for a fresh start and on the other ranks (they receive rank 0's). */
    final Path resumeFrom;
    final TextTokenizer tokenizer;
    final SpecialTokens specials;

    static TrainingSetup start(Recipe recipe, TrainOptions options) {
        Recipe confined = recipe.confined(options.access()); // paths checked and resolved now, when the run starts
        Path tokDir = Path.of(confined.data().tokenizer());
        DataParallel dp = options.distributed()
                ? DataParallel.join(confined.training().device(), DataParallel.fingerprint(confined, tokDir), System.getenv())
                : DataParallel.SINGLE;
        try {
            return new TrainingSetup(confined, options, dp, tokDir);
        } catch (RuntimeException | Error e) {
            closeQuietly(dp, e);
            throw e;
        }
    }

    private TrainingSetup(Recipe recipe, TrainOptions options, DataParallel dp, Path tokDir) {
        this.recipe = recipe;
        this.options = options;
        this.dp = dp;
        this.log = dp.isRoot() ? options.listener() : TrainingListener.NONE;
        this.tokenizerDir = tokDir;
        this.checkpointer = new Checkpointer(options.outputDirFor(recipe), tokDir, recipe.training().keepCheckpoints());
        this.resumeFrom = dp.isRoot() ? checkpointer.resumePoint(options.requireResume()).orElse(null) : null;
        this.tokenizer = TextTokenizer.load(tokDir);
        try {
            this.specials = specials(tokenizer, tokDir);
        } catch (RuntimeException e) {
            closeQuietly(tokenizer, e);
            throw e;
        }
    }

    /** Runs {@code work} through the one training loop, from {@link #resumeFrom}, as this process's rank. */
    TrainingOutcome train(ModelConfig config, NativeConfig nativeConfig, long totalSteps, TrainingLoop.Work work) {
        return new TrainingLoop(recipe, options, config, nativeConfig, totalSteps, checkpointer).run(work, resumeFrom, dp);
    }

    /** [PAD] [UNK] [CLS] [SEP] [MASK] ids of a BERT vocabulary; each must exist. */
    static SpecialTokens specials(TextTokenizer tok, Path source) {
        String[] names = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
        int[] ids = new int[names.length];
        for (int i = 0; i < names.length; i++) {
            ids[i] = tok.tokenId(names[i]);
            if (ids[i] < 0) throw new IllegalArgumentException("the tokenizer in " + source + " has no " + names[i] + " token");
        }
        return new SpecialTokens(ids[0], ids[1], ids[2], ids[3], ids[4]);
    }

    @Override
    public void close() {
        try {
            tokenizer.close();
        } finally {
            dp.close();
        }
    }

    private static void closeQuietly(AutoCloseable c, Throwable pending) {
        try {
            c.close();
        } catch (Exception s) {
            pending.addSuppressed(s);
        }
    }
}
