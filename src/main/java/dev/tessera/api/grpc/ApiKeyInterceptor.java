package dev.tessera.api.grpc;

import dev.tessera.serving.ServingConfig;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.quarkus.grpc.GlobalInterceptor;
import jakarta.enterprise.context.ApplicationScoped;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;

/**
 * API keys on gRPC, as TEI checks them: when {@code tessera.auth.api-keys} (or admin keys) are set, every call needs
 * {@code authorization: Bearer KEY} metadata with a user or admin key (every tei.v1 call is a read), else
 * UNAUTHENTICATED. Keys compared in constant time as SHA-256 digests, never logged.
 */
@ApplicationScoped
@GlobalInterceptor
public class ApiKeyInterceptor implements ServerInterceptor {
    static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    private final List<byte[]> keys = new ArrayList<>();

    public ApiKeyInterceptor(ServingConfig config) {
        config.auth().apiKeys().orElse(List.of()).forEach(this::add);
        config.auth().adminKeys().orElse(List.of()).forEach(this::add);
    }

    private void add(String key) {
        if (!key.trim().isEmpty()) keys.add(sha256(key.trim()));
    }

    @Override
    public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
        if (keys.isEmpty() || allowed(headers.get(AUTHORIZATION))) return next.startCall(call, headers);
        call.close(Status.UNAUTHENTICATED.withDescription("No valid auth token: send 'authorization: Bearer <key>' metadata"),
                new Metadata());
        return new ServerCall.Listener<>() {};
    }

    private boolean allowed(String header) {
        if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) return false;
        String key = header.substring(7).trim();
        if (key.isEmpty()) return false;
        byte[] presented = sha256(key);
        boolean found = false;
        for (byte[] k : keys) found |= MessageDigest.isEqual(k, presented);
        return found;
    }

    private static byte[] sha256(String key) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
