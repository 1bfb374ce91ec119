package dev.tessera.api;

import jakarta.ws.rs.core.Response;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Every error body. It is RFC 7807 problem+json ({@code type}, {@code title}, {@code status}, {@code detail},
 * {@code instance}) and, as RFC 7807 allows extension members, also carries what the clients of the APIs we mirror
 * parse: TEI clients read {@code error} (a string) and {@code error_type}; OpenAI SDKs (routes under
 * {@code /v1/embeddings}) read {@code error} as an object with {@code message}, {@code type} and {@code code}.
 */
public final class Problem {
    public static final String MEDIA_TYPE = "application/problem+json";

    private Problem() {}

    public static Response response(int status, String title, String detail, String instance, Integer retryAfter) {
        return response(status, title, detail, instance, retryAfter, Map.of());
    }

    /** {@code extra}: further members, e.g. the list of problems of a rejected job. */
    public static Response response(int status, String title, String detail, String instance, Integer retryAfter,
                                    Map<String, Object> extra) {
        return response(status, teiType(status), title, detail, instance, retryAfter, extra);
    }

    /** The same body written straight to a Vert.x response, for filters that answer before any resource runs. */
    public static void end(io.vertx.ext.web.RoutingContext rc, int status, String title, String detail, Map<String, String> headers) {
        var response = rc.response().setStatusCode(status).putHeader("Content-Type", MEDIA_TYPE);
        headers.forEach(response::putHeader);
        response.end(io.vertx.core.json.Json.encode(body(status, title, detail, rc.normalizedPath(), Map.of())));
    }

    /** As {@link #response(int, String, String, String, Integer)} with TEI's {@code error_type} given, not derived from the status. */
    public static Response response(int status, String errorType, String title, String detail, String instance, Integer retryAfter) {
        return response(status, errorType, title, detail, instance, retryAfter, Map.of());
    }

    private static Response response(int status, String errorType, String title, String detail, String instance,
                                     Integer retryAfter, Map<String, Object> extra) {
        Response.ResponseBuilder b = Response.status(status).type(MEDIA_TYPE)
                .entity(body(status, errorType, title, detail, instance, extra));
        if (retryAfter != null) b.header("Retry-After", retryAfter);
        return b.build();
    }

    public static Map<String, Object> body(int status, String title, String detail, String instance, Map<String, Object> extra) {
        return body(status, teiType(status), title, detail, instance, extra);
    }

    /**
     * TEI's routes: {@code error} (a string) and {@code error_type} (TEI's enum) beside RFC 7807's members. OpenAI's
     * route ({@code /v1/embeddings}): TEI's {@code OpenAICompatErrorResponse} ({@code message}, {@code code} = the
     * status, {@code type} = TEI's enum, which takes the place of RFC 7807's {@code type}: absent there means
     * {@code about:blank}) and OpenAI's own {@code error} object ({@code message}, {@code type}, {@code param},
     * {@code code}) that the OpenAI SDKs read.
     */
    public static Map<String, Object> body(int status, String errorType, String title, String detail, String instance,
                                           Map<String, Object> extra) {
        String message = detail != null ? detail : title;
        Map<String, Object> body = new LinkedHashMap<>();
        if (instance != null && (instance.equals("/v1/embeddings") || instance.equals("/embeddings"))) {
            body.put("message", message);
            body.put("code", status);
            body.put("type", errorType);
            body.put("error_type", errorType); // the member's name in TEI's published schema (its server renames it "type")
            rfc7807(body, title, status, detail, instance, extra);
            Map<String, Object> error = new LinkedHashMap<>();
            error.put("message", message);
            error.put("type", openAiType(status));
            error.put("param", null);
            error.put("code", title.toLowerCase().replace(' ', '_'));
            body.put("error", error);
        } else {
            body.put("type", "about:blank"); // the status and title say it all
            rfc7807(body, title, status, detail, instance, extra);
            body.put("error", message);
            body.put("error_type", errorType);
        }
        return body;
    }

    /** RFC 7807's members after {@code type}, and the extension members a caller adds. */
    private static void rfc7807(Map<String, Object> body, String title, int status, String detail, String instance,
                                Map<String, Object> extra) {
        body.put("title", title);
        body.put("status", status);
        if (detail != null) body.put("detail", detail);
        if (instance != null) body.put("instance", instance);
        body.putAll(extra);
    }

    /** TEI's {@code ErrorType} values, spelt as TEI sends them. */
    public static final String EMPTY = "Empty", VALIDATION = "Validation", TOKENIZER = "Tokenizer", BACKEND = "Backend",
            OVERLOADED = "Overloaded", UNHEALTHY = "Unhealthy";

    /**
     * TEI's {@code error_type} for a status, as TEI maps them (400 Empty, 413/422 Validation, 424 Backend,
     * 429 Overloaded, 503 Unhealthy). TEI answers a missing key with a bare 401 and has no name for it: Tessera says
     * Unauthorized / Forbidden there; 404, 405 and 415 get Validation, so a strict client finds a value it knows.
     */
    static String teiType(int status) {
        return switch (status) {
            case 400 -> EMPTY;
            case 401 -> "Unauthorized";
            case 403 -> "Forbidden";
            case 424 -> BACKEND;
            case 429 -> OVERLOADED;
            case 503 -> UNHEALTHY;
            default -> status >= 500 ? BACKEND : VALIDATION;
        };
    }

    private static String openAiType(int status) {
        return switch (status) {
            case 401 -> "authentication_error";
            case 403 -> "permission_error";
            case 404 -> "not_found_error";
            case 429 -> "rate_limit_error";
            default -> status >= 500 ? "api_error" : "invalid_request_error";
        };
    }
}
