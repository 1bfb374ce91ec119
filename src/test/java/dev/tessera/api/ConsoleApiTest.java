package dev.tessera.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.*;
import static org.junit.jupiter.api.Assertions.*;

/** The routes the web console needs beyond the TEI and job API: the page itself, recipes, named tokenize, job events. */
@QuarkusTest
@TestProfile(ConsoleProfile.class)
class ConsoleApiTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @TestHTTPResource("/")
    URL root;

    record Event(String name, JsonNode data) {}

    @org.junit.jupiter.api.BeforeEach
    void ready() {
        BrowserSupport.awaitReady();
    }

    @Test
    void thePageAndItsScriptsAreServedAtTheRoot() {
        given().get("/").then().statusCode(200).contentType(containsString("text/html"))
                .body(containsString("<title>Tessera console</title>"), containsString("console/console.js"));
        given().get("/console/console.js").then().statusCode(200).body(containsString("import * as api"));
        given().get("/console/console.css").then().statusCode(200);
        // the icon every browser asks for: a 404 there is a console error on every load
        byte[] icon = given().get("/favicon.ico").then().statusCode(200).extract().asByteArray();
        org.junit.jupiter.api.Assertions.assertArrayEquals(new byte[] {0, 0, 1, 0}, java.util.Arrays.copyOf(icon, 4), "an ICO file");
        given().get("/").then().body(containsString("rel=\"icon\" href=\"favicon.ico\""));
    }

    @Test
    void recipesAreListedWithTheirKindAndText() {
        given().get("/v1/recipes").then().statusCode(200)
                .body("dir", equalTo(ConsoleProfile.RECIPES.toString()))
                .body("recipes.name", contains(ConsoleProfile.OUTSIDE, ConsoleProfile.SHORT_PRETRAIN, ConsoleProfile.LONG_PRETRAIN)) // by name
                .body("recipes.kind", everyItem(equalTo("pretrain")))
                .body("recipes[2].path", equalTo(ConsoleProfile.RECIPES.resolve(ConsoleProfile.LONG_PRETRAIN + ".yaml").toString()))
                .body("recipes[2].text", startsWith("# tiny MLM pretraining"));
    }

    @Test
    void namedTokenizeAndModelsSayTheirPositionRange() {
        String body = "{\"inputs\": [[\"the cat was here\"], [\"a\", \"pair\"]]}";
        List<Integer> dflt = given().contentType(ContentType.JSON).body(body).post("/tokenize")
                .then().statusCode(200).body("size()", equalTo(2)).body("[1].type_id", hasItem(1)).extract().path("[0].id");
        List<Integer> named = given().contentType(ContentType.JSON).body(body).post("/v1/models/mosaic-cls12/tokenize")
                .then().statusCode(200).extract().path("[0].id");
        assertEquals(dflt, named);
        given().contentType(ContentType.JSON).body(body).post("/v1/models/nope/tokenize").then().statusCode(404)
                .contentType("application/problem+json");
        given().get("/v1/models/mosaic-cls12").then().body("architecture.max_position_embeddings", equalTo(16));
        given().get("/v1/models/bert-cls-f16").then().body("architecture.max_position_embeddings", equalTo(64));
    }

    @Test
    void jobEventsStreamEveryChangeWithLearningRatesAndEnd() throws Exception {
        String id = given().contentType(ContentType.JSON)
                .body(JSON.writeValueAsString(Map.of("kind", "pretrain", "serve_as", "tiny-mlm", "recipe_path",
                        ConsoleProfile.RECIPES.resolve(ConsoleProfile.SHORT_PRETRAIN + ".yaml").toString())))
                .post("/v1/jobs").then().statusCode(202).extract().path("id");
        List<Event> events = read(id, Duration.ofSeconds(120));

        assertEquals("end", events.getLast().name(), events::toString);
        assertEquals("succeeded", events.getLast().data().path("status").asText());
        List<Event> jobs = events.stream().filter(e -> e.name().equals("job")).toList();
        assertTrue(jobs.size() >= 2, () -> "expected the queued/running state and later changes: " + events);
        assertEquals(0, jobs.getFirst().data().path("history_from").asInt());
        assertFalse(jobs.getFirst().data().has("recipe"), "the recipe text is not streamed");

        // the client's way of rebuilding the history: truncate at history_from, append
        List<JsonNode> history = new ArrayList<>();
        for (Event e : jobs) {
            int from = e.data().path("history_from").asInt();
            assertTrue(from <= history.size());
            history.subList(from, history.size()).clear();
            e.data().path("loss_history").forEach(history::add);
        }
        JsonNode last = jobs.getLast().data();
        assertEquals("succeeded", last.path("status").asText());
        assertEquals(20, last.path("step").asInt());
        assertEquals("tiny-mlm", last.path("served_as").asText());
        assertEquals(List.of(5, 10, 15, 20), history.stream().map(p -> p.path("step").asInt()).toList());
        // the same points as the job record has
        JsonNode record = JSON.readTree(given().get("/v1/jobs/" + id).asString());
        for (int i = 0; i < history.size(); i++) {
            assertEquals(record.path("loss_history").get(i).path("loss").asDouble(), history.get(i).path("loss").asDouble());
        }
        // lr of the step that ended at s, by the recipe's schedule written out: 20 steps, peak 5e-3, warmup
        // round(0.06·20) = 1 step, then linear decay to 0.02·peak
        for (JsonNode p : history) {
            long t = p.path("step").asLong() - 1;
            double want = 5e-3 * (0.02 + 0.98 * (20.0 - t) / (20 - 1));
            assertEquals(want, p.path("lr").asDouble(), 1e-12, p::toString);
        }
        // the published model tokenizes with its own vocabulary (TinyFixtures', not the fixtures')
        String text = "{\"inputs\": [[\"the farmer feeds a small boat\"]]}";
        List<Integer> own = given().contentType(ContentType.JSON).body(text).post("/v1/models/tiny-mlm/tokenize")
                .then().statusCode(200).extract().path("[0].id");
        List<Integer> dflt = given().contentType(ContentType.JSON).body(text).post("/tokenize").then().extract().path("[0].id");
        assertNotEquals(dflt, own);
        // a finished job: its state at once, then end
        List<Event> again = read(id, Duration.ofSeconds(10));
        assertEquals(List.of("job", "end"), again.stream().map(Event::name).toList());
        assertEquals(4, again.getFirst().data().path("loss_history").size());
    }

    @Test
    void eventsOfAnUnknownJobAre404Problems() {
        given().get("/v1/jobs/job-nope/events").then().statusCode(404).contentType("application/problem+json")
                .body("title", equalTo("Unknown job"));
    }

    /** Reads the whole event stream (it ends when the job ends). */
    private List<Event> read(String id, Duration timeout) throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        HttpRequest req = HttpRequest.newBuilder(URI.create(root.toString()).resolve("/v1/jobs/" + id + "/events"))
                .header("Accept", "text/event-stream").timeout(timeout).build();
        HttpResponse<java.io.InputStream> res = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, res.statusCode());
        assertTrue(res.headers().firstValue("content-type").orElse("").startsWith("text/event-stream"));
        List<Event> out = new ArrayList<>();
        long deadline = System.nanoTime() + timeout.toNanos();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(res.body(), StandardCharsets.UTF_8))) {
            String name = "message", line;
            StringBuilder data = new StringBuilder();
            while ((line = r.readLine()) != null) {
                assertTrue(System.nanoTime() < deadline, "the stream did not end in time: " + out);
                if (line.isEmpty()) {
                    if (!data.isEmpty()) out.add(new Event(name, JSON.readTree(data.toString())));
                    name = "message";
                    data.setLength(0);
                } else if (line.startsWith("event:")) name = line.substring(6).trim();
                else if (line.startsWith("data:")) data.append(line.substring(5).trim());
            }
        }
        return out;
    }
}
