package dev.tessera.train;

import dev.tessera.data.Batch;
import dev.tessera.data.Columns;
import dev.tessera.data.DataOrder;
import dev.tessera.data.DataPosition;
import dev.tessera.data.FinetuneEncoder;
import dev.tessera.data.LabelSet;
import dev.tessera.data.LabelledExample;
import dev.tessera.glue.GlueTask;
import dev.tessera.hf.HfCheckpoint;
import dev.tessera.kernels.NativeConfig;
import dev.tessera.kernels.NativeModel;
import dev.tessera.model.BertModel;
import dev.tessera.model.ClassifierPooling;
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
import java.util.function.IntPredicate;

/**
 * Finetuning of a recipe ({@code kind: finetune}): classification or regression on a labelled dataset,
 * starting from a Tessera or imported Hugging Face checkpoint ({@code model.init_from}; MosaicBERT or BERT).
 *
 * <p>The classifier's pooler reads each sequence's first token or the mean of its tokens ({@code model.pooling}), and the
 * checkpoints it writes say which ({@code classifier_pooling}).
 * The encoder (and the pooler, when the checkpoint has one) is loaded by name; the classifier is kept
 * when the checkpoint has one of the same shape, otherwise initialised (N(0, 0.02), as the pooler when
 * absent). Each epoch visits the examples in {@link DataOrder#permutation}(seed, epoch); an optimizer step
 * is {@code batch.global_batch} examples split into microbatches under {@code batch.microbatch_tokens}.
 * The dev split is evaluated after every epoch (and every {@code eval_interval} steps); the best model by
 * the task's main metric is kept servable in {@code output/best}, the last one in {@code output/final}.
 * With {@code distill} a teacher classifier's soft labels join the loss ({@link Distillation}), and the rows of
 * {@code distill.unlabelled} join the training rows (after the labelled ones; an epoch visits them all).
 */
public final class Finetuner extends Trainer {

    public Finetuner(Recipe recipe, TrainOptions options) {
        super(recipe, options, Recipe.Kind.FINETUNE, "finetuning");
    }

    @Override
    TrainingOutcome run(TrainingSetup run) {
        Recipe.Data data = recipe.data();
        Path init = Path.of(recipe.model().initFrom()), tokDir = run.tokenizerDir;
        if (!Files.isDirectory(init)) throw new IllegalArgumentException("model.init_from: no checkpoint directory " + init);
        BertModel base = HfCheckpoint.load(init);
        GlueTask task = recipe.glueTask().orElse(null);
        Columns cols = data.columns().toColumns();
        TextTokenizer tok = run.tokenizer;
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
        FinetuneEncoder enc = new FinetuneEncoder(tok::ids, run.specials, maxLen);
        IntPredicate keep = FinetuneData.subset(trainRows.size(), data.trainExamples(), recipe.seed());
        List<FinetuneEncoder.Encoded> train = FinetuneData.encode(enc, data.train(), data.format(), cols, labels, keep);
        int labelled = train.size();
        Recipe.Distill distill = recipe.distill();
        if (distill != null && !distill.unlabelled().isEmpty()) { // rows without a label: the teacher's soft targets only
            train = new ArrayList<>(train);
            train.addAll(FinetuneData.encode(enc, distill.unlabelled(), data.format(), Distillation.textColumns(cols), null));
        }
        List<FinetuneEncoder.Encoded> dev = data.eval().isEmpty() ? List.of()
                : FinetuneData.encode(enc, data.eval(), data.format(), cols, labels);
        run.log.info(String.format("finetuning on %,d examples%s (dev %,d), %s", labelled,
                train.size() > labelled ? String.format(" and %,d unlabelled rows", train.size() - labelled) : "", dev.size(),
                labels.isRegression() ? "regression" : labels.numOutputs() + " classes " + labels.labels()));
        ModelConfig headed = labels.isRegression()
                ? base.config().withHead(Head.REGRESSION, List.of("LABEL_0"), "regression")
                : base.config().withHead(Head.CLASSIFICATION, FinetuneData.labelNames(labels, task), "single_label_classification");
        ModelConfig cfg = headed.withClassifierPooling(recipe.model().classifierPooling());
        if (cfg.classifierPooling() != ClassifierPooling.CLS) {
            run.log.info("classifier pooling: mean of each sequence's tokens (model.pooling: mean)");
        }
        if (base.config().classifierPooling() != cfg.classifierPooling()) {
            run.log.info("the checkpoint " + init.getFileName() + " pools " + base.config().classifierPooling().id()
                    + "; this run's classifier pools " + cfg.classifierPooling().id() + " (model.pooling)");
        }
        Distillation teacher = null;
        if (distill != null) {
            int[] gold = train.stream().mapToInt(FinetuneEncoder.Encoded::classLabel).toArray();
            teacher = Distillation.prepare(recipe, run, cfg.labels(), keep, gold);
        }
        return train(base, cfg, train, dev, labels, task, teacher, run);
    }

    private TrainingOutcome train(BertModel base, ModelConfig cfg, List<FinetuneEncoder.Encoded> train,
                                  List<FinetuneEncoder.Encoded> dev, LabelSet labels, GlueTask task, Distillation teacher,
                                  TrainingSetup run) {
        TrainingListener log = run.log;
        Checkpointer ckpt = run.checkpointer;
        Recipe.Training tr = recipe.training();
        int budget = recipe.batch().microbatchTokens(), global = recipe.batch().globalBatch(), n = train.size();
        long seed = recipe.seed();
        long perEpoch = (n + global - 1) / global;
        long total = tr.maxSteps() != null ? tr.maxSteps() : tr.epochs() * perEpoch;
        String main = Evaluator.mainMetric(task, labels.isRegression());
        int maxSeqs = Math.max(global, 64);
        NativeConfig ncfg = NativeConfig.of(cfg, recipe.model().dropout().floatValue(),
                recipe.model().attentionDropout().floatValue(), budget, maxSeqs);
        var work = new TrainingLoop.Work() {
            Double best;
            Long bestStep;
            Map<String, Double> bestMetrics = Map.of();
            int[] order;
            int orderEpoch = -1;

            @Override public String kind() { return "finetune"; }
            @Override public String mainMetric() { return main; }
            @Override public Double bestMetric() { return best; }
            @Override public Long bestStep() { return bestStep; }
            @Override public boolean finalKeepsMoments() { return false; }
            @Override public void initialise(NativeModel model) { initFrom(model, base, seed); }

            @Override public void resume(TrainingState st) {
                best = st.bestMetric();
                bestStep = st.bestStep();
            }

            @Override public DataPosition position(long stepsDone) {
                return new DataPosition((int) (stepsDone / perEpoch), (stepsDone % perEpoch) * global);
            }

            @Override public TrainingLoop.Step batches(long step, double progress) {
                int epoch = (int) (step / perEpoch);
                if (epoch != orderEpoch) {
                    order = DataOrder.permutation(seed, epoch, n);
                    orderEpoch = epoch;
                }
                int from = (int) ((step % perEpoch) * global), to = Math.min(n, from + global);
                int[] rows = Arrays.copyOfRange(order, from, to);
                List<Batch> micro = FinetuneEncoder.batches(train, rows, global, budget);
                if (teacher != null) micro = teacher.attach(micro, rows);
                return new TrainingLoop.Step(micro, micro.stream().mapToLong(Batch::numTokens).sum(), epoch);
            }

            @Override public boolean evaluationDue(long stepsDone, long totalSteps) {
                return !dev.isEmpty() && (stepsDone % perEpoch == 0 || stepsDone % tr.evalInterval() == 0 || stepsDone == totalSteps);
            }

            @Override public Map<String, Double> evaluate(NativeModel model) {
                return Evaluator.evaluate(model, dev, labels, task, budget, maxSeqs, tr.evalBatches());
            }

            @Override public void evaluated(long step, Map<String, Double> metrics, TrainingLoop.Saver saver) {
                double v = metrics.getOrDefault(main, Double.NaN);
                if (Double.isNaN(v) || (best != null && v <= best)) return;
                best = v;
                bestStep = step;
                bestMetrics = metrics;
                Path dir = saver.saveNamed("best");
                log.info(String.format("new best %s %.4f at step %d -> %s", main, v, step, dir));
            }
        };
        TrainingOutcome out = run.train(cfg, ncfg, total, work);
        Path bestDir = null;
        Map<String, Double> bestMetrics = work.bestMetrics;
        if (Files.isDirectory(ckpt.root().resolve("best"))) bestDir = ckpt.root().resolve("best");
        else if (out.finalDir() != null) bestDir = out.finalDir(); // no dev split: the last model is the one to serve
        if (bestMetrics.isEmpty() && bestDir != null && Files.isRegularFile(bestDir.resolve(Checkpointer.STATE))) {
            TrainingState bs = Checkpointer.readState(bestDir);
            for (var e : bs.evalHistory()) if (bs.bestStep() != null && e.step() == bs.bestStep()) bestMetrics = e.metrics();
        }
        return out.withBest(bestDir, bestMetrics);
    }

    /**
     * Random init, then every tensor the checkpoint has with the same shape (the encoder must all be there);
     * with {@code model.random_init} only the random init (the control: the checkpoint's shapes, none of its weights).
     */
    private void initFrom(NativeModel model, BertModel base, long seed) {
        model.initParams(seed, 0.02f);
        if (recipe.model().randomInit()) {
            options.listener().info("random initialisation (model.random_init): no weights from " + recipe.model().initFrom());
            return;
        }
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
}
