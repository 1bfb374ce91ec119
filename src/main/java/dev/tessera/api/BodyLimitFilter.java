package dev.tessera.api;

import io.quarkus.runtime.configuration.MemorySize;
import io.quarkus.vertx.http.runtime.filters.Filters;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.util.Map;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Vert.x refuses a body over {@code quarkus.http.limits.max-body-size} with a bare 413; a request that declares
 * its length gets the same 413 here as problem+json, before any of it is read. (A chunked body over the limit
 * still gets Vert.x's own 413.)
 */
@ApplicationScoped
public class BodyLimitFilter {
    private final long maxBytes;

    public BodyLimitFilter(@ConfigProperty(name = "quarkus.http.limits.max-body-size") MemorySize max) {
        this.maxBytes = max.asLongValue();
    }

    void register(@Observes Filters filters) {
        filters.register(this::filter, 20_000); // before the API key check: no need to read a key for a refused body
    }

    private void filter(RoutingContext rc) {
        String length = rc.request().getHeader("Content-Length");
        long n;
        try {
            n = length == null ? -1 : Long.parseLong(length.trim());
        } catch (NumberFormatException e) {
            n = -1;
        }
        if (n <= maxBytes) {
            rc.next();
            return;
        }
        String detail = "request body of " + n + " bytes is larger than the server's limit of " + maxBytes
                + " bytes (quarkus.http.limits.max-body-size)";
        Problem.end(rc, 413, "Payload too large", detail, Map.of("Connection", "close"));
    }
}
