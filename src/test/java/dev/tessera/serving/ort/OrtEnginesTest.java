package dev.tessera.serving.ort;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.hf.HfCheckpoint;
import dev.tessera.model.BertModel;
import dev.tessera.onnx.Dialect;
import dev.tessera.onnx.Precision;
import dev.tessera.serving.Batch;
import dev.tessera.serving.Device;
import dev.tessera.serving.Engine;
import dev.tessera.serving.Output;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

/**
 * Each engine, given a packed {@link Batch} of the fixtures' unpadded sequences, returns the logits and
 * embeddings that the independent torch forward of make_fixtures.py computed (tolerance as in
 * OnnxExportFixtureTest: 2e-5 absolute + 2e-5 relative, float32 through two layers).
 */
class OrtEnginesTest {
    private static final Path FIXTURES = Path.of("src/test/resources/fixtures");

    private static Opts opts(Dialect d) { return new Opts(Optional.ofNullable(d), Precision.FP32, Device.CPU, 1); }

    private record Opts(Optional<Dialect> dialect, Precision precision, Device device, int threads) {
        OrtEngines.Options options() { return new OrtEngines.Options(dialect, precision, device, threads); }
    }

    @ParameterizedTest
    @EnumSource(value = Dialect.class)
    void everyDialectMatchesTheTorchReference(Dialect dialect) throws Exception {
        for (String fixture : List.of("mosaic-cls12", "bert-cls-f16")) {
            BertModel model = HfCheckpoint.load(FIXTURES.resolve(fixture));
            JsonNode expected = new ObjectMapper().readTree(Files.readAllBytes(FIXTURES.resolve(fixture).resolve("expected.json")));
            try (Engine engine = OrtEngines.open(fixture, model, opts(dialect).options())) {
                assertEquals(dialect.id(), engine.description().dialect());
                assertEquals(dialect == Dialect.TESSERA, engine.packed());
                for (JsonNode c : expected.get("cases")) {
                    List<long[]> ids = new ArrayList<>(), types = new ArrayList<>();
                    for (int b = 0; b < c.get("input_ids").size(); b++) {
                        int len = 0;
                        for (JsonNode m : c.get("attention_mask").get(b)) len += m.asInt();
                        long[] id = new long[len], ty = new long[len];
                        for (int j = 0; j < len; j++) {
                            id[j] = c.get("input_ids").get(b).get(j).asLong();
                            ty[j] = c.get("token_type_ids").get(b).get(j).asLong();
                        }
                        ids.add(id);
                        types.add(ty);
                    }
                    Engine.Result r = engine.run(Batch.pack(ids, types, EnumSet.of(Output.LOGITS, Output.EMBEDDING)));
                    for (int b = 0; b < ids.size(); b++) {
                        close(fixture + " " + c.get("name").asText() + " logits", r.logits()[b], c.get("logits").get(b));
                        close(fixture + " embedding", r.embeddings()[b], c.get("sentence_embedding").get(b));
                    }
                }
            }
        }
    }

    private static void close(String what, float[] actual, JsonNode expected) {
        assertEquals(expected.size(), actual.length, what);
        for (int i = 0; i < actual.length; i++) {
            double e = expected.get(i).asDouble(), d = Math.abs(actual[i] - e);
            assertTrue(d <= 2e-5 + 2e-5 * Math.abs(e), what + "[" + i + "]: got " + actual[i] + ", expected " + e);
        }
    }

    @Test
    void autoServesTheFastestDialectThatLoads() throws Exception {
        BertModel model = HfCheckpoint.load(FIXTURES.resolve("mosaic-cls12"));
        try (Engine engine = OrtEngines.open("m", model, opts(null).options())) {
            assertEquals(OrtEngines.AUTO_ORDER.getFirst().id(), engine.description().dialect());
            assertNull(engine.description().note());
        }
    }

    @Test
    void cudaOnABuildWithoutItServesOnTheCpuAndSaysWhy() throws Exception {
        BertModel model = HfCheckpoint.load(FIXTURES.resolve("mosaic-cls12"));
        var options = new OrtEngines.Options(Optional.of(Dialect.PORTABLE), Precision.FP32, Device.CUDA, 1);
        try (Engine engine = OrtEngines.open("m", model, options)) {
            assertEquals("cpu", engine.description().device());
            assertTrue(engine.description().note().contains("CUDA execution provider cannot start"), engine.description().note());
            assertFalse(engine.packed());
        }
    }

    @Test
    void anExplicitDialectThatCannotServeIsAClearErrorAndAutoSaysWhatItSkipped() throws Exception {
        BertModel m = HfCheckpoint.load(FIXTURES.resolve("bert-cls-f16"));
        var c = m.config();
        BertModel mish = new BertModel(new dev.tessera.model.ModelConfig(c.variant(), c.head(), c.vocabSize(), c.hiddenSize(),
                c.numLayers(), c.numHeads(), c.intermediateSize(), c.typeVocabSize(), c.maxPositionEmbeddings(),
                c.layerNormEps(), c.padTokenId(), c.labels(), c.problemType(), "mish", c.classifierPooling()), m.weights());
        var e = assertThrows(IllegalArgumentException.class, () -> OrtEngines.open("m", mish, opts(Dialect.ORT).options()));
        assertTrue(e.getMessage().contains("dialect ort/fp32 cannot serve this model") && e.getMessage().contains("mish"),
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> OrtEngines.open("m", mish, opts(null).options()));
        for (Dialect d : Dialect.values()) assertTrue(e.getMessage().contains(d.id() + ": "), e.getMessage());
    }
}
