package dev.tessera.train;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What a training run did: pretraining and finetuning alike ({@link Trainer#run}).
 *
 * @param startStep   the step this invocation started (or resumed) at
 * @param steps       the step it stopped at
 * @param totalSteps  the run's planned steps
 * @param outputDir   the run's checkpoint directory
 * @param finalDir    the servable {@code final} directory, or null when the run stopped before the last step
 * @param bestDir     the model selected by {@code mainMetric} (finetuning: {@code best}, else {@code final} when there
 *                    is no dev split); null when the run selects none (pretraining) or stopped before any
 * @param stepLosses  the loss of every step this invocation ran, in order (for tests and reports)
 * @param mainMetric  the metric that decides the best model
 * @param bestMetrics the held-out metrics of {@code bestDir} (empty without one, or without a dev split)
 * @param lastMetrics the last held-out evaluation of this invocation (empty when none ran)
 * @param cancelled   whether a cancel stopped it
 */
public record TrainingOutcome(long startStep, long steps, long totalSteps, Path outputDir, Path finalDir, Path bestDir,
                              List<Double> stepLosses, String mainMetric, Map<String, Double> bestMetrics,
                              Map<String, Double> lastMetrics, boolean cancelled) {

    /** The model to serve: the selected one, else the final one (null when there is neither). */
    public Path servable() { return bestDir != null ? bestDir : finalDir; }

    /** The held-out metrics of {@link #servable()}: the selected model's, else the last evaluation. */
    public Map<String, Double> servableMetrics() { return bestDir != null ? bestMetrics : lastMetrics; }

    TrainingOutcome withBest(Path dir, Map<String, Double> metrics) {
        return new TrainingOutcome(startStep, steps, totalSteps, outputDir, finalDir, dir, stepLosses, mainMetric, metrics,
                lastMetrics, cancelled);
    }
}
