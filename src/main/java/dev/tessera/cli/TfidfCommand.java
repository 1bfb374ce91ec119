package dev.tessera.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.data.Columns;
import dev.tessera.data.LabelledExample;
import dev.tessera.study.TfidfBaseline;
import dev.tessera.train.FinetuneData;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.IntPredicate;

/**
 * {@code tfidf --train FILE --test FILE [--examples N --seed S]}: the bag-of-words control of a finetuning run —
 * TF-IDF + logistic regression trained on the same label budget ({@code data.train_examples} with the same seed picks
 * the same examples) and scored on a test file.
 */
@Command(name = "tfidf", mixinStandardHelpOptions = true,
        description = "TF-IDF + logistic regression on a labelled file (the control of a finetuning run); prints JSON.")
public final class TfidfCommand implements Callable<Integer> {

    @Spec CommandSpec spec;

    @Option(names = "--train", required = true, description = "Labelled training file (.tsv, .csv, .jsonl).") Path train;
    @Option(names = "--test", required = true, description = "Labelled test file.") Path test;
    @Option(names = "--examples", description = "Train on this many examples (a seeded subset, as data.train_examples).") Integer examples;
    @Option(names = "--seed", defaultValue = "17", description = "Seed of the subset (the finetuning recipe's seed).") long seed;
    @Option(names = "--min-df", defaultValue = "2", description = "Keep words in at least this many training documents.") int minDf;
    @Option(names = "--text", defaultValue = "text", description = "Text column.") String text;
    @Option(names = "--label", defaultValue = "label", description = "Label column.") String label;

    @Override
    public Integer call() throws Exception {
        try {
            Columns cols = new Columns(text, null, label);
            List<LabelledExample> all = FinetuneData.read(List.of(train.toString()), null, cols);
            IntPredicate keep = FinetuneData.subset(all.size(), examples, seed);
            List<LabelledExample> chosen = new ArrayList<>();
            for (int i = 0; i < all.size(); i++) if (keep.test(i)) chosen.add(all.get(i));
            List<LabelledExample> testRows = FinetuneData.read(List.of(test.toString()), null, cols);
            TfidfBaseline.Result r = new TfidfBaseline(minDf).run(chosen, List.of(testRows));
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("accuracy", r.accuracies().get(0));
            out.put("train_examples", chosen.size());
            out.put("test_examples", testRows.size());
            out.put("features", r.features());
            out.put("seconds", r.seconds());
            spec.commandLine().getOut().println(new ObjectMapper().writeValueAsString(out));
            return 0;
        } catch (IllegalArgumentException e) {
            spec.commandLine().getErr().println("error: " + e.getMessage());
            return 2;
        }
    }
}
