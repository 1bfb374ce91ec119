package dev.tessera.model;

import java.util.Map;
import java.util.TreeMap;

/**
 * A checkpoint in memory: its config and its weights under their canonical Hugging Face names
 * ({@code bert.embeddings.word_embeddings.weight}, {@code bert.encoder.layer.0.attention.self.Wqkv.weight}, ...,
 * {@code classifier.weight}, {@code cls.predictions.*}). The tied MLM decoder weight is not stored twice:
 * {@link #decoderWeight()} returns the word embeddings when no separate decoder weight exists.
 */
public record BertModel(ModelConfig config, Map<String, Tensor> weights) {

    public BertModel {
        weights = java.util.Collections.unmodifiableMap(new TreeMap<>(weights));
    }

    public Tensor weight(String name) {
        Tensor t = weights.get(name);
        if (t == null) throw new IllegalArgumentException("missing tensor '" + name + "'");
        return t;
    }

    public boolean has(String name) { return weights.containsKey(name); }

    public Tensor decoderWeight() {
        Tensor t = weights.get("cls.predictions.decoder.weight");
        return t != null ? t : weight("bert.embeddings.word_embeddings.weight");
    }

    /** Prefix of encoder layer {@code i}: {@code bert.encoder.layer.i.}. */
    public static String layer(int i) { return "bert.encoder.layer." + i + "."; }
}
