package dev.tessera.api;

import java.util.List;

/** A client-visible failure, rendered as RFC 7807 problem+json by {@link ProblemMappers}. */
public class ApiException extends RuntimeException {
    private final int status;
    private final String title;
    private final Integer retryAfterSeconds;

    public ApiException(int status, String title, String detail) {
        this(status, title, detail, null);
    }

    public ApiException(int status, String title, String detail, Integer retryAfterSeconds) {
        super(detail);
        this.status = status;
        this.title = title;
        this.retryAfterSeconds = retryAfterSeconds;
    }

    public static ApiException badInput(String detail) {
        return new ApiException(422, "Invalid input", detail);
    }

    /** TEI's {@code Empty}: an empty batch, text or id list (400). */
    public static ApiException empty(String detail) {
        return new ApiException(400, "Empty input", detail);
    }

    public static ApiException tooLarge(String detail) {
        return new ApiException(413, "Input too large", detail);
    }

    public static ApiException notReady() {
        return new ApiException(503, "Not ready", "models are still loading", 2);
    }

    public static ApiException noModel() {
        return new ApiException(503, "No model", "no model is loaded", 5);
    }

    public static ApiException unknownJob(String id) {
        return new ApiException(404, "Unknown job", "no job with id '" + id + "'");
    }

    public static ApiException unknownModel(String name) {
        return new ApiException(404, "Unknown model", "no model named '" + name + "' is loaded");
    }

    /** As {@link #unknownModel(String)}, naming the models that are loaded. */
    public static ApiException unknownModel(String name, List<String> loaded) {
        return new ApiException(404, "Unknown model", "no model named '" + name + "' is loaded; loaded models: " + loaded);
    }

    public int status() { return status; }

    public String title() { return title; }

    public Integer retryAfterSeconds() { return retryAfterSeconds; }
}
