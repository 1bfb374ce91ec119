package dev.tessera.api;

import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.QueryParam;
import dev.tessera.io.ForbiddenPathException;
import jakarta.annotation.security.RolesAllowed;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import dev.tessera.jobs.JobException;
import dev.tessera.jobs.Job;
import dev.tessera.jobs.JobPaths;
import dev.tessera.jobs.JobService;
import io.quarkus.resteasy.reactive.jackson.CustomDeserialization;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

import java.lang.reflect.Type;
import java.net.URI;
import java.util.Map;
import java.util.function.BiFunction;

/**
 * Training jobs: {@code POST /v1/jobs} submits a pretraining or finetuning recipe (202 + the queued job),
 * {@code GET /v1/jobs[/{id}]} shows status, progress, loss history and metrics, {@code DELETE /v1/jobs/{id}}
 * or {@code POST /v1/jobs/{id}/cancel} cancels. One job runs at a time; see {@link JobService}.
 * Paths in recipes are confined: see {@link JobPaths}.
 */
@Path("/v1/jobs")
@Produces(MediaType.APPLICATION_JSON)
@ApplicationScoped
@RolesAllowed(ApiKeys.USER)
public class JobsResource {

    /** The request body; exactly one of {@code recipe} (YAML text) and {@code recipe_path}. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    @JsonIgnoreProperties(ignoreUnknown = false)
    public record JobRequest(String kind, String recipe, String recipePath, Map<String, Object> overrides, String serveAs) {}

    /**
     * Quarkus turns FAIL_ON_UNKNOWN_PROPERTIES off globally (the annotation above cannot turn it back on), so a
     * misspelt field such as "serveAs" would be dropped silently; this reader refuses it (422, see ProblemMappers).
     */
    public static final class StrictReader implements BiFunction<ObjectMapper, Type, ObjectReader> {
        @Override
        public ObjectReader apply(ObjectMapper mapper, Type type) {
            return mapper.readerFor(mapper.constructType(type)).with(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
        }
    }

    private final JobService service;

    public JobsResource(JobService service) {
        this.service = service;
    }

    @RolesAllowed(ApiKeys.ADMIN)
    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @CustomDeserialization(StrictReader.class)
    @Operation(summary = "Submit a pretraining or finetuning job (queued; one runs at a time)")
    public Response submit(JobRequest req, @Context UriInfo uri) {
        if (req == null) throw ApiException.badInput("a JSON body with kind and recipe (or recipe_path) is required");
        Job j = service.submit(req.kind(), req.recipe(), req.recipePath(), req.overrides(), req.serveAs());
        return Response.accepted(j).location(URI.create("/v1/jobs/" + j.id)).build();
    }

    @GET
    @Operation(summary = "Jobs in submission order, a page at a time (offset, limit up to 500; default the first 100)")
    public Map<String, Object> list(@QueryParam("offset") @DefaultValue("0") int offset,
                                    @QueryParam("limit") @DefaultValue("100") int limit) {
        if (offset < 0 || limit < 1 || limit > 500) throw ApiException.badInput("offset must be >= 0 and limit in 1..500");
        JobService.Page page = service.list(offset, limit);
        return Map.of("jobs", page.jobs(), "total", page.total(), "offset", offset, "limit", limit);
    }

    @GET
    @Path("{id}")
    @Operation(summary = "One job: status, progress, loss history, metrics, output")
    public Job get(@PathParam("id") String id) {
        return service.getWithRecipe(id).orElseThrow(() -> ApiException.unknownJob(id));
    }

    @RolesAllowed(ApiKeys.ADMIN)
    @DELETE
    @Path("{id}")
    @Operation(summary = "Cancel a job (a running one stops at its next step)")
    public Response delete(@PathParam("id") String id) {
        return cancel(id);
    }

    @RolesAllowed(ApiKeys.ADMIN)
    @POST
    @Path("{id}/cancel")
    @Operation(summary = "Cancel a job (a running one stops at its next step)")
    public Response cancel(@PathParam("id") String id) {
        Job j = service.cancel(id).orElseThrow(() -> ApiException.unknownJob(id));
        if (j.status.finished() && !j.cancelRequested) {
            throw new ApiException(409, "Job finished", "job " + id + " already " + j.status);
        }
        return Response.accepted(j).build();
    }
}
