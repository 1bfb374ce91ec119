package dev.tessera.api;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tessera.grpc.tei.InfoGrpc;
import dev.tessera.grpc.tei.InfoRequest;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Test;

/** API keys on gRPC (AuthApiTest's keys): no or a wrong 'authorization' is UNAUTHENTICATED; a user or admin key passes. */
@QuarkusTest
@TestProfile(AuthApiTest.Profile.class)
class TeiGrpcAuthTest {
    @ConfigProperty(name = "quarkus.grpc.server.test-port")
    int port;

    static InfoGrpc.InfoBlockingStub stub(ManagedChannel channel, String key) {
        InfoGrpc.InfoBlockingStub s = InfoGrpc.newBlockingStub(channel);
        if (key == null) return s;
        Metadata m = new Metadata();
        m.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + key);
        return s.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(m));
    }

    @Test
    void keysAreChecked() throws InterruptedException {
        Awaitility.await().atMost(java.time.Duration.ofSeconds(60)).until(() -> given().get("/health/ready").statusCode() == 200);
        ManagedChannel channel = ManagedChannelBuilder.forAddress("localhost", port).usePlaintext().build();
        try {
            for (String bad : new String[] {null, "wrong-key"}) {
                StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> stub(channel, bad).info(InfoRequest.getDefaultInstance()));
                assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
            }
            assertEquals("m1", stub(channel, AuthApiTest.USER).info(InfoRequest.getDefaultInstance()).getModelId());
            assertEquals("m1", stub(channel, AuthApiTest.ADMIN).info(InfoRequest.getDefaultInstance()).getModelId());
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }
}
