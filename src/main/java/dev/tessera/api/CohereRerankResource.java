package dev.tessera.api;

import jakarta.annotation.security.RolesAllowed;
import com.fasterxml.jackson.annotation.JsonInclude;
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
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.parameters.RequestBody;

/**
 * Rerank the way Cohere's, Jina's and vLLM's clients call it: {@code query}, {@code documents} (strings or
 * {@code {"text": ...}} objects), {@code top_n}, {@code return_documents}, optional {@code model} (default: the
 * default model) → {@code results: [{index, relevance_score, document?: {text}}]} best first, with Jina's and vLLM's
 * {@code model} and {@code usage} and Cohere's {@code id} and {@code meta}. Scores are TEI /rerank's (same model
 * head, same pairs). {@code /v2/rerank} is Cohere's v2 path for the same call.
 */
@Path("/")
@Produces(MediaType.APPLICATION_JSON)
@Consumes(MediaType.APPLICATION_JSON)
@Blocking
@RolesAllowed(ApiKeys.USER)
public class CohereRerankResource {

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Result(int index, float relevance_score, Document document) {}

    public record Document(String text) {}

    public record Usage(int total_tokens) {}

    public record Meta(ApiVersion api_version, BilledUnits billed_units) {}

    public record ApiVersion(String version) {}

    public record BilledUnits(int search_units) {}

    public record RerankResponse(String id, String model, List<Result> results, Usage usage, Meta meta) {}

    private final ModelLookup models;
    private final InferenceService inference;
    private final CurrentVertxRequest request;

    public CohereRerankResource(ModelLookup models, InferenceService inference, CurrentVertxRequest request) {
        this.models = models;
        this.inference = inference;
        this.request = request;
    }

    @POST
    @Path("v1/rerank")
    @Operation(summary = "Cohere/Jina/vLLM-style rerank: documents ranked against a query, best first, top_n of them")
    public RerankResponse rerank(@RequestBody(description = "{\"model\": \"NAME\" (optional), \"query\": \"...\", \"documents\": [\"...\" | {\"text\": \"...\"}], \"top_n\": 3, \"return_documents\": false, \"truncate\": false}") JsonNode body) {
        return rank(body, "1");
    }

    @POST
    @Path("v2/rerank")
    @Operation(summary = "Cohere's v2 path of the same rerank")
    public RerankResponse rerankV2(JsonNode body) {
        return rank(body, "2");
    }

    private RerankResponse rank(JsonNode body, String version) {
        Inputs.body(body);
        ServedModel model = models.requested(body.get("model"), ApiException::unknownModel);
        String query = Inputs.field(body, "query");
        List<String> documents = documents(body.get("documents"));
        if (documents.isEmpty()) throw ApiException.empty("`documents` cannot be empty");
        Integer topN = Inputs.count(body, "top_n");
        if (topN != null && topN < 1) throw ApiException.badInput("\"top_n\" must be at least 1, got " + topN);
        boolean returnDocuments = Inputs.flag(body, "return_documents", false);
        RequestStats stats = new RequestStats();
        List<InferenceService.Rank> ranks = inference.rerank(model, query, documents,
                Truncation.of(Inputs.flag(body, "truncate", false), false), false, stats);
        int n = topN == null ? ranks.size() : Math.min(topN, ranks.size());
        List<Result> results = new ArrayList<>(n);
        for (InferenceService.Rank r : ranks.subList(0, n)) {
            results.add(new Result(r.index(), r.score(), returnDocuments ? new Document(documents.get(r.index())) : null));
        }
        TeiHeaders.put(request, stats, model);
        return new RerankResponse(UUID.randomUUID().toString(), model.name(), results, new Usage(stats.tokens()),
                new Meta(new ApiVersion(version), new BilledUnits(1)));
    }

    /** Strings, or objects with a string {@code text} (Cohere and Jina take both). */
    private static List<String> documents(JsonNode node) {
        if (node == null || node.isNull()) throw ApiException.badInput("\"documents\" is missing");
        if (!node.isArray()) throw ApiException.badInput("\"documents\" must be an array of strings or of {\"text\": \"...\"} objects");
        List<String> out = new ArrayList<>(node.size());
        for (int i = 0; i < node.size(); i++) {
            JsonNode d = node.get(i);
            JsonNode text = d.isObject() ? d.get("text") : d;
            if (text == null || !text.isTextual()) {
                throw ApiException.badInput("documents[" + i + "] must be a string or an object with a string \"text\"");
            }
            out.add(text.asText());
        }
        return out;
    }
}
