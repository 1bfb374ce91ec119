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

    /**
     * summary.md: the pretraining runs (held-out MLM loss at the end and by evaluation length), test accuracy by
     * starting point and label budget (mean ± sample std over seeds, n), the learning rate each starting point was
     * given, and each pretrained encoder's paired gain over random init (same seeds, same subsets).
     */
    static String summary(JsonNode results) {
        StringBuilder sb = new StringBuilder("# Study results\n\n");
        List<JsonNode> pre = cells(results).stream().filter(c -> c.path("kind").asText().equals("pretrain")).toList();
        if (!pre.isEmpty()) {
            TreeMap<Integer, Boolean> lens = new TreeMap<>();
            pre.forEach(c -> c.path("by_length").fieldNames().forEachRemaining(k -> lens.put(Integer.parseInt(k), true)));
            sb.append("Pretraining: held-out MLM loss at the end of each run (all evaluated at the same mask rate), then by evaluation length.\n\n")
                    .append("| run | steps | tokens | s/step (calibrated) | training min (clock) | MLM loss | masked acc |");
            lens.keySet().forEach(l -> sb.append(" loss @").append(l).append(" |"));
            sb.append("\n|---|---:|---:|---:|---:|---:|---:|").append("---:|".repeat(lens.size())).append('\n');
            for (JsonNode c : pre) {
                JsonNode last = c.path("curve").path(c.path("curve").size() - 1);
                sb.append(String.format("| %s | %d | %.1f M | %.3f | %.1f | %.3f | %.1f%% |", c.get("id").asText().substring("pretrain/".length()),
                        c.path("max_steps").asLong(), c.path("tokens_seen").asDouble() / 1e6, c.path("calibrated_seconds_per_step").asDouble(),
                        c.path("train_seconds").asDouble() / 60, last.path("mlm_loss").asDouble(), 100 * last.path("mlm_accuracy").asDouble()));
                for (int l : lens.keySet()) {
                    JsonNode v = c.path("by_length").path(Integer.toString(l)).path("mlm_loss");
                    sb.append(v.isMissingNode() ? " — |" : String.format(" %.3f |", v.asDouble()));
                }
                sb.append('\n');
            }
            sb.append('\n');
        }
        // accuracy[init][labels][seed]
        Map<String, TreeMap<Integer, TreeMap<Long, Double>>> acc = new LinkedHashMap<>();
        Map<String, Double> lr = new LinkedHashMap<>();
        for (JsonNode c : cells(results)) {
            String kind = c.path("kind").asText();
            if (!kind.equals("finetune") && !kind.equals("tfidf")) continue;
            String init = kind.equals("tfidf") ? "TF-IDF + LR" : c.get("init").asText();
            acc.computeIfAbsent(init, k -> new TreeMap<>()).computeIfAbsent(c.get("labels").asInt(), k -> new TreeMap<>())
                    .put(c.path("seed").asLong(), 100 * c.get("test_accuracy").asDouble());
            if (kind.equals("finetune")) lr.put(init, c.path("settings").path("lr").asDouble());
        }
        if (acc.isEmpty()) return sb.toString();
        TreeMap<Integer, Boolean> labels = new TreeMap<>();
        acc.values().forEach(m -> m.keySet().forEach(n -> labels.put(n, true)));
        sb.append("Test accuracy (%), mean ± sample std over seeds (n); finetuning learning rate per starting point in the header.\n\n| labels |");
        acc.keySet().forEach(k -> sb.append(' ').append(k.replace("pretrain/", "")).append(lr.containsKey(k) ? " (lr " + lr.get(k) + ")" : "").append(" |"));
        sb.append("\n|---:|").append("---:|".repeat(acc.size())).append('\n');
        for (int n : labels.keySet()) {
            sb.append("| ").append(n).append(" |");
            for (var m : acc.values()) sb.append(' ').append(meanStd(m.containsKey(n) ? new ArrayList<>(m.get(n).values()) : List.of())).append(" |");
            sb.append('\n');
        }
        var random = acc.get("random-init");
        if (random != null) {
            sb.append("\nPaired gain over random init (points; same seed, same labelled subset), mean ± std (n).\n\n| labels |");
            List<String> inits = acc.keySet().stream().filter(k -> k.startsWith("pretrain/")).toList();
            inits.forEach(k -> sb.append(' ').append(k.replace("pretrain/", "")).append(" |"));
            sb.append("\n|---:|").append("---:|".repeat(inits.size())).append('\n');
            for (int n : labels.keySet()) {
                sb.append("| ").append(n).append(" |");
                for (String k : inits) {
                    List<Double> d = new ArrayList<>();
                    acc.get(k).getOrDefault(n, new TreeMap<>()).forEach((seed, a) -> {
                        Double r = random.getOrDefault(n, new TreeMap<>()).get(seed);
                        if (r != null) d.add(a - r);
                    });
                    sb.append(' ').append(meanStd(d)).append(" |");
                }
                sb.append('\n');
            }
        }
        return sb.toString();
    }

    private static String meanStd(List<Double> v) {
        if (v.isEmpty()) return "—";
        return v.size() == 1 ? String.format("%.2f (1)", v.getFirst()) : String.format("%.2f ± %.2f (%d)", mean(v), std(v), v.size());
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
