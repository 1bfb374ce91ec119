package dev.tessera.api;

import io.smallrye.config.ConfigMapping;
import java.util.List;
import java.util.Optional;

/** API keys ({@code tessera.auth.*}); off when neither list is set. Read by {@link ApiKeyAuthentication}. */
@ConfigMapping(prefix = "tessera.auth")
public interface AuthConfig {
    /**
     * Keys that may call every read route ({@code Authorization: Bearer KEY}); when set, only /health and /metrics
     * (and the console's static files) answer without one. Env {@code TESSERA_AUTH_API_KEYS}, comma-separated.
     */
    Optional<List<String>> apiKeys();

    /**
     * Keys that may also write: submit/cancel jobs, reload/unload models. When API keys are set and these are
     * not, writes are refused. Env {@code TESSERA_AUTH_ADMIN_KEYS}.
     */
    Optional<List<String>> adminKeys();
}
