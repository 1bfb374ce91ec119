package dev.tessera.jobs;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;
import java.util.List;

/** Training jobs under /v1/jobs ({@code tessera.jobs.*}); documented in the README. */
@ConfigMapping(prefix = "tessera.jobs")
public interface JobsConfig {
    /** Job state files ({@code <id>.json}) and, unless a job's recipe says otherwise, its output ({@code <id>/output}). */
    @WithDefault("work-data/jobs")
    String dir();

    /** CPU threads of the native training backend; 0 = number of cores. */
    @WithDefault("0")
    int threads();

    /** Run the queue at all (false: jobs are accepted and stored but not run, e.g. on a serving-only node). */
    @WithDefault("true")
    boolean enabled();

    /** Recipes the web console offers (GET /v1/recipes): every {@code *.yaml} in this directory. */
    @WithDefault("train/recipes")
    String recipesDir();

    /**
     * The only directories a job may read data, recipes, tokenizers and init checkpoints from (besides the jobs
     * directory and the model directory, always readable). Relative paths are resolved against the working
     * directory; symlinks are followed before the check.
     */
    @WithDefault("train,work-data")
    List<String> dataRoots();

    /** Jobs waiting in the queue before submissions get 429. */
    @WithDefault("16")
    int maxQueued();

    /** Finished jobs older than this are forgotten: their record and their directory under the jobs dir are deleted. */
    @WithDefault("30d")
    Duration retention();

    /** Job records kept (each a small file; the recipe beside it): beyond it the oldest finished jobs are forgotten. */
    @WithDefault("500")
    int maxRecords();
}
