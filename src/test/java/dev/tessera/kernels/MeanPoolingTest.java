package dev.tessera.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.data.Batch;
import dev.tessera.model.ClassifierPooling;
import dev.tessera.model.Head;
import dev.tessera.model.Variant;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The classifier's MEAN pooling ({@code tsr_config.pooling}) on the native CPU backend, through the Java bindings:
 * the logits against a head computed here in plain Java from the encoder's own hidden states, and the gradients
 * against central finite differences. (cuda-ext/tests/test_model.c holds the same model against an independent
 * float64 torch fixture and checks that MEAN of one-token sequences is CLS bit for bit.)
 */
class MeanPoolingTest {
    static final int V = 64, H = 32, LAYERS = 2, HEADS = 4, I = 40, LABELS = 3;
    /** Ragged on purpose: a one-token sequence (its mean is its [CLS] row) among longer ones. */
    static final int[] LENGTHS = {5, 1, 11, 4};

    private static NativeConfig config(Variant v, Head head, ClassifierPooling pooling) {
        int labels = head == Head.REGRESSION ? 1 : head == Head.CLASSIFICATION ? LABELS : 0;
        return new NativeConfig(v, head, V, H, LAYERS, HEADS, I, 2, v == Variant.BERT ? 32 : 0, labels, 1e-12f, 0f, 0f, 64, 8,
                0, pooling);
    }

    /** Weights of O(1) effect (the library's own init, std 0.02, would leave logits ≈ their zero biases). */
    private static void randomise(NativeModel m, long seed) {
        Random r = new Random(seed);
        for (NativeModel.TensorInfo t : m.tensors()) {
            float[] d = new float[Math.toIntExact(t.numel())];
            boolean norm = t.name().contains("LayerNorm") || t.name().contains("layernorm");
            boolean bias = t.name().endsWith(".bias");
            double scale = norm || bias ? 0.1 : 1 / Math.sqrt(t.shape()[t.shape().length - 1]);
            for (int i = 0; i < d.length; i++) d[i] = (float) ((norm && t.name().endsWith(".weight") ? 1 : 0) + scale * r.nextGaussian());
            m.write(NativeModel.Buffer.PARAMS, t.offset(), d);
        }
    }

    private static Batch batch(long seed, boolean labels) {
        Random r = new Random(seed);
        int[] cu = Batch.cuSeqlens(LENGTHS);
        int[] ids = new int[cu[LENGTHS.length]], types = new int[ids.length];
        for (int t = 0; t < ids.length; t++) {
            ids[t] = r.nextInt(V);
            types[t] = r.nextInt(2);
        }
        int[] cls = new int[LENGTHS.length];
        for (int s = 0; s < cls.length; s++) cls[s] = r.nextInt(LABELS);
        return Batch.of(ids, types, cu, null, labels ? cls : null, null);
    }

    /**
     * logits = classifier(tanh(pooler(mean of each sequence's final hidden states))), computed here in float64 from the
     * hidden states the same weights give without a head (TSR_HEAD_NONE returns them), must equal the native MEAN head's.
     * Tolerance |Δ| ≤ 2e-5·max(1, |logit|): the native head is fp32 — a mean summed in double and rounded once
     * (≤ 6e-8 relative), two products of H = 32 terms (≲ 32 · 6e-8 ≈ 2e-6 of their magnitude), tanh — against float64
     * here, so ~3e-6; 2e-5 leaves a 5x margin, while pooling the [CLS] row instead moves logits by O(0.1) (checked).
     */
    @ParameterizedTest
    @EnumSource(Variant.class)
    void nativeMeanHeadEqualsAPlainJavaHeadOnTheEncodersHiddenStates(Variant variant) {
        Batch b = batch(3, false);
        int S = LENGTHS.length, T = b.inputIds().length;
        try (NativeModel mean = NativeModel.create(config(variant, Head.CLASSIFICATION, ClassifierPooling.MEAN), NativeLibrary.Backend.CPU);
             NativeModel cls = NativeModel.create(config(variant, Head.CLASSIFICATION, ClassifierPooling.CLS), NativeLibrary.Backend.CPU);
             NativeModel encoder = NativeModel.create(config(variant, Head.NONE, ClassifierPooling.CLS), NativeLibrary.Backend.CPU)) {
            randomise(mean, 11);
            var weights = mean.weights();
            cls.loadWeights(weights);
            encoder.loadWeights(weights); // the encoder's tensors only: the head's are not in its table
            float[][] out = new float[1][];
            encoder.forward(b, 0, 0, false, out);
            float[] hidden = out[0];
            assertEquals(T * H, hidden.length);
            mean.forward(b, 0, 0, false, out);
            float[] got = out[0];
            cls.forward(b, 0, 0, false, out);
            float[] gotCls = out[0];

            float[] pw = weights.get("bert.pooler.dense.weight").data(), pb = weights.get("bert.pooler.dense.bias").data();
            float[] cw = weights.get("classifier.weight").data(), cb = weights.get("classifier.bias").data();
            int[] cu = b.cuSeqlens();
            double worst = 0, clsMoves = 0;
            for (int s = 0; s < S; s++) {
                double[] m = new double[H];
                for (int t = cu[s]; t < cu[s + 1]; t++) for (int k = 0; k < H; k++) m[k] += hidden[t * H + k];
                for (int k = 0; k < H; k++) m[k] /= cu[s + 1] - cu[s];
                double[] pooled = new double[H];
                for (int j = 0; j < H; j++) {
                    double z = pb[j];
                    for (int k = 0; k < H; k++) z += (double) pw[j * H + k] * m[k];
                    pooled[j] = Math.tanh(z);
                }
                for (int c = 0; c < LABELS; c++) {
                    double z = cb[c];
                    for (int j = 0; j < H; j++) z += (double) cw[c * H + j] * pooled[j];
                    double d = Math.abs(got[s * LABELS + c] - z);
                    worst = Math.max(worst, d);
                    assertTrue(d <= 2e-5 * Math.max(1, Math.abs(z)),
                            variant + " sequence " + s + " label " + c + ": native " + got[s * LABELS + c] + ", reference " + z);
                    if (cu[s + 1] - cu[s] > 1) clsMoves = Math.max(clsMoves, Math.abs(gotCls[s * LABELS + c] - z));
                    else assertEquals(gotCls[s * LABELS + c], got[s * LABELS + c], 2e-5f, "a one-token sequence's mean is its first token");
                }
            }
            assertTrue(clsMoves > 1e-2, "CLS pooling gives other logits on multi-token sequences (max |Δ| " + clsMoves + ")");
            System.out.printf("mean pooling %s: native vs plain Java head max |Δ| %.2e (CLS instead: %.2e)%n", variant, worst, clsMoves);
        }
    }

    /**
     * Central differences of the fp32 loss (h = 1e-2, dropout off so the loss is smooth) against the MEAN model's
     * backward, on the pooler and classifier (the forward through the mean) and on encoder weights down to the word
     * embeddings (the backward through the mean: every token of a sequence gets dpooled / L).
     * Tolerance per tensor |fd − analytic| ≤ 5e-3·max(max|g|, 0.05), test_model.c's rule: the loss (~1) is fp32, its
     * rounding (~1e-6 after the whole forward) over 2h gives ≤ 1e-4; truncation h²/6·|f'''| is ~2e-5 for these O(1)
     * curvatures; together ≤ 1.2e-4 against a bound ≥ 2.5e-4. A backward that misses the 1/L, or sends the whole
     * gradient to the [CLS] row, is off by O(max|g|) on every encoder tensor.
     */
    @ParameterizedTest
    @EnumSource(Variant.class)
    void meanPoolingGradientsMatchFiniteDifferences(Variant variant) {
        Batch b = batch(5, true);
        try (NativeModel m = NativeModel.create(config(variant, Head.CLASSIFICATION, ClassifierPooling.MEAN), NativeLibrary.Backend.CPU)) {
            randomise(m, 21);
            m.zeroGrad();
            m.forward(b, 1, 1, true);
            m.backward(1f);
            float[] grads = m.read(NativeModel.Buffer.GRADS);
            float[] params = m.read(NativeModel.Buffer.PARAMS);
            String layer1 = "bert.encoder.layer.1.";
            List<String> names = List.of("classifier.weight", "bert.pooler.dense.weight", "bert.pooler.dense.bias",
                    layer1 + (variant == Variant.MOSAIC_BERT ? "mlp.wo.weight" : "output.dense.weight"),
                    "bert.encoder.layer.0.attention.output.dense.weight", "bert.embeddings.word_embeddings.weight");
            Random r = new Random(7);
            double worst = 0;
            for (NativeModel.TensorInfo t : m.tensors()) {
                if (!names.contains(t.name())) continue;
                int off = Math.toIntExact(t.offset()), n = Math.toIntExact(t.numel());
                double gmax = 0;
                for (int i = off; i < off + n; i++) gmax = Math.max(gmax, Math.abs(grads[i]));
                double tol = 5e-3 * Math.max(gmax, 0.05);
                List<Integer> picks = new java.util.ArrayList<>();
                if (t.name().contains("word_embeddings")) { // rows of tokens in the batch, else the gradient is 0
                    for (int k = 0; k < 6; k++) picks.add(off + b.inputIds()[r.nextInt(b.inputIds().length)] * H + r.nextInt(H));
                } else {
                    for (int k = 0; k < 6; k++) picks.add(off + r.nextInt(n));
                }
                for (int i : picks) {
                    float x0 = params[i], h = 1e-2f;
                    m.write(NativeModel.Buffer.PARAMS, i, new float[] {x0 + h});
                    float lp = m.forward(b, 1, 1, false);
                    m.write(NativeModel.Buffer.PARAMS, i, new float[] {x0 - h});
                    float lm = m.forward(b, 1, 1, false);
                    m.write(NativeModel.Buffer.PARAMS, i, new float[] {x0});
                    double fd = ((double) lp - lm) / (2.0 * h), err = Math.abs(fd - grads[i]);
                    worst = Math.max(worst, err / Math.max(gmax, 0.05));
                    assertTrue(err <= tol, variant + " " + t.name() + "[" + (i - off) + "]: fd " + fd + ", analytic " + grads[i]
                            + " (max |g| of the tensor " + gmax + ")");
                }
            }
            System.out.printf("mean pooling %s: finite differences worst |fd-an|/max(max|g|,0.05) = %.2e (bound 5e-3)%n", variant, worst);
        }
    }
}
