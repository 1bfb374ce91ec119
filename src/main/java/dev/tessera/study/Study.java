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
 * the time each run actually took.
 */
public final class Study {

    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final ObjectMapper YAML = new YAMLMapper();
    static final int CALIBRATION_STEPS = 6;

    private final StudySpec spec;
    private final Path out, work;
    private final TrainingListener log;
    private final BooleanSupplier cancelled;
    private final ObjectNode results;
    private final ObjectNode plan;

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

    /** Runs every cell not yet in the results; returns false when cancelled before the end. */
    public boolean run() {
        results.set("spec", JSON.valueToTree(spec));
        List<String> inits = new ArrayList<>();
        StudySpec.Pretrain p = spec.pretrain();
        if (p != null) {
            // every architecture timed back to back, before any run: the same machine conditions for all
            for (String arch : p.architectures()) {
                for (double budget : p.budgetsMinutes()) {
                    String id = "pretrain/" + arch + "/" + fmt(budget) + "m";
                    if (!plan.has(id) && !((ObjectNode) results.get("cells")).has(id)) planSteps(id, arch, budget);
                }
            }
            for (String arch : p.architectures()) {
                for (double budget : p.budgetsMinutes()) {
                    String id = "pretrain/" + arch + "/" + fmt(budget) + "m";
                    if (!cell(id, () -> pretrain(id, arch, budget))) return false;
                    inits.add(id);
                }
            }
        }
        StudySpec.Finetune f = spec.finetune();
        if (f != null) {
            if (f.randomInit()) inits.add("random-init");
            for (String init : inits) {
                for (int n : f.labels()) {
                    for (long seed : f.seeds()) {
                        String id = "finetune/" + init + "/" + n + "/seed" + seed;
                        if (!cell(id, () -> finetune(id, init, n, seed))) return false;
                    }
                }
            }
        }
        if (spec.tfidf() != null) {
            for (int n : spec.tfidf().labels()) {
                String id = "tfidf/" + n;
                if (!cell(id, () -> tfidf(n))) return false;
            }
        }
        write();
        return true;
    }

    public ObjectNode results() { return results; }

    private interface CellRun { ObjectNode run(); }

    /** What a finetuning cell's result depends on besides its id: a recorded cell with other settings is an error. */
    private ObjectNode finetuneSettings() {
        StudySpec.Finetune f = spec.finetune();
        ObjectNode o = JSON.createObjectNode();
        o.put("lr", f.lr()).put("epochs", f.epochs()).put("max_seq_len", f.maxSeqLen()).put("global_batch", f.globalBatch())
                .put("test_limit", f.testLimit());
        return o;
    }

    /** Runs the cell unless done; null from {@code run} means it stopped (cancelled) and is not recorded. */
    private boolean cell(String id, CellRun run) {
        ObjectNode cells = (ObjectNode) results.get("cells");
        if (cells.has(id)) {
            JsonNode was = cells.get(id).get("settings");
            if (id.startsWith("finetune/") && was != null && !was.equals(finetuneSettings())) {
                throw new IllegalArgumentException(out.resolve("results.json") + " has " + id + " with finetune settings " + was
                        + " but the spec now says " + finetuneSettings() + ": use another output and work_dir");
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
        if (!plan.has(id)) planSteps(id, arch, budgetMinutes);
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

    /** Calibrates {@code arch} and fixes the run's max_steps in plan.json. */
    private void planSteps(String id, String arch, double budgetMinutes) {
        double secPerStep = calibrate(arch);
        long steps = Math.max(10, Math.round(budgetMinutes * 60 / secPerStep));
        plan.putObject(id).put("max_steps", steps).put("seconds_per_step", secPerStep);
        AtomicFiles.writeString(work.resolve("plan.json"), pretty(plan));
        log.info(String.format("study: %s: %.3f s/step calibrated -> %d steps for %s min", id, secPerStep, steps, fmt(budgetMinutes)));
    }

    /** Seconds per optimizer step of {@code arch}, timed over a few steps (the first, warm-up, left out). */
    private double calibrate(String arch) {
        Path dir = work.resolve("calibrate-" + arch);
        List<Long> times = new ArrayList<>();
        try {
            AtomicDirectories.deleteTree(dir);
            Recipe r = Recipe.parse(yaml(pretrainRecipe(arch, CALIBRATION_STEPS, dir, false)), "calibration");
            TrainingListener timer = new TrainingListener() {
                @Override public void started(String what, long startStep, long totalSteps, long numParams) { times.add(System.nanoTime()); }
                @Override public void step(StepStats s) { times.add(System.nanoTime()); }
                @Override public void info(String line) { log.info(line); }
            };
            new Pretrainer(r, TrainOptions.defaults().withThreads(spec.threads()).withListener(timer).withCancel(cancelled)).run();
            AtomicDirectories.deleteTree(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (times.size() < 3) throw new IllegalStateException("calibration of " + arch + " did not run");
        return (times.get(times.size() - 1) - times.get(1)) / 1e9 / (times.size() - 2);
    }

    private Map<String, Object> pretrainRecipe(String arch, long steps, Path dir, boolean withEval) {
        StudySpec.Pretrain p = spec.pretrain();
        boolean bert = arch.equals("bert");
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("kind", "pretrain");
        m.put("seed", spec.seed());
        m.put("model", map("variant", arch, "hidden", p.hidden(), "layers", p.layers(), "heads", p.heads(),
                "intermediate", p.intermediate(), "vocab", p.vocab(), "max_seq_len", p.maxSeqLen(), "dropout", 0.1,
                "attention_dropout", bert ? 0.1 : 0.0));
        m.put("data", map("train", List.of(p.corpus()), "eval", withEval ? List.of(p.evalCorpus()) : List.of(),
                "format", "lines", "tokenizer", p.tokenizer(), "shard_dir", shardDir().toString()));
        m.put("optimizer", map("lr", p.lr()));
        m.put("batch", map("global_batch", p.globalBatch(), "microbatch_tokens", p.microbatchTokens(), "padded", bert));
        long evalEvery = Math.max(1, steps / p.evalsPerRun());
        m.put("training", map("max_steps", steps, "eval_interval", evalEvery, "checkpoint_interval", Math.max(1, steps / 5),
                "log_interval", 10, "mask_rate", bert ? 0.15 : 0.30, "eval_mask_rate", p.evalMaskRate(),
                "eval_batches", p.evalBatches(), "keep_checkpoints", 1, "output_dir", dir.toString()));
        return m;
    }

    private Path shardDir() { return work.resolve("shards"); }

    // ---------------------------------------------------------------- finetuning

    private ObjectNode finetune(String id, String init, int n, long seed) {
        StudySpec.Finetune f = spec.finetune();
        Path initDir = init.equals("random-init") ? randomInit() : Path.of(results.get("cells").get(init).get("checkpoint").asText());
        Path trainFile = subset("train-seed" + seed + "-" + n, trainRows(), seedOrder(seed, n));
        Path dir = work.resolve(id);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("kind", "finetune");
        m.put("seed", seed);
        m.put("model", map("init_from", initDir.toString(), "max_seq_len", f.maxSeqLen(), "dropout", 0.1));
        m.put("data", map("train", List.of(trainFile.toString()), "format", "jsonl", "task", "custom",
                "columns", map("text", "text", "label", "label"), "labels", f.classes()));
        m.put("optimizer", map("lr", f.lr()));
        m.put("schedule", map("warmup_fraction", 0.06, "final_lr_fraction", 0.0));
        m.put("batch", map("global_batch", f.globalBatch(), "microbatch_tokens", Math.max(8192, f.maxSeqLen())));
        m.put("training", map("epochs", f.epochs(), "log_interval", 10, "checkpoint_interval", 200, "keep_checkpoints", 1,
                "output_dir", dir.toString()));
        Recipe r = Recipe.parse(yaml(m), id);
        TrainingOutcome res = new Finetuner(r, options()).run();
        if (res.finalDir() == null) return null;
        TrainingState st = Checkpointer.readState(res.finalDir());
        // scored once, on the final model (no selection on test data)
        Map<String, Double> test = score(res.finalDir(), testRows(), f.maxSeqLen());
        ObjectNode rec = JSON.createObjectNode();
        rec.put("kind", "finetune").put("init", init).put("labels", n).put("seed", seed)
                .put("steps", st.step()).put("train_seconds", st.trainSeconds());
        rec.set("settings", finetuneSettings());
        test.forEach((k, v) -> rec.put("test_" + k, v));
        return rec;
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

    private ObjectNode tfidf(int n) {
        List<LabelledExample> all = trainRows(), train = new ArrayList<>();
        for (int i : seedOrder(spec.finetune().seeds().get(0), Math.min(n, all.size()))) train.add(all.get(i));
        List<LabelledExample> fullTest = FinetuneData.read(List.of(spec.finetune().test()), "jsonl", columns());
        var res = new TfidfBaseline(spec.tfidf().minDf()).run(train, List.of(fullTest, testRows()));
        ObjectNode rec = JSON.createObjectNode();
        rec.put("kind", "tfidf").put("labels", train.size()).put("features", res.features()).put("train_seconds", res.seconds())
                .put("test_accuracy_all", res.accuracies().get(0)).put("test_examples_all", fullTest.size())
                .put("test_accuracy", res.accuracies().get(1)).put("test_examples", testRows().size());
        return rec;
    }

    // ---------------------------------------------------------------- data

    private List<LabelledExample> trainRowsCache, testRowsCache;

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
