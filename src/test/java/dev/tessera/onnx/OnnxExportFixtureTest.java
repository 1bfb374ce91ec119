package dev.tessera.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.hf.HfCheckpoint;
import dev.tessera.model.BertModel;
import dev.tessera.model.Head;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Checkpoint directory → {@link HfCheckpoint#load} → ONNX (every {@link Dialect} that exists × every
 * {@link Precision}) → ONNX Runtime, against the expected outputs that {@code src/test/python/make_fixtures.py}
 * computed with its own float64 torch forward pass. The portable graph is not the reference for the others:
 * each is held against the fixtures directly.
 *
 * <p>Tolerance: |ours − expected| ≤ ABS + REL·|expected| with ABS = REL = 2e-5. ORT computes in float32
 * (unit roundoff 6e-8); through two layers of dot products of length ≤ 96, softmax and LayerNorm (which
 * divides by a standard deviation that can be ~0.3) the errors reached are ≤ 1.4e-6 on hidden states and
 * ≤ 5.2e-6 on MLM logits (printed per fixture), so 2e-5 leaves a 4x margin for other CPUs' summation
 * orders. It is deliberately tight: swapping the exact erf GELU of the GeGLU gate for the tanh
 * approximation, a plausible slip, moves MosaicBERT hidden states by 1.1e-4 and must fail.
 *
 * <p>The ort dialect (fused MultiHeadAttention, SkipLayerNormalization, Gelu kernels) meets the same 2e-5:
 * its measured worst errors are the portable graph's (≤ 1.4e-6 on hidden states, ≤ 6.3e-6 on MLM logits).
 *
 * <p>int8: max |ours − expected| ≤ {@value #INT8_REL_RMS} · rms(expected) per output of each case
 * (rms over the compared elements). An element-wise relative bound makes no sense for quantization noise,
 * which scales with the tensor's range, not with each value. Measured worst ratios on these fixtures:
 * 0.037-0.101 on last_hidden_state, 0.028-0.045 on sentence_embedding, 0.033-0.114 on logits, identical for
 * both dialects (ORT fuses the portable int8 chain into the same DynamicQuantizeMatMul kernel). The bound
 * 0.25 gives ≥ 2x margin; a real quantization bug does not come close: weights scaled with the neighbouring
 * column's scale (tried) give ratios of 1.8-3.6.
 *
 * <p>The reference returns zeros at padded positions. In last_hidden_state those are compared for MosaicBERT
 * (the export mirrors its unpadded implementation) and skipped for classic BERT (whose HF implementation
 * computes them). MLM logits at padded positions are skipped for both: MosaicBERT's own code runs the head
 * on the zero vectors there, the fixture writes zeros; neither means anything.
 */
class OnnxExportFixtureTest {
    static final double ABS = 2e-5, REL = 2e-5;
    /** int8 bound on max |ours − expected| relative to the RMS of the expected output; see the class javadoc. */
    static final double INT8_REL_RMS = 0.25;
    static final List<String> FIXTURES = List.of("mosaic-cls12", "mosaic-reg-bin", "mosaic-mlm-sharded-bf16",
            "bert-cls-f16", "bert-mlm-bin");
    private static final ObjectMapper JSON = new ObjectMapper();

    /** An export and how ORT runs it. */
    record Run(Dialect dialect, Precision precision, boolean optimize) {
        @Override
        public String toString() {
            return dialect.id() + " " + precision.id() + (optimize ? "" : " (no graph optimization)");
        }
    }

    /** Every dialect × precision; fp32 also without ORT's graph optimizations (every op as written, no fusion). */
    static final List<Run> RUNS = List.of(
            new Run(Dialect.PORTABLE, Precision.FP32, true), new Run(Dialect.PORTABLE, Precision.FP32, false),
            new Run(Dialect.ORT, Precision.FP32, true), new Run(Dialect.ORT, Precision.FP32, false),
            new Run(Dialect.TESSERA, Precision.FP32, true), new Run(Dialect.TESSERA, Precision.FP32, false),
            new Run(Dialect.PORTABLE, Precision.INT8, true), new Run(Dialect.ORT, Precision.INT8, true),
            new Run(Dialect.TESSERA, Precision.INT8, true));

    @TestFactory
    Stream<DynamicTest> everyFixtureAndCase() throws Exception {
        Path root = Path.of(OnnxExportFixtureTest.class.getResource("/fixtures").toURI());
        return FIXTURES.stream().flatMap(name -> RUNS.stream().map(run -> DynamicTest.dynamicTest(
                name + " " + run, () -> checkFixture(root.resolve(name), run))));
    }

    private void checkFixture(Path dir, Run run) throws Exception {
        BertModel model = HfCheckpoint.load(dir);
        JsonNode expected = JSON.readTree(Files.readAllBytes(dir.resolve("expected.json")));
        boolean zeroPadded = model.config().variant() == dev.tessera.model.Variant.MOSAIC_BERT;
        boolean int8 = run.precision() == Precision.INT8;
        double[] worstHidden = new double[2], worstEmb = new double[2], worstLogits = new double[2];
        try (OrtRunner ort = new OrtRunner(OnnxExporter.export(model, run.dialect(), run.precision()), run.optimize())) {
            for (JsonNode c : expected.get("cases")) {
                long[][] ids = longs(c.get("input_ids")), mask = longs(c.get("attention_mask")),
                        types = longs(c.get("token_type_ids"));
                Map<String, OrtRunner.Out> out = ort.run(ids, mask, types);
                String where = dir.getFileName() + "/" + c.get("name").asText() + " [" + run + "]";
                worst(worstHidden, compare(where + " last_hidden_state", out.get("last_hidden_state"),
                        c.get("last_hidden_state"), zeroPadded ? null : mask, int8));
                worst(worstEmb, compare(where + " sentence_embedding", out.get("sentence_embedding"),
                        c.get("sentence_embedding"), null, int8));
                if (model.config().head() != Head.NONE) {
                    assertTrue(c.has("logits"), where + ": fixture has no logits");
                    worst(worstLogits, compare(where + " logits", out.get("logits"), c.get("logits"),
                            model.config().head() == Head.MLM ? mask : null, int8));
                }
            }
        }
        System.out.printf("fixture %-24s %-32s max |Δ| (|Δ|/rms) last_hidden_state %.2e (%.3f), sentence_embedding %.2e (%.3f), "
                + "logits %.2e (%.3f)%n", dir.getFileName(), run, worstHidden[0], worstHidden[1], worstEmb[0], worstEmb[1],
                worstLogits[0], worstLogits[1]);
    }

    private static void worst(double[] acc, double[] v) {
        acc[0] = Math.max(acc[0], v[0]);
        acc[1] = Math.max(acc[1], v[1]);
    }

    /**
     * Compares a [B,S,...] or [B,...] output with nested JSON; with a mask, positions (b, s) where the
     * mask is 0 are skipped. fp32: each element within ABS + REL·|expected|; int8: max |Δ| within
     * INT8_REL_RMS · rms(expected). Returns {max |Δ|, max |Δ| / rms(expected)}.
     */
    private static double[] compare(String what, OrtRunner.Out actual, JsonNode expected, long[][] mask, boolean int8) {
        List<Double> flat = new ArrayList<>();
        flatten(expected, flat);
        assertEquals(flat.size(), actual.data().length, what + ": element count");
        long[] shape = actual.shape();
        int inner = 1;
        for (int i = 2; i < shape.length; i++) inner *= (int) shape[i];
        double maxAbs = 0, sumSq = 0;
        int count = 0, worstAt = -1;
        for (int i = 0; i < flat.size(); i++) {
            if (mask != null) {
                int pos = i / inner;
                int b = pos / (int) shape[1], s = pos % (int) shape[1];
                if (mask[b][s] == 0) continue;
            }
            double e = flat.get(i), a = actual.data()[i], d = Math.abs(a - e);
            sumSq += e * e;
            count++;
            if (d > maxAbs || !(d == d)) {
                maxAbs = d;
                worstAt = i;
            }
            if (!int8 && !(d <= ABS + REL * Math.abs(e))) {
                throw new AssertionError(what + " element " + i + ": got " + a + ", expected " + e + " (|Δ| " + d + ")");
            }
        }
        double rms = Math.sqrt(sumSq / Math.max(count, 1));
        double relRms = maxAbs / rms;
        if (int8 && !(relRms <= INT8_REL_RMS)) {
            throw new AssertionError(what + ": max |Δ| " + maxAbs + " at element " + worstAt + " is " + relRms
                    + " × rms(expected) " + rms + ", bound " + INT8_REL_RMS);
        }
        return new double[] {maxAbs, relRms};
    }
    private static void flatten(JsonNode n, List<Double> out) {
        if (n.isArray()) for (JsonNode c : n) flatten(c, out);
        else out.add(n.asDouble());
    }

    private static long[][] longs(JsonNode n) {
        long[][] out = new long[n.size()][];
        for (int i = 0; i < n.size(); i++) {
            out[i] = new long[n.get(i).size()];
            for (int j = 0; j < out[i].length; j++) out[i][j] = n.get(i).get(j).asLong();
        }
        return out;
    }
}
