package dev.tessera.api;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.not;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import io.restassured.specification.RequestSpecification;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** API keys on: what answers without a key, user keys vs admin keys, and model reload/unload as admin writes. */
@QuarkusTest
@TestProfile(AuthApiTest.Profile.class)
class AuthApiTest {
    static final String USER = "user-key-1", ADMIN = "admin-key-9";

    public static class Profile implements QuarkusTestProfile {
        static final Path MODELS;
        static {
            try {
                MODELS = Files.createTempDirectory("tessera-auth-models");
                for (String m : List.of("m1", "m2")) {
                    Path src = Path.of("src/test/resources/fixtures/mosaic-cls12"), dst = MODELS.resolve(m);
                    Files.createDirectories(dst);
                    try (var files = Files.list(src)) {
                        for (Path f : files.toList()) Files.copy(f, dst.resolve(f.getFileName()));
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("tessera.auth.api-keys", USER + ",user-key-2", "tessera.auth.admin-keys", ADMIN,
                    "tessera.models.dir", MODELS.toString(), "tessera.models.default", "m1");
        }
    }

    @BeforeEach
    void waitUntilReady() {
        Awaitility.await().atMost(java.time.Duration.ofSeconds(60)).until(() -> given().get("/health/ready").statusCode() == 200);
    }

    static RequestSpecification as(String key) {
        RequestSpecification r = given().contentType(ContentType.JSON);
        return key == null ? r : r.header("Authorization", "Bearer " + key);
    }

    @Test
    void healthAndMetricsNeedNoKey() {
        given().get("/health").then().statusCode(200);
        given().get("/health/live").then().statusCode(200);
        given().get("/metrics").then().statusCode(200);
    }

    @Test
    void everyOtherRouteNeedsAValidKey() {
        String predict = "{\"inputs\": \"the movie was good\"}";
        for (String path : List.of("/predict", "/embed", "/tokenize", "/rerank", "/v1/embeddings", "/v1/models/m1/predict")) {
            as(null).body(predict).post(path).then().statusCode(401).contentType("application/problem+json")
                    .header("WWW-Authenticate", containsString("Bearer")).body("detail", containsString("requires an API key"));
            as("wrong").body(predict).post(path).then().statusCode(401).body("detail", equalTo("the API key is not valid"));
        }
        for (String path : List.of("/info", "/v1/models", "/v1/models/m1", "/v1/jobs", "/q/openapi")) {
            as(null).get(path).then().statusCode(401);
        }
        as(USER).body(predict).post("/predict").then().statusCode(200);
        as("user-key-2").get("/info").then().statusCode(200).body("model_id", equalTo("m1"));
        as(ADMIN).body(predict).post("/predict").then().statusCode(200); // an admin key also reads
        given().header("Authorization", "bearer " + USER).get("/v1/models").then().statusCode(200);
        // a missing page is a 404, not a way around the key: static files hold no data
        as(null).get("/no-such-page.html").then().statusCode(not(401));
        as(null).get("/v1/models/x.js").then().statusCode(401);
    }

    @Test
    void writesNeedAnAdminKey() {
        String job = "{\"kind\": \"pretrain\", \"recipe\": \"kind: pretrain\\n\"}";
        as(null).body(job).post("/v1/jobs").then().statusCode(401);
        as(USER).body(job).post("/v1/jobs").then().statusCode(403).contentType("application/problem+json")
                .body("detail", containsString("needs an admin key")).body("error_type", equalTo("Forbidden"));
        as(USER).delete("/v1/jobs/job-x").then().statusCode(403);
        as(USER).post("/v1/models/m1/reload").then().statusCode(403);
        as(USER).delete("/v1/models/m2").then().statusCode(403);
        as(USER).get("/v1/jobs").then().statusCode(200); // listing is a read
        as(ADMIN).body(job).post("/v1/jobs").then().statusCode(422); // through the door; the recipe is incomplete
    }

    @Test
    void adminReloadsAndUnloadsModelsWithoutARestart() {
        as(ADMIN).post("/v1/models/m1/reload").then().statusCode(200).body("model_id", equalTo("m1"));
        as(USER).body("{\"inputs\": \"good\"}").post("/v1/models/m1/predict").then().statusCode(200);
        as(ADMIN).delete("/v1/models/m2").then().statusCode(204);
        as(USER).get("/v1/models/m2").then().statusCode(404);
        as(USER).body("{\"inputs\": \"good\"}").post("/v1/models/m2/predict").then().statusCode(404);
        as(ADMIN).delete("/v1/models/m2").then().statusCode(404);
        // its files stayed: reload serves it again
        as(ADMIN).post("/v1/models/m2/reload").then().statusCode(200);
        as(USER).body("{\"inputs\": \"good\"}").post("/v1/models/m2/predict").then().statusCode(200);
        as(ADMIN).post("/v1/models/nope/reload").then().statusCode(404);
        as(ADMIN).post("/v1/models/..%2F..%2Fetc/reload").then().statusCode(not(200));
    }

    @Test
    void bodiesOverTheLimitAre413Problems() {
        // the test profile keeps the default 8M: declare a larger length without sending it
        byte[] big = new byte[9 << 20];
        java.util.Arrays.fill(big, (byte) 'a');
        as(USER).body(big).post("/predict").then().statusCode(413).contentType("application/problem+json")
                .body("detail", containsString("max-body-size"));
    }

    @Test
    void keysAreNeverLogged() {
        List<String> lines = new java.util.concurrent.CopyOnWriteArrayList<>();
        java.util.logging.Handler capture = new java.util.logging.Handler() {
            @Override public void publish(java.util.logging.LogRecord r) { lines.add(r.getLoggerName() + " " + r.getMessage() + " " + java.util.Arrays.toString(r.getParameters())); }
            @Override public void flush() {}
            @Override public void close() {}
        };
        capture.setLevel(java.util.logging.Level.ALL);
        java.util.logging.Logger root = java.util.logging.Logger.getLogger("");
        java.util.logging.Level before = root.getLevel();
        root.addHandler(capture);
        try {
            as("wrong-key-abc").get("/info").then().statusCode(401);
            as(USER).get("/info").then().statusCode(200);
            as(USER).body("{}").post("/v1/jobs").then().statusCode(403);
            as(ADMIN).post("/v1/models/m1/reload").then().statusCode(200); // logs "serving model ..."
        } finally {
            root.removeHandler(capture);
            root.setLevel(before);
        }
        assertFalse(lines.isEmpty(), "the capture saw the server's log");
        for (String l : lines) assertFalse(l.contains("wrong-key-abc") || l.contains(USER) || l.contains(ADMIN), l);
    }
}
