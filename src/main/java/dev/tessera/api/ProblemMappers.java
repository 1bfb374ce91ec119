package dev.tessera.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import dev.tessera.io.ForbiddenPathException;
import dev.tessera.jobs.JobException;
import dev.tessera.serving.RegistryException;
import dev.tessera.serving.ServingException;
import java.util.Map;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.inject.Inject;
import java.util.Collection;
import java.util.stream.Collectors;
import jakarta.ws.rs.NotFoundException;
import jakarta.ws.rs.NotAllowedException;
import jakarta.ws.rs.NotSupportedException;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

/** Every error leaves as problem+json; unexpected ones are logged and become a 500 without internals. */
public class ProblemMappers {
    private static final Logger LOG = Logger.getLogger(ProblemMappers.class);

    @Context
    UriInfo uri;

    @Inject
    MeterRegistry meters;

    private String path() {
        return uri == null ? null : "/" + uri.getPath().replaceFirst("^/", "");
    }

    @ServerExceptionMapper
    public Response api(ApiException e) {
        return Problem.response(e.status(), e.title(), e.getMessage(), path(), e.retryAfterSeconds());
    }

    /** The serving layer's own failures, each with the status TEI clients expect for it. */
    @ServerExceptionMapper
    public Response serving(ServingException e) {
        return switch (e) {
            case ServingException.Overloaded o -> Problem.response(429, "Too many requests", e.getMessage(), path(), 1);
            case ServingException.ShuttingDown s -> Problem.response(503, "Shutting down", e.getMessage(), path(), 1);
            case ServingException.TimedOut t -> Problem.response(503, "Timed out", e.getMessage(), path(), 1);
            case ServingException.TooLarge t -> Problem.response(413, "Input too large", e.getMessage(), path(), null);
            case ServingException.Unsupported u -> Problem.response(422, "Invalid input", e.getMessage(), path(), null);
            case ServingException.Unavailable u -> Problem.response(503, "Unavailable", e.getMessage(), path(), 2);
            case ServingException.Empty em -> Problem.response(400, "Empty input", e.getMessage(), path(), null);
            case ServingException.Tokenizer t -> Problem.response(422, Problem.TOKENIZER, "Tokenizer error", e.getMessage(), path(), null);
            case ServingException.Incapable i -> Problem.response(424, "Model cannot do this", e.getMessage(), path(), null);
            case ServingException.Failed f -> {
                LOG.error("inference failed", f.getCause() != null ? f.getCause() : f);
                yield Problem.response(424, "Inference failed", "the model failed to run this request; see the server's log",
                        path(), null);
            }
        };
    }

    /** A job not accepted: 422 listing every problem of the submission, 429 when the queue is full. */
    @ServerExceptionMapper
    public Response job(JobException e) {
        return switch (e) {
            case JobException.Invalid i -> Problem.response(422, "Invalid job", e.getMessage(), path(), null,
                    Map.of("problems", e.problems()));
            case JobException.QueueFull q -> Problem.response(429, "Too many jobs", e.getMessage(), path(), 60);
        };
    }

    /** 403 naming each path that broke the confinement rules (tessera.jobs.data-roots, tessera.jobs.dir). */
    @ServerExceptionMapper
    public Response forbidden(ForbiddenPathException e) {
        return Problem.response(403, "Path not allowed", e.getMessage(), path(), null, Map.of("problems", e.problems()));
    }

    /** Model reload (admin): no such directory is an unknown model; one that does not load is 422. */
    @ServerExceptionMapper
    public Response registry(RegistryException e) {
        return switch (e) {
            case RegistryException.NoModelDirectory n -> Problem.response(404, "Unknown model", e.getMessage(), path(), null);
            case RegistryException.LoadFailed f -> Problem.response(422, "Model not loaded", e.getMessage(), path(), null);
        };
    }

    @ServerExceptionMapper
    public Response json(JsonProcessingException e) {
        if (e instanceof StreamConstraintsException) { // JsonLimits: too deep, too many tokens, too long a number
            // Jackson names its own method in backquotes ("…allowed (16, from `StreamReadConstraints…`)"): not for clients
            String why = e.getOriginalMessage().replaceAll(", from `[^`]*`", "");
            return Problem.response(413, "Input too large", "request body is beyond the server's JSON limits: " + why, path(), null);
        }
        // Jackson's message carries the position and the cause (e.g. "Invalid UTF-8 start byte").
        String msg = e.getOriginalMessage();
        return Problem.response(422, "Malformed JSON", "request body is not valid JSON: " + msg, path(), null);
    }

    /**
     * Well-formed JSON of the wrong shape bound to a typed body (e.g. the jobs API): without this, Quarkus's
     * built-in mapper answers a 400 that is not problem+json.
     */
    @ServerExceptionMapper
    public Response mismatch(MismatchedInputException e) {
        String field = e.getPath().stream()
                .map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
                .collect(Collectors.joining(".")).replace(".[", "[");
        String detail;
        if (e instanceof UnrecognizedPropertyException u) {
            detail = "unknown field '" + field + "'; known fields: " + u.getKnownPropertyIds();
        } else if (field.isEmpty()) {
            detail = "request body must be a JSON " + jsonType(e.getTargetType());
        } else {
            detail = "field '" + field + "' must be a JSON " + jsonType(e.getTargetType());
        }
        return Problem.response(422, "Invalid input", detail, path(), null);
    }

    private static String jsonType(Class<?> t) {
        if (t == null) return "value of another type";
        if (t == String.class || t == Character.class || t == char.class || t.isEnum()) return "string";
        if (t == Boolean.class || t == boolean.class) return "boolean";
        if (Number.class.isAssignableFrom(t) || (t.isPrimitive() && t != void.class)) return "number";
        if (t.isArray() || Collection.class.isAssignableFrom(t)) return "array";
        return "object";
    }

    @ServerExceptionMapper
    public Response web(WebApplicationException e) {
        int status = e.getResponse().getStatus();
        String title = switch (e) {
            case NotFoundException n -> "Not found";
            case NotAllowedException n -> "Method not allowed";
            case NotSupportedException n -> "Unsupported media type";
            default -> Response.Status.fromStatusCode(status) == null ? "Error"
                    : Response.Status.fromStatusCode(status).getReasonPhrase();
        };
        Throwable cause = e.getCause();
        if (cause instanceof JsonProcessingException j) return json(j);
        String detail = e.getMessage();
        if (status == 400 && cause != null && cause.getMessage() != null) detail = cause.getMessage();
        return Problem.response(status == 400 ? 422 : status, status == 400 ? "Invalid input" : title, detail, path(), null);
    }

    /**
     * A request that exhausts the heap (the worker survives it: the error is thrown in this request's thread) is told
     * to retry, and counted: {@code tessera_errors_total{type="out_of_memory"}}.
     */
    @ServerExceptionMapper
    public Response outOfMemory(OutOfMemoryError e) {
        if (meters != null) meters.counter("tessera.errors", "type", "out_of_memory").increment();
        return Problem.response(503, "Out of memory", "the server ran out of memory handling this request; retry shortly, or send a smaller one", path(), 2);
    }

    /** Any other Error (a failed native call, a stack overflow): 500 problem+json, never the framework's page. */
    @ServerExceptionMapper
    public Response error(Error e) {
        if (e instanceof OutOfMemoryError o) return outOfMemory(o);
        LOG.error("unexpected error", e);
        return Problem.response(500, "Internal error", "the server failed to handle this request; see its log", path(), null);
    }

    @ServerExceptionMapper
    public Response unexpected(RuntimeException e) {
        LOG.error("unexpected error", e);
        return Problem.response(500, "Internal error", "the server failed to handle this request; see its log", path(), null);
    }
}
