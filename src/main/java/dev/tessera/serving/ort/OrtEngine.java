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
        if (batch.outputs().contains(Output.LOGITS)) wanted.add("logits");
        if (batch.outputs().contains(Output.EMBEDDING)) wanted.add("sentence_embedding");
        Map<String, OnnxTensor> inputs = inputs(batch);
        try (OrtSession.Result result = session.run(inputs, wanted)) {
            return new Result(wanted.contains("logits") ? rows(result, "logits") : null,
                    wanted.contains("sentence_embedding") ? rows(result, "sentence_embedding") : null);
        } finally {
            for (OnnxTensor t : inputs.values()) t.close();
        }
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
