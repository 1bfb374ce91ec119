package dev.tessera.api;

import io.quarkus.security.AuthenticationFailedException;
import io.quarkus.security.credential.TokenCredential;
import io.quarkus.security.identity.AuthenticationRequestContext;
import io.quarkus.security.identity.IdentityProvider;
import io.quarkus.security.identity.IdentityProviderManager;
import io.quarkus.security.identity.SecurityIdentity;
import io.quarkus.security.identity.request.AuthenticationRequest;
import io.quarkus.security.identity.request.TokenAuthenticationRequest;
import io.quarkus.security.runtime.QuarkusPrincipal;
import io.quarkus.security.runtime.QuarkusSecurityIdentity;
import io.quarkus.vertx.http.runtime.security.ChallengeData;
import io.quarkus.vertx.http.runtime.security.HttpAuthenticationMechanism;
import io.quarkus.vertx.http.runtime.security.HttpCredentialTransport;
import io.smallrye.mutiny.Uni;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.Set;

/**
 * {@code Authorization: Bearer KEY} as a Quarkus authentication mechanism: the key becomes a security identity with
 * the roles of {@link ApiKeys}, and the route the request reaches decides with {@code @RolesAllowed} (not a match
 * on the path string). No header (or, where reads need no key, an unknown one): an anonymous identity with the roles
 * that need no key. Where every route needs a key, an unknown key fails authentication (401), whatever the route.
 */
@ApplicationScoped
public class ApiKeyAuthentication implements HttpAuthenticationMechanism {
    private static final String SCHEME = "Bearer";

    private final ApiKeys keys;
    /** The identity of every request without a key: the same roles each time, so built once. */
    private final Uni<SecurityIdentity> anonymous;

    public ApiKeyAuthentication(ApiKeys keys) {
        this.keys = keys;
        this.anonymous = Uni.createFrom().item(QuarkusSecurityIdentity.builder().setPrincipal(new QuarkusPrincipal("anonymous"))
                .setAnonymous(true).addRoles(keys.anonymousRoles()).build());
    }

    @Override
    public Uni<SecurityIdentity> authenticate(RoutingContext rc, IdentityProviderManager identities) {
        String header = rc.request().getHeader("Authorization");
        if (header == null) return anonymous;
        String key = header.regionMatches(true, 0, SCHEME + " ", 0, SCHEME.length() + 1)
                ? header.substring(SCHEME.length() + 1).trim() : "";
        if (key.isEmpty() && keys.anonymousRoles().isEmpty()) {
            return Uni.createFrom().failure(new AuthenticationFailedException("the Authorization header must be 'Bearer <key>'"));
        }
        Uni<SecurityIdentity> identity = identities.authenticate(new TokenAuthenticationRequest(new TokenCredential(key, SCHEME)));
        // Clients of OpenAI-style APIs always send some key: where reads need none, an unknown key is no key at all
        return keys.anonymousRoles().isEmpty() ? identity
                : identity.onFailure(AuthenticationFailedException.class).recoverWithUni(() -> anonymous);
    }

    @Override
    public Uni<ChallengeData> getChallenge(RoutingContext rc) {
        return Uni.createFrom().item(new ChallengeData(401, "WWW-Authenticate", SCHEME + " realm=\"tessera\""));
    }

    @Override
    public Set<Class<? extends AuthenticationRequest>> getCredentialTypes() {
        return Set.of(TokenAuthenticationRequest.class);
    }

    @Override
    public Uni<HttpCredentialTransport> getCredentialTransport(RoutingContext rc) {
        return Uni.createFrom().item(new HttpCredentialTransport(HttpCredentialTransport.Type.AUTHORIZATION, SCHEME));
    }

    /** Checks a presented key against the configured ones. */
    @ApplicationScoped
    public static class KeyIdentityProvider implements IdentityProvider<TokenAuthenticationRequest> {
        private final ApiKeys keys;

        public KeyIdentityProvider(ApiKeys keys) {
            this.keys = keys;
        }

        @Override
        public Class<TokenAuthenticationRequest> getRequestType() { return TokenAuthenticationRequest.class; }

        @Override
        public Uni<SecurityIdentity> authenticate(TokenAuthenticationRequest request, AuthenticationRequestContext context) {
            Set<String> roles = keys.rolesOf(request.getToken().getToken());
            if (roles == null) return Uni.createFrom().failure(new AuthenticationFailedException("the API key is not valid"));
            String name = roles.contains(ApiKeys.ADMIN) ? "admin-key" : "user-key"; // never the key itself
            return Uni.createFrom().item(QuarkusSecurityIdentity.builder().setPrincipal(new QuarkusPrincipal(name))
                    .addRoles(roles).build());
        }
    }
}
