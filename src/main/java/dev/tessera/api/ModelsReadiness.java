package dev.tessera.api;

import dev.tessera.serving.ModelRegistry;
import dev.tessera.serving.ServedModel;
import java.util.List;
import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/**
 * Ready only once the model store has been loaded, at least one model serves, and every served model's batcher runs
 * (a model that cannot answer takes the instance out of rotation rather than letting requests time out).
 */
@Readiness
@ApplicationScoped
public class ModelsReadiness implements HealthCheck {
    private final ModelRegistry registry;

    public ModelsReadiness(ModelRegistry registry) {
        this.registry = registry;
    }

    @Override
    public HealthCheckResponse call() {
        List<String> stopped = registry.all().stream().filter(m -> !m.batcher().healthy()).map(ServedModel::name).toList();
        var response = HealthCheckResponse.named("models")
                .status(registry.ready() && stopped.isEmpty())
                .withData("loaded", registry.all().size())
                .withData("failed", registry.failures().size());
        if (!stopped.isEmpty()) response.withData("not_serving", String.join(",", stopped));
        return response.build();
    }
}
