package dev.tessera.api;

import jakarta.annotation.security.RolesAllowed;
import com.fasterxml.jackson.databind.JsonNode;
import dev.tessera.serving.InferenceService;
import dev.tessera.serving.ModelRegistry;
import dev.tessera.serving.ServedModel;
import dev.tessera.serving.TextInput;
import io.smallrye.common.annotation.Blocking;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.parameters.RequestBody;

/**
 * OpenAI's embeddings API, so the OpenAI SDKs and LangChain4j's {@code OpenAiEmbeddingModel} work unchanged with
 * a base URL of {@code http://host:8080/v1}. Vectors are the same as {@code /embed}'s (mean-pooled, L2-normalised).
 */
@Path("/v1/embeddings")
@Produces(MediaType.APPLICATION_JSON)
@Consumes(MediaType.APPLICATION_JSON)
@Blocking
@RolesAllowed(ApiKeys.USER)
public class OpenAiResource {

    public record Item(String object, int index, Object embedding) {}

    public record Usage(int prompt_tokens, int total_tokens) {}

    public record EmbeddingsResponse(String object, List<Item> data, String model, Usage usage) {}

    private final ModelRegistry registry;
    private final InferenceService inference;

    public OpenAiResource(ModelRegistry registry, InferenceService inference) {
        this.registry = registry;
        this.inference = inference;
    }

    @POST
    @Operation(summary = "OpenAI-compatible embeddings: input as a string, strings, token ids or lists of token ids")
    public EmbeddingsResponse embeddings(@RequestBody(description = "{\"model\": \"NAME\", \"input\": \"text\" | [\"a\", \"b\"] | [101, 102] | [[101], [102]], \"encoding_format\": \"float\" | \"base64\", \"dimensions\": 256}") JsonNode body) {
        Inputs.body(body);
        ServedModel model = model(body.get("model"));
        JsonNode input = body.get("input");
        if (input == null || input.isNull()) throw ApiException.badInput("\"input\" is missing");
        InferenceService.Embeddings e;
        if (input.isTextual()) {
            e = inference.embedWithUsage(model, List.of(TextInput.single(text(input, "input"))), false, true);
        } else if (input.isArray() && !input.isEmpty() && input.get(0).isTextual()) {
            List<TextInput> texts = new ArrayList<>(input.size());
            for (String t : Inputs.texts(input, "input")) texts.add(TextInput.single(t));
            e = inference.embedWithUsage(model, texts, false, true);
        } else if (input.isArray() && !input.isEmpty() && (input.get(0).isNumber() || input.get(0).isArray())) {
            e = inference.embedTokenIds(model, Inputs.ids(input, "input").sequences(), true);
        } else {
            throw ApiException.badInput("\"input\" must be a string, an array of strings, an array of token ids or an array of arrays of token ids");
        }
        int dims = dimensions(body.get("dimensions"), model.config().hiddenSize());
        boolean base64 = base64(body.get("encoding_format"));
        List<Item> data = new ArrayList<>(e.vectors().size());
        for (int i = 0; i < e.vectors().size(); i++) {
            float[] v = shorten(e.vectors().get(i), dims);
            data.add(new Item("embedding", i, base64 ? base64(v) : v));
        }
        return new EmbeddingsResponse("list", data, model.name(), new Usage(e.tokens(), e.tokens()));
    }

    private ServedModel model(JsonNode name) {
        if (name == null || name.isNull()) throw ApiException.badInput("\"model\" is missing; loaded models: " + names());
        if (!name.isTextual()) throw ApiException.badInput("\"model\" must be a string");
        if (!registry.ready()) throw ApiException.notReady();
        return registry.find(name.asText()).orElseThrow(() -> new ApiException(404, "Unknown model",
                "no model named '" + name.asText() + "' is loaded; loaded models: " + names()));
    }

    private String names() {
        return registry.all().stream().map(ServedModel::name).toList().toString();
    }

    private static String text(JsonNode node, String where) {
        if (node.asText().isBlank()) throw ApiException.badInput(where + " is empty");
        return node.asText();
    }

    /** OpenAI's Matryoshka-style {@code dimensions}: the first N components, renormalised. */
    private static int dimensions(JsonNode d, int hidden) {
        if (d == null || d.isNull()) return hidden;
        if (!d.isIntegralNumber() || d.asInt() < 1 || d.asInt() > hidden) {
            throw ApiException.badInput("\"dimensions\" must be an integer from 1 to " + hidden + " (the model's width), got " + d);
        }
        return d.asInt();
    }

    private static float[] shorten(float[] v, int dims) {
        if (dims == v.length) return v;
        float[] out = Arrays.copyOf(v, dims);
        InferenceService.normalize(out);
        return out;
    }

    private static boolean base64(JsonNode f) {
        if (f == null || f.isNull() || f.asText().equals("float")) return false;
        if (f.asText().equals("base64")) return true;
        throw ApiException.badInput("\"encoding_format\" must be \"float\" or \"base64\", got " + f);
    }

    /** The vector as little-endian float32 bytes, base64: what the OpenAI SDKs decode. */
    private static String base64(float[] v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        return Base64.getEncoder().encodeToString(b.array());
    }
}
