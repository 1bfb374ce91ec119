package dev.tessera.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.hf.HfCheckpoint;
import dev.tessera.model.Head;
import dev.tessera.tokenize.TextTokenizer;
import dev.tessera.train.TinyFixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** vocab → pretrain → finetune → eval through the command line, on generated data. */
class TrainCliTest {

    record Run(int code, String out, String err) {}

    static Run cli(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        CommandLine cl = new CommandLine(new Cli());
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void vocabPretrainFinetuneEval(@TempDir Path dir) throws Exception {
        TinyFixtures.write(dir);
        // vocab: frequency scoring by default
        Run v = cli("vocab", "--corpus", dir.resolve("corpus.txt").toString(), "--output", dir.resolve("tok2").toString(),
                "--vocab-size", "200");
        assertEquals(0, v.code(), v.err());
        assertEquals(256, Files.readAllLines(dir.resolve("tok2/vocab.txt")).size());
        try (TextTokenizer t = TextTokenizer.load(dir.resolve("tok2"))) {
            assertEquals(List.of("[CLS]", "the", "cat", "[SEP]"), List.of(t.encode("The cat").tokens()));
        }

        Path pre = dir.resolve("pre.yaml");
        Files.writeString(pre, TinyFixtures.pretrainYaml(dir, 30, 100));
        Run p = cli("pretrain", "--recipe", pre.toString(), "--output", dir.resolve("pre-out").toString(), "--threads", "1");
        assertEquals(0, p.code(), p.err() + p.out());
        assertTrue(p.out().contains("step 30/30"), p.out());
        assertTrue(p.out().contains("eval @ step 30"), p.out());
        Path fin = dir.resolve("pre-out/final");
        assertTrue(Files.isDirectory(fin));

        Path ft = dir.resolve("ft.yaml");
        Path ftOut = dir.resolve("ft-out");
        Files.writeString(ft, TinyFixtures.finetuneYaml(dir, Path.of("unused"), 10, ftOut));
        Run f = cli("finetune", "--recipe", ft.toString(), "--init-from", fin.toString(), "--threads", "1");
        assertEquals(0, f.code(), f.err() + f.out());
        assertTrue(f.out().contains("initialised new head tensors"), f.out());
        Path best = ftOut.resolve("best");
        var model = HfCheckpoint.load(best);
        assertEquals(Head.CLASSIFICATION, model.config().head());
        assertEquals(List.of("neg", "pos"), model.config().labels());
        JsonNode cfg = new ObjectMapper().readTree(best.resolve("config.json").toFile());
        assertEquals("pos", cfg.at("/id2label/1").asText());
        assertEquals(0, cfg.at("/label2id/neg").asInt());
        assertEquals("single_label_classification", cfg.get("problem_type").asText());

        Run e = cli("eval", "--model", best.toString(), "--data", dir.resolve("dev.tsv").toString(), "--text", "sentence");
        assertEquals(0, e.code(), e.err());
        JsonNode metrics = new ObjectMapper().readTree(e.out());
        // the label is decided by one sentiment word: a working finetune separates it
        assertTrue(metrics.get("accuracy").asDouble() >= 0.9, e.out() + f.out());
        assertEquals(60, metrics.get("examples").asInt());
    }

    @Test
    void tfidfControlOnALabelBudget(@TempDir Path dir) throws Exception {
        TinyFixtures.write(dir);
        String train = dir.resolve("train.tsv").toString(), dev = dir.resolve("dev.tsv").toString();
        Run all = cli("tfidf", "--train", train, "--test", dev, "--text", "sentence", "--min-df", "1");
        assertEquals(0, all.code(), all.err());
        JsonNode r = new ObjectMapper().readTree(all.out());
        assertTrue(r.get("accuracy").asDouble() >= 0.9, all.out()); // one sentiment word decides the label
        assertEquals(60, r.get("test_examples").asInt());
        Run some = cli("tfidf", "--train", train, "--test", dev, "--text", "sentence", "--examples", "20", "--seed", "3");
        assertEquals(0, some.code(), some.err());
        assertEquals(20, new ObjectMapper().readTree(some.out()).get("train_examples").asInt());
        Run missing = cli("tfidf", "--train", dir.resolve("nope.tsv").toString(), "--test", dev);
        assertEquals(2, missing.code());
        assertTrue(missing.err().contains("data file not found"), missing.err());
    }

    @Test
    void plotOfAFinetuningStudyAveragesSeeds(@TempDir Path dir) throws Exception {
        List<String> runs = List.of(
                "{\"name\":\"p-500-s17\",\"model\":\"pretrained\",\"labels\":500,\"seed\":17,\"test_accuracy\":0.80}",
                "{\"name\":\"p-500-s18\",\"model\":\"pretrained\",\"labels\":500,\"seed\":18,\"test_accuracy\":0.84}",
                "{\"name\":\"r-500-s17\",\"model\":\"random\",\"labels\":500,\"seed\":17,\"test_accuracy\":0.70}",
                "{\"name\":\"sweep-random-1e-3\",\"model\":\"random\",\"labels\":500,\"seed\":17,\"test_accuracy\":null}",
                "");
        var byModel = PlotCommand.accuracyByLabels(runs);
        assertEquals(List.of("pretrained", "random"), List.copyOf(byModel.keySet()));
        assertEquals(List.of(80.0, 84.0), byModel.get("pretrained").get(500));
        assertEquals(List.of(70.0), byModel.get("random").get(500), "the unscored sweep run is left out");
        Path file = dir.resolve("runs.jsonl"), png = dir.resolve("acc.png");
        Files.write(file, runs);
        Run p = cli("plot", "--runs", file.toString(), "--output", png.toString());
        assertEquals(0, p.code(), p.err());
        byte[] head = java.util.Arrays.copyOf(Files.readAllBytes(png), 4);
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, head);
        assertEquals(2, cli("plot", "--runs", file.toString(), "--checkpoint", dir.toString(), "--output", png.toString()).code());
    }

    @Test
    void badRecipeIsExitCode2WithEveryProblem(@TempDir Path dir) throws Exception {
        Path r = dir.resolve("bad.yaml");
        Files.writeString(r, "kind: pretrain\nmodel: {hidden: 30, heads: 4, colour: red}\n");
        Run p = cli("pretrain", "--recipe", r.toString());
        assertEquals(2, p.code());
        assertTrue(p.err().contains("unknown key 'colour'"), p.err());
        Files.writeString(r, "kind: pretrain\nmodel: {hidden: 30, heads: 4}\noptimizer: {lr: -1}\n");
        p = cli("pretrain", "--recipe", r.toString());
        assertEquals(2, p.code());
        assertTrue(p.err().contains("model.hidden (30) must be a multiple") && p.err().contains("optimizer.lr"), p.err());
        Run f = cli("finetune", "--recipe", r.toString());
        assertEquals(2, f.code());
        assertTrue(f.err().contains("pretrain"), f.err());
    }

    @Test
    void missingColumnAndUnknownLabelAreExitCode2(@TempDir Path dir) throws Exception {
        TinyFixtures.write(dir);
        Path pre = dir.resolve("pre.yaml");
        Files.writeString(pre, TinyFixtures.pretrainYaml(dir, 2, 100));
        assertEquals(0, cli("pretrain", "--recipe", pre.toString(), "--output", dir.resolve("p").toString()).code());
        Path ft = dir.resolve("ft.yaml");
        Files.writeString(ft, TinyFixtures.finetuneYaml(dir, dir.resolve("p/final"), 1, dir.resolve("f")));
        Run f = cli("finetune", "--recipe", ft.toString(), "--set", "data.columns.text=review");
        assertEquals(2, f.code());
        assertTrue(f.err().contains("review"), f.err());
        f = cli("finetune", "--recipe", ft.toString(), "--set", "data.labels=[neg, neutral]");
        assertEquals(2, f.code());
        assertTrue(f.err().contains("pos"), f.err());
        assertFalse(Files.exists(dir.resolve("f/latest")), "no training may start");
    }
}
