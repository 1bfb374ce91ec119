package dev.tessera.serving.ort;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.tessera.serving.Batch;
import dev.tessera.serving.Engine;
import dev.tessera.serving.Output;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/** An ONNX Runtime session behind the {@link Engine} seam; subclasses lay the batch out as their graph wants. */
abstract sealed class OrtEngine implements Engine permits PaddedOrtEngine, PackedOrtEngine {
    protected final OrtEnvironment env;
    private final OrtSession session;
    private final Description description;

    OrtEngine(OrtEnvironment env, OrtSession session, Description description) {
        this.env = env;
        this.session = session;
        this.description = description;
    }

    /** The graph's inputs for this batch; the caller closes them. */
    abstract Map<String, OnnxTensor> inputs(Batch batch) throws OrtException;

    @Override
    public final Result run(Batch batch) throws OrtException {
        Set<String> wanted = new HashSet<>();
        boolean sparse = batch.outputs().contains(Output.SPARSE); // per-token MLM logits, pooled here
        if (batch.outputs().contains(Output.LOGITS) || sparse) wanted.add("logits");
        if (batch.outputs().contains(Output.EMBEDDING)) wanted.add("sentence_embedding");
        if (batch.outputs().contains(Output.TOKENS)) wanted.add("last_hidden_state");
        Map<String, OnnxTensor> inputs = inputs(batch);
        try (OrtSession.Result result = session.run(inputs, wanted)) {
            return new Result(batch.outputs().contains(Output.LOGITS) ? rows(result, "logits") : null,
                    wanted.contains("sentence_embedding") ? rows(result, "sentence_embedding") : null,
                    wanted.contains("last_hidden_state") ? tokens(batch, (OnnxTensor) result.get("last_hidden_state").orElseThrow()) : null,
                    sparse ? splade(batch, (OnnxTensor) result.get("logits").orElseThrow()) : null);
        } finally {
            for (OnnxTensor t : inputs.values()) t.close();
        }
    }

    /**
     * Each sequence's token states from {@code last_hidden_state}: {@code [T, H]} packed or {@code [B, S, H]}
     * padded (the padding rows are dropped), flattened to {@code [length × H]}.
     */
    private static float[][] tokens(Batch batch, OnnxTensor states) {
        long[] shape = states.getInfo().getShape();
        int hidden = (int) shape[shape.length - 1];
        int stride = shape.length == 3 ? (int) shape[1] * hidden : -1; // padded: one [S, H] block per sequence
        java.nio.FloatBuffer all = states.getFloatBuffer();
        float[][] out = new float[batch.size()][];
        for (int i = 0; i < batch.size(); i++) {
            out[i] = new float[batch.length(i) * hidden];
            all.get(stride < 0 ? batch.offsets()[i] * hidden : i * stride, out[i]);
        }
        return out;
    }

    /**
     * SPLADE pooling of the MLM head's logits ({@code [T, V]} packed or {@code [B, S, V]} padded, padding skipped):
     * per sequence and vocabulary entry, {@code max_t log(1 + relu(logit))} = {@code log1p(max(0, max_t logit))}
     * (log1p and relu are monotonic).
     */
    static float[][] splade(Batch batch, OnnxTensor logits) {
        long[] shape = logits.getInfo().getShape();
        int vocab = (int) shape[shape.length - 1];
        int stride = shape.length == 3 ? (int) shape[1] * vocab : -1;
        java.nio.FloatBuffer all = logits.getFloatBuffer();
        float[][] out = new float[batch.size()][];
        for (int i = 0; i < batch.size(); i++) {
            float[] max = new float[vocab]; // starts at 0 = relu's floor
            int base = stride < 0 ? batch.offsets()[i] * vocab : i * stride;
            for (int t = 0; t < batch.length(i); t++) {
                int row = base + t * vocab;
                for (int v = 0; v < vocab; v++) max[v] = Math.max(max[v], all.get(row + v));
            }
            for (int v = 0; v < vocab; v++) max[v] = (float) Math.log1p(max[v]);
            out[i] = max;
        }
        return out;
    }

    private static float[][] rows(OrtSession.Result result, String name) throws OrtException {
        return (float[][]) result.get(name).orElseThrow().getValue();
    }

    @Override
    public Description description() { return description; }

    @Override
    public void close() {
        try {
            session.close();
        } catch (OrtException e) {
            throw new IllegalStateException("closing the ONNX Runtime session: " + e.getMessage(), e);
        }
    }
}
