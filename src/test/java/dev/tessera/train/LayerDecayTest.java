package dev.tessera.train;

import dev.tessera.kernels.NativeConfig;
import dev.tessera.kernels.NativeException;
import dev.tessera.kernels.NativeLibrary;
import dev.tessera.kernels.NativeModel;
import dev.tessera.model.ClassifierPooling;
import dev.tessera.model.Head;
import dev.tessera.model.Variant;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * optimizer.layer_decay: each tensor of the native table gets the ELECTRA/BEiT multiplier (head 1, layer i of L
 * decay^(L-i), embeddings decay^(L+1)), and the training loop's setting reaches the native AdamW step.
 */
class LayerDecayTest {

    private static NativeConfig config(Variant v, Head head, int labels) {
        return new NativeConfig(v, head, 64, 16, 2, 2, 24, 2, v == Variant.BERT ? 32 : 0, labels, 1e-12f, 0.1f, 0f, 32, 4, 0,
                ClassifierPooling.CLS);
    }

    private static List<String> names(NativeModel m) {
        return m.tensors().stream().map(NativeModel.TensorInfo::name).toList();
    }

    /** The expected multipliers of a 2-layer MosaicBERT classifier at decay 0.5, written out by hand. */
    private static Map<String, Float> expectedMosaicClassifier() {
        Map<String, Float> e = new LinkedHashMap<>();
        for (String n : List.of("word_embeddings.weight", "token_type_embeddings.weight", "LayerNorm.weight", "LayerNorm.bias"))
            e.put("bert.embeddings." + n, 0.125f); // 0.5^(2+1)
        float[] layerScale = {0.25f, 0.5f};        // layer 0: 0.5^2, layer 1: 0.5^1
        for (int l = 0; l < 2; l++) {
            for (String n : List.of("attention.self.Wqkv.weight", "attention.self.Wqkv.bias", "attention.output.dense.weight",
                    "attention.output.dense.bias", "attention.output.LayerNorm.weight", "attention.output.LayerNorm.bias",
                    "mlp.gated_layers.weight", "mlp.wo.weight", "mlp.wo.bias", "mlp.layernorm.weight", "mlp.layernorm.bias"))
                e.put("bert.encoder.layer." + l + "." + n, layerScale[l]);
        }
        for (String n : List.of("bert.pooler.dense.weight", "bert.pooler.dense.bias", "classifier.weight", "classifier.bias"))
            e.put(n, 1f);
        return e;
    }

    @Test
    void twoLayerClassifierGetsTheConventionPerTensorName() {
        try (NativeModel m = NativeModel.create(config(Variant.MOSAIC_BERT, Head.CLASSIFICATION, 3), NativeLibrary.Backend.CPU)) {
            Map<String, Float> expected = expectedMosaicClassifier();
            List<String> names = names(m);
            assertEquals(new ArrayList<>(expected.keySet()), names, "the native table (order matters: scales follow it)");
            float[] s = LayerDecay.scales(names, 2, 0.5);
            for (int t = 0; t < s.length; t++) assertEquals(expected.get(names.get(t)), s[t], names.get(t));
            assertEquals("layer-wise lr decay 0.5: lr x 0.125 embeddings, 0.25 layer 0, 0.5 layer 1, 1 head",
                    LayerDecay.describe(names, s, 2, 0.5));
        }
    }

    @Test
    void bertMlmHeadLearnsAtFullRateAndTheTiedEmbeddingsAtTheEmbeddingRate() {
        try (NativeModel m = NativeModel.create(config(Variant.BERT, Head.MLM, 0), NativeLibrary.Backend.CPU)) {
            List<String> names = names(m);
            float[] s = LayerDecay.scales(names, 2, 0.8);
            for (int t = 0; t < s.length; t++) {
                String n = names.get(t);
                float want = n.startsWith("bert.embeddings.") ? (float) (0.8 * 0.8 * 0.8)
                        : n.startsWith("bert.encoder.layer.0.") ? (float) (0.8 * 0.8)
                        : n.startsWith("bert.encoder.layer.1.") ? 0.8f
                        : n.startsWith("cls.predictions.") ? 1f : Float.NaN;
                assertEquals(want, s[t], 1e-7f, n);
            }
            assertTrue(names.contains("bert.embeddings.position_embeddings.weight") && names.contains("cls.predictions.decoder.bias"));
        }
    }

    @Test
    void decayOneIsAllOnesAndStrangeNamesAreRefused() {
        float[] ones = LayerDecay.scales(List.of("bert.embeddings.LayerNorm.bias", "bert.encoder.layer.3.mlp.wo.bias", "classifier.bias"), 4, 1.0);
        assertArrayEquals(new float[] {1f, 1f, 1f}, ones);
        assertThrows(IllegalArgumentException.class, () -> LayerDecay.scales(List.of("bert.encoder.layer.2.mlp.wo.bias"), 2, 0.9));
        assertThrows(IllegalArgumentException.class, () -> LayerDecay.scales(List.of("bert.encoder.alibi"), 2, 0.9));
        assertThrows(IllegalArgumentException.class, () -> LayerDecay.scales(List.of("classifier.bias"), 2, 0.0));
        assertThrows(IllegalArgumentException.class, () -> LayerDecay.scales(List.of("classifier.bias"), 2, 1.5));
    }

    /**
     * End to end through the loop's helper and the FFM binding: two models in the same state, one with
     * layer_decay 0.5; with no weight decay and zero moments, every tensor's first AdamW step is its multiplier
     * times the plain model's. Tolerance 1e-4 relative: the steps are read back as differences of float32
     * parameters (|p| ≤ ~1, steps ≥ ~1e-2 at lr 0.1: ≤ ~1e-5 relative rounding), while a wrong multiplier is off by
     * 2x or more.
     */
    @Test
    void theLoopSettingScalesEachTensorsStepInTheNativeOptimizer() {
        NativeConfig c = config(Variant.MOSAIC_BERT, Head.CLASSIFICATION, 2);
        try (NativeModel plain = NativeModel.create(c, NativeLibrary.Backend.CPU);
             NativeModel decayed = NativeModel.create(c, NativeLibrary.Backend.CPU)) {
            float[] g = new float[Math.toIntExact(plain.numParams())];
            Random r = new Random(3);
            for (int i = 0; i < g.length; i++) g[i] = (float) r.nextGaussian();
            List<String> log = new ArrayList<>();
            TrainingListener listener = new TrainingListener() {
                @Override
                public void info(String message) { log.add(message); }
            };
            TrainingLoop.applyLayerDecay(plain, 1.0, listener); // off: nothing set, nothing logged
            TrainingLoop.applyLayerDecay(decayed, 0.5, listener);
            assertEquals(List.of("layer-wise lr decay 0.5: lr x 0.125 embeddings, 0.25 layer 0, 0.5 layer 1, 1 head"), log);
            plain.initParams(11, 0.1f);
            float[] before = plain.read(NativeModel.Buffer.PARAMS);
            for (NativeModel m : List.of(plain, decayed)) {
                m.initParams(11, 0.1f);
                m.write(NativeModel.Buffer.GRADS, 0, g);
                m.adamwStep(1e-1f, 1e-1f, 0.9f, 0.98f, 1e-6f, 0f, 1);
            }
            float[] a = plain.read(NativeModel.Buffer.PARAMS), b = decayed.read(NativeModel.Buffer.PARAMS);
            float[] scales = LayerDecay.scales(names(decayed), 2, 0.5);
            List<NativeModel.TensorInfo> tensors = decayed.tensors();
            for (int t = 0; t < tensors.size(); t++) {
                NativeModel.TensorInfo ti = tensors.get(t);
                for (long i = ti.offset(); i < ti.offset() + ti.numel(); i++) {
                    int k = Math.toIntExact(i);
                    double stepPlain = a[k] - before[k], stepDecayed = b[k] - before[k];
                    assertTrue(Math.abs(stepPlain) > 1e-3, ti.name() + ": the plain step moved it");
                    assertEquals(scales[t], stepDecayed / stepPlain, 1e-4, ti.name() + "[" + (i - ti.offset()) + "]");
                }
            }
        }
    }

    @Test
    void nativeScalesAreCheckedOnTheWayIn() {
        try (NativeModel m = NativeModel.create(config(Variant.MOSAIC_BERT, Head.CLASSIFICATION, 2), NativeLibrary.Backend.CPU)) {
            int n = m.tensors().size();
            assertThrows(IllegalArgumentException.class, () -> m.setLrScales(new float[n - 1]));
            float[] bad = new float[n];
            java.util.Arrays.fill(bad, 1f);
            bad[3] = Float.NaN;
            NativeException e = assertThrows(NativeException.class, () -> m.setLrScales(bad));
            assertTrue(e.getMessage().contains("bert.embeddings.LayerNorm.bias"), e.getMessage());
            bad[3] = -1f;
            assertThrows(NativeException.class, () -> m.setLrScales(bad));
            m.setLrScales(null);
        }
    }
}
