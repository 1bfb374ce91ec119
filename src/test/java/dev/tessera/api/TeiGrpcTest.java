package dev.tessera.api;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.grpc.tei.DecodeRequest;
import dev.tessera.grpc.tei.EmbedGrpc;
import dev.tessera.grpc.tei.EmbedRequest;
import dev.tessera.grpc.tei.EmbedResponse;
import dev.tessera.grpc.tei.EmbedSparseRequest;
import dev.tessera.grpc.tei.EncodeRequest;
import dev.tessera.grpc.tei.EncodeResponse;
import dev.tessera.grpc.tei.InfoGrpc;
import dev.tessera.grpc.tei.InfoRequest;
import dev.tessera.grpc.tei.InfoResponse;
import dev.tessera.grpc.tei.ModelType;
import dev.tessera.grpc.tei.PredictGrpc;
import dev.tessera.grpc.tei.PredictPairRequest;
import dev.tessera.grpc.tei.PredictRequest;
import dev.tessera.grpc.tei.PredictResponse;
import dev.tessera.grpc.tei.RerankGrpc;
import dev.tessera.grpc.tei.RerankRequest;
import dev.tessera.grpc.tei.TokenizeGrpc;
import dev.tessera.grpc.tei.TruncationDirection;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * TEI's gRPC services (tei.v1) called through the Java stubs generated from our tei.proto, on the gRPC port: every
 * answer equals the HTTP route's for the same input (the same batchers serve both), errors carry TEI's gRPC codes.
 */
@QuarkusTest
class TeiGrpcTest {
    static final String TEXT = "the movie was good";

    @ConfigProperty(name = "quarkus.grpc.server.test-port")
    int port;

    ManagedChannel channel;

    @BeforeEach
    void open() {
        Awaitility.await().atMost(java.time.Duration.ofSeconds(60)).until(() -> given().get("/health/ready").statusCode() == 200);
        channel = ManagedChannelBuilder.forAddress("localhost", port).usePlaintext().build();
    }

    @AfterEach
    void close() throws InterruptedException {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }

    static float[] http(String route, Object body) {
        List<Number> v = given().contentType(ContentType.JSON).body(body).post(route).then().statusCode(200).extract().jsonPath().getList("[0]");
        float[] out = new float[v.size()];
        for (int i = 0; i < out.length; i++) out[i] = v.get(i).floatValue();
        return out;
    }

    static float[] floats(List<Float> xs) {
        float[] out = new float[xs.size()];
        for (int i = 0; i < out.length; i++) out[i] = xs.get(i);
        return out;
    }

    @Test
    void infoDescribesTheDefaultModel() {
        InfoResponse info = InfoGrpc.newBlockingStub(channel).info(InfoRequest.getDefaultInstance());
        assertEquals("mosaic-cls12", info.getModelId());
        assertEquals(ModelType.MODEL_TYPE_CLASSIFIER, info.getModelType());
        assertEquals(32, info.getMaxInputLength());
        assertEquals(64, info.getMaxClientBatchSize());
        assertTrue(info.getTokenizationWorkers() > 0);
    }

    @Test
    void embedAndItsStreamEqualHttpEmbed() throws Exception {
        EmbedGrpc.EmbedBlockingStub embed = EmbedGrpc.newBlockingStub(channel);
        EmbedResponse one = embed.embed(EmbedRequest.newBuilder().setInputs(TEXT).build());
        assertArrayEquals(http("/embed", Map.of("inputs", TEXT)), floats(one.getEmbeddingsList()), 1e-6f);
        assertTrue(one.getMetadata().getComputeTokens() > 0);
        assertEquals(TEXT.length(), one.getMetadata().getComputeChars());
        assertTrue(one.getMetadata().getTotalTimeNs() >= one.getMetadata().getInferenceTimeNs());
        EmbedResponse raw16 = embed.embed(EmbedRequest.newBuilder().setInputs(TEXT).setNormalize(false).setDimensions(16).build());
        assertArrayEquals(http("/embed", Map.of("inputs", TEXT, "normalize", false, "dimensions", 16)), floats(raw16.getEmbeddingsList()), 1e-6f);

        List<String> texts = List.of(TEXT, "a dull , dreadful film", "the plot goes nowhere at all");
        List<EmbedResponse> got = new ArrayList<>();
        CompletableFuture<Void> done = new CompletableFuture<>();
        StreamObserver<EmbedRequest> requests = EmbedGrpc.newStub(channel).embedStream(new StreamObserver<>() {
            @Override public void onNext(EmbedResponse r) { got.add(r); }
            @Override public void onError(Throwable t) { done.completeExceptionally(t); }
            @Override public void onCompleted() { done.complete(null); }
        });
        for (String t : texts) requests.onNext(EmbedRequest.newBuilder().setInputs(t).build());
        requests.onCompleted();
        done.get(30, TimeUnit.SECONDS);
        assertEquals(3, got.size());
        for (int i = 0; i < 3; i++) assertArrayEquals(http("/embed", Map.of("inputs", texts.get(i))), floats(got.get(i).getEmbeddingsList()), 1e-6f);
    }

    @Test
    void predictAndPairEqualHttpPredict() {
        PredictGrpc.PredictBlockingStub predict = PredictGrpc.newBlockingStub(channel);
        PredictResponse p = predict.predict(PredictRequest.newBuilder().setInputs(TEXT).setRawScores(true).build());
        List<Map<String, Object>> want = given().contentType(ContentType.JSON).body(Map.of("inputs", TEXT, "raw_scores", true))
                .post("/predict").then().statusCode(200).extract().jsonPath().getList("$");
        assertEquals(want.size(), p.getPredictionsCount());
        for (int i = 0; i < want.size(); i++) {
            assertEquals(want.get(i).get("label"), p.getPredictions(i).getLabel());
            assertEquals(((Number) want.get(i).get("score")).floatValue(), p.getPredictions(i).getScore(), 1e-5f);
        }
        PredictResponse pair = predict.predictPair(PredictPairRequest.newBuilder().addInputs("the movie").addInputs("was good")
                .setTruncate(true).setTruncationDirection(TruncationDirection.TRUNCATION_DIRECTION_LEFT).build());
        assertEquals(3, pair.getPredictionsCount());
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> predict.predictPair(PredictPairRequest.newBuilder().addInputs("only one").build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    }

    @Test
    void tokenizeAndDecode() {
        TokenizeGrpc.TokenizeBlockingStub tok = TokenizeGrpc.newBlockingStub(channel);
        EncodeResponse enc = tok.tokenize(EncodeRequest.newBuilder().setInputs("héllo good").setAddSpecialTokens(true).build());
        assertTrue(enc.getTokens(0).getSpecial());
        assertFalse(enc.getTokens(0).hasStart(), "special tokens carry no offsets");
        assertEquals("hé", enc.getTokens(1).getText());
        assertEquals(3, enc.getTokens(1).getStop());
        EncodeResponse bare = tok.tokenize(EncodeRequest.newBuilder().setInputs("héllo good").build()); // proto3 default: false
        assertEquals(enc.getTokensCount() - 2, bare.getTokensCount());
        List<Integer> ids = enc.getTokensList().stream().map(t -> t.getId()).toList();
        assertEquals("hello good", tok.decode(DecodeRequest.newBuilder().addAllIds(ids).setSkipSpecialTokens(true).build()).getText());
    }

    @Test
    void errorsCarryTeisGrpcCodes() {
        StatusRuntimeException notReranker = assertThrows(StatusRuntimeException.class, () -> RerankGrpc.newBlockingStub(channel)
                .rerank(RerankRequest.newBuilder().setQuery("q").addTexts("a").build()));
        assertEquals(Status.Code.FAILED_PRECONDITION, notReranker.getStatus().getCode(), "Backend");
        StatusRuntimeException empty = assertThrows(StatusRuntimeException.class,
                () -> EmbedGrpc.newBlockingStub(channel).embed(EmbedRequest.newBuilder().setInputs("").build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, empty.getStatus().getCode(), "Empty");
        StatusRuntimeException sparse = assertThrows(StatusRuntimeException.class,
                () -> EmbedGrpc.newBlockingStub(channel).embedSparse(EmbedSparseRequest.newBuilder().setInputs(TEXT).build()));
        assertEquals(Status.Code.FAILED_PRECONDITION, sparse.getStatus().getCode(), "no MLM head: Backend");
        StatusRuntimeException tooLong = assertThrows(StatusRuntimeException.class,
                () -> EmbedGrpc.newBlockingStub(channel).embed(EmbedRequest.newBuilder().setInputs("good ".repeat(60)).build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, tooLong.getStatus().getCode(), "Validation");
    }

    /** Tessera's "model" metadata: the same services for any served model (without it: the default model, as TEI's clients expect). */
    static <S extends io.grpc.stub.AbstractStub<S>> S forModel(S stub, String model) {
        io.grpc.Metadata m = new io.grpc.Metadata();
        m.put(io.grpc.Metadata.Key.of("model", io.grpc.Metadata.ASCII_STRING_MARSHALLER), model);
        return stub.withInterceptors(io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(m));
    }

    @Test
    void aNamedModelRerankSparseAndAllTokens() throws Exception {
        List<String> texts = List.of("the movie was good", "a dull , dreadful film", "good good");
        List<Map<String, Object>> want = given().contentType(ContentType.JSON).body(Map.of("query", "was it good", "texts", texts))
                .post("/v1/models/bert-cls-f16/rerank").then().statusCode(200).extract().jsonPath().getList("$");
        dev.tessera.grpc.tei.RerankResponse got = forModel(RerankGrpc.newBlockingStub(channel), "bert-cls-f16")
                .rerank(RerankRequest.newBuilder().setQuery("was it good").addAllTexts(texts).setReturnText(true).build());
        assertEquals(3, got.getRanksCount());
        for (int i = 0; i < 3; i++) {
            assertEquals(((Number) want.get(i).get("index")).intValue(), got.getRanks(i).getIndex());
            assertEquals(((Number) want.get(i).get("score")).floatValue(), got.getRanks(i).getScore(), 1e-6f);
            assertEquals(texts.get(got.getRanks(i).getIndex()), got.getRanks(i).getText());
        }
        // the stream: one (query, text) pair per message, ranked together at the end
        CompletableFuture<dev.tessera.grpc.tei.RerankResponse> streamed = new CompletableFuture<>();
        StreamObserver<dev.tessera.grpc.tei.RerankStreamRequest> pairs = forModel(RerankGrpc.newStub(channel), "bert-cls-f16")
                .rerankStream(new StreamObserver<>() {
                    @Override public void onNext(dev.tessera.grpc.tei.RerankResponse r) { streamed.complete(r); }
                    @Override public void onError(Throwable t) { streamed.completeExceptionally(t); }
                    @Override public void onCompleted() {}
                });
        for (String t : texts) pairs.onNext(dev.tessera.grpc.tei.RerankStreamRequest.newBuilder().setQuery("was it good").setText(t).build());
        pairs.onCompleted();
        dev.tessera.grpc.tei.RerankResponse s = streamed.get(30, TimeUnit.SECONDS);
        for (int i = 0; i < 3; i++) {
            assertEquals(got.getRanks(i).getIndex(), s.getRanks(i).getIndex());
            assertEquals(got.getRanks(i).getScore(), s.getRanks(i).getScore(), 1e-6f);
        }

        String model = "mosaic-mlm-sharded-bf16";
        dev.tessera.grpc.tei.EmbedSparseResponse sparse = forModel(EmbedGrpc.newBlockingStub(channel), model)
                .embedSparse(EmbedSparseRequest.newBuilder().setInputs(TEXT).build());
        List<Map<String, Number>> httpSparse = given().contentType(ContentType.JSON).body(Map.of("inputs", TEXT))
                .post("/v1/models/" + model + "/embed_sparse").then().statusCode(200).extract().jsonPath().getList("[0]");
        assertEquals(httpSparse.size(), sparse.getSparseEmbeddingsCount());
        for (int i = 0; i < httpSparse.size(); i++) {
            assertEquals(httpSparse.get(i).get("index").intValue(), sparse.getSparseEmbeddings(i).getIndex());
            assertEquals(httpSparse.get(i).get("value").floatValue(), sparse.getSparseEmbeddings(i).getValue(), 1e-6f);
        }
        dev.tessera.grpc.tei.EmbedAllResponse all = forModel(EmbedGrpc.newBlockingStub(channel), model)
                .embedAll(dev.tessera.grpc.tei.EmbedAllRequest.newBuilder().setInputs(TEXT).build());
        List<List<Number>> httpAll = given().contentType(ContentType.JSON).body(Map.of("inputs", TEXT))
                .post("/v1/models/" + model + "/embed_all").then().statusCode(200).extract().jsonPath().getList("[0]");
        assertEquals(httpAll.size(), all.getTokenEmbeddingsCount());
        for (int t = 0; t < httpAll.size(); t++) {
            for (int k = 0; k < httpAll.get(t).size(); k++) {
                assertEquals(httpAll.get(t).get(k).floatValue(), all.getTokenEmbeddings(t).getEmbeddings(k), 1e-6f);
            }
        }
        StatusRuntimeException unknown = assertThrows(StatusRuntimeException.class, () -> forModel(InfoGrpc.newBlockingStub(channel), "nope")
                .info(InfoRequest.getDefaultInstance()));
        assertEquals(Status.Code.NOT_FOUND, unknown.getStatus().getCode());
        assertEquals("bert-cls-f16", forModel(InfoGrpc.newBlockingStub(channel), "bert-cls-f16").info(InfoRequest.getDefaultInstance()).getModelId());
    }
}
