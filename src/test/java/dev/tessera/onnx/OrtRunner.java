package dev.tessera.onnx;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.HashMap;
import java.util.Map;

/**
 * Runs an ONNX model on ONNX Runtime's CPU provider with BERT's three int64 inputs. A {@code tessera}-dialect
 * graph (packed tokens, custom ops) is given the same padded cases packed, and its per-token outputs come back
 * unpacked to {@code [B, S, ...]} with zeros at padded positions, so every dialect is compared the same way.
 */
final class OrtRunner implements AutoCloseable {
    /** An output: flat row-major values and shape. */
    record Out(float[] data, long[] shape) {}

    private final OrtEnvironment env = OrtEnvironment.getEnvironment();
    private final OrtSession session;

    OrtRunner(byte[] model) throws OrtException {
        this(model, true);
    }

    /** {@code optimize=false} runs every node as written (no fusion), as a plain runtime would. */
    OrtRunner(byte[] model, boolean optimize) throws OrtException {
        try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
            opts.setIntraOpNumThreads(1);
            if (!optimize) opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.NO_OPT);
            opts.registerCustomOpLibrary(opsLibrary());
            session = env.createSession(model, opts);
        }
    }

    /** libtessera_ortops.so as the build wrote it (the tessera dialect needs it; the others ignore it). */
    static String opsLibrary() {
        return dev.tessera.serving.ort.OrtOpsLibrary.path().orElseThrow(() -> new AssertionError(
                "libtessera_ortops.so is not on the test classpath: cuda-ext was built without the ONNX Runtime headers"))
                .toString();
    }

    boolean packed() { return session.getInputNames().contains("cu_seqlens"); }

    OrtRunner(String modelPath) throws OrtException {
        try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
            opts.setIntraOpNumThreads(1);
            session = env.createSession(modelPath, opts);
        }
    }

    OrtSession session() { return session; }

    Map<String, Out> run(long[][] ids, long[][] mask, long[][] types) throws OrtException {
        if (packed()) return runPacked(ids, mask, types);
        Map<String, OnnxTensor> in = new HashMap<>();
        try {
            in.put("input_ids", tensor(ids));
            in.put("attention_mask", tensor(mask));
            in.put("token_type_ids", tensor(types));
            Map<String, Out> out = new HashMap<>();
            try (OrtSession.Result r = session.run(in)) {
                for (Map.Entry<String, OnnxValue> e : r) {
                    OnnxTensor t = (OnnxTensor) e.getValue();
                    FloatBuffer fb = t.getFloatBuffer();
                    float[] data = new float[fb.remaining()];
                    fb.get(data);
                    out.put(e.getKey(), new Out(data, t.getInfo().getShape()));
                }
            }
            return out;
        } finally {
            for (OnnxTensor t : in.values()) t.close();
        }
    }

    /** Packs the unmasked tokens of each row, runs, and scatters per-token outputs back to [B, S, ...]. */
    private Map<String, Out> runPacked(long[][] ids, long[][] mask, long[][] types) throws OrtException {
        int b = ids.length, s = ids[0].length;
        long[] cu = new long[b + 1];
        for (int i = 0; i < b; i++) {
            int len = 0;
            for (long m : mask[i]) len += (int) m;
            cu[i + 1] = cu[i] + len;
        }
        int t = (int) cu[b];
        long[] pIds = new long[t], pTypes = new long[t], pos = new long[t];
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < cu[i + 1] - cu[i]; j++) {
                pIds[(int) cu[i] + j] = ids[i][j];
                pTypes[(int) cu[i] + j] = types[i][j];
                pos[(int) cu[i] + j] = j;
            }
        }
        Map<String, OnnxTensor> in = new HashMap<>();
        try {
            in.put("input_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(pIds), new long[] {t}));
            in.put("token_type_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(pTypes), new long[] {t}));
            in.put("cu_seqlens", OnnxTensor.createTensor(env, LongBuffer.wrap(cu), new long[] {b + 1}));
            if (session.getInputNames().contains("position_ids")) {
                in.put("position_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(pos), new long[] {t}));
            }
            Map<String, Out> out = new HashMap<>();
            try (OrtSession.Result r = session.run(in)) {
                for (Map.Entry<String, OnnxValue> e : r) {
                    OnnxTensor tensor = (OnnxTensor) e.getValue();
                    FloatBuffer fb = tensor.getFloatBuffer();
                    float[] data = new float[fb.remaining()];
                    fb.get(data);
                    long[] shape = tensor.getInfo().getShape();
                    String[] dims = ((ai.onnxruntime.TensorInfo) session.getOutputInfo().get(e.getKey()).getInfo()).getDimensionNames();
                    if (!"tokens".equals(dims[0])) {
                        out.put(e.getKey(), new Out(data, shape));
                        continue;
                    }
                    int inner = (int) (data.length / Math.max(t, 1));
                    float[] padded = new float[b * s * inner];
                    for (int i = 0; i < b; i++) {
                        System.arraycopy(data, (int) cu[i] * inner, padded, i * s * inner, (int) (cu[i + 1] - cu[i]) * inner);
                    }
                    out.put(e.getKey(), new Out(padded, new long[] {b, s, inner}));
                }
            }
            return out;
        } finally {
            for (OnnxTensor x : in.values()) x.close();
        }
    }

    private OnnxTensor tensor(long[][] v) throws OrtException {
        int b = v.length, s = v[0].length;
        LongBuffer buf = LongBuffer.allocate(b * s);
        for (long[] row : v) buf.put(row);
        buf.flip();
        return OnnxTensor.createTensor(env, buf, new long[] {b, s});
    }

    @Override
    public void close() throws OrtException {
        session.close();
    }
}
