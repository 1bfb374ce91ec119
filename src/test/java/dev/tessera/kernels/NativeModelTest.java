package dev.tessera.kernels;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.data.Batch;
import dev.tessera.model.ClassifierPooling;
import dev.tessera.model.BertModel;
import dev.tessera.model.Head;
import dev.tessera.model.ModelConfig;
import dev.tessera.model.Tensor;
import dev.tessera.model.Variant;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * FFM bindings of libtessera: parameters round-trip to and from the HF tensor names of the serving
 * path, a forward through the bindings reproduces the torch fixture, and bad input becomes a
 * {@link NativeException} with the library's status, never a crash.
 */
class NativeModelTest {

    private static ModelConfig config(Variant v, Head h, List<String> labels) {
        return new ModelConfig(v, h, 64, 32, 2, 4, 40, 2, v == Variant.BERT ? 16 : 128, 1e-12, 0, labels, null, "gelu",
                ClassifierPooling.CLS);
    }

    /** The serving-path names of a checkpoint, written out here independently of the native table. */
    private static Map<String, int[]> hfNames(ModelConfig c) {
        int H = c.hiddenSize(), I = c.intermediateSize(), V = c.vocabSize();
        Map<String, int[]> m = new LinkedHashMap<>();
        m.put("bert.embeddings.word_embeddings.weight", new int[] {V, H});
        m.put("bert.embeddings.token_type_embeddings.weight", new int[] {2, H});
        if (c.variant() == Variant.BERT) m.put("bert.embeddings.position_embeddings.weight", new int[] {c.maxPositionEmbeddings(), H});
        m.put("bert.embeddings.LayerNorm.weight", new int[] {H});
        m.put("bert.embeddings.LayerNorm.bias", new int[] {H});
        for (int l = 0; l < c.numLayers(); l++) {
            String p = BertModel.layer(l);
            if (c.variant() == Variant.MOSAIC_BERT) {
                m.put(p + "attention.self.Wqkv.weight", new int[] {3 * H, H});
                m.put(p + "attention.self.Wqkv.bias", new int[] {3 * H});
                m.put(p + "mlp.gated_layers.weight", new int[] {2 * I, H});
                m.put(p + "mlp.wo.weight", new int[] {H, I});
                m.put(p + "mlp.wo.bias", new int[] {H});
                m.put(p + "mlp.layernorm.weight", new int[] {H});
                m.put(p + "mlp.layernorm.bias", new int[] {H});
            } else {
                for (String n : new String[] {"query", "key", "value"}) {
                    m.put(p + "attention.self." + n + ".weight", new int[] {H, H});
                    m.put(p + "attention.self." + n + ".bias", new int[] {H});
                }
                m.put(p + "intermediate.dense.weight", new int[] {I, H});
                m.put(p + "intermediate.dense.bias", new int[] {I});
                m.put(p + "output.dense.weight", new int[] {H, I});
                m.put(p + "output.dense.bias", new int[] {H});
                m.put(p + "output.LayerNorm.weight", new int[] {H});
                m.put(p + "output.LayerNorm.bias", new int[] {H});
            }
            m.put(p + "attention.output.dense.weight", new int[] {H, H});
            m.put(p + "attention.output.dense.bias", new int[] {H});
            m.put(p + "attention.output.LayerNorm.weight", new int[] {H});
            m.put(p + "attention.output.LayerNorm.bias", new int[] {H});
        }
        switch (c.head()) {
            case CLASSIFICATION, REGRESSION -> {
                m.put("bert.pooler.dense.weight", new int[] {H, H});
                m.put("bert.pooler.dense.bias", new int[] {H});
                m.put("classifier.weight", new int[] {c.isRegression() ? 1 : c.numLabels(), H});
                m.put("classifier.bias", new int[] {c.isRegression() ? 1 : c.numLabels()});
            }
            case MLM -> {
                m.put("cls.predictions.transform.dense.weight", new int[] {H, H});
                m.put("cls.predictions.transform.dense.bias", new int[] {H});
                m.put("cls.predictions.transform.LayerNorm.weight", new int[] {H});
                m.put("cls.predictions.transform.LayerNorm.bias", new int[] {H});
                m.put("cls.predictions.decoder.bias", new int[] {V});
            }
            default -> { }
        }
        return m;
    }

    private static BertModel randomModel(ModelConfig c, long seed) {
        Random r = new Random(seed);
        Map<String, Tensor> w = new LinkedHashMap<>();
        hfNames(c).forEach((name, shape) -> {
            Tensor t = Tensor.zeros(shape);
            for (int i = 0; i < t.data().length; i++) t.data()[i] = (float) (r.nextGaussian() * 0.1);
            w.put(name, t);
        });
        return new BertModel(c, w);
    }

    @Test
    void enumOrdinalsMatchTheHeader() {
        // tessera.h: TSR_VARIANT_MOSAIC_BERT=0, BERT=1; TSR_HEAD_NONE=0, CLASSIFICATION=1, REGRESSION=2, MLM=3;
        assertEquals(0, Variant.MOSAIC_BERT.ordinal());
        assertEquals(1, Variant.BERT.ordinal());
        assertEquals(List.of(Head.NONE, Head.CLASSIFICATION, Head.REGRESSION, Head.MLM), List.of(Head.values()));
        // TSR_POOLING_CLS=0, MEAN=1
        assertEquals(List.of(ClassifierPooling.CLS, ClassifierPooling.MEAN), List.of(ClassifierPooling.values()));
        assertEquals(1, NativeLibrary.get().apiVersion());
    }

    @Test
    void parametersRoundTripUnderServingNames() {
        List<ModelConfig> configs = List.of(
                config(Variant.MOSAIC_BERT, Head.MLM, List.of()),
                config(Variant.BERT, Head.CLASSIFICATION, List.of("neg", "neu", "pos")),
                config(Variant.MOSAIC_BERT, Head.REGRESSION, List.of("score")),
                config(Variant.BERT, Head.NONE, List.of()));
        long seed = 1;
        for (ModelConfig c : configs) {
            BertModel original = randomModel(c, seed++);
            try (NativeModel nm = NativeModel.fromBertModel(original, 0.1f, 0.0f, 64, 8, NativeLibrary.Backend.CPU)) {
                Map<String, int[]> expected = hfNames(c);
                assertEquals(new TreeSet<>(expected.keySet()), new TreeSet<>(nm.weights().keySet()), c.variant() + "/" + c.head());
                long total = 0;
                for (NativeModel.TensorInfo t : nm.tensors()) {
                    assertArrayEquals(expected.get(t.name()), t.shape(), t.name());
                    total += t.numel();
                }
                assertEquals(total, nm.numParams());
                BertModel back = nm.toBertModel(c);
                for (var e : original.weights().entrySet())
                    assertArrayEquals(e.getValue().data(), back.weight(e.getKey()).data(), e.getKey());
                if (c.head() == Head.MLM) // tied decoder: served from the word embeddings
                    assertArrayEquals(original.weight("bert.embeddings.word_embeddings.weight").data(), back.decoderWeight().data());
            }
        }
    }

    @Test
    void forwardThroughBindingsMatchesTorchFixture() throws IOException {
        Path dir = Path.of("cuda-ext/tests/fixtures/mosaic_mlm");
        JsonNode js = new ObjectMapper().readTree(dir.resolve("case.json").toFile());
        JsonNode c = js.get("config");
        NativeConfig nc = new NativeConfig(Variant.MOSAIC_BERT, Head.MLM, c.get("vocab_size").asInt(), c.get("hidden_size").asInt(),
                c.get("num_layers").asInt(), c.get("num_heads").asInt(), c.get("intermediate_size").asInt(),
                c.get("type_vocab_size").asInt(), 0, 0, (float) c.get("layer_norm_eps").asDouble(), 0f, 0f, 64, 8, 0,
                ClassifierPooling.CLS);
        JsonNode b = js.get("batch");
        Batch batch = Batch.of(ints(b.get("input_ids")), ints(b.get("token_type_ids")), ints(b.get("cu_seqlens")),
                ints(b.get("mlm_labels")), null, null);
        try (NativeModel m = NativeModel.create(nc, NativeLibrary.Backend.CPU)) {
            float[] params = floats(dir.resolve("params.bin"));
            assertEquals(m.numParams(), params.length);
            m.write(NativeModel.Buffer.PARAMS, 0, params);
            float[][] logits = new float[1][];
            float loss = m.forward(batch, 1, 1, true, logits);
            double ref = js.get("loss").asDouble();
            // tolerance as in cuda-ext/tests/test_model.c: fp32 vs the float64 reference
            assertEquals(ref, loss, 2e-5 * Math.max(1, Math.abs(ref)));
            float[] refLogits = floats(dir.resolve("logits.bin"));
            assertEquals(refLogits.length, logits[0].length);
            for (int i = 0; i < refLogits.length; i++) assertEquals(refLogits[i], logits[0][i], 1e-4 * 10, "logit " + i);
            m.zeroGrad();
            m.backward(1f);
            float norm = m.clipGradNorm(1f);
            assertEquals(js.get("grad_norms").get(0).asDouble(), norm, 1e-4 * norm);
            m.adamwStep(1e-2f, 1e-2f, 0.9f, 0.98f, 1e-6f, 0.05f, 1);
            m.checkFinite(NativeModel.Buffer.PARAMS);
        }
    }

    /**
     * bf16 mixed precision through the bindings on the torch fixture: per gradient tensor, relative L2
     * distance to the float64-checked fp32 reference <= 6e-2 (the bf16 tolerance derived in
     * cuda-ext/tests/test_model.c: 8-bit significands, 10 rounded products deep), loss within 1e-2;
     * on a CPU without AVX512-BF16 the step must equal fp32's exactly.
     */
    @Test
    void bf16PrecisionStepMatchesTorchFixtureWithinBf16Bounds() throws IOException {
        Path dir = Path.of("cuda-ext/tests/fixtures/mosaic_mlm");
        JsonNode js = new ObjectMapper().readTree(dir.resolve("case.json").toFile());
        JsonNode c = js.get("config");
        NativeConfig nc = new NativeConfig(Variant.MOSAIC_BERT, Head.MLM, c.get("vocab_size").asInt(), c.get("hidden_size").asInt(),
                c.get("num_layers").asInt(), c.get("num_heads").asInt(), c.get("intermediate_size").asInt(),
                c.get("type_vocab_size").asInt(), 0, 0, (float) c.get("layer_norm_eps").asDouble(), 0f, 0f, 64, 8, 0,
                ClassifierPooling.CLS);
        JsonNode b = js.get("batch");
        Batch batch = Batch.of(ints(b.get("input_ids")), ints(b.get("token_type_ids")), ints(b.get("cu_seqlens")),
                ints(b.get("mlm_labels")), null, null);
        float[] params = floats(dir.resolve("params.bin"));
        float[] refGrads = floats(dir.resolve("grads.bin"));
        float[][] grads = new float[2][];
        float[] losses = new float[2];
        List<NativeModel.TensorInfo> tensors = null;
        for (NativeModel.Precision p : NativeModel.Precision.values()) {
            try (NativeModel m = NativeModel.create(nc, NativeLibrary.Backend.CPU)) {
                assertEquals(NativeModel.Precision.FP32, m.precision());
                m.setPrecision(p);
                assertEquals(p, m.precision());
                m.write(NativeModel.Buffer.PARAMS, 0, params);
                m.zeroGrad();
                losses[p.ordinal()] = m.forward(batch, 1, 1, true);
                m.backward(1f);
                grads[p.ordinal()] = m.read(NativeModel.Buffer.GRADS);
                tensors = m.tensors();
            }
        }
        if (!NativeLibrary.get().cpuBf16()) {
            assertEquals(losses[0], losses[1]);
            assertArrayEquals(grads[0], grads[1]);
            return;
        }
        double ref = js.get("loss").asDouble();
        assertEquals(ref, losses[1], 1e-2 * Math.max(1, Math.abs(ref)));
        boolean differs = false;
        for (NativeModel.TensorInfo t : tensors) {
            double d2 = 0, r2 = 0;
            for (long i = t.offset(); i < t.offset() + t.numel(); i++) {
                double d = grads[1][(int) i] - refGrads[(int) i];
                d2 += d * d;
                r2 += (double) refGrads[(int) i] * refGrads[(int) i];
                differs |= grads[1][(int) i] != grads[0][(int) i];
            }
            assertTrue(Math.sqrt(d2) <= 6e-2 * Math.sqrt(r2) + 1e-6,
                    t.name() + ": bf16 gradient rel L2 " + Math.sqrt(d2 / Math.max(r2, 1e-30)));
        }
        assertTrue(differs, "bf16 gradients equal fp32's: the bf16 kernels did not run");
        assertThrows(IllegalArgumentException.class, () -> NativeModel.Precision.parse("fp16"));
    }

    /**
     * Soft targets through the bindings (tsr_batch.soft_targets, distill_alpha, distill_temperature): the loss is the
     * mean over all rows of (1-a)·CE + a·T²·KL, computed here in double from the logits the same forward returns (an
     * unlabelled row, -1, has the soft term only); the classifier bias gradient is the mean of the rows' (1-a)(p - y) +
     * a·T·(r - q). Alpha 0 is the plain loss to the bit; mis-sized soft targets are refused before the library sees them.
     */
    @Test
    void softTargetsReachTheNativeLoss() {
        ModelConfig c = config(Variant.MOSAIC_BERT, Head.CLASSIFICATION, List.of("a", "b", "c"));
        int[] ids = {2, 5, 9, 3, 7, 7, 1, 4, 11, 6, 8}, cu = Batch.cuSeqlens(4, 3, 4), labels = {2, -1, 0}, plainLabels = {2, 1, 0};
        float[] q = {0.2f, 0.3f, 0.5f, 0.6f, 0.3f, 0.1f, 0.1f, 0.1f, 0.8f};
        double a = 0.4, t = 3.0;
        try (NativeModel nm = NativeModel.fromBertModel(randomModel(c, 5), 0f, 0f, 32, 4, NativeLibrary.Backend.CPU)) {
            Batch plain = Batch.of(ids, null, cu, null, plainLabels, null);
            Batch soft = Batch.of(ids, null, cu, null, labels, null).withDistillation(new Batch.Distillation(q, (float) a, (float) t));
            float[][] out = new float[1][];
            nm.zeroGrad();
            float loss = nm.forward(soft, 1, 1, true, out);
            nm.backward(1f);
            float[] z = out[0];
            double ref = 0;
            double[] dbias = new double[3];
            for (int s = 0; s < 3; s++) {
                double mx = Double.NEGATIVE_INFINITY, sum = 0, sumT = 0;
                for (int j = 0; j < 3; j++) mx = Math.max(mx, z[3 * s + j]);
                for (int j = 0; j < 3; j++) {
                    sum += Math.exp(z[3 * s + j] - mx);
                    sumT += Math.exp((z[3 * s + j] - mx) / t);
                }
                for (int j = 0; j < 3; j++) {
                    double p = Math.exp(z[3 * s + j] - mx) / sum, r = Math.exp((z[3 * s + j] - mx) / t) / sumT;
                    ref += a * t * t * q[3 * s + j] * Math.log(q[3 * s + j] / r);
                    if (labels[s] == j) ref -= (1 - a) * Math.log(p);
                    dbias[j] += (a * t * (r - q[3 * s + j]) + (labels[s] >= 0 ? (1 - a) * (p - (labels[s] == j ? 1 : 0)) : 0)) / 3;
                }
            }
            assertEquals(ref / 3, loss, 1e-5 * Math.max(1, Math.abs(ref / 3)));
            NativeModel.TensorInfo bias = nm.tensors().stream().filter(x -> x.name().equals("classifier.bias")).findFirst().orElseThrow();
            float[] g = new float[3];
            nm.read(NativeModel.Buffer.GRADS, bias.offset(), g);
            for (int j = 0; j < 3; j++) assertEquals(dbias[j], g[j], 1e-6, "classifier.bias gradient " + j);

            Batch zero = Batch.of(ids, null, cu, null, plainLabels, null).withDistillation(new Batch.Distillation(q, 0f, 2f));
            assertEquals(nm.forward(plain, 1, 1, false), nm.forward(zero, 1, 1, false), 0f, "alpha 0 is cross-entropy");
            Batch wrong = Batch.of(ids, null, cu, null, labels, null).withDistillation(new Batch.Distillation(new float[6], 0.5f, 2f));
            assertThrows(IllegalArgumentException.class, () -> nm.forward(wrong, 1, 1, false));
            NativeException range = assertThrows(NativeException.class, () -> nm.forward(Batch.of(ids, null, cu, null, labels, null), 1, 1, false));
            assertEquals(NativeException.LABEL_RANGE, range.status(), "a -1 label without soft targets");
        }
    }

    @Test
    void badInputIsAnExceptionWithTheLibraryStatus() {
        ModelConfig c = config(Variant.MOSAIC_BERT, Head.CLASSIFICATION, List.of("a", "b"));
        try (NativeModel m = NativeModel.fromBertModel(randomModel(c, 9), 0.1f, 0.1f, 16, 4, NativeLibrary.Backend.CPU)) {
            int[] ids = new int[12];
            Batch ok = Batch.of(ids, null, Batch.cuSeqlens(5, 7), null, new int[] {0, 1}, null);
            float loss = m.forward(ok, 1, 1, true);
            assertTrue(Float.isFinite(loss) && loss > 0);
            m.backward(1f);

            NativeException e = assertThrows(NativeException.class,
                    () -> m.forward(Batch.of(new int[20], null, Batch.cuSeqlens(10, 10), null, new int[] {0, 1}, null), 1, 1, true));
            assertEquals(NativeException.BUDGET, e.status());
            assertTrue(e.getMessage().contains("token budget"), e.getMessage());

            int[] badIds = new int[12];
            badIds[4] = 64;
            e = assertThrows(NativeException.class,
                    () -> m.forward(Batch.of(badIds, null, Batch.cuSeqlens(5, 7), null, new int[] {0, 1}, null), 1, 1, true));
            assertEquals(NativeException.TOKEN_RANGE, e.status());

            e = assertThrows(NativeException.class,
                    () -> m.forward(Batch.of(ids, null, Batch.cuSeqlens(5, 7), null, new int[] {0, 2}, null), 1, 1, true));
            assertEquals(NativeException.LABEL_RANGE, e.status());

            e = assertThrows(NativeException.class, () -> m.backward(1f));
            assertEquals(NativeException.STATE, e.status());

            e = assertThrows(NativeException.class, () -> m.write(NativeModel.Buffer.PARAMS, 3, new float[] {1f, Float.NaN}));
            assertEquals(NativeException.NONFINITE, e.status());
            assertTrue(e.getMessage().contains("word_embeddings"), e.getMessage());

            Map<String, Tensor> w = new LinkedHashMap<>(randomModel(c, 10).weights());
            w.put("classifier.weight", Tensor.zeros(3, 32));
            IllegalArgumentException shape = assertThrows(IllegalArgumentException.class, () -> m.loadWeights(w));
            assertTrue(shape.getMessage().contains("classifier.weight"), shape.getMessage());
        }
    }

    @Test
    void cudaBackendIsAnErrorNotACrashWithoutGpu() {
        String reason = NativeLibrary.get().backendUnavailableReason(NativeLibrary.Backend.CUDA);
        if (reason == null) return; // a GPU machine with the CUDA backend built
        ModelConfig c = config(Variant.MOSAIC_BERT, Head.MLM, List.of());
        NativeException e = assertThrows(NativeException.class,
                () -> NativeModel.create(NativeConfig.of(c, 0f, 0f, 16, 2), NativeLibrary.Backend.CUDA));
        assertEquals(NativeException.NO_BACKEND, e.status());
        assertNull(NativeLibrary.get().backendUnavailableReason(NativeLibrary.Backend.CPU));
    }

    private static int[] ints(JsonNode a) {
        int[] v = new int[a.size()];
        for (int i = 0; i < v.length; i++) v[i] = a.get(i).asInt();
        return v;
    }

    private static float[] floats(Path p) throws IOException {
        ByteBuffer bb = ByteBuffer.wrap(Files.readAllBytes(p)).order(ByteOrder.LITTLE_ENDIAN);
        float[] v = new float[bb.remaining() / 4];
        bb.asFloatBuffer().get(v);
        return v;
    }
}
