package dev.tessera.hf;

import dev.tessera.io.AtomicFiles;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tessera.model.ClassifierPooling;
import dev.tessera.model.BertModel;
import dev.tessera.model.Head;
import dev.tessera.model.ModelConfig;
import dev.tessera.model.Tensor;
import dev.tessera.model.Variant;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HfCheckpointTest {

    /**
     * Every tensor the loader keeps must match the script's summary of the weights it saved. The script rounds to
     * 8 significant digits; a float32 sum over a few thousand values agrees to ~1e-6 relative, so 1e-5 relative
     * (plus 1e-5 absolute for sums near zero) catches any wrong element, dtype conversion or layout.
     */
    static void assertWeightsMatch(String fixture, BertModel m) {
        JsonNode w = Fixtures.expected(fixture).get("weights");
        for (var e : m.weights().entrySet()) {
            JsonNode exp = w.get(e.getKey());
            assertTrue(exp != null, "unexpected tensor " + e.getKey());
            Tensor t = e.getValue();
            assertArrayEquals(Fixtures.ints(exp.get("shape")), t.shape(), e.getKey());
            double[] s = Fixtures.sums(t);
            assertClose(exp.get("sum").asDouble(), s[0], e.getKey() + " sum");
            assertClose(exp.get("checksum").asDouble(), s[1], e.getKey() + " checksum");
            for (int i = 0; i < 4 && i < t.data().length; i++) {
                // the first values are exact float32 values printed with 8 digits
                assertEquals(exp.get("first").get(i).asDouble(), t.data()[i], Math.abs(t.data()[i]) * 1e-7 + 1e-12,
                        e.getKey() + "[" + i + "]");
            }
        }
    }

    static void assertClose(double expected, double actual, String what) {
        assertEquals(expected, actual, Math.abs(expected) * 1e-5 + 1e-5, what);
    }

    @Test
    void mosaicClassifierSafetensorsF32() {
        BertModel m = HfCheckpoint.load(Fixtures.dir("mosaic-cls12"));
        ModelConfig c = m.config();
        assertEquals(Variant.MOSAIC_BERT, c.variant());
        assertEquals(Head.CLASSIFICATION, c.head());
        assertEquals(List.of("negative", "neutral", "positive"), c.labels());
        assertEquals(48, c.hiddenSize());
        assertEquals(12, c.numHeads());
        assertEquals(2, c.numLayers());
        assertEquals(64, c.intermediateSize());
        assertEquals(16, c.maxPositionEmbeddings());
        assertEquals(1e-12, c.layerNormEps());
        assertArrayEquals(new int[] {144, 48}, m.weight("bert.encoder.layer.0.attention.self.Wqkv.weight").shape());
        assertArrayEquals(new int[] {128, 48}, m.weight("bert.encoder.layer.1.mlp.gated_layers.weight").shape());
        assertWeightsMatch("mosaic-cls12", m);
        // every tensor the script wrote is kept: nothing required was dropped
        assertEquals(Fixtures.expected("mosaic-cls12").get("weights").size(), m.weights().size());
    }

    @Test
    void bertClassifierF16IsWidenedExactly() {
        BertModel m = HfCheckpoint.load(Fixtures.dir("bert-cls-f16"));
        assertEquals(Variant.BERT, m.config().variant());
        assertEquals(Head.CLASSIFICATION, m.config().head());
        assertEquals(List.of("NEGATIVE", "POSITIVE"), m.config().labels());
        assertEquals(64, m.config().maxPositionEmbeddings());
        assertArrayEquals(new int[] {64, 48}, m.weight("bert.embeddings.position_embeddings.weight").shape());
        assertWeightsMatch("bert-cls-f16", m);
        // f16 widening is exact: every value must be representable in f16
        for (Tensor t : m.weights().values())
            for (float v : t.data()) assertEquals(v, Float.float16ToFloat(Float.floatToFloat16(v)));
    }

    @Test
    void shardedBf16MlmWithComposerPrefixAndAbsentDecoder() {
        BertModel m = HfCheckpoint.load(Fixtures.dir("mosaic-mlm-sharded-bf16"));
        assertEquals(Variant.MOSAIC_BERT, m.config().variant());
        assertEquals(Head.MLM, m.config().head());
        // the default two-label id2label transformers writes must not create a classifier
        assertTrue(m.config().labels().isEmpty());
        assertEquals(184, m.config().vocabSize());
        assertFalse(m.weights().keySet().stream().anyMatch(k -> k.startsWith("model.")));
        assertFalse(m.has("cls.predictions.decoder.weight"));
        assertSame(m.weight("bert.embeddings.word_embeddings.weight"), m.decoderWeight());
        assertWeightsMatch("mosaic-mlm-sharded-bf16", m);
        for (Tensor t : m.weights().values())
            for (float v : t.data()) assertEquals(0, Float.floatToRawIntBits(v) & 0xffff, "bf16 widening leaves low bits 0");
    }

    @Test
    void readConfigAlone() {
        ModelConfig c = HfCheckpoint.readConfig(Fixtures.dir("mosaic-cls12").resolve("config.json"));
        assertEquals(Variant.MOSAIC_BERT, c.variant());
        assertEquals(Head.CLASSIFICATION, c.head());
        assertEquals(3, c.numLabels());
        ModelConfig r = HfCheckpoint.readConfig(Fixtures.dir("mosaic-reg-bin").resolve("config.json"));
        assertEquals(Head.REGRESSION, r.head());
        assertEquals("regression", r.problemType());
        ModelConfig b = HfCheckpoint.readConfig(Fixtures.dir("bert-mlm-bin").resolve("config.json"));
        assertEquals(Variant.BERT, b.variant());
        assertEquals(Head.MLM, b.head());
    }

    @Test
    void sentenceTransformersStyleNamesGetTheBertPrefix(@TempDir Path tmp) throws IOException {
        Path src = Fixtures.dir("mosaic-cls12");
        Map<String, Tensor> stored = SafetensorsReader.read(src.resolve("model.safetensors"));
        Map<String, Tensor> bare = new TreeMap<>();
        stored.forEach((k, v) -> {
            if (k.startsWith("bert.") && !k.startsWith("bert.pooler")) bare.put(k.substring(5), v);
        });
        SafetensorsWriter.write(tmp.resolve("model.safetensors"), bare, Map.of());
        Files.writeString(tmp.resolve("config.json"), "{\"model_type\":\"bert\",\"hidden_size\":48,\"num_hidden_layers\":2,"
                + "\"num_attention_heads\":12,\"intermediate_size\":64,\"vocab_size\":178}");
        BertModel m = HfCheckpoint.load(tmp);
        assertEquals(Head.NONE, m.config().head());
        assertEquals(Variant.MOSAIC_BERT, m.config().variant());
        assertTrue(m.has("bert.embeddings.word_embeddings.weight"));
        assertWeightsMatch("mosaic-cls12", m);
    }

    @Test
    void saveRoundTrips(@TempDir Path tmp) throws IOException {
        for (String f : List.of("mosaic-cls12", "bert-cls-f16", "mosaic-mlm-sharded-bf16")) {
            BertModel m = HfCheckpoint.load(Fixtures.dir(f));
            Path out = tmp.resolve(f);
            HfCheckpoint.save(m, out);
            try (var files = Files.list(out)) {
                assertEquals(List.of("config.json", "model.safetensors"), files.map(p -> p.getFileName().toString()).sorted().toList(),
                        "no temp files left behind");
            }
            BertModel back = HfCheckpoint.load(out);
            assertEquals(m.config(), back.config(), f);
            assertEquals(m.weights().keySet(), back.weights().keySet(), f);
            for (String k : m.weights().keySet())
                assertArrayEquals(m.weight(k).data(), back.weight(k).data(), f + " " + k);
        }
    }

    /** classifier_pooling (ModernBERT's key) round-trips; absent is cls, and a cls model writes no key. */
    @Test
    void classifierPoolingRoundTrips(@TempDir Path tmp) throws IOException {
        BertModel m = HfCheckpoint.load(Fixtures.dir("mosaic-cls12"));
        assertEquals(ClassifierPooling.CLS, m.config().classifierPooling(), "absent: the first token");
        BertModel mean = new BertModel(m.config().withClassifierPooling(ClassifierPooling.MEAN), m.weights());
        HfCheckpoint.save(mean, tmp.resolve("mean"));
        assertTrue(Files.readString(tmp.resolve("mean/config.json")).contains("\"classifier_pooling\" : \"mean\""));
        assertEquals(ClassifierPooling.MEAN, HfCheckpoint.load(tmp.resolve("mean")).config().classifierPooling());
        assertEquals(ClassifierPooling.MEAN, HfCheckpoint.readConfig(tmp.resolve("mean/config.json")).classifierPooling());
        HfCheckpoint.save(m, tmp.resolve("cls"));
        assertFalse(Files.readString(tmp.resolve("cls/config.json")).contains("classifier_pooling"));
        Path d = copyFixture("mosaic-cls12", tmp);
        Files.writeString(d.resolve("config.json"),
                Files.readString(d.resolve("config.json")).replaceFirst("\\{", "{\"classifier_pooling\": \"CLS\", "));
        assertEquals(ClassifierPooling.CLS, HfCheckpoint.load(d).config().classifierPooling(), "any case");
    }

    // ------------------------------------------------------------------------------------------ bad input

    @Test
    void unknownClassifierPooling(@TempDir Path tmp) throws IOException {
        for (String bad : List.of("\"max\"", "1")) {
            Path d = copyFixture("mosaic-cls12", tmp.resolve("c" + bad.length()));
            Files.writeString(d.resolve("config.json"),
                    Files.readString(d.resolve("config.json")).replaceFirst("\\{", "{\"classifier_pooling\": " + bad + ", "));
            var e = assertThrows(CheckpointFormatException.class, () -> HfCheckpoint.load(d));
            assertTrue(e.getMessage().endsWith("classifier_pooling must be \"cls\" or \"mean\", got " + bad), e.getMessage());
        }
    }

    private static Path copyFixture(String name, Path tmp) throws IOException {
        Path d = tmp.resolve(name);
        Files.createDirectories(d);
        try (var files = Files.list(Fixtures.dir(name))) {
            for (Path p : files.toList()) Files.copy(p, d.resolve(p.getFileName()));
        }
        return d;
    }

    @Test
    void missingConfig(@TempDir Path tmp) throws IOException {
        Path d = copyFixture("mosaic-cls12", tmp);
        Files.delete(d.resolve("config.json"));
        var e = assertThrows(CheckpointFormatException.class, () -> HfCheckpoint.load(d));
        assertTrue(e.getMessage().contains("no config.json"), e.getMessage());
    }

    @Test
    void missingWeights(@TempDir Path tmp) throws IOException {
        Path d = copyFixture("mosaic-cls12", tmp);
        Files.delete(d.resolve("model.safetensors"));
        var e = assertThrows(CheckpointFormatException.class, () -> HfCheckpoint.load(d));
        assertTrue(e.getMessage().contains("no weights in"), e.getMessage());
    }

    @Test
    void missingTensorIsNamed(@TempDir Path tmp) throws IOException {
        Path d = copyFixture("mosaic-cls12", tmp);
        Map<String, Tensor> w = new TreeMap<>(SafetensorsReader.read(d.resolve("model.safetensors")));
        w.remove("bert.encoder.layer.1.mlp.wo.bias");
        SafetensorsWriter.write(d.resolve("model.safetensors"), w, Map.of());
        var e = assertThrows(CheckpointFormatException.class, () -> HfCheckpoint.load(d));
        assertEquals("missing tensor 'bert.encoder.layer.1.mlp.wo.bias' (expected shape [48]) for a MOSAIC_BERT "
                + "checkpoint with head CLASSIFICATION", e.getMessage());
    }

    @Test
    void wrongShapeIsNamed(@TempDir Path tmp) throws IOException {
        Path d = copyFixture("mosaic-cls12", tmp);
        Map<String, Tensor> w = new TreeMap<>(SafetensorsReader.read(d.resolve("model.safetensors")));
        w.put("bert.encoder.layer.0.attention.self.Wqkv.weight", Tensor.zeros(48, 144));
        SafetensorsWriter.write(d.resolve("model.safetensors"), w, Map.of());
        var e = assertThrows(CheckpointFormatException.class, () -> HfCheckpoint.load(d));
        assertEquals("tensor 'bert.encoder.layer.0.attention.self.Wqkv.weight' has shape [48, 144], expected [144, 48]",
                e.getMessage());
    }

    @Test
    void labelCountDisagreeingWithClassifier(@TempDir Path tmp) throws IOException {
        Path d = copyFixture("mosaic-cls12", tmp);
        String cfg = Files.readString(d.resolve("config.json")).replace("\"2\": \"positive\"", "\"2\": \"positive\", \"3\": \"other\"");
        Files.writeString(d.resolve("config.json"), cfg);
        var e = assertThrows(CheckpointFormatException.class, () -> HfCheckpoint.load(d));
        assertTrue(e.getMessage().contains("id2label has 4 labels but tensor 'classifier.weight' has 3 rows"), e.getMessage());
    }

    @Test
    void configWithoutHiddenSize(@TempDir Path tmp) throws IOException {
        Path d = copyFixture("mosaic-cls12", tmp);
        String cfg = Files.readString(d.resolve("config.json")).replace("\"hidden_size\"", "\"hidden_sizes\"");
        Files.writeString(d.resolve("config.json"), cfg);
        var e = assertThrows(CheckpointFormatException.class, () -> HfCheckpoint.load(d));
        assertTrue(e.getMessage().contains("lacks a positive integer hidden_size"), e.getMessage());
    }

    @Test
    void unknownArchitecture(@TempDir Path tmp) throws IOException {
        SafetensorsWriter.write(tmp.resolve("model.safetensors"), Map.of("foo.weight", Tensor.zeros(2, 2)), Map.of());
        Files.writeString(tmp.resolve("config.json"), "{\"hidden_size\":4}");
        var e = assertThrows(CheckpointFormatException.class, () -> HfCheckpoint.load(tmp));
        assertTrue(e.getMessage().startsWith("cannot tell the architecture"), e.getMessage());
        assertNull(null);
    }

    /** bert-base-uncased style: LayerNorm gamma/beta and cls.predictions.bias, no bert. prefix issues. */
    @Test
    void tensorflowStyleNames(@TempDir Path tmp) throws IOException {
        Path d = copyFixture("bert-cls-f16", tmp);
        Map<String, Tensor> w = new TreeMap<>();
        SafetensorsReader.read(d.resolve("model.safetensors")).forEach((k, v) ->
                w.put(k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"), v));
        assertTrue(w.containsKey("bert.embeddings.LayerNorm.gamma"));
        SafetensorsWriter.write(d.resolve("model.safetensors"), w, Map.of());
        assertWeightsMatch("bert-cls-f16", HfCheckpoint.load(d));

        Path m = copyFixture("mosaic-mlm-sharded-bf16", tmp);
        Map<String, Tensor> all = SafetensorsReader.readSharded(m.resolve("model.safetensors.index.json"));
        all.put("cls.predictions.bias", all.remove("model.cls.predictions.decoder.bias"));
        all.put("bert.embeddings.position_ids", new Tensor(new int[] {1, 4}, new float[] {0, 1, 2, 3}));
        Files.delete(m.resolve("model.safetensors.index.json"));
        SafetensorsWriter.write(m.resolve("model.safetensors"), all, Map.of());
        BertModel b = HfCheckpoint.load(m);
        assertFalse(b.has("bert.embeddings.position_ids"));
        assertWeightsMatch("mosaic-mlm-sharded-bf16", b);
    }

    @Test
    void interruptedWriteLeavesTheOldFile(@TempDir Path tmp) throws IOException {
        Path f = tmp.resolve("config.json");
        Files.writeString(f, "old");
        assertThrows(RuntimeException.class, () -> AtomicFiles.write(f, ch -> {
            ch.write(java.nio.ByteBuffer.wrap("partial".getBytes()));
            throw new IOException("disk full");
        }));
        assertEquals("old", Files.readString(f));
        try (var files = Files.list(tmp)) {
            assertEquals(List.of("config.json"), files.map(p -> p.getFileName().toString()).toList());
        }
    }
}
