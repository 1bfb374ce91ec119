package dev.tessera.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.data.Batch;
import dev.tessera.kernels.NativeLibrary;
import dev.tessera.kernels.NativeModel;
import dev.tessera.model.BertModel;
import dev.tessera.model.ClassifierPooling;
import dev.tessera.model.Head;
import dev.tessera.model.Variant;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A classifier whose config says {@code classifier_pooling: mean}: every dialect's export (portable, ort, tessera) ×
 * precision gives the native CPU backend's logits on a ragged, padded batch, so serving pools as training did.
 * Tolerances as {@link OnnxExportFixtureTest}: fp32 |Δ| ≤ 2e-5 + 2e-5·|native| (both fp32, only the kernels' summation
 * orders differ); int8 max |Δ| ≤ {@value OnnxExportFixtureTest#INT8_REL_RMS}·rms(native logits).
 */
class MeanPoolingExportTest {
    /** Rows of 4, 1, 9 and 6 real tokens, zero-padded to 9: padding must not enter a mean. */
    static final long[][] IDS = {
            {2, 17, 33, 3, 0, 0, 0, 0, 0},
            {2, 0, 0, 0, 0, 0, 0, 0, 0},
            {2, 40, 41, 42, 43, 44, 45, 46, 3},
            {2, 9, 9, 21, 30, 3, 0, 0, 0}};
    static final long[][] TYPES = {
            {0, 0, 1, 1, 0, 0, 0, 0, 0},
            {0, 0, 0, 0, 0, 0, 0, 0, 0},
            {0, 0, 0, 0, 1, 1, 1, 1, 1},
            {0, 1, 1, 1, 1, 1, 0, 0, 0}};
    static final int[] LENGTHS = {4, 1, 9, 6};

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (Variant v : Variant.values())
            for (Head h : new Head[] {Head.CLASSIFICATION, Head.REGRESSION})
                for (Dialect d : Dialect.values())
                    for (Precision p : Precision.values()) out.add(Arguments.of(v, h, d, p));
        return out.stream();
    }

    static BertModel meanPooled(Variant v, Head h) {
        BertModel m = RandomBertModels.create(v, h, h == Head.REGRESSION ? 1 : 3, 42);
        return new BertModel(m.config().withClassifierPooling(ClassifierPooling.MEAN), m.weights());
    }

    /** The native CPU backend's logits on the real tokens of {@link #IDS}, packed. */
    static float[] nativeLogits(BertModel model) {
        int t = 0;
        for (int n : LENGTHS) t += n;
        int[] ids = new int[t], types = new int[t];
        for (int s = 0, at = 0; s < LENGTHS.length; s++) {
            for (int j = 0; j < LENGTHS[s]; j++, at++) {
                ids[at] = (int) IDS[s][j];
                types[at] = (int) TYPES[s][j];
            }
        }
        try (NativeModel nm = NativeModel.fromBertModel(model, 0f, 0f, 64, 8, NativeLibrary.Backend.CPU)) {
            float[][] out = new float[1][];
            nm.forward(Batch.of(ids, types, Batch.cuSeqlens(LENGTHS), null, null, null), 0, 0, false, out);
            return out[0];
        }
    }

    static long[][] mask() {
        long[][] m = new long[IDS.length][IDS[0].length];
        for (int s = 0; s < m.length; s++) for (int j = 0; j < LENGTHS[s]; j++) m[s][j] = 1;
        return m;
    }

    @ParameterizedTest(name = "{0} {1} {2} {3}")
    @MethodSource("cases")
    void everyDialectGivesTheNativeLogits(Variant v, Head h, Dialect d, Precision p) throws Exception {
        BertModel model = meanPooled(v, h);
        float[] want = nativeLogits(model);
        float[] got;
        try (OrtRunner ort = new OrtRunner(OnnxExporter.export(model, d, p))) {
            got = ort.run(IDS, mask(), TYPES).get("logits").data();
        }
        assertTrue(got.length == want.length, "logits count " + got.length + " vs native " + want.length);
        double maxAbs = 0, sumSq = 0;
        for (int i = 0; i < want.length; i++) {
            double diff = Math.abs(got[i] - want[i]);
            maxAbs = Math.max(maxAbs, diff);
            sumSq += (double) want[i] * want[i];
            if (p == Precision.FP32) {
                assertTrue(diff <= OnnxExportFixtureTest.ABS + OnnxExportFixtureTest.REL * Math.abs(want[i]),
                        v + " " + h + " " + d + ": logit " + i + " " + got[i] + " vs native " + want[i]);
            }
        }
        double rms = Math.sqrt(sumSq / want.length);
        if (p == Precision.INT8) {
            assertTrue(maxAbs <= OnnxExportFixtureTest.INT8_REL_RMS * rms,
                    v + " " + h + " " + d + " int8: max |Δ| " + maxAbs + " vs rms " + rms);
        }
        System.out.printf("mean-pooled %s %s %s %s: max |Δ| vs native %.2e (%.3f rms)%n", v, h, d.id(), p.id(), maxAbs, maxAbs / rms);
    }

    /** The key changes the graph: the same weights exported with CLS pooling give other logits (one-token row aside). */
    @ParameterizedTest(name = "{0}")
    @MethodSource("variants")
    void clsPoolingOfTheSameWeightsDiffers(Variant v) throws Exception {
        BertModel mean = meanPooled(v, Head.CLASSIFICATION);
        BertModel cls = new BertModel(mean.config().withClassifierPooling(ClassifierPooling.CLS), mean.weights());
        try (OrtRunner a = new OrtRunner(OnnxExporter.exportPortable(mean)); OrtRunner b = new OrtRunner(OnnxExporter.exportPortable(cls))) {
            float[] la = a.run(IDS, mask(), TYPES).get("logits").data(), lb = b.run(IDS, mask(), TYPES).get("logits").data();
            assertArrayEquals(java.util.Arrays.copyOfRange(lb, 3, 6), java.util.Arrays.copyOfRange(la, 3, 6), 2e-5f,
                    "a one-token row's mean is its first token");
            double moved = 0;
            for (int i : new int[] {0, 1, 2, 6, 7, 8, 9, 10, 11}) moved = Math.max(moved, Math.abs(la[i] - lb[i]));
            assertTrue(moved > 1e-2, "CLS and mean pooling give the same logits (max |Δ| " + moved + ")");
        }
    }

    static Stream<Variant> variants() { return Stream.of(Variant.values()); }
}
