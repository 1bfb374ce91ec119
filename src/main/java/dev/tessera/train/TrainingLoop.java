package dev.tessera.train;

import dev.tessera.data.Batch;
import dev.tessera.kernels.NativeBatch;
import dev.tessera.kernels.NativeConfig;
import dev.tessera.kernels.NativeLibrary;
import dev.tessera.kernels.NativeModel;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;

/**
 * The optimizer step shared by pretraining and finetuning: gradient accumulation over microbatches
 * (each backward scaled by 1/k so the gradient is the mean of the microbatch means), global-norm clipping,
 * then Composer's decoupled AdamW at the scheduled learning rate.
 */
public final class TrainingLoop {

    /** Dropout draws are keyed by (seed, philox step); microbatch i of optimizer step s uses s·2^16 + i. */
    static final int MICRO_SHIFT = 16;

    private final NativeModel model;
    private final Recipe.Optimizer opt;
    private final LrSchedule schedule;
    private final long seed;
    private double lastLr, lastGradNorm;

    public TrainingLoop(NativeModel model, Recipe recipe, LrSchedule schedule) {
        this.model = model;
        this.opt = recipe.optimizer();
        this.schedule = schedule;
        this.seed = recipe.seed();
    }

    /** One optimizer step {@code step} (0-based) over {@code micro}; returns the mean loss of the microbatches. */
    public double step(List<NativeBatch> micro, long step) {
        model.zeroGrad();
        float scale = 1f / micro.size();
        double loss = 0;
        for (int i = 0; i < micro.size(); i++) {
            loss += model.forward(micro.get(i), seed, (step << MICRO_SHIFT) + i, true);
            model.backward(scale);
        }
        lastGradNorm = model.clipGradNorm(opt.gradClip().floatValue());
        lastLr = schedule.lr(step);
        model.adamwStep((float) lastLr, (float) schedule.peakLr(), (float) opt.beta1(), (float) opt.beta2(),
                opt.eps().floatValue(), opt.weightDecay().floatValue(), step + 1);
        return loss / micro.size();
    }

    public double lastLr() { return lastLr; }

    public double lastGradNorm() { return lastGradNorm; }

    /** The data pipeline's batch as the native module's. */
    public static NativeBatch toNative(Batch b) {
        return new NativeBatch(b.inputIds(), b.tokenTypeIds(), b.cuSeqlens(), b.mlmLabels(), b.classLabels(), b.targets());
    }

    /**
     * Creates the native model on the requested device: cuda when the library has a usable CUDA backend,
     * otherwise the CPU (saying why through {@code listener}).
     */
    public static NativeModel createModel(NativeConfig config, String device, int threads, TrainingListener listener) {
        NativeLibrary lib = NativeLibrary.get();
        if (threads > 0) lib.setNumThreads(threads);
        NativeLibrary.Backend backend = NativeLibrary.Backend.CPU;
        if ("cuda".equals(device.toLowerCase(Locale.ROOT))) {
            String why = lib.backendUnavailableReason(NativeLibrary.Backend.CUDA);
            if (why == null) backend = NativeLibrary.Backend.CUDA;
            else listener.info("device cuda requested but not usable (" + why + "); training on the CPU");
        }
        listener.info("backend " + backend + (backend == NativeLibrary.Backend.CPU
                ? " (" + lib.cpuIsa() + ", " + lib.numThreads() + " threads)" : ""));
        return NativeModel.create(config, backend);
    }

    /** SHA-256 (hex) of the resolved recipe, with the output directory and device left out. */
    public static String recipeHash(Recipe r) {
        Recipe.Training t = r.training();
        Recipe.Training tt = new Recipe.Training(t.maxSteps(), t.epochs(), t.evalInterval(), t.checkpointInterval(),
                t.logInterval(), t.maskRate(), t.precision(), null, null, t.evalBatches(), t.keepCheckpoints());
        Recipe norm = new Recipe(r.kind(), r.seed(), r.model(), r.data(), r.optimizer(), r.schedule(), r.batch(), tt);
        try {
            String json = Checkpointer.JSON.writeValueAsString(norm);
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(json.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException | com.fasterxml.jackson.core.JsonProcessingException e) {
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
