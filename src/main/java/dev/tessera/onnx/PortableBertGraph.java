package dev.tessera.onnx;

import static dev.tessera.onnx.GraphBuilder.FLOAT;
import static dev.tessera.onnx.GraphBuilder.INT64;
import static dev.tessera.onnx.GraphBuilder.floatAttr;
import static dev.tessera.onnx.GraphBuilder.intAttr;
import static dev.tessera.onnx.GraphBuilder.intsAttr;

import ai.onnx.proto.OnnxMl;
import dev.tessera.model.Alibi;
import dev.tessera.model.BertModel;
import dev.tessera.model.Head;
import dev.tessera.model.ModelConfig;
import dev.tessera.model.Tensor;
import dev.tessera.model.Variant;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The encoder (MosaicBERT or classic BERT) and its head as a graph of standard ONNX opset-17 operators
 * only, so that any ONNX runtime can run it. Shapes in comments: B batch, S sequence, H hidden,
 * N heads, D head size, I intermediate size.
 */
final class PortableBertGraph {
    static final int OPSET = 17;
    /** Added to the scores of padded keys. Finite, so a fully padded row gives a uniform softmax, not NaN. */
    static final float PAD_BIAS = -Float.MAX_VALUE;

    private final BertModel model;
    private final ModelConfig cfg;
    private final GraphBuilder g = new GraphBuilder("tessera_bert");

    private PortableBertGraph(BertModel model) {
        this.model = model;
        this.cfg = model.config();
    }

    static OnnxMl.ModelProto build(BertModel model) {
        return new PortableBertGraph(model).build();
    }

    private OnnxMl.ModelProto build() {
        g.input("input_ids", INT64, "batch", "sequence");
        g.input("attention_mask", INT64, "batch", "sequence");
        g.input("token_type_ids", INT64, "batch", "sequence");

        String mask = g.node("/mask/Cast", "Cast", List.of("attention_mask"), intAttr("to", FLOAT)); // [B,S]
        String shape = g.node("/Shape", "Shape", List.of("input_ids"));
        String seqLen = g.node("/SeqLen", "Gather", List.of(shape, g.scalarInt64("/one", 1)), intAttr("axis", 0));
        String positions = g.node("/Positions", "Range",
                List.of(g.scalarInt64("/zero", 0), seqLen, "/one")); // [S] int64

        String h = embeddings(positions);
        String bias = attentionBias(mask, positions);
        for (int i = 0; i < cfg.numLayers(); i++) h = layer(i, h, bias);
        if (cfg.variant() == Variant.MOSAIC_BERT) {
            // The reference MosaicBERT runs unpadded and scatters its output back with zeros at padded
            // positions; mirror that so every output (including MLM logits there) matches it.
            h = g.node("/encoder/ZeroPadding", "Mul", List.of(h, unsqueeze("/mask/BS1", mask, 2)));
        }

        g.node("last_hidden_state", "Identity", List.of(h));
        g.output("last_hidden_state", FLOAT, "batch", "sequence", cfg.hiddenSize());
        meanPooling(h, mask);
        g.output("sentence_embedding", FLOAT, "batch", cfg.hiddenSize());

        switch (cfg.head()) {
            case CLASSIFICATION, REGRESSION -> {
                String logits = classifier(h);
                g.node("logits", "Identity", List.of(logits));
                g.output("logits", FLOAT, "batch", model.weight("classifier.bias").dim(0));
            }
            case MLM -> {
                String logits = mlmHead(h);
                g.node("logits", "Identity", List.of(logits));
                g.output("logits", FLOAT, "batch", "sequence", model.weight("cls.predictions.decoder.bias").dim(0));
            }
            case NONE -> { }
        }
        return g.model(OPSET, "tessera", "Tessera portable export: " + cfg.variant() + " / " + cfg.head()
                + ", " + cfg.numLayers() + " layers, hidden " + cfg.hiddenSize() + ", " + cfg.numHeads() + " heads");
    }

    // ---- embeddings ----

    private String embeddings(String positions) {
        String p = "bert.embeddings.";
        String x = g.node("/embeddings/word", "Gather",
                List.of(g.initializer(p + "word_embeddings.weight", model.weight(p + "word_embeddings.weight")), "input_ids"));
        String tt = g.node("/embeddings/token_type", "Gather",
                List.of(g.initializer(p + "token_type_embeddings.weight", model.weight(p + "token_type_embeddings.weight")),
                        "token_type_ids"));
        x = g.node("/embeddings/Add", "Add", List.of(x, tt));
        if (cfg.variant() == Variant.BERT) {
            // learned absolute positions 0..S-1, [S,H] broadcast over the batch
            String pos = g.node("/embeddings/position", "Gather",
                    List.of(g.initializer(p + "position_embeddings.weight", model.weight(p + "position_embeddings.weight")),
                            positions));
            x = g.node("/embeddings/AddPosition", "Add", List.of(x, pos));
        }
        return layerNorm("/embeddings/LayerNorm", x, p + "LayerNorm");
    }

    // ---- attention bias: padding (+ ALiBi), computed once from the runtime sequence length ----

    private String attentionBias(String mask, String positions) {
        // (1 - mask) * PAD_BIAS, as [B,1,1,S] so it broadcasts over heads and query positions
        String keep = g.node("/mask/Invert", "Sub", List.of(g.scalarFloat("/mask/one", 1f), mask));
        String pad = g.node("/mask/Bias", "Mul", List.of(keep, g.scalarFloat("/mask/pad_bias", PAD_BIAS)));
        pad = g.node("/mask/BiasB11S", "Unsqueeze", List.of(pad, g.constInt64("/mask/axes12", 1, 2)));
        if (cfg.variant() != Variant.MOSAIC_BERT) return pad;

        // ALiBi: -slope_h * |i - j|, [N,S,S]
        String posF = g.node("/alibi/PosF", "Cast", List.of(positions), intAttr("to", FLOAT));
        String rows = unsqueeze("/alibi/Rows", posF, 1); // [S,1]
        String cols = unsqueeze("/alibi/Cols", posF, 0); // [1,S]
        String dist = g.node("/alibi/Dist", "Abs", List.of(g.node("/alibi/Diff", "Sub", List.of(rows, cols))));
        double[] slopes = Alibi.slopes(cfg.numHeads());
        float[] negSlopes = new float[slopes.length];
        for (int k = 0; k < slopes.length; k++) negSlopes[k] = (float) -slopes[k];
        String slopeT = g.constFloat("/alibi/neg_slopes", new int[] {cfg.numHeads(), 1, 1}, negSlopes);
        String alibi = g.node("/alibi/Bias", "Mul", List.of(dist, slopeT)); // [N,S,S]
        return g.node("/attention/Bias", "Add", List.of(alibi, pad)); // [B,N,S,S]
    }

    // ---- one encoder layer ----

    private String layer(int i, String x, String bias) {
        String w = BertModel.layer(i);
        String n = "/encoder/layer." + i;
        int heads = cfg.numHeads(), d = cfg.headDim();

        String q, kT, v;
        if (cfg.variant() == Variant.MOSAIC_BERT) {
            // fused Wqkv: rows Q, then K, then V, each head-major → [B,S,3,N,D] → [3,B,N,S,D]
            String qkv = linear(n + "/attention/self/Wqkv", x, w + "attention.self.Wqkv", true);
            qkv = g.node(n + "/attention/self/Split5d", "Reshape",
                    List.of(qkv, g.constInt64(n + "/qkv_shape", 0, 0, 3, heads, d)));
            qkv = g.node(n + "/attention/self/QkvFirst", "Transpose", List.of(qkv), intsAttr("perm", 2, 0, 3, 1, 4));
            q = g.node(n + "/attention/self/Q", "Gather", List.of(qkv, g.scalarInt64(n + "/idx0", 0)), intAttr("axis", 0));
            String k = g.node(n + "/attention/self/K", "Gather", List.of(qkv, g.scalarInt64(n + "/idx1", 1)), intAttr("axis", 0));
            v = g.node(n + "/attention/self/V", "Gather", List.of(qkv, g.scalarInt64(n + "/idx2", 2)), intAttr("axis", 0));
            kT = g.node(n + "/attention/self/KT", "Transpose", List.of(k), intsAttr("perm", 0, 1, 3, 2));
        } else {
            String headsShape = g.constInt64(n + "/heads_shape", 0, 0, heads, d); // [B,S,N,D]; 0 copies the dim
            q = splitHeads(n + "/attention/self/query", linear(n + "/attention/self/query", x, w + "attention.self.query", true),
                    headsShape, 0, 2, 1, 3);
            kT = splitHeads(n + "/attention/self/key", linear(n + "/attention/self/key", x, w + "attention.self.key", true),
                    headsShape, 0, 2, 3, 1);
            v = splitHeads(n + "/attention/self/value", linear(n + "/attention/self/value", x, w + "attention.self.value", true),
                    headsShape, 0, 2, 1, 3);
        }
        String scores = g.node(n + "/attention/self/Scores", "MatMul", List.of(q, kT)); // [B,N,S,S]
        scores = g.node(n + "/attention/self/Scale", "Div",
                List.of(scores, g.scalarFloat(n + "/sqrt_head_dim", (float) Math.sqrt(d))));
        scores = g.node(n + "/attention/self/AddBias", "Add", List.of(scores, bias));
        String probs = g.node(n + "/attention/self/Softmax", "Softmax", List.of(scores), intAttr("axis", -1));
        String ctx = g.node(n + "/attention/self/Context", "MatMul", List.of(probs, v)); // [B,N,S,D]
        ctx = g.node(n + "/attention/self/MergeT", "Transpose", List.of(ctx), intsAttr("perm", 0, 2, 1, 3));
        ctx = g.node(n + "/attention/self/Merge", "Reshape",
                List.of(ctx, g.constInt64(n + "/hidden_shape", 0, 0, cfg.hiddenSize()))); // [B,S,H]

        String attnOut = linear(n + "/attention/output/dense", ctx, w + "attention.output.dense", true);
        String h = layerNorm(n + "/attention/output/LayerNorm",
                g.node(n + "/attention/output/Residual", "Add", List.of(attnOut, x)), w + "attention.output.LayerNorm");

        if (cfg.variant() == Variant.MOSAIC_BERT) {
            // GeGLU: the first I columns are the gate (exact GELU), the last I the value
            String gated = linear(n + "/mlp/gated_layers", h, w + "mlp.gated_layers", false); // [B,S,2I]
            int inter = model.weight(w + "mlp.gated_layers.weight").dim(0) / 2;
            String gate = n + "/mlp/Gate", value = n + "/mlp/Value";
            g.node(n + "/mlp/Split", "Split", List.of(gated, g.constInt64(n + "/mlp/split", inter, inter)),
                    List.of(gate, value), intAttr("axis", -1));
            String act = g.node(n + "/mlp/GeGLU", "Mul", List.of(activation(n + "/mlp/gelu", gate, "gelu"), value));
            String out = linear(n + "/mlp/wo", act, w + "mlp.wo", true);
            return layerNorm(n + "/mlp/layernorm", g.node(n + "/mlp/Residual", "Add", List.of(out, h)), w + "mlp.layernorm");
        }
        String inter = linear(n + "/intermediate/dense", h, w + "intermediate.dense", true);
        inter = activation(n + "/intermediate/act", inter, cfg.hiddenAct());
        String out = linear(n + "/output/dense", inter, w + "output.dense", true);
        return layerNorm(n + "/output/LayerNorm", g.node(n + "/output/Residual", "Add", List.of(out, h)), w + "output.LayerNorm");
    }

    /** [B,S,H] → [B,S,N,D] → permuted. */
    private String splitHeads(String name, String x, String headsShape, long... perm) {
        String r = g.node(name + "/Heads", "Reshape", List.of(x, headsShape));
        return g.node(name + "/HeadsT", "Transpose", List.of(r), intsAttr("perm", perm));
    }

    // ---- outputs ----

    /** sentence-transformers mean pooling: sum(h·mask) / max(sum(mask), 1e-9). */
    private void meanPooling(String h, String mask) {
        String m = unsqueeze("/pooling/MaskBS1", mask, 2);
        String axis1 = g.constInt64("/pooling/axis1", 1);
        String sum = g.node("/pooling/Sum", "ReduceSum", List.of(g.node("/pooling/Masked", "Mul", List.of(h, m)), axis1),
                intAttr("keepdims", 0)); // [B,H]
        String count = g.node("/pooling/Count", "ReduceSum", List.of(m, axis1), intAttr("keepdims", 0)); // [B,1]
        count = g.node("/pooling/CountClamped", "Max", List.of(count, g.scalarFloat("/pooling/min_count", 1e-9f)));
        g.node("sentence_embedding", "Div", List.of(sum, count));
    }

    /** pooler tanh(dense(h[:,0])) → classifier. */
    private String classifier(String h) {
        String first = g.node("/pooler/First", "Gather", List.of(h, g.scalarInt64("/pooler/idx0", 0)), intAttr("axis", 1));
        String pooled = g.node("/pooler/Tanh", "Tanh", List.of(linear("/pooler/dense", first, "bert.pooler.dense", true)));
        return linear("/classifier", pooled, "classifier", true);
    }

    /** transform dense → act → LayerNorm → decoder (tied to the word embeddings unless stored apart). */
    private String mlmHead(String h) {
        String p = "cls.predictions.";
        String t = linear("/cls/transform/dense", h, p + "transform.dense", true);
        t = activation("/cls/transform/act", t, cfg.hiddenAct());
        t = layerNorm("/cls/transform/LayerNorm", t, p + "transform.LayerNorm");
        // Gemm with transB reads the decoder weight as stored ([V,H]), so a tied decoder shares the
        // word-embedding initializer instead of storing a transposed copy. Gemm wants 2-D input.
        Tensor dec = model.decoderWeight();
        String emb = "bert.embeddings.word_embeddings.weight";
        String decName = tiedToEmbeddings(dec) ? emb : g.initializer(p + "decoder.weight", dec);
        String flat = g.node("/cls/decoder/Flatten", "Reshape", List.of(t, g.constInt64("/cls/flat_shape", -1, cfg.hiddenSize())));
        String logits = g.node("/cls/decoder/Gemm", "Gemm",
                List.of(flat, decName, g.initializer(p + "decoder.bias", model.weight(p + "decoder.bias"))),
                intAttr("transB", 1));
        // back to [B,S,V]: batch and sequence from the input, vocabulary from the bias
        String bs = g.node("/cls/decoder/BS", "Slice",
                List.of("/Shape", g.constInt64("/cls/slice_start", 0), g.constInt64("/cls/slice_end", 2)));
        String shape3 = g.node("/cls/decoder/Shape3", "Concat",
                List.of(bs, g.constInt64("/cls/vocab", dec.dim(0))), intAttr("axis", 0));
        return g.node("/cls/decoder/Unflatten", "Reshape", List.of(logits, shape3));
    }

    private boolean tiedToEmbeddings(Tensor dec) {
        Tensor emb = model.weight("bert.embeddings.word_embeddings.weight");
        return dec == emb || (Arrays.equals(dec.shape(), emb.shape()) && Arrays.equals(dec.data(), emb.data()));
    }

    // ---- building blocks ----

    /** HF Linear ({@code prefix.weight} [out,in], optional {@code prefix.bias}) as MatMul with [in,out] + Add. */
    private String linear(String name, String x, String prefix, boolean bias) {
        Tensor w = model.weight(prefix + ".weight");
        if (w.rank() != 2) throw new IllegalArgumentException(prefix + ".weight must be rank 2, is " + w);
        String y = g.node(name + "/MatMul", "MatMul", List.of(x, g.initializer(prefix + ".weight.T", w.transpose2d())));
        if (!bias) return y;
        return g.node(name + "/Add", "Add", List.of(y, g.initializer(prefix + ".bias", model.weight(prefix + ".bias"))));
    }

    private String layerNorm(String name, String x, String prefix) {
        return g.node(name, "LayerNormalization",
                List.of(x, g.initializer(prefix + ".weight", model.weight(prefix + ".weight")),
                        g.initializer(prefix + ".bias", model.weight(prefix + ".bias"))),
                intAttr("axis", -1), floatAttr("epsilon", (float) cfg.layerNormEps()));
    }

    private String activation(String name, String x, String hiddenAct) {
        String act = hiddenAct == null ? "gelu" : hiddenAct.toLowerCase(Locale.ROOT);
        return switch (act) {
            // exact: 0.5·x·(1 + erf(x/√2))
            case "gelu" -> {
                String e = g.node(name + "/Erf", "Erf",
                        List.of(g.node(name + "/Div", "Div", List.of(x, g.scalarFloat(name + "/sqrt2", (float) Math.sqrt(2))))));
                String onePlus = g.node(name + "/AddOne", "Add", List.of(e, g.scalarFloat(name + "/one", 1f)));
                String xm = g.node(name + "/MulX", "Mul", List.of(x, onePlus));
                yield g.node(name + "/Half", "Mul", List.of(xm, g.scalarFloat(name + "/half", 0.5f)));
            }
            // tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
            case "gelu_new", "gelu_pytorch_tanh", "gelu_fast" -> {
                String x3 = g.node(name + "/Cube", "Mul", List.of(x, g.node(name + "/Square", "Mul", List.of(x, x))));
                String inner = g.node(name + "/Inner", "Add",
                        List.of(x, g.node(name + "/CubeScaled", "Mul", List.of(x3, g.scalarFloat(name + "/c", 0.044715f)))));
                String th = g.node(name + "/Tanh", "Tanh", List.of(g.node(name + "/Scaled", "Mul",
                        List.of(inner, g.scalarFloat(name + "/k", (float) Math.sqrt(2 / Math.PI))))));
                String onePlus = g.node(name + "/AddOne", "Add", List.of(th, g.scalarFloat(name + "/one", 1f)));
                String xm = g.node(name + "/MulX", "Mul", List.of(x, onePlus));
                yield g.node(name + "/Half", "Mul", List.of(xm, g.scalarFloat(name + "/half", 0.5f)));
            }
            case "relu" -> g.node(name + "/Relu", "Relu", List.of(x));
            default -> throw new IllegalArgumentException("hidden_act '" + hiddenAct
                    + "' is not supported by the portable ONNX export (supported: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu)");
        };
    }

    private String unsqueeze(String name, String x, long axis) {
        return g.node(name, "Unsqueeze", List.of(x, g.constInt64(name + "/axes", axis)));
    }
}
