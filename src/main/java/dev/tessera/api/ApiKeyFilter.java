package dev.tessera.api;

import dev.tessera.serving.ServingConfig;
import io.quarkus.vertx.http.runtime.filters.Filters;
import io.vertx.core.http.HttpMethod;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.jboss.logging.Logger;

/**
 * API keys, as TEI's {@code --api-key}: when {@code tessera.auth.api-keys} is set, every request but health,
 * metrics and the console's static files needs {@code Authorization: Bearer KEY} (401 otherwise), and writes
 * (jobs, model reload/unload) need one of {@code tessera.auth.admin-keys} (403 for a user key; refused outright
 * when no admin key is configured). A Vert.x filter, so it guards every route (REST, OpenAPI, static) alike.
 * Keys are compared in constant time as SHA-256 digests and never logged.
 */
@ApplicationScoped
public class ApiKeyFilter {
    private static final Logger LOG = Logger.getLogger(ApiKeyFilter.class);
    /** Static console assets: no data in them, and the page must load to ask for a key. */
    private static final Pattern STATIC = Pattern.compile("/|/[A-Za-z0-9._/-]*\\.(html|css|js|mjs|svg|png|ico|webmanifest)");
    private static final Pattern MODEL = Pattern.compile("/v1/models/[^/]+/?");
    private static final Pattern MODEL_RELOAD = Pattern.compile("/v1/models/[^/]+/reload/?");

    private final List<byte[]> userKeys;
    private final List<byte[]> adminKeys;

    public ApiKeyFilter(ServingConfig config) {
        this.adminKeys = digests(config.auth().adminKeys().orElse(List.of()));
        this.userKeys = digests(config.auth().apiKeys().orElse(List.of()));
    }

    void register(@Observes Filters filters) {
        if (userKeys.isEmpty() && adminKeys.isEmpty()) return;
        LOG.infof("API keys on: %d user key(s), %d admin key(s)%s", userKeys.size(), adminKeys.size(),
                adminKeys.isEmpty() ? "; writes (jobs, model reload/unload) are refused" : "");
        filters.register(this::filter, 10_000); // before every route, including the body handler
    }

    private void filter(RoutingContext rc) {
        String path = rc.normalizedPath();
        boolean write = isWrite(rc.request().method(), path);
        if (!write && isPublic(rc.request().method(), path)) {
            rc.next();
            return;
        }
        byte[] presented = bearer(rc.request().getHeader("Authorization"));
        boolean admin = presented != null && matches(adminKeys, presented);
        boolean user = admin || (presented != null && matches(userKeys, presented));
        if (write ? admin : (user || userKeys.isEmpty())) { // no user keys: only writes are guarded
            rc.next();
        } else if (!user) {
            deny(rc, 401, "Unauthorized", presented == null
                    ? "this server requires an API key: send 'Authorization: Bearer <key>'" : "the API key is not valid");
        } else {
            deny(rc, 403, "Forbidden", adminKeys.isEmpty()
                    ? "writes are disabled on this server: no admin key is configured (tessera.auth.admin-keys)"
                    : "this key may read but not write; " + rc.request().method() + " " + path + " needs an admin key");
        }
    }

    /** Submitting or cancelling jobs and reloading or unloading models. Inference POSTs are reads. */
    static boolean isWrite(HttpMethod method, String path) {
        if (method == HttpMethod.GET || method == HttpMethod.HEAD || method == HttpMethod.OPTIONS) return false;
        if (path.equals("/v1/jobs") || path.startsWith("/v1/jobs/")) return true;
        if (MODEL_RELOAD.matcher(path).matches()) return true;
        return method == HttpMethod.DELETE && MODEL.matcher(path).matches();
    }

    static boolean isPublic(HttpMethod method, String path) {
        if (path.equals("/metrics") || path.equals("/health") || path.startsWith("/health/")) return true;
        if (method != HttpMethod.GET && method != HttpMethod.HEAD) return false;
        return !path.startsWith("/v1/") && !path.startsWith("/q/") && !path.contains("..") && STATIC.matcher(path).matches();
    }

    private static byte[] bearer(String header) {
        if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) return null;
        String key = header.substring(7).trim();
        return key.isEmpty() ? null : sha256(key);
    }

    /** Constant time in the key's content: every configured key is compared, digests of equal length. */
    private static boolean matches(List<byte[]> keys, byte[] presented) {
        boolean found = false;
        for (byte[] k : keys) found |= MessageDigest.isEqual(k, presented);
        return found;
    }

    private static List<byte[]> digests(List<String> keys) {
        return keys.stream().map(String::trim).filter(k -> !k.isEmpty()).map(ApiKeyFilter::sha256).toList();
    }

    private static byte[] sha256(String key) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void deny(RoutingContext rc, int status, String title, String detail) {
        Problem.end(rc, status, title, detail, status == 401 ? Map.of("WWW-Authenticate", "Bearer realm=\"tessera\"") : Map.of());
    }
}
