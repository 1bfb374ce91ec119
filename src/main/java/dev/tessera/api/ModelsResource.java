package dev.tessera.api;

import dev.tessera.model.Head;
import dev.tessera.model.ModelConfig;
import dev.tessera.serving.ModelRegistry;
import dev.tessera.serving.Engine;
import dev.tessera.serving.ServedModel;
import dev.tessera.serving.ServingConfig;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** What is loaded: TEI's /info for the default model, and the /v1/models catalogue. */
@Path("/")
@Produces(MediaType.APPLICATION_JSON)
public class ModelsResource {

    private final ModelRegistry registry;
    private final ServingConfig config;

    public ModelsResource(ModelRegistry registry, ServingConfig config) {
        this.registry = registry;
        this.config = config;
    }

    @GET
    @Path("info")
    @Operation(summary = "TEI-style description of the default model")
    public Map<String, Object> info() {
        if (!registry.ready()) throw new ApiException(503, "Not ready", "models are still loading", 2);
        ServedModel m = registry.defaultModel().orElseThrow(() -> new ApiException(503, "No model", "no model is loaded", 5));
        return describe(m);
    }

    @GET
    @Path("v1/models")
    @Operation(summary = "Every loaded model, and the directories that failed to load with the reason")
    public Map<String, Object> list() {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("default", registry.defaultModel().map(ServedModel::name).orElse(null));
        out.put("models", registry.all().stream().map(this::describe).toList());
        out.put("failed", registry.failures());
        return out;
    }

    @GET
    @Path("v1/models/{name}")
    @Operation(summary = "One loaded model")
    public Map<String, Object> get(@PathParam("name") String name) {
        return describe(registry.find(name).orElseThrow(() -> ApiException.unknownModel(name)));
    }

    private Map<String, Object> describe(ServedModel m) {
        ModelConfig c = m.config();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("model_id", m.name());
        Engine.Description engine = m.engine().description();
        out.put("model_dtype", engine.precision().equals("int8") ? "int8" : "float32");
        out.put("model_type", modelType(c));
        out.put("architecture", Map.of(
                "variant", c.variant().name().toLowerCase(),
                "head", c.head().name().toLowerCase(),
                "hidden_size", c.hiddenSize(),
                "num_hidden_layers", c.numLayers(),
                "num_attention_heads", c.numHeads(),
                "vocab_size", c.vocabSize(),
                // BERT: learned positions (the hard limit); MosaicBERT: alibi_starting_size, the length it was
                // built for, which ALiBi extrapolates past
                "max_position_embeddings", c.maxPositionEmbeddings()));
        out.put("dialect", engine.dialect());
        out.put("precision", engine.precision());
        out.put("device", engine.device());
        if (engine.note() != null) out.put("engine_note", engine.note());
        out.put("max_input_length", m.maxInputLength());
        out.put("max_batch_tokens", config.serving().maxBatchTokens());
        out.put("max_client_batch_size", config.serving().maxClientBatchSize());
        out.put("max_concurrent_requests", config.serving().queueCapacity());
        out.put("version", "0.1.0");
        return out;
    }

    private static Object modelType(ModelConfig c) {
        if (c.head() == Head.CLASSIFICATION || c.head() == Head.REGRESSION) {
            Map<String, Object> id2label = new LinkedHashMap<>();
            List<String> labels = c.labels();
            for (int i = 0; i < labels.size(); i++) id2label.put(String.valueOf(i), labels.get(i));
            return Map.of("classifier", Map.of("id2label", id2label, "problem_type",
                    c.head() == Head.REGRESSION ? "regression" : "single_label_classification"));
        }
        return Map.of("embedding", Map.of("pooling", "mean"));
    }
}
