package dev.tessera.api;

import jakarta.annotation.security.RolesAllowed;
import com.fasterxml.jackson.databind.JsonNode;
import dev.tessera.serving.InferenceService;
import dev.tessera.serving.RequestStats;
import dev.tessera.serving.ServedModel;
import dev.tessera.serving.Truncation;
import io.quarkus.vertx.http.runtime.CurrentVertxRequest;
import io.smallrye.common.annotation.Blocking;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.parameters.RequestBody;

/**
 * OpenAI's embeddings API, so the OpenAI SDKs and LangChain4j's {@code OpenAiEmbeddingModel} work unchanged with
 * a base URL of {@code http://host:8080/v1}. Vectors are the same as {@code /embed}'s (mean-pooled, L2-normalised).
 */
@Path("/")
@Produces(MediaType.APPLICATION_JSON)
@Consumes(MediaType.APPLICATION_JSON)
@Blocking
@RolesAllowed(ApiKeys.USER)
public class OpenAiResource {

    public record Item(String object, int index, Object embedding) {}

    public record Usage(int prompt_tokens, int total_tokens) {}

    public record EmbeddingsResponse(String object, List<Item> data, String model, Usage usage) {}

    private final ModelLookup models;
    private final InferenceService inference;
    private final CurrentVertxRequest request;

    public OpenAiResource(ModelLookup models, InferenceService inference, CurrentVertxRequest request) {
        this.models = models;
        this.inference = inference;
        this.request = request;
    }

    @POST
    @Path("embeddings")
    @Operation(summary = "TEI's alias of /v1/embeddings")
    public EmbeddingsResponse embeddingsAlias(JsonNode body) {
        return embeddings(body);
    }

    @POST
    @Path("v1/embeddings")
    @Operation(summary = "OpenAI-compatible embeddings: input as a string, strings, token ids or lists of token ids; "
            + "without \"model\" the default model answers")
    public EmbeddingsResponse embeddings(@RequestBody(description = "{\"model\": \"NAME\" (optional), \"input\": \"text\" | [\"a\", \"b\"] | [101, 102] | [[101], [102]], \"encoding_format\": \"float\" | \"base64\", \"dimensions\": 256, \"user\": \"...\"}") JsonNode body) {
        Inputs.body(body);
        ServedModel model = models.requested(body.get("model"), name -> ApiException.unknownModel(name, models.names()));
        Inputs.Parsed input = Inputs.input(body, "input");
        Integer dims = Inputs.count(body, "dimensions");
        boolean base64 = base64(body.get("encoding_format"));
        RequestStats stats = new RequestStats();
        InferenceService.Embeddings e = inference.embed(model, input.inputs(), Truncation.NONE, true, dims,
                inference.windows(model, Inputs.longInputs(body)), stats);
        List<Item> data = new ArrayList<>(e.vectors().size());
        for (int i = 0; i < e.vectors().size(); i++) {
            float[] v = e.vectors().get(i);
            data.add(new Item("embedding", i, base64 ? base64(v) : v));
        }
        TeiHeaders.put(request, stats, model);
        return new EmbeddingsResponse("list", data, model.name(), new Usage(e.tokens(), e.tokens()));
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
