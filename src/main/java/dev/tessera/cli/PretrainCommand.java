package dev.tessera.cli;

import dev.tessera.train.Pretrainer;
import dev.tessera.train.Recipe;
import dev.tessera.train.TrainOptions;
import picocli.CommandLine.Command;

/** {@code pretrain --recipe R.yaml [--output DIR] [--resume] [--max-steps N] [--threads N]}. */
@Command(name = "pretrain", mixinStandardHelpOptions = true,
        description = "Pretrain with masked language modelling (MosaicBERT recipe); resumes from the latest checkpoint.")
public final class PretrainCommand extends TrainCommandBase {

    @Override
    Recipe.Kind kind() { return Recipe.Kind.PRETRAIN; }

    @Override
    String run(Recipe r, TrainOptions options) {
        Pretrainer.Result res = new Pretrainer(r, options).run();
        if (res.cancelled() || res.finalDir() == null) {
            return "stopped at step " + res.steps() + "/" + res.totalSteps() + "; checkpoints in " + res.outputDir();
        }
        return "done: " + res.steps() + " steps; final model in " + res.finalDir()
                + (res.lastEval().isEmpty() ? "" : "; held-out " + res.lastEval());
    }
}
