package dev.tessera.train;

import java.util.List;
import java.util.Map;

/**
 * The part of a checkpoint that is not weights: written as {@code training_state.json} beside the HF
 * files, last, so a directory with this file is complete.
 *
 * @param step         optimizer steps done
 * @param epoch        data position: epoch of the next sequence / example
 * @param index        data position: sequences (pretraining) or examples (finetuning) of that epoch consumed
 * @param recipeHash   SHA-256 of the resolved recipe (a resume with another recipe is reported)
 * @param lossHistory  the training loss averaged over each log interval
 * @param evalHistory  every evaluation's metrics
 * @param bestMetric   finetuning: best value of the main metric so far (null before the first evaluation)
 */
public record TrainingState(String kind, long step, long totalSteps, int epoch, long index, long seed,
                            String recipeHash, long tokensSeen, double trainSeconds, List<LossPoint> lossHistory,
                            List<EvalPoint> evalHistory, String mainMetric, Double bestMetric, Long bestStep) {

    public record LossPoint(long step, double loss) {}

    /** @param trainSeconds training time when it was taken (null in checkpoints written before it was kept) */
    public record EvalPoint(long step, Map<String, Double> metrics, Double trainSeconds) {}
}
