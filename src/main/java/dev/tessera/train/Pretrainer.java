package dev.tessera.train;

import dev.tessera.data.Batch;
import dev.tessera.data.CorpusFormat;
import dev.tessera.data.CorpusReader;
import dev.tessera.data.DataPosition;
import dev.tessera.data.MlmMasker;
import dev.tessera.data.PretrainLoader;
import dev.tessera.data.ShardSet;
import dev.tessera.data.SpecialTokens;
import dev.tessera.hf.CheckpointFiles;
import dev.tessera.kernels.NativeConfig;
import dev.tessera.kernels.NativeModel;
import dev.tessera.model.ModelConfig;
import dev.tessera.tokenize.TextTokenizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Masked-language-model pretraining of a recipe ({@code kind: pretrain}) on the native module.
 *
 * <p>The corpus is tokenized once into token shards ({@code data.shard_dir}/train, /eval); each optimizer
 * step takes {@code batch.global_batch} sequences from the seeded order, split into microbatches of at
 * most {@code batch.microbatch_tokens} tokens, masks them ({@link MlmMasker}, keyed by step and
 * microbatch) for one accumulated step of {@link TrainingLoop}, which runs the loop. Checkpoints ({@link Checkpointer}) hold
 * everything a resume needs (weights, AdamW moments, step, data position), so a resumed run computes the
 * same losses as an uninterrupted one.
 */
public final class Pretrainer extends Trainer {

    /** Seed salt of the held-out masks: fixed, so every evaluation sees the same masked tokens. */
    static final long EVAL_SALT = 0x5EED_E7A1L;

    public Pretrainer(Recipe recipe, TrainOptions options) {
        super(recipe, options, Recipe.Kind.PRETRAIN, "pretraining");
    }

    @Override
    TrainingOutcome run(TrainingSetup run) {
        Recipe.Data data = recipe.data();
        ModelConfig cfg = recipe.modelConfig();
        if (run.tokenizer.vocabSize() > cfg.vocabSize()) {
            throw new IllegalArgumentException("the tokenizer in " + run.tokenizerDir + " has " + run.tokenizer.vocabSize()
                    + " tokens but model.vocab is " + cfg.vocabSize());
        }
        int threads = options.threads() > 0 ? options.threads() : Runtime.getRuntime().availableProcessors();
        Path shardRoot = Path.of(data.shardDir());
        // rank 0 tokenizes first; the others then open its shards (a shared directory) or build their own
        if (!run.dp.isRoot()) run.dp.waitForRoot();
        try (ShardSet train = shards(shardRoot.resolve("train"), data.train(), run, threads);
             ShardSet eval = data.eval().isEmpty() ? null : shards(shardRoot.resolve("eval"), data.eval(), run, threads)) {
            if (run.dp.isRoot()) run.dp.waitForRoot();
            return train(train, eval, cfg, run);
        }
    }

    private TrainingOutcome train(ShardSet trainSet, ShardSet evalSet, ModelConfig cfg, TrainingSetup run) {
        TrainingListener log = run.log;
        DataParallel dp = run.dp;
        SpecialTokens specials = run.specials;
        Recipe.Training tr = recipe.training();
        int maxLen = recipe.model().maxSeqLen(), budget = recipe.batch().microbatchTokens(), global = recipe.batch().globalBatch();
        long seed = recipe.seed();
        boolean padded = recipe.batch().padded();
        PretrainLoader loader = new PretrainLoader(trainSet, maxLen, specials, seed, DataPosition.START);
        loader.setPadded(padded);
        if (loader.numSequences() == 0) throw new IllegalArgumentException("the training corpus has no sequences");
        long total = tr.maxSteps() != null ? tr.maxSteps()
                : (long) tr.epochs() * ((loader.numSequences() + global - 1) / global);
        MlmMasker masker = new MlmMasker(tr.maskRate(), cfg.vocabSize(), specials, seed);
        // padded microbatches hold up to twice the sequences (each short one is followed by its padding)
        int maxSeqs = Math.max(global, budget / 3 + 1) * (padded ? 2 : 1);
        NativeConfig ncfg = NativeConfig.of(cfg, recipe.model().dropout().floatValue(),
                recipe.model().attentionDropout().floatValue(), budget, maxSeqs);
        log.info(String.format("pretraining %,d sequences (%,d tokens) per epoch, %d steps of %d sequences%s%s",
                loader.numSequences(), trainSet.numTokens(), total, global, padded ? ", padded batches" : "",
                tr.finalMaskRate() == tr.maskRate().doubleValue() ? ""
                        : String.format(", mask rate %.2f -> %.2f", tr.maskRate(), tr.finalMaskRate())));
        List<Batch> evalBatches = evalSet == null ? null : evalBatches(evalSet, specials, cfg, ncfg.maxSeqs());
        TrainingLoop.Work work = new TrainingLoop.Work() {
            @Override public String kind() { return "pretrain"; }
            @Override public String mainMetric() { return "mlm_loss"; }
            @Override public boolean finalKeepsMoments() { return true; }
            @Override public void initialise(NativeModel model) { model.initParams(seed, 0.02f); }
            @Override public void resume(TrainingState st) { loader.seek(new DataPosition(st.epoch(), st.index())); }
            @Override public DataPosition position(long stepsDone) { return loader.position(); }

            @Override public TrainingLoop.Step batches(long step, double progress) {
                List<Batch> parts = loader.nextGlobalBatch(global, budget);
                List<Batch> micro = new ArrayList<>(parts.size());
                long tokens = 0;
                for (int i = 0; i < parts.size(); i++) {
                    if (!dp.owns(i)) { // another rank's: only its tokens count here
                        tokens += parts.get(i).numTokens();
                        micro.add(null);
                        continue;
                    }
                    Batch b = masker.mask(parts.get(i), step, i, tr.maskRateAt(progress));
                    tokens += b.numTokens(); // real tokens: padding is cost, not data
                    if (padded) b = loader.padded(b, specials.pad());
                    micro.add(b);
                }
                return new TrainingLoop.Step(micro, tokens, loader.position().epoch());
            }

            @Override public boolean evaluationDue(long stepsDone, long totalSteps) {
                return evalBatches != null && (stepsDone % tr.evalInterval() == 0 || stepsDone == totalSteps);
            }

            @Override public Map<String, Double> evaluate(NativeModel model) { return Pretrainer.evaluate(model, evalBatches); }
        };
        return run.train(cfg, ncfg, total, work);
    }

    /** The held-out microbatches, masked once with a fixed seed: every evaluation scores the same targets. */
    private List<Batch> evalBatches(ShardSet set, SpecialTokens specials, ModelConfig cfg, int maxSeqs) {
        return heldOut(set, recipe.model().maxSeqLen(), specials, recipe.seed(), recipe.training().evalMaskRate(),
                cfg.vocabSize(), recipe.training().evalBatches(), recipe.batch().microbatchTokens(), maxSeqs);
    }

    /**
     * The first {@code batches} microbatches of {@code tokenBudget} tokens (at most {@code maxSeqs} sequences of at
     * most {@code maxLen} tokens) of {@code set} in its seeded order, masked at {@code maskRate} with a fixed seed;
     * fewer when the set ends first.
     */
    static List<Batch> heldOut(ShardSet set, int maxLen, SpecialTokens specials, long seed, double maskRate, int vocabSize,
                               int batches, int tokenBudget, int maxSeqs) {
        PretrainLoader l = new PretrainLoader(set, maxLen, specials, seed, DataPosition.START);
        MlmMasker masker = new MlmMasker(maskRate, vocabSize, specials, seed ^ EVAL_SALT);
        List<Batch> out = new ArrayList<>();
        for (int i = 0; i < batches && l.position().epoch() == 0 && l.numSequences() > 0; i++) {
            out.add(masker.mask(l.nextMicrobatch(tokenBudget, maxSeqs), 0, i));
        }
        return out;
    }

    /** MLM loss (mean over all masked tokens) and masked-token accuracy, without dropout. */
    static Map<String, Double> evaluate(NativeModel model, List<Batch> batches) {
        double lossSum = 0;
        long targets = 0, correct = 0;
        int v = model.config().vocabSize();
        float[][] logits = new float[1][];
        for (Batch b : batches) {
            float loss = model.forward(b, 0, 0, false, logits);
            int[] labels = b.mlmLabels();
            int row = 0;
            for (int label : labels) {
                if (label < 0) continue;
                int off = row * v, best = 0;
                float bv = logits[0][off];
                for (int j = 1; j < v; j++) if (logits[0][off + j] > bv) { bv = logits[0][off + j]; best = j; }
                if (best == label) correct++;
                row++;
            }
            lossSum += (double) loss * row;
            targets += row;
        }
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("mlm_loss", targets == 0 ? Double.NaN : lossSum / targets);
        m.put("mlm_accuracy", targets == 0 ? Double.NaN : (double) correct / targets);
        m.put("eval_targets", (double) targets);
        return m;
    }

    /** Token shards of {@code files}, built once; the fingerprint changes with the files and the tokenizer. */
    private ShardSet shards(Path dir, List<String> files, TrainingSetup run, int threads) {
        TextTokenizer tok = run.tokenizer;
        Path tokDir = run.tokenizerDir;
        List<Path> paths = files.stream().map(Path::of).toList();
        StringBuilder fp = new StringBuilder("v1|" + recipe.data().format() + "|" + recipe.data().textField());
        try {
            for (Path p : paths) {
                if (!Files.isRegularFile(p)) throw new IllegalArgumentException("corpus file not found: " + p);
                fp.append('|').append(p.toAbsolutePath()).append(':').append(Files.size(p)).append(':')
                        .append(Files.getLastModifiedTime(p).toMillis());
            }
            for (String f : CheckpointFiles.VOCABULARY) {
                Path t = tokDir.resolve(f);
                if (Files.isRegularFile(t)) fp.append("|tok:").append(java.util.Arrays.hashCode(Files.readAllBytes(t)));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        CorpusFormat format = CorpusFormat.parse(recipe.data().format());
        long t0 = System.nanoTime();
        boolean existed = Files.isRegularFile(dir.resolve(ShardSet.MANIFEST));
        ShardSet set = ShardSet.openOrBuild(dir, fp.toString(),
                () -> CorpusReader.documents(paths, format, recipe.data().textField()), tok::ids,
                recipe.data().docsPerShard(), threads, options.access().mayWrite(dir.toString()));
        run.log.info(String.format("%s %s: %,d documents, %,d tokens (%.1f s)", existed ? "shards" : "tokenized into", dir,
                set.numDocs(), set.numTokens(), (System.nanoTime() - t0) / 1e9));
        return set;
    }
}
