package dev.tessera.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl;
import dev.tessera.model.BertModel;
import dev.tessera.model.Head;
import dev.tessera.model.ModelConfig;
import dev.tessera.model.Variant;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Properties of the portable export on small random models that hold whatever the weights are. The numbers
 * themselves are checked against an independent torch implementation in {@link OnnxExportFixtureTest}.
 */
class OnnxExporterTest {
    /** Same float32 computation with a different batch layout: only summation order differs. */
    static final double LAYOUT_TOL = 2e-5;

    static final Set<String> STANDARD_OPS = Set.of("Cast", "Shape", "Gather", "Range", "Add", "Sub", "Mul", "Div",
            "Abs", "Unsqueeze", "MatMul", "Reshape", "Transpose", "Softmax", "LayerNormalization", "Split", "Erf",
            "Tanh", "Relu", "ReduceSum", "Max", "Identity", "Gemm", "Slice", "Concat");

    static Stream<Arguments> variantsAndHeads() {
        return Stream.of(Variant.values()).flatMap(v -> Stream.of(Head.values()).map(h -> Arguments.of(v, h)));
    }

    static BertModel model(Variant v, Head h) {
        return RandomBertModels.create(v, h, h == Head.REGRESSION ? 1 : 3, 42);
    }

    @ParameterizedTest
    @MethodSource("variantsAndHeads")
    void graphUsesOnlyStandardOpset17AndDynamicShapes(Variant v, Head h) throws Exception {
        OnnxMl.ModelProto p = OnnxMl.ModelProto.parseFrom(OnnxExporter.exportPortable(model(v, h)));
        assertEquals(1, p.getOpsetImportCount());
        assertEquals("", p.getOpsetImport(0).getDomain());
        assertEquals(17, p.getOpsetImport(0).getVersion());
        for (OnnxMl.NodeProto n : p.getGraph().getNodeList()) {
            assertEquals("", n.getDomain(), n.getName());
            assertTrue(STANDARD_OPS.contains(n.getOpType()), n.getOpType());
        }
        List<String> inputs = p.getGraph().getInputList().stream().map(OnnxMl.ValueInfoProto::getName).toList();
        assertEquals(List.of("input_ids", "attention_mask", "token_type_ids"), inputs);
        for (OnnxMl.ValueInfoProto in : p.getGraph().getInputList()) {
            var dims = in.getType().getTensorType().getShape().getDimList();
            assertEquals("batch", dims.get(0).getDimParam());
            assertEquals("sequence", dims.get(1).getDimParam());
            assertEquals(OnnxMl.TensorProto.DataType.INT64_VALUE, in.getType().getTensorType().getElemType());
        }
        List<String> outputs = p.getGraph().getOutputList().stream().map(OnnxMl.ValueInfoProto::getName).toList();
        List<String> expected = h == Head.NONE ? List.of("last_hidden_state", "sentence_embedding")
                : List.of("last_hidden_state", "sentence_embedding", "logits");
        assertEquals(expected, outputs);
        boolean hasPositions = p.getGraph().getInitializerList().stream()
                .anyMatch(t -> t.getName().contains("position_embeddings"));
        assertEquals(v == Variant.BERT, hasPositions, "only classic BERT has learned positions");
    }

    @ParameterizedTest
    @MethodSource("variantsAndHeads")
    void outputShapesFollowTheHead(Variant v, Head h) throws Exception {
        try (OrtRunner ort = new OrtRunner(OnnxExporter.exportPortable(model(v, h)))) {
            long[][] ids = {{2, 5, 9, 3, 0, 0, 0}, {2, 7, 8, 11, 12, 13, 3}};
            Map<String, OrtRunner.Out> out = ort.run(ids, maskOf(ids), new long[2][7]);
            assertArrayEquals(new long[] {2, 7, RandomBertModels.HIDDEN}, out.get("last_hidden_state").shape());
            assertArrayEquals(new long[] {2, RandomBertModels.HIDDEN}, out.get("sentence_embedding").shape());
            switch (h) {
                case CLASSIFICATION -> assertArrayEquals(new long[] {2, 3}, out.get("logits").shape());
                case REGRESSION -> assertArrayEquals(new long[] {2, 1}, out.get("logits").shape());
                case MLM -> assertArrayEquals(new long[] {2, 7, RandomBertModels.VOCAB}, out.get("logits").shape());
                case NONE -> assertFalse(out.containsKey("logits"));
            }
        }
    }

    /** Padding a sequence into a longer batch must not change any of its outputs at real tokens. */
    @ParameterizedTest
    @EnumSource(Variant.class)
    void paddingDoesNotChangeRealTokens(Variant v) throws Exception {
        for (Head h : new Head[] {Head.CLASSIFICATION, Head.MLM}) {
            try (OrtRunner ort = new OrtRunner(OnnxExporter.exportPortable(model(v, h)))) {
                long[][] alone = {{2, 17, 33, 5, 3}};
                long[][] aloneTypes = {{0, 0, 1, 1, 1}};
                long[][] batch = {{2, 17, 33, 5, 3, 0, 0, 0, 0}, {2, 40, 41, 42, 43, 44, 45, 46, 3}};
                long[][] batchTypes = {{0, 0, 1, 1, 1, 0, 0, 0, 0}, new long[9]};
                Map<String, OrtRunner.Out> a = ort.run(alone, maskOf(alone), aloneTypes);
                Map<String, OrtRunner.Out> b = ort.run(batch, maskOf(batch), batchTypes);
                int hid = RandomBertModels.HIDDEN;
                assertClose(a.get("last_hidden_state").data(), 0, b.get("last_hidden_state").data(), 0, 5 * hid, "hidden " + v);
                assertClose(a.get("sentence_embedding").data(), 0, b.get("sentence_embedding").data(), 0, hid, "embedding " + v);
                int width = h == Head.MLM ? 5 * RandomBertModels.VOCAB : 3;
                assertClose(a.get("logits").data(), 0, b.get("logits").data(), 0, width, "logits " + v + " " + h);
            }
        }
    }

    /** sentence_embedding is the attention-masked mean of last_hidden_state. */
    @ParameterizedTest
    @EnumSource(Variant.class)
    void sentenceEmbeddingIsMaskedMean(Variant v) throws Exception {
        try (OrtRunner ort = new OrtRunner(OnnxExporter.exportPortable(model(v, Head.NONE)))) {
            long[][] ids = {{2, 5, 9, 3, 0, 0}, {2, 7, 8, 11, 12, 3}};
            long[][] mask = maskOf(ids);
            Map<String, OrtRunner.Out> out = ort.run(ids, mask, new long[2][6]);
            float[] h = out.get("last_hidden_state").data(), e = out.get("sentence_embedding").data();
            int hid = RandomBertModels.HIDDEN;
            for (int b = 0; b < 2; b++) {
                double n = 0;
                double[] sum = new double[hid];
                for (int s = 0; s < 6; s++) {
                    if (mask[b][s] == 0) continue;
                    n++;
                    for (int k = 0; k < hid; k++) sum[k] += h[(b * 6 + s) * hid + k];
                }
                for (int k = 0; k < hid; k++) assertEquals(sum[k] / n, e[b * hid + k], 1e-5);
            }
        }
    }

    /**
     * MosaicBERT has no positions but a symmetric ALiBi bias: reversing the tokens reverses the outputs.
     * Classic BERT's learned positions break that symmetry. Also checks the bias is really applied
     * (a bare, position-free encoder would give the same vector at two equal tokens).
     */
    @Test
    void mosaicIsReversalEquivariantAndPositionAware() throws Exception {
        int hid = RandomBertModels.HIDDEN;
        try (OrtRunner ort = new OrtRunner(OnnxExporter.exportPortable(model(Variant.MOSAIC_BERT, Head.NONE)))) {
            long[][] ids = {{9, 4, 4, 21, 30, 12}};
            long[][] rev = {{12, 30, 21, 4, 4, 9}};
            long[][] ones = {{1, 1, 1, 1, 1, 1}};
            float[] h = ort.run(ids, ones, new long[1][6]).get("last_hidden_state").data();
            float[] hr = ort.run(rev, ones, new long[1][6]).get("last_hidden_state").data();
            for (int s = 0; s < 6; s++) assertClose(h, s * hid, hr, (5 - s) * hid, hid, "reversed position " + s);
            double diff = 0;
            for (int k = 0; k < hid; k++) diff = Math.max(diff, Math.abs(h[hid + k] - h[2 * hid + k]));
            assertTrue(diff > 1e-3, "equal tokens at positions 1 and 2 must differ under ALiBi, diff " + diff);
        }
    }

    /** ALiBi has no length limit: a MosaicBERT export runs far past any training length. */
    @Test
    void mosaicRunsAtAnyLength() throws Exception {
        try (OrtRunner ort = new OrtRunner(OnnxExporter.exportPortable(model(Variant.MOSAIC_BERT, Head.CLASSIFICATION)))) {
            int s = 700;
            long[][] ids = new long[1][s];
            for (int i = 0; i < s; i++) ids[0][i] = 1 + (i * 7) % (RandomBertModels.VOCAB - 1);
            Map<String, OrtRunner.Out> out = ort.run(ids, maskOf(ids), new long[1][s]);
            for (float f : out.get("last_hidden_state").data()) assertTrue(Float.isFinite(f));
        }
    }

    /** A row with no real token (all mask 0) must not poison the batch with NaN. */
    @ParameterizedTest
    @EnumSource(Variant.class)
    void fullyPaddedRowStaysFinite(Variant v) throws Exception {
        try (OrtRunner ort = new OrtRunner(OnnxExporter.exportPortable(model(v, Head.CLASSIFICATION)))) {
            long[][] ids = {{2, 5, 9, 3}, {0, 0, 0, 0}};
            Map<String, OrtRunner.Out> out = ort.run(ids, new long[][] {{1, 1, 1, 1}, {0, 0, 0, 0}}, new long[2][4]);
            for (String name : List.of("last_hidden_state", "sentence_embedding", "logits"))
                for (float f : out.get(name).data()) assertTrue(Float.isFinite(f), name);
        }
    }

    @Test
    void mosaicZeroesPaddedPositionsLikeTheReference() throws Exception {
        try (OrtRunner ort = new OrtRunner(OnnxExporter.exportPortable(model(Variant.MOSAIC_BERT, Head.NONE)))) {
            long[][] ids = {{2, 5, 9, 0, 0}};
            float[] h = ort.run(ids, maskOf(ids), new long[1][5]).get("last_hidden_state").data();
            for (int k = 3 * RandomBertModels.HIDDEN; k < h.length; k++) assertEquals(0.0, h[k], 0.0);
        }
    }

    /** A tied decoder shares the word-embedding initializer; an untied one is exported and used. */
    @Test
    void tiedDecoderIsStoredOnce() throws Exception {
        BertModel tied = model(Variant.MOSAIC_BERT, Head.MLM);
        Map<String, dev.tessera.model.Tensor> w = new HashMap<>(tied.weights());
        w.put("cls.predictions.decoder.weight",
                RandomBertModels.rand(new java.util.Random(1), 0.5f, RandomBertModels.VOCAB, RandomBertModels.HIDDEN));
        BertModel untied = new BertModel(tied.config(), w);
        OnnxMl.ModelProto pt = OnnxExporter.portableGraph(tied), pu = OnnxExporter.portableGraph(untied);
        assertFalse(pt.getGraph().getInitializerList().stream().anyMatch(t -> t.getName().equals("cls.predictions.decoder.weight")));
        assertTrue(pu.getGraph().getInitializerList().stream().anyMatch(t -> t.getName().equals("cls.predictions.decoder.weight")));
        long[][] ids = {{2, 5, 9, 3}};
        float[] lt, lu;
        try (OrtRunner ort = new OrtRunner(pt.toByteArray())) { lt = ort.run(ids, maskOf(ids), new long[1][4]).get("logits").data(); }
        try (OrtRunner ort = new OrtRunner(pu.toByteArray())) { lu = ort.run(ids, maskOf(ids), new long[1][4]).get("logits").data(); }
        double diff = 0;
        for (int i = 0; i < lt.length; i++) diff = Math.max(diff, Math.abs(lt[i] - lu[i]));
        assertTrue(diff > 0.1, "untied decoder weight must be used, diff " + diff);
    }

    @Test
    void writeIsAtomicAndLoadable(@TempDir Path dir) throws Exception {
        BertModel m = model(Variant.BERT, Head.CLASSIFICATION);
        Path out = dir.resolve("sub/model.onnx");
        Files.createDirectories(out.getParent());
        Files.writeString(out, "old content");
        OnnxExporter.write(m, out);
        assertArrayEquals(OnnxExporter.exportPortable(m), Files.readAllBytes(out));
        try (Stream<Path> files = Files.list(out.getParent())) {
            assertEquals(List.of(out), files.toList(), "no temp file left behind");
        }
        try (OrtRunner ort = new OrtRunner(out.toString())) {
            assertEquals(3, ort.session().getInputNames().size());
        }
    }

    @Test
    void badModelsGiveClearErrors() {
        BertModel m = model(Variant.BERT, Head.CLASSIFICATION);
        ModelConfig c = m.config();
        BertModel silu = new BertModel(new ModelConfig(c.variant(), c.head(), c.vocabSize(), c.hiddenSize(), c.numLayers(),
                c.numHeads(), c.intermediateSize(), c.typeVocabSize(), c.maxPositionEmbeddings(), c.layerNormEps(),
                c.padTokenId(), c.labels(), c.problemType(), "mish", c.classifierPooling()), m.weights());
        var e = assertThrows(IllegalArgumentException.class, () -> OnnxExporter.exportPortable(silu));
        assertTrue(e.getMessage().contains("mish"), e.getMessage());

        Map<String, dev.tessera.model.Tensor> w = new HashMap<>(m.weights());
        w.remove("bert.encoder.layer.1.attention.self.key.weight");
        e = assertThrows(IllegalArgumentException.class, () -> OnnxExporter.exportPortable(new BertModel(c, w)));
        assertTrue(e.getMessage().contains("bert.encoder.layer.1.attention.self.key.weight"), e.getMessage());
    }

    static long[][] maskOf(long[][] ids) {
        long[][] m = new long[ids.length][];
        for (int b = 0; b < ids.length; b++) {
            m[b] = new long[ids[b].length];
            for (int s = 0; s < ids[b].length; s++) m[b][s] = ids[b][s] != 0 ? 1 : 0;
        }
        return m;
    }

    static void assertClose(float[] a, int aOff, float[] b, int bOff, int n, String what) {
        for (int i = 0; i < n; i++) {
            double d = Math.abs(a[aOff + i] - b[bOff + i]);
            assertTrue(d <= LAYOUT_TOL * (1 + Math.abs(a[aOff + i])),
                    what + " [" + i + "]: " + a[aOff + i] + " vs " + b[bOff + i]);
        }
    }
}
