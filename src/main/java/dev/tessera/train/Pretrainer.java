package dev.tessera.train;

import dev.tessera.data.Batch;
import dev.tessera.data.CorpusFormat;
import dev.tessera.data.CorpusReader;
import dev.tessera.data.DataPosition;
import dev.tessera.data.MlmMasker;
import dev.tessera.data.PretrainLoader;
import dev.tessera.data.ShardSet;
import dev.tessera.data.SpecialTokens;
import dev.tessera.hf.HfCheckpoint;
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
import java.util.Optional;

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
public final class Pretrainer {

    /**
     * @param stepLosses the loss of every step this invocation ran, in order (for tests and reports)
     * @param finalDir   the servable {@code final} directory, or null when the run stopped early
     */
    public record Result(long startStep, long steps, long totalSteps, Path outputDir, Path finalDir,
                         List<Double> stepLosses, Map<String, Double> lastEval, boolean cancelled) {}

    /** Seed salt of the held-out masks: fixed, so every evaluation sees the same masked tokens. */
    static final long EVAL_SALT = 0x5EED_E7A1L;

    private Recipe recipe; // confined (paths resolved and checked) when the run starts
    private final TrainOptions options;

    public Pretrainer(Recipe recipe, TrainOptions options) {
        if (recipe.kind() != Recipe.Kind.PRETRAIN) throw new IllegalArgumentException("not a pretraining recipe (kind: " + recipe.kind() + ")");
        this.recipe = recipe;
        this.options = options;
    }

    public Path outputDir() {
        return options.outputDirFor(recipe);
    }

    public Result run() {
        recipe = recipe.confined(options.access()); // paths checked and resolved now, when the run starts
        Recipe.Data data = recipe.data();
        Path tokDir = Path.of(data.tokenizer());
        // several processes: rendezvous first, so that ranks with another recipe are refused before anything is written
        try (DataParallel dp = options.distributed()
                ? DataParallel.join(recipe.training().device(), DataParallel.fingerprint(recipe, tokDir), System.getenv())
                : DataParallel.SINGLE) {
            return run(dp);
        }
    }

    private Result run(DataParallel dp) {
        TrainingListener log = dp.isRoot() ? options.listener() : TrainingListener.NONE;
        Recipe.Data data = recipe.data();
        Path tokDir = Path.of(data.tokenizer());
        Checkpointer ckpt = new Checkpointer(outputDir(), tokDir, recipe.training().keepCheckpoints());
        Optional<Path> resumeFrom = dp.isRoot() ? ckpt.resumePoint(options.requireResume()) : Optional.empty();
        try (TextTokenizer tok = TextTokenizer.load(tokDir)) {
            SpecialTokens specials = specials(tok, tokDir);
            ModelConfig cfg = recipe.modelConfig();
            if (tok.vocabSize() > cfg.vocabSize()) {
                throw new IllegalArgumentException("the tokenizer in " + tokDir + " has " + tok.vocabSize()
                        + " tokens but model.vocab is " + cfg.vocabSize());
            }
            int threads = options.threads() > 0 ? options.threads() : Runtime.getRuntime().availableProcessors();
            Path shardRoot = Path.of(data.shardDir());
            // rank 0 tokenizes first; the others then open its shards (a shared directory) or build their own
            if (!dp.isRoot()) dp.waitForRoot();
            try (ShardSet train = shards(shardRoot.resolve("train"), data.train(), tok, tokDir, threads, log);
                 ShardSet eval = data.eval().isEmpty() ? null : shards(shardRoot.resolve("eval"), data.eval(), tok, tokDir, threads, log)) {
                if (dp.isRoot()) dp.waitForRoot();
                return train(train, eval, specials, cfg, ckpt, resumeFrom.orElse(null), dp);
            }
        }
    }

    private Result train(ShardSet trainSet, ShardSet evalSet, SpecialTokens specials, ModelConfig cfg, Checkpointer ckpt,
                         Path resumeFrom, DataParallel dp) {
        TrainingListener log = dp.isRoot() ? options.listener() : TrainingListener.NONE;
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
        log.info(String.format("pretraining %,d sequences (%,d tokens) per epoch, %d steps of %d sequences%s",
                loader.numSequences(), trainSet.numTokens(), total, global, padded ? ", padded batches" : ""));
        List<Batch> evalBatches = evalSet == null ? null : evalBatches(evalSet, specials, cfg, ncfg.maxSeqs());
        TrainingLoop.Work work = new TrainingLoop.Work() {
            @Override public String kind() { return "pretrain"; }
            @Override public String mainMetric() { return "mlm_loss"; }
            @Override public boolean finalKeepsMoments() { return true; }
            @Override public void initialise(NativeModel model) { model.initParams(seed, 0.02f); }
            @Override public void resume(TrainingState st) { loader.seek(new DataPosition(st.epoch(), st.index())); }
            @Override public DataPosition position(long stepsDone) { return loader.position(); }

            @Override public TrainingLoop.Step batches(long step) {
                List<Batch> parts = loader.nextGlobalBatch(global, budget);
                List<Batch> micro = new ArrayList<>(parts.size());
                long tokens = 0;
                for (int i = 0; i < parts.size(); i++) {
                    if (!dp.owns(i)) { // another rank's: only its tokens count here
                        tokens += parts.get(i).numTokens();
                        micro.add(null);
                        continue;
                    }
                    Batch b = masker.mask(parts.get(i), step, i);
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
        var out = new TrainingLoop(recipe, options, cfg, ncfg, total, ckpt).run(work, resumeFrom, dp);
        return new Result(out.startStep(), out.steps(), out.totalSteps(), out.outputDir(), out.finalDir(),
                out.stepLosses(), out.lastEval(), out.cancelled());
    }

    /** The held-out microbatches, masked once with a fixed seed: every evaluation scores the same targets. */
    private List<Batch> evalBatches(ShardSet set, SpecialTokens specials, ModelConfig cfg, int maxSeqs) {
        PretrainLoader l = new PretrainLoader(set, recipe.model().maxSeqLen(), specials, recipe.seed(), DataPosition.START);
        MlmMasker masker = new MlmMasker(recipe.training().evalMaskRate(), cfg.vocabSize(), specials, recipe.seed() ^ EVAL_SALT);
        List<Batch> out = new ArrayList<>();
        for (int i = 0; i < recipe.training().evalBatches() && l.position().epoch() == 0 && l.numSequences() > 0; i++) {
            out.add(masker.mask(l.nextMicrobatch(recipe.batch().microbatchTokens(), maxSeqs), 0, i));
        }
        return out;
    }

    /**
     * Held-out MLM loss and masked-token accuracy of a checkpoint (with an MLM head) on token shards built
     * by a pretraining run ({@code shard_dir}/eval), cut into sequences of at most {@code maxLen} tokens and
     * masked at {@code maskRate} with a fixed seed: the first {@code batches} microbatches of
     * {@code tokenBudget} tokens. Used to compare architectures at one mask rate and across lengths.
     */
    public static Map<String, Double> evaluateCheckpoint(Path checkpoint, Path evalShards, int maxLen, double maskRate,
                                                         int batches, int tokenBudget, long seed, int threads) {
        var bert = HfCheckpoint.load(checkpoint);
        ModelConfig cfg = bert.config();
        if (cfg.variant() == dev.tessera.model.Variant.BERT && maxLen > cfg.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("length " + maxLen + " exceeds the " + cfg.maxPositionEmbeddings() + " learned positions");
        }
        SpecialTokens specials;
        try (TextTokenizer tok = TextTokenizer.load(checkpoint)) {
            specials = specials(tok, checkpoint);
        }
        int budget = Math.max(tokenBudget, maxLen), maxSeqs = budget / 3 + 1;
        try (ShardSet set = ShardSet.open(evalShards);
             NativeModel model = TrainingLoop.createModel(NativeConfig.of(cfg, 0f, 0f, budget, maxSeqs), "cpu", threads,
                     TrainingListener.NONE)) {
            model.loadWeights(bert.weights());
            PretrainLoader l = new PretrainLoader(set, maxLen, specials, seed, DataPosition.START);
            MlmMasker masker = new MlmMasker(maskRate, cfg.vocabSize(), specials, seed ^ EVAL_SALT);
            List<Batch> out = new ArrayList<>();
            for (int i = 0; i < batches && l.position().epoch() == 0; i++) {
                out.add(masker.mask(l.nextMicrobatch(budget, maxSeqs), 0, i));
            }
            return evaluate(model, out);
        }
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

    /** [PAD] [UNK] [CLS] [SEP] [MASK] ids of a BERT vocabulary; each must exist. */
    public static SpecialTokens specials(TextTokenizer tok, Path source) {
        String[] names = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
        int[] ids = new int[names.length];
        for (int i = 0; i < names.length; i++) {
            ids[i] = tok.tokenId(names[i]);
            if (ids[i] < 0) throw new IllegalArgumentException("the tokenizer in " + source + " has no " + names[i] + " token");
        }
        return new SpecialTokens(ids[0], ids[1], ids[2], ids[3], ids[4]);
    }

    /** Token shards of {@code files}, built once; the fingerprint changes with the files and the tokenizer. */
    private ShardSet shards(Path dir, List<String> files, TextTokenizer tok, Path tokDir, int threads, TrainingListener log) {
        List<Path> paths = files.stream().map(Path::of).toList();
        StringBuilder fp = new StringBuilder("v1|" + recipe.data().format() + "|" + recipe.data().textField());
        try {
            for (Path p : paths) {
                if (!Files.isRegularFile(p)) throw new IllegalArgumentException("corpus file not found: " + p);
                fp.append('|').append(p.toAbsolutePath()).append(':').append(Files.size(p)).append(':')
                        .append(Files.getLastModifiedTime(p).toMillis());
            }
            for (String f : List.of("tokenizer.json", "vocab.txt")) {
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
        log.info(String.format("%s %s: %,d documents, %,d tokens (%.1f s)", existed ? "shards" : "tokenized into", dir,
                set.numDocs(), set.numTokens(), (System.nanoTime() - t0) / 1e9));
        return set;
    }
}
