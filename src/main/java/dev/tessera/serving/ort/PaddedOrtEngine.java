package dev.tessera.serving.ort;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.tessera.serving.Batch;
import java.nio.LongBuffer;
import java.util.Map;

/**
 * The {@code portable} and {@code ort} dialects: {@code [batch, sequence]} inputs with an attention mask, so a
 * run costs {@code size × maxLength} tokens and the batcher buckets by length.
 */
final class PaddedOrtEngine extends OrtEngine {
    PaddedOrtEngine(OrtEnvironment env, OrtSession session, Description description) {
        super(env, session, description);
    }

    @Override
    public boolean packed() { return false; }

    @Override
    Map<String, OnnxTensor> inputs(Batch batch) throws OrtException {
        int b = batch.size(), len = batch.maxLength();
        long[] ids = new long[b * len], types = new long[b * len], mask = new long[b * len];
        for (int i = 0; i < b; i++) {
            int from = batch.offsets()[i], n = batch.length(i);
            System.arraycopy(batch.ids(), from, ids, i * len, n);
            System.arraycopy(batch.typeIds(), from, types, i * len, n);
            for (int j = 0; j < n; j++) mask[i * len + j] = 1;
        }
        long[] shape = {b, len};
        return Map.of("input_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(ids), shape),
                "attention_mask", OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape),
                "token_type_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(types), shape));
    }
}
