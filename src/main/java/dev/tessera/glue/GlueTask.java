package dev.tessera.glue;

import dev.tessera.data.Columns;
import dev.tessera.data.LabelSet;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The eight GLUE tasks with their columns, labels, metrics and the MosaicBERT reference finetuning
 * hyperparameters (DESIGN.md §3): max length 256, linear warmup over 6% of the steps then linear decay
 * to 0; RTE, MRPC and STS-B start from the MNLI-finetuned model.
 *
 * <p>Default column names and label values are those of the Hugging Face {@code glue} dataset (as
 * exported to JSONL/CSV/TSV with a header): labels are the integers 0..k-1 written as text; the names
 * in {@link #labelNames()} give their meaning (for {@code id2label}). Files in another layout (e.g. the
 * original GLUE TSVs, where MNLI's label column is {@code gold_label}) override the columns and labels
 * in the finetuning recipe.
 */
public enum GlueTask {
    COLA("cola", Columns.single("sentence", "label"), List.of("unacceptable", "acceptable"),
            List.of(Metric.MATTHEWS), 5e-5, 10, 32, null),
    SST2("sst2", Columns.single("sentence", "label"), List.of("negative", "positive"),
            List.of(Metric.ACCURACY), 3e-5, 3, 16, null),
    MRPC("mrpc", Columns.pair("sentence1", "sentence2", "label"), List.of("not_equivalent", "equivalent"),
            List.of(Metric.ACCURACY, Metric.F1), 8e-5, 10, 32, "mnli"),
    QQP("qqp", Columns.pair("question1", "question2", "label"), List.of("not_duplicate", "duplicate"),
            List.of(Metric.ACCURACY, Metric.F1), 3e-5, 5, 16, null),
    STSB("stsb", Columns.pair("sentence1", "sentence2", "label"), List.of(),
            List.of(Metric.PEARSON, Metric.SPEARMAN), 3e-5, 10, 32, "mnli"),
    MNLI("mnli", Columns.pair("premise", "hypothesis", "label"), List.of("entailment", "neutral", "contradiction"),
            List.of(Metric.ACCURACY), 5e-5, 3, 48, null),
    QNLI("qnli", Columns.pair("question", "sentence", "label"), List.of("entailment", "not_entailment"),
            List.of(Metric.ACCURACY), 1e-5, 10, 16, null),
    RTE("rte", Columns.pair("sentence1", "sentence2", "label"), List.of("entailment", "not_entailment"),
            List.of(Metric.ACCURACY), 1e-5, 3, 16, "mnli");

    public static final int MAX_LENGTH = 256;
    public static final double WARMUP_FRACTION = 0.06;
    public static final double FINAL_LR_FRACTION = 0.0;

    private final String id;
    private final Columns columns;
    private final List<String> labelNames;
    private final List<Metric> metrics;
    private final double learningRate;
    private final int epochs;
    private final int batchSize;
    private final String startFrom;

    GlueTask(String id, Columns columns, List<String> labelNames, List<Metric> metrics, double learningRate,
             int epochs, int batchSize, String startFrom) {
        this.id = id;
        this.columns = columns;
        this.labelNames = labelNames;
        this.metrics = metrics;
        this.learningRate = learningRate;
        this.epochs = epochs;
        this.batchSize = batchSize;
        this.startFrom = startFrom;
    }

    /** Accepts "sst2", "SST-2", "sts-b", "STSB", "CoLA"... */
    public static GlueTask byName(String name) {
        String n = name.toLowerCase(Locale.ROOT).replace("-", "").replace("_", "").trim();
        for (GlueTask t : values()) if (t.id.equals(n)) return t;
        throw new IllegalArgumentException("unknown GLUE task '" + name + "' (known: cola, sst2, mrpc, qqp, stsb, mnli, qnli, rte)");
    }

    public String id() { return id; }

    public boolean isPair() { return columns.textB() != null; }

    public boolean isRegression() { return labelNames.isEmpty(); }

    public Columns columns() { return columns; }

    /** Meaning of class ids 0..k-1 (empty for regression). */
    public List<String> labelNames() { return labelNames; }

    /** Model outputs: class count, or 1 for regression. */
    public int numLabels() { return isRegression() ? 1 : labelNames.size(); }

    /** Label set over the raw label values "0".."k-1" (or regression). */
    public LabelSet labelSet() {
        if (isRegression()) return LabelSet.regression();
        return LabelSet.classes(java.util.stream.IntStream.range(0, labelNames.size()).mapToObj(Integer::toString).toList());
    }

    public List<Metric> metrics() { return metrics; }

    public double learningRate() { return learningRate; }

    public int epochs() { return epochs; }

    public int batchSize() { return batchSize; }

    public int maxLength() { return MAX_LENGTH; }

    /** The task whose finetuned model this one starts from (MNLI for RTE, MRPC, STS-B), if any. */
    public Optional<GlueTask> startFrom() { return Optional.ofNullable(startFrom).map(GlueTask::byName); }

    /** The task's metrics over class predictions, by {@link Metric#key()}. */
    public Map<String, Double> evaluate(int[] pred, int[] gold) {
        if (isRegression()) throw new IllegalArgumentException(id + " is a regression task; pass scores");
        Map<String, Double> out = new LinkedHashMap<>();
        for (Metric m : metrics) out.put(m.key(), m.compute(pred, gold));
        return out;
    }

    /** The task's metrics over regression scores, by {@link Metric#key()}. */
    public Map<String, Double> evaluate(double[] pred, double[] gold) {
        if (!isRegression()) throw new IllegalArgumentException(id + " is a classification task; pass class ids");
        Map<String, Double> out = new LinkedHashMap<>();
        for (Metric m : metrics) out.put(m.key(), m.compute(pred, gold));
        return out;
    }
}
