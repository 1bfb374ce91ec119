package dev.tessera.api;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.notNullValue;
import static org.hamcrest.Matchers.nullValue;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.openai.OpenAiEmbeddingModel;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import java.net.URL;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * TEI's /rerank, /embed_all, /similarity, /decode and OpenAI's /v1/embeddings, each checked against another
 * route computing the same thing another way (/predict, /embed, /tokenize), and /v1/embeddings through
 * LangChain4j's OpenAI client, which nobody here wrote.
 */
@QuarkusTest
class TeiOpenAiApiTest {
    static final List<String> TEXTS = List.of("the movie was good", "a dull , dreadful film", "the plot goes nowhere at all");

    @TestHTTPResource("/v1")
    URL v1;

    @BeforeEach
    void waitUntilReady() {
        Awaitility.await().atMost(java.time.Duration.ofSeconds(60)).until(() -> given().get("/health/ready").statusCode() == 200);
    }

    static Response post(String path, Object body) {
        return given().contentType(ContentType.JSON).body(body).post(path);
    }

    static float[] floats(List<? extends Number> xs) {
        float[] out = new float[xs.size()];
        for (int i = 0; i < out.length; i++) out[i] = xs.get(i).floatValue();
        return out;
    }

    List<float[]> embed(String model, List<String> texts, boolean normalize) {
        List<List<Number>> rows = post("/v1/models/" + model + "/embed", Map.of("inputs", texts.stream().map(List::of).toList(),
                "normalize", normalize)).then().statusCode(200).extract().jsonPath().getList("$");
        return rows.stream().map(TeiOpenAiApiTest::floats).toList();
    }

    @Test
    void embedAllRowsAreTheTokensAndTheirMeanIsTheSentenceEmbedding() {
        for (String model : List.of("mosaic-cls12", "bert-cls-f16")) { // packed tessera fp32, padded ort int8
            JsonPath all = post("/v1/models/" + model + "/embed_all", Map.of("inputs", List.of(List.of(TEXTS.get(0)), List.of(TEXTS.get(2)))))
                    .then().statusCode(200).extract().jsonPath();
            List<float[]> pooled = embed(model, List.of(TEXTS.get(0), TEXTS.get(2)), false);
            for (int i = 0; i < 2; i++) {
                int tokens = post("/v1/embeddings", Map.of("model", model, "input", TEXTS.get(i * 2)))
                        .then().statusCode(200).extract().jsonPath().getInt("usage.prompt_tokens");
                List<List<Number>> rows = all.getList("[" + i + "]");
                assertEquals(tokens, rows.size(), model + ": one row per token, no padding rows");
                float[] mean = new float[48];
                for (List<Number> r : rows) {
                    float[] v = floats(r);
                    for (int k = 0; k < 48; k++) mean[k] += v[k] / rows.size();
                }
                assertArrayEquals(pooled.get(i), mean, 2e-4f, model + ": mean of the token states = the mean-pooled embedding");
            }
        }
    }

    @Test
    void rerankMatchesThePairScoresOfPredictBestFirst() {
        String query = "was the movie any good";
        JsonPath ranks = post("/v1/models/bert-cls-f16/rerank", Map.of("query", query, "texts", TEXTS, "return_text", true))
                .then().statusCode(200).extract().jsonPath();
        assertEquals(3, ranks.getList("$").size());
        double prev = 2;
        for (int r = 0; r < 3; r++) {
            int index = ranks.getInt("[" + r + "].index");
            double score = ranks.getDouble("[" + r + "].score");
            assertTrue(score <= prev, "best first");
            prev = score;
            assertEquals(TEXTS.get(index), ranks.getString("[" + r + "].text"));
            List<Map<String, Object>> p = post("/v1/models/bert-cls-f16/predict", Map.of("inputs", List.of(query, TEXTS.get(index))))
                    .then().statusCode(200).extract().jsonPath().getList("$");
            double positive = p.stream().filter(m -> m.get("label").equals("POSITIVE")).mapToDouble(m -> ((Number) m.get("score")).doubleValue()).findFirst().orElseThrow();
            // bert-cls-f16 is served int8 (test profile): its activation scales are per run, so a pair scored alone
            // differs a little from the same pair scored in a run of three
            assertEquals(positive, score, 1e-2, "score = P(second label) of the (query, text) pair");
        }
        post("/v1/models/bert-cls-f16/rerank", Map.of("query", query, "texts", TEXTS)).then().statusCode(200)
                .body("[0].text", nullValue());
        // a regression head ranks by its value; three labels cannot rank
        double value = post("/v1/models/mosaic-reg-bin/predict", Map.of("inputs", List.of(query, TEXTS.get(0))))
                .then().statusCode(200).extract().jsonPath().getDouble("[0].score");
        JsonPath reg = post("/v1/models/mosaic-reg-bin/rerank", Map.of("query", query, "texts", TEXTS)).then().statusCode(200).extract().jsonPath();
        for (int r = 0; r < 3; r++) if (reg.getInt("[" + r + "].index") == 0) assertEquals(value, reg.getDouble("[" + r + "].score"), 1e-6);
        // TEI: a model that is not a reranker is a 424 Backend error
        post("/rerank", Map.of("query", query, "texts", TEXTS)).then().statusCode(424)
                .contentType("application/problem+json").body("detail", containsString("cannot rerank"))
                .body("error", containsString("cannot rerank")).body("error_type", equalTo("Backend"));
        post("/rerank", Map.of("texts", TEXTS)).then().statusCode(422).body("detail", containsString("\"query\" is missing"));
        post("/rerank", Map.of("query", "q", "texts", List.of())).then().statusCode(400).body("detail", containsString("empty"))
                .body("error_type", equalTo("Empty"));
        post("/v1/models/bert-cls-f16/rerank", Map.of("query", "q", "texts", TEXTS, "truncation_direction", "Left")).then().statusCode(200);
    }

    @Test
    void similarityIsTheCosineOfTheEmbeddings() {
        List<Number> sims = post("/similarity", Map.of("inputs", Map.of("source_sentence", TEXTS.get(0), "sentences", TEXTS)))
                .then().statusCode(200).extract().jsonPath().getList("$");
        List<float[]> e = embed("mosaic-cls12", TEXTS, true);
        for (int i = 0; i < 3; i++) {
            double dot = 0;
            for (int k = 0; k < 48; k++) dot += e.get(0)[k] * e.get(i)[k];
            assertEquals(dot, sims.get(i).doubleValue(), 1e-5);
        }
        assertEquals(1.0, sims.get(0).doubleValue(), 1e-5);
        post("/similarity", Map.of("inputs", TEXTS)).then().statusCode(422).body("detail", containsString("source_sentence"));
    }

    @Test
    void decodeInvertsTokenize() {
        List<Integer> ids = post("/tokenize", Map.of("inputs", TEXTS.get(1))).then().statusCode(200)
                .extract().jsonPath().getList("[0].id");
        post("/decode", Map.of("ids", ids)).then().statusCode(200).body("[0]", equalTo(TEXTS.get(1).replace(" ,", ",")));
        post("/decode", Map.of("ids", List.of(ids, ids.subList(0, 2)), "skip_special_tokens", false)).then().statusCode(200)
                .body("[0]", containsString("[CLS]")).body("size()", equalTo(2));
        post("/decode", Map.of("ids", List.of(1_000_000))).then().statusCode(422).body("detail", containsString("outside the vocabulary"));
        post("/decode", Map.of("ids", "abc")).then().statusCode(422).contentType("application/problem+json");
    }

    @Test
    void infoCarriesTeiFields() {
        given().get("/info").then().statusCode(200).body("model_id", equalTo("mosaic-cls12")).body("model_dtype", equalTo("float32"))
                .body("model_type.classifier.id2label.'0'", equalTo("negative"))
                .body("model_type.classifier.label2id.positive", equalTo(2))
                .body("max_client_batch_size", notNullValue()).body("max_batch_tokens", notNullValue())
                .body("auto_truncate", equalTo(false)).body("version", notNullValue());
    }

    // ---- OpenAI

    @Test
    void langChain4jOpenAiClientGetsTheVectorsOfEmbed() {
        OpenAiEmbeddingModel client = OpenAiEmbeddingModel.builder().baseUrl(v1.toString()).apiKey("not-needed")
                .modelName("mosaic-cls12").build();
        List<Embedding> got = client.embedAll(TEXTS.stream().map(TextSegment::from).toList()).content();
        List<float[]> want = embed("mosaic-cls12", TEXTS, true);
        assertEquals(3, got.size());
        for (int i = 0; i < 3; i++) assertArrayEquals(want.get(i), got.get(i).vector(), 1e-7f, "text " + i);
        assertEquals(48, client.dimension());
    }

    @Test
    void openAiInputShapesEncodingsDimensionsAndUsage() {
        List<float[]> want = embed("mosaic-cls12", TEXTS, true);
        JsonPath f = post("/v1/embeddings", Map.of("model", "mosaic-cls12", "input", TEXTS)).then().statusCode(200)
                .body("object", equalTo("list")).body("model", equalTo("mosaic-cls12"))
                .body("data[1].object", equalTo("embedding")).body("data[1].index", equalTo(1)).extract().jsonPath();
        int tokens = 0;
        List<List<Integer>> ids = new ArrayList<>();
        for (String t : TEXTS) {
            List<Integer> seq = post("/tokenize", Map.of("inputs", t)).then().extract().jsonPath().getList("[0].id");
            ids.add(seq);
            tokens += seq.size();
        }
        assertEquals(tokens, f.getInt("usage.prompt_tokens"));
        assertEquals(tokens, f.getInt("usage.total_tokens"));
        // base64: little-endian float32, as the SDKs decode it
        List<String> b64 = post("/v1/embeddings", Map.of("model", "mosaic-cls12", "input", TEXTS, "encoding_format", "base64"))
                .then().statusCode(200).extract().jsonPath().getList("data.embedding");
        // token ids (the same ids /tokenize gives, specials included) embed exactly like the text
        List<List<Number>> fromIds = post("/v1/embeddings", Map.of("model", "mosaic-cls12", "input", ids)).then().statusCode(200)
                .extract().jsonPath().getList("data.embedding");
        for (int i = 0; i < 3; i++) {
            assertArrayEquals(want.get(i), floats(f.getList("data[" + i + "].embedding")), 1e-7f);
            ByteBuffer b = ByteBuffer.wrap(Base64.getDecoder().decode(b64.get(i))).order(ByteOrder.LITTLE_ENDIAN);
            float[] v = new float[48];
            b.asFloatBuffer().get(v);
            assertArrayEquals(want.get(i), v, 0f, "base64 is the exact float32 vector");
            assertArrayEquals(want.get(i), floats(fromIds.get(i)), 1e-6f);
        }
        post("/v1/embeddings", Map.of("model", "mosaic-cls12", "input", ids.get(0))).then().statusCode(200).body("data.size()", equalTo(1));
        List<Number> short16 = post("/v1/embeddings", Map.of("model", "mosaic-cls12", "input", TEXTS.get(0), "dimensions", 16))
                .then().statusCode(200).extract().jsonPath().getList("data[0].embedding");
        double norm = 0;
        for (Number x : short16) norm += x.doubleValue() * x.doubleValue();
        assertEquals(16, short16.size());
        assertEquals(1.0, norm, 1e-5, "shortened vectors are renormalised");
    }

    @Test
    void openAiErrorsHaveOpenAisShape() {
        post("/v1/embeddings", Map.of("model", "nope", "input", "x")).then().statusCode(404)
                .contentType("application/problem+json").body("error.type", equalTo("not_found_error"))
                .body("error.message", containsString("loaded models"));
        post("/v1/embeddings", Map.of("model", "mosaic-cls12")).then().statusCode(422).body("error.message", containsString("\"input\" is missing"))
                .body("error.type", equalTo("invalid_request_error"));
        post("/v1/embeddings", Map.of("model", "mosaic-cls12", "input", "x", "dimensions", 4096)).then().statusCode(422)
                .body("error.message", containsString("maximum embedding dimension"));
        post("/v1/embeddings", Map.of("model", "mosaic-cls12", "input", "x", "encoding_format", "int8")).then().statusCode(422);
        post("/v1/embeddings", Map.of("model", "mosaic-cls12", "input", List.of(List.of(1, 99_999_999)))).then().statusCode(422)
                .body("error.message", containsString("outside the vocabulary"));
        post("/v1/embeddings", Map.of("model", "mosaic-cls12", "input", List.of(Map.of()))).then().statusCode(422);
    }
}
