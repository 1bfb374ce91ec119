package dev.tessera.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.cli.Cli;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code export} command end to end: checkpoint directory in, runnable ONNX file out. */
class ExportCommandTest {

    private static Path fixture(String name) throws Exception {
        return Path.of(ExportCommandTest.class.getResource("/fixtures/" + name).toURI());
    }

    @Test
    void exportsAFixtureCheckpointToARunnableFile(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("model.onnx");
        Captured r = run("export", "--model", fixture("mosaic-cls12").toString(), "--output", out.toString());
        assertEquals(0, r.code, r.err);
        assertTrue(r.out.contains("MOSAIC_BERT"), r.out);
        try (OrtRunner ort = new OrtRunner(out.toString())) {
            Map<String, OrtRunner.Out> o = ort.run(new long[][] {{2, 20, 21, 3}}, new long[][] {{1, 1, 1, 1}}, new long[1][4]);
            assertEquals(3, o.get("logits").data().length);
        }
    }

    /** Every dialect that exists and both precisions write a file ORT runs with the same three inputs. */
    @Test
    void exportsOrtAndInt8(@TempDir Path tmp) throws Exception {
        for (String[] dp : new String[][] {{"ort", "fp32"}, {"ort", "int8"}, {"portable", "int8"}}) {
            Path out = tmp.resolve(dp[0] + "-" + dp[1] + ".onnx");
            Captured r = run("export", "--model", fixture("mosaic-cls12").toString(), "--dialect", dp[0], "--precision", dp[1],
                    "--output", out.toString());
            assertEquals(0, r.code, r.err);
            assertTrue(r.out.contains("[" + dp[0] + ", " + dp[1] + "]"), r.out);
            try (OrtRunner ort = new OrtRunner(out.toString())) {
                Map<String, OrtRunner.Out> o = ort.run(new long[][] {{2, 20, 21, 3}}, new long[][] {{1, 1, 1, 1}}, new long[1][4]);
                assertEquals(3, o.get("logits").data().length);
            }
        }
    }

    @Test
    void unknownDialectOrPrecisionNamesTheValidOnes(@TempDir Path tmp) throws Exception {
        Captured r = run("export", "--model", fixture("mosaic-cls12").toString(), "--dialect", "onnxruntime",
                "--output", tmp.resolve("x.onnx").toString());
        assertEquals(2, r.code);
        assertTrue(r.err.contains("unknown ONNX dialect 'onnxruntime'") && r.err.contains("valid: portable, ort, tessera"), r.err);
        r = run("export", "--model", fixture("mosaic-cls12").toString(), "--precision", "fp16",
                "--output", tmp.resolve("x.onnx").toString());
        assertEquals(2, r.code);
        assertTrue(r.err.contains("unknown ONNX precision 'fp16'") && r.err.contains("valid: fp32, int8"), r.err);
        assertTrue(Files.notExists(tmp.resolve("x.onnx")));
    }

    /** A tessera-dialect file from the CLI runs wherever the custom-op library is registered (packed inputs). */
    @Test
    void exportsTheTesseraDialectAndInt8(@TempDir Path tmp) throws Exception {
        for (String precision : new String[] {"fp32", "int8"}) {
            Path out = tmp.resolve("model-" + precision + ".onnx");
            Captured r = run("export", "--model", fixture("mosaic-cls12").toString(), "--dialect", "tessera",
                    "--precision", precision, "--output", out.toString());
            assertEquals(0, r.code, r.err);
            try (OrtRunner ort = new OrtRunner(Files.readAllBytes(out), true)) {
                assertTrue(ort.packed());
                Map<String, OrtRunner.Out> o = ort.run(new long[][] {{2, 20, 21, 3}, {2, 22, 3, 0}},
                        new long[][] {{1, 1, 1, 1}, {1, 1, 1, 0}}, new long[2][4]);
                assertEquals(6, o.get("logits").data().length);
            }
        }
    }

    @Test
    void missingCheckpointIsAClearError(@TempDir Path tmp) throws Exception {
        Captured r = run("export", "--model", tmp.resolve("nope").toString(), "--output", tmp.resolve("x.onnx").toString());
        assertEquals(1, r.code);
        assertTrue(r.err.contains("cannot load checkpoint") && r.err.contains("nope"), r.err);
    }

    record Captured(int code, String out, String err) {}

    private static Captured run(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = Cli.run(args);
            return new Captured(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }
}
