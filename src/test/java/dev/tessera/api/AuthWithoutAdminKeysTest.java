package dev.tessera.api;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** API keys set, admin keys not: reads work with a key, every write is refused. */
@QuarkusTest
@TestProfile(AuthWithoutAdminKeysTest.Profile.class)
class AuthWithoutAdminKeysTest {
    public static class Profile implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("tessera.auth.api-keys", "only-user");
        }
    }

    @Test
    void writesAreRefusedEvenWithAValidKey() {
        given().header("Authorization", "Bearer only-user").get("/v1/jobs").then().statusCode(200);
        given().header("Authorization", "Bearer only-user").contentType(ContentType.JSON).body("{}").post("/v1/jobs")
                .then().statusCode(403).body("detail", containsString("no admin key is configured"));
        given().header("Authorization", "Bearer only-user").delete("/v1/models/mosaic-cls12").then().statusCode(403);
        given().contentType(ContentType.JSON).body("{}").post("/v1/jobs").then().statusCode(401);
    }
}
