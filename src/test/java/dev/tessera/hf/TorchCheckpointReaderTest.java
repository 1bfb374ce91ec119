package dev.tessera.hf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.model.BertModel;
import dev.tessera.model.Head;
import dev.tessera.model.Tensor;
import dev.tessera.model.Variant;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TorchCheckpointReaderTest {

    @Test
    void mosaicRegressionBinWithAlibiBufferAndOffsetView() {
        Map<String, Tensor> raw = TorchCheckpointReader.read(Fixtures.dir("mosaic-reg-bin").resolve("pytorch_model.bin"));
        assertArrayEquals(new int[] {1, 4, 16, 16}, raw.get("bert.encoder.alibi").shape(), "the buffer is read...");
        BertModel m = HfCheckpoint.load(Fixtures.dir("mosaic-reg-bin"));
        assertFalse(m.has("bert.encoder.alibi"), "...and then ignored");
        assertEquals(Variant.MOSAIC_BERT, m.config().variant());
        assertEquals(Head.REGRESSION, m.config().head());
        assertEquals(1, m.config().numLabels());
        // the pooler bias is a view at offset 32*32 into the storage it shares with the pooler weight
        HfCheckpointTest.assertWeightsMatch("mosaic-reg-bin", m);
        assertEquals(Fixtures.expected("mosaic-reg-bin").get("weights").size(), m.weights().size());
    }

    @Test
    void bertMlmBinTiedDecoderAndNonContiguousTensor() {
        Map<String, Tensor> raw = TorchCheckpointReader.read(Fixtures.dir("bert-mlm-bin").resolve("pytorch_model.bin"));
        // same storage, same layout: one Tensor instance
        assertSame(raw.get("bert.embeddings.word_embeddings.weight"), raw.get("cls.predictions.decoder.weight"));
        BertModel m = HfCheckpoint.load(Fixtures.dir("bert-mlm-bin"));
        assertEquals(Variant.BERT, m.config().variant());
        assertEquals(Head.MLM, m.config().head());
        assertFalse(m.has("cls.predictions.decoder.weight"), "tied decoder is not stored twice");
        assertSame(m.weight("bert.embeddings.word_embeddings.weight"), m.decoderWeight());
        // transform.dense.weight was saved as a transposed view (stride (1, 32)); the checksum is order-sensitive
        HfCheckpointTest.assertWeightsMatch("bert-mlm-bin", m);
    }

    @Test
    void hostilePickleFromPythonIsRefused() {
        var e = assertThrows(CheckpointFormatException.class,
                () -> TorchCheckpointReader.read(Fixtures.dir("hostile-pickle").resolve("pytorch_model.bin")));
        assertEquals("pytorch_model.bin: unsupported pickle global posix.system (refusing to execute code)", e.getMessage());
    }

    /** Pickle opcodes written by hand (protocol 2). */
    private static byte[] pickle(String... parts) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(0x80);
        b.write(2);
        for (String p : parts) b.writeBytes(p.getBytes(StandardCharsets.ISO_8859_1));
        return b.toByteArray();
    }

    private static Path zip(Path dir, Map<String, byte[]> entries) throws IOException {
        Path f = dir.resolve("pytorch_model.bin");
        try (OutputStream os = Files.newOutputStream(f); ZipOutputStream z = new ZipOutputStream(os)) {
            for (var e : entries.entrySet()) {
                z.putNextEntry(new ZipEntry(e.getKey()));
                z.write(e.getValue());
                z.closeEntry();
            }
        }
        return f;
    }

    @Test
    void builtinsEvalViaStackGlobalIsRefused(@TempDir Path tmp) throws IOException {
        // protocol-4 style: STACK_GLOBAL('builtins', 'eval')
        byte[] p = pickle("\u008c\u0008builtins\u008c\u0004eval\u0093\u008c\u0004'hi'\u0085R.");
        var e = assertThrows(CheckpointFormatException.class,
                () -> TorchCheckpointReader.read(zip(tmp, Map.of("archive/data.pkl", p))));
        assertTrue(e.getMessage().endsWith("unsupported pickle global builtins.eval (refusing to execute code)"), e.getMessage());
    }

    @Test
    void unknownOpcodeIsRefused(@TempDir Path tmp) throws IOException {
        // INST ('i') builds arbitrary objects in protocol 0; torch.save never emits it
        byte[] p = pickle("(iposix\nsystem\n.");
        var e = assertThrows(CheckpointFormatException.class,
                () -> TorchCheckpointReader.read(zip(tmp, Map.of("archive/data.pkl", p))));
        assertTrue(e.getMessage().contains("unsupported pickle opcode 0x69"), e.getMessage());
    }

    @Test
    void truncatedPickle(@TempDir Path tmp) throws IOException {
        byte[] p = pickle("}q\u0000(X\u0010\u0000\u0000\u0000abc");
        var e = assertThrows(CheckpointFormatException.class,
                () -> TorchCheckpointReader.read(zip(tmp, Map.of("archive/data.pkl", p))));
        assertTrue(e.getMessage().contains("runs past the end") || e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void tensorPastItsStorage(@TempDir Path tmp) throws IOException {
        // {'w': _rebuild_tensor_v2(('storage', FloatStorage, '0', 'cpu', 4), 2, (3,), (1,), False, OrderedDict())}
        byte[] p = pickle("}(X\u0001\u0000\u0000\u0000w",
                "ctorch._utils\n_rebuild_tensor_v2\n(",
                "(X\u0007\u0000\u0000\u0000storagectorch\nFloatStorage\nX\u0001\u0000\u0000\u00000X\u0003\u0000\u0000\u0000cpuK\u0004tQ",
                "K\u0002K\u0003\u0085K\u0001\u0085\u0089ccollections\nOrderedDict\n)RtRu.");
        Path f = zip(tmp, Map.of("archive/data.pkl", p, "archive/data/0", new byte[16]));
        var e = assertThrows(CheckpointFormatException.class, () -> TorchCheckpointReader.read(f));
        assertEquals("pytorch_model.bin: tensor 'w' [3] at offset 2 with stride [1] reaches past its storage of 4 elements",
                e.getMessage());
        // the same pickle with offset 1 fits and is read
        byte[] ok = pickle("}(X\u0001\u0000\u0000\u0000w",
                "ctorch._utils\n_rebuild_tensor_v2\n(",
                "(X\u0007\u0000\u0000\u0000storagectorch\nFloatStorage\nX\u0001\u0000\u0000\u00000X\u0003\u0000\u0000\u0000cpuK\u0004tQ",
                "K\u0001K\u0003\u0085K\u0001\u0085\u0089ccollections\nOrderedDict\n)RtRu.");
        byte[] data = new byte[16];
        java.nio.ByteBuffer.wrap(data).order(java.nio.ByteOrder.LITTLE_ENDIAN).putFloat(0f).putFloat(1.5f).putFloat(-2f).putFloat(3f);
        Path g = zip(tmp, Map.of("archive/data.pkl", ok, "archive/data/0", data));
        assertArrayEquals(new float[] {1.5f, -2f, 3f}, TorchCheckpointReader.read(g).get("w").data());
    }

    @Test
    void notAZip(@TempDir Path tmp) throws IOException {
        Path f = tmp.resolve("pytorch_model.bin");
        Files.write(f, new byte[] {(byte) 0x80, 2, (byte) 0x8a, 10});
        var e = assertThrows(CheckpointFormatException.class, () -> TorchCheckpointReader.read(f));
        assertTrue(e.getMessage().contains("legacy pre-1.6 torch.save files are not supported"), e.getMessage());
    }

    @Test
    void missingStorage(@TempDir Path tmp) throws IOException {
        byte[] p = pickle("}(X\u0001\u0000\u0000\u0000w",
                "ctorch._utils\n_rebuild_tensor_v2\n(",
                "(X\u0007\u0000\u0000\u0000storagectorch\nFloatStorage\nX\u0001\u0000\u0000\u00007X\u0003\u0000\u0000\u0000cpuK\u0004tQ",
                "K\u0000K\u0004\u0085K\u0001\u0085\u0089ccollections\nOrderedDict\n)RtRu.");
        Path f = zip(tmp, Map.of("archive/data.pkl", p));
        var e = assertThrows(CheckpointFormatException.class, () -> TorchCheckpointReader.read(f));
        assertEquals("pytorch_model.bin: storage 7 of tensor 'w' is missing", e.getMessage());
        assertEquals(List.of(), List.of());
    }
}
