package dev.tessera.onnx;

import static dev.tessera.onnx.GraphBuilder.floatAttr;
import static dev.tessera.onnx.GraphBuilder.intAttr;

import dev.tessera.model.BertModel;
import dev.tessera.model.ModelConfig;
import dev.tessera.model.Tensor;
import dev.tessera.model.Variant;
import java.util.Arrays;
import java.util.List;

/**
 * The building blocks every dialect writes the same way: embeddings, HF Linear layers, LayerNorm, the fused
 * Q/K/V projection, the pooler/classifier and the MLM decoder. Initializers are named after the checkpoint keys
 * they come from (a {@code .T} suffix when transposed for MatMul); {@link DynamicQuantization} relies on it.
 */
final class Blocks {
    private final GraphBuilder g;
    private final BertModel model;
    private final ModelConfig cfg;

    Blocks(GraphBuilder g, BertModel model) {
        this.g = g;
        this.model = model;
        this.cfg = model.config();
    }

    /** word + token type (+ learned position, classic BERT only) embeddings → LayerNorm. */
    String embeddings(String inputIds, String tokenTypeIds, String positionIds) {
        String p = "bert.embeddings.";
        String x = g.node("/embeddings/word", "Gather",
                List.of(g.initializer(p + "word_embeddings.weight", model.weight(p + "word_embeddings.weight")), inputIds));
        String tt = g.node("/embeddings/token_type", "Gather",
                List.of(g.initializer(p + "token_type_embeddings.weight", model.weight(p + "token_type_embeddings.weight")),
                        tokenTypeIds));
        x = g.node("/embeddings/Add", "Add", List.of(x, tt));
        if (cfg.variant() == Variant.BERT) {
            String pos = g.node("/embeddings/position", "Gather",
                    List.of(g.initializer(p + "position_embeddings.weight", model.weight(p + "position_embeddings.weight")),
                            positionIds));
            x = g.node("/embeddings/AddPosition", "Add", List.of(x, pos));
        }
        // ORT fuses Add + LayerNormalization into SkipLayerNormalization by itself: no dialect-specific form needed
        return layerNorm("/embeddings/LayerNorm", x, p + "LayerNorm");
    }

    /** HF Linear {@code prefix.weight} [out,in] as a MatMul with the transposed [in,out] initializer {@code prefix.weight.T}. */
    String matMul(String name, String x, String prefix) {
        Tensor w = model.weight(prefix + ".weight");
        if (w.rank() != 2) throw new IllegalArgumentException(prefix + ".weight must be rank 2, is " + w);
        return g.node(name + "/MatMul", "MatMul", List.of(x, g.initializer(prefix + ".weight.T", w.transpose2d())));
    }

    /** HF Linear as MatMul + Add of the optional {@code prefix.bias}. */
    String linear(String name, String x, String prefix, boolean bias) {
        String y = matMul(name, x, prefix);
        if (!bias) return y;
        return g.node(name + "/Add", "Add", List.of(y, g.initializer(prefix + ".bias", model.weight(prefix + ".bias"))));
    }

    String layerNorm(String name, String x, String prefix) {
        return g.node(name, "LayerNormalization",
                List.of(x, g.initializer(prefix + ".weight", model.weight(prefix + ".weight")),
                        g.initializer(prefix + ".bias", model.weight(prefix + ".bias"))),
                intAttr("axis", -1), floatAttr("epsilon", (float) cfg.layerNormEps()));
    }

    /** Layer {@code i}'s Q, K, V projection as one [H,3H] weight and [3H] bias (columns Q, then K, then V, head-major). */
    record Qkv(String weightT, String bias) {}

    Qkv qkv(int i) {
        String w = BertModel.layer(i);
        if (cfg.variant() == Variant.MOSAIC_BERT) {
            return new Qkv(g.initializer(w + "attention.self.Wqkv.weight.T", model.weight(w + "attention.self.Wqkv.weight").transpose2d()),
                    g.initializer(w + "attention.self.Wqkv.bias", model.weight(w + "attention.self.Wqkv.bias")));
        }
        String s = w + "attention.self.";
        return new Qkv(g.initializer(s + "qkv.weight.T",
                        concatRows(model.weight(s + "query.weight"), model.weight(s + "key.weight"), model.weight(s + "value.weight")).transpose2d()),
                g.initializer(s + "qkv.bias",
                        concatRows(model.weight(s + "query.bias"), model.weight(s + "key.bias"), model.weight(s + "value.bias"))));
    }

    /** pooler tanh(dense(·)) → classifier; {@code input} [B,H] is each sequence's first token or its mean token. */
    String classifier(String input) {
        String pooled = g.node("/pooler/Tanh", "Tanh", List.of(linear("/pooler/dense", input, "bert.pooler.dense", true)));
        return linear("/classifier", pooled, "classifier", true);
    }

    /**
     * The MLM decoder on 2-D {@code [N,H]} rows: Gemm with transB reads the decoder weight as stored ([V,H]), so a
     * decoder tied to the word embeddings shares their initializer instead of storing a transposed copy.
     */
    String mlmDecoder(String rows) {
        String p = "cls.predictions.";
        Tensor dec = model.decoderWeight();
        String emb = "bert.embeddings.word_embeddings.weight";
        Tensor embT = model.weight(emb);
        boolean tied = dec == embT || (Arrays.equals(dec.shape(), embT.shape()) && Arrays.equals(dec.data(), embT.data()));
        return g.node("/cls/decoder/Gemm", "Gemm",
                List.of(rows, tied ? emb : g.initializer(p + "decoder.weight", dec),
                        g.initializer(p + "decoder.bias", model.weight(p + "decoder.bias"))),
                intAttr("transB", 1));
    }

    /** Stacks tensors along dim 0 ([a,…] + [b,…] → [a+b,…]); 1-D biases concatenate. */
    static Tensor concatRows(Tensor... parts) {
        int rows = 0, total = 0;
        for (Tensor t : parts) {
            rows += t.dim(0);
            total += t.data().length;
        }
        float[] data = new float[total];
        int off = 0;
        for (Tensor t : parts) {
            System.arraycopy(t.data(), 0, data, off, t.data().length);
            off += t.data().length;
        }
        int[] shape = parts[0].shape().clone();
        shape[0] = rows;
        return new Tensor(shape, data);
    }
}
