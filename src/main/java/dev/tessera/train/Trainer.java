package dev.tessera.train;

import java.nio.file.Path;

/**
 * A kind of training a recipe names: {@link Pretrainer} ({@code kind: pretrain}) or {@link Finetuner}
 * ({@code kind: finetune}). {@link #run} is the same for both: start ({@link TrainingSetup}), then what the kind does
 * with it, which ends in the one {@link TrainingLoop}.
 */
public abstract sealed class Trainer permits Pretrainer, Finetuner {
    Recipe recipe; // confined (paths resolved and checked) when the run starts
    final TrainOptions options;

    Trainer(Recipe recipe, TrainOptions options, Recipe.Kind kind, String what) {
        if (recipe.kind() != kind) throw new IllegalArgumentException("not a " + what + " recipe (kind: " + recipe.kind() + ")");
        this.recipe = recipe;
        this.options = options;
    }

    /** The trainer of {@code recipe}'s kind. */
    public static Trainer of(Recipe recipe, TrainOptions options) {
        return switch (recipe.kind()) {
            case PRETRAIN -> new Pretrainer(recipe, options);
            case FINETUNE -> new Finetuner(recipe, options);
        };
    }

    /** Where the run writes its checkpoints. */
    public Path outputDir() {
        return options.outputDirFor(recipe);
    }

    /** Runs the recipe to its end or a stop, resuming from the output directory's last checkpoint if there is one. */
    public final TrainingOutcome run() {
        try (TrainingSetup setup = TrainingSetup.start(recipe, options)) {
            recipe = setup.recipe;
            return run(setup);
        }
    }

    /** The kind's own part: its data and model, then the loop ({@link TrainingSetup#train}). */
    abstract TrainingOutcome run(TrainingSetup setup);
}
