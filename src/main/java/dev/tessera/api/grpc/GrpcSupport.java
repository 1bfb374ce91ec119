package dev.tessera.api.grpc;

import dev.tessera.api.ApiException;
import dev.tessera.grpc.tei.Metadata;
import dev.tessera.grpc.tei.TruncationDirection;
import dev.tessera.api.ModelLookup;
import dev.tessera.serving.RequestStats;
import dev.tessera.serving.ServedModel;
import dev.tessera.serving.ServingException;
import dev.tessera.serving.Truncation;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.function.Function;
import java.util.function.Supplier;
import org.jboss.logging.Logger;

/** What every tei.v1 service shares: the default model, TEI's status codes, the request metadata. */
@ApplicationScoped
public class GrpcSupport {
    private static final Logger LOG = Logger.getLogger(GrpcSupport.class);

    private final ModelLookup models;

    public GrpcSupport(ModelLookup models) {
        this.models = models;
    }

    /**
     * The model of this call: the one its {@code model} metadata names ({@link ModelSelector}), else the default model;
     * none is UNAVAILABLE (loading, or none loaded) or NOT_FOUND ({@link #status}).
     */
    ServedModel model() {
        String name = ModelSelector.SELECTED.get();
        return name != null ? models.named(name) : models.defaultModel();
    }

    static Truncation truncation(boolean truncate, TruncationDirection direction) {
        return Truncation.of(truncate, direction == TruncationDirection.TRUNCATION_DIRECTION_LEFT);
    }

    static Metadata metadata(RequestStats stats) {
        return Metadata.newBuilder().setComputeChars(stats.chars()).setComputeTokens(stats.tokens())
                .setTotalTimeNs(stats.totalNanos()).setTokenizationTimeNs(stats.tokenizeNanos())
                .setQueueTimeNs(stats.queueNanos()).setInferenceTimeNs(stats.inferenceNanos()).build();
    }

    /**
     * A failure as TEI's gRPC reports it: Empty and Validation are INVALID_ARGUMENT, Tokenizer and Backend
     * FAILED_PRECONDITION, Overloaded RESOURCE_EXHAUSTED, Unhealthy UNAVAILABLE.
     */
    static StatusRuntimeException status(RuntimeException e) {
        if (e instanceof StatusRuntimeException s) return s;
        Status status = switch (e) {
            case ServingException.Overloaded o -> Status.RESOURCE_EXHAUSTED;
            case ServingException.ShuttingDown s -> Status.UNAVAILABLE;
            case ServingException.TimedOut t -> Status.UNAVAILABLE;
            case ServingException.TooLarge t -> Status.INVALID_ARGUMENT;
            case ServingException.Unsupported u -> Status.INVALID_ARGUMENT;
            case ServingException.Empty em -> Status.INVALID_ARGUMENT;
            case ServingException.Tokenizer t -> Status.FAILED_PRECONDITION;
            case ServingException.Incapable i -> Status.FAILED_PRECONDITION;
            case ServingException.Failed f -> Status.FAILED_PRECONDITION;
            case ApiException a -> switch (a.status()) {
                case 400, 413, 422 -> Status.INVALID_ARGUMENT;
                case 404 -> Status.NOT_FOUND;
                case 429 -> Status.RESOURCE_EXHAUSTED;
                case 503 -> Status.UNAVAILABLE;
                default -> Status.INTERNAL;
            };
            default -> null;
        };
        if (status == null) {
            LOG.error("unexpected gRPC failure", e);
            return Status.INTERNAL.withDescription("the server failed to handle this request; see its log").asRuntimeException();
        }
        return status.withDescription(e.getMessage()).asRuntimeException();
    }

    /** Answers a unary call with {@code work}'s result, or the failure's status. */
    static <T> void unary(StreamObserver<T> out, Supplier<T> work) {
        T result;
        try {
            result = work.get();
        } catch (RuntimeException e) {
            out.onError(status(e));
            return;
        }
        out.onNext(result);
        out.onCompleted();
    }

    /** A bidirectional stream answered message by message, in order; the first failure ends it with its status. */
    static <I, O> StreamObserver<I> stream(StreamObserver<O> out, Function<I, O> work) {
        return new StreamObserver<>() {
            private boolean failed;

            @Override
            public void onNext(I request) {
                if (failed) return;
                try {
                    out.onNext(work.apply(request));
                } catch (RuntimeException e) {
                    failed = true;
                    out.onError(status(e));
                }
            }

            @Override
            public void onError(Throwable t) {
                failed = true;
            }

            @Override
            public void onCompleted() {
                if (!failed) out.onCompleted();
            }
        };
    }
}
