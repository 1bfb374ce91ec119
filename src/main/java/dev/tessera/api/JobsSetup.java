package dev.tessera.api;

import dev.tessera.jobs.JobsConfig;
import dev.tessera.jobs.JobService;
import dev.tessera.serving.ModelRegistry;
import dev.tessera.serving.ServingConfig;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import java.nio.file.Path;

/** Builds the job service from the {@code tessera.jobs.*} keys, publishing into the model registry; starts and stops it. */
@ApplicationScoped
public class JobsSetup {

    @Produces
    @Singleton
    JobService jobService(JobsConfig jobs, ServingConfig config, ModelRegistry registry) {
        return new JobService(new JobService.Settings(Path.of(jobs.dir()), jobs.threads(), Path.of(config.models().dir()),
                jobs.dataRoots().stream().map(Path::of).toList(), jobs.maxQueued(), jobs.retention(), registry::register, jobs.maxRecords()));
    }

    void onStart(@Observes StartupEvent e, JobsConfig jobs, JobService service) {
        if (jobs.enabled()) service.start();
    }

    void onStop(@Observes ShutdownEvent e, JobService service) {
        service.close();
    }
}
