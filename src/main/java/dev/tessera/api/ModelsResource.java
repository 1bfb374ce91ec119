package dev.tessera.api;

import jakarta.annotation.security.RolesAllowed;
import dev.tessera.model.ModelConfig;
import dev.tessera.model.Variant;
import dev.tessera.serving.InferenceService;
import dev.tessera.serving.ModelRegistry;
import dev.tessera.serving.Engine;
import dev.tessera.serving.ServedModel;
import dev.tessera.serving.ServingConfig;
import dev.tessera.serving.heads.LabelHead;
import dev.tessera.serving.heads.MaskedLm;
import dev.tessera.serving.heads.OutputHead;
import io.smallrye.common.annotation.Blocking;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.eclipse.microprofile.config.ConfigProvider;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** What is loaded: TEI's /info for the default model, and the /v1/models catalogue. */
@Path("/")
@Produces(MediaType.APPLICATION_JSON)
@RolesAllowed(ApiKeys.USER)
public class ModelsResource {
    public static final String VERSION = "0.2.0";

    private final ModelRegistry registry;
    private final ModelLookup models;
    private final ServingConfig config;
    private final InferenceService inference;

    public ModelsResource(ModelRegistry registry, ModelLookup models, ServingConfig config, InferenceService inference) {
        this.registry = registry;
        this.models = models;
        this.config = config;
        this.inference = inference;
    }

    @GET
    @Path("info")
    @Operation(summary = "TEI-style description of the default model")
    public Map<String, Object> info() {
        return describe(models.defaultModel());
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

    @RolesAllowed(ApiKeys.ADMIN)
    @POST
    @Path("v1/models/{name}/reload")
    @Blocking
    @Operation(summary = "Load a model's directory again and swap it in without a restart (admin)")
    public Map<String, Object> reload(@PathParam("name") String name) {
        models.requireReady();
        return describe(registry.reload(name)); // RegistryException: 404 or 422 (ProblemMappers)
    }

    @RolesAllowed(ApiKeys.ADMIN)
    @DELETE
    @Path("v1/models/{name}")
    @Operation(summary = "Stop serving a model (admin); its files stay")
    public Response unload(@PathParam("name") String name) {
        registry.unload(name).orElseThrow(() -> ApiException.unknownModel(name));
        return Response.noContent().build();
    }

    private Map<String, Object> describe(ServedModel m) {
        ModelConfig c = m.config();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("model_id", m.name());
        out.put("model_sha", null);
        Engine.Description engine = m.engine().description();
        out.put("model_dtype", engine.precision().equals("int8") ? "int8" : "float32");
        out.put("served_model_name", m.name());
        out.put("model_type", modelType(m.head()));
        out.put("architecture", Map.of(
                "variant", c.variant().name().toLowerCase(),
                "head", m.head().name(),
                "hidden_size", c.hiddenSize(),
                "num_hidden_layers", c.numLayers(),
                "num_attention_heads", c.numHeads(),
                "vocab_size", c.vocabSize(),
                // BERT: learned positions (the hard limit); MosaicBERT: alibi_starting_size, the length it was
                // built for, which ALiBi extrapolates past
                "max_position_embeddings", c.maxPositionEmbeddings(),
                // what feeds a classifier's pooler: the first token (cls) or the mean of the tokens (config.json)
                "classifier_pooling", c.classifierPooling().id()));
        out.put("dialect", engine.dialect());
        out.put("precision", engine.precision());
        out.put("device", engine.device());
        if (engine.note() != null) out.put("engine_note", engine.note());
        out.put("max_input_length", m.maxInputLength());
        out.put("max_batch_tokens", config.serving().maxBatchTokens());
        out.put("max_batch_requests", null); // TEI's name; Tessera bounds a run by tokens only
        out.put("max_client_batch_size", config.serving().maxClientBatchSize());
        out.put("max_concurrent_requests", config.serving().queueCapacity());
        out.put("auto_truncate", false);
        out.put("tokenization_workers", tokenizationWorkers());
        out.put("version", VERSION);
        out.put("sha", null);
        out.put("docker_label", null);
        out.put("long_inputs", longInputs(m));
        out.put("sparse", m.head() instanceof MaskedLm); // /embed_sparse (SPLADE) needs the MLM head
        return out;
    }

    /**
     * Inputs are tokenized on the request's own worker thread, so as many can tokenize at once as the worker pool has
     * threads (Quarkus's default: max(200, 8 × cores)).
     */
    public static int tokenizationWorkers() {
        int cores = Runtime.getRuntime().availableProcessors();
        return ConfigProvider.getConfig().getOptionalValue("quarkus.thread-pool.max-threads", Integer.class)
                .orElse(Math.max(200, 8 * cores));
    }

    /** How /embed and /v1/embeddings treat an input longer than max_input_length when it is not truncated. */
    private Map<String, Object> longInputs(ServedModel m) {
        Map<String, Object> out = new LinkedHashMap<>();
        if (m.config().variant() == Variant.MOSAIC_BERT) {
            out.put("strategy", "single_pass");
            out.put("why", "ALiBi: no learned positions, so one pass reads the whole input; max_input_length is a budget "
                    + "(tessera.model.\"" + m.name() + "\".max-input-length), past it the input is refused unless truncated");
        } else if (inference.windows(m, null)) {
            out.put("strategy", "windows");
            out.put("window", m.maxInputLength());
            out.put("overlap", inference.windowOverlap(m));
            out.put("pooling", "token-count-weighted mean of the windows' mean-pooled vectors, then normalised if asked");
        } else {
            out.put("strategy", "error");
            out.put("why", "learned positions stop at " + m.config().maxPositionEmbeddings()
                    + "; tessera.serving.long-inputs=error (a request may still ask \"long_inputs\": \"windows\")");
        }
        return out;
    }

    /**
     * TEI's model_type, named by the model's {@link OutputHead#kind()}: {@code classifier} or {@code reranker} with
     * id2label/label2id, else {@code embedding}.
     */
    private static Object modelType(OutputHead head) {
        String kind = head.kind().name().toLowerCase();
        if (head instanceof LabelHead h) {
            Map<String, Object> id2label = new LinkedHashMap<>(), label2id = new LinkedHashMap<>();
            List<String> labels = h.labels();
            for (int i = 0; i < labels.size(); i++) {
                id2label.put(String.valueOf(i), labels.get(i));
                label2id.put(labels.get(i), i);
            }
            return Map.of(kind, Map.of("id2label", id2label, "label2id", label2id, "problem_type", h.problemType()));
        }
        return Map.of(kind, Map.of("pooling", "mean"));
    }
}
