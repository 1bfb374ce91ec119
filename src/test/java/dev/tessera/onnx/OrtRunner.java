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

/** Runs an ONNX model on ONNX Runtime's CPU provider with BERT's three int64 inputs. */
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
            session = env.createSession(model, opts);
        }
    }

    OrtRunner(String modelPath) throws OrtException {
        try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
            opts.setIntraOpNumThreads(1);
            session = env.createSession(modelPath, opts);
        }
    }

    OrtSession session() { return session; }

    Map<String, Out> run(long[][] ids, long[][] mask, long[][] types) throws OrtException {
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
