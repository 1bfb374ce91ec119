package dev.tessera.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tessera.serving.ModelRegistry;
import dev.tessera.serving.ServedModel;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.List;
import java.util.function.Function;

/**
 * Which loaded model a request means — the default one (TEI's routes), one its path names (/v1/models/NAME/…), one its
 * body's {@code "model"} names (OpenAI, Cohere) or one its gRPC metadata names — and the errors when there is none:
 * 503 while the models load or when none is loaded, 404 for an unknown name. Every route asks here.
 */
@ApplicationScoped
public class ModelLookup {
    private final ModelRegistry registry;

    public ModelLookup(ModelRegistry registry) {
        this.registry = registry;
    }

    /** The default model. */
    public ServedModel defaultModel() {
        requireReady();
        return registry.defaultModel().orElseThrow(ApiException::noModel);
    }

    /** The model called {@code name}. */
    public ServedModel named(String name) {
        requireReady();
        return registry.find(name).orElseThrow(() -> ApiException.unknownModel(name));
    }

    /**
     * The model a body's {@code "model"} names (a string), or the default one when it has none, as TEI (which serves one
     * model) does; {@code unknown} makes the error for a name no model has.
     */
    public ServedModel requested(JsonNode name, Function<String, ApiException> unknown) {
        if (name != null && !name.isNull() && !name.isTextual()) throw ApiException.badInput("\"model\" must be a string");
        if (name == null || name.isNull()) return defaultModel();
        requireReady();
        return registry.find(name.asText()).orElseThrow(() -> unknown.apply(name.asText()));
    }

    /** The names of the loaded models. */
    public List<String> names() {
        return registry.all().stream().map(ServedModel::name).toList();
    }

    /** 503 until every model directory has been tried once. */
    public void requireReady() {
        if (!registry.ready()) throw ApiException.notReady();
    }
}
