package dev.tessera.onnx;

import static dev.tessera.onnx.OnnxExporterTest.maskOf;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl;
import dev.tessera.model.BertModel;
import dev.tessera.model.Head;
import dev.tessera.model.Variant;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The {@code ort} dialect and the int8 pass on random models: graph structure, and agreement with the
 * portable graph where the fixtures cannot reach (MosaicBERT far past any training length, 12 heads,
 * ragged batches). The numbers themselves are checked against the independent reference in
 * {@link OnnxExportFixtureTest}.
 */
class OrtDialectTest {
    /**
     * ort vs portable, both float32: the same math with a different operator decomposition (fused attention
     * and LayerNorm kernels sum in other orders). Measured ≤ 1.4e-6 at 640 tokens, ≤ 3.4e-6 on MLM logits; 2e-5
     * leaves ≥ 6x.
     */
    static final double FP32_TOL = 2e-5;

    static BertModel model(Variant v, Head h) {
        return OnnxExporterTest.model(v, h);
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void graphUsesFusedContribOpsAndTheSameInterface(Variant v) throws Exception {
        BertModel m = model(v, Head.MLM);
        OnnxMl.ModelProto ort = OnnxExporter.graph(m, Dialect.ORT, Precision.FP32);
        OnnxMl.ModelProto portable = OnnxExporter.portableGraph(m);
        Map<String, Long> imports = ort.getOpsetImportList().stream()
                .collect(Collectors.toMap(OnnxMl.OperatorSetIdProto::getDomain, OnnxMl.OperatorSetIdProto::getVersion));
        assertEquals(Map.of("", 17L, "com.microsoft", 1L), imports);
        Map<String, Long> ops = opCounts(ort);
        int layers = m.config().numLayers();
        assertEquals(layers, ops.get("com.microsoft.MultiHeadAttention"));
        assertEquals(2L * layers, ops.get("com.microsoft.SkipLayerNormalization"));
        assertFalse(ops.containsKey("Softmax"), "attention is fused");
        assertEquals(v == Variant.MOSAIC_BERT ? layers : 0, ops.getOrDefault("com.microsoft.Gelu", 0L) - 1, "GeGLU gate + MLM head");
        assertEquals(v == Variant.BERT ? layers : 0, ops.getOrDefault("com.microsoft.BiasGelu", 0L));
        assertEquals(portable.getGraph().getInputList(), ort.getGraph().getInputList());
        assertEquals(portable.getGraph().getOutputList(), ort.getGraph().getOutputList());
    }

    /** MosaicBERT at 640 tokens (ALiBi has no length limit), 12 heads, ragged batch with token types. */
    @Test
    void mosaicOrtMatchesPortableFarPastTrainingLength() throws Exception {
        BertModel m = RandomBertModels.create(Variant.MOSAIC_BERT, Head.CLASSIFICATION, 3, 11,
                new RandomBertModels.Sizes(64, 48, 2, 12, 64, 32));
        int s = 640;
        long[][] ids = new long[2][s], types = new long[2][s];
        for (int t = 0; t < s; t++) {
            ids[0][t] = 1 + (t * 7) % 63;
            ids[1][t] = t < 450 ? 1 + (t * 5) % 63 : 0;
            types[0][t] = t >= 300 ? 1 : 0;
        }
        compareDialects(m, ids, maskOf(ids), types);
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void ortMatchesPortableOnARaggedBatchWithAFullyPaddedRow(Variant v) throws Exception {
        for (Head h : new Head[] {Head.CLASSIFICATION, Head.MLM}) {
            long[][] ids = {{2, 17, 33, 5, 3, 0, 0, 0, 0}, {2, 40, 41, 42, 43, 44, 45, 46, 3}, new long[9]};
            long[][] types = {{0, 0, 1, 1, 1, 0, 0, 0, 0}, new long[9], new long[9]};
            // the fully padded row (mask all 0) must stay finite; compare only the real rows
            Map<String, OrtRunner.Out> ort = compareDialects(model(v, h), ids, maskOf(ids), types);
            for (OrtRunner.Out o : ort.values()) for (float f : o.data()) assertTrue(Float.isFinite(f));
        }
    }

    /** Runs both dialects (fp32) and compares every output at real tokens; returns the ort outputs. */
    private static Map<String, OrtRunner.Out> compareDialects(BertModel m, long[][] ids, long[][] mask, long[][] types)
            throws Exception {
        Map<String, OrtRunner.Out> a, b;
        try (OrtRunner r = new OrtRunner(OnnxExporter.export(m, Dialect.PORTABLE, Precision.FP32))) { a = r.run(ids, mask, types); }
        try (OrtRunner r = new OrtRunner(OnnxExporter.export(m, Dialect.ORT, Precision.FP32))) { b = r.run(ids, mask, types); }
        double worst = 0;
        for (String name : a.keySet()) {
            float[] x = a.get(name).data(), y = b.get(name).data();
            assertEquals(x.length, y.length, name);
            long[] shape = a.get(name).shape();
            int rowLen = x.length / ids.length, inner = shape.length > 2 ? rowLen / (int) shape[1] : rowLen;
            for (int i = 0; i < x.length; i++) {
                int row = i / rowLen;
                if (!Arrays.stream(mask[row]).anyMatch(t -> t == 1)) continue; // fully padded row: finite only
                if (shape.length > 2 && mask[row][(i % rowLen) / inner] == 0) continue;
                double d = Math.abs(x[i] - y[i]);
                worst = Math.max(worst, d);
                assertTrue(d <= FP32_TOL * (1 + Math.abs(x[i])), name + "[" + i + "]: portable " + x[i] + ", ort " + y[i]);
            }
        }
        System.out.printf("ort vs portable %s %dx%d: max |Δ| %.2e%n", m.config().variant(), ids.length, ids[0].length, worst);
        return b;
    }

    @ParameterizedTest
    @EnumSource(Dialect.class)
    void int8QuantizesExactlyTheEncoderMatMuls(Dialect d) throws Exception {
        if (d == Dialect.TESSERA) return;
        for (Variant v : Variant.values()) {
            BertModel m = model(v, Head.MLM);
            OnnxMl.ModelProto fp32 = OnnxExporter.graph(m, d, Precision.FP32), int8 = OnnxExporter.graph(m, d, Precision.INT8);
            Set<String> encoderWeights = fp32.getGraph().getNodeList().stream()
                    .filter(n -> n.getOpType().equals("MatMul") && n.getInput(1).startsWith("bert.encoder.layer."))
                    .map(n -> n.getInput(1)).collect(Collectors.toSet());
            int perLayer = v == Variant.MOSAIC_BERT ? 4 : d == Dialect.ORT ? 4 : 6; // ort concatenates Q/K/V
            assertEquals(perLayer * m.config().numLayers(), encoderWeights.size(), d + " " + v);
            Set<String> inits = int8.getGraph().getInitializerList().stream().map(OnnxMl.TensorProto::getName).collect(Collectors.toSet());
            for (String w : encoderWeights) {
                assertFalse(inits.contains(w), "fp32 copy of " + w + " removed");
                assertTrue(inits.contains(w + ".int8") && inits.contains(w + ".scale"), w);
            }
            for (OnnxMl.TensorProto t : int8.getGraph().getInitializerList()) {
                if (t.getName().endsWith(".int8")) assertEquals(OnnxMl.TensorProto.DataType.INT8_VALUE, t.getDataType());
            }
            // embeddings, MLM transform and decoder stay float32
            assertTrue(inits.contains("bert.embeddings.word_embeddings.weight"));
            assertTrue(inits.contains("cls.predictions.transform.dense.weight.T"));
            assertTrue(int8.getGraph().getNodeList().stream().anyMatch(n -> n.getOpType().equals("MatMul")
                    && n.getInput(1).equals("cls.predictions.transform.dense.weight.T")));
            Map<String, Long> ops = opCounts(int8);
            if (d == Dialect.ORT) assertEquals(encoderWeights.size(), ops.get("com.microsoft.DynamicQuantizeMatMul"));
            else {
                assertEquals(encoderWeights.size(), ops.get("MatMulInteger"));
                assertTrue(ops.keySet().stream().noneMatch(o -> o.startsWith("com.microsoft")), "portable int8 stays standard");
            }
            long encoderBytes = fp32.getGraph().getInitializerList().stream().filter(t -> encoderWeights.contains(t.getName()))
                    .mapToLong(t -> t.getRawData().size()).sum();
            assertTrue(initializerBytes(int8) <= initializerBytes(fp32) - 0.7 * encoderBytes, "int8 weights take a quarter");
            // still runs, ragged batch and a fully padded row included
            long[][] ids = {{2, 17, 33, 5, 3, 0}, {2, 40, 41, 42, 43, 3}, new long[6]};
            try (OrtRunner r = new OrtRunner(int8.toByteArray())) {
                for (OrtRunner.Out o : r.run(ids, maskOf(ids), new long[3][6]).values())
                    for (float f : o.data()) assertTrue(Float.isFinite(f));
            }
        }
    }

    @Test
    void weightQuantizationIsPerColumnSymmetric() {
        // W [K=3, N=3]: column 0 small, column 1 large, column 2 zero
        float[] w = {0.01f, 10f, 0f, -0.02f, -5f, 0f, 0.005f, 2.5f, 0f};
        DynamicQuantization.QuantizedWeight q = DynamicQuantization.quantize(w, 3, 3);
        assertEquals(0.02f / 127, q.scale()[0], 1e-9);
        assertEquals(10f / 127, q.scale()[1], 1e-7);
        assertEquals(1f, q.scale()[2]);
        assertEquals(-127, q.q()[3]);
        assertEquals(127, q.q()[1]);
        for (int i = 0; i < w.length; i++) {
            double back = q.q()[i] * q.scale()[i % 3];
            assertTrue(Math.abs(back - w[i]) <= q.scale()[i % 3] / 2 + 1e-9, "element " + i);
        }
    }

    @Test
    void dialectAndPrecisionParseTheirLowerCaseNames() {
        assertEquals(Dialect.ORT, Dialect.parse("ort"));
        assertEquals(Precision.INT8, Precision.parse("int8"));
        var e = assertThrows(IllegalArgumentException.class, () -> Dialect.parse("ORT"));
        assertTrue(e.getMessage().contains("valid: portable, ort, tessera"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Precision.parse("fp16"));
        assertTrue(e.getMessage().contains("valid: fp32, int8"), e.getMessage());
    }

    private static long initializerBytes(OnnxMl.ModelProto p) {
        return p.getGraph().getInitializerList().stream().mapToLong(t -> t.getRawData().size()).sum();
    }

    private static Map<String, Long> opCounts(OnnxMl.ModelProto p) {
        Map<String, Long> ops = new HashMap<>();
        for (OnnxMl.NodeProto n : p.getGraph().getNodeList())
            ops.merge((n.getDomain().isEmpty() ? "" : n.getDomain() + ".") + n.getOpType(), 1L, Long::sum);
        return ops;
    }
}
