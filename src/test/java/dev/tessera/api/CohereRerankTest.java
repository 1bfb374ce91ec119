package dev.tessera.api;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * POST /v1/rerank in the shape Cohere's, Jina's and vLLM's rerank APIs document: request {@code model, query,
 * documents (strings or {text}), top_n, return_documents}; response {@code results[{index, relevance_score,
 * document?{text}}]} best first plus {@code model}, {@code usage.total_tokens}, {@code id}, {@code meta}. Scores equal
 * TEI /rerank's for the same model and pairs.
 */
@QuarkusTest
class CohereRerankTest {
    static final String QUERY = "was the movie any good";
    static final List<String> DOCS = List.of("the movie was good", "a dull , dreadful film", "the plot goes nowhere at all", "good good");

    @BeforeEach
    void waitUntilReady() {
        Awaitility.await().atMost(java.time.Duration.ofSeconds(60)).until(() -> given().get("/health/ready").statusCode() == 200);
    }

    static io.restassured.response.Response post(String path, Object body) {
        return given().contentType(ContentType.JSON).body(body).post(path);
    }

    @Test
    void topNDocumentsBestFirstWithTeisScores() {
        JsonPath tei = post("/v1/models/bert-cls-f16/rerank", Map.of("query", QUERY, "texts", DOCS)).then().statusCode(200).extract().jsonPath();
        List<Object> documents = List.of(DOCS.get(0), Map.of("text", DOCS.get(1)), DOCS.get(2), Map.of("text", DOCS.get(3)));
        JsonPath r = post("/v1/rerank", Map.of("model", "bert-cls-f16", "query", QUERY, "documents", documents, "top_n", 2,
                "return_documents", true)).then().statusCode(200).body("model", equalTo("bert-cls-f16")).extract().jsonPath();
        List<Map<String, Object>> results = r.getList("results");
        assertEquals(2, results.size(), "top_n");
        for (int i = 0; i < 2; i++) {
            assertEquals(tei.getInt("[" + i + "].index"), r.getInt("results[" + i + "].index"), "the same order as TEI /rerank");
            assertEquals(tei.getFloat("[" + i + "].score"), r.getFloat("results[" + i + "].relevance_score"), 1e-6);
            assertEquals(DOCS.get(r.getInt("results[" + i + "].index")), r.getString("results[" + i + "].document.text"));
        }
        assertTrue(r.getFloat("results[0].relevance_score") >= r.getFloat("results[1].relevance_score"));
        assertTrue(r.getInt("usage.total_tokens") > 0);
        assertFalse(r.getString("id").isEmpty());
        assertEquals("1", r.getString("meta.api_version.version"));

        JsonPath all = post("/v2/rerank", Map.of("model", "bert-cls-f16", "query", QUERY, "documents", DOCS)).then().statusCode(200)
                .extract().jsonPath();
        assertEquals(DOCS.size(), all.getList("results").size(), "no top_n: every document");
        assertTrue(all.getList("results.document").stream().allMatch(d -> d == null), "documents only when asked");
    }

    @Test
    void errors() {
        post("/v1/rerank", Map.of("model", "bert-cls-f16", "query", QUERY, "documents", List.of())).then().statusCode(400)
                .body("error_type", equalTo("Empty"));
        post("/v1/rerank", Map.of("model", "bert-cls-f16", "query", QUERY, "documents", DOCS, "top_n", 0)).then().statusCode(422);
        post("/v1/rerank", Map.of("model", "bert-cls-f16", "query", QUERY, "documents", List.of(Map.of("title", "x")))).then().statusCode(422);
        post("/v1/rerank", Map.of("model", "nope", "query", QUERY, "documents", DOCS)).then().statusCode(404);
        // no model: the default one (mosaic-cls12, three labels), which cannot rerank
        post("/v1/rerank", Map.of("query", QUERY, "documents", DOCS)).then().statusCode(424).body("error_type", equalTo("Backend"));
    }
}
