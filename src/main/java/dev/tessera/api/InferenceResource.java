package dev.tessera.api;

import jakarta.annotation.security.RolesAllowed;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;
import dev.tessera.serving.InferenceService;
import dev.tessera.serving.InferenceService.LabelScore;
import dev.tessera.serving.ModelRegistry;
import dev.tessera.serving.ServedModel;
import dev.tessera.tokenize.Encoding;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.smallrye.common.annotation.Blocking;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.parameters.RequestBody;

/**
 * Text-embeddings-inference compatible routes (default model) and their named twins under /v1/models.
 * Bodies are read as JSON trees so every shape error gets a precise 422 instead of a generic 400.
 */
@Path("/")
@Produces(MediaType.APPLICATION_JSON)
@Consumes(MediaType.APPLICATION_JSON)
@Blocking
@RolesAllowed(ApiKeys.USER)
public class InferenceResource {

    private final ModelRegistry registry;
    private final InferenceService inference;
    private final MeterRegistry meters;

    public InferenceResource(ModelRegistry registry, InferenceService inference, MeterRegistry meters) {
        this.registry = registry;
        this.inference = inference;
        this.meters = meters;
    }

    @POST
    @Path("predict")
    @Operation(summary = "Classify or score texts or sentence pairs with the default model (TEI /predict)")
    public Object predict(@RequestBody(description = "{\"inputs\": \"text\" | [\"a\",\"b\"] | [...], \"truncate\": false, \"raw_scores\": false}") JsonNode body) {
        return predict(defaultModel(), body);
    }

    @POST
    @Path("v1/models/{name}/predict")
    @Operation(summary = "Classify or score with a named model")
    public Object predictNamed(@PathParam("name") String name, JsonNode body) {
        return predict(named(name), body);
    }

    @POST
    @Path("embed")
    @Operation(summary = "Mean-pooled sentence embeddings from the default model (TEI /embed)")
    public List<float[]> embed(JsonNode body) {
        return embed(defaultModel(), body);
    }

    @POST
    @Path("v1/models/{name}/embed")
    @Operation(summary = "Mean-pooled sentence embeddings from a named model")
    public List<float[]> embedNamed(@PathParam("name") String name, JsonNode body) {
        return embed(named(name), body);
    }

    @POST
    @Path("embed_all")
    @Operation(summary = "Every token's last hidden state, special tokens included (TEI /embed_all)")
    public List<float[][]> embedAll(JsonNode body) {
        return embedAll(defaultModel(), body);
    }

    @POST
    @Path("v1/models/{name}/embed_all")
    @Operation(summary = "Per-token embeddings from a named model")
    public List<float[][]> embedAllNamed(@PathParam("name") String name, JsonNode body) {
        return embedAll(named(name), body);
    }

    @POST
    @Path("rerank")
    @Operation(summary = "Rank texts against a query through the default model's pair head, best first (TEI /rerank)")
    public List<Ranked> rerank(@RequestBody(description = "{\"query\": \"...\", \"texts\": [\"...\"], \"raw_scores\": false, \"return_text\": false, \"truncate\": false}") JsonNode body) {
        return rerank(defaultModel(), body);
    }

    @POST
    @Path("v1/models/{name}/rerank")
    @Operation(summary = "Rank texts against a query with a named model")
    public List<Ranked> rerankNamed(@PathParam("name") String name, JsonNode body) {
        return rerank(named(name), body);
    }

    @POST
    @Path("similarity")
    @Operation(summary = "Cosine similarity of a source sentence to each of several sentences (TEI /similarity)")
    public float[] similarity(@RequestBody(description = "{\"inputs\": {\"source_sentence\": \"...\", \"sentences\": [\"...\"]}}") JsonNode body) {
        return similarity(defaultModel(), body);
    }

    @POST
    @Path("v1/models/{name}/similarity")
    @Operation(summary = "Sentence similarity with a named model")
    public float[] similarityNamed(@PathParam("name") String name, JsonNode body) {
        return similarity(named(name), body);
    }

    @POST
    @Path("decode")
    @Operation(summary = "Token ids back to text (TEI /decode)")
    public List<String> decode(@RequestBody(description = "{\"ids\": [101, 2023, 102] | [[...], [...]], \"skip_special_tokens\": true}") JsonNode body) {
        return decode(defaultModel(), body);
    }

    @POST
    @Path("v1/models/{name}/decode")
    @Operation(summary = "Decode with a named model's tokenizer")
    public List<String> decodeNamed(@PathParam("name") String name, JsonNode body) {
        return decode(named(name), body);
    }

    @POST
    @Path("tokenize")
    @Operation(summary = "Tokens of each input as the default model sees them (TEI /tokenize)")
    public List<List<Token>> tokenize(JsonNode body) {
        return tokenize(defaultModel(), body);
    }

    @POST
    @Path("v1/models/{name}/tokenize")
    @Operation(summary = "Tokens of each input as a named model sees them")
    public List<List<Token>> tokenizeNamed(@PathParam("name") String name, JsonNode body) {
        return tokenize(named(name), body);
    }

    private List<List<Token>> tokenize(ServedModel model, JsonNode body) {
        return timed(model, "tokenize", () -> {
            Inputs.Parsed parsed = Inputs.parse(body, true);
            List<List<Token>> out = new ArrayList<>();
            for (Encoding enc : inference.tokenize(model, parsed.inputs())) {
                List<Token> tokens = new ArrayList<>(enc.ids().length);
                for (int i = 0; i < enc.ids().length; i++) {
                    tokens.add(new Token((int) enc.ids()[i], enc.tokens()[i], enc.isSpecial(i), (int) enc.typeIds()[i],
                            enc.start()[i], enc.end()[i]));
                }
                out.add(tokens);
            }
            return out;
        });
    }

    /** TEI's token shape, plus the segment: start/stop are character offsets in the token's own text. */
    public record Token(int id, String text, boolean special, int type_id, int start, int stop) {}

    /** TEI's rank: {@code text} only when {@code return_text} was asked. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Ranked(int index, float score, String text) {}

    private List<float[][]> embedAll(ServedModel model, JsonNode body) {
        return timed(model, "embed_all", () -> {
            Inputs.rightTruncationOnly(Inputs.body(body));
            return inference.embedAll(model, Inputs.parse(body, false).inputs(), Inputs.flag(body, "truncate", false));
        });
    }

    private List<Ranked> rerank(ServedModel model, JsonNode body) {
        return timed(model, "rerank", () -> {
            String query = Inputs.field(body, "query");
            List<String> texts = Inputs.texts(body.get("texts"), "texts");
            Inputs.rightTruncationOnly(body);
            boolean returnText = Inputs.flag(body, "return_text", false);
            List<Ranked> out = new ArrayList<>(texts.size());
            for (InferenceService.Rank r : inference.rerank(model, query, texts, Inputs.flag(body, "truncate", false),
                    Inputs.flag(body, "raw_scores", false))) {
                out.add(new Ranked(r.index(), r.score(), returnText ? texts.get(r.index()) : null));
            }
            return out;
        });
    }

    private float[] similarity(ServedModel model, JsonNode body) {
        return timed(model, "similarity", () -> {
            JsonNode inputs = Inputs.body(body).get("inputs");
            if (inputs == null || !inputs.isObject()) {
                throw ApiException.badInput("\"inputs\" must be an object {\"source_sentence\": \"...\", \"sentences\": [...]}");
            }
            Inputs.rightTruncationOnly(body);
            return inference.similarity(model, Inputs.field(inputs, "source_sentence"), Inputs.texts(inputs.get("sentences"),
                    "sentences"), Inputs.flag(body, "truncate", false));
        });
    }

    private List<String> decode(ServedModel model, JsonNode body) {
        return timed(model, "decode", () -> inference.decode(model, Inputs.ids(Inputs.body(body).get("ids"), "ids").sequences(),
                Inputs.flag(body, "skip_special_tokens", true)));
    }

    private Object predict(ServedModel model, JsonNode body) {
        return timed(model, "predict", () -> {
            Inputs.Parsed parsed = Inputs.parse(body, true);
            List<List<LabelScore>> scores = inference.predict(model, parsed.inputs(),
                    Inputs.flag(body, "truncate", false), Inputs.flag(body, "raw_scores", false));
            return parsed.batch() ? scores : scores.get(0);
        });
    }

    private List<float[]> embed(ServedModel model, JsonNode body) {
        return timed(model, "embed", () -> {
            Inputs.Parsed parsed = Inputs.parse(body, false);
            return inference.embed(model, parsed.inputs(), Inputs.flag(body, "truncate", false),
                    Inputs.flag(body, "normalize", true));
        });
    }

    private <T> T timed(ServedModel model, String route, Supplier<T> work) {
        Timer.Sample sample = Timer.start(meters);
        String outcome = "error";
        try {
            T result = work.get();
            outcome = "ok";
            return result;
        } finally {
            sample.stop(Timer.builder("tessera.requests").description("inference requests by model, route and outcome")
                    .tags("model", model.name(), "route", route, "outcome", outcome).register(meters));
        }
    }

    ServedModel defaultModel() {
        requireReady();
        return registry.defaultModel().orElseThrow(() -> ApiException.noModel());
    }

    ServedModel named(String name) {
        requireReady();
        return registry.find(name).orElseThrow(() -> ApiException.unknownModel(name));
    }

    private void requireReady() {
        if (!registry.ready()) throw ApiException.notReady();
    }
}
