package dev.tessera.cli;

import dev.tessera.train.Recipe;
import dev.tessera.train.TrainingOutcome;
import picocli.CommandLine.Command;

/** {@code pretrain --recipe R.yaml [--output DIR] [--resume] [--max-steps N] [--threads N]}. */
@Command(name = "pretrain", mixinStandardHelpOptions = true,
        description = "Pretrain with masked language modelling (MosaicBERT recipe); resumes from the latest checkpoint.")
public final class PretrainCommand extends TrainCommandBase {

    @Override
    Recipe.Kind kind() { return Recipe.Kind.PRETRAIN; }

    @Override
    String done(TrainingOutcome res) {
        return "done: " + res.steps() + " steps; final model in " + res.finalDir()
                + (res.lastMetrics().isEmpty() ? "" : "; held-out " + res.lastMetrics());
    }
}
