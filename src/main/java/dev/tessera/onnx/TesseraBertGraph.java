package dev.tessera.onnx;

import static dev.tessera.onnx.GraphBuilder.FLOAT;
import static dev.tessera.onnx.GraphBuilder.INT64;
import static dev.tessera.onnx.GraphBuilder.floatAttr;
import static dev.tessera.onnx.GraphBuilder.intAttr;

import ai.onnx.proto.OnnxMl;
import dev.tessera.model.BertModel;
import dev.tessera.model.ModelConfig;
import dev.tessera.model.Tensor;
import dev.tessera.model.Variant;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

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
final class TesseraBertGraph {
    static final String TESSERA = "tessera", MS = "com.microsoft";

    private final BertModel model;
    private final ModelConfig cfg;
    private final GraphBuilder g = new GraphBuilder("tessera_bert_packed");

    private TesseraBertGraph(BertModel model) {
        this.model = model;
        this.cfg = model.config();
    }

    static OnnxMl.ModelProto build(BertModel model) {
        return new TesseraBertGraph(model).build();
    }

    private OnnxMl.ModelProto build() {
        g.input("input_ids", INT64, "tokens");
        g.input("token_type_ids", INT64, "tokens");
        g.input("cu_seqlens", INT64, "sequences_plus_1");
        if (cfg.variant() == Variant.BERT) g.input("position_ids", INT64, "tokens");

        String h = embeddings();
        for (int i = 0; i < cfg.numLayers(); i++) h = layer(i, h);
        g.node("last_hidden_state", "Identity", List.of(h));
        g.output("last_hidden_state", FLOAT, "tokens", cfg.hiddenSize());
        g.node(TESSERA, "sentence_embedding", "PackedMeanPool", List.of(h, "cu_seqlens"));
        g.output("sentence_embedding", FLOAT, "sequences", cfg.hiddenSize());

        switch (cfg.head()) {
            case CLASSIFICATION, REGRESSION -> {
                g.node("logits", "Identity", List.of(classifier(h)));
                g.output("logits", FLOAT, "sequences", model.weight("classifier.bias").dim(0));
            }
            case MLM -> {
                g.node("logits", "Identity", List.of(mlmHead(h)));
                g.output("logits", FLOAT, "tokens", model.weight("cls.predictions.decoder.bias").dim(0));
            }
            case NONE -> { }
        }
        return g.model(PortableBertGraph.OPSET, "tessera", "Tessera packed export (tessera dialect: needs "
                + "libtessera_ortops.so): " + cfg.variant() + " / " + cfg.head() + ", " + cfg.numLayers()
                + " layers, hidden " + cfg.hiddenSize() + ", " + cfg.numHeads() + " heads");
    }

    private String embeddings() {
        String p = "bert.embeddings.";
        String x = g.node("/embeddings/word", "Gather",
                List.of(g.initializer(p + "word_embeddings.weight", model.weight(p + "word_embeddings.weight")), "input_ids"));
        String tt = g.node("/embeddings/token_type", "Gather",
                List.of(g.initializer(p + "token_type_embeddings.weight", model.weight(p + "token_type_embeddings.weight")),
                        "token_type_ids"));
        x = g.node("/embeddings/Add", "Add", List.of(x, tt));
        if (cfg.variant() == Variant.BERT) {
            String pos = g.node("/embeddings/position", "Gather",
                    List.of(g.initializer(p + "position_embeddings.weight", model.weight(p + "position_embeddings.weight")),
                            "position_ids"));
            x = g.node("/embeddings/AddPosition", "Add", List.of(x, pos));
        }
        return layerNorm("/embeddings/LayerNorm", x, p + "LayerNorm");
    }

    private String layer(int i, String x) {
        String w = BertModel.layer(i);
        String n = "/encoder/layer." + i;
        boolean mosaic = cfg.variant() == Variant.MOSAIC_BERT;
        String qkv = mosaic
                ? linear(n + "/attention/self/Wqkv", x, w + "attention.self.Wqkv", true)
                : fusedQkv(n + "/attention/self/qkv", x, w + "attention.self.");
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

    /** Classic BERT's query, key and value as one matmul: columns Q, then K, then V, as MosaicBERT's Wqkv. */
    private String fusedQkv(String name, String x, String prefix) {
        int hidden = cfg.hiddenSize();
        float[] wt = new float[hidden * 3 * hidden], bias = new float[3 * hidden];
        String[] parts = {"query", "key", "value"};
        for (int p = 0; p < 3; p++) {
            Tensor wp = model.weight(prefix + parts[p] + ".weight"); // [out H, in H]
            for (int o = 0; o < hidden; o++) {
                for (int in = 0; in < hidden; in++) wt[in * 3 * hidden + p * hidden + o] = wp.data()[o * hidden + in];
            }
            System.arraycopy(model.weight(prefix + parts[p] + ".bias").data(), 0, bias, p * hidden, hidden);
        }
        String y = g.node(name + "/MatMul", "MatMul",
                List.of(x, g.initializer(prefix + "qkv.weight.T", new Tensor(new int[] {hidden, 3 * hidden}, wt))));
        return g.node(name + "/Add", "Add", List.of(y, g.initializer(prefix + "qkv.bias", new Tensor(new int[] {3 * hidden}, bias))));
    }

    /** pooler tanh(dense(first token of each sequence)) → classifier. */
    private String classifier(String h) {
        String starts = g.node("/pooler/Starts", "Slice",
                List.of("cu_seqlens", g.constInt64("/pooler/slice_start", 0), g.constInt64("/pooler/slice_end", -1)));
        String first = g.node("/pooler/First", "Gather", List.of(h, starts), intAttr("axis", 0)); // [B,H]
        String pooled = g.node("/pooler/Tanh", "Tanh", List.of(linear("/pooler/dense", first, "bert.pooler.dense", true)));
        return linear("/classifier", pooled, "classifier", true);
    }

    /** transform dense → act → LayerNorm → decoder (tied to the word embeddings unless stored apart). */
    private String mlmHead(String h) {
        String p = "cls.predictions.";
        String t = activation("/cls/transform/act", linear("/cls/transform/dense", h, p + "transform.dense", true));
        t = layerNorm("/cls/transform/LayerNorm", t, p + "transform.LayerNorm");
        Tensor dec = model.decoderWeight();
        String emb = "bert.embeddings.word_embeddings.weight";
        Tensor embT = model.weight(emb);
        boolean tied = dec == embT || (Arrays.equals(dec.shape(), embT.shape()) && Arrays.equals(dec.data(), embT.data()));
        return g.node("/cls/decoder/Gemm", "Gemm",
                List.of(t, tied ? emb : g.initializer(p + "decoder.weight", dec),
                        g.initializer(p + "decoder.bias", model.weight(p + "decoder.bias"))),
                intAttr("transB", 1));
    }

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

    /** hidden_act: exact GELU as com.microsoft.Gelu; the tanh approximation as FastGelu; relu. */
    private String activation(String name, String x) {
        String act = cfg.hiddenAct() == null ? "gelu" : cfg.hiddenAct().toLowerCase(Locale.ROOT);
        return switch (act) {
            case "gelu" -> g.node(MS, name + "/Gelu", "Gelu", List.of(x));
            case "gelu_new", "gelu_pytorch_tanh", "gelu_fast" -> g.node(MS, name + "/FastGelu", "FastGelu", List.of(x));
            case "relu" -> g.node(name + "/Relu", "Relu", List.of(x));
            default -> throw new IllegalArgumentException("hidden_act '" + cfg.hiddenAct()
                    + "' is not supported by the ONNX export (supported: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu)");
        };
    }
}
