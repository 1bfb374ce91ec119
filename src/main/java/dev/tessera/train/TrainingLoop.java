package dev.tessera.train;

import dev.tessera.data.Batch;
import dev.tessera.data.DataPosition;
import dev.tessera.kernels.NativeConfig;
import dev.tessera.kernels.NativeLibrary;
import dev.tessera.kernels.NativeModel;
import dev.tessera.model.ClassifierPooling;
import dev.tessera.model.ModelConfig;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The one training loop of pretraining and finetuning. It owns what both share: the model on its
 * device, resume from a checkpoint (weights, AdamW moments, step, tokens, time, histories), stop after a
 * step / cooperative cancel, timing and the progress events, the loss and evaluation histories, periodic
 * and final checkpoints. A {@link Work} supplies only what differs: the batches of each step, when and
 * how to evaluate, and what it keeps beyond the loop's state (data position, best model).
 *
 * <p>The optimizer step: gradient accumulation over microbatches (each backward scaled by 1/k so the
 * gradient is the mean of the microbatch means), global-norm clipping, then Composer's decoupled AdamW at
 * the scheduled learning rate.
 *
 * <p>Data parallel ({@link DataParallel}, several processes): every rank builds the same step; rank r runs
 * the microbatches i with i % world == r (keyed as on one process: masks and dropout do not depend on the
 * world size), scaled by world/k, and the gradient block is averaged over the ranks before clipping and
 * AdamW, so the gradient is the same mean of the k microbatch means and every rank steps identically. The
 * step's loss and a stop request are summed over the ranks. Rank 0 alone reads the checkpoint to resume from
 * and broadcasts weights, moments and position; it alone evaluates, logs and writes, the others wait for it.
 */
public final class TrainingLoop {

    /** Dropout draws are keyed by (seed, philox step); microbatch i of optimizer step s uses s·2^16 + i. */
    static final int MICRO_SHIFT = 16;

    /** The data of one optimizer step: its microbatches, their tokens, and the epoch they come from. */
    public record Step(List<Batch> micro, long tokens, int epoch) {}

    /** Saves the current model (weights only, no moments) as a named directory of the output, e.g. "best". */
    public interface Saver {
        Path saveNamed(String name);
    }

    /** What a kind of training supplies to the loop. */
    public interface Work {
        /** "pretrain" or "finetune" (written into the training state). */
        String kind();

        /** Fresh start: the initial weights. */
        void initialise(NativeModel model);

        /** Resumed start: restore the data position and what the work keeps in the state. */
        void resume(TrainingState state);

        /**
         * The microbatches of optimizer step {@code step} (0-based); called once per step, in order. {@code progress}:
         * the share of the run done before it (step / total steps, or of the time budget; the same on every rank).
         */
        Step batches(long step, double progress);

        /** Where the data stands after {@code stepsDone} steps (what a checkpoint must hold to resume). */
        DataPosition position(long stepsDone);

        /** Whether to evaluate after {@code stepsDone} steps. */
        boolean evaluationDue(long stepsDone, long totalSteps);

        /** The held-out metrics of the model as it is (no dropout). */
        Map<String, Double> evaluate(NativeModel model);

        /** After an evaluation was recorded (e.g. keep the best model through {@code saver}). */
        default void evaluated(long step, Map<String, Double> metrics, Saver saver) {}

        /** Metric name and best value / step kept in the state (null when the work keeps none). */
        String mainMetric();

        default Double bestMetric() { return null; }

        default Long bestStep() { return null; }

        /** Whether the {@code final} directory also keeps the AdamW moments (to continue pretraining from it). */
        boolean finalKeepsMoments();
    }

    private final Recipe recipe;
    private final TrainOptions options;
    private final ModelConfig config;
    private final NativeConfig nativeConfig;
    private final long totalSteps;
    private final Checkpointer checkpointer;

    /**
     * @param config       the architecture written into checkpoints (config.json)
     * @param nativeConfig the native model to create (architecture, dropout, token budget)
     */
    public TrainingLoop(Recipe recipe, TrainOptions options, ModelConfig config, NativeConfig nativeConfig,
                        long totalSteps, Checkpointer checkpointer) {
        this.recipe = recipe;
        this.options = options;
        this.config = config;
        this.nativeConfig = nativeConfig;
        this.totalSteps = totalSteps;
        this.checkpointer = checkpointer;
    }

    /** Runs {@code work} from {@code resumeFrom} (a checkpoint directory, or null for a fresh start) to the end or a stop. */
    public TrainingOutcome run(Work work, Path resumeFrom) {
        return run(work, resumeFrom, DataParallel.SINGLE);
    }

    /**
     * Runs {@code work} as one rank of {@code dp}: {@code resumeFrom} is rank 0's (the other ranks pass null and
     * receive rank 0's state).
     */
    public TrainingOutcome run(Work work, Path resumeFrom, DataParallel dp) {
        TrainingListener log = dp.isRoot() ? options.listener() : TrainingListener.NONE;
        Recipe.Training tr = recipe.training();
        long total = totalSteps;
        LrSchedule schedule = recipe.lrSchedule(total);
        String hash = recipeHash(recipe);
        try (NativeModel model = createModel(nativeConfig, tr.device(), NativeModel.Precision.parse(tr.precision()),
                options.threads(), log)) {
            applyLayerDecay(model, recipe.optimizer().layerDecay(), log);
            Run run = new Run(model, work, hash);
            // [resumed, step, epoch, index, tokens, trainSeconds]: rank 0's, sent to every rank
            double[] start = new double[6];
            if (dp.isRoot() && resumeFrom != null) {
                TrainingState st = Checkpointer.restore(resumeFrom, model);
                run.step = st.step();
                run.tokensSeen = st.tokensSeen();
                run.trainSeconds = st.trainSeconds();
                run.history.addAll(st.lossHistory());
                run.evals.addAll(st.evalHistory());
                work.resume(st);
                if (!hash.equals(st.recipeHash())) log.info("warning: the recipe differs from the one of checkpoint " + resumeFrom);
                if (st.totalSteps() != total) log.info("warning: total steps changed from " + st.totalSteps() + " to " + total);
                log.info("resumed from " + resumeFrom + " at step " + run.step);
                start = new double[] {1, st.step(), st.epoch(), st.index(), st.tokensSeen(), st.trainSeconds()};
            } else if (dp.isRoot()) {
                work.initialise(model);
            }
            if (dp.distributed()) {
                dp.fromRoot(start);
                boolean resumed = start[0] == 1;
                dp.broadcastModel(model, resumed);
                if (!dp.isRoot() && resumed) {
                    run.step = (long) start[1];
                    run.tokensSeen = (long) start[4];
                    run.trainSeconds = start[5];
                    work.resume(new TrainingState(work.kind(), run.step, total, (int) start[2], (long) start[3], recipe.seed(),
                            hash, run.tokensSeen, run.trainSeconds, List.of(), List.of(), work.mainMetric(), null, null));
                }
                log.info(String.format("data parallel: %d ranks, rank 0 %s; each runs every %s microbatch of a step",
                        dp.world(), resumed ? "resumed and sent its state" : "initialised and sent the weights",
                        dp.world() == 2 ? "other" : dp.world() + "th"));
            }
            long startStep = run.step;
            log.started(work.kind(), startStep, total, model.numParams());
            Meter meter = new Meter(model.numParams(), options.peakFlops());
            List<Double> stepLosses = new ArrayList<>();
            Map<String, Double> lastEval = Map.of();
            boolean cancelled = false;
            // a cancel seen by any rank stops them all after the same step (agreed through the loss sum)
            boolean stopRequested = !dp.distributed() && options.cancelled().getAsBoolean();
            double budgetSeconds = tr.timeBudgetMinutes() == null ? 0 : tr.timeBudgetMinutes() * 60, lastSecs = 0;
            while (run.step < total) {
                if (stopRequested || (!dp.distributed() && options.cancelled().getAsBoolean())) {
                    cancelled = true;
                    break;
                }
                if (options.stopAfterStep() != null && run.step >= options.stopAfterStep()) break;
                long t0 = System.nanoTime();
                double progress = (double) run.step / total;
                boolean lastStep = false;
                if (budgetSeconds > 0) { // rank 0's clock decides for every rank
                    double[] b = dp.fromRoot(Math.max(progress, run.trainSeconds / budgetSeconds),
                            run.trainSeconds + lastSecs >= budgetSeconds ? 1 : 0);
                    progress = Math.min(1, b[0]);
                    lastStep = b[1] > 0; // the next step would end past the budget: this one is the last
                }
                Step data = work.batches(run.step, progress);
                double lr = budgetSeconds > 0 ? schedule.lrAt(progress) : schedule.lr(run.step);
                double[] lossAndStop = optimizerStep(model, data.micro(), run.step, lr, schedule.peakLr(), dp);
                double loss = lossAndStop[0];
                stopRequested = lossAndStop[1] > 0;
                double secs = (System.nanoTime() - t0) / 1e9;
                long step = ++run.step;
                run.tokensSeen += data.tokens();
                run.trainSeconds += secs;
                lastSecs = secs;
                if (lastStep) total = step; // the budget ends here: the final evaluation and checkpoint follow
                stepLosses.add(loss);
                // under a time budget the end is where the budget runs out: the steps it will take at this pace
                long shown = budgetSeconds > 0 && run.trainSeconds > 0
                        ? Math.clamp(Math.round(step * budgetSeconds / run.trainSeconds), step, total) : total;
                log.step(meter.step(step, shown, data.epoch(), loss, lastLr, lastGradNorm, data.tokens(), secs));
                if (step % tr.logInterval() == 0 || step == total) {
                    var avg = meter.interval(step, shown, data.epoch(), lastLr, lastGradNorm);
                    run.history.add(new TrainingState.LossPoint(step, avg.loss()));
                    log.logged(avg);
                }
                if (work.evaluationDue(step, total) && !dp.isRoot()) {
                    dp.waitForRoot(); // rank 0 evaluates (and may write "best") alone
                } else if (work.evaluationDue(step, total)) {
                    Map<String, Double> m = work.evaluate(model);
                    lastEval = m;
                    run.evals.add(new TrainingState.EvalPoint(step, m, run.trainSeconds)); // time: quality-vs-time curves
                    log.evaluated(step, m);
                    work.evaluated(step, m, name -> {
                        Path dir = checkpointer.saveNamed(name, model.toBertModel(config), null, null, run.state());
                        log.checkpointed(step, dir);
                        return dir;
                    });
                    dp.waitForRoot();
                }
                if (step % tr.checkpointInterval() == 0 && step < total) {
                    if (dp.isRoot()) saveStep(model, run.state());
                    dp.waitForRoot();
                }
            }
            TrainingState st = run.state();
            Path finalDir = null;
            if (!dp.isRoot()) {
                dp.waitForRoot(); // rank 0 writes the last checkpoint
                if (run.step == total) finalDir = checkpointer.root().resolve("final");
            } else if (run.step > startStep || resumeFrom == null || run.step == total) {
                var bert = model.toBertModel(config);
                float[] m = model.read(NativeModel.Buffer.ADAM_M), v = model.read(NativeModel.Buffer.ADAM_V);
                log.checkpointed(st.step(), checkpointer.saveStep(bert, m, v, st));
                if (run.step == total) {
                    finalDir = work.finalKeepsMoments() ? checkpointer.saveNamed("final", bert, m, v, st)
                            : checkpointer.saveNamed("final", bert, null, null, st);
                    log.checkpointed(st.step(), finalDir);
                }
                dp.waitForRoot();
            } else {
                dp.waitForRoot();
            }
            if (cancelled) log.info("cancelled at step " + run.step + "; resume continues from there");
            // the loop selects no model: a Work that keeps a best one says so (TrainingOutcome.withBest)
            return new TrainingOutcome(startStep, run.step, total, checkpointer.root(), finalDir, null, stepLosses,
                    work.mainMetric(), Map.of(), lastEval, cancelled);
        }
    }

    /**
     * Layer-wise learning-rate decay ({@code optimizer.layer_decay}): per-tensor multipliers of the AdamW step, set
     * once on the model (they are not model state, so a resumed run sets them again here) and logged once.
     */
    static void applyLayerDecay(NativeModel model, Double decay, TrainingListener log) {
        if (decay == null || decay == 1.0) return;
        List<String> names = model.tensors().stream().map(NativeModel.TensorInfo::name).toList();
        int layers = model.config().numLayers();
        float[] scales = LayerDecay.scales(names, layers, decay);
        model.setLrScales(scales);
        log.info(LayerDecay.describe(names, scales, layers, decay));
    }

    /** The loop's mutable state: what a checkpoint holds besides the weights and moments. */
    private final class Run {
        final NativeModel model;
        final Work work;
        final String hash;
        long step, tokensSeen;
        double trainSeconds;
        final List<TrainingState.LossPoint> history = new ArrayList<>();
        final List<TrainingState.EvalPoint> evals = new ArrayList<>();

        Run(NativeModel model, Work work, String hash) {
            this.model = model;
            this.work = work;
            this.hash = hash;
        }

        TrainingState state() {
            DataPosition pos = work.position(step);
            return new TrainingState(work.kind(), step, totalSteps, pos.epoch(), pos.index(), recipe.seed(), hash,
                    tokensSeen, trainSeconds, List.copyOf(history), List.copyOf(evals), work.mainMetric(),
                    work.bestMetric(), work.bestStep());
        }
    }

    private void saveStep(NativeModel model, TrainingState st) {
        Path dir = checkpointer.saveStep(model.toBertModel(config), model.read(NativeModel.Buffer.ADAM_M),
                model.read(NativeModel.Buffer.ADAM_V), st);
        options.listener().checkpointed(st.step(), dir);
    }

    private double lastLr, lastGradNorm;

    /**
     * One optimizer step {@code step} (0-based) over this rank's share of {@code micro}; returns {mean loss of
     * all the step's microbatches, number of ranks asking to stop}.
     */
    private double[] optimizerStep(NativeModel model, List<Batch> micro, long step, double lr, double peakLr, DataParallel dp) {
        Recipe.Optimizer opt = recipe.optimizer();
        model.zeroGrad();
        // world/k: the mean over the ranks of the ranks' sums is the mean over all k microbatches
        float scale = (float) dp.world() / micro.size();
        double loss = 0;
        for (int i = 0; i < micro.size(); i++) {
            if (!dp.owns(i)) continue;
            loss += model.forward(micro.get(i), recipe.seed(), (step << MICRO_SHIFT) + i, true);
            model.backward(scale);
        }
        double stop = 0;
        if (dp.distributed()) {
            double[] sums = dp.sum(loss, options.cancelled().getAsBoolean() ? 1 : 0);
            loss = sums[0];
            stop = sums[1];
            dp.averageGradients(model);
        }
        lastGradNorm = model.clipGradNorm(opt.gradClip().floatValue());
        lastLr = lr;
        model.adamwStep((float) lastLr, (float) peakLr, (float) opt.beta1(), (float) opt.beta2(),
                opt.eps().floatValue(), opt.weightDecay().floatValue(), step + 1);
        return new double[] {loss / micro.size(), stop};
    }

    /**
     * Creates the native model on the requested device: cuda when the library has a usable CUDA backend,
     * otherwise the CPU (saying why through {@code listener}).
     */
    public static NativeModel createModel(NativeConfig config, String device, int threads, TrainingListener listener) {
        return createModel(config, device, NativeModel.Precision.FP32, threads, listener);
    }

    /**
     * As above, with the precision of the matrix products: bf16 on the CPU uses AVX512-BF16 where the CPU
     * has it (else fp32, said through {@code listener}); the CUDA backend computes in bf16 whatever is asked.
     */
    public static NativeModel createModel(NativeConfig config, String device, NativeModel.Precision precision, int threads,
                                          TrainingListener listener) {
        NativeLibrary lib = NativeLibrary.get();
        if (threads > 0) lib.setNumThreads(threads);
        NativeLibrary.Backend backend = backendFor(device);
        if (backend == NativeLibrary.Backend.CPU && "cuda".equals(device.toLowerCase(Locale.ROOT))) {
            listener.info("device cuda requested but not usable (" + lib.backendUnavailableReason(NativeLibrary.Backend.CUDA)
                    + "); training on the CPU");
        }
        boolean cpu = backend == NativeLibrary.Backend.CPU;
        String products = !cpu ? "" : precision == NativeModel.Precision.FP32 ? ", fp32 matrix products"
                : lib.cpuBf16() ? ", bf16 matrix products (AVX512-BF16)"
                : ", bf16 requested but this CPU lacks AVX512-BF16: fp32 matrix products";
        listener.info("backend " + backend + (cpu ? " (" + lib.cpuIsa() + ", " + lib.numThreads() + " threads" + products + ")" : ""));
        NativeModel model = NativeModel.create(config, backend);
        if (cpu && precision == NativeModel.Precision.BF16) {
            try {
                model.setPrecision(precision);
            } catch (RuntimeException e) {
                model.close();
                throw e;
            }
        }
        return model;
    }

    /** The backend a recipe's {@code training.device} gets here: CUDA when requested and usable, else the CPU. */
    static NativeLibrary.Backend backendFor(String device) {
        if (!"cuda".equals(device.toLowerCase(Locale.ROOT))) return NativeLibrary.Backend.CPU;
        return NativeLibrary.get().backendUnavailableReason(NativeLibrary.Backend.CUDA) == null
                ? NativeLibrary.Backend.CUDA : NativeLibrary.Backend.CPU;
    }

    /**
     * SHA-256 (hex) of the resolved recipe, with the output directory and device left out, and the keys added since
     * (layer_decay, final_mask_rate, time_budget_minutes, random_init, train_examples, distill) only when they are on: a recipe
     * without them hashes as before they existed, so its old checkpoints resume without a "recipe differs" warning.
     */
    public static String recipeHash(Recipe r) {
        try {
            String json = hashedJson(r);
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(json.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The text {@link #recipeHash} digests. */
    static String hashedJson(Recipe r) {
        Recipe.Training t = r.training();
        Recipe.Training tt = new Recipe.Training(t.maxSteps(), t.epochs(), t.evalInterval(), t.checkpointInterval(),
                t.logInterval(), t.maskRate(), t.precision(), null, null, t.evalBatches(), t.keepCheckpoints(), t.evalMaskRate(),
                java.util.Objects.equals(t.finalMaskRate(), t.maskRate()) ? null : t.finalMaskRate(), t.timeBudgetMinutes());
        Recipe.Model m = r.model();
        if (m != null) { // keys added since, at their defaults, are left out: older runs keep their hash
            m = new Recipe.Model(m.variant(), m.hidden(), m.layers(), m.heads(), m.intermediate(), m.vocab(), m.maxSeqLen(),
                    m.typeVocab(), m.dropout(), m.attentionDropout(), m.initFrom(),
                    Boolean.FALSE.equals(m.randomInit()) ? null : m.randomInit(),
                    m.pooling() == null || m.classifierPooling() == ClassifierPooling.CLS ? null : m.classifierPooling().id());
        }
        Recipe.Optimizer o = r.optimizer();
        if (o != null && o.layerDecay() != null && o.layerDecay() == 1.0) {
            o = new Recipe.Optimizer(o.lr(), o.betas(), o.eps(), o.weightDecay(), o.gradClip(), null);
        }
        Recipe norm = new Recipe(r.kind(), r.seed(), m, r.data(), o, r.schedule(), r.batch(), tt, r.distill()); // distill: only when set
        try {
            return Checkpointer.JSON.writeValueAsString(norm);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Tracks wall time and tokens for tokens/s, ETA and MFU. */
    static final class Meter {
        private final long numParams;
        private final double peakFlops;
        private long intervalTokens;
        private double intervalSeconds;
        private int intervalSteps;
        private double intervalLoss;
        private double rate; // tokens/s, exponential average over steps

        Meter(long numParams, double peakFlops) {
            this.numParams = numParams;
            this.peakFlops = peakFlops;
        }

        TrainingListener.StepStats step(long step, long total, int epoch, double loss, double lr, double gnorm,
                                        long tokens, double seconds) {
            double r = tokens / Math.max(seconds, 1e-9);
            rate = rate == 0 ? r : 0.9 * rate + 0.1 * r;
            intervalTokens += tokens;
            intervalSeconds += seconds;
            intervalSteps++;
            intervalLoss += loss;
            double secsPerStep = tokens > 0 ? tokens / rate : seconds;
            return new TrainingListener.StepStats(step, total, epoch, loss, lr, gnorm, rate,
                    (total - step) * secsPerStep, mfu(rate));
        }

        /** The averages since the last call. */
        TrainingListener.StepStats interval(long step, long total, int epoch, double lr, double gnorm) {
            double secs = intervalSeconds; // training time only: evaluation and checkpoints are left out
            double r = intervalTokens / Math.max(secs, 1e-9);
            double perStep = secs / Math.max(1, intervalSteps);
            var s = new TrainingListener.StepStats(step, total, epoch, intervalLoss / Math.max(1, intervalSteps), lr,
                    gnorm, r, (total - step) * perStep, mfu(r));
            intervalSeconds = 0;
            intervalTokens = 0;
            intervalSteps = 0;
            intervalLoss = 0;
            return s;
        }

        private double mfu(double tokensPerSecond) {
            return peakFlops > 0 ? 6.0 * numParams * tokensPerSecond / peakFlops : Double.NaN;
        }
    }
}
