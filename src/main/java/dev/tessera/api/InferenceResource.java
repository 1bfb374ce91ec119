package dev.tessera.api;

import jakarta.annotation.security.RolesAllowed;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;
import dev.tessera.serving.InferenceService;
import dev.tessera.serving.heads.LabelScore;
import dev.tessera.serving.RequestStats;
import dev.tessera.serving.ServedModel;
import dev.tessera.serving.TextInput;
import dev.tessera.tokenize.Encoding;
import dev.tessera.tokenize.TextTokenizer;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.quarkus.vertx.http.runtime.CurrentVertxRequest;
import io.smallrye.common.annotation.Blocking;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.function.Supplier;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.parameters.RequestBody;

/**
 * Text-embeddings-inference's routes (default model) and their named twins under /v1/models, with TEI's request
 * shapes, response shapes and errors (see {@link Inputs} and {@link Problem}). Bodies are read as JSON trees so
 * every shape error gets a precise message.
 */
@Path("/")
@Produces(MediaType.APPLICATION_JSON)
@Consumes(MediaType.APPLICATION_JSON)
@Blocking
@RolesAllowed(ApiKeys.USER)
public class InferenceResource {

    private final ModelLookup models;
    private final InferenceService inference;
    private final MeterRegistry meters;
    private final CurrentVertxRequest request;

    public InferenceResource(ModelLookup models, InferenceService inference, MeterRegistry meters, CurrentVertxRequest request) {
        this.models = models;
        this.inference = inference;
        this.meters = meters;
        this.request = request;
    }

    @POST
    @Path("predict")
    @Operation(summary = "Classify or score texts or sentence pairs with the default model (TEI /predict)")
    public Object predict(@RequestBody(description = "{\"inputs\": \"text\" | [\"a\",\"b\"] | [[\"a\"], [\"a\",\"b\"], ...], \"truncate\": false, \"truncation_direction\": \"Right\", \"raw_scores\": false}") JsonNode body) {
        return predict(models.defaultModel(), body);
    }

    @POST
    @Path("v1/models/{name}/predict")
    @Operation(summary = "Classify or score with a named model")
    public Object predictNamed(@PathParam("name") String name, JsonNode body) {
        return predict(models.named(name), body);
    }

    @POST
    @Path("embed")
    @Operation(summary = "Mean-pooled sentence embeddings from the default model (TEI /embed); long BERT inputs in windows")
    public List<float[]> embed(@RequestBody(description = "{\"inputs\": \"text\" | [101, 2023] | [\"a\", [101, 2023], ...], \"normalize\": true, \"dimensions\": null, \"truncate\": false, \"truncation_direction\": \"Right\", \"prompt_name\": null}") JsonNode body) {
        return embed(models.defaultModel(), body);
    }

    @POST
    @Path("v1/models/{name}/embed")
    @Operation(summary = "Mean-pooled sentence embeddings from a named model")
    public List<float[]> embedNamed(@PathParam("name") String name, JsonNode body) {
        return embed(models.named(name), body);
    }

    @POST
    @Path("embed_all")
    @Operation(summary = "Every token's last hidden state, special tokens included (TEI /embed_all)")
    public List<float[][]> embedAll(JsonNode body) {
        return embedAll(models.defaultModel(), body);
    }

    @POST
    @Path("v1/models/{name}/embed_all")
    @Operation(summary = "Per-token embeddings from a named model")
    public List<float[][]> embedAllNamed(@PathParam("name") String name, JsonNode body) {
        return embedAll(models.named(name), body);
    }

    @POST
    @Path("embed_sparse")
    @Operation(summary = "SPLADE sparse vectors from the default model's MLM head (TEI /embed_sparse): [[{index, value}]]")
    public List<List<SparseValue>> embedSparse(JsonNode body) {
        return embedSparse(models.defaultModel(), body);
    }

    @POST
    @Path("v1/models/{name}/embed_sparse")
    @Operation(summary = "SPLADE sparse vectors from a named model with an MLM head")
    public List<List<SparseValue>> embedSparseNamed(@PathParam("name") String name, JsonNode body) {
        return embedSparse(models.named(name), body);
    }

    @POST
    @Path("rerank")
    @Operation(summary = "Rank texts against a query through the default model's pair head, best first (TEI /rerank)")
    public List<Ranked> rerank(@RequestBody(description = "{\"query\": \"...\", \"texts\": [\"...\"], \"raw_scores\": false, \"return_text\": false, \"truncate\": false, \"truncation_direction\": \"Right\"}") JsonNode body) {
        return rerank(models.defaultModel(), body);
    }

    @POST
    @Path("v1/models/{name}/rerank")
    @Operation(summary = "Rank texts against a query with a named model")
    public List<Ranked> rerankNamed(@PathParam("name") String name, JsonNode body) {
        return rerank(models.named(name), body);
    }

    @POST
    @Path("similarity")
    @Operation(summary = "Cosine similarity of a source sentence to each of several sentences (TEI /similarity)")
    public float[] similarity(@RequestBody(description = "{\"inputs\": {\"source_sentence\": \"...\", \"sentences\": [\"...\"]}, \"parameters\": {\"truncate\": false, \"truncation_direction\": \"Right\", \"prompt_name\": null}}") JsonNode body) {
        return similarity(models.defaultModel(), body);
    }

    @POST
    @Path("v1/models/{name}/similarity")
    @Operation(summary = "Sentence similarity with a named model")
    public float[] similarityNamed(@PathParam("name") String name, JsonNode body) {
        return similarity(models.named(name), body);
    }

    @POST
    @Path("decode")
    @Operation(summary = "Token ids back to text (TEI /decode)")
    public List<String> decode(@RequestBody(description = "{\"ids\": [101, 2023, 102] | [[...], [...]], \"skip_special_tokens\": true}") JsonNode body) {
        return decode(models.defaultModel(), body);
    }

    @POST
    @Path("v1/models/{name}/decode")
    @Operation(summary = "Decode with a named model's tokenizer")
    public List<String> decodeNamed(@PathParam("name") String name, JsonNode body) {
        return decode(models.named(name), body);
    }

    @POST
    @Path("tokenize")
    @Operation(summary = "Tokens of each input as the default model sees them (TEI /tokenize)")
    public List<List<Token>> tokenize(@RequestBody(description = "{\"inputs\": \"text\" | [\"a\", \"b\", ...], \"add_special_tokens\": true, \"prompt_name\": null}") JsonNode body) {
        return tokenize(models.defaultModel(), body);
    }

    @POST
    @Path("v1/models/{name}/tokenize")
    @Operation(summary = "Tokens of each input as a named model sees them")
    public List<List<Token>> tokenizeNamed(@PathParam("name") String name, JsonNode body) {
        return tokenize(models.named(name), body);
    }

    /**
     * TEI's {@code SimpleToken}: a special token has its own text and null offsets; any other token the span of the
     * input it came from, {@code start}/{@code stop} in UTF-8 bytes. {@code type_id} (Tessera's addition): the segment
     * of a pair item.
     */
    public record Token(int id, String text, boolean special, Integer start, Integer stop, int type_id) {}

    /** TEI's rank: {@code text} only when {@code return_text} was asked. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Ranked(int index, String text, float score) {}

    /** TEI's {@code SparseValue}: a vocabulary index and its weight; only non-zero weights are listed. */
    public record SparseValue(int index, float value) {}

    private List<List<Token>> tokenize(ServedModel model, JsonNode body) {
        return timed(model, "tokenize", () -> {
            List<TextInput> inputs = prompted(model, body, Inputs.tokenize(body));
            boolean special = Inputs.flag(body, "add_special_tokens", true);
            List<Encoding> encodings = inference.tokenize(model, inputs, special);
            List<List<Token>> out = new ArrayList<>(encodings.size());
            for (int k = 0; k < encodings.size(); k++) out.add(tokens(encodings.get(k), inputs.get(k)));
            return out;
        });
    }

    static List<Token> tokens(Encoding enc, TextInput input) {
        List<Token> tokens = new ArrayList<>(enc.length());
        int[] start = enc.start(), end = enc.end();
        long[] seq = enc.sequenceIds();
        // offsets are per text: to UTF-8 bytes of the text each token came from
        int[] startA = TextTokenizer.utf8Offsets(input.first(), start), endA = TextTokenizer.utf8Offsets(input.first(), end);
        int[] startB = input.isPair() ? TextTokenizer.utf8Offsets(input.second(), start) : null;
        int[] endB = input.isPair() ? TextTokenizer.utf8Offsets(input.second(), end) : null;
        for (int i = 0; i < enc.length(); i++) {
            int id = (int) enc.ids()[i], type = (int) enc.typeIds()[i];
            if (enc.isSpecial(i)) {
                tokens.add(new Token(id, enc.tokens()[i], true, null, null, type));
                continue;
            }
            boolean second = seq[i] == 1;
            String text = second ? input.second() : input.first();
            int s = second ? startB[i] : startA[i], e = second ? endB[i] : endA[i];
            byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
            String span = new String(bytes, s, Math.max(0, e - s), StandardCharsets.UTF_8);
            tokens.add(new Token(id, span, false, s, e, type));
        }
        return tokens;
    }

    private List<float[][]> embedAll(ServedModel model, JsonNode body) {
        return timed(model, "embed_all", stats -> inference.embedAll(model, prompted(model, body, Inputs.input(body, "inputs").inputs()),
                Inputs.truncation(body), stats));
    }

    private List<List<SparseValue>> embedSparse(ServedModel model, JsonNode body) {
        return timed(model, "embed_sparse", stats -> {
            List<float[]> dense = inference.embedSparse(model, prompted(model, body, Inputs.input(body, "inputs").inputs()),
                    Inputs.truncation(body), inference.windows(model, Inputs.longInputs(body)), stats);
            List<List<SparseValue>> out = new ArrayList<>(dense.size());
            for (float[] v : dense) out.add(sparse(v));
            return out;
        });
    }

    static List<SparseValue> sparse(float[] v) {
        List<SparseValue> out = new ArrayList<>();
        for (int i = 0; i < v.length; i++) if (v[i] != 0f) out.add(new SparseValue(i, v[i]));
        return out;
    }

    private List<Ranked> rerank(ServedModel model, JsonNode body) {
        return timed(model, "rerank", stats -> {
            String query = Inputs.field(body, "query");
            List<String> texts = Inputs.texts(Inputs.body(body).get("texts"), "texts");
            boolean returnText = Inputs.flag(body, "return_text", false);
            List<Ranked> out = new ArrayList<>(texts.size());
            for (InferenceService.Rank r : inference.rerank(model, query, texts, Inputs.truncation(body),
                    Inputs.flag(body, "raw_scores", false), stats)) {
                out.add(new Ranked(r.index(), returnText ? texts.get(r.index()) : null, r.score()));
            }
            return out;
        });
    }

    private float[] similarity(ServedModel model, JsonNode body) {
        return timed(model, "similarity", stats -> {
            JsonNode inputs = Inputs.body(body).get("inputs");
            if (inputs == null || !inputs.isObject()) {
                throw ApiException.badInput("\"inputs\" must be an object {\"source_sentence\": \"...\", \"sentences\": [...]}");
            }
            // TEI reads truncate / truncation_direction / prompt_name from "parameters"; top-level fields are also read
            JsonNode params = body.get("parameters");
            if (params != null && !params.isNull() && !params.isObject()) throw ApiException.badInput("\"parameters\" must be an object");
            JsonNode options = params != null && params.isObject() ? params : body;
            String source = Inputs.field(inputs, "source_sentence");
            List<String> sentences = Inputs.texts(inputs.get("sentences"), "sentences");
            if (sentences.isEmpty()) throw ApiException.empty("`inputs.sentences` cannot be empty");
            String prompt = prompt(model, options);
            if (prompt != null) {
                source = prompt + source;
                sentences = sentences.stream().map(s -> prompt + s).toList();
            }
            return inference.similarity(model, source, sentences, Inputs.truncation(options), stats);
        });
    }

    private List<String> decode(ServedModel model, JsonNode body) {
        return timed(model, "decode", () -> inference.decode(model, Inputs.ids(Inputs.body(body).get("ids"), "ids").sequences(),
                Inputs.flag(body, "skip_special_tokens", true)));
    }

    private Object predict(ServedModel model, JsonNode body) {
        return timed(model, "predict", stats -> {
            Inputs.Parsed parsed = Inputs.predict(body);
            List<List<LabelScore>> scores = inference.predict(model, parsed.inputs(), Inputs.truncation(body),
                    Inputs.flag(body, "raw_scores", false), stats);
            return parsed.batch() ? scores : scores.get(0);
        });
    }

    private List<float[]> embed(ServedModel model, JsonNode body) {
        return timed(model, "embed", stats -> inference.embed(model, prompted(model, body, Inputs.input(body, "inputs").inputs()),
                Inputs.truncation(body), Inputs.flag(body, "normalize", true), Inputs.count(body, "dimensions"),
                inference.windows(model, Inputs.longInputs(body)), stats).vectors());
    }

    /** The texts with the model's Sentence Transformers prompt {@code prompt_name} put in front, when one is named. */
    private List<TextInput> prompted(ServedModel model, JsonNode body, List<TextInput> inputs) {
        String prompt = prompt(model, body);
        if (prompt == null) return inputs;
        List<TextInput> out = new ArrayList<>(inputs.size());
        for (TextInput in : inputs) {
            if (in.isPair()) throw ApiException.badInput("`prompt_name` cannot be set with dual inputs");
            if (in.isIds()) throw ApiException.badInput("`prompt_name` cannot be set with token-id inputs");
            out.add(TextInput.single(prompt + in.first()));
        }
        return out;
    }

    private String prompt(ServedModel model, JsonNode body) {
        String name = Inputs.optionalText(body, "prompt_name");
        return name == null ? null : inference.prompt(model, name);
    }

    private <T> T timed(ServedModel model, String route, Supplier<T> work) {
        return timed(model, route, stats -> work.get());
    }

    /** The route's work, timed in Micrometer; with TEI's {@code x-compute-*} / {@code x-*-time} headers on success. */
    private <T> T timed(ServedModel model, String route, Function<RequestStats, T> work) {
        Timer.Sample sample = Timer.start(meters);
        String outcome = "error";
        RequestStats stats = new RequestStats();
        try {
            T result = work.apply(stats);
            outcome = "ok";
            TeiHeaders.put(request, stats, model);
            return result;
        } finally {
            sample.stop(Timer.builder("tessera.requests").description("inference requests by model, route and outcome")
                    .tags("model", model.name(), "route", route, "outcome", outcome).register(meters));
        }
    }
}
