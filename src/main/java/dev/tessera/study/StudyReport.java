package dev.tessera.study;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tessera.plot.Charts;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** The study's results as a flat CSV and as the three PNG figures. */
public final class StudyReport {
    private StudyReport() {}

    /** One row per measured value: {@code id,kind,group,x,metric,value}. */
    static String csv(JsonNode results) {
        StringBuilder sb = new StringBuilder("id,kind,group,x,metric,value\n");
        for (JsonNode c : cells(results)) {
            String id = c.get("id").asText(), kind = c.path("kind").asText();
            switch (kind) {
                case "pretrain" -> {
                    String g = c.get("architecture").asText() + "/" + c.get("budget_minutes").asText() + "m";
                    for (JsonNode p : c.path("curve")) {
                        row(sb, id, kind, g, 60 * minutes(p), "mlm_loss", p.path("mlm_loss").asDouble());
                        row(sb, id, kind, g, 60 * minutes(p), "mlm_accuracy", p.path("mlm_accuracy").asDouble());
                    }
                    row(sb, id, kind, g, c.get("train_seconds").asDouble(), "tokens_per_second", c.get("tokens_per_second").asDouble());
                    for (Iterator<Map.Entry<String, JsonNode>> it = c.path("by_length").fields(); it.hasNext(); ) {
                        var e = it.next();
                        row(sb, id, kind, g, Double.parseDouble(e.getKey()), "mlm_loss_at_length", e.getValue().path("mlm_loss").asDouble());
                    }
                }
                case "finetune" -> row(sb, id, kind, c.get("init").asText(), c.get("labels").asDouble(), "test_accuracy",
                        c.get("test_accuracy").asDouble());
                case "lr_sweep" -> row(sb, id, kind, c.get("init").asText(), c.get("lr").asDouble(), "dev_accuracy",
                        c.get("dev_accuracy").asDouble());
                case "tfidf" -> {
                    row(sb, id, kind, "tfidf", c.get("labels").asDouble(), "test_accuracy", c.get("test_accuracy").asDouble());
                    row(sb, id, kind, "tfidf", c.get("labels").asDouble(), "test_accuracy_all", c.get("test_accuracy_all").asDouble());
                }
                default -> { }
            }
        }
        return sb.toString();
    }

    /** mlm-vs-time.png, accuracy-vs-labels.png, mlm-vs-length.png: each when the results have its data. */
    static void plots(JsonNode results, Path dir) {
        List<Charts.Series> time = new ArrayList<>(), length = new ArrayList<>();
        Map<String, TreeMap<Integer, List<Double>>> acc = new LinkedHashMap<>();
        for (JsonNode c : cells(results)) {
            switch (c.path("kind").asText()) {
                case "pretrain" -> {
                    String name = c.get("architecture").asText() + " " + c.get("budget_minutes").asText() + " min";
                    List<Double> x = new ArrayList<>(), y = new ArrayList<>();
                    for (JsonNode p : c.path("curve")) {
                        x.add(minutes(p));
                        y.add(p.path("mlm_loss").asDouble());
                    }
                    time.add(Charts.Series.of(name, x, y));
                    List<Double> lx = new ArrayList<>(), ly = new ArrayList<>();
                    for (Iterator<Map.Entry<String, JsonNode>> it = c.path("by_length").fields(); it.hasNext(); ) {
                        var e = it.next();
                        lx.add(Double.parseDouble(e.getKey()));
                        ly.add(e.getValue().path("mlm_loss").asDouble());
                    }
                    if (!lx.isEmpty()) length.add(Charts.Series.of(name, lx, ly));
                }
                case "finetune" -> acc.computeIfAbsent(c.get("init").asText(), k -> new TreeMap<>())
                        .computeIfAbsent(c.get("labels").asInt(), k -> new ArrayList<>()).add(100 * c.get("test_accuracy").asDouble());
                case "tfidf" -> acc.computeIfAbsent("TF-IDF + logistic regression", k -> new TreeMap<>())
                        .computeIfAbsent(c.get("labels").asInt(), k -> new ArrayList<>()).add(100 * c.get("test_accuracy").asDouble());
                default -> { }
            }
        }
        if (!time.isEmpty()) {
            Charts.lines("Held-out MLM loss vs training time (both evaluated at the same mask rate)",
                    "training time (minutes: steps × seconds per step timed alone)",
                    "held-out MLM loss", time, false, dir.resolve("mlm-vs-time.png"));
        }
        if (!length.isEmpty()) {
            Charts.lines("Held-out MLM loss vs evaluation length", "sequence length (tokens)", "held-out MLM loss", length, true,
                    dir.resolve("mlm-vs-length.png"));
        }
        if (!acc.isEmpty()) accuracyVsLabels(acc, dir.resolve("accuracy-vs-labels.png"));
    }

    /**
     * Test accuracy (%) against labelled examples, one series per model: the mean over its runs at each label count,
     * with the sample standard deviation as error bar. Also {@code tessera plot --runs}.
     */
    public static void accuracyVsLabels(Map<String, ? extends Map<Integer, List<Double>>> byModel, Path png) {
        List<Charts.Series> s = new ArrayList<>();
        byModel.forEach((name, byN) -> {
            int k = byN.size(), i = 0;
            double[] x = new double[k], y = new double[k], e = new double[k];
            for (var en : byN.entrySet()) {
                x[i] = en.getKey();
                y[i] = mean(en.getValue());
                e[i] = std(en.getValue());
                i++;
            }
            s.add(new Charts.Series(name, x, y, e));
        });
        Charts.lines("IMDB test accuracy vs labelled examples (mean ± std over seeds)", "labelled training reviews",
                "test accuracy (%)", s, true, png);
    }

    /** A curve point's training time: steps × the calibrated seconds per step where recorded, else the run's clock. */
    private static double minutes(JsonNode point) {
        return (point.has("calibrated_seconds") ? point.get("calibrated_seconds") : point.path("train_seconds")).asDouble() / 60;
    }

    static double mean(List<Double> v) {
        return v.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
    }

    /** Sample standard deviation (0 for one value). */
    static double std(List<Double> v) {
        if (v.size() < 2) return 0;
        double m = mean(v), ss = 0;
        for (double d : v) ss += (d - m) * (d - m);
        return Math.sqrt(ss / (v.size() - 1));
    }

    private static List<JsonNode> cells(JsonNode results) {
        List<JsonNode> out = new ArrayList<>();
        results.path("cells").forEach(out::add);
        return out;
    }

    private static void row(StringBuilder sb, String id, String kind, String group, double x, String metric, double v) {
        sb.append(id).append(',').append(kind).append(',').append(group).append(',').append(x).append(',').append(metric)
                .append(',').append(v).append('\n');
    }
}
