package dev.tessera.study;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.tessera.data.Columns;
import dev.tessera.data.DataOrder;
import dev.tessera.data.FinetuneEncoder;
import dev.tessera.data.LabelSet;
import dev.tessera.data.LabelledExample;
import dev.tessera.io.AtomicDirectories;
import dev.tessera.io.AtomicFiles;
import dev.tessera.kernels.NativeConfig;
import dev.tessera.kernels.NativeModel;
import dev.tessera.train.CheckpointEvaluator;
import dev.tessera.train.Checkpointer;
import dev.tessera.train.FinetuneData;
import dev.tessera.train.Finetuner;
import dev.tessera.train.Pretrainer;
import dev.tessera.train.Recipe;
import dev.tessera.train.TrainOptions;
import dev.tessera.train.TrainingListener;
import dev.tessera.train.TrainingLoop;
import dev.tessera.train.TrainingOutcome;
import dev.tessera.train.TrainingState;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.BooleanSupplier;

/**
 * Runs a {@link StudySpec}: every cell (one pretraining run, one finetuning run, one baseline) has an id;
 * a finished cell's record is in {@code output/results.json} and is never run again, and a cell that was
 * killed resumes from its own checkpoints (Pretrainer/Finetuner resume), so a killed study continues where
 * it stopped. After every cell the results file, {@code results.csv} and the plots are rewritten.
 *
 * <p>Pretraining budgets: a few timed steps of each architecture (calibration, on this machine now) give
 * the seconds per step; the run's {@code max_steps} = budget ÷ that, fixed in {@code work_dir/plan.json}
 * so a resumed run keeps its schedule. The budget is training time (evaluation excluded); the records say
 * the time each run actually took, and the curves' time axis is steps × the calibrated seconds per step, which
 * other work on the machine after calibration does not stretch.
 */
public final class Study {

    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final ObjectMapper YAML = new YAMLMapper();
    static final int CALIBRATION_STEPS = 12;
    /** The budget recipe's name among the architectures (see {@link #pretrainRecipe}). */
    static final String BUDGET_RECIPE = "mosaic_bert+budget";
    private static final String RANDOM_INIT = "random-init";

    private final StudySpec spec;
    private final Path out, work;
    private final TrainingListener log;
    private final BooleanSupplier cancelled;
    private final ObjectNode results;
    private final ObjectNode plan;
    private boolean controlsRun;

    public Study(StudySpec spec, TrainingListener log, BooleanSupplier cancelled) {
        this.spec = spec;
        this.out = Path.of(spec.output());
        this.work = Path.of(spec.workDir());
        this.log = log;
        this.cancelled = cancelled;
        this.results = readObject(out.resolve("results.json"));
        if (!results.has("cells")) results.putObject("cells");
        this.plan = readObject(work.resolve("plan.json"));
    }

    /**
     * Runs every cell not yet in the results; returns false when cancelled before the end. Order: budget by
     * budget, each budget's pretraining runs and then their finetuning at the label budgets that take every seed
     * (the random-init control and the TF-IDF baseline after the first budget), then the larger label budgets (first
     * seed): a study cut short has its cheapest complete comparisons first.
     */
    public boolean run() {
        results.set("spec", JSON.valueToTree(spec));
        StudySpec.Pretrain p = spec.pretrain();
        StudySpec.Finetune f = spec.finetune();
        List<String> inits = new ArrayList<>();
        if (p != null) {
            TreeMap<Double, List<String>> runs = pretrainRuns();
            plan(runs);
            for (var e : runs.entrySet()) {
                List<String> now = new ArrayList<>();
                for (String arch : e.getValue()) {
                    String id = pretrainId(arch, e.getKey());
                    if (!cell(id, () -> pretrain(id, arch, e.getKey()))) return false;
                    now.add(id);
                }
                inits.addAll(now);
                if (f != null) for (String init : now) if (!finetuneAll(init, true)) return false;
                if (!controls(inits)) return false; // right after the first budget: its comparison is then complete
            }
        }
        if (!controls(inits)) return false;
        if (f != null) for (String init : inits) if (!finetuneAll(init, false)) return false;
        write();
        return true;
    }

    /**
     * The random-init control at the label budgets that take every seed (joining {@code inits}) and the TF-IDF
     * baseline on the finetuning runs' subsets (a minute or two in all); once per invocation.
     */
    private boolean controls(List<String> inits) {
        if (controlsRun) return true;
        StudySpec.Finetune f = spec.finetune();
        if (f != null && f.randomInit()) {
            inits.add(RANDOM_INIT);
            if (!finetuneAll(RANDOM_INIT, true)) return false;
        }
        if (spec.tfidf() == null) return controlsRun = true;
        for (int n : spec.tfidf().labels()) {
            for (long seed : spec.finetune().seedsAt(n)) {
                String id = "tfidf/" + n + "/seed" + seed;
                if (!cell(id, () -> tfidf(n, seed))) return false;
            }
        }
        return controlsRun = true;
    }

    /** Architectures by budget: every architecture at every budget, plus the budget recipe where asked. */
    private TreeMap<Double, List<String>> pretrainRuns() {
        StudySpec.Pretrain p = spec.pretrain();
        TreeMap<Double, List<String>> runs = new TreeMap<>();
        for (double b : p.budgetsMinutes()) runs.computeIfAbsent(b, k -> new ArrayList<>()).addAll(p.architectures());
        for (double b : p.budgetRecipeMinutes()) runs.computeIfAbsent(b, k -> new ArrayList<>()).add(BUDGET_RECIPE);
        return runs;
    }

    private static String pretrainId(String arch, double budget) {
        return "pretrain/" + arch + "/" + fmt(budget) + "m";
    }

    /**
     * Finetunes {@code init} at the label budgets that take every seed ({@code small}) or at the others; the
     * learning rate is chosen on dev first when the spec sweeps it.
     */
    private boolean finetuneAll(String init, boolean small) {
        StudySpec.Finetune f = spec.finetune();
        if (small && !f.lrSweep().isEmpty()) { // the small pass comes first for every starting point
            int n = f.labels().stream().mapToInt(Integer::intValue).min().orElseThrow();
            for (double lr : f.lrSweep()) {
                String id = "lr-sweep/" + init + "/" + n + "/lr" + lr;
                if (!cell(id, () -> lrTrial(id, init, n, lr))) return false;
            }
        }
        for (int n : f.labels()) {
            if ((n <= f.seedsUpToLabels()) != small) continue;
            for (long seed : f.seedsAt(n)) {
                String id = "finetune/" + init + "/" + n + "/seed" + seed;
                if (!cell(id, () -> finetune(id, init, n, seed))) return false;
            }
        }
        return true;
    }
    public ObjectNode results() { return results; }

    private interface CellRun { ObjectNode run(); }

    /** What a finetuning cell's result depends on besides its id: a recorded cell with other settings is an error. */
    private ObjectNode finetuneSettings(String init, int labels) {
        StudySpec.Finetune f = spec.finetune();
        ObjectNode o = JSON.createObjectNode();
        o.put("lr", lrFor(init)).put("epochs", f.epochsAt(labels)).put("max_seq_len", f.maxSeqLen())
                .put("global_batch", f.globalBatch()).put("test_limit", f.testLimit());
        return o;
    }

    /** Runs the cell unless done; null from {@code run} means it stopped (cancelled) and is not recorded. */
    private boolean cell(String id, CellRun run) {
        ObjectNode cells = (ObjectNode) results.get("cells");
        if (cells.has(id)) {
            JsonNode was = cells.get(id).get("settings");
            if (id.startsWith("finetune/") && was != null) {
                ObjectNode now = finetuneSettings(cells.get(id).get("init").asText(), cells.get(id).get("labels").asInt());
                if (!was.equals(now)) {
                    throw new IllegalArgumentException(out.resolve("results.json") + " has " + id + " with finetune settings " + was
                            + " but the spec now says " + now + ": use another output and work_dir");
                }
            }
            log.info("study: " + id + " done before, kept");
            return true;
        }
        if (cancelled.getAsBoolean()) return false;
        log.info("study: running " + id);
        long t0 = System.nanoTime();
        ObjectNode rec = run.run();
        if (rec == null) return false;
        rec.put("id", id);
        rec.put("wall_seconds", (System.nanoTime() - t0) / 1e9);
        cells.set(id, rec);
        write();
        return true;
    }

    // ---------------------------------------------------------------- pretraining

    private ObjectNode pretrain(String id, String arch, double budgetMinutes) {
        StudySpec.Pretrain p = spec.pretrain();
        Path dir = work.resolve(id);
        long steps = plan.get(id).get("max_steps").asLong();
        double secPerStep = plan.get(id).get("seconds_per_step").asDouble();
        Recipe r = Recipe.parse(yaml(pretrainRecipe(arch, steps, dir, true)), id);
        TrainingOutcome res = new Pretrainer(r, options()).run();
        if (res.finalDir() == null) return null;
        TrainingState st = Checkpointer.readState(res.finalDir());
        ObjectNode rec = JSON.createObjectNode();
        rec.put("kind", "pretrain").put("architecture", arch).put("budget_minutes", budgetMinutes)
                .put("calibrated_seconds_per_step", secPerStep).put("max_steps", steps)
                .put("train_seconds", st.trainSeconds()).put("tokens_seen", st.tokensSeen())
                .put("tokens_per_second", st.tokensSeen() / Math.max(1e-9, st.trainSeconds()))
                .put("mask_rate", r.training().maskRate()).put("eval_mask_rate", r.training().evalMaskRate())
                .put("padded", r.batch().padded()).put("checkpoint", res.finalDir().toString());
        try (CheckpointEvaluator ev = CheckpointEvaluator.open(res.finalDir(), spec.threads())) {
            rec.put("parameters", ev.model().weights().values().stream().mapToLong(t -> t.data().length).sum());
            ArrayNode curve = rec.putArray("curve");
            for (TrainingState.EvalPoint e : st.evalHistory()) {
                ObjectNode c = curve.addObject();
                c.put("step", e.step());
                // the time axis of the study: steps at the rate measured alone, whatever else shared the machine later
                c.put("calibrated_seconds", e.step() * secPerStep);
                if (e.trainSeconds() != null) c.put("train_seconds", e.trainSeconds());
                e.metrics().forEach((k, v) -> c.put(k, v));
            }
            ObjectNode ex = rec.putObject("by_length");
            for (int len : p.evalLengths()) {
                if (arch.equals("bert") && len > p.maxSeqLen()) continue; // learned positions past max_seq_len were never trained
                Map<String, Double> m = ev.evaluateMlm(shardDir().resolve("eval"), len, p.evalMaskRate(), p.evalBatches(),
                        Math.max(p.microbatchTokens(), len), spec.seed());
                ObjectNode o = ex.putObject(Integer.toString(len));
                m.forEach(o::put);
            }
        }
        return rec;
    }

    /**
     * Fixes every pretraining run's max_steps in plan.json (budget ÷ seconds per step) before any run, so all
     * architectures are timed under the same machine conditions: one discarded warm-up (JIT), then each
     * architecture timed twice, interleaved, keeping its faster time.
     */
    private void plan(TreeMap<Double, List<String>> runs) {
        Map<String, Double> budgets = new LinkedHashMap<>();
        runs.forEach((b, archs) -> archs.forEach(a -> {
            String id = pretrainId(a, b);
            if (!plan.has(id) && !((ObjectNode) results.get("cells")).has(id)) budgets.put(id, b);
        }));
        if (budgets.isEmpty()) return;
        List<String> archs = budgets.keySet().stream().map(id -> id.split("/")[1]).distinct().toList();
        calibrate(archs.getFirst());
        Map<String, Double> secPerStep = new LinkedHashMap<>();
        for (int round = 0; round < 2; round++) {
            for (String a : archs) secPerStep.merge(a, calibrate(a), Math::min);
        }
        budgets.forEach((id, minutes) -> {
            double sps = secPerStep.get(id.split("/")[1]);
            long steps = Math.max(10, Math.round(minutes * 60 / sps));
            plan.putObject(id).put("max_steps", steps).put("seconds_per_step", sps);
            log.info(String.format("study: %s: %.3f s/step calibrated -> %d steps for %s min", id, sps, steps, fmt(minutes)));
        });
        AtomicFiles.writeString(work.resolve("plan.json"), pretty(plan));
    }

    /** Seconds per optimizer step of {@code arch}, timed over a few steps (the first two, warm-up, left out). */
    private double calibrate(String arch) {
        Path dir = work.resolve("calibrate-" + arch);
        List<Long> times = new ArrayList<>();
        try {
            AtomicDirectories.deleteTree(dir);
            Recipe r = Recipe.parse(yaml(pretrainRecipe(arch, CALIBRATION_STEPS, dir, false)), "calibration");
            TrainingListener timer = new TrainingListener() {
                @Override public void step(StepStats s) { times.add(System.nanoTime()); }
                @Override public void info(String line) { log.info(line); }
            };
            new Pretrainer(r, TrainOptions.defaults().withThreads(spec.threads()).withListener(timer).withCancel(cancelled)).run();
            AtomicDirectories.deleteTree(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (times.size() < 4) throw new IllegalStateException("calibration of " + arch + " did not run");
        return (times.getLast() - times.get(1)) / 1e9 / (times.size() - 2);
    }

    /**
     * The pretraining recipe of {@code arch}: MosaicBERT or classic BERT as the write-up trains them, or
     * {@link #BUDGET_RECIPE}: MosaicBERT without dropout, its learning rate decaying to zero and its masking rate from
     * 30% to 15% over exactly the budget's steps.
     */
    private Map<String, Object> pretrainRecipe(String arch, long steps, Path dir, boolean withEval) {
        StudySpec.Pretrain p = spec.pretrain();
        boolean bert = arch.equals("bert"), budget = arch.equals(BUDGET_RECIPE);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("kind", "pretrain");
        m.put("seed", spec.seed());
        m.put("model", map("variant", bert ? "bert" : "mosaic_bert", "hidden", p.hidden(), "layers", p.layers(), "heads", p.heads(),
                "intermediate", p.intermediate(), "vocab", p.vocab(), "max_seq_len", p.maxSeqLen(), "dropout", budget ? 0.0 : 0.1,
                "attention_dropout", bert ? 0.1 : 0.0));
        m.put("data", map("train", List.of(p.corpus()), "eval", withEval ? List.of(p.evalCorpus()) : List.of(),
                "format", "lines", "tokenizer", p.tokenizer(), "shard_dir", shardDir().toString()));
        m.put("optimizer", map("lr", p.lr()));
        if (budget) m.put("schedule", map("final_lr_fraction", 0.0));
        m.put("batch", map("global_batch", p.globalBatch(), "microbatch_tokens", p.microbatchTokens(), "padded", bert));
        long evalEvery = Math.max(1, steps / p.evalsPerRun());
        Map<String, Object> training = map("max_steps", steps, "eval_interval", evalEvery, "checkpoint_interval", Math.max(1, steps / 5),
                "log_interval", 10, "mask_rate", bert ? 0.15 : 0.30, "eval_mask_rate", p.evalMaskRate(),
                "eval_batches", p.evalBatches(), "keep_checkpoints", 1, "output_dir", dir.toString());
        if (budget) training.put("final_mask_rate", 0.15);
        m.put("training", training);
        return m;
    }

    private Path shardDir() { return work.resolve("shards"); }

    // ---------------------------------------------------------------- finetuning

    private ObjectNode finetune(String id, String init, int n, long seed) {
        StudySpec.Finetune f = spec.finetune();
        TrainingOutcome res = finetuneRun(id, init, n, seed, lrFor(init), f.epochsAt(n));
        if (res.finalDir() == null) return null;
        TrainingState st = Checkpointer.readState(res.finalDir());
        // scored once, on the final model (no selection on test data)
        Map<String, Double> test = score(res.finalDir(), testRows(), f.maxSeqLen());
        ObjectNode rec = JSON.createObjectNode();
        rec.put("kind", "finetune").put("init", init).put("labels", n).put("seed", seed)
                .put("steps", st.step()).put("train_seconds", st.trainSeconds());
        rec.set("settings", finetuneSettings(init, n));
        test.forEach((k, v) -> rec.put("test_" + k, v));
        return rec;
    }

    /** One learning rate of the sweep: finetuned like a study cell, scored on dev (never on test). */
    private ObjectNode lrTrial(String id, String init, int n, double lr) {
        StudySpec.Finetune f = spec.finetune();
        long seed = f.seeds().getFirst();
        TrainingOutcome res = finetuneRun(id, init, n, seed, lr, f.epochsAt(n));
        if (res.finalDir() == null) return null;
        Map<String, Double> dev = score(res.finalDir(), devRows(), f.maxSeqLen());
        ObjectNode rec = JSON.createObjectNode();
        rec.put("kind", "lr_sweep").put("init", init).put("labels", n).put("seed", seed).put("lr", lr);
        dev.forEach((k, v) -> rec.put("dev_" + k, v));
        return rec;
    }

    /** The sweep's best learning rate on dev for {@code init} (ties: the first listed); {@code lr} without a sweep. */
    private double lrFor(String init) {
        StudySpec.Finetune f = spec.finetune();
        double best = f.lr(), bestAcc = -1;
        for (JsonNode c : results.get("cells")) {
            if (c.path("kind").asText().equals("lr_sweep") && c.get("init").asText().equals(init)
                    && f.lrSweep().contains(c.get("lr").asDouble()) && c.get("dev_accuracy").asDouble() > bestAcc) {
                bestAcc = c.get("dev_accuracy").asDouble();
                best = c.get("lr").asDouble();
            }
        }
        return best;
    }

    private TrainingOutcome finetuneRun(String id, String init, int n, long seed, double lr, int epochs) {
        StudySpec.Finetune f = spec.finetune();
        Path initDir = init.equals(RANDOM_INIT) ? randomInit() : Path.of(results.get("cells").get(init).get("checkpoint").asText());
        Path trainFile = subset("train-seed" + seed + "-" + n, trainRows(), seedOrder(seed, n));
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("kind", "finetune");
        m.put("seed", seed);
        m.put("model", map("init_from", initDir.toString(), "max_seq_len", f.maxSeqLen(), "dropout", 0.1));
        m.put("data", map("train", List.of(trainFile.toString()), "format", "jsonl", "task", "custom",
                "columns", map("text", "text", "label", "label"), "labels", f.classes()));
        m.put("optimizer", map("lr", lr));
        m.put("schedule", map("warmup_fraction", 0.06, "final_lr_fraction", 0.0));
        m.put("batch", map("global_batch", f.globalBatch(), "microbatch_tokens", Math.max(8192, f.maxSeqLen())));
        m.put("training", map("epochs", epochs, "log_interval", 10, "checkpoint_interval", 200, "keep_checkpoints", 1,
                "output_dir", work.resolve(id).toString()));
        return new Finetuner(Recipe.parse(yaml(m), id), options()).run();
    }

    /** A MosaicBERT of the study's shape with freshly initialised weights (the control without pretraining). */
    private Path randomInit() {
        Path dir = work.resolve("random-init");
        Path done = dir.resolve("init").resolve(Checkpointer.STATE);
        if (Files.isRegularFile(done)) return dir.resolve("init");
        Recipe r = Recipe.parse(yaml(pretrainRecipe("mosaic_bert", 1, dir, false)), "random-init");
        var cfg = r.modelConfig();
        try (NativeModel model = TrainingLoop.createModel(NativeConfig.of(cfg, 0f, 0f, r.model().maxSeqLen(), 1), "cpu",
                spec.threads(), TrainingListener.NONE)) {
            model.initParams(spec.seed(), 0.02f);
            TrainingState st = new TrainingState("pretrain", 0, 0, 0, 0, spec.seed(), "random-init", 0, 0, List.of(), List.of(),
                    "mlm_loss", null, null);
            return new Checkpointer(dir, Path.of(spec.pretrain().tokenizer()), 1).saveNamed("init", model.toBertModel(cfg), null, null, st);
        }
    }

    /** Accuracy, F1 and loss of a finetuned checkpoint on {@code rows}. */
    private Map<String, Double> score(Path checkpoint, List<LabelledExample> rows, int maxLen) {
        LabelSet labels = LabelSet.classes(spec.finetune().classes());
        try (CheckpointEvaluator ev = CheckpointEvaluator.open(checkpoint, spec.threads())) {
            List<FinetuneEncoder.Encoded> encoded = ev.encoder(maxLen).encodeAll(rows, labels, Path.of(spec.finetune().test()));
            return ev.evaluate(encoded, labels, null, Math.max(8192, maxLen), 64);
        }
    }

    // ---------------------------------------------------------------- TF-IDF baseline

    private ObjectNode tfidf(int n, long seed) {
        List<LabelledExample> all = trainRows(), train = new ArrayList<>();
        for (int i : seedOrder(seed, Math.min(n, all.size()))) train.add(all.get(i));
        List<LabelledExample> fullTest = FinetuneData.read(List.of(spec.finetune().test()), "jsonl", columns());
        var res = new TfidfBaseline(spec.tfidf().minDf()).run(train, List.of(fullTest, testRows()));
        ObjectNode rec = JSON.createObjectNode();
        rec.put("kind", "tfidf").put("labels", train.size()).put("seed", seed).put("features", res.features()).put("train_seconds", res.seconds())
                .put("test_accuracy_all", res.accuracies().get(0)).put("test_examples_all", fullTest.size())
                .put("test_accuracy", res.accuracies().get(1)).put("test_examples", testRows().size());
        return rec;
    }

    // ---------------------------------------------------------------- data

    private List<LabelledExample> trainRowsCache, testRowsCache, devRowsCache;

    private Columns columns() { return new Columns(spec.finetune().textField(), null, spec.finetune().labelField()); }

    private List<LabelledExample> trainRows() {
        if (trainRowsCache == null) trainRowsCache = FinetuneData.read(List.of(spec.finetune().train()), "jsonl", columns());
        return trainRowsCache;
    }

    /** The first {@code test_limit} test rows (all when 0): what every finetuned model is scored on. */
    private List<LabelledExample> testRows() {
        if (testRowsCache == null) {
            List<LabelledExample> all = FinetuneData.read(List.of(spec.finetune().test()), "jsonl", columns());
            int lim = spec.finetune().testLimit();
            testRowsCache = lim > 0 && lim < all.size() ? List.copyOf(all.subList(0, lim)) : all;
        }
        return testRowsCache;
    }

    /** The first {@code dev_limit} dev rows: where the learning-rate sweep is scored. */
    private List<LabelledExample> devRows() {
        if (devRowsCache == null) {
            List<LabelledExample> all = FinetuneData.read(List.of(spec.finetune().dev()), "jsonl", columns());
            devRowsCache = List.copyOf(all.subList(0, Math.min(spec.finetune().devLimit(), all.size())));
        }
        return devRowsCache;
    }

    /** The first {@code n} indices of the seeded permutation of the training rows: the labelled subset of a seed. */
    private int[] seedOrder(long seed, int n) {
        int[] perm = DataOrder.permutation(seed, 0, trainRows().size());
        return java.util.Arrays.copyOf(perm, Math.min(n, perm.length));
    }

    private Path subset(String name, List<LabelledExample> rows, int[] idx) {
        Path file = work.resolve("labels").resolve(name + ".jsonl");
        if (Files.isRegularFile(file)) return file;
        StringBuilder sb = new StringBuilder();
        for (int i : idx) {
            ObjectNode o = JSON.createObjectNode().put("text", rows.get(i).text()).put("label", rows.get(i).label());
            sb.append(o.toString()).append('\n');
        }
        AtomicFiles.writeString(file, sb.toString());
        return file;
    }

    // ---------------------------------------------------------------- output

    private void write() {
        try {
            Files.createDirectories(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        AtomicFiles.writeString(out.resolve("results.json"), pretty(results));
        AtomicFiles.writeString(out.resolve("results.csv"), StudyReport.csv(results));
        AtomicFiles.writeString(out.resolve("summary.md"), StudyReport.summary(results));
        StudyReport.plots(results, out);
    }

    private TrainOptions options() {
        return TrainOptions.defaults().withThreads(spec.threads()).withListener(log).withCancel(cancelled);
    }

    private static String yaml(Map<String, Object> m) {
        try {
            return YAML.writeValueAsString(m);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Map<String, Object> map(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }

    private static String pretty(JsonNode n) {
        try {
            return JSON.writeValueAsString(n) + "\n";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static ObjectNode readObject(Path file) {
        if (!Files.isRegularFile(file)) return JSON.createObjectNode();
        try {
            return (ObjectNode) JSON.readTree(file.toFile());
        } catch (IOException | ClassCastException e) {
            throw new IllegalArgumentException("cannot read " + file + " (delete it to start the study afresh): " + e.getMessage());
        }
    }

    static String fmt(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
    }
}
