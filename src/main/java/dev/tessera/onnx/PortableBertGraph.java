package dev.tessera.onnx;

import static dev.tessera.onnx.GraphBuilder.intAttr;
import static dev.tessera.onnx.GraphBuilder.intsAttr;

import ai.onnx.proto.OnnxMl;
import dev.tessera.model.BertModel;
import dev.tessera.model.Variant;
import java.util.List;

/**
 * The encoder (MosaicBERT or classic BERT) and its head as a graph of standard ONNX opset-17 operators
 * only, so that any ONNX runtime can run it. Shapes in comments: B batch, S sequence, H hidden,
 * N heads, D head size, I intermediate size.
 */
final class PortableBertGraph extends BertGraph {
    /** Padding (+ ALiBi) bias added to the attention scores: [B,1,1,S] or [B,N,S,S]. */
    private String bias;

    private PortableBertGraph(BertModel model) {
        super(model);
    }

    static OnnxMl.ModelProto build(BertModel model) {
        return new PortableBertGraph(model).build();
    }

    @Override
    protected String dialectName() { return "portable"; }


    @Override
    protected void prepareAttention(String mask, String positions) {
        String pad = paddingBias(mask);
        bias = cfg.variant() == Variant.MOSAIC_BERT
                ? g.node("/attention/Bias", "Add", List.of(alibi(positions), pad)) // [B,N,S,S]
                : pad;
    }

    @Override
    protected String layer(int i, String x) {
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
}
