package dev.tessera.study;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tessera.train.TinyFixtures;
import dev.tessera.train.TrainingListener;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The study runner on a tiny generated spec: the whole grid, the files it writes, and resume after a kill. */
class StudyTest {

    @TempDir static Path dir;

    @BeforeAll
    static void data() throws IOException {
        TinyFixtures.write(dir);
        jsonl(dir.resolve("train.jsonl"), TinyFixtures.reviews(200, 11));
        jsonl(dir.resolve("test.jsonl"), TinyFixtures.reviews(80, 12));
        jsonl(dir.resolve("dev.jsonl"), TinyFixtures.reviews(40, 13));
    }

    static void jsonl(Path file, List<String[]> rows) throws IOException {
        List<String> lines = new ArrayList<>();
        for (String[] r : rows) lines.add("{\"text\": \"" + r[0] + "\", \"label\": \"" + r[1] + "\"}");
        Files.write(file, lines);
    }

    static Path spec(String name) throws IOException {
        Path d = dir.toAbsolutePath();
        String yaml = """
                output: %1$s/%2$s/results
                work_dir: %1$s/%2$s/work
                seed: 7
                threads: 1
                pretrain:
                  corpus: %1$s/corpus.txt
                  eval_corpus: %1$s/corpus-dev.txt
                  tokenizer: %1$s/tok
                  hidden: 32
                  layers: 2
                  heads: 4
                  intermediate: 64
                  vocab: 256
                  max_seq_len: 32
                  architectures: [mosaic_bert, bert]
                  budgets_minutes: [0.002]
                  lr: 5.0e-3
                  global_batch: 16
                  microbatch_tokens: 256
                  evals_per_run: 3
                  eval_batches: 3
                  eval_lengths: [32, 64]
                  budget_recipe_minutes: [0.002]
                finetune:
                  train: %1$s/train.jsonl
                  test: %1$s/test.jsonl
                  test_limit: 60
                  dev: %1$s/dev.jsonl
                  dev_limit: 30
                  lr_sweep: [5.0e-3, 2.0e-2]
                  classes: [neg, pos]
                  labels: [32, 64]
                  seeds: [1, 2]
                  seeds_up_to_labels: 32
                  epochs: 2
                  epochs_by_labels: {64: 1}
                  max_seq_len: 32
                  lr: 5.0e-3
                  global_batch: 16
                tfidf:
                  labels: [32, 200]
                  min_df: 1
                """.formatted(d, name);
        Path f = dir.resolve(name + ".yaml");
        Files.writeString(f, yaml);
        return f;
    }

    @Test
    void runsTheGridAndWritesResultsAndPlots() throws IOException {
        StudySpec s = StudySpec.load(spec("full"));
        Study study = new Study(s, TrainingListener.NONE, () -> false);
        assertTrue(study.run());
        JsonNode cells = study.results().get("cells");
        // 3 pretraining runs; (3 pretrained + random init) × (2 swept lrs + 2 seeds at 32 labels + 1 at 64);
        // baselines on the same subsets: 2 seeds at 32 labels, 1 at 200
        assertEquals(3 + 4 * (2 + 2 + 1) + 3, cells.size(), cells.toString());
        JsonNode mosaic = cells.get("pretrain/mosaic_bert/0.002m"), bert = cells.get("pretrain/bert/0.002m");
        // the budget recipe: MosaicBERT's 30% masking at the start, and the plain recipe's step count (same calibration)
        JsonNode budget = cells.get("pretrain/mosaic_bert+budget/0.002m");
        assertEquals(0.30, budget.get("mask_rate").asDouble());
        assertTrue(budget.get("max_steps").asLong() >= 10);
        for (String init : List.of("pretrain/mosaic_bert/0.002m", "pretrain/bert/0.002m", "pretrain/mosaic_bert+budget/0.002m", "random-init")) {
            // every finetuning run of a starting point uses the learning rate its sweep scored best on dev
            JsonNode a = cells.get("lr-sweep/" + init + "/32/lr0.005"), b = cells.get("lr-sweep/" + init + "/32/lr0.02");
            double best = b.get("dev_accuracy").asDouble() > a.get("dev_accuracy").asDouble() ? 0.02 : 0.005;
            assertEquals(30, a.get("dev_examples").asInt(), a.toString());
            for (String run : List.of("/32/seed1", "/32/seed2", "/64/seed1")) {
                JsonNode c = cells.get("finetune/" + init + run);
                assertEquals(best, c.get("settings").get("lr").asDouble(), c.toString());
                assertEquals(run.startsWith("/64") ? 1 : 2, c.get("settings").get("epochs").asInt());
            }
            assertFalse(cells.has("finetune/" + init + "/64/seed2"), "labels above seeds_up_to_labels run the first seed only");
        }
        assertEquals(0.30, mosaic.get("mask_rate").asDouble());
        assertEquals(0.15, bert.get("mask_rate").asDouble());
        assertEquals(0.15, mosaic.get("eval_mask_rate").asDouble());
        assertEquals(0.15, bert.get("eval_mask_rate").asDouble());
        assertTrue(bert.get("padded").asBoolean());
        assertTrue(mosaic.get("max_steps").asLong() >= 10);
        assertTrue(mosaic.get("curve").size() >= 3);
        for (JsonNode p : mosaic.get("curve")) {
            assertTrue(Double.isFinite(p.get("mlm_loss").asDouble()) && p.has("train_seconds"));
            assertEquals(p.get("step").asLong() * mosaic.get("calibrated_seconds_per_step").asDouble(), p.get("calibrated_seconds").asDouble(), 1e-9);
        }
        // ALiBi extrapolates: MosaicBERT at 32 and 64; BERT only at its trained length
        assertEquals(2, mosaic.get("by_length").size());
        assertEquals(1, bert.get("by_length").size());
        assertTrue(bert.get("by_length").has("32"));
        for (JsonNode c : cells) {
            if (c.get("kind").asText().equals("finetune")) assertEquals(60, c.get("test_examples").asInt(), c.toString());
        }
        // the sentiment word decides the label: a bag of words learns it from 200 reviews
        assertTrue(cells.get("tfidf/200/seed1").get("test_accuracy_all").asDouble() > 0.9, cells.get("tfidf/200/seed1").toString());
        assertTrue(cells.has("tfidf/32/seed2") && !cells.has("tfidf/200/seed2"), "TF-IDF takes the finetuning runs' seeds");
        Path out = Path.of(s.output());
        for (String f : List.of("results.json", "results.csv", "summary.md", "mlm-vs-time.png", "mlm-vs-length.png", "accuracy-vs-labels.png")) {
            assertTrue(Files.size(out.resolve(f)) > 100, f);
        }
        byte[] png = Files.readAllBytes(out.resolve("accuracy-vs-labels.png"));
        assertEquals((byte) 0x89, png[0]);
        assertEquals('P', png[1]);
        assertTrue(Files.readString(out.resolve("results.csv")).startsWith("id,kind,group,x,metric,value\n"));
        String summary = Files.readString(out.resolve("summary.md"));
        // the 32-label row: 4 starting points and TF-IDF, each over 2 seeds; the paired gain table has the 3 encoders
        String row32 = summary.lines().filter(l -> l.startsWith("| 32 |")).findFirst().orElseThrow();
        assertEquals(5, row32.split("\\(2\\)", -1).length - 1, summary);
        assertTrue(summary.contains("mosaic_bert+budget/0.002m") && summary.contains("Paired gain over random init"), summary);
    }

    @Test
    void aKilledStudyContinuesWhereItStopped() throws IOException {
        StudySpec s = StudySpec.load(spec("killed"));
        AtomicInteger started = new AtomicInteger(), secondSteps = new AtomicInteger();
        TrainingListener counter = new TrainingListener() {
            @Override public void info(String line) { if (line.startsWith("study: running")) started.incrementAndGet(); }
            @Override public void step(StepStats st) { if (started.get() == 2) secondSteps.incrementAndGet(); }
        };
        // "killed" three steps into the second cell (BERT pretraining)
        assertFalse(new Study(s, counter, () -> secondSteps.get() >= 3).run());
        JsonNode first = new Study(s, TrainingListener.NONE, () -> false).results().get("cells");
        assertEquals(1, first.size(), first.toString());
        double wall = first.get("pretrain/mosaic_bert/0.002m").get("wall_seconds").asDouble();
        List<String> kept = new ArrayList<>(), resumed = new ArrayList<>();
        Study again = new Study(s, new TrainingListener() {
            @Override public void info(String line) {
                if (line.endsWith("done before, kept")) kept.add(line);
                if (line.startsWith("resumed from")) resumed.add(line);
            }
        }, () -> false);
        assertTrue(again.run());
        assertEquals(1, kept.size(), kept.toString());
        assertTrue(resumed.getFirst().endsWith("at step 3"), resumed.toString());
        JsonNode cells = again.results().get("cells");
        assertEquals(26, cells.size());
        assertEquals(wall, cells.get("pretrain/mosaic_bert/0.002m").get("wall_seconds").asDouble());
        assertEquals(cells.get("pretrain/bert/0.002m").get("max_steps").asLong(), cells.get("pretrain/bert/0.002m").get("curve")
                .get(cells.get("pretrain/bert/0.002m").get("curve").size() - 1).get("step").asLong());
    }

    @Test
    void unknownKeysAndMissingFilesAreReported() throws IOException {
        Path bad = dir.resolve("bad.yaml");
        Files.writeString(bad, "output: x\nwork_dir: y\npretrain: {corpus: c, eval_corpus: e, tokenizer: t, architectures: [gpt]}\nbudget: 3\n");
        var e = assertThrows(IllegalArgumentException.class, () -> StudySpec.load(bad));
        assertTrue(e.getMessage().contains("budget"), e.getMessage());
        Files.writeString(bad, "output: x\nwork_dir: y\npretrain: {corpus: c, eval_corpus: e, tokenizer: t, architectures: [gpt]}\n");
        e = assertThrows(IllegalArgumentException.class, () -> StudySpec.load(bad));
        assertTrue(e.getMessage().contains("gpt"), e.getMessage());
    }
}
