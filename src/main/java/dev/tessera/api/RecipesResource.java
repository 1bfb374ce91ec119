package dev.tessera.api;

import jakarta.annotation.security.RolesAllowed;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.tessera.jobs.JobsConfig;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;

import java.io.IOException;
import java.nio.file.Files;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The recipes a job can be submitted from ({@code tessera.jobs.recipes-dir}): what the web console offers in its
 * job form. Each one's path is what {@code POST /v1/jobs} takes as {@code recipe_path}; the text is shown so the
 * overrides can be written against it. Recipes are validated on submission, not here.
 */
@Path("/v1/recipes")
@Produces(MediaType.APPLICATION_JSON)
@RolesAllowed(ApiKeys.USER)
public class RecipesResource {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    private final java.nio.file.Path dir;

    public RecipesResource(JobsConfig config) {
        this.dir = java.nio.file.Path.of(config.recipesDir());
    }

    @GET
    @Operation(summary = "The training recipes under tessera.jobs.recipes-dir, with their kind and text")
    public Map<String, Object> list() {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("dir", dir.toString());
        if (!Files.isDirectory(dir)) {
            out.put("recipes", List.of());
            return out;
        }
        try (Stream<java.nio.file.Path> files = Files.list(dir)) {
            out.put("recipes", files.filter(f -> f.getFileName().toString().endsWith(".yaml") && Files.isRegularFile(f))
                    .sorted().map(this::describe).toList());
        } catch (IOException e) {
            throw new ApiException(500, "Cannot list recipes", "cannot list " + dir + ": " + e.getMessage());
        }
        return out;
    }

    private Map<String, Object> describe(java.nio.file.Path f) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("name", f.getFileName().toString().replaceFirst("\\.yaml$", ""));
        r.put("path", f.toString());
        try {
            String text = Files.readString(f);
            r.put("text", text);
            JsonNode root = YAML.readTree(text);
            if (root != null && root.path("kind").isTextual()) r.put("kind", root.path("kind").asText());
        } catch (IOException e) {
            // listed anyway: submitting it reports the problem with the usual recipe validation
            r.put("error", e.getMessage().lines().findFirst().orElse("unreadable"));
        }
        return r;
    }
}
