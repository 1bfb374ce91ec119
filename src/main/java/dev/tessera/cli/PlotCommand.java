package dev.tessera.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.plot.Charts;
import dev.tessera.study.StudyReport;
import dev.tessera.train.Checkpointer;
import dev.tessera.train.TrainingState;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/**
 * {@code plot --checkpoint DIR --output loss.png}: the loss curve of a training run (or job) from its checkpoint;
 * {@code plot --runs runs.jsonl --output acc.png}: test accuracy against labelled examples, mean ± std over seeds, of
 * a finetuning study's runs (bench/studies/imdb-finetune.sh: one JSON object per line with model, labels, test_accuracy).
 */
@Command(name = "plot", mixinStandardHelpOptions = true,
        description = "Plot a run's training and held-out loss (from a checkpoint) or a finetuning study's accuracy vs labels (PNG).")
public final class PlotCommand implements Callable<Integer> {

    @Spec CommandSpec spec;

    public static final class Source {
        @Option(names = "--checkpoint", required = true, description = "A checkpoint directory (e.g. OUTPUT/final or OUTPUT/best).")
        Path checkpoint;

        @Option(names = "--runs", required = true, description = "A finetuning study's runs.jsonl.")
        Path runs;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

    @Option(names = "--output", required = true, description = "PNG file to write.")
    Path output;

    @Override
    public Integer call() throws IOException {
        var err = spec.commandLine().getErr();
        if (source.runs != null) {
            if (!Files.isRegularFile(source.runs)) {
                err.println("no file " + source.runs);
                return 2;
            }
            Map<String, TreeMap<Integer, List<Double>>> runs = accuracyByLabels(Files.readAllLines(source.runs));
            if (runs.isEmpty()) {
                err.println("no scored runs (model, labels, test_accuracy) in " + source.runs);
                return 2;
            }
            StudyReport.accuracyVsLabels(runs, output);
        } else {
            if (!Files.isRegularFile(source.checkpoint.resolve(Checkpointer.STATE))) {
                err.println("no " + Checkpointer.STATE + " in " + source.checkpoint);
                return 2;
            }
            TrainingState st = Checkpointer.readState(source.checkpoint);
            Charts.lossCurve(st, st.kind() + " — " + source.checkpoint, output);
        }
        spec.commandLine().getOut().println("wrote " + output);
        return 0;
    }

    /** Test accuracies (%) by model and label count; runs without a test score (a sweep, chosen on dev) are left out. */
    static Map<String, TreeMap<Integer, List<Double>>> accuracyByLabels(List<String> lines) throws IOException {
        ObjectMapper json = new ObjectMapper();
        Map<String, TreeMap<Integer, List<Double>>> byModel = new TreeMap<>();
        for (String line : lines) {
            if (line.isBlank()) continue;
            JsonNode r = json.readTree(line);
            JsonNode acc = r.path("test_accuracy");
            if (!acc.isNumber() || !r.path("labels").isInt()) continue;
            byModel.computeIfAbsent(r.path("model").asText("?"), k -> new TreeMap<>())
                    .computeIfAbsent(r.get("labels").asInt(), k -> new ArrayList<>()).add(100 * acc.asDouble());
        }
        return byModel;
    }
}
