package dev.tessera.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.cli.Cli;
import dev.tessera.hf.HfCheckpoint;
import dev.tessera.model.ModelConfig;
import dev.tessera.tokenize.TextTokenizer;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code import}: the real all-MiniLM-L6-v2 ONNX file becomes a checkpoint directory the server can load. */
class ImportCommandTest {

    @Test
    void importsMiniLmIntoALoadableCheckpoint(@TempDir Path tmp) throws Exception {
        Path onnx = copy("all-minilm-l6-v2.onnx", tmp), tok = copy("all-minilm-l6-v2-tokenizer.json", tmp);
        Path out = tmp.resolve("minilm");
        assertEquals(0, Cli.run("import", "--onnx", onnx.toString(), "--tokenizer", tok.toString(), "--output", out.toString()));
        ModelConfig c = HfCheckpoint.load(out).config();
        assertEquals(6, c.numLayers());
        assertEquals(12, c.numHeads());
        try (TextTokenizer t = TextTokenizer.load(out)) {
            assertEquals(101, t.encode("hello world").ids()[0], "[CLS] of bert-base-uncased");
        }
        assertTrue(Files.isRegularFile(out.resolve("config.json")));
        assertEquals(1, Cli.run("import", "--onnx", tok.toString(), "--tokenizer", tok.toString(), "--output",
                tmp.resolve("bad").toString()), "a file that is not ONNX is refused");
    }

    private static Path copy(String resource, Path dir) throws Exception {
        try (InputStream in = ImportCommandTest.class.getResourceAsStream("/" + resource)) {
            Path p = dir.resolve(resource);
            Files.copy(in, p);
            return p;
        }
    }
}
