package dev.tessera.hf;

import dev.tessera.model.BertModel;
import dev.tessera.model.Head;
import dev.tessera.model.ModelConfig;
import dev.tessera.model.Tensor;
import dev.tessera.model.Variant;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/** The tensors (canonical names, shapes) each variant and head needs. */
public final class WeightSpec {
    private WeightSpec() {}

    /** Required tensor name → shape, in a stable order. The tied decoder weight is not required. */
    public static Map<String, int[]> required(ModelConfig c) {
        int d = c.hiddenSize(), in = c.intermediateSize(), v = c.vocabSize();
        Map<String, int[]> s = new LinkedHashMap<>();
        s.put("bert.embeddings.word_embeddings.weight", new int[] {v, d});
        s.put("bert.embeddings.token_type_embeddings.weight", new int[] {c.typeVocabSize(), d});
        if (c.variant() == Variant.BERT) {
            s.put("bert.embeddings.position_embeddings.weight", new int[] {c.maxPositionEmbeddings(), d});
        }
        layerNorm(s, "bert.embeddings.LayerNorm", d);
        for (int i = 0; i < c.numLayers(); i++) {
            String p = BertModel.layer(i);
            if (c.variant() == Variant.MOSAIC_BERT) {
                linear(s, p + "attention.self.Wqkv", 3 * d, d);
            } else {
                for (String n : new String[] {"query", "key", "value"}) linear(s, p + "attention.self." + n, d, d);
            }
            linear(s, p + "attention.output.dense", d, d);
            layerNorm(s, p + "attention.output.LayerNorm", d);
            if (c.variant() == Variant.MOSAIC_BERT) {
                s.put(p + "mlp.gated_layers.weight", new int[] {2 * in, d});
                linear(s, p + "mlp.wo", d, in);
                layerNorm(s, p + "mlp.layernorm", d);
            } else {
                linear(s, p + "intermediate.dense", in, d);
                linear(s, p + "output.dense", d, in);
                layerNorm(s, p + "output.LayerNorm", d);
            }
        }
        if (c.head() == Head.CLASSIFICATION || c.head() == Head.REGRESSION) {
            linear(s, "bert.pooler.dense", d, d);
            linear(s, "classifier", c.numLabels(), d);
        } else if (c.head() == Head.MLM) {
            linear(s, "cls.predictions.transform.dense", d, d);
            layerNorm(s, "cls.predictions.transform.LayerNorm", d);
            s.put("cls.predictions.decoder.bias", new int[] {v});
        }
        return s;
    }

    /** Tensors that may be present and are kept when they are (with their expected shapes). */
    static Map<String, int[]> optional(ModelConfig c) {
        int d = c.hiddenSize();
        Map<String, int[]> s = new LinkedHashMap<>();
        if (c.head() == Head.MLM || c.head() == Head.NONE) linear(s, "bert.pooler.dense", d, d);
        if (c.head() == Head.MLM) s.put("cls.predictions.decoder.weight", new int[] {c.vocabSize(), d});
        return s;
    }

    /**
     * Checks shapes and keeps the known tensors; unknown keys (an old alibi buffer, position_ids, ...) are dropped.
     * A decoder weight equal to the word embeddings is dropped too: {@link BertModel#decoderWeight()} re-ties it.
     */
    static Map<String, Tensor> select(ModelConfig c, Map<String, Tensor> w) {
        Map<String, Tensor> out = new TreeMap<>();
        for (var e : required(c).entrySet()) {
            Tensor t = w.get(e.getKey());
            if (t == null) {
                throw new CheckpointFormatException("missing tensor '" + e.getKey() + "' (expected shape "
                        + Arrays.toString(e.getValue()) + ") for a " + c.variant() + " checkpoint with head " + c.head());
            }
            out.put(e.getKey(), checked(e.getKey(), e.getValue(), t));
        }
        for (var e : optional(c).entrySet()) {
            Tensor t = w.get(e.getKey());
            if (t != null) out.put(e.getKey(), checked(e.getKey(), e.getValue(), t));
        }
        Tensor dec = out.get("cls.predictions.decoder.weight");
        if (dec != null) {
            float[] emb = out.get("bert.embeddings.word_embeddings.weight").data();
            if (dec.data() == emb || Arrays.equals(dec.data(), emb)) out.remove("cls.predictions.decoder.weight");
        }
        return out;
    }

    private static Tensor checked(String name, int[] expected, Tensor t) {
        if (!t.hasShape(expected)) {
            throw new CheckpointFormatException("tensor '" + name + "' has shape " + Arrays.toString(t.shape())
                    + ", expected " + Arrays.toString(expected));
        }
        return t;
    }

    private static void linear(Map<String, int[]> s, String p, int out, int in) {
        s.put(p + ".weight", new int[] {out, in});
        s.put(p + ".bias", new int[] {out});
    }

    private static void layerNorm(Map<String, int[]> s, String p, int d) {
        s.put(p + ".weight", new int[] {d});
        s.put(p + ".bias", new int[] {d});
    }
}
