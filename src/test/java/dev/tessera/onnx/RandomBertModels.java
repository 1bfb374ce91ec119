package dev.tessera.onnx;

import dev.tessera.model.BertModel;
import dev.tessera.model.ClassifierPooling;
import dev.tessera.model.Head;
import dev.tessera.model.ModelConfig;
import dev.tessera.model.Tensor;
import dev.tessera.model.Variant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Small seeded random models of either variant with any head, for property tests of the export. */
final class RandomBertModels {
    private RandomBertModels() {}

    static final int VOCAB = 64, HIDDEN = 24, LAYERS = 2, HEADS = 6, INTER = 40, TYPES = 2, MAX_POS = 32;

    static BertModel create(Variant variant, Head head, int numLabels, long seed) {
        return create(variant, head, numLabels, seed, new Sizes(VOCAB, HIDDEN, LAYERS, HEADS, INTER, MAX_POS));
    }

    /** Model dimensions (a MiniLM-L6 shape: {@code new Sizes(30528, 384, 6, 12, 1536, 512)}). */
    record Sizes(int vocab, int hidden, int layers, int heads, int inter, int maxPos) {}

    static BertModel create(Variant variant, Head head, int numLabels, long seed, Sizes z) {
        int vocab = z.vocab(), hidden = z.hidden(), layers = z.layers(), inter = z.inter(), maxPos = z.maxPos();
        List<String> labels = new ArrayList<>();
        for (int i = 0; i < numLabels; i++) labels.add("LABEL_" + i);
        ModelConfig cfg = new ModelConfig(variant, head, vocab, hidden, layers, z.heads(), inter, TYPES, maxPos, 1e-12,
                0, labels, head == Head.REGRESSION ? "regression" : null, "gelu", ClassifierPooling.CLS);
        Random r = new Random(seed);
        Map<String, Tensor> w = new HashMap<>();
        String e = "bert.embeddings.";
        w.put(e + "word_embeddings.weight", rand(r, 0.5f, vocab, hidden));
        w.put(e + "token_type_embeddings.weight", rand(r, 0.5f, TYPES, hidden));
        if (variant == Variant.BERT) w.put(e + "position_embeddings.weight", rand(r, 0.5f, maxPos, hidden));
        layerNorm(w, r, e + "LayerNorm", hidden);
        for (int i = 0; i < layers; i++) {
            String p = BertModel.layer(i);
            if (variant == Variant.MOSAIC_BERT) {
                linear(w, r, p + "attention.self.Wqkv", 3 * hidden, hidden, true);
                linear(w, r, p + "mlp.gated_layers", 2 * inter, hidden, false);
                linear(w, r, p + "mlp.wo", hidden, inter, true);
                layerNorm(w, r, p + "mlp.layernorm", hidden);
            } else {
                for (String s : List.of("query", "key", "value")) linear(w, r, p + "attention.self." + s, hidden, hidden, true);
                linear(w, r, p + "intermediate.dense", inter, hidden, true);
                linear(w, r, p + "output.dense", hidden, inter, true);
                layerNorm(w, r, p + "output.LayerNorm", hidden);
            }
            linear(w, r, p + "attention.output.dense", hidden, hidden, true);
            layerNorm(w, r, p + "attention.output.LayerNorm", hidden);
        }
        switch (head) {
            case CLASSIFICATION, REGRESSION -> {
                linear(w, r, "bert.pooler.dense", hidden, hidden, true);
                linear(w, r, "classifier", numLabels, hidden, true);
            }
            case MLM -> {
                linear(w, r, "cls.predictions.transform.dense", hidden, hidden, true);
                layerNorm(w, r, "cls.predictions.transform.LayerNorm", hidden);
                w.put("cls.predictions.decoder.bias", rand(r, 0.1f, vocab));
            }
            case NONE -> { }
        }
        return new BertModel(cfg, w);
    }

    private static void linear(Map<String, Tensor> w, Random r, String p, int out, int in, boolean bias) {
        w.put(p + ".weight", rand(r, (float) (1 / Math.sqrt(in)), out, in));
        if (bias) w.put(p + ".bias", rand(r, 0.1f, out));
    }

    private static void layerNorm(Map<String, Tensor> w, Random r, String p, int hidden) {
        Tensor g = rand(r, 0.1f, hidden);
        for (int i = 0; i < hidden; i++) g.data()[i] += 1f;
        w.put(p + ".weight", g);
        w.put(p + ".bias", rand(r, 0.1f, hidden));
    }

    static Tensor rand(Random r, float std, int... shape) {
        Tensor t = Tensor.zeros(shape);
        for (int i = 0; i < t.data().length; i++) t.data()[i] = (float) (r.nextGaussian() * std);
        return t;
    }
}
