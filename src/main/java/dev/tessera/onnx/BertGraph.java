package dev.tessera.onnx;

import static dev.tessera.onnx.GraphBuilder.FLOAT;
import static dev.tessera.onnx.GraphBuilder.INT64;
import static dev.tessera.onnx.GraphBuilder.intAttr;

import ai.onnx.proto.OnnxMl;
import dev.tessera.model.Alibi;
import dev.tessera.model.BertModel;
import dev.tessera.model.ClassifierPooling;
import dev.tessera.model.Variant;
import java.util.List;

/**
 * What every padded-batch dialect shares: the three int64 inputs, embeddings, MosaicBERT's zeroing of
 * padded positions, mean pooling, pooler/classifier (on the first token or on the mean) and MLM head, and the
 * outputs. A dialect supplies the encoder layers ({@link #prepareAttention}, {@link #layer}) and may replace the
 * activation ({@link #activation}).
 *
 * <p>Initializers are named after the checkpoint keys they come from ({@code bert.encoder.layer.N.…}, a
 * {@code .T} suffix when transposed for MatMul); {@link DynamicQuantization} relies on that prefix to find the
 * encoder's weights. Shapes in comments: B batch, S sequence, H hidden, N heads, D head size, I intermediate.
 */
abstract class BertGraph extends EncoderGraph {
    /** Added to the scores of padded keys. Finite, so a fully padded row gives a uniform softmax, not NaN. */
    static final float PAD_BIAS = -Float.MAX_VALUE;

    protected BertGraph(BertModel model) {
        super(model, "tessera_bert");
    }

    /**
     * Computes, once per graph, what the layers need to mask and bias attention.
     *
     * @param mask float [B,S], 1 at real tokens
     * @param positions int64 [S], 0..S-1
     */
    protected abstract void prepareAttention(String mask, String positions);

    /** One encoder layer: [B,S,H] in, [B,S,H] out. */
    protected abstract String layer(int i, String x);

    final OnnxMl.ModelProto build() {
        g.input("input_ids", INT64, "batch", "sequence");
        g.input("attention_mask", INT64, "batch", "sequence");
        g.input("token_type_ids", INT64, "batch", "sequence");

        String mask = g.node("/mask/Cast", "Cast", List.of("attention_mask"), intAttr("to", FLOAT)); // [B,S]
        String shape = g.node("/Shape", "Shape", List.of("input_ids"));
        String seqLen = g.node("/SeqLen", "Gather", List.of(shape, g.scalarInt64("/one", 1)), intAttr("axis", 0));
        String positions = g.node("/Positions", "Range",
                List.of(g.scalarInt64("/zero", 0), seqLen, "/one")); // [S] int64

        String h = blocks.embeddings("input_ids", "token_type_ids", positions);
        prepareAttention(mask, positions);
        for (int i = 0; i < cfg.numLayers(); i++) h = layer(i, h);
        if (cfg.variant() == Variant.MOSAIC_BERT) {
            // The reference MosaicBERT runs unpadded and scatters its output back with zeros at padded
            // positions; mirror that so every output (including MLM logits there) matches it.
            h = g.node("/encoder/ZeroPadding", "Mul", List.of(h, unsqueeze("/mask/BS1", mask, 2)));
        }

        g.node("last_hidden_state", "Identity", List.of(h));
        g.output("last_hidden_state", FLOAT, "batch", "sequence", cfg.hiddenSize());
        String meanPooled = meanPooling(h, mask);
        g.output("sentence_embedding", FLOAT, "batch", cfg.hiddenSize());

        switch (cfg.head()) {
            case CLASSIFICATION, REGRESSION -> {
                String logits = classifier(h, meanPooled);
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
        return g.model(OPSET, "tessera", "Tessera " + dialectName() + " export: " + cfg.variant() + " / "
                + cfg.head() + ", " + cfg.numLayers() + " layers, hidden " + cfg.hiddenSize() + ", " + cfg.numHeads() + " heads");
    }

    // ---- attention bias pieces ----

    /** (1 - mask) · PAD_BIAS as [B,1,1,S]: broadcasts over heads and query positions. */
    protected final String paddingBias(String mask) {
        String keep = g.node("/mask/Invert", "Sub", List.of(g.scalarFloat("/mask/one", 1f), mask));
        String pad = g.node("/mask/Bias", "Mul", List.of(keep, g.scalarFloat("/mask/pad_bias", PAD_BIAS)));
        return g.node("/mask/BiasB11S", "Unsqueeze", List.of(pad, g.constInt64("/mask/axes12", 1, 2)));
    }

    /** MosaicBERT's ALiBi: -slope_h · |i - j| as [N,S,S], from the runtime sequence length (any length runs). */
    protected final String alibi(String positions) {
        String posF = g.node("/alibi/PosF", "Cast", List.of(positions), intAttr("to", FLOAT));
        String rows = unsqueeze("/alibi/Rows", posF, 1); // [S,1]
        String cols = unsqueeze("/alibi/Cols", posF, 0); // [1,S]
        String dist = g.node("/alibi/Dist", "Abs", List.of(g.node("/alibi/Diff", "Sub", List.of(rows, cols))));
        double[] slopes = Alibi.slopes(cfg.numHeads());
        float[] negSlopes = new float[slopes.length];
        for (int k = 0; k < slopes.length; k++) negSlopes[k] = (float) -slopes[k];
        String slopeT = g.constFloat("/alibi/neg_slopes", new int[] {cfg.numHeads(), 1, 1}, negSlopes);
        return g.node("/alibi/Bias", "Mul", List.of(dist, slopeT)); // [N,S,S]
    }

    // ---- outputs ----

    /** sentence-transformers mean pooling: sum(h·mask) / max(sum(mask), 1e-9), as {@code sentence_embedding} [B,H]. */
    private String meanPooling(String h, String mask) {
        String m = unsqueeze("/pooling/MaskBS1", mask, 2);
        String axis1 = g.constInt64("/pooling/axis1", 1);
        String sum = g.node("/pooling/Sum", "ReduceSum", List.of(g.node("/pooling/Masked", "Mul", List.of(h, m)), axis1),
                intAttr("keepdims", 0)); // [B,H]
        String count = g.node("/pooling/Count", "ReduceSum", List.of(m, axis1), intAttr("keepdims", 0)); // [B,1]
        count = g.node("/pooling/CountClamped", "Max", List.of(count, g.scalarFloat("/pooling/min_count", 1e-9f)));
        return g.node("sentence_embedding", "Div", List.of(sum, count));
    }

    /**
     * pooler tanh(dense(·)) → classifier, on h[:,0] or, with {@code classifier_pooling} mean, on the masked mean of each
     * row's real tokens ({@code meanPooled}, the sentence embedding: padding never enters it).
     */
    private String classifier(String h, String meanPooled) {
        if (cfg.classifierPooling() == ClassifierPooling.MEAN) return blocks.classifier(meanPooled);
        return blocks.classifier(g.node("/pooler/First", "Gather", List.of(h, g.scalarInt64("/pooler/idx0", 0)), intAttr("axis", 1)));
    }

    /** transform dense → act → LayerNorm → decoder (tied to the word embeddings unless stored apart). */
    private String mlmHead(String h) {
        String p = "cls.predictions.";
        String t = linear("/cls/transform/dense", h, p + "transform.dense", true);
        t = activation("/cls/transform/act", t, cfg.hiddenAct());
        t = layerNorm("/cls/transform/LayerNorm", t, p + "transform.LayerNorm");
        // Gemm wants 2-D input
        String flat = g.node("/cls/decoder/Flatten", "Reshape", List.of(t, g.constInt64("/cls/flat_shape", -1, cfg.hiddenSize())));
        String logits = blocks.mlmDecoder(flat);
        // back to [B,S,V]: batch and sequence from the input, vocabulary from the bias
        String bs = g.node("/cls/decoder/BS", "Slice",
                List.of("/Shape", g.constInt64("/cls/slice_start", 0), g.constInt64("/cls/slice_end", 2)));
        String shape3 = g.node("/cls/decoder/Shape3", "Concat",
                List.of(bs, g.constInt64("/cls/vocab", model.decoderWeight().dim(0))), intAttr("axis", 0));
        return g.node("/cls/decoder/Unflatten", "Reshape", List.of(logits, shape3));
    }

    // ---- building blocks ----

    /** The activation {@code hiddenAct} ("gelu" is exact erf GELU) in standard operators. */
    protected String activation(String name, String x, String hiddenAct) {
        return switch (act(hiddenAct)) {
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
            default -> throw unsupportedActivation(hiddenAct);
        };
    }

    protected final String unsqueeze(String name, String x, long axis) {
        return g.node(name, "Unsqueeze", List.of(x, g.constInt64(name + "/axes", axis)));
    }
}
