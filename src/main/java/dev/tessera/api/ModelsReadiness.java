package dev.tessera.api;

import dev.tessera.serving.ModelRegistry;
import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/** Ready only once the model store has been loaded and at least one model serves. */
@Readiness
@ApplicationScoped
public class ModelsReadiness implements HealthCheck {
    private final ModelRegistry registry;

    public ModelsReadiness(ModelRegistry registry) {
        this.registry = registry;
    }

    @Override
    public HealthCheckResponse call() {
        return HealthCheckResponse.named("models")
                .status(registry.ready())
                .withData("loaded", registry.all().size())
                .withData("failed", registry.failures().size())
                .build();
    }
}
