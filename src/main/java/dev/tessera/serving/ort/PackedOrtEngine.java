package dev.tessera.serving.ort;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.tessera.serving.Batch;
import java.nio.LongBuffer;
import java.util.HashMap;
import java.util.Map;

/**
 * The {@code tessera} dialect: the batch goes in packed ({@code input_ids [T]}, {@code cu_seqlens [B+1]}), so a
 * mixed-length run costs Σ Lᵢ tokens (Σ Lᵢ² in attention), not B·max(L)². Classic BERT also gets
 * {@code position_ids [T]} (each sequence counts from 0).
 */
final class PackedOrtEngine extends OrtEngine {
    private final boolean positions;

    PackedOrtEngine(OrtEnvironment env, OrtSession session, Description description, boolean positions) {
        super(env, session, description);
        this.positions = positions;
    }

    @Override
    public boolean packed() { return true; }

    @Override
    Map<String, OnnxTensor> inputs(Batch batch) throws OrtException {
        int t = batch.tokens();
        long[] cu = new long[batch.size() + 1];
        for (int i = 0; i < cu.length; i++) cu[i] = batch.offsets()[i];
        Map<String, OnnxTensor> in = new HashMap<>();
        in.put("input_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(batch.ids()), new long[] {t}));
        in.put("token_type_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(batch.typeIds()), new long[] {t}));
        in.put("cu_seqlens", OnnxTensor.createTensor(env, LongBuffer.wrap(cu), new long[] {cu.length}));
        if (positions) {
            long[] pos = new long[t];
            for (int i = 0; i < batch.size(); i++) {
                for (int j = 0, from = batch.offsets()[i]; j < batch.length(i); j++) pos[from + j] = j;
            }
            in.put("position_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(pos), new long[] {t}));
        }
        return in;
    }
}
