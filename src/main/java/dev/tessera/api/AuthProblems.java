package dev.tessera.api;

import io.quarkus.security.AuthenticationFailedException;
import io.quarkus.security.ForbiddenException;
import io.quarkus.security.UnauthorizedException;
import jakarta.inject.Inject;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

/** The security layer's refusals as problem+json: 401 with a Bearer challenge, 403 saying what the key lacks. */
public class AuthProblems {
    @Inject
    ApiKeys keys;

    @Context
    UriInfo uri;

    @ServerExceptionMapper
    public Response invalidKey(AuthenticationFailedException e) {
        String detail = e.getMessage() != null && !e.getMessage().isBlank() ? e.getMessage() : "the API key is not valid";
        return unauthorized(detail);
    }

    @ServerExceptionMapper
    public Response noKey(UnauthorizedException e) {
        return unauthorized(keys.anonymousRoles().contains(ApiKeys.USER)
                ? "this route needs an admin key: send 'Authorization: Bearer <key>'"
                : "this server requires an API key: send 'Authorization: Bearer <key>'");
    }

    @ServerExceptionMapper
    public Response forbidden(ForbiddenException e) {
        String detail = keys.writesDisabled()
                ? "writes are disabled on this server: no admin key is configured (tessera.auth.admin-keys)"
                : "this key may read but not write; this route needs an admin key";
        return Problem.response(403, "Forbidden", detail, path(), null);
    }

    private Response unauthorized(String detail) {
        return Response.fromResponse(Problem.response(401, "Unauthorized", detail, path(), null))
                .header("WWW-Authenticate", "Bearer realm=\"tessera\"").build();
    }

    private String path() {
        return uri == null ? null : "/" + uri.getPath().replaceFirst("^/", "");
    }
}
