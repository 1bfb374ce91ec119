package dev.tessera.train;

import java.nio.file.Path;

/** A kind of training a recipe names: {@link Pretrainer} ({@code kind: pretrain}) or {@link Finetuner} ({@code kind: finetune}). */
public sealed interface Trainer permits Pretrainer, Finetuner {

    /** The trainer of {@code recipe}'s kind. */
    static Trainer of(Recipe recipe, TrainOptions options) {
        return switch (recipe.kind()) {
            case PRETRAIN -> new Pretrainer(recipe, options);
            case FINETUNE -> new Finetuner(recipe, options);
        };
    }

    /** Where the run writes its checkpoints. */
    Path outputDir();

    /** Runs the recipe to its end or a stop, resuming from the output directory's last checkpoint if there is one. */
    TrainingOutcome run();
}
