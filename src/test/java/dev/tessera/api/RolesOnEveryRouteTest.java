package dev.tessera.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.annotation.security.RolesAllowed;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import java.io.IOException;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * Every HTTP route declares the role it needs (the server also denies an undeclared one:
 * {@code quarkus.security.jaxrs.deny-unannotated-endpoints}), and the writes are exactly the admin routes.
 */
class RolesOnEveryRouteTest {

    @Test
    void everyRouteDeclaresItsRoleAndWritesNeedAdmin() throws Exception {
        List<String> undeclared = new ArrayList<>();
        Set<String> admin = new TreeSet<>();
        int routes = 0;
        for (Class<?> c : apiClasses()) {
            if (!c.isAnnotationPresent(Path.class)) continue;
            for (Method m : c.getDeclaredMethods()) {
                String verb = m.isAnnotationPresent(GET.class) ? "GET" : m.isAnnotationPresent(POST.class) ? "POST"
                        : m.isAnnotationPresent(DELETE.class) ? "DELETE" : m.isAnnotationPresent(PUT.class) ? "PUT" : null;
                if (verb == null) continue;
                routes++;
                RolesAllowed roles = m.isAnnotationPresent(RolesAllowed.class) ? m.getAnnotation(RolesAllowed.class) : c.getAnnotation(RolesAllowed.class);
                String route = verb + " " + c.getAnnotation(Path.class).value() + "/" + (m.isAnnotationPresent(Path.class) ? m.getAnnotation(Path.class).value() : "");
                if (roles == null) undeclared.add(route);
                else if (List.of(roles.value()).contains(ApiKeys.ADMIN)) admin.add(route.replaceAll("/+", "/"));
            }
        }
        assertTrue(routes > 20, "routes found: " + routes);
        assertEquals(List.of(), undeclared);
        assertEquals(new TreeSet<>(List.of("POST /v1/jobs/", "DELETE /v1/jobs/{id}", "POST /v1/jobs/{id}/cancel",
                "POST /v1/models/{name}/reload", "DELETE /v1/models/{name}")), admin);
    }

    private static List<Class<?>> apiClasses() throws IOException, ClassNotFoundException {
        java.nio.file.Path dir = java.nio.file.Path.of("target/classes/dev/tessera/api");
        List<Class<?>> out = new ArrayList<>();
        try (var files = Files.list(dir)) {
            for (java.nio.file.Path f : files.toList()) {
                String name = f.getFileName().toString();
                if (name.endsWith(".class")) out.add(Class.forName("dev.tessera.api." + name.substring(0, name.length() - 6)));
            }
        }
        return out;
    }
}
