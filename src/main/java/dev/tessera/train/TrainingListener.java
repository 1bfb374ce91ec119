package dev.tessera.train;

import java.nio.file.Path;
import java.util.Map;

/**
 * What a training run reports while it runs (CLI progress bar, job status). Called on the training
 * thread; implementations must be quick.
 */
public interface TrainingListener {

    /** Once, before the first step: {@code startStep} > 0 when resumed. */
    default void started(String what, long startStep, long totalSteps, long numParams) {}

    /** After every optimizer step. */
    default void step(StepStats stats) {}

    /** Every {@code log_interval} steps: averages over the interval (loss, tokens/s). */
    default void logged(StepStats averaged) {}

    /** After an evaluation (metric name → value). */
    default void evaluated(long step, Map<String, Double> metrics) {}

    /** After a checkpoint directory was committed. */
    default void checkpointed(long step, Path dir) {}

    /** A free-form line (backend choice, tokenization, resume, ...). */
    default void info(String line) {}

    TrainingListener NONE = new TrainingListener() {};

    /**
     * One step (or an interval's average).
     *
     * @param mfu model FLOP utilisation (6·params·tokens/s ÷ peak), NaN when no peak is configured
     * @param etaSeconds time left at the current rate
     */
    record StepStats(long step, long totalSteps, int epoch, double loss, double lr, double gradNorm,
                     double tokensPerSecond, double etaSeconds, double mfu) {

        /** A plain log line: {@code step 120/2000 loss 6.1234 lr 4.00e-04 gnorm 1.23 tok/s 5120 eta 1h02m}. */
        public String format() {
            StringBuilder sb = new StringBuilder();
            sb.append("step ").append(step).append('/').append(totalSteps)
                    .append(String.format(" epoch %d loss %.4f lr %.3e gnorm %.3f tok/s %.0f eta %s", epoch, loss, lr,
                            gradNorm, tokensPerSecond, duration(etaSeconds)));
            if (!Double.isNaN(mfu)) sb.append(String.format(" mfu %.2f%%", 100 * mfu));
            return sb.toString();
        }
    }

    /** 3725 → "1h02m05s". */
    static String duration(double seconds) {
        if (!Double.isFinite(seconds) || seconds < 0) return "?";
        long s = Math.round(seconds);
        if (s >= 3600) return String.format("%dh%02dm%02ds", s / 3600, (s % 3600) / 60, s % 60);
        if (s >= 60) return String.format("%dm%02ds", s / 60, s % 60);
        return s + "s";
    }
}
