package dev.tessera.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.train.Pretrainer;
import dev.tessera.train.Recipe;
import dev.tessera.train.TinyFixtures;
import dev.tessera.train.TrainOptions;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.*;
import static org.junit.jupiter.api.Assertions.*;

/** /v1/jobs end to end: a finetuning job whose best model is then served, listing, cancel, bad input. */
@QuarkusTest
@TestProfile(JobsApiTest.Profile.class)
class JobsApiTest {

    /** Own model and jobs directories (temporary), so published models never land in the source tree. */
    public static class Profile implements QuarkusTestProfile {
        static final Path ROOT;
        static {
            try {
                ROOT = Files.createTempDirectory("tessera-jobs-api");
                Files.createDirectories(ROOT.resolve("models"));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("tessera.models.dir", ROOT.resolve("models").toString(),
                    "tessera.jobs.dir", ROOT.resolve("jobs").toString(), "tessera.jobs.threads", "1",
                    "tessera.jobs.data-roots", ROOT.resolve("data").toString());
        }
    }

    static Path data, pretrained;
    static final ObjectMapper JSON = new ObjectMapper();

    @BeforeAll
    static void fixtures() throws Exception {
        data = Profile.ROOT.resolve("data");
        if (Files.isDirectory(data.resolve("pre/final"))) {
            pretrained = data.resolve("pre/final");
            return;
        }
        TinyFixtures.write(data);
        Recipe r = Recipe.parse(TinyFixtures.pretrainYaml(data, 20, 100), "test");
        pretrained = new Pretrainer(r, TrainOptions.defaults().withOutputDir(data.resolve("pre")).withThreads(1)).run().finalDir();
    }

    static Response submit(Map<String, Object> body) throws Exception {
        return given().contentType(ContentType.JSON).body(JSON.writeValueAsString(body)).post("/v1/jobs");
    }

    static Map<String, Object> job(String kind, String yaml) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("kind", kind);
        m.put("recipe", yaml);
        return m;
    }

    static String await(String id, String... statuses) throws InterruptedException {
        long deadline = System.nanoTime() + 90_000_000_000L;
        while (System.nanoTime() < deadline) {
            String s = given().get("/v1/jobs/" + id).then().statusCode(200).extract().path("status");
            for (String want : statuses) if (want.equals(s)) return s;
            Thread.sleep(50);
        }
        fail("job " + id + " did not reach " + String.join("/", statuses));
        return null;
    }

    @Test
    void finetuneJobSucceedsAndItsBestModelIsServed() throws Exception {
        Map<String, Object> body = job("finetune", TinyFixtures.finetuneYaml(data, pretrained, 10, Path.of("ignored")));
        body.put("overrides", Map.of("training.output_dir", Profile.ROOT.resolve("jobs/ft-out").toString()));
        body.put("serve_as", "tiny-sentiment");
        Response r = submit(body);
        r.then().statusCode(202).header("Location", endsWith("/v1/jobs/" + r.path("id")))
                .body("status", equalTo("queued")).body("kind", equalTo("finetune"));
        String id = r.path("id");
        assertEquals("succeeded", await(id, "succeeded", "failed", "cancelled"),
                () -> given().get("/v1/jobs/" + id).asString());
        given().get("/v1/jobs/" + id).then().statusCode(200)
                .body("step", equalTo(100)).body("total_steps", equalTo(100))
                .body("loss_history.size()", equalTo(20))
                .body("metrics.accuracy", greaterThanOrEqualTo(0.9f))
                .body("best_dir", endsWith("best")).body("served_as", equalTo("tiny-sentiment"));
        // served by the registry straight from the published checkpoint: no conversion step
        given().get("/v1/models/tiny-sentiment").then().statusCode(200);
        given().contentType(ContentType.JSON).body("{\"inputs\": \"a dog finds the old house , it was wonderful .\"}")
                .post("/v1/models/tiny-sentiment/predict").then().statusCode(200).body("[0].label", equalTo("pos"));
        given().contentType(ContentType.JSON).body("{\"inputs\": \"a dog finds the old house , it was dreadful .\"}")
                .post("/v1/models/tiny-sentiment/predict").then().statusCode(200).body("[0].label", equalTo("neg"));
    }

    @Test
    void listAndCancelQueuedAndRunningJobs() throws Exception {
        String running = submit(job("pretrain", TinyFixtures.pretrainYaml(data, 1_000_000, 1_000_000))).path("id");
        String queued = submit(job("pretrain", TinyFixtures.pretrainYaml(data, 5, 100))).path("id");
        await(running, "running");
        given().get("/v1/jobs").then().statusCode(200).body("jobs.id", hasItems(running, queued));
        given().delete("/v1/jobs/" + queued).then().statusCode(202).body("status", equalTo("cancelled"));
        given().post("/v1/jobs/" + running + "/cancel").then().statusCode(202).body("cancel_requested", equalTo(true));
        assertEquals("cancelled", await(running, "cancelled", "failed", "succeeded"));
        given().get("/v1/jobs/" + queued).then().body("status", equalTo("cancelled")).body("step", equalTo(0));
    }

    @Test
    void badRecipeIs422WithEveryProblem() throws Exception {
        submit(job("pretrain", "kind: pretrain\nmodel: {hidden: 30, heads: 4}\noptimizer: {lr: -1}\n")).then()
                .statusCode(422).contentType("application/problem+json")
                .body("title", equalTo("Invalid job"))
                .body("problems", hasItem(containsString("model.hidden (30) must be a multiple of model.heads (4)")))
                .body("problems", hasItem(containsString("optimizer.lr")));
        submit(job("pretrain", "kind: pretrain\ncolour: red\n")).then().statusCode(422)
                .body("problems[0]", containsString("unknown key 'colour'"));
        submit(Map.of("kind", "train", "recipe_path", data.resolve("nope.yaml").toString())).then().statusCode(422)
                .body("problems.size()", equalTo(2));
        given().contentType(ContentType.JSON).body("{not json").post("/v1/jobs").then().statusCode(422);
    }

    @Test
    void wrongTypesAndNonObjectBodiesAre422Problems() {
        given().contentType(ContentType.JSON).body("{\"kind\": \"pretrain\", \"recipe\": \"x\", \"overrides\": \"lr=1\"}")
                .post("/v1/jobs").then().statusCode(422).contentType("application/problem+json")
                .body("status", equalTo(422)).body("detail", containsString("'overrides' must be a JSON object"));
        given().contentType(ContentType.JSON).body("{\"kind\": [\"pretrain\"], \"recipe\": \"x\"}")
                .post("/v1/jobs").then().statusCode(422).contentType("application/problem+json")
                .body("detail", containsString("'kind' must be a JSON string"));
        given().contentType(ContentType.JSON).body("[]").post("/v1/jobs").then().statusCode(422)
                .contentType("application/problem+json").body("detail", containsString("body must be a JSON object"));
        given().contentType(ContentType.JSON).body("\"pretrain\"").post("/v1/jobs").then().statusCode(422)
                .contentType("application/problem+json").body("detail", containsString("body must be a JSON object"));
    }

    @Test
    void unknownFieldsAre422NotIgnored() {
        // "serveAs" instead of "serve_as": silently dropping it would train a model that is never served
        given().contentType(ContentType.JSON).body("{\"kind\": \"pretrain\", \"recipe\": \"x\", \"serveAs\": \"m\"}")
                .post("/v1/jobs").then().statusCode(422).contentType("application/problem+json")
                .body("detail", containsString("unknown field 'serveAs'")).body("detail", containsString("serve_as"));
    }

    @Test
    void pathsThatCannotBeParsedAre422Not500() throws Exception {
        // a NUL character makes Path.of throw InvalidPathException
        submit(Map.of("kind", "pretrain", "recipe_path", "recipes/a\u0000.yaml")).then().statusCode(422)
                .contentType("application/problem+json").body("problems", hasItem(containsString("recipe_path: file not found")));
        Map<String, Object> body = job("pretrain", TinyFixtures.pretrainYaml(data, 5, 100));
        body.put("overrides", Map.of("training.output_dir", "out\u0000put"));
        submit(body).then().statusCode(422).contentType("application/problem+json")
                .body("problems", hasItem(containsString("training.output_dir: not a valid path")));
    }

    @Test
    void unknownJobIs404() {
        given().get("/v1/jobs/job-nope").then().statusCode(404).contentType("application/problem+json")
                .body("title", equalTo("Unknown job"));
        given().delete("/v1/jobs/job-nope").then().statusCode(404);
        given().post("/v1/jobs/job-nope/cancel").then().statusCode(404);
    }

    /**
     * Attempted escapes over HTTP, inline recipes and recipe_path alike: each is a 403 naming the rule, and the file
     * system is untouched (nothing written outside, no job recorded).
     */
    @Test
    void escapesAreForbiddenAndLeaveTheFileSystemUntouched() throws Exception {
        Path outside = Files.createTempDirectory("tessera-outside");
        Files.writeString(outside.resolve("secret.txt"), "the quick brown fox\n");
        Files.writeString(outside.resolve("recipe.yaml"), TinyFixtures.pretrainYaml(data, 5, 100));
        Path link = data.resolve("link-out");
        Files.deleteIfExists(link);
        Files.createSymbolicLink(link, outside);
        int jobsBefore = given().get("/v1/jobs").then().extract().jsonPath().getList("jobs").size();
        try {
            String yaml = TinyFixtures.pretrainYaml(data, 5, 100);
            String dotdot = data + "/../../../../../../.." + outside + "/secret.txt";
            for (String train : new String[] {outside + "/secret.txt", dotdot, link + "/secret.txt", "/etc/passwd"}) {
                Map<String, Object> body = job("pretrain", yaml);
                body.put("overrides", Map.of("data.train", java.util.List.of(train)));
                submit(body).then().statusCode(403).contentType("application/problem+json")
                        .body("title", equalTo("Path not allowed"))
                        .body("problems[0]", startsWith("data.train: ")).body("problems[0]", containsString("tessera.jobs.data-roots"));
            }
            for (String out : new String[] {outside + "/out", link + "/out", Profile.ROOT.resolve("jobs/../escaped").toString()}) {
                Map<String, Object> body = job("pretrain", yaml);
                body.put("overrides", Map.of("training.output_dir", out));
                submit(body).then().statusCode(403).body("problems[0]", containsString("tessera.jobs.dir"));
            }
            for (String recipe : new String[] {outside + "/recipe.yaml", link + "/recipe.yaml", "../../../../../../../.." + outside + "/recipe.yaml"}) {
                submit(Map.of("kind", "pretrain", "recipe_path", recipe)).then().statusCode(403)
                        .body("problems[0]", startsWith("recipe_path: "));
            }
            // an inline recipe whose own fields point out is refused the same way
            String hostile = yaml.replace(data.toString(), outside.toString());
            submit(job("pretrain", hostile)).then().statusCode(403);
        } finally {
            Files.delete(link);
        }
        try (var files = Files.list(outside)) {
            assertEquals(2, files.count(), "nothing written outside");
        }
        assertFalse(Files.exists(Profile.ROOT.resolve("escaped")));
        assertEquals(jobsBefore, given().get("/v1/jobs").then().extract().jsonPath().getList("jobs").size(), "no job recorded");
    }
}
