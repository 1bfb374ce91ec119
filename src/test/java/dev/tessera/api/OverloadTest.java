package dev.tessera.api;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import java.time.Duration;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** A model whose queue holds 2 inputs refuses a request of 3 with 429 and Retry-After. */
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
}
