package dev.tessera.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.data.Columns;
import dev.tessera.data.LabelSet;
import dev.tessera.glue.GlueTask;
import dev.tessera.model.Head;
import dev.tessera.model.ModelConfig;
import dev.tessera.train.CheckpointEvaluator;
import dev.tessera.train.FinetuneData;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code eval --model DIR --data FILE [--task NAME] [--text COL] [--text-b COL] [--label COL] [--labels a,b]}. */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Metrics of a classification/regression checkpoint on a labelled TSV/CSV/JSONL file (native forward).")
public final class EvalCommand implements Callable<Integer> {

    @Spec CommandSpec spec;

    @Option(names = "--model", required = true, description = "Checkpoint directory (HF layout, with a tokenizer).")
    Path model;

    @Option(names = "--data", required = true, description = "Labelled file (.tsv, .csv, .jsonl).")
    Path data;

    @Option(names = "--task", defaultValue = "custom", description = "GLUE task name (its columns, labels, metrics) or custom.")
    String task;

    @Option(names = "--text", description = "Text column (default: the task's, else 'text').") String text;
    @Option(names = "--text-b", description = "Second text column for pair tasks.") String textB;
    @Option(names = "--label", description = "Label column (default: the task's, else 'label').") String label;

    @Option(names = "--labels", split = ",", description = "Label values in class-id order (default: the task's, else the model's id2label).")
    List<String> labels;

    @Option(names = "--max-length", defaultValue = "256") int maxLength;
    @Option(names = "--batch-tokens", defaultValue = "8192") int batchTokens;
    @Option(names = "--threads", defaultValue = "0") int threads;

    @Override
    public Integer call() throws Exception {
        var err = spec.commandLine().getErr();
        try {
            GlueTask glue = task.equalsIgnoreCase("custom") ? null : GlueTask.byName(task);
            try (CheckpointEvaluator ev = CheckpointEvaluator.open(model, threads)) {
                ModelConfig c = ev.config();
                if (c.head() != Head.CLASSIFICATION && c.head() != Head.REGRESSION) {
                    err.println("error: " + model + " has no classification or regression head (" + c.head() + ")");
                    return 2;
                }
                boolean reg = c.head() == Head.REGRESSION;
                Columns cols = new Columns(text != null ? text : glue != null ? glue.columns().text() : "text",
                        textB != null ? textB : glue != null ? glue.columns().textB() : null,
                        label != null ? label : glue != null ? glue.columns().label() : "label");
                LabelSet ls = reg ? LabelSet.regression() : LabelSet.classes(labels != null ? labels
                        : glue != null ? glue.labelSet().labels() : c.labels());
                if (ls.numOutputs() != (reg ? 1 : c.numLabels())) {
                    err.println("error: " + ls.numOutputs() + " labels but the model has " + c.numLabels() + " outputs");
                    return 2;
                }
                var examples = FinetuneData.encode(ev.encoder(maxLength), List.of(data.toString()), null, cols, ls);
                long t0 = System.nanoTime();
                Map<String, Double> metrics = ev.evaluate(examples, ls, glue, batchTokens, 512);
                metrics.put("seconds", (System.nanoTime() - t0) / 1e9);
                spec.commandLine().getOut().println(new ObjectMapper().writeValueAsString(metrics));
            }
            return 0;
        } catch (IllegalArgumentException e) {
            err.println("error: " + e.getMessage());
            return 2;
        }
    }
}
