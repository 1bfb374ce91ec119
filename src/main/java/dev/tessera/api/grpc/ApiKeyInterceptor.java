package dev.tessera.api.grpc;

import dev.tessera.api.ApiKeys;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.quarkus.grpc.GlobalInterceptor;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.Set;

/**
 * API keys on gRPC, with the same keys and roles as HTTP ({@link ApiKeys}): every tei.v1 call is a read, so it needs
 * role {@code user} — {@code authorization: Bearer KEY} metadata with a user or admin key where reads need a key,
 * else UNAUTHENTICATED. Keys are compared in constant time and never logged.
 */
@ApplicationScoped
@GlobalInterceptor
public class ApiKeyInterceptor implements ServerInterceptor {
    static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    private final ApiKeys keys;

    public ApiKeyInterceptor(ApiKeys keys) {
        this.keys = keys;
    }

    @Override
    public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
        if (roles(headers.get(AUTHORIZATION)).contains(ApiKeys.USER)) return next.startCall(call, headers);
        call.close(Status.UNAUTHENTICATED.withDescription("No valid auth token: send 'authorization: Bearer <key>' metadata"),
                new Metadata());
        return new ServerCall.Listener<>() {};
    }

    private Set<String> roles(String header) {
        String key = header != null && header.regionMatches(true, 0, "Bearer ", 0, 7) ? header.substring(7).trim() : "";
        Set<String> roles = key.isEmpty() ? null : keys.rolesOf(key);
        return roles != null ? roles : keys.anonymousRoles();
    }
}
