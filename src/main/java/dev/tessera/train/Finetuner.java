package dev.tessera.train;

import dev.tessera.data.Batch;
import dev.tessera.data.Columns;
import dev.tessera.data.DataOrder;
import dev.tessera.data.FinetuneEncoder;
import dev.tessera.data.LabelSet;
import dev.tessera.data.LabelledExample;
import dev.tessera.data.SpecialTokens;
import dev.tessera.glue.GlueTask;
import dev.tessera.hf.HfCheckpoint;
import dev.tessera.kernels.NativeBatch;
import dev.tessera.kernels.NativeConfig;
import dev.tessera.kernels.NativeModel;
import dev.tessera.model.BertModel;
import dev.tessera.model.Head;
import dev.tessera.model.ModelConfig;
import dev.tessera.model.Tensor;
import dev.tessera.model.Variant;
import dev.tessera.tokenize.TextTokenizer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Finetuning of a recipe ({@code kind: finetune}): classification or regression on a labelled dataset,
 * starting from a Tessera or imported Hugging Face checkpoint ({@code model.init_from}; MosaicBERT or BERT).
 *
 * <p>The encoder (and the pooler, when the checkpoint has one) is loaded by name; the classifier is kept
 * when the checkpoint has one of the same shape, otherwise initialised (N(0, 0.02), as the pooler when
 * absent). Each epoch visits the examples in {@link DataOrder#permutation}(seed, epoch); an optimizer step
 * is {@code batch.global_batch} examples split into microbatches under {@code batch.microbatch_tokens}.
 * The dev split is evaluated after every epoch (and every {@code eval_interval} steps); the best model by
 * the task's main metric is kept servable in {@code output/best}, the last one in {@code output/final}.
 */
public final class Finetuner {

    public record Result(long startStep, long steps, long totalSteps, Path outputDir, Path bestDir, Path finalDir,
                         List<Double> stepLosses, String mainMetric, Map<String, Double> bestMetrics,
                         Map<String, Double> lastMetrics, boolean cancelled) {}

    private final Recipe recipe;
    private final TrainOptions options;

    public Finetuner(Recipe recipe, TrainOptions options) {
        if (recipe.kind() != Recipe.Kind.FINETUNE) throw new IllegalArgumentException("not a finetuning recipe (kind: " + recipe.kind() + ")");
        this.recipe = recipe;
        this.options = options;
    }

    public Path outputDir() {
        return options.outputDirFor(recipe);
    }

    public Result run() {
        TrainingListener log = options.listener();
        Recipe.Data data = recipe.data();
        Path init = Path.of(recipe.model().initFrom()), tokDir = Path.of(data.tokenizer());
        if (!Files.isDirectory(init)) throw new IllegalArgumentException("model.init_from: no checkpoint directory " + init);
        Checkpointer ckpt = new Checkpointer(outputDir(), tokDir, recipe.training().keepCheckpoints());
        Optional<Path> resumeFrom = ckpt.resumePoint(options.requireResume());

        BertModel base = HfCheckpoint.load(init);
        GlueTask task = recipe.glueTask().orElse(null);
        Columns cols = data.columns().toColumns();
        try (TextTokenizer tok = TextTokenizer.load(tokDir)) {
            SpecialTokens specials = Pretrainer.specials(tok, tokDir);
            if (tok.vocabSize() > base.config().vocabSize()) {
                throw new IllegalArgumentException("the tokenizer in " + tokDir + " has " + tok.vocabSize()
                        + " tokens but the model in " + init + " only " + base.config().vocabSize());
            }
            int maxLen = recipe.model().maxSeqLen();
            if (base.config().variant() == Variant.BERT && maxLen > base.config().maxPositionEmbeddings()) {
                throw new IllegalArgumentException("model.max_seq_len " + maxLen + " exceeds the checkpoint's "
                        + base.config().maxPositionEmbeddings() + " learned positions");
            }
            List<LabelledExample> trainRows = FinetuneData.read(data.train(), data.format(), cols);
            if (trainRows.isEmpty()) throw new IllegalArgumentException("the training data " + data.train() + " has no examples");
            LabelSet labels = FinetuneData.labelSet(recipe, trainRows);
            FinetuneEncoder enc = new FinetuneEncoder(tok::ids, specials, maxLen);
            List<FinetuneEncoder.Encoded> train = FinetuneData.encode(enc, data.train(), data.format(), cols, labels);
            List<FinetuneEncoder.Encoded> dev = data.eval().isEmpty() ? List.of()
                    : FinetuneData.encode(enc, data.eval(), data.format(), cols, labels);
            log.info(String.format("finetuning on %,d examples (dev %,d), %s", train.size(), dev.size(),
                    labels.isRegression() ? "regression" : labels.numOutputs() + " classes " + labels.labels()));
            ModelConfig cfg = labels.isRegression()
                    ? base.config().withHead(Head.REGRESSION, List.of("LABEL_0"), "regression")
                    : base.config().withHead(Head.CLASSIFICATION, FinetuneData.labelNames(labels, task), "single_label_classification");
            return train(base, cfg, train, dev, labels, task, ckpt, resumeFrom.orElse(null));
        }
    }

    private Result train(BertModel base, ModelConfig cfg, List<FinetuneEncoder.Encoded> train, List<FinetuneEncoder.Encoded> dev,
                         LabelSet labels, GlueTask task, Checkpointer ckpt, Path resumeFrom) {
        TrainingListener log = options.listener();
        Recipe.Training tr = recipe.training();
        int budget = recipe.batch().microbatchTokens(), global = recipe.batch().globalBatch(), n = train.size();
        long seed = recipe.seed();
        long perEpoch = (n + global - 1) / global;
        long total = tr.maxSteps() != null ? tr.maxSteps() : tr.epochs() * perEpoch;
        LrSchedule schedule = recipe.lrSchedule(total);
        String hash = TrainingLoop.recipeHash(recipe), main = Evaluator.mainMetric(task, labels.isRegression());
        int maxSeqs = Math.max(global, 64);
        NativeConfig ncfg = NativeConfig.of(cfg, recipe.model().dropout().floatValue(),
                recipe.model().attentionDropout().floatValue(), budget, maxSeqs);
        try (NativeModel model = TrainingLoop.createModel(ncfg, tr.device(), options.threads(), log)) {
            long step = 0, tokensSeen = 0;
            double trainSeconds = 0;
            Double best = null;
            Long bestStep = null;
            List<TrainingState.LossPoint> history = new ArrayList<>();
            List<TrainingState.EvalPoint> evals = new ArrayList<>();
            if (resumeFrom != null) {
                TrainingState st = Checkpointer.readState(resumeFrom);
                model.loadWeights(HfCheckpoint.load(resumeFrom).weights());
                float[][] mv = Checkpointer.readMoments(resumeFrom, model.numParams());
                model.write(NativeModel.Buffer.ADAM_M, 0, mv[0]);
                model.write(NativeModel.Buffer.ADAM_V, 0, mv[1]);
                step = st.step();
                tokensSeen = st.tokensSeen();
                trainSeconds = st.trainSeconds();
                history.addAll(st.lossHistory());
                evals.addAll(st.evalHistory());
                best = st.bestMetric();
                bestStep = st.bestStep();
                if (!hash.equals(st.recipeHash())) log.info("warning: the recipe differs from the one of checkpoint " + resumeFrom);
                log.info("resumed from " + resumeFrom + " at step " + step);
            } else {
                initFrom(model, base, seed);
            }
            long startStep = step;
            log.started("finetune", startStep, total, model.numParams());
            TrainingLoop loop = new TrainingLoop(model, recipe, schedule);
            TrainingLoop.Meter meter = new TrainingLoop.Meter(model.numParams(), options.peakFlops());
            List<Double> stepLosses = new ArrayList<>();
            Map<String, Double> last = Map.of(), bestMetrics = Map.of();
            int[] order = null;
            int orderEpoch = -1;
            boolean cancelled = false;
            while (step < total) {
                if (options.cancelled().getAsBoolean()) {
                    cancelled = true;
                    break;
                }
                if (options.stopAfterStep() != null && step >= options.stopAfterStep()) break;
                long t0 = System.nanoTime();
                int epoch = (int) (step / perEpoch);
                if (epoch != orderEpoch) {
                    order = DataOrder.permutation(seed, epoch, n);
                    orderEpoch = epoch;
                }
                int from = (int) ((step % perEpoch) * global), to = Math.min(n, from + global);
                List<Batch> parts = FinetuneEncoder.batches(train, Arrays.copyOfRange(order, from, to), global, budget);
                List<NativeBatch> micro = new ArrayList<>(parts.size());
                long tokens = 0;
                for (Batch b : parts) {
                    tokens += b.numTokens();
                    micro.add(TrainingLoop.toNative(b));
                }
                double loss = loop.step(micro, step);
                double secs = (System.nanoTime() - t0) / 1e9;
                step++;
                tokensSeen += tokens;
                trainSeconds += secs;
                stepLosses.add(loss);
                log.step(meter.step(step, total, epoch, loss, loop.lastLr(), loop.lastGradNorm(), tokens, secs));
                if (step % tr.logInterval() == 0 || step == total) {
                    var avg = meter.interval(step, total, epoch, loop.lastLr(), loop.lastGradNorm());
                    history.add(new TrainingState.LossPoint(step, avg.loss()));
                    log.logged(avg);
                }
                boolean evalNow = step % perEpoch == 0 || step % tr.evalInterval() == 0 || step == total;
                if (!dev.isEmpty() && evalNow) {
                    last = Evaluator.evaluate(model, dev, labels, task, budget, maxSeqs, tr.evalBatches());
                    evals.add(new TrainingState.EvalPoint(step, last));
                    log.evaluated(step, last);
                    double v = last.getOrDefault(main, Double.NaN);
                    if (!Double.isNaN(v) && (best == null || v > best)) {
                        best = v;
                        bestStep = step;
                        bestMetrics = last;
                        Path dir = ckpt.saveNamed("best", model.toBertModel(cfg), null, null,
                                state(step, total, epoch, from, hash, tokensSeen, trainSeconds, history, evals, main, best, bestStep));
                        log.checkpointed(step, dir);
                        log.info(String.format("new best %s %.4f at step %d -> %s", main, v, step, dir));
                    }
                }
                if (step % tr.checkpointInterval() == 0 && step < total) {
                    saveStep(ckpt, model, cfg, state(step, total, (int) (step / perEpoch), (step % perEpoch) * global, hash,
                            tokensSeen, trainSeconds, history, evals, main, best, bestStep));
                }
            }
            TrainingState st = state(step, total, (int) (step / perEpoch), (step % perEpoch) * global, hash, tokensSeen,
                    trainSeconds, history, evals, main, best, bestStep);
            Path finalDir = null, bestDir = null;
            if (step > startStep) saveStep(ckpt, model, cfg, st);
            if (step == total) {
                finalDir = ckpt.saveNamed("final", model.toBertModel(cfg), null, null, st);
                log.checkpointed(step, finalDir);
            }
            if (Files.isDirectory(ckpt.root().resolve("best"))) bestDir = ckpt.root().resolve("best");
            else if (finalDir != null) bestDir = finalDir; // no dev split: the last model is the one to serve
            if (bestMetrics.isEmpty() && bestDir != null && Files.isRegularFile(bestDir.resolve(Checkpointer.STATE))) {
                TrainingState bs = Checkpointer.readState(bestDir);
                for (var e : bs.evalHistory()) if (bs.bestStep() != null && e.step() == bs.bestStep()) bestMetrics = e.metrics();
            }
            if (cancelled) log.info("cancelled at step " + step + "; resume continues from there");
            return new Result(startStep, step, total, ckpt.root(), bestDir, finalDir, stepLosses, main, bestMetrics, last, cancelled);
        }
    }

    /** Random init, then every tensor the checkpoint has with the same shape (the encoder must all be there). */
    private void initFrom(NativeModel model, BertModel base, long seed) {
        model.initParams(seed, 0.02f);
        Map<String, Tensor> w = base.weights();
        List<String> fresh = new ArrayList<>();
        for (NativeModel.TensorInfo t : model.tensors()) {
            boolean head = t.name().startsWith("classifier.") || t.name().startsWith("bert.pooler.");
            Tensor src = w.get(t.name());
            if (src == null || !Arrays.equals(src.shape(), t.shape())) {
                if (head) {
                    fresh.add(t.name());
                    continue;
                }
                throw new IllegalArgumentException("the checkpoint " + recipe.model().initFrom() + (src == null
                        ? " lacks encoder tensor '" + t.name() + "'"
                        : " has '" + t.name() + "' of shape " + Arrays.toString(src.shape()) + ", expected " + Arrays.toString(t.shape())));
            }
            model.write(NativeModel.Buffer.PARAMS, t.offset(), src.data());
        }
        options.listener().info(fresh.isEmpty() ? "head loaded from the checkpoint" : "initialised new head tensors " + fresh);
    }

    private void saveStep(Checkpointer ckpt, NativeModel model, ModelConfig cfg, TrainingState st) {
        Path dir = ckpt.saveStep(model.toBertModel(cfg), model.read(NativeModel.Buffer.ADAM_M), model.read(NativeModel.Buffer.ADAM_V), st);
        options.listener().checkpointed(st.step(), dir);
    }

    private TrainingState state(long step, long total, int epoch, long index, String hash, long tokens, double secs,
                                List<TrainingState.LossPoint> history, List<TrainingState.EvalPoint> evals, String main,
                                Double best, Long bestStep) {
        return new TrainingState("finetune", step, total, epoch, index, recipe.seed(), hash, tokens, secs,
                List.copyOf(history), List.copyOf(evals), main, best, bestStep);
    }
}
