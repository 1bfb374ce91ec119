package dev.tessera.api;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.closeTo;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.greaterThanOrEqualTo;
import static org.hamcrest.Matchers.hasItems;
import static org.hamcrest.Matchers.hasSize;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Every route and every bad-input case of the serving API, against the committed fixture models. */
@QuarkusTest
class InferenceApiTest {

    static final String SENTENCE = "the movie was good";

    @BeforeEach
    void waitUntilReady() {
        Awaitility.await().atMost(java.time.Duration.ofSeconds(60)).until(() ->
                given().get("/health/ready").statusCode() == 200);
    }

    private static Response post(String path, String json) {
        return given().contentType(ContentType.JSON).body(json).post(path);
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> scores(Response r) {
        return r.then().statusCode(200).extract().jsonPath().getList("$");
    }

    @Test
    void predictSingleReturnsSortedSoftmax() {
        List<Map<String, Object>> s = scores(post("/predict", "{\"inputs\": \"" + SENTENCE + "\"}"));
        assertEquals(3, s.size());
        double sum = 0, prev = 2;
        for (Map<String, Object> ls : s) {
            double v = ((Number) ls.get("score")).doubleValue();
            assertTrue(v <= prev, "sorted by descending score");
            prev = v;
            sum += v;
        }
        assertEquals(1.0, sum, 1e-5);
    }

    @Test
    void rawScoresAreLogitsWhoseSoftmaxIsTheScore() {
        List<Map<String, Object>> raw = scores(post("/predict", "{\"inputs\": \"" + SENTENCE + "\", \"raw_scores\": true}"));
        List<Map<String, Object>> soft = scores(post("/predict", "{\"inputs\": \"" + SENTENCE + "\"}"));
        double max = raw.stream().mapToDouble(m -> ((Number) m.get("score")).doubleValue()).max().orElseThrow();
        double z = raw.stream().mapToDouble(m -> Math.exp(((Number) m.get("score")).doubleValue() - max)).sum();
        for (Map<String, Object> r : raw) {
            double expected = Math.exp(((Number) r.get("score")).doubleValue() - max) / z;
            double got = soft.stream().filter(m -> m.get("label").equals(r.get("label")))
                    .mapToDouble(m -> ((Number) m.get("score")).doubleValue()).findFirst().orElseThrow();
            assertEquals(expected, got, 1e-5);
        }
    }

    @Test
    void pairAndBatchShapes() {
        post("/predict", "{\"inputs\": [\"the movie\", \"was good\"]}").then().statusCode(200).body("$", hasSize(3));
        post("/predict", "{\"inputs\": [[\"the movie\", \"was good\"], [\"bad\"], \"good\"]}").then().statusCode(200)
                .body("$", hasSize(3)).body("[0]", hasSize(3)).body("[2]", hasSize(3));
    }

    @Test
    void batchedResultsEqualSingleResults() throws Exception {
        // Padding and coalescing must not change any sequence's result.
        List<String> texts = List.of("good", "the movie was good", "bad bad bad movie was the bad", "was the movie good or bad");
        Map<String, Float> single = new java.util.HashMap<>();
        for (String t : texts) single.put(t, topScore(post("/predict", "{\"inputs\": \"" + t + "\", \"raw_scores\": true}")));
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<Float>> futures = new ArrayList<>();
            for (int i = 0; i < 32; i++) {
                String t = texts.get(i % texts.size());
                futures.add(pool.submit(() -> topScore(post("/predict", "{\"inputs\": \"" + t + "\", \"raw_scores\": true}"))));
            }
            for (int i = 0; i < futures.size(); i++) {
                assertEquals(single.get(texts.get(i % texts.size())), futures.get(i).get(), 1e-4);
            }
        } finally {
            pool.shutdown();
        }
    }

    private static float topScore(Response r) {
        return r.then().statusCode(200).extract().jsonPath().getFloat("[0].score");
    }

    @Test
    void namedModelsAndRegression() {
        given().get("/v1/models").then().statusCode(200)
                .body("default", equalTo("mosaic-cls12"))
                .body("models.model_id", hasItems("mosaic-cls12", "mosaic-reg-bin", "bert-cls-f16"))
                // a broken checkpoint directory is reported with the reason, not silently skipped
                .body("failed.'hostile-pickle'", containsString("config.json"));
        given().get("/v1/models/bert-cls-f16").then().statusCode(200).body("max_input_length", equalTo(64));
        post("/v1/models/bert-cls-f16/predict", "{\"inputs\": \"" + SENTENCE + "\"}").then().statusCode(200).body("$", hasSize(2));
        // regression: one raw score, no softmax (a softmax over one label would always be 1.0)
        post("/v1/models/mosaic-reg-bin/predict", "{\"inputs\": [\"the movie\", \"was good\"]}").then().statusCode(200)
                .body("$", hasSize(1));
        float reg = post("/v1/models/mosaic-reg-bin/predict", "{\"inputs\": \"good\"}").then().extract().jsonPath().getFloat("[0].score");
        float raw = post("/v1/models/mosaic-reg-bin/predict", "{\"inputs\": \"good\", \"raw_scores\": true}")
                .then().extract().jsonPath().getFloat("[0].score");
        assertEquals(raw, reg, 0.0f, "a regression score is the raw output whether or not raw_scores is set");
        assertTrue(reg != 1.0f, "not a one-label softmax");
    }

    @Test
    void embedReturnsNormalisedVectors() {
        List<List<Float>> v = post("/embed", "{\"inputs\": [\"good\", \"the movie was bad\"]}").then().statusCode(200)
                .extract().jsonPath().getList("$");
        assertEquals(2, v.size());
        assertEquals(48, v.get(0).size());
        double norm = 0;
        for (Number x : (List<Number>) (List<?>) v.get(0)) norm += x.doubleValue() * x.doubleValue();
        assertEquals(1.0, norm, 1e-4);
        post("/v1/models/bert-mlm-bin/embed", "{\"inputs\": \"good\", \"normalize\": false}").then().statusCode(200)
                .body("$", hasSize(1));
    }

    @Test
    void tokenizeShowsSpecialTokensAndPairTypes() {
        // TEI: two strings are a batch of two texts; a pair is Tessera's batch item ["a", "b"] (the console shows segments)
        post("/tokenize", "{\"inputs\": [\"the movie\", \"was good\"]}").then().statusCode(200).body("$", hasSize(2));
        post("/tokenize", "{\"inputs\": [[\"the movie\", \"was good\"]], \"add_special_tokens\": false}").then().statusCode(200)
                .body("[0].special", org.hamcrest.Matchers.everyItem(equalTo(false))).body("[0]", hasSize(4));
        post("/tokenize", "{\"inputs\": [[\"the movie\", \"was good\"]]}").then().statusCode(200)
                .body("[0][0].text", equalTo("[CLS]")).body("[0][0].special", equalTo(true))
                .body("[0].type_id", hasItems(0, 1));
    }

    @Test
    void infoHealthMetricsOpenapi() {
        given().get("/info").then().statusCode(200).body("model_id", equalTo("mosaic-cls12"))
                .body("max_input_length", equalTo(32)).body("model_type.classifier.id2label.size()", equalTo(3))
                // dialect auto: the fastest that loads here (the custom-op library is built with the project)
                .body("dialect", equalTo("tessera")).body("precision", equalTo("fp32")).body("device", equalTo("cpu"));
        given().get("/v1/models/bert-cls-f16").then().statusCode(200)
                .body("dialect", equalTo("ort")).body("precision", equalTo("int8")).body("model_dtype", equalTo("int8"));
        post("/v1/models/bert-cls-f16/predict", "{\"inputs\": \"good\"}").then().statusCode(200);
        given().get("/health").then().statusCode(200).body("status", equalTo("UP"));
        post("/predict", "{\"inputs\": \"good\"}").then().statusCode(200);
        given().get("/metrics").then().statusCode(200)
                .body(containsString("tessera_requests_seconds_count"))
                .body(containsString("tessera_batch_size"))
                .body(containsString("tessera_queue_size"))
                .body(containsString("tessera_tokens_total"));
        given().get("/q/openapi").then().statusCode(200).body(containsString("/v1/models/{name}/predict"));
    }

    // ---- bad input: always problem+json, never a 500; TEI's statuses (400 Empty, 413 batch size, 422 Validation, 424 Backend) ----

    private static void problem(Response r, int status, String detailPart) {
        r.then().statusCode(status).contentType("application/problem+json")
                .body("status", equalTo(status)).body("detail", containsString(detailPart));
    }

    @Test
    void badInputs() {
        problem(post("/predict", "{}"), 422, "\"inputs\" is missing");
        problem(post("/predict", "{\"inputs\": \"\"}"), 400, "empty");
        problem(post("/predict", "{\"inputs\": []}"), 400, "empty");
        problem(post("/predict", "{\"inputs\": 42}"), 422, "must be a string, a pair");
        problem(post("/predict", "{\"inputs\": [[\"a\", \"b\", \"c\"]]}"), 422, "exactly two texts");
        problem(post("/predict", "{\"inputs\": [[\"good\"], 7]}"), 422, "inputs[1]");
        problem(post("/predict", "{\"inputs\": [\"good\", \"so\", \"x\"]}"), 422, "3 strings");
        problem(post("/predict", "{\"inputs\": \"good\", \"truncate\": \"yes\"}"), 422, "\"truncate\" must be a boolean");
        problem(post("/predict", "[1, 2]"), 422, "JSON object");
        problem(post("/predict", "{\"inputs\": "), 422, "not valid JSON");
        problem(post("/v1/models/mosaic-mlm-sharded-bf16/predict", "{\"inputs\": \"good\"}"), 424, "no classification");
        problem(post("/embed", "{\"inputs\": [[\"a\", \"b\"]]}"), 422, "single texts");
    }

    @Test
    void invalidUtf8IsRejected() {
        byte[] body = "{\"inputs\": \"bad \u0000\"}".getBytes(StandardCharsets.UTF_8);
        body[body.length - 3] = (byte) 0xC3; // a lead byte followed by a non-continuation byte
        body[body.length - 2] = (byte) 0x28;
        given().contentType("application/json").body(body).post("/predict").then().statusCode(422)
                .contentType("application/problem+json").body("detail", containsString("UTF-8"));
    }

    @Test
    void unknownModelIs404() {
        problem(post("/v1/models/nope/predict", "{\"inputs\": \"good\"}"), 404, "nope");
        problem(given().get("/v1/models/nope"), 404, "nope");
    }

    @Test
    void tooLongInputsAre422UnlessTruncated() {
        // TEI answers an input longer than max_input_length with 422 Validation (413 is its batch-size error)
        String longText = "good ".repeat(100).trim();
        problem(post("/predict", "{\"inputs\": \"" + longText + "\"}"), 422, "max_input_length 32");
        post("/predict", "{\"inputs\": \"" + longText + "\", \"truncate\": true}").then().statusCode(200);
        // classic BERT is capped by its 64 learned positions
        problem(post("/v1/models/bert-cls-f16/predict", "{\"inputs\": \"" + longText + "\"}"), 422, "max_input_length 64");
    }

    @Test
    void mosaicBertServesPastItsTrainingLength() {
        // mosaic-cls12 was "trained" at 16 tokens (alibi_starting_size); 30 tokens run through ALiBi.
        String text = "good ".repeat(28).trim();
        post("/predict", "{\"inputs\": \"" + text + "\"}").then().statusCode(200).body("$", hasSize(3));
    }

    @Test
    void oversizedBatchIs413() {
        StringBuilder sb = new StringBuilder("{\"inputs\": [");
        for (int i = 0; i < 65; i++) sb.append(i == 0 ? "" : ",").append("[\"good\"]");
        problem(post("/predict", sb.append("]}").toString()), 413, "max_client_batch_size 64");
    }
}
