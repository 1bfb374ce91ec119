package dev.tessera.onnx;

import static dev.tessera.onnx.GraphBuilder.INT32;
import static dev.tessera.onnx.GraphBuilder.floatAttr;
import static dev.tessera.onnx.GraphBuilder.intAttr;

import ai.onnx.proto.OnnxMl;
import dev.tessera.model.BertModel;
import dev.tessera.model.Variant;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code ort} dialect: the same inputs, outputs and numbers as {@link PortableBertGraph}, with the encoder
 * written in ONNX Runtime's fused {@code com.microsoft} operators (CPU kernels in ORT ≥ 1.20):
 * <ul>
 *   <li>attention: one MatMul to [B,S,3H] (classic BERT's query/key/value weights concatenated at export),
 *       Split, {@code MultiHeadAttention} with the Q/K/V bias as its bias input (the CPU kernel rejects
 *       packed [B,S,N,3,D] QKV). MosaicBERT's ALiBi goes in as {@code attention_bias} (input 5) [1,N,S,S],
 *       shared by the batch, padding as {@code key_padding_mask} [B,S] int32 with {@code mask_filter_value}
 *       = {@link #PAD_BIAS}; see {@link MaskMode} for the measured alternative;</li>
 *   <li>residual + bias + LayerNorm: {@code SkipLayerNormalization} (dense bias as its bias input);</li>
 *   <li>classic BERT's MLP: MatMul + {@code BiasGelu} (exact erf) or {@code FastGelu} (tanh forms);
 *       MosaicBERT's GeGLU: MatMul → Split → {@code Gelu} (exact, whatever hidden_act says) on the first
 *       half → Mul with the second (no contrib op computes gelu(first)·second on CPU; BiasSplitGelu is
 *       CUDA-only and gates the other half).</li>
 * </ul>
 *
 * <p>What ORT's own optimizer makes of the portable graph (ORT 1.23.2 CPU, level ALL, MiniLM-shaped models,
 * optimized graphs dumped with {@code SessionOptions.setOptimizedModelFilePath}): it fuses the decomposed erf
 * GELU into {@code Gelu} (with the preceding bias Add into {@code BiasGelu}), and QK^T with its 1/√d into
 * {@code FusedMatMul}. It does <em>not</em> fuse attention for either variant (all Softmax, Transpose and
 * Reshape nodes stay; for MosaicBERT the ALiBi bias Add between scale and Softmax matches none of its
 * attention patterns, for classic BERT our (1 − mask)·(−FLT_MAX) padding subgraph does not either), nor the
 * encoder's residual Add + LayerNormalization into SkipLayerNormalization (only MosaicBERT's embedding
 * Add + LayerNormalization is fused), nor the MatMul + bias Adds. So everything emitted fused here is work ORT
 * would not have done; on the ort graph itself the optimizer adds nothing but that embedding fusion. The same
 * holds, at EXTENDED and at ALL, for the original PyTorch export of all-MiniLM-L6-v2 (no Attention, no
 * SkipLayerNormalization: 13 LayerNormalization, 6 Softmax, 24 Transpose remain): those fusions live in ORT's
 * offline Python transformer optimizer, not in the session.
 * Measured (2 threads, 6 layers × 384, 8 × 128 tokens): ort ≈ 10% faster than portable in fp32; padding as
 * {@code key_padding_mask} and as a full {@code attention_bias} were equally fast (within noise), so the
 * cheaper-to-build key padding mask is the default.
 */
final class OrtBertGraph extends BertGraph {
    /** How padding reaches MultiHeadAttention. */
    enum MaskMode {
        /** int32 [B,S] {@code key_padding_mask}; ALiBi (MosaicBERT) as a batch-shared [1,N,S,S] {@code attention_bias}. */
        KEY_PADDING_MASK,
        /** Everything in one {@code attention_bias}: [B,N,S,S] (ALiBi + padding) or [B,1,S,S] (padding only). */
        ATTENTION_BIAS
    }

    static final MaskMode DEFAULT_MASK_MODE = MaskMode.KEY_PADDING_MASK;

    private final MaskMode maskMode;
    /** MultiHeadAttention's inputs 4 and 5; "" when absent. */
    private String keyPaddingMask = "", attentionBias = "";

    private OrtBertGraph(BertModel model, MaskMode maskMode) {
        super(model);
        this.maskMode = maskMode;
    }

    static OnnxMl.ModelProto build(BertModel model) {
        return build(model, DEFAULT_MASK_MODE);
    }

    static OnnxMl.ModelProto build(BertModel model, MaskMode maskMode) {
        return new OrtBertGraph(model, maskMode).build();
    }

    @Override
    protected String dialectName() { return "ort"; }


    @Override
    protected void prepareAttention(String mask, String positions) {
        boolean mosaic = cfg.variant() == Variant.MOSAIC_BERT;
        if (maskMode == MaskMode.KEY_PADDING_MASK) {
            keyPaddingMask = g.node("/mask/Int32", "Cast", List.of("attention_mask"), intAttr("to", INT32));
            if (mosaic) attentionBias = unsqueeze("/alibi/Bias1NSS", alibi(positions), 0);
            return;
        }
        String pad = paddingBias(mask); // [B,1,1,S]
        if (mosaic) {
            attentionBias = g.node("/attention/Bias", "Add", List.of(alibi(positions), pad)); // [B,N,S,S]
        } else {
            // attention_bias must have the full [S,S] trailing dims: expand [B,1,1,S] → [B,1,S,S]
            String b = g.node("/mask/B", "Slice", List.of("/Shape", g.constInt64("/mask/start0", 0), g.constInt64("/mask/end1", 1)));
            String s = g.node("/mask/S", "Slice", List.of("/Shape", g.constInt64("/mask/start1", 1), g.constInt64("/mask/end2", 2)));
            String shape = g.node("/mask/B1SS", "Concat", List.of(b, g.constInt64("/mask/one1", 1), s, s), intAttr("axis", 0));
            attentionBias = g.node("/attention/Bias", "Expand", List.of(pad, shape));
        }
    }

    @Override
    protected String layer(int i, String x) {
        String w = BertModel.layer(i);
        String n = "/encoder/layer." + i;
        int hidden = cfg.hiddenSize();

        // Q, K, V in one [H,3H] MatMul; MultiHeadAttention adds their bias
        Blocks.Qkv fused = blocks.qkv(i);
        String qkv = g.node(n + "/attention/self/qkv/MatMul", "MatMul", List.of(x, fused.weightT())); // [B,S,3H]
        String q = n + "/attention/self/Q", k = n + "/attention/self/K", v = n + "/attention/self/V";
        g.node(n + "/attention/self/Split", "Split", List.of(qkv, g.constInt64(n + "/qkv_split", hidden, hidden, hidden)),
                List.of(q, k, v), intAttr("axis", -1));
        String ctx = g.msNode(n + "/attention/self/MultiHeadAttention", "MultiHeadAttention",
                optionalInputs(q, k, v, fused.bias(), keyPaddingMask, attentionBias),
                intAttr("num_heads", cfg.numHeads()), floatAttr("mask_filter_value", PAD_BIAS)); // [B,S,H]

        String attnOut = matMul(n + "/attention/output/dense", ctx, w + "attention.output.dense");
        String h = skipLayerNorm(n + "/attention/output/LayerNorm", attnOut, x, w + "attention.output.LayerNorm",
                w + "attention.output.dense.bias");

        if (cfg.variant() == Variant.MOSAIC_BERT) {
            // GeGLU: the first I columns are the gate (exact GELU), the last I the value
            String gated = matMul(n + "/mlp/gated_layers", h, w + "mlp.gated_layers"); // [B,S,2I], no bias
            int inter = model.weight(w + "mlp.gated_layers.weight").dim(0) / 2;
            String gate = n + "/mlp/Gate", value = n + "/mlp/Value";
            g.node(n + "/mlp/Split", "Split", List.of(gated, g.constInt64(n + "/mlp/split", inter, inter)),
                    List.of(gate, value), intAttr("axis", -1));
            String act = g.node(n + "/mlp/GeGLU", "Mul", List.of(g.msNode(n + "/mlp/Gelu", "Gelu", List.of(gate)), value));
            String out = matMul(n + "/mlp/wo", act, w + "mlp.wo");
            return skipLayerNorm(n + "/mlp/layernorm", out, h, w + "mlp.layernorm", w + "mlp.wo.bias");
        }
        String inter = matMul(n + "/intermediate/dense", h, w + "intermediate.dense");
        inter = biasActivation(n + "/intermediate/act", inter, w + "intermediate.dense.bias", cfg.hiddenAct());
        String out = matMul(n + "/output/dense", inter, w + "output.dense");
        return skipLayerNorm(n + "/output/LayerNorm", out, h, w + "output.LayerNorm", w + "output.dense.bias");
    }

    /** LayerNorm(x + skip + bias) with the LayerNorm weights {@code ln.weight}, {@code ln.bias}. */
    private String skipLayerNorm(String name, String x, String skip, String ln, String bias) {
        return g.msNode(name, "SkipLayerNormalization",
                List.of(x, skip, g.initializer(ln + ".weight", model.weight(ln + ".weight")),
                        g.initializer(ln + ".bias", model.weight(ln + ".bias")), g.initializer(bias, model.weight(bias))),
                floatAttr("epsilon", (float) cfg.layerNormEps()));
    }

    /** act(x + bias) in one contrib op where one exists. */
    private String biasActivation(String name, String x, String bias, String hiddenAct) {
        String b = g.initializer(bias, model.weight(bias));
        return switch (act(hiddenAct)) {
            case "gelu" -> g.msNode(name + "/BiasGelu", "BiasGelu", List.of(x, b));
            case "gelu_new", "gelu_pytorch_tanh", "gelu_fast" -> g.msNode(name + "/FastGelu", "FastGelu", List.of(x, b));
            case "relu" -> g.node(name + "/Relu", "Relu", List.of(g.node(name + "/Add", "Add", List.of(x, b))));
            default -> throw unsupportedActivation(hiddenAct);
        };
    }

    @Override
    protected String activation(String name, String x, String hiddenAct) {
        return switch (act(hiddenAct)) {
            case "gelu" -> g.msNode(name + "/Gelu", "Gelu", List.of(x));
            case "gelu_new", "gelu_pytorch_tanh", "gelu_fast" -> g.msNode(name + "/FastGelu", "FastGelu", List.of(x));
            case "relu" -> g.node(name + "/Relu", "Relu", List.of(x));
            default -> throw unsupportedActivation(hiddenAct);
        };
    }

    /** Node inputs with empty names for skipped optional inputs; trailing empties dropped. */
    private static List<String> optionalInputs(String... names) {
        List<String> in = new ArrayList<>(List.of(names));
        while (!in.isEmpty() && in.get(in.size() - 1).isEmpty()) in.remove(in.size() - 1);
        return in;
    }

}
