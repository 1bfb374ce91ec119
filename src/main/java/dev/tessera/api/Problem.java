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
        Response.ResponseBuilder b = Response.status(status).type(MEDIA_TYPE).entity(body(status, title, detail, instance, extra));
        if (retryAfter != null) b.header("Retry-After", retryAfter);
        return b.build();
    }

    /** The same body written straight to a Vert.x response, for filters that answer before any resource runs. */
    public static void end(io.vertx.ext.web.RoutingContext rc, int status, String title, String detail, Map<String, String> headers) {
        var response = rc.response().setStatusCode(status).putHeader("Content-Type", MEDIA_TYPE);
        headers.forEach(response::putHeader);
        response.end(io.vertx.core.json.Json.encode(body(status, title, detail, rc.normalizedPath(), Map.of())));
    }

    public static Map<String, Object> body(int status, String title, String detail, String instance, Map<String, Object> extra) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("type", "about:blank"); // the status and title say it all
        body.put("title", title);
        body.put("status", status);
        if (detail != null) body.put("detail", detail);
        if (instance != null) body.put("instance", instance);
        body.putAll(extra);
        String message = detail != null ? detail : title;
        if (instance != null && instance.startsWith("/v1/embeddings")) {
            Map<String, Object> openAi = new LinkedHashMap<>();
            openAi.put("message", message);
            openAi.put("type", openAiType(status));
            openAi.put("param", null);
            openAi.put("code", title.toLowerCase().replace(' ', '_'));
            body.put("error", openAi);
        } else {
            body.put("error", message);
            body.put("error_type", teiType(status));
        }
        return body;
    }

    /** TEI's ErrorType names (validation, overloaded, unhealthy, backend), plus the two TEI has no name for. */
    static String teiType(int status) {
        return switch (status) {
            case 401 -> "unauthorized";
            case 403 -> "forbidden";
            case 429 -> "overloaded";
            case 503 -> "unhealthy";
            default -> status >= 500 ? "backend" : "validation";
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
