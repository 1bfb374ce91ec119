package dev.tessera.onnx;

import static dev.tessera.onnx.GraphBuilder.FLOAT;
import static dev.tessera.onnx.GraphBuilder.INT64;
import static dev.tessera.onnx.GraphBuilder.intAttr;

import ai.onnx.proto.OnnxMl;
import dev.tessera.model.BertModel;
import dev.tessera.model.ClassifierPooling;
import dev.tessera.model.Variant;
import java.util.List;

/**
 * The {@code tessera} dialect: the encoder on packed tokens, with no padding anywhere. Inputs
 * {@code input_ids [T]}, {@code token_type_ids [T]}, {@code cu_seqlens [B+1]} (int64; sequence b is tokens
 * {@code cu_seqlens[b] .. cu_seqlens[b+1]}) and, for classic BERT only, {@code position_ids [T]}; outputs
 * {@code last_hidden_state [T, H]}, {@code sentence_embedding [B, H]} and {@code logits} ({@code [B, labels]},
 * or {@code [T, vocab]} for MLM). Every matmul is 2-D on {@code [T, ·]}, so a batch costs Σ Lᵢ tokens and
 * attention Σ Lᵢ². Attention, GeGLU and pooling are ops of the {@code tessera} domain ({@code libtessera_ortops.so},
 * cuda-ext/README.md); GELU is ONNX Runtime's {@code com.microsoft.Gelu} (exact erf). Classic BERT's separate
 * query/key/value projections are fused into one {@code [H, 3H]} matmul at export time.
 */
final class TesseraBertGraph extends EncoderGraph {
    static final String TESSERA = "tessera";

    private TesseraBertGraph(BertModel model) {
        super(model, "tessera_bert_packed");
    }

    @Override
    protected String dialectName() { return TESSERA; }

    static OnnxMl.ModelProto build(BertModel model) {
        return new TesseraBertGraph(model).build();
    }

    private OnnxMl.ModelProto build() {
        g.input("input_ids", INT64, "tokens");
        g.input("token_type_ids", INT64, "tokens");
        g.input("cu_seqlens", INT64, "sequences_plus_1");
        if (cfg.variant() == Variant.BERT) g.input("position_ids", INT64, "tokens");

        String h = blocks.embeddings("input_ids", "token_type_ids", "position_ids");
        for (int i = 0; i < cfg.numLayers(); i++) h = layer(i, h);
        g.node("last_hidden_state", "Identity", List.of(h));
        g.output("last_hidden_state", FLOAT, "tokens", cfg.hiddenSize());
        String meanPooled = g.node(TESSERA, "sentence_embedding", "PackedMeanPool", List.of(h, "cu_seqlens"));
        g.output("sentence_embedding", FLOAT, "sequences", cfg.hiddenSize());

        switch (cfg.head()) {
            case CLASSIFICATION, REGRESSION -> {
                g.node("logits", "Identity", List.of(classifier(h, meanPooled)));
                g.output("logits", FLOAT, "sequences", model.weight("classifier.bias").dim(0));
            }
            case MLM -> {
                g.node("logits", "Identity", List.of(mlmHead(h)));
                g.output("logits", FLOAT, "tokens", model.weight("cls.predictions.decoder.bias").dim(0));
            }
            case NONE -> { }
        }
        return g.model(OPSET, "tessera", "Tessera packed export (tessera dialect: needs "
                + "libtessera_ortops.so): " + cfg.variant() + " / " + cfg.head() + ", " + cfg.numLayers()
                + " layers, hidden " + cfg.hiddenSize() + ", " + cfg.numHeads() + " heads");
    }

    private String layer(int i, String x) {
        String w = BertModel.layer(i);
        String n = "/encoder/layer." + i;
        boolean mosaic = cfg.variant() == Variant.MOSAIC_BERT;
        Blocks.Qkv fused = blocks.qkv(i);
        String qkv = g.node(n + "/attention/self/qkv/Add", "Add",
                List.of(g.node(n + "/attention/self/qkv/MatMul", "MatMul", List.of(x, fused.weightT())), fused.bias())); // [T,3H]
        String ctx = g.node(TESSERA, n + "/attention/self/UnpaddedAttention", "UnpaddedAlibiAttention",
                List.of(qkv, "cu_seqlens"), intAttr("num_heads", cfg.numHeads()), intAttr("alibi", mosaic ? 1 : 0));
        String attnOut = linear(n + "/attention/output/dense", ctx, w + "attention.output.dense", true);
        String h = layerNorm(n + "/attention/output/LayerNorm",
                g.node(n + "/attention/output/Residual", "Add", List.of(attnOut, x)), w + "attention.output.LayerNorm");
        if (mosaic) {
            // GeGLU: the first I columns are the gate (exact GELU), the last I the value
            String gated = linear(n + "/mlp/gated_layers", h, w + "mlp.gated_layers", false); // [T,2I]
            // one pass over [T,2I] (cuda-ext's GeGLU measured 1.7x ORT's Split + Gelu + Mul)
            String act = g.node(TESSERA, n + "/mlp/GeGLU", "GeGLU", List.of(gated));
            String out = linear(n + "/mlp/wo", act, w + "mlp.wo", true);
            return layerNorm(n + "/mlp/layernorm", g.node(n + "/mlp/Residual", "Add", List.of(out, h)), w + "mlp.layernorm");
        }
        String inter = activation(n + "/intermediate/act", linear(n + "/intermediate/dense", h, w + "intermediate.dense", true));
        String out = linear(n + "/output/dense", inter, w + "output.dense", true);
        return layerNorm(n + "/output/LayerNorm", g.node(n + "/output/Residual", "Add", List.of(out, h)), w + "output.LayerNorm");
    }

    /**
     * pooler tanh(dense(·)) → classifier, on the first token of each sequence or, with {@code classifier_pooling} mean,
     * on its mean ({@code meanPooled}: the PackedMeanPool that is also the sentence embedding).
     */
    private String classifier(String h, String meanPooled) {
        if (cfg.classifierPooling() == ClassifierPooling.MEAN) return blocks.classifier(meanPooled);
        String starts = g.node("/pooler/Starts", "Slice",
                List.of("cu_seqlens", g.constInt64("/pooler/slice_start", 0), g.constInt64("/pooler/slice_end", -1)));
        return blocks.classifier(g.node("/pooler/First", "Gather", List.of(h, starts), intAttr("axis", 0))); // [B,H] in
    }

    /** transform dense → act → LayerNorm → decoder (tied to the word embeddings unless stored apart). */
    private String mlmHead(String h) {
        String p = "cls.predictions.";
        String t = activation("/cls/transform/act", linear("/cls/transform/dense", h, p + "transform.dense", true));
        return blocks.mlmDecoder(layerNorm("/cls/transform/LayerNorm", t, p + "transform.LayerNorm"));
    }

    /** hidden_act: exact GELU as com.microsoft.Gelu; the tanh approximation as FastGelu; relu. */
    private String activation(String name, String x) {
        return switch (act(cfg.hiddenAct())) {
            case "gelu" -> g.msNode(name + "/Gelu", "Gelu", List.of(x));
            case "gelu_new", "gelu_pytorch_tanh", "gelu_fast" -> g.msNode(name + "/FastGelu", "FastGelu", List.of(x));
            case "relu" -> g.node(name + "/Relu", "Relu", List.of(x));
            default -> throw unsupportedActivation(cfg.hiddenAct());
        };
    }
}
