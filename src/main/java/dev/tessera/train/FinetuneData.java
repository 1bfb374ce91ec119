package dev.tessera.train;

import dev.tessera.data.Columns;
import dev.tessera.data.DataOrder;
import dev.tessera.data.DatasetFormat;
import dev.tessera.data.FinetuneEncoder;
import dev.tessera.data.LabelSet;
import dev.tessera.data.LabelledDataset;
import dev.tessera.data.LabelledExample;
import dev.tessera.glue.GlueTask;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntPredicate;

/** Reading and encoding the labelled files of a finetuning run (or of the {@code eval} command). */
public final class FinetuneData {
    private FinetuneData() {}

    /** All rows of {@code files} (the format from {@code format}, or each file's extension). */
    public static List<LabelledExample> read(List<String> files, String format, Columns columns) {
        List<LabelledExample> out = new ArrayList<>();
        for (String f : files) out.addAll(rows(Path.of(f), format, columns));
        return out;
    }

    /** Encodes every file (errors name the file and line of a bad label); a file without examples is an error. */
    public static List<FinetuneEncoder.Encoded> encode(FinetuneEncoder enc, List<String> files, String format, Columns columns,
                                                       LabelSet labels) {
        return encode(enc, files, format, columns, labels, i -> true);
    }

    /** As {@link #encode(FinetuneEncoder, List, String, Columns, LabelSet)}, only the rows whose index over all files {@code keep}s. */
    public static List<FinetuneEncoder.Encoded> encode(FinetuneEncoder enc, List<String> files, String format, Columns columns,
                                                       LabelSet labels, IntPredicate keep) {
        List<FinetuneEncoder.Encoded> out = new ArrayList<>();
        int index = 0;
        for (String f : files) {
            Path p = Path.of(f);
            List<LabelledExample> rows = rows(p, format, columns);
            if (rows.isEmpty()) throw new IllegalArgumentException(p + " has no examples");
            for (LabelledExample row : rows) if (keep.test(index++)) out.add(enc.encode(row, labels, p));
        }
        return out;
    }

    /**
     * A label budget ({@code data.train_examples}): the rows among {@code rows} that are the first {@code n} of a
     * permutation seeded by {@code seed} — all of them when {@code n} is null or not smaller. The same seed picks the
     * same examples for a pretrained model, its random-init control and the TF-IDF baseline ({@code tessera tfidf}).
     */
    public static IntPredicate subset(int rows, Integer n, long seed) {
        if (n == null || n >= rows) return i -> true;
        int[] order = DataOrder.permutation(seed ^ SUBSET_SALT, 0, rows);
        boolean[] chosen = new boolean[rows];
        for (int i = 0; i < n; i++) chosen[order[i]] = true;
        return i -> chosen[i];
    }

    /** Keeps the subset's permutation apart from the epochs' data order, which is seeded by the same seed. */
    private static final long SUBSET_SALT = 0x5b5e7L;

    /** The rows of one file, in {@code format} or the one its extension names. */
    private static List<LabelledExample> rows(Path p, String format, Columns columns) {
        if (!Files.isRegularFile(p)) throw new IllegalArgumentException("data file not found: " + p);
        DatasetFormat fmt = format == null ? DatasetFormat.fromExtension(p) : DatasetFormat.parse(format);
        return LabelledDataset.read(p, fmt, columns);
    }

    /** The label set of a recipe: regression, the recipe's labels, or the sorted labels of the training data. */
    public static LabelSet labelSet(Recipe r, List<LabelledExample> train) {
        if (r.data().regression()) return LabelSet.regression();
        if (r.data().labels() != null) return LabelSet.classes(r.data().labels());
        return LabelSet.inferFrom(train, Path.of(r.data().train().get(0)));
    }

    /** id2label names: a GLUE task's meanings when its raw labels are used, else the label values. */
    public static List<String> labelNames(LabelSet labels, GlueTask task) {
        if (labels.isRegression()) return List.of("LABEL_0");
        if (task != null && !task.isRegression() && labels.labels().equals(task.labelSet().labels())) return task.labelNames();
        return labels.labels();
    }
}
