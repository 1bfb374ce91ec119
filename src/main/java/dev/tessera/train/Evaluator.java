package dev.tessera.train;

import dev.tessera.data.Batch;
import dev.tessera.data.FinetuneEncoder;
import dev.tessera.data.LabelSet;
import dev.tessera.glue.GlueTask;
import dev.tessera.glue.Metrics;
import dev.tessera.kernels.NativeModel;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

/** Metrics of a classification / regression model on encoded examples (native forward, no dropout). */
public final class Evaluator {
    private Evaluator() {}

    /** The metric that decides the best checkpoint: the task's first, else accuracy / pearson. */
    public static String mainMetric(GlueTask task, boolean regression) {
        if (task != null) return task.metrics().get(0).key();
        return regression ? "pearson" : "accuracy";
    }

    /**
     * Runs every example (in file order, packed under {@code tokenBudget} / {@code maxSeqs}) and returns
     * the task's metrics (custom tasks: accuracy and, for two classes, F1; regression: pearson, spearman)
     * plus {@code loss} (mean cross-entropy or squared error) and {@code examples}. At most {@code maxBatches}
     * batches are read (the first examples of the file), to bound the cost of frequent evaluations.
     */
    public static Map<String, Double> evaluate(NativeModel model, List<FinetuneEncoder.Encoded> examples, LabelSet labels,
                                               GlueTask task, int tokenBudget, int maxSeqs, int maxBatches) {
        int[] order = IntStream.range(0, examples.size()).toArray();
        List<Batch> batches = FinetuneEncoder.batches(examples, order, maxSeqs, tokenBudget);
        if (batches.size() > maxBatches) batches = batches.subList(0, maxBatches);
        int n = batches.stream().mapToInt(Batch::numSequences).sum();
        boolean reg = labels.isRegression();
        int k = labels.numOutputs();
        int[] pred = new int[n], gold = new int[n];
        double[] score = new double[n], target = new double[n];
        double lossSum = 0;
        int row = 0;
        float[][] out = new float[1][];
        for (Batch b : batches) {
            float loss = model.forward(b, 0, 0, false, out);
            int s = b.numSequences();
            lossSum += (double) loss * s;
            if (reg) {
                for (int i = 0; i < s; i++) {
                    score[row + i] = out[0][i];
                    target[row + i] = b.targets()[i];
                }
            } else {
                int[] am = Metrics.argmax(out[0], k);
                for (int i = 0; i < s; i++) {
                    pred[row + i] = am[i];
                    gold[row + i] = b.classLabels()[i];
                }
            }
            row += s;
        }
        Map<String, Double> m = new LinkedHashMap<>();
        if (task != null) m.putAll(reg ? task.evaluate(score, target) : task.evaluate(pred, gold));
        else if (reg) {
            m.put("pearson", Metrics.pearson(score, target));
            m.put("spearman", Metrics.spearman(score, target));
        } else {
            m.put("accuracy", Metrics.accuracy(pred, gold));
            if (k == 2) m.put("f1", Metrics.f1(pred, gold));
        }
        m.put("loss", n == 0 ? Double.NaN : lossSum / n);
        m.put("examples", (double) n);
        return m;
    }
}
