package dev.tessera.api;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tessera.hf.Fixtures;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * /embed_sparse against an independent computation: the fixtures' MLM logits, computed by the fixture script's own
 * float64 torch forward, pooled here as SPLADE defines it (max over the tokens of log(1 + relu(logit))), must equal
 * the served sparse vectors (absent indices are 0) to float32 accuracy. Both MLM fixtures: MosaicBERT (bf16 shards)
 * and classic BERT; both cases of each in one request, so the engine also runs them as one batch.
 */
@QuarkusTest
class SparseEmbedTest {

    @BeforeEach
    void waitUntilReady() {
        Awaitility.await().atMost(java.time.Duration.ofSeconds(60)).until(() -> given().get("/health/ready").statusCode() == 200);
    }

    @Test
    void spladeOfTheFixtureLogits() {
        for (String model : List.of("mosaic-mlm-sharded-bf16", "bert-mlm-bin")) {
            JsonNode cases = Fixtures.expected(model).get("cases");
            for (JsonNode c : cases) {
                int batch = c.get("input_ids").size();
                List<List<Long>> inputs = new ArrayList<>();
                for (int b = 0; b < batch; b++) {
                    List<Long> ids = new ArrayList<>();
                    for (int t = 0; t < c.get("input_ids").get(b).size(); t++) {
                        if (c.get("attention_mask").get(b).get(t).asInt() == 1) ids.add(c.get("input_ids").get(b).get(t).asLong());
                    }
                    inputs.add(ids);
                }
                List<List<Map<String, Number>>> got = given().contentType(ContentType.JSON).body(Map.of("inputs", inputs))
                        .post("/v1/models/" + model + "/embed_sparse").then().statusCode(200).extract().jsonPath().getList("$");
                assertEquals(batch, got.size());
                for (int b = 0; b < batch; b++) {
                    JsonNode logits = c.get("logits").get(b);
                    int vocab = logits.get(0).size();
                    double[] want = new double[vocab];
                    for (int t = 0; t < inputs.get(b).size(); t++) { // valid positions come first (right padding)
                        for (int v = 0; v < vocab; v++) want[v] = Math.max(want[v], Math.log1p(Math.max(0, logits.get(t).get(v).asDouble())));
                    }
                    double[] dense = new double[vocab];
                    int previous = -1;
                    for (Map<String, Number> sv : got.get(b)) {
                        int index = sv.get("index").intValue();
                        assertTrue(index > previous, "indices ascend");
                        previous = index;
                        dense[index] = sv.get("value").doubleValue();
                    }
                    int nonZero = 0;
                    for (int v = 0; v < vocab; v++) {
                        assertEquals(want[v], dense[v], 1e-4, model + " case " + b + " index " + v);
                        if (want[v] > 1e-3) nonZero++;
                    }
                    assertTrue(nonZero > 0 && nonZero < vocab, model + ": a sparse vector, neither empty nor full: " + nonZero);
                }
            }
        }
    }

    @Test
    void textInputsGiveTheSameVectorsAsTheirIds() {
        String text = "the movie was good";
        List<Integer> ids = given().contentType(ContentType.JSON).body(Map.of("inputs", text))
                .post("/v1/models/mosaic-mlm-sharded-bf16/tokenize").then().statusCode(200).extract().jsonPath().getList("[0].id");
        Object fromText = given().contentType(ContentType.JSON).body(Map.of("inputs", text))
                .post("/v1/models/mosaic-mlm-sharded-bf16/embed_sparse").then().statusCode(200).extract().jsonPath().getList("[0]");
        Object fromIds = given().contentType(ContentType.JSON).body(Map.of("inputs", ids))
                .post("/v1/models/mosaic-mlm-sharded-bf16/embed_sparse").then().statusCode(200).extract().jsonPath().getList("[0]");
        assertEquals(fromText, fromIds);
        given().get("/v1/models/mosaic-mlm-sharded-bf16").then().statusCode(200).body("sparse", org.hamcrest.Matchers.equalTo(true));
        given().get("/v1/models/mosaic-cls12").then().statusCode(200).body("sparse", org.hamcrest.Matchers.equalTo(false));
    }
}
