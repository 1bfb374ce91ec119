package dev.tessera.api;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * TEI's HTTP contract (OpenAPI document of text-embeddings-inference 1.9.3, and its router where the document is
 * silent): every documented request variant of every shared route answers 200 with a body that conforms to TEI's
 * response schema ({@link TeiSchema}), and every documented error answers TEI's status with an {@code ErrorResponse}
 * whose {@code error_type} is in TEI's enum, spelt as TEI sends it. Routes are checked at the root (default model:
 * mosaic-cls12, a 3-label classifier) and per model under /v1/models/{name}/.
 */
@QuarkusTest
class TeiContractTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String TEXT = "the movie was good";

    @BeforeEach
    void waitUntilReady() {
        Awaitility.await().atMost(java.time.Duration.ofSeconds(60)).until(() -> given().get("/health/ready").statusCode() == 200);
    }

    static JsonNode call(String path, Object body, int status, TeiSchema schema) {
        Response r = given().contentType(ContentType.JSON).body(body).post(path);
        String text = r.asString();
        assertEquals(status, r.statusCode(), path + " " + body + " -> " + text);
        JsonNode node;
        try {
            node = JSON.readTree(text);
        } catch (Exception e) {
            throw new AssertionError(path + ": not JSON: " + text, e);
        }
        List<String> problems = schema.check(node);
        assertTrue(problems.isEmpty(), path + " " + body + " -> " + problems + " in " + text);
        return node;
    }

    static JsonNode ok(String path, Object body, TeiSchema schema) { return call(path, body, 200, schema); }

    /** A documented error: TEI's status, an ErrorResponse with TEI's error_type, and problem+json beside it. */
    static JsonNode error(String path, Object body, int status, String errorType) {
        JsonNode e = call(path, body, status, TeiSchema.ERROR_RESPONSE);
        assertEquals(errorType, e.get("error_type").asText(), path + " " + body + " -> " + e);
        assertEquals(status, e.get("status").asInt(), "problem+json's status beside TEI's members");
        assertEquals(e.get("error").asText(), e.get("detail").asText());
        return e;
    }

    static Map<String, Object> m(Object... kv) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) out.put((String) kv[i], kv[i + 1]);
        return out;
    }

    static List<Integer> ids(String text) {
        List<Integer> out = new ArrayList<>();
        for (JsonNode t : ok("/tokenize", m("inputs", text), TeiSchema.TOKENIZE_RESPONSE).get(0)) out.add(t.get("id").asInt());
        return out;
    }

    // ---- /info

    @Test
    void info() {
        JsonNode info;
        try {
            info = JSON.readTree(given().get("/info").then().statusCode(200).extract().asString());
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        assertEquals(List.of(), TeiSchema.INFO.check(info));
        assertEquals("mosaic-cls12", info.get("served_model_name").asText());
        assertTrue(info.get("tokenization_workers").asInt() > 0);
    }

    @Test
    void inferenceResponsesCarryTeisComputeHeaders() {
        for (Object[] c : new Object[][] {{"/embed", m("inputs", TEXT)}, {"/predict", m("inputs", TEXT)},
                {"/v1/embeddings", m("input", TEXT)}, {"/v1/models/bert-cls-f16/rerank", m("query", "q", "texts", List.of(TEXT))}}) {
            Response r = given().contentType(ContentType.JSON).body(c[1]).post((String) c[0]);
            assertEquals(200, r.statusCode());
            if (!((String) c[0]).contains("rerank")) { // one text: its tokens and characters
                assertEquals(String.valueOf(ids(TEXT).size()), r.getHeader("x-compute-tokens"), c[0] + "");
                assertEquals(String.valueOf(TEXT.length()), r.getHeader("x-compute-characters"), c[0] + "");
            }
            for (String h : List.of("x-compute-type", "x-compute-time", "x-compute-characters", "x-total-time", "x-tokenization-time",
                    "x-queue-time", "x-inference-time")) {
                assertTrue(r.getHeader(h) != null, c[0] + " lacks " + h);
            }
            assertTrue(Long.parseLong(r.getHeader("x-total-time")) >= Long.parseLong(r.getHeader("x-inference-time")));
        }
    }

    // ---- /predict

    @Test
    void predictVariants() {
        for (String base : List.of("", "/v1/models/mosaic-cls12")) {
            JsonNode single = ok(base + "/predict", m("inputs", TEXT), TeiSchema.PREDICT_RESPONSE);
            assertTrue(single.get(0).isObject(), "a single input answers one list of predictions");
            JsonNode pair = ok(base + "/predict", m("inputs", List.of("the movie", "was good")), TeiSchema.PREDICT_RESPONSE);
            assertTrue(pair.get(0).isObject(), "a pair is one input");
            JsonNode batch = ok(base + "/predict", m("inputs", List.of(List.of("the movie", "was good"), List.of(TEXT))), TeiSchema.PREDICT_RESPONSE);
            assertEquals(2, batch.size());
            assertTrue(batch.get(0).isArray(), "a batch answers a list per input");
            ok(base + "/predict", m("inputs", TEXT, "raw_scores", true, "truncate", true, "truncation_direction", "Left"), TeiSchema.PREDICT_RESPONSE);
            ok(base + "/predict", m("inputs", TEXT, "truncate", false, "truncation_direction", "Right"), TeiSchema.PREDICT_RESPONSE);
        }
    }

    @Test
    void predictErrors() {
        error("/predict", m("inputs", List.of()), 400, "Empty");
        error("/predict", m("inputs", ""), 400, "Empty");
        error("/predict", m("inputs", Collections.nCopies(65, List.of("good"))), 413, "Validation");
        error("/predict", m("inputs", "good ".repeat(60)), 422, "Validation"); // longer than max_input_length 32
        error("/predict", m("inputs", 42), 422, "Validation");
        error("/predict", m("inputs", List.of("a", "b", "c")), 422, "Validation");
        error("/predict", m("inputs", TEXT, "truncation_direction", "Middle"), 422, "Validation");
        error("/v1/models/mosaic-mlm-sharded-bf16/predict", m("inputs", TEXT), 424, "Backend"); // no classifier
    }

    // ---- /rerank

    @Test
    void rerankVariantsAndErrors() {
        String path = "/v1/models/bert-cls-f16/rerank";
        JsonNode plain = ok(path, m("query", "was it good", "texts", List.of("good film", "bad film", "so so")), TeiSchema.RERANK_RESPONSE);
        assertFalse(plain.get(0).has("text"));
        JsonNode all = ok(path, m("query", "was it good", "texts", List.of("good film", "bad film"), "return_text", true,
                "raw_scores", true, "truncate", true, "truncation_direction", "Left"), TeiSchema.RERANK_RESPONSE);
        assertEquals(List.of("good film", "bad film").get(all.get(0).get("index").asInt()), all.get(0).get("text").asText());
        error(path, m("query", "q", "texts", List.of()), 400, "Empty");
        error(path, m("query", "q", "texts", Collections.nCopies(65, "x")), 413, "Validation");
        error(path, m("texts", List.of("x")), 422, "Validation");
        error("/rerank", m("query", "q", "texts", List.of("x")), 424, "Backend"); // three labels cannot rerank
    }

    // ---- /embed, /embed_all

    @Test
    void embedInputVariants() {
        List<Integer> ids = ids(TEXT);
        for (String base : List.of("", "/v1/models/mosaic-cls12")) {
            float[] fromText = floats(ok(base + "/embed", m("inputs", TEXT), TeiSchema.EMBED_RESPONSE).get(0));
            // token ids (TEI's InputType::Ids), single and in a batch mixed with text
            float[] fromIds = floats(ok(base + "/embed", m("inputs", ids), TeiSchema.EMBED_RESPONSE).get(0));
            assertArrayEquals(fromText, fromIds, 1e-6f, "ids embed like their text");
            JsonNode mixed = ok(base + "/embed", m("inputs", List.of(TEXT, ids, "another text")), TeiSchema.EMBED_RESPONSE);
            assertEquals(3, mixed.size());
            assertArrayEquals(fromText, floats(mixed.get(1)), 1e-6f);
            JsonNode two = ok(base + "/embed", m("inputs", List.of("a b", "c d")), TeiSchema.EMBED_RESPONSE);
            assertEquals(2, two.size(), "two strings are a batch of two on /embed");
            // normalize, dimensions: the first N components, then normalised (TEI's order)
            float[] raw = floats(ok(base + "/embed", m("inputs", TEXT, "normalize", false), TeiSchema.EMBED_RESPONSE).get(0));
            float[] d16 = floats(ok(base + "/embed", m("inputs", TEXT, "dimensions", 16), TeiSchema.EMBED_RESPONSE).get(0));
            float[] want = java.util.Arrays.copyOf(raw, 16);
            double norm = 0;
            for (float x : want) norm += x * x;
            for (int k = 0; k < 16; k++) want[k] /= (float) Math.sqrt(norm);
            assertArrayEquals(want, d16, 1e-5f);
            float[] d16raw = floats(ok(base + "/embed", m("inputs", TEXT, "dimensions", 16, "normalize", false), TeiSchema.EMBED_RESPONSE).get(0));
            assertArrayEquals(java.util.Arrays.copyOf(raw, 16), d16raw, 1e-6f);
            ok(base + "/embed", m("inputs", TEXT, "truncate", true, "truncation_direction", "Left"), TeiSchema.EMBED_RESPONSE);
            ok(base + "/embed_all", m("inputs", TEXT), TeiSchema.EMBED_ALL_RESPONSE);
            ok(base + "/embed_all", m("inputs", List.of(TEXT, ids), "truncate", true, "truncation_direction", "right"), TeiSchema.EMBED_ALL_RESPONSE);
        }
    }

    @Test
    void truncationLeftKeepsTheEnd() {
        // mosaic-cls12 is served with max_input_length 32: 40 words are cut to [CLS] + 30 + [SEP]
        List<String> words = new ArrayList<>();
        for (int i = 0; i < 40; i++) words.add(i % 2 == 0 ? "good" : "bad");
        words.set(0, "movie");
        words.set(39, "plot");
        String text = String.join(" ", words);
        List<Integer> all = ids(text);
        assertEquals(42, all.size(), "one token per word here");
        List<Integer> keptLeft = new ArrayList<>(all.subList(0, 1));
        keptLeft.addAll(all.subList(11, 42));
        List<Integer> keptRight = new ArrayList<>(all.subList(0, 31));
        keptRight.add(all.get(41));
        float[] left = floats(ok("/embed", m("inputs", text, "truncate", true, "truncation_direction", "Left"), TeiSchema.EMBED_RESPONSE).get(0));
        float[] right = floats(ok("/embed", m("inputs", text, "truncate", true), TeiSchema.EMBED_RESPONSE).get(0));
        assertArrayEquals(floats(ok("/embed", m("inputs", keptLeft), TeiSchema.EMBED_RESPONSE).get(0)), left, 1e-6f);
        assertArrayEquals(floats(ok("/embed", m("inputs", keptRight), TeiSchema.EMBED_RESPONSE).get(0)), right, 1e-6f);
        assertNotEquals(left[0], right[0]);
    }

    @Test
    void embedErrors() {
        for (String route : List.of("/embed", "/embed_all")) {
            error(route, m("inputs", List.of()), 400, "Empty");
            error(route, m("inputs", ""), 400, "Empty");
            error(route, m("inputs", List.of("a", List.of())), 400, "Empty");
            error(route, m("inputs", Collections.nCopies(65, "x")), 413, "Validation");
            error(route, m("inputs", Map.of("a", 1)), 422, "Validation");
            error(route, m("inputs", List.of(1, 99_999_999)), 422, "Tokenizer");
            error(route, m("inputs", "good ".repeat(60)), 422, "Validation"); // MosaicBERT: no windows, past its budget
            error(route, m("inputs", TEXT, "prompt_name", "nope"), 422, "Validation");
        }
        error("/embed", m("inputs", TEXT, "dimensions", 4096), 422, "Validation");
        error("/embed", m("inputs", TEXT, "dimensions", 0), 422, "Validation");
    }

    @Test
    void promptNamePrependsTheModelsPrompt() {
        float[] prompted = floats(ok("/embed", m("inputs", TEXT, "prompt_name", "query"), TeiSchema.EMBED_RESPONSE).get(0));
        float[] spelled = floats(ok("/embed", m("inputs", "query: " + TEXT), TeiSchema.EMBED_RESPONSE).get(0));
        assertArrayEquals(spelled, prompted, 1e-6f);
        assertEquals(ids("passage: " + TEXT).size(), ok("/tokenize", m("inputs", TEXT, "prompt_name", "passage"),
                TeiSchema.TOKENIZE_RESPONSE).get(0).size());
    }

    // ---- /embed_sparse

    @Test
    void embedSparseShapeAndErrors() {
        JsonNode s = ok("/v1/models/mosaic-mlm-sharded-bf16/embed_sparse", m("inputs", List.of(TEXT, "a dull film")), TeiSchema.EMBED_SPARSE_RESPONSE);
        assertEquals(2, s.size());
        assertTrue(s.get(0).size() > 0);
        for (JsonNode v : s.get(0)) assertTrue(v.get("value").asDouble() > 0, "only non-zero weights, and SPLADE's are positive");
        ok("/v1/models/mosaic-mlm-sharded-bf16/embed_sparse", m("inputs", TEXT, "truncate", true, "truncation_direction", "Left"),
                TeiSchema.EMBED_SPARSE_RESPONSE);
        error("/v1/models/mosaic-mlm-sharded-bf16/embed_sparse", m("inputs", List.of()), 400, "Empty");
        error("/v1/models/mosaic-mlm-sharded-bf16/embed_sparse", m("inputs", Collections.nCopies(65, "x")), 413, "Validation");
        error("/embed_sparse", m("inputs", TEXT), 424, "Backend"); // the default model has no MLM head
    }

    // ---- /similarity

    @Test
    void similarityVariantsAndErrors() {
        JsonNode sims = ok("/similarity", m("inputs", m("source_sentence", TEXT, "sentences", List.of(TEXT, "a dull film"))), TeiSchema.SIMILARITY_RESPONSE);
        assertEquals(1.0, sims.get(0).asDouble(), 1e-5);
        ok("/similarity", m("inputs", m("source_sentence", TEXT, "sentences", List.of("x")),
                "parameters", m("truncate", true, "truncation_direction", "Left", "prompt_name", "query")), TeiSchema.SIMILARITY_RESPONSE);
        ok("/v1/models/mosaic-cls12/similarity", m("inputs", m("source_sentence", TEXT, "sentences", List.of("x")), "parameters", null),
                TeiSchema.SIMILARITY_RESPONSE);
        error("/similarity", m("inputs", m("source_sentence", TEXT, "sentences", List.of())), 400, "Empty");
        error("/similarity", m("inputs", m("source_sentence", TEXT, "sentences", Collections.nCopies(64, "x"))), 413, "Validation");
        error("/similarity", m("inputs", List.of(TEXT)), 422, "Validation");
    }

    // ---- /tokenize, /decode

    @Test
    void tokenizeAsTei() {
        String text = "héllo wörld good";
        JsonNode one = ok("/tokenize", m("inputs", text), TeiSchema.TOKENIZE_RESPONSE);
        assertEquals(1, one.size());
        JsonNode tokens = one.get(0);
        JsonNode cls = tokens.get(0), sep = tokens.get(tokens.size() - 1);
        assertTrue(cls.get("special").asBoolean());
        assertEquals("[CLS]", cls.get("text").asText());
        assertTrue(cls.get("start").isNull() && cls.get("stop").isNull(), "special tokens have null offsets: " + cls);
        assertTrue(sep.get("start").isNull());
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        for (int i = 1; i < tokens.size() - 1; i++) {
            JsonNode t = tokens.get(i);
            int start = t.get("start").asInt(), stop = t.get("stop").asInt();
            // the span of the input, by UTF-8 byte offsets, not the normalised token ("he" / "##l" from "héllo")
            assertEquals(new String(utf8, start, stop - start, StandardCharsets.UTF_8), t.get("text").asText());
        }
        assertEquals("hé", tokens.get(1).get("text").asText());
        assertEquals(0, tokens.get(1).get("start").asInt());
        assertEquals(3, tokens.get(1).get("stop").asInt(), "'é' is two bytes");
        // add_special_tokens: false
        JsonNode bare = ok("/tokenize", m("inputs", text, "add_special_tokens", false), TeiSchema.TOKENIZE_RESPONSE).get(0);
        assertEquals(tokens.size() - 2, bare.size());
        for (JsonNode t : bare) assertFalse(t.get("special").asBoolean());
        // a batch of two texts answers two lists (not one pair)
        JsonNode two = ok("/v1/models/mosaic-cls12/tokenize", m("inputs", List.of("the movie", "was good")), TeiSchema.TOKENIZE_RESPONSE);
        assertEquals(2, two.size());
        assertEquals("movie", two.get(0).get(2).get("text").asText());
        assertEquals("good", two.get(1).get(2).get("text").asText());
        error("/tokenize", m("inputs", List.of()), 400, "Empty");
        error("/tokenize", m("inputs", ""), 400, "Empty");
        error("/tokenize", m("inputs", Collections.nCopies(65, "x")), 413, "Validation");
        error("/tokenize", m("inputs", 3), 422, "Validation");
        error("/tokenize", m("inputs", "x", "prompt_name", "nope"), 422, "Validation");
    }

    @Test
    void decodeVariantsAndErrors() {
        List<Integer> ids = ids(TEXT);
        assertEquals(TEXT, ok("/decode", m("ids", ids), TeiSchema.DECODE_RESPONSE).get(0).asText());
        JsonNode both = ok("/v1/models/mosaic-cls12/decode", m("ids", List.of(ids, ids), "skip_special_tokens", false), TeiSchema.DECODE_RESPONSE);
        assertEquals(2, both.size());
        assertTrue(both.get(0).asText().startsWith("[CLS]"));
        error("/decode", m("ids", List.of()), 400, "Empty");
        error("/decode", m("ids", List.of(List.of())), 400, "Empty");
        error("/decode", m("ids", Collections.nCopies(65, List.of(5))), 413, "Validation");
        error("/decode", m("ids", "abc"), 422, "Validation");
        error("/decode", m("ids", List.of(99_999_999)), 422, "Tokenizer");
    }

    // ---- /v1/embeddings (TEI's OpenAI-compatible route)

    @Test
    void openAiCompatible() {
        List<Integer> ids = ids(TEXT);
        for (String path : List.of("/v1/embeddings", "/embeddings")) {
            JsonNode noModel = ok(path, m("input", TEXT), TeiSchema.OPENAI_RESPONSE);
            assertEquals("mosaic-cls12", noModel.get("model").asText(), "without model the default model answers");
            ok(path, m("input", List.of(TEXT, "x"), "model", "mosaic-cls12", "user", "u1"), TeiSchema.OPENAI_RESPONSE);
            ok(path, m("input", ids, "encoding_format", "base64"), TeiSchema.OPENAI_RESPONSE);
            ok(path, m("input", List.of(ids, ids), "encoding_format", "float", "dimensions", 8), TeiSchema.OPENAI_RESPONSE);
        }
        for (Object[] c : new Object[][] {{List.of(), 400, "Empty"}, {Collections.nCopies(65, "x"), 413, "Validation"},
                {List.of(List.of(1, 99_999_999)), 422, "Tokenizer"}, {Map.of(), 422, "Validation"}}) {
            JsonNode e = call("/v1/embeddings", m("input", c[0]), (int) c[1], TeiSchema.OPENAI_ERROR_RESPONSE);
            assertEquals(c[2], e.get("error_type").asText());
            assertEquals(c[2], e.get("type").asText(), "TEI's server sends the member as 'type'");
            assertEquals((int) c[1], e.get("code").asInt());
            assertTrue(e.get("error").get("message").isTextual(), "OpenAI SDKs read error.message");
        }
    }

    @Test
    void malformedBodiesAreValidationErrors() {
        Response r = given().contentType(ContentType.JSON).body("{\"inputs\": ").post("/embed");
        assertEquals(422, r.statusCode());
        assertEquals(List.of(), TeiSchema.ERROR_RESPONSE.check(json(r.asString())));
        assertEquals("Validation", json(r.asString()).get("error_type").asText());
    }

    static JsonNode json(String s) {
        try {
            return JSON.readTree(s);
        } catch (Exception e) {
            throw new AssertionError(s, e);
        }
    }

    static float[] floats(JsonNode arr) {
        float[] out = new float[arr.size()];
        for (int i = 0; i < out.length; i++) out[i] = (float) arr.get(i).asDouble();
        return out;
    }
}
