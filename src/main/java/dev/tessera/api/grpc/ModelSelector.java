package dev.tessera.api.grpc;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.quarkus.grpc.GlobalInterceptor;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * Tessera's addition to TEI's gRPC: a {@code model} metadata entry names the served model a call is for (TEI serves
 * one model and has no such entry; without it the default model answers, as for TEI's clients).
 */
@ApplicationScoped
@GlobalInterceptor
public class ModelSelector implements ServerInterceptor {
    static final Metadata.Key<String> MODEL = Metadata.Key.of("model", Metadata.ASCII_STRING_MARSHALLER);
    static final Context.Key<String> SELECTED = Context.key("tessera-model");

    @Override
    public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
        String name = headers.get(MODEL);
        if (name == null || name.isBlank()) return next.startCall(call, headers);
        return Contexts.interceptCall(Context.current().withValue(SELECTED, name.trim()), call, headers, next);
    }
}
