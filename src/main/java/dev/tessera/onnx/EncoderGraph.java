package dev.tessera.onnx;

import dev.tessera.model.BertModel;
import dev.tessera.model.ModelConfig;
import java.util.Locale;

/**
 * What every exported graph is built from, whatever its dialect: the model and its config, the graph under
 * construction, the shared {@link Blocks} (embeddings, projections, LayerNorm, classifier, MLM decoder) and the
 * activations every dialect accepts. {@link BertGraph} (padded batches: portable, ort) and {@link TesseraBertGraph}
 * (packed tokens) extend it.
 */
abstract class EncoderGraph {
    static final int OPSET = 17;

    protected final BertModel model;
    protected final ModelConfig cfg;
    protected final GraphBuilder g;
    protected final Blocks blocks;

    protected EncoderGraph(BertModel model, String graphName) {
        this.model = model;
        this.cfg = model.config();
        this.g = new GraphBuilder(graphName);
        this.blocks = new Blocks(g, model);
    }

    /** Dialect name for the doc string and messages. */
    protected abstract String dialectName();

    protected final String matMul(String name, String x, String prefix) { return blocks.matMul(name, x, prefix); }

    protected final String linear(String name, String x, String prefix, boolean bias) { return blocks.linear(name, x, prefix, bias); }

    protected final String layerNorm(String name, String x, String prefix) { return blocks.layerNorm(name, x, prefix); }

    /** The lower-cased {@code hidden_act}; null means gelu. */
    protected static String act(String hiddenAct) {
        return hiddenAct == null ? "gelu" : hiddenAct.toLowerCase(Locale.ROOT);
    }

    protected final IllegalArgumentException unsupportedActivation(String hiddenAct) {
        return new IllegalArgumentException("hidden_act '" + hiddenAct + "' is not supported by the " + dialectName()
                + " ONNX export (supported: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu)");
    }
}
