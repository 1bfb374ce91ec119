package dev.tessera.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.onnx.proto.OnnxMl;
import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.io.IOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The ONNX Runtime custom-op library of cuda-ext ({@code libtessera_ortops.so}, domain {@code tessera}) loaded into
 * ORT Java with {@code registerCustomOpLibrary}, each op checked against a straightforward double-precision Java
 * implementation written from the op contracts (cuda-ext/README.md), not from the C code.
 *
 * <p>Tolerance: inputs are float32 in [-1, 1] (GeGLU: [-4, 4]); the ops compute in float32 (AVX2/AVX-512 dot products,
 * a polynomial exp/erf accurate to a few ulp, softmax sums over up to 300 keys). Each output element is a convex
 * combination of values (attention), a mean (pool) or a product of two O(1) factors (GeGLU), so the float32 rounding
 * error is a few ulp of the O(1) magnitudes involved: we assert {@code |got - ref| <= 1e-5 * max(1, |ref|)}, about
 * 80 float32 ulp at 1.0 (measured errors are printed; they are ~1e-7).
 */
class TesseraOpsLibraryTest {
    private static final double TOL = 1e-5;
    private static final OrtEnvironment ENV = OrtEnvironment.getEnvironment();
    private static Path lib;

    @BeforeAll
    static void locateLibrary() throws URISyntaxException {
        URL core = TesseraOpsLibraryTest.class.getClassLoader().getResource("native/linux-x86_64/libtessera.so");
        URL ops = TesseraOpsLibraryTest.class.getClassLoader().getResource("native/linux-x86_64/libtessera_ortops.so");
        // -DskipNative builds no native code at all: nothing to test then. Otherwise the library must be there.
        assumeTrue(core != null || ops != null, "native code not built (-DskipNative)");
        assertTrue(ops != null, "libtessera.so was built but libtessera_ortops.so was not (see the cmake output)");
        assertEquals("file", ops.getProtocol(), "the library must be a file under target/classes: " + ops);
        lib = Path.of(ops.toURI());
    }

    // ---- graphs ---------------------------------------------------------------------------------------------

    /** qkv [T, 3H] float + cu_seqlens [B+1] int64 -> UnpaddedAlibiAttention -> out. */
    static OnnxMl.ModelProto attentionModel(int hidden, AttributeProto... attrs) {
        GraphBuilder g = new GraphBuilder("tessera_attention");
        g.input("qkv", GraphBuilder.FLOAT, "T", 3 * hidden);
        g.input("cu_seqlens", GraphBuilder.INT64, "B_plus_1");
        g.node("tessera", "out", "UnpaddedAlibiAttention", List.of("qkv", "cu_seqlens"), attrs);
        return withUnshapedOutput(g.model(17, "tessera-test", "UnpaddedAlibiAttention"), "out");
    }

    static OnnxMl.ModelProto poolModel(int hidden) {
        GraphBuilder g = new GraphBuilder("tessera_pool");
        g.input("h", GraphBuilder.FLOAT, "T", hidden);
        g.input("cu_seqlens", GraphBuilder.INT64, "B_plus_1");
        g.node("tessera", "pooled", "PackedMeanPool", List.of("h", "cu_seqlens"));
        return withUnshapedOutput(g.model(17, "tessera-test", "PackedMeanPool"), "pooled");
    }

    static OnnxMl.ModelProto gegluModel(int inter) {
        GraphBuilder g = new GraphBuilder("tessera_geglu");
        g.input("x", GraphBuilder.FLOAT, "T", 2 * inter);
        g.node("tessera", "y", "GeGLU", List.of("x"));
        return withUnshapedOutput(g.model(17, "tessera-test", "GeGLU"), "y");
    }

    /** The same GeGLU with ORT's own ops: Split, com.microsoft Gelu (exact erf), Mul. */
    static OnnxMl.ModelProto gegluOrtModel(int inter) {
        GraphBuilder g = new GraphBuilder("ort_geglu");
        g.input("x", GraphBuilder.FLOAT, "T", 2 * inter);
        String split = g.constInt64("split", inter, inter);
        g.node("split_node", "Split", List.of("x", split), List.of("gate", "value"), GraphBuilder.intAttr("axis", 1));
        g.node("com.microsoft", "gelu", "Gelu", List.of("gate"));
        g.node("y", "Mul", List.of("gelu", "value"));
        g.output("y", GraphBuilder.FLOAT, "T", inter);
        return g.model(17, "tessera-test", "Split+Gelu+Mul");
    }

    /** Declares {@code name} as graph output with an element type but no shape: ORT then fills in what the op's
     *  shape inference says (visible in the session's output info). */
    static OnnxMl.ModelProto withUnshapedOutput(OnnxMl.ModelProto m, String name) {
        OnnxMl.ValueInfoProto out = OnnxMl.ValueInfoProto.newBuilder().setName(name).setType(OnnxMl.TypeProto.newBuilder()
                .setTensorType(OnnxMl.TypeProto.Tensor.newBuilder().setElemType(GraphBuilder.FLOAT))).build();
        OnnxMl.ModelProto.Builder b = m.toBuilder();
        b.getGraphBuilder().addOutput(out);
        return b.build();
    }

    static OrtSession session(OnnxMl.ModelProto m, int threads) throws OrtException {
        try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
            o.registerCustomOpLibrary(lib.toString());
            o.setIntraOpNumThreads(threads);
            return ENV.createSession(m.toByteArray(), o);
        }
    }

    /** Runs a session on (name -> float[] with shape) / (name -> long[]) inputs; returns output 0. */
    static float[] run(OrtSession s, Map<String, Object[]> inputs, long[] expectShape) throws OrtException {
        Map<String, OnnxTensor> in = new HashMap<>();
        try {
            for (var e : inputs.entrySet()) {
                Object data = e.getValue()[0];
                long[] shape = (long[]) e.getValue()[1];
                in.put(e.getKey(), data instanceof float[] f
                        ? OnnxTensor.createTensor(ENV, FloatBuffer.wrap(f), shape)
                        : OnnxTensor.createTensor(ENV, LongBuffer.wrap((long[]) data), shape));
            }
            try (OrtSession.Result r = s.run(in)) {
                OnnxTensor t = (OnnxTensor) r.get(0);
                if (expectShape != null) assertArrayEquals(expectShape, t.getInfo().getShape(), "output shape");
                FloatBuffer fb = t.getFloatBuffer();
                float[] out = new float[fb.remaining()];
                fb.get(out);
                return out;
            }
        } finally {
            for (OnnxTensor t : in.values()) t.close();
        }
    }

    // ---- references (double precision, from the contracts) -----------------------------------------------

    /** ALiBi slopes, DESIGN.md §3: powers of two 2^(-8(k+1)/n); otherwise those of p = 2^floor(log2 n) heads, then
     *  the even-indexed slopes of 2p heads. */
    static double[] slopes(int n) {
        int p = Integer.highestOneBit(n);
        double[] s = new double[n];
        for (int k = 0; k < p; k++) s[k] = Math.pow(2, -8.0 * (k + 1) / p);
        double[] s2 = new double[2 * p];
        for (int k = 0; k < 2 * p; k++) s2[k] = Math.pow(2, -8.0 * (k + 1) / (2 * p));
        for (int i = 0; i < n - p; i++) s[p + i] = s2[2 * i];
        return s;
    }

    static double[] refAttention(float[] qkv, long[] cu, int heads, int hidden, boolean alibi, double scale) {
        int d = hidden / heads, ld = 3 * hidden;
        int T = (int) cu[cu.length - 1];
        double[] out = new double[T * hidden];
        double[] sl = slopes(heads);
        for (int b = 0; b + 1 < cu.length; b++) {
            int s0 = (int) cu[b], L = (int) (cu[b + 1] - cu[b]);
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < L; i++) {
                    double[] sc = new double[L];
                    double mx = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < L; j++) {
                        double dot = 0;
                        for (int c = 0; c < d; c++)
                            dot += (double) qkv[(s0 + i) * ld + h * d + c] * qkv[(s0 + j) * ld + hidden + h * d + c];
                        sc[j] = dot * scale - (alibi ? sl[h] * Math.abs(i - j) : 0);
                        mx = Math.max(mx, sc[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < L; j++) sum += sc[j] = Math.exp(sc[j] - mx);
                    for (int c = 0; c < d; c++) {
                        double acc = 0;
                        for (int j = 0; j < L; j++) acc += sc[j] * qkv[(s0 + j) * ld + 2 * hidden + h * d + c];
                        out[(s0 + i) * hidden + h * d + c] = acc / sum;
                    }
                }
            }
        }
        return out;
    }

    /** erf by its Maclaurin series (|x| <= 3.5 here: terms below 1e-17 well before n = 120; cancellation costs
     *  ~6 of double's 16 digits), ±1 beyond 6 (erfc(6) ~ 2e-17). */
    static double erf(double x) {
        if (Math.abs(x) > 6) return Math.signum(x);
        double term = x, sum = x;
        for (int n = 1; n < 200 && Math.abs(term) > 1e-18 * Math.abs(sum); n++) {
            term *= -x * x / n;
            sum += term / (2 * n + 1);
        }
        return 2 / Math.sqrt(Math.PI) * sum;
    }

    static double gelu(double x) {
        return 0.5 * x * (1 + erf(x / Math.sqrt(2)));
    }

    // ---- helpers ------------------------------------------------------------------------------------------

    static long[] cuSeqlens(int... lengths) {
        long[] cu = new long[lengths.length + 1];
        for (int i = 0; i < lengths.length; i++) cu[i + 1] = cu[i] + lengths[i];
        return cu;
    }

    static float[] uniform(Random r, int n, float amp) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (r.nextFloat() * 2 - 1) * amp;
        return x;
    }

    /** max |got - ref| / max(1, |ref|), asserted <= TOL. */
    static double assertClose(String what, double[] ref, float[] got) {
        assertEquals(ref.length, got.length, what + ": length");
        double worst = 0;
        int at = -1;
        for (int i = 0; i < ref.length; i++) {
            assertTrue(Float.isFinite(got[i]), what + ": non-finite at " + i);
            double e = Math.abs(got[i] - ref[i]) / Math.max(1, Math.abs(ref[i]));
            if (e > worst) {
                worst = e;
                at = i;
            }
        }
        System.out.printf(Locale.ROOT, "%s: max scaled error %.3g%n", what, worst);
        final int idx = at;
        final double w = worst;
        assertTrue(w <= TOL, () -> what + ": error " + w + " at " + idx + " (ref " + ref[idx] + ", got " + got[idx] + ")");
        return w;
    }

    static Map<String, Object[]> inputs(Object... kv) {
        Map<String, Object[]> m = new HashMap<>();
        for (int i = 0; i < kv.length; i += 3) m.put((String) kv[i], new Object[] {kv[i + 1], kv[i + 2]});
        return m;
    }

    void checkAttention(String what, int heads, int hidden, boolean alibi, Float scale, int threads, int... lengths)
            throws OrtException {
        long[] cu = cuSeqlens(lengths);
        int T = (int) cu[cu.length - 1];
        float[] qkv = uniform(new Random(what.hashCode()), T * 3 * hidden, 1f);
        List<AttributeProto> attrs = new ArrayList<>(List.of(GraphBuilder.intAttr("num_heads", heads)));
        if (!alibi) attrs.add(GraphBuilder.intAttr("alibi", 0));
        if (scale != null) attrs.add(GraphBuilder.floatAttr("scale", scale));
        double sc = scale != null ? scale : 1 / Math.sqrt((double) hidden / heads);
        try (OrtSession s = session(attentionModel(hidden, attrs.toArray(AttributeProto[]::new)), threads)) {
            float[] out = run(s, inputs("qkv", qkv, new long[] {T, 3L * hidden}, "cu_seqlens", cu, new long[] {cu.length}),
                    new long[] {T, hidden});
            assertClose(what, refAttention(qkv, cu, heads, hidden, alibi, sc), out);
        }
    }

    // ---- tests --------------------------------------------------------------------------------------------

    @Test
    void attentionMixedLengthsTwelveHeads() throws OrtException {
        // 12 heads: not a power of two (slopes 1/2..1/256, then 2^-0.5..2^-3.5); hidden 384, head_dim 32
        checkAttention("attention 12 heads, lengths 1/7/128/300", 12, 384, true, null, 2, 1, 7, 128, 300);
    }

    @Test
    void attentionWithoutAlibi() throws OrtException {
        checkAttention("attention alibi=0", 4, 64, false, null, 2, 3, 130, 1, 17);
    }

    @Test
    void attentionSingleSequenceExplicitScale() throws OrtException {
        checkAttention("attention single sequence, scale 0.3, 8 heads", 8, 128, true, 0.3f, 1, 77);
    }

    @Test
    void attentionManySequencesWithEmptyOnes() throws OrtException {
        Random r = new Random(7);
        int[] lengths = new int[300];
        for (int i = 0; i < lengths.length; i++) lengths[i] = r.nextInt(12); // includes empty sequences
        checkAttention("attention B=300 (lengths 0..11), 3 heads, head_dim 5", 3, 15, true, null, 2, lengths);
    }

    @Test
    void attentionThreadCountDoesNotChangeResults() throws OrtException {
        long[] cu = cuSeqlens(40, 9, 64);
        int T = (int) cu[cu.length - 1], hidden = 96;
        float[] qkv = uniform(new Random(3), T * 3 * hidden, 1f);
        float[][] outs = new float[2][];
        for (int t = 1; t <= 2; t++)
            try (OrtSession s = session(attentionModel(hidden, GraphBuilder.intAttr("num_heads", 6)), t)) {
                outs[t - 1] = run(s, inputs("qkv", qkv, new long[] {T, 3L * hidden}, "cu_seqlens", cu,
                        new long[] {cu.length}), null);
            }
        assertArrayEquals(outs[0], outs[1]);
    }

    @Test
    void shapeInference() throws OrtException {
        try (OrtSession s = session(attentionModel(384, GraphBuilder.intAttr("num_heads", 12)), 1)) {
            TensorInfo info = (TensorInfo) s.getOutputInfo().get("out").getInfo();
            assertArrayEquals(new long[] {-1, 384}, info.getShape());
            assertEquals("T", info.getDimensionNames()[0]);
        }
        try (OrtSession s = session(poolModel(48), 1)) {
            assertArrayEquals(new long[] {-1, 48}, ((TensorInfo) s.getOutputInfo().get("pooled").getInfo()).getShape());
        }
        try (OrtSession s = session(gegluModel(40), 1)) {
            assertArrayEquals(new long[] {-1, 40}, ((TensorInfo) s.getOutputInfo().get("y").getInfo()).getShape());
        }
        try (OrtSession s = session(poolModel(48), 1)) {
            TensorInfo info = (TensorInfo) s.getOutputInfo().get("pooled").getInfo();
            assertEquals("B_plus_1-1", info.getDimensionNames()[0]);
        }
        // a fixed qkv width that does not split into 3·num_heads columns: ORT 1.23 logs a failed custom-op shape
        // inference and carries on (even with session.strict_shape_type_inference=1), so the op refuses it at run time
        OrtException e = assertThrows(OrtException.class, () -> {
            try (OrtSession s = session(attentionModel(100, GraphBuilder.intAttr("num_heads", 12)), 1)) {
                run(s, inputs("qkv", new float[2 * 300], new long[] {2, 300}, "cu_seqlens", new long[] {0, 2},
                        new long[] {2}), null);
            }
        });
        assertTrue(e.getMessage().contains("multiple of 3·num_heads"), e.getMessage());
    }

    @Test
    void attentionBadInputs() throws OrtException {
        int hidden = 32;
        float[] qkv = uniform(new Random(1), 7 * 3 * hidden, 1f);
        long[] qkvShape = {7, 3L * hidden};
        try (OrtSession s = session(attentionModel(hidden, GraphBuilder.intAttr("num_heads", 4)), 1)) {
            Object[][] bad = {
                {new long[] {0, 3, 6}, "must equal the number of tokens T = 7"},
                {new long[] {0, 5, 3, 7}, "non-decreasing"},
                {new long[] {1, 7}, "cu_seqlens[0] = 1, must be 0"},
                {new long[] {}, "cu_seqlens must be int64[B+1]"},
            };
            for (Object[] c : bad) {
                long[] cu = (long[]) c[0];
                OrtException e = assertThrows(OrtException.class, () -> run(s,
                        inputs("qkv", qkv, qkvShape, "cu_seqlens", cu, new long[] {cu.length}), null));
                assertTrue(e.getMessage().contains("tessera.UnpaddedAlibiAttention: ")
                        && e.getMessage().contains((String) c[1]), e.getMessage());
            }
        }
        // the width is dynamic in this graph, so it is checked when the op runs
        GraphBuilder g = new GraphBuilder("dyn");
        g.input("qkv", GraphBuilder.FLOAT, "T", "W");
        g.input("cu_seqlens", GraphBuilder.INT64, "B1");
        g.node("tessera", "out", "UnpaddedAlibiAttention", List.of("qkv", "cu_seqlens"),
                GraphBuilder.intAttr("num_heads", 4));
        try (OrtSession s = session(withUnshapedOutput(g.model(17, "t", "t"), "out"), 1)) {
            OrtException e = assertThrows(OrtException.class, () -> run(s,
                    inputs("qkv", new float[7 * 30], new long[] {7, 30}, "cu_seqlens", new long[] {0, 7}, new long[] {2}), null));
            assertTrue(e.getMessage().contains("qkv has 30 columns"), e.getMessage());
        }
        OrtException e = assertThrows(OrtException.class, () -> session(attentionModel(hidden), 1).close());
        assertTrue(e.getMessage().contains("num_heads"), e.getMessage());
    }

    @Test
    void packedMeanPool() throws OrtException {
        int hidden = 48;
        long[] cu = cuSeqlens(1, 7, 0, 128, 300);
        int T = (int) cu[cu.length - 1], B = cu.length - 1;
        float[] h = uniform(new Random(11), T * hidden, 1f);
        double[] ref = new double[B * hidden];
        for (int b = 0; b < B; b++)
            for (long t = cu[b]; t < cu[b + 1]; t++)
                for (int c = 0; c < hidden; c++) ref[b * hidden + c] += h[(int) t * hidden + c] / (double) (cu[b + 1] - cu[b]);
        try (OrtSession s = session(poolModel(hidden), 2)) {
            float[] out = run(s, inputs("h", h, new long[] {T, hidden}, "cu_seqlens", cu, new long[] {cu.length}),
                    new long[] {B, hidden});
            assertClose("mean pool", ref, out);
            for (int c = 0; c < hidden; c++) assertEquals(0f, out[2 * hidden + c], "empty sequence pools to zeros");
            OrtException e = assertThrows(OrtException.class, () -> run(s,
                    inputs("h", h, new long[] {T, hidden}, "cu_seqlens", new long[] {0, 5}, new long[] {2}), null));
            assertTrue(e.getMessage().contains("tessera.PackedMeanPool: cu_seqlens[B] = 5"), e.getMessage());
        }
    }

    @Test
    void geglu() throws OrtException {
        int T = 37, inter = 45; // 45: a vector tail
        float[] x = uniform(new Random(5), T * 2 * inter, 4f);
        double[] ref = new double[T * inter];
        for (int t = 0; t < T; t++)
            for (int c = 0; c < inter; c++)
                ref[t * inter + c] = gelu(x[t * 2 * inter + c]) * x[t * 2 * inter + inter + c];
        try (OrtSession s = session(gegluModel(inter), 2)) {
            assertClose("geglu", ref, run(s, inputs("x", x, new long[] {T, 2L * inter}), new long[] {T, inter}));
        }
        // the reference itself, against known values of erf
        assertEquals(0.8427007929497149, erf(1), 1e-15);
        assertEquals(0.9999779095030014, erf(3), 1e-12);
    }

    /**
     * The tessera int8 form: MatMul(x, W) + bias rewritten by {@link DynamicQuantization} into QuantizeRows →
     * MatMulInteger → DequantizeRows, against a reference computed here in integer arithmetic (per-row asymmetric
     * uint8 x, per-column int8 W): the ops must match it to float rounding. Rows include an all-zero one, an
     * all-positive one and one with an outlier 1000× the rest, whose coarse grid must not leak into other rows.
     */
    @Test
    void rowQuantizedMatMul() throws OrtException {
        int T = 6, K = 70, N = 19; // 70, 19: vector tails
        Random r = new Random(7);
        float[] x = uniform(r, T * K, 2f), w = uniform(r, K * N, 0.5f), bias = uniform(r, N, 1f);
        for (int k = 0; k < K; k++) x[K + k] = 0; // row 1: all zero
        for (int k = 0; k < K; k++) x[2 * K + k] = Math.abs(x[2 * K + k]); // row 2: min 0
        x[3 * K + 5] = 2000f; // row 3: one outlier
        GraphBuilder g = new GraphBuilder("rows");
        g.input("x", GraphBuilder.FLOAT, "T", K);
        String wName = g.initializer(DynamicQuantization.ENCODER_PREFIX + "0.output.dense.weight", new dev.tessera.model.Tensor(new int[] {K, N}, w));
        String bName = g.initializer(DynamicQuantization.ENCODER_PREFIX + "0.output.dense.bias", new dev.tessera.model.Tensor(new int[] {N}, bias));
        g.node("xw", "MatMul", List.of("x", wName));
        g.node("y", "Add", List.of("xw", bName));
        g.output("y", GraphBuilder.FLOAT, "T", N);
        OnnxMl.ModelProto m = DynamicQuantization.apply(g.model(17, "tessera-test", "rows"), DynamicQuantization.Form.PER_ROW);
        assertEquals(List.of("QuantizeRows", "MatMulInteger", "DequantizeRows"), m.getGraph().getNodeList().stream().map(OnnxMl.NodeProto::getOpType).toList());

        DynamicQuantization.QuantizedWeight qw = DynamicQuantization.quantize(w, K, N);
        double[] ref = new double[T * N];
        for (int t = 0; t < T; t++) {
            double lo = 0, hi = 0;
            for (int k = 0; k < K; k++) {
                lo = Math.min(lo, x[t * K + k]);
                hi = Math.max(hi, x[t * K + k]);
            }
            float scale = hi > lo ? (float) ((hi - lo) / 255) : 1f;
            long zp = Math.max(0, Math.min(255, Math.round(Math.rint(-lo / scale))));
            for (int n = 0; n < N; n++) {
                long acc = 0;
                for (int k = 0; k < K; k++) {
                    long q = Math.max(0, Math.min(255, (long) Math.rint(x[t * K + k] * (1f / scale)) + zp));
                    acc += (q - zp) * qw.q()[k * N + n];
                }
                ref[t * N + n] = acc * (double) scale * qw.scale()[n] + bias[n];
            }
        }
        float[] out;
        try (OrtSession s = session(m, 2)) {
            out = run(s, inputs("x", x, new long[] {T, K}), new long[] {T, N});
        }
        for (int i = 0; i < ref.length; i++) assertEquals(ref[i], out[i], 1e-4 * Math.max(1, Math.abs(ref[i])), "element " + i);
        // and close to the float product: rows without the outlier within a few grid steps
        for (int t = 0; t < T; t++) {
            if (t == 3) continue;
            for (int n = 0; n < N; n++) {
                double exact = bias[n];
                for (int k = 0; k < K; k++) exact += (double) x[t * K + k] * w[k * N + n];
                assertEquals(exact, out[t * N + n], 0.05, "row " + t + " col " + n + " vs float");
            }
        }
    }

    /** Writes a tiny tessera-dialect model, its inputs and expected outputs for cuda-ext/tests/node/run.mjs. */
    @Test
    void writeNodeSmokeModel() throws OrtException, IOException {
        int heads = 2, hidden = 8;
        long[] cu = cuSeqlens(3, 1, 4);
        int T = (int) cu[cu.length - 1];
        float[] qkv = uniform(new Random(42), T * 3 * hidden, 1f);
        GraphBuilder g = new GraphBuilder("tessera_smoke");
        g.input("qkv", GraphBuilder.FLOAT, "T", 3 * hidden);
        g.input("cu_seqlens", GraphBuilder.INT64, "B_plus_1");
        g.node("tessera", "attn", "UnpaddedAlibiAttention", List.of("qkv", "cu_seqlens"),
                GraphBuilder.intAttr("num_heads", heads));
        g.node("tessera", "pooled", "PackedMeanPool", List.of("attn", "cu_seqlens"));
        g.output("pooled", GraphBuilder.FLOAT, "B", hidden);
        OnnxMl.ModelProto m = g.model(17, "tessera-test", "node smoke test");
        float[] out;
        try (OrtSession s = session(m, 1)) {
            out = run(s, inputs("qkv", qkv, new long[] {T, 3L * hidden}, "cu_seqlens", cu, new long[] {cu.length}),
                    new long[] {cu.length - 1, hidden});
        }
        Path dir = Path.of("target");
        Files.createDirectories(dir);
        Files.write(dir.resolve("tessera-ops-smoke.onnx"), m.toByteArray());
        String json = "{\n  \"inputs\": {\n    \"qkv\": {\"type\": \"float32\", \"dims\": [" + T + ", " + 3 * hidden
                + "], \"data\": " + Arrays.toString(qkv) + "},\n    \"cu_seqlens\": {\"type\": \"int64\", \"dims\": ["
                + cu.length + "], \"data\": " + Arrays.toString(cu) + "}\n  },\n  \"expected\": {\"pooled\": {\"dims\": ["
                + (cu.length - 1) + ", " + hidden + "], \"data\": " + Arrays.toString(out) + "}}\n}\n";
        Files.writeString(dir.resolve("tessera-ops-smoke.json"), json);
    }

    /** -Dtessera.bench=true: GeGLU vs ORT's Split+Gelu+Mul on [1024, 2·1536], and attention on 8×128 tokens,
     *  hidden 384, 12 heads (the threading of the op is chosen by env TSR_ORTOPS_OPENMP=1, see the README). */
    @Test
    void bench() throws OrtException {
        assumeTrue(Boolean.getBoolean("tessera.bench"), "-Dtessera.bench=true");
        int threads = Integer.getInteger("tessera.bench.threads", 2);
        int T = 1024, inter = 1536;
        float[] x = uniform(new Random(9), T * 2 * inter, 3f);
        Map<String, Object[]> in = inputs("x", x, new long[] {T, 2L * inter});
        for (int round = 0; round < 2; round++) {
            try (OrtSession a = session(gegluModel(inter), threads); OrtSession b = session(gegluOrtModel(inter), threads)) {
                System.out.printf(Locale.ROOT, "bench geglu [1024, 3072] threads %d: tessera %.3f ms, ORT Split+Gelu+Mul %.3f ms%n",
                        threads, time(a, in, 200), time(b, in, 200));
            }
        }
        long[] cu = cuSeqlens(128, 128, 128, 128, 128, 128, 128, 128);
        int hidden = 384;
        float[] qkv = uniform(new Random(2), 1024 * 3 * hidden, 1f);
        Map<String, Object[]> ain = inputs("qkv", qkv, new long[] {1024, 3L * hidden}, "cu_seqlens", cu, new long[] {9});
        try (OrtSession a = session(attentionModel(hidden, GraphBuilder.intAttr("num_heads", 12)), threads)) {
            for (int round = 0; round < 2; round++)
                System.out.printf(Locale.ROOT, "bench attention 8x128 tokens, H 384, 12 heads, threads %d, TSR_ORTOPS_OPENMP=%s: %.3f ms%n",
                        threads, System.getenv("TSR_ORTOPS_OPENMP"), time(a, ain, 200));
        }
    }

    /** median of n runs (session.run only: the input tensors are created once), ms */
    static double time(OrtSession s, Map<String, Object[]> inputs, int n) throws OrtException {
        Map<String, OnnxTensor> in = new HashMap<>();
        try {
            for (var e : inputs.entrySet()) {
                Object data = e.getValue()[0];
                long[] shape = (long[]) e.getValue()[1];
                in.put(e.getKey(), data instanceof float[] f
                        ? OnnxTensor.createTensor(ENV, FloatBuffer.wrap(f), shape)
                        : OnnxTensor.createTensor(ENV, LongBuffer.wrap((long[]) data), shape));
            }
            for (int i = 0; i < 10; i++) s.run(in).close();
            double[] t = new double[n];
            for (int i = 0; i < n; i++) {
                long t0 = System.nanoTime();
                s.run(in).close();
                t[i] = (System.nanoTime() - t0) / 1e6;
            }
            Arrays.sort(t);
            return t[n / 2];
        } finally {
            for (OnnxTensor t : in.values()) t.close();
        }
    }
}
