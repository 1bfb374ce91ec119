package dev.tessera.train;

import dev.tessera.data.Columns;
import dev.tessera.data.FinetuneEncoder;
import dev.tessera.data.LabelledDataset;
import dev.tessera.data.LabelledExample;
import dev.tessera.hf.SafetensorsReader;
import dev.tessera.model.Tensor;
import dev.tessera.tokenize.WordPieceTrainer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Knowledge distillation in finetuning ({@code distill}): a tiny teacher, finetuned here with a vocabulary of its own,
 * labels every training row (labelled and unlabelled) once; the logits are kept in the output directory and read back by
 * a resumed run; alpha 0 is the plain run; a student that is its teacher starts at zero loss (so every row got its own
 * soft target); teachers that cannot teach this run are refused.
 */
class DistillationTest {

    @TempDir static Path dir;
    static Path pretrained, teacher;

    @BeforeAll
    static void fixtures() throws Exception {
        TinyFixtures.write(dir);
        Recipe pre = Recipe.parse(TinyFixtures.pretrainYaml(dir, 10, 100), "pre");
        pretrained = new Pretrainer(pre, TrainOptions.defaults().withOutputDir(dir.resolve("pre")).withThreads(1)).run().finalDir();
        // the teacher's own vocabulary (other ids for the same text than the student's tok/)
        List<String> text = new ArrayList<>();
        for (String[] rv : TinyFixtures.reviews(300, 21)) text.add(rv[0]);
        WordPieceTrainer.Options opts = WordPieceTrainer.Options.of(160);
        WordPieceTrainer.write(dir.resolve("tok2"), WordPieceTrainer.train(text.stream(), opts), opts);
        String teach = TinyFixtures.finetuneYaml(dir, pretrained, 6, dir.resolve("teacher"))
                .replace("labels: [neg, pos]", "labels: [neg, pos]\n  tokenizer: " + dir.resolve("tok2"));
        TrainingOutcome t = new Finetuner(Recipe.parse(teach, "teacher"), TrainOptions.defaults().withThreads(1)).run();
        teacher = t.finalDir();
        assertTrue(t.lastMetrics().get("accuracy") >= 0.9, "a teacher worth distilling: " + t.lastMetrics());
        // unlabelled rows: a text column only
        List<String> lines = new ArrayList<>(List.of("sentence"));
        for (String[] rv : TinyFixtures.reviews(40, 11)) lines.add(rv[0]);
        Files.write(dir.resolve("unlabelled.tsv"), lines);
    }

    static String studentYaml(Path init, Path out, String distill) {
        return TinyFixtures.finetuneYaml(dir, init, 1, out) + "distill: " + distill + "\n";
    }

    static TrainOptions logging(List<String> lines) {
        return TrainOptions.defaults().withThreads(1).withListener(new TrainingListener() {
            @Override public void info(String line) { lines.add(line); }
        });
    }

    @Test
    void theTeacherLabelsEveryRowOnceWithItsOwnTokenizerAndAResumeReadsItsLogitsBack() throws Exception {
        String distill = "{teacher: " + teacher + ", alpha: 0.7, temperature: 2.0, unlabelled: [" + dir.resolve("unlabelled.tsv") + "]}";
        Path killedOut = dir.resolve("distil-killed");
        List<String> lines = new ArrayList<>();
        TrainingOutcome first = new Finetuner(Recipe.parse(studentYaml(pretrained, killedOut, distill), "k"),
                logging(lines).withStopAfter(3L)).run();
        assertEquals(3, first.steps());
        assertTrue(lines.contains("finetuning on 160 examples and 40 unlabelled rows (dev 60), 2 classes [neg, pos]"), lines.toString());
        assertEquals(1, lines.stream().filter(l -> l.startsWith("distillation: the teacher " + teacher + " labels 200 training rows")).count(),
                lines.toString());

        // the file holds the teacher's logits of the 160 labelled rows, then the 40 unlabelled, from the teacher's tokenizer
        Path file = killedOut.resolve(Distillation.FILE);
        Tensor stored = SafetensorsReader.read(file).get("logits");
        assertArrayEquals(new int[] {200, 2}, stored.shape());
        Columns cols = new Columns("sentence", null, "label");
        List<LabelledExample> rows = new ArrayList<>(LabelledDataset.read(dir.resolve("train.tsv"), cols));
        rows.addAll(LabelledDataset.read(dir.resolve("unlabelled.tsv"), new Columns("sentence", null, null)));
        float[] own, studentIds;
        try (CheckpointEvaluator ev = CheckpointEvaluator.open(teacher, 1)) {
            own = ev.logits(ev.encoder(32).encodeAll(rows, null, null), 512, 16);
            dev.tessera.tokenize.TextTokenizer tok = dev.tessera.tokenize.TextTokenizer.load(dir.resolve("tok"));
            FinetuneEncoder studentEnc = new FinetuneEncoder(tok::ids, TrainingSetup.specials(tok, dir.resolve("tok")), 32);
            studentIds = ev.logits(studentEnc.encodeAll(rows, null, null), 512, 16);
            tok.close();
        }
        double diff = 0, other = 0;
        for (int i = 0; i < own.length; i++) {
            diff = Math.max(diff, Math.abs(own[i] - stored.data()[i]));
            other = Math.max(other, Math.abs(studentIds[i] - stored.data()[i]));
        }
        assertTrue(diff <= 1e-5, "stored logits vs the teacher on its own tokens: max diff " + diff);
        assertTrue(other > 1e-2, "the student's tokens would give other logits (max diff " + other + "): the test can tell them apart");

        // the teacher's accuracy on the labelled rows, as logged
        int right = 0;
        for (int r = 0; r < 160; r++) {
            int pred = own[2 * r + 1] > own[2 * r] ? 1 : 0;
            if (pred == (rows.get(r).label().equals("pos") ? 1 : 0)) right++;
        }
        String accuracy = String.format("%.4f", right / 160.0);
        assertTrue(lines.contains("distillation: 200 rows labelled by the teacher (160 with a label, 40 unlabelled); teacher accuracy "
                + "on the labelled rows " + accuracy + "; alpha 0.7, temperature 2.0"), lines.toString());

        // resume: the logits are read back, not computed again; the run continues as one that was never stopped
        byte[] before = Files.readAllBytes(file);
        FileTime written = Files.getLastModifiedTime(file);
        lines.clear();
        TrainingOutcome resumed = new Finetuner(Recipe.parse(studentYaml(pretrained, killedOut, distill), "k"), logging(lines)).run();
        assertEquals(3, resumed.startStep());
        assertEquals(13, resumed.steps(), "200 rows in batches of 16: 13 steps an epoch");
        assertTrue(lines.contains("distillation: teacher logits of 200 rows read back from " + file), lines.toString());
        assertTrue(lines.stream().noneMatch(l -> l.startsWith("distillation: the teacher ")), lines.toString());
        assertArrayEquals(before, Files.readAllBytes(file));
        assertEquals(written, Files.getLastModifiedTime(file));
        TrainingOutcome whole = new Finetuner(Recipe.parse(studentYaml(pretrained, dir.resolve("distil-whole"), distill), "w"),
                TrainOptions.defaults().withThreads(1)).run();
        assertEquals(whole.stepLosses().subList(3, 13), resumed.stepLosses());
        assertEquals(whole.stepLosses().subList(0, 3), first.stepLosses());

        // a teacher file made for other rows is not taken for this run's
        Path fewerOut = Files.createDirectories(dir.resolve("distil-fewer"));
        Files.copy(file, fewerOut.resolve(Distillation.FILE));
        lines.clear();
        String fewer = TinyFixtures.finetuneYaml(dir, pretrained, 1, fewerOut).replace("labels: [neg, pos]", "labels: [neg, pos]\n  train_examples: 100")
                + "distill: " + distill + "\n";
        new Finetuner(Recipe.parse(fewer, "fewer"), logging(lines).withStopAfter(1L)).run();
        assertTrue(lines.contains("distillation: " + Distillation.FILE + " was made for other training rows; computing it again"),
                lines.toString());
        assertArrayEquals(new int[] {140, 2}, SafetensorsReader.read(fewerOut.resolve(Distillation.FILE)).get("logits").shape());
    }

    /**
     * alpha 0 without unlabelled rows is the plain run, step for step; a student initialised from its teacher, at alpha 1
     * and temperature 1, starts at a loss of ~0 (KL of a distribution to itself): only if every row carries its own soft
     * target. Started from the pretrained encoder instead, the same loss is far from 0.
     */
    @Test
    void alphaZeroIsThePlainRunAndAStudentThatIsItsTeacherStartsAtZeroLoss() {
        TrainingOutcome plain = new Finetuner(Recipe.parse(TinyFixtures.finetuneYaml(dir, pretrained, 1, dir.resolve("plain")), "p"),
                TrainOptions.defaults().withThreads(1)).run();
        TrainingOutcome zero = new Finetuner(Recipe.parse(studentYaml(pretrained, dir.resolve("alpha0"), "{teacher: " + teacher + ", alpha: 0}"),
                "a0"), TrainOptions.defaults().withThreads(1)).run();
        assertEquals(plain.stepLosses(), zero.stepLosses());
        TrainingOutcome soft = new Finetuner(Recipe.parse(studentYaml(pretrained, dir.resolve("alpha7"), "{teacher: " + teacher + ", alpha: 0.7}"),
                "a7"), TrainOptions.defaults().withThreads(1)).run();
        assertNotEquals(plain.stepLosses().get(0), soft.stepLosses().get(0));

        String self = "{teacher: " + teacher + ", alpha: 1, temperature: 1}";
        TrainingOutcome itself = new Finetuner(Recipe.parse(studentYaml(teacher, dir.resolve("self"), self)
                .replace("training: {epochs: 1,", "training: {max_steps: 2,"), "self"), TrainOptions.defaults().withThreads(1)).run();
        assertTrue(Math.abs(itself.stepLosses().get(0)) < 1e-5, "a student that is its teacher: first loss " + itself.stepLosses());
        TrainingOutcome fromPretrained = new Finetuner(Recipe.parse(studentYaml(pretrained, dir.resolve("self-pre"), self)
                .replace("training: {epochs: 1,", "training: {max_steps: 2,"), "pre"), TrainOptions.defaults().withThreads(1)).run();
        assertTrue(fromPretrained.stepLosses().get(0) > 1e-3, "another student is not at zero: " + fromPretrained.stepLosses());
    }

    @Test
    void teachersThatCannotTeachThisRunAreRefused() {
        String three = TinyFixtures.finetuneYaml(dir, pretrained, 1, dir.resolve("three"))
                .replace("labels: [neg, pos]", "labels: [neg, pos, other]").replace("training: {epochs: 1,", "training: {max_steps: 1,");
        Path threeLabels = new Finetuner(Recipe.parse(three, "three"), TrainOptions.defaults().withThreads(1)).run().finalDir();
        var other = assertThrows(IllegalArgumentException.class, () -> new Finetuner(Recipe.parse(studentYaml(pretrained,
                dir.resolve("refused"), "{teacher: " + threeLabels + "}"), "r"), TrainOptions.defaults().withThreads(1)).run());
        assertEquals("distill.teacher: the teacher's labels [neg, pos, other] are not this run's labels [neg, pos]", other.getMessage());
        var mlm = assertThrows(IllegalArgumentException.class, () -> new Finetuner(Recipe.parse(studentYaml(pretrained,
                dir.resolve("refused"), "{teacher: " + pretrained + "}"), "r"), TrainOptions.defaults().withThreads(1)).run());
        assertEquals("distill.teacher: " + pretrained + " is not a finetuned classification checkpoint (its head is mlm)", mlm.getMessage());
        var none = assertThrows(IllegalArgumentException.class, () -> new Finetuner(Recipe.parse(studentYaml(pretrained,
                dir.resolve("refused"), "{teacher: " + dir.resolve("nowhere") + "}"), "r"), TrainOptions.defaults().withThreads(1)).run());
        assertEquals("distill.teacher: no checkpoint directory " + dir.resolve("nowhere"), none.getMessage());
        assertFalse(Files.exists(dir.resolve("refused").resolve(Distillation.FILE)), "nothing computed for a refused teacher");
    }

    /** The teacher's label order may differ from the run's: its outputs are taken by name. */
    @Test
    void labelsAreMatchedByName() {
        assertArrayEquals(new int[] {1, 0}, Distillation.labelMap(List.of("pos", "neg"), List.of("neg", "pos")));
        assertArrayEquals(new int[] {0, 1, 2}, Distillation.labelMap(List.of("a", "b", "c"), List.of("a", "b", "c")));
        assertThrows(IllegalArgumentException.class, () -> Distillation.labelMap(List.of("a", "b"), List.of("a", "c")));
        float[] q = Distillation.softTargets(new float[] {0f, 0f, 2f, 0f}, 2, 2.0);
        assertEquals(0.5f, q[0], 0f);
        assertEquals(1 / (1 + Math.exp(-1)), q[2], 1e-7);
        assertEquals(1.0, q[2] + q[3], 1e-7);
        assertTrue(Arrays.equals(q, Distillation.softTargets(new float[] {0f, 0f, 2f, 0f}, 2, 2.0)));
    }
}
