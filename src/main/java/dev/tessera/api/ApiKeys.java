package dev.tessera.api;

import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;
import java.util.Set;
import org.jboss.logging.Logger;

/**
 * The configured API keys and the roles each grants, as TEI's {@code --api-key} plus an admin tier: a user key
 * grants {@link #USER} (every read and inference route), an admin key {@link #USER} and {@link #ADMIN} (jobs, model
 * reload/unload). A request without a key gets the roles no key is needed for: both when auth is off, {@code user}
 * when only admin keys are set, none when user keys are set. Keys are compared in constant time as SHA-256 digests
 * and never logged. Which route needs which role is declared on the route ({@code @RolesAllowed}).
 */
@ApplicationScoped
public class ApiKeys {
    public static final String USER = "user", ADMIN = "admin";
    private static final Logger LOG = Logger.getLogger(ApiKeys.class);

    private final List<byte[]> userKeys;
    private final List<byte[]> adminKeys;

    public ApiKeys(AuthConfig config) {
        this.userKeys = digests(config.apiKeys().orElse(List.of()));
        this.adminKeys = digests(config.adminKeys().orElse(List.of()));
    }

    void log(@Observes StartupEvent e) {
        if (userKeys.isEmpty() && adminKeys.isEmpty()) return;
        LOG.infof("API keys on: %d user key(s), %d admin key(s)%s", userKeys.size(), adminKeys.size(),
                adminKeys.isEmpty() ? "; writes (jobs, model reload/unload) are refused" : "");
    }

    /** The roles of a presented key; null when it is not a configured key. */
    public Set<String> rolesOf(String key) {
        byte[] presented = sha256(key);
        if (matches(adminKeys, presented)) return Set.of(USER, ADMIN);
        if (matches(userKeys, presented)) return Set.of(USER);
        return null;
    }

    /** The roles of a request that presents no key. */
    public Set<String> anonymousRoles() {
        if (userKeys.isEmpty() && adminKeys.isEmpty()) return Set.of(USER, ADMIN);
        return userKeys.isEmpty() ? Set.of(USER) : Set.of();
    }

    /** Keys are configured but none may write. */
    boolean writesDisabled() { return !userKeys.isEmpty() && adminKeys.isEmpty(); }

    /** Constant time in the key's content: every configured key is compared, digests of equal length. */
    private static boolean matches(List<byte[]> keys, byte[] presented) {
        boolean found = false;
        for (byte[] k : keys) found |= MessageDigest.isEqual(k, presented);
        return found;
    }

    private static List<byte[]> digests(List<String> keys) {
        return keys.stream().map(String::trim).filter(k -> !k.isEmpty()).map(ApiKeys::sha256).toList();
    }

    private static byte[] sha256(String key) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
