package dev.tessera.cli;

import dev.tessera.train.Recipe;
import dev.tessera.train.TrainingOutcome;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** {@code finetune --recipe R.yaml [--init-from DIR] [--output DIR] [--task NAME] [--epochs N] ...}. */
@Command(name = "finetune", mixinStandardHelpOptions = true,
        description = "Finetune a checkpoint for classification or regression; keeps the best model servable in OUTPUT/best.")
public final class FinetuneCommand extends TrainCommandBase {

    @Option(names = "--init-from", description = "Checkpoint directory to start from (overrides model.init_from).")
    Path initFrom;

    @Option(names = "--task", description = "GLUE task name or 'custom' (overrides data.task).")
    String task;

    @Option(names = "--epochs", description = "Epochs (overrides training.epochs).")
    Integer epochs;

    @Option(names = "--train", description = "Training file (overrides data.train).")
    Path train;

    @Option(names = "--eval", description = "Dev file (overrides data.eval).")
    Path eval;

    @Option(names = "--tokenizer", description = "Tokenizer directory (overrides data.tokenizer).")
    Path tokenizer;

    @Override
    Map<String, Object> extraOverrides() {
        Map<String, Object> m = new LinkedHashMap<>();
        if (initFrom != null) m.put("model.init_from", initFrom.toString());
        if (task != null) m.put("data.task", task);
        if (epochs != null) {
            m.put("training.epochs", epochs);
            m.put("training.max_steps", null);
        }
        if (train != null) m.put("data.train", java.util.List.of(train.toString()));
        if (eval != null) m.put("data.eval", java.util.List.of(eval.toString()));
        if (tokenizer != null) m.put("data.tokenizer", tokenizer.toString());
        return m;
    }

    @Override
    Recipe.Kind kind() { return Recipe.Kind.FINETUNE; }

    @Override
    String done(TrainingOutcome res) {
        return "done: " + res.steps() + " steps; best model (" + res.mainMetric() + " " + res.bestMetrics().get(res.mainMetric())
                + ") in " + res.bestDir() + "; last in " + res.finalDir();
    }
}
