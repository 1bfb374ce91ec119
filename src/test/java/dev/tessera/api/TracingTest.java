package dev.tessera.api;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * Traces, read with an in-memory exporter (tracing on for this profile only; it is off by default): one request to
 * /predict gives its server span with three children, tessera.tokenize, tessera.queue and tessera.engine, in that
 * order in time, the engine span carrying model, dialect, batch size and tokens.
 */
@QuarkusTest
@TestProfile(TracingTest.On.class)
class TracingTest {

    public static class On implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("quarkus.otel.sdk.disabled", "false", "quarkus.otel.exporter.otlp.enabled", "false",
                    "quarkus.otel.bsp.schedule.delay", "50ms");
        }
    }

    /** Spans go here instead of over OTLP (Quarkus hands every SpanExporter bean the finished spans). */
    @Singleton
    static class Exporter {
        @Produces
        @Singleton
        InMemorySpanExporter exporter() { return InMemorySpanExporter.create(); }
    }

    @Inject
    InMemorySpanExporter spans;

    @Test
    void aRequestHasTokenizeQueueAndEngineChildSpans() {
        Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> given().get("/health/ready").statusCode() == 200);
        spans.reset();
        String text = "the movie was good";
        int tokens = given().contentType(ContentType.JSON).body(Map.of("inputs", text)).post("/tokenize").then().statusCode(200)
                .extract().jsonPath().getList("[0]").size();
        given().contentType(ContentType.JSON).body(Map.of("inputs", text)).post("/predict").then().statusCode(200);

        Awaitility.await().atMost(Duration.ofSeconds(15)).until(() -> find("tessera.engine").isPresent());
        SpanData engine = find("tessera.engine").orElseThrow();
        SpanData queue = find("tessera.queue").orElseThrow(), tokenize = find("tessera.tokenize").orElseThrow();
        String parent = engine.getParentSpanId();
        assertEquals(parent, queue.getParentSpanId());
        assertEquals(parent, tokenize.getParentSpanId());
        SpanData request = spans.getFinishedSpanItems().stream().filter(s -> s.getSpanId().equals(parent)).findFirst()
                .orElseThrow(() -> new AssertionError("no request span with id " + parent + " in " + names()));
        assertTrue(request.getName().contains("predict"), request.getName());
        assertEquals(engine.getTraceId(), request.getTraceId());
        assertTrue(tokenize.getEndEpochNanos() <= queue.getStartEpochNanos() + 1_000_000, "tokenize, then queue");
        assertTrue(queue.getEndEpochNanos() <= engine.getStartEpochNanos(), "queue, then engine");
        assertTrue(engine.getEndEpochNanos() <= request.getEndEpochNanos());
        assertEquals("mosaic-cls12", engine.getAttributes().get(AttributeKey.stringKey("tessera.model")));
        assertEquals("tessera", engine.getAttributes().get(AttributeKey.stringKey("tessera.dialect")));
        assertTrue(engine.getAttributes().get(AttributeKey.longKey("tessera.batch_size")) >= 1);
        assertEquals(tokens, engine.getAttributes().get(AttributeKey.longKey("tessera.tokens")));
        assertEquals(tokens, tokenize.getAttributes().get(AttributeKey.longKey("tessera.tokens")));
    }

    @org.eclipse.microprofile.config.inject.ConfigProperty(name = "quarkus.grpc.server.test-port")
    int grpcPort;

    @Test
    void aGrpcCallHasTheSameChildSpans() throws InterruptedException {
        Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> given().get("/health/ready").statusCode() == 200);
        spans.reset();
        io.grpc.ManagedChannel channel = io.grpc.ManagedChannelBuilder.forAddress("localhost", grpcPort).usePlaintext().build();
        try {
            dev.tessera.grpc.tei.EmbedGrpc.newBlockingStub(channel).embed(dev.tessera.grpc.tei.EmbedRequest.newBuilder()
                    .setInputs("the movie was good").build());
        } finally {
            channel.shutdownNow().awaitTermination(5, java.util.concurrent.TimeUnit.SECONDS);
        }
        Awaitility.await().atMost(Duration.ofSeconds(15)).until(() -> find("tessera.engine").isPresent());
        SpanData engine = find("tessera.engine").orElseThrow();
        SpanData request = spans.getFinishedSpanItems().stream().filter(s -> s.getSpanId().equals(engine.getParentSpanId())).findFirst()
                .orElseThrow(() -> new AssertionError("no parent span in " + names()));
        assertTrue(request.getName().contains("Embed"), request.getName());
        assertEquals(request.getSpanId(), find("tessera.queue").orElseThrow().getParentSpanId());
        assertEquals(request.getSpanId(), find("tessera.tokenize").orElseThrow().getParentSpanId());
    }

    private Optional<SpanData> find(String name) {
        return spans.getFinishedSpanItems().stream().filter(s -> s.getName().equals(name)).findFirst();
    }

    private List<String> names() {
        return spans.getFinishedSpanItems().stream().map(SpanData::getName).toList();
    }
}
