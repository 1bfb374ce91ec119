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
 * Checkpoint directory → {@link HfCheckpoint#load} → portable ONNX → ONNX Runtime, against the expected
 * outputs that {@code src/test/python/make_fixtures.py} computed with its own float64 torch forward pass.
 *
 * <p>Tolerance: |ours − expected| ≤ ABS + REL·|expected| with ABS = REL = 2e-5. ORT computes in float32
 * (unit roundoff 6e-8); through two layers of dot products of length ≤ 96, softmax and LayerNorm (which
 * divides by a standard deviation that can be ~0.3) the errors reached are ≤ 1.4e-6 on hidden states and
 * ≤ 5.2e-6 on MLM logits (printed per fixture), so 2e-5 leaves a 4x margin for other CPUs' summation
 * orders. It is deliberately tight: swapping the exact erf GELU of the GeGLU gate for the tanh
 * approximation, a plausible slip, moves MosaicBERT hidden states by 1.1e-4 and must fail.
 *
 * <p>The reference returns zeros at padded positions. In last_hidden_state those are compared for MosaicBERT
 * (the export mirrors its unpadded implementation) and skipped for classic BERT (whose HF implementation
 * computes them). MLM logits at padded positions are skipped for both: MosaicBERT's own code runs the head
 * on the zero vectors there, the fixture writes zeros; neither means anything.
 */
class OnnxExportFixtureTest {
    static final double ABS = 2e-5, REL = 2e-5;
    static final List<String> FIXTURES = List.of("mosaic-cls12", "mosaic-reg-bin", "mosaic-mlm-sharded-bf16",
            "bert-cls-f16", "bert-mlm-bin");
    private static final ObjectMapper JSON = new ObjectMapper();

    @TestFactory
    Stream<DynamicTest> everyFixtureAndCase() throws Exception {
        Path root = Path.of(OnnxExportFixtureTest.class.getResource("/fixtures").toURI());
        // with ORT's graph optimizations (fused kernels) and without (every standard op as written)
        Stream<DynamicTest> portable = FIXTURES.stream().flatMap(name -> Stream.of(true, false).map(opt -> DynamicTest.dynamicTest(
                name + (opt ? "" : " (no graph optimization)"), () -> checkFixture(root.resolve(name), Dialect.PORTABLE, opt))));
        Stream<DynamicTest> tessera = FIXTURES.stream().map(name -> DynamicTest.dynamicTest(name + " (tessera dialect)",
                () -> checkFixture(root.resolve(name), Dialect.TESSERA, true)));
        return Stream.concat(portable, tessera);
    }

    private void checkFixture(Path dir, Dialect dialect, boolean optimize) throws Exception {
        BertModel model = HfCheckpoint.load(dir);
        JsonNode expected = JSON.readTree(Files.readAllBytes(dir.resolve("expected.json")));
        boolean zeroPadded = model.config().variant() == dev.tessera.model.Variant.MOSAIC_BERT;
        double worstHidden = 0, worstEmb = 0, worstLogits = 0;
        try (OrtRunner ort = new OrtRunner(OnnxExporter.graph(model, dialect, Precision.FP32).toByteArray(), optimize)) {
            for (JsonNode c : expected.get("cases")) {
                long[][] ids = longs(c.get("input_ids")), mask = longs(c.get("attention_mask")),
                        types = longs(c.get("token_type_ids"));
                Map<String, OrtRunner.Out> out = ort.run(ids, mask, types);
                String where = dir.getFileName() + "/" + c.get("name").asText();
                worstHidden = Math.max(worstHidden, compare(where + " last_hidden_state", out.get("last_hidden_state"),
                        c.get("last_hidden_state"), zeroPadded ? null : mask));
                worstEmb = Math.max(worstEmb, compare(where + " sentence_embedding", out.get("sentence_embedding"),
                        c.get("sentence_embedding"), null));
                if (model.config().head() != Head.NONE) {
                    assertTrue(c.has("logits"), where + ": fixture has no logits");
                    worstLogits = Math.max(worstLogits, compare(where + " logits", out.get("logits"), c.get("logits"),
                            model.config().head() == Head.MLM ? mask : null));
                }
            }
        }
        System.out.printf("fixture %-24s %-8s %-7s max |Δ| last_hidden_state %.2e, sentence_embedding %.2e, logits %.2e%n",
                dir.getFileName(), dialect.id(), optimize ? "ORT" : "ORT-raw", worstHidden, worstEmb, worstLogits);
    }

    /**
     * Compares a [B,S,...] or [B,...] output with nested JSON; with a mask, positions (b, s) where the
     * mask is 0 are skipped. Returns the max absolute difference.
     */
    private static double compare(String what, OrtRunner.Out actual, JsonNode expected, long[][] mask) {
        List<Double> flat = new ArrayList<>();
        flatten(expected, flat);
        assertEquals(flat.size(), actual.data().length, what + ": element count");
        long[] shape = actual.shape();
        int inner = 1;
        for (int i = 2; i < shape.length; i++) inner *= (int) shape[i];
        double maxAbs = 0;
        for (int i = 0; i < flat.size(); i++) {
            if (mask != null) {
                int pos = i / inner;
                int b = pos / (int) shape[1], s = pos % (int) shape[1];
                if (mask[b][s] == 0) continue;
            }
            double e = flat.get(i), a = actual.data()[i], d = Math.abs(a - e);
            maxAbs = Math.max(maxAbs, d);
            if (!(d <= ABS + REL * Math.abs(e))) {
                throw new AssertionError(what + " element " + i + ": got " + a + ", expected " + e + " (|Δ| " + d + ")");
            }
        }
        return maxAbs;
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
