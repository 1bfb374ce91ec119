package dev.tessera.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import jakarta.ws.rs.core.Response;

/** RFC 7807 body. {@code type} stays "about:blank": the status and title say it all. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Problem(String type, String title, int status, String detail, String instance) {
    public static final String MEDIA_TYPE = "application/problem+json";

    public static Response response(int status, String title, String detail, String instance, Integer retryAfter) {
        Response.ResponseBuilder b = Response.status(status)
                .type(MEDIA_TYPE)
                .entity(new Problem("about:blank", title, status, detail, instance));
        if (retryAfter != null) b.header("Retry-After", retryAfter);
        return b.build();
    }
}
