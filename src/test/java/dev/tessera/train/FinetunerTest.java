package dev.tessera.train;

import dev.tessera.glue.GlueTask;
import dev.tessera.hf.HfCheckpoint;
import dev.tessera.model.BertModel;
import dev.tessera.model.Head;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** GLUE recipe wiring, head (re)initialisation, finetuning resume. */
class FinetunerTest {

    @TempDir static Path dir;
    static Path pretrained;

    @BeforeAll
    static void fixtures() throws Exception {
        TinyFixtures.write(dir);
        Recipe r = Recipe.parse(TinyFixtures.pretrainYaml(dir, 10, 100), "test");
        pretrained = new Pretrainer(r, TrainOptions.defaults().withOutputDir(dir.resolve("pre")).withThreads(1)).run().finalDir();
        // an SST-2 shaped file: columns sentence/label, labels 0/1 as in the HF glue export
        List<String> lines = new ArrayList<>(List.of("sentence\tlabel"));
        for (String[] rv : TinyFixtures.reviews(48, 9)) lines.add(rv[0] + "\t" + (rv[1].equals("pos") ? 1 : 0));
        Files.write(dir.resolve("sst2.tsv"), lines);
    }

    static String glueYaml(String task, Path init, Path out) {
        return """
                kind: finetune
                model: {init_from: %s, max_seq_len: 32}
                data: {task: %s, train: [%s], eval: [%s]}
                batch: {global_batch: 16, microbatch_tokens: 256}
                training: {max_steps: 6, output_dir: %s}
                """.formatted(init, task, dir.resolve("sst2.tsv"), dir.resolve("sst2.tsv"), out);
    }

    static List<String> infos(TrainOptions[] holder) {
        List<String> lines = new ArrayList<>();
        holder[0] = TrainOptions.defaults().withThreads(1).withListener(new TrainingListener() {
            @Override public void info(String line) { lines.add(line); }
        });
        return lines;
    }

    @Test
    void glueTaskGivesColumnsLabelsMetricsAndHyperparameters() {
        Recipe r = Recipe.parse(glueYaml("sst2", pretrained, dir.resolve("sst2-out")), "test");
        assertEquals(GlueTask.SST2.learningRate(), r.optimizer().lr());
        assertEquals(0.0, r.schedule().finalLrFraction());
        TrainingOutcome res = new Finetuner(r, TrainOptions.defaults().withThreads(1)).run();
        assertEquals("accuracy", res.mainMetric());
        assertEquals(List.of("accuracy", "loss", "examples"), List.copyOf(res.lastMetrics().keySet()));
        BertModel best = HfCheckpoint.load(res.bestDir());
        assertEquals(List.of("negative", "positive"), best.config().labels(), "id2label from the GLUE label names");
        // RTE's shipped recipe starts from the MNLI run
        Recipe rte = Recipe.load(Path.of("train/recipes/glue-rte.yaml"));
        assertEquals("checkpoints/glue-mnli/final", rte.model().initFrom());
        assertEquals(GlueTask.RTE.learningRate(), rte.optimizer().lr());
        assertEquals(GlueTask.RTE.epochs(), rte.training().epochs());
        assertEquals(List.of("0", "1"), rte.data().labels());
    }

    @Test
    void threeClassModelToTwoClassTaskKeepsPoolerAndReinitialisesClassifier() {
        // "MNLI": a 3-class custom task on the same text
        Path mnliOut = dir.resolve("three");
        String three = TinyFixtures.finetuneYaml(dir, pretrained, 1, mnliOut).replace("labels: [neg, pos]", "labels: [neg, pos, other]");
        TrainOptions[] o = new TrainOptions[1];
        List<String> lines = infos(o);
        TrainingOutcome r3 = new Finetuner(Recipe.parse(three, "three"), o[0]).run();
        assertTrue(lines.stream().anyMatch(l -> l.contains("bert.pooler.dense.weight")), lines.toString());
        BertModel m3 = HfCheckpoint.load(r3.finalDir());
        assertEquals(3, m3.config().numLabels());
        // "RTE" from "MNLI": 2 labels -> new classifier, pooler from the checkpoint
        lines = infos(o);
        TrainingOutcome r2 = new Finetuner(Recipe.parse(glueYaml("sst2", r3.finalDir(), dir.resolve("two")), "two"), o[0]).run();
        assertTrue(lines.contains("initialised new head tensors [classifier.weight, classifier.bias]"), lines.toString());
        assertEquals(Head.CLASSIFICATION, HfCheckpoint.load(r2.finalDir()).config().head());
        // same 3 labels again -> the whole head is loaded
        lines = infos(o);
        new Finetuner(Recipe.parse(three.replace(mnliOut.toString(), dir.resolve("three-again").toString())
                .replace(pretrained.toString(), r3.finalDir().toString()), "again"), o[0]).run();
        assertTrue(lines.contains("head loaded from the checkpoint"), lines.toString());
    }

    /**
     * optimizer.layer_decay reaches the run: logged once at the start, it changes the steps (the first loss, taken
     * before any update, is the same), and a resumed run sets the multipliers again (they are not in the checkpoint),
     * so it continues with the same losses as the run that was not stopped.
     */
    @Test
    void layerDecayIsAppliedAtStartAndAgainOnResume() {
        String yaml = glueYaml("sst2", pretrained, dir.resolve("ld-whole")).replace("training:", "optimizer: {layer_decay: 0.5}\ntraining:");
        TrainOptions[] o = new TrainOptions[1];
        List<String> lines = infos(o);
        TrainingOutcome whole = new Finetuner(Recipe.parse(yaml, "ld"), o[0]).run();
        List<String> decayLines = lines.stream().filter(l -> l.startsWith("layer-wise lr decay")).toList();
        assertEquals(List.of("layer-wise lr decay 0.5: lr x 0.125 embeddings, 0.25 layer 0, 0.5 layer 1, 1 head"), decayLines,
                "the tiny fixture has 2 layers");
        TrainingOutcome plain = new Finetuner(Recipe.parse(glueYaml("sst2", pretrained, dir.resolve("ld-plain")), "plain"),
                TrainOptions.defaults().withThreads(1)).run();
        assertEquals(plain.stepLosses().get(0), whole.stepLosses().get(0));
        assertNotEquals(plain.stepLosses().get(5), whole.stepLosses().get(5));
        String killed = yaml.replace(dir.resolve("ld-whole").toString(), dir.resolve("ld-killed").toString());
        new Finetuner(Recipe.parse(killed, "k"), TrainOptions.defaults().withThreads(1).withStopAfter(3L)).run();
        lines = infos(o);
        TrainingOutcome resumed = new Finetuner(Recipe.parse(killed, "k"), o[0]).run();
        assertEquals(3, resumed.startStep());
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("layer-wise lr decay 0.5")), lines.toString());
        assertEquals(whole.stepLosses().subList(3, 6), resumed.stepLosses());
    }

    /**
     * model.pooling: mean reaches the head (other losses than cls from the first step), the checkpoints (config.json's
     * classifier_pooling) and whoever reads them: the checkpoint evaluator scores the saved final model as the run scored
     * it in memory, which it does not when told to pool the [CLS] row instead; a resumed run continues with the same
     * losses and writes the key again.
     */
    @Test
    void meanPoolingReachesTheCheckpointItsEvaluationAndAResume() throws Exception {
        String cls = glueYaml("sst2", pretrained, dir.resolve("pool-cls"));
        String yaml = glueYaml("sst2", pretrained, dir.resolve("pool-mean")).replace("max_seq_len: 32}", "max_seq_len: 32, pooling: mean}");
        TrainOptions[] o = new TrainOptions[1];
        List<String> lines = infos(o);
        TrainingOutcome mean = new Finetuner(Recipe.parse(yaml, "mean"), o[0]).run();
        assertTrue(lines.contains("classifier pooling: mean of each sequence's tokens (model.pooling: mean)"), lines.toString());
        TrainingOutcome plain = new Finetuner(Recipe.parse(cls, "cls"), TrainOptions.defaults().withThreads(1)).run();
        assertNotEquals(plain.stepLosses().get(0), mean.stepLosses().get(0), "the pooler reads another input from the first step");
        for (Path ckpt : List.of(mean.finalDir(), mean.bestDir())) {
            assertEquals(dev.tessera.model.ClassifierPooling.MEAN, HfCheckpoint.load(ckpt).config().classifierPooling(), ckpt.toString());
            assertTrue(Files.readString(ckpt.resolve("config.json")).contains("\"classifier_pooling\" : \"mean\""));
        }
        assertFalse(Files.readString(plain.finalDir().resolve("config.json")).contains("classifier_pooling"),
                "a cls checkpoint's config.json is what it always was");

        // the evaluator (tessera eval, the study's scores) reads the pooling from the checkpoint
        Recipe r = Recipe.parse(yaml, "mean");
        var cols = r.data().columns().toColumns();
        var labels = FinetuneData.labelSet(r, FinetuneData.read(r.data().train(), r.data().format(), cols));
        double inRun = mean.lastMetrics().get("loss"), saved, asCls;
        try (CheckpointEvaluator ev = CheckpointEvaluator.open(mean.finalDir(), 1)) {
            var examples = FinetuneData.encode(ev.encoder(32), r.data().eval(), r.data().format(), cols, labels);
            saved = ev.evaluate(examples, labels, GlueTask.SST2, 256, 64).get("loss");
            BertModel asSaved = ev.model();
            BertModel clsPooled = new BertModel(asSaved.config().withClassifierPooling(dev.tessera.model.ClassifierPooling.CLS),
                    asSaved.weights());
            try (var nm = dev.tessera.kernels.NativeModel.fromBertModel(clsPooled, 0f, 0f, 256, 64,
                    dev.tessera.kernels.NativeLibrary.Backend.CPU)) {
                asCls = Evaluator.evaluate(nm, examples, labels, GlueTask.SST2, 256, 64, Integer.MAX_VALUE).get("loss");
            }
        }
        assertEquals(inRun, saved, 1e-5 * inRun, "the saved checkpoint evaluates as the run evaluated it");
        assertTrue(Math.abs(asCls - inRun) > 1e-4, "pooling the [CLS] row instead changes the loss: " + asCls + " vs " + inRun);

        String killed = yaml.replace(dir.resolve("pool-mean").toString(), dir.resolve("pool-killed").toString());
        new Finetuner(Recipe.parse(killed, "k"), TrainOptions.defaults().withThreads(1).withStopAfter(3L)).run();
        TrainingOutcome resumed = new Finetuner(Recipe.parse(killed, "k"), TrainOptions.defaults().withThreads(1)).run();
        assertEquals(3, resumed.startStep());
        assertEquals(mean.stepLosses().subList(3, 6), resumed.stepLosses());
        assertEquals(dev.tessera.model.ClassifierPooling.MEAN, HfCheckpoint.load(resumed.finalDir()).config().classifierPooling());
    }

    @Test
    void finetuneResumeGivesTheSameLosses() {
        String yaml = TinyFixtures.finetuneYaml(dir, pretrained, 2, dir.resolve("ft-whole")).replace("dropout: 0.0", "dropout: 0.1");
        TrainingOutcome whole = new Finetuner(Recipe.parse(yaml, "w"), TrainOptions.defaults().withThreads(1)).run();
        String killed = yaml.replace(dir.resolve("ft-whole").toString(), dir.resolve("ft-killed").toString());
        TrainingOutcome a = new Finetuner(Recipe.parse(killed, "k"), TrainOptions.defaults().withThreads(1).withStopAfter(13L)).run();
        assertEquals(13, a.steps());
        TrainingOutcome b = new Finetuner(Recipe.parse(killed, "k"), TrainOptions.defaults().withThreads(1)).run();
        assertEquals(13, b.startStep());
        assertEquals(whole.stepLosses().subList(13, 20), b.stepLosses());
        assertEquals(whole.bestMetrics(), b.bestMetrics());
        Map<String, Double> m = b.lastMetrics();
        assertEquals(60.0, m.get("examples"));
    }

    /** One step at learning rate 0 (the warmup's first): the saved weights are the initial ones. */
    private static BertModel initialWeights(String yaml, String name, List<String> log, TrainOptions o) {
        String once = yaml.replace("training: {epochs: 1,", "schedule: {warmup_fraction: 1.0}\ntraining: {max_steps: 1,")
                .replace(dir.resolve("init").toString(), dir.resolve(name).toString());
        return HfCheckpoint.load(new Finetuner(Recipe.parse(once, name), o).run().finalDir());
    }

    @Test
    void randomInitTakesTheShapesButNoneOfTheWeights() {
        String yaml = TinyFixtures.finetuneYaml(dir, pretrained, 1, dir.resolve("init"));
        BertModel base = HfCheckpoint.load(pretrained);
        String emb = "bert.embeddings.word_embeddings.weight";
        TrainOptions[] o = new TrainOptions[1];
        List<String> lines = infos(o);
        BertModel loaded = initialWeights(yaml, "loaded", lines, o[0]);
        assertArrayEquals(base.weights().get(emb).data(), loaded.weights().get(emb).data(), "init_from's weights, untouched at lr 0");
        lines = infos(o);
        BertModel control = initialWeights(yaml.replace("dropout: 0.0}", "dropout: 0.0, random_init: true}"), "control", lines, o[0]);
        assertArrayEquals(base.weights().get(emb).shape(), control.weights().get(emb).shape());
        assertFalse(java.util.Arrays.equals(base.weights().get(emb).data(), control.weights().get(emb).data()), "fresh weights");
        assertEquals(base.config().numLayers(), control.config().numLayers());
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("random initialisation")), lines.toString());
    }

    @Test
    void trainExamplesTakesASeededSubset() {
        String yaml = TinyFixtures.finetuneYaml(dir, pretrained, 1, dir.resolve("subset"))
                .replace("labels: [neg, pos]", "labels: [neg, pos]\n  train_examples: 20");
        TrainOptions[] o = new TrainOptions[1];
        List<String> lines = infos(o);
        TrainingOutcome r = new Finetuner(Recipe.parse(yaml, "subset"), o[0]).run();
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("finetuning on 20 examples")), lines.toString());
        assertEquals(2, r.steps(), "20 examples in batches of 16: two steps an epoch");
    }
}
