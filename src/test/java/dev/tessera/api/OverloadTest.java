package dev.tessera.api;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** A model whose queue holds 2 inputs refuses a request of 3 with 429, Retry-After and TEI's Overloaded, on every inference route. */
@QuarkusTest
@TestProfile(OverloadTest.TinyQueue.class)
class OverloadTest {

    public static class TinyQueue implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("tessera.serving.queue-capacity", "2");
        }
    }

    @Test
    void fullQueueIs429WithRetryAfter() {
        Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> given().get("/health/ready").statusCode() == 200);
        given().contentType(ContentType.JSON).body("{\"inputs\": [\"good\", \"bad\"]}").post("/predict")
                .then().statusCode(200);
        given().contentType(ContentType.JSON).body("{\"inputs\": [[\"good\"], [\"bad\"], [\"movie\"]]}").post("/predict")
                .then().statusCode(429).contentType("application/problem+json").body("error_type", equalTo("Overloaded"))
                .header("Retry-After", equalTo("1"))
                .body("detail", containsString("queue is full"));
    }

    /** TEI documents 429 Overloaded on every inference route: a request larger than the free queue is refused whole. */
    @Test
    void everyInferenceRouteAnswersTeisOverloaded() throws Exception {
        Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> given().get("/health/ready").statusCode() == 200);
        List<String> three = List.of("good", "bad", "movie");
        Map<String, Object> routes = new java.util.LinkedHashMap<>();
        routes.put("/predict", Map.of("inputs", three.stream().map(List::of).toList()));
        routes.put("/embed", Map.of("inputs", three));
        routes.put("/embed_all", Map.of("inputs", three));
        routes.put("/v1/models/mosaic-mlm-sharded-bf16/embed_sparse", Map.of("inputs", three));
        routes.put("/v1/models/bert-cls-f16/rerank", Map.of("query", "q", "texts", three));
        routes.put("/similarity", Map.of("inputs", Map.of("source_sentence", "q", "sentences", three.subList(0, 2))));
        routes.put("/v1/rerank", Map.of("model", "bert-cls-f16", "query", "q", "documents", three));
        for (Map.Entry<String, Object> r : routes.entrySet()) {
            String body = given().contentType(ContentType.JSON).body(r.getValue()).post(r.getKey()).then().statusCode(429)
                    .header("Retry-After", equalTo("1")).extract().asString();
            JsonNode e = new ObjectMapper().readTree(body);
            assertEquals(List.of(), TeiSchema.ERROR_RESPONSE.check(e), r.getKey() + ": " + body);
            assertEquals("Overloaded", e.get("error_type").asText(), r.getKey());
        }
        String body = given().contentType(ContentType.JSON).body(Map.of("input", three)).post("/v1/embeddings").then().statusCode(429)
                .extract().asString();
        JsonNode e = new ObjectMapper().readTree(body);
        assertEquals(List.of(), TeiSchema.OPENAI_ERROR_RESPONSE.check(e), body);
        assertEquals("Overloaded", e.get("type").asText());
        assertEquals(429, e.get("code").asInt());
    }
}
