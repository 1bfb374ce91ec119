package dev.tessera.jobs;

import dev.tessera.io.ForbiddenPathException;
import dev.tessera.train.Recipe;
import dev.tessera.train.TrainOptions;
import dev.tessera.train.Trainer;
import dev.tessera.train.TrainingListener;
import dev.tessera.train.TrainingOutcome;
import java.io.UncheckedIOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.jboss.logging.Logger;

/**
 * Runs one job to its end: the pretrainer or finetuner its recipe names, its progress mirrored into the job
 * record, then {@code serve_as} publishing. A job stopped by shutdown (not by cancel) stays {@code running}, so
 * it is queued again at the next start and resumes from its last checkpoint.
 */
final class JobRunner {
    private static final Logger LOG = Logger.getLogger(JobRunner.class);

    private final JobRecords records;
    private final int threads;
    private final ModelPublisher publisher;
    private final JobPaths paths;

    JobRunner(JobRecords records, int threads, ModelPublisher publisher, JobPaths paths) {
        this.records = records;
        this.threads = threads;
        this.publisher = publisher;
        this.paths = paths;
    }

    /** @param stopping true once the service shuts down */
    void run(Job job, BooleanSupplier stopping) {
        String id = job.id;
        LOG.infof("job %s (%s) started", id, job.kind);
        try {
            Recipe r = Recipe.parse(records.store().loadRecipe(id), job.recipeSource);
            // every recipe path is checked again, through its symlinks, when the trainer starts (withAccess)
            TrainOptions opts = TrainOptions.defaults().withThreads(threads).withListener(new Progress(id)).withAccess(paths)
                    .withCancel(() -> stopping.getAsBoolean() || cancelRequested(id));
            TrainingOutcome res = Trainer.of(r, opts).run();
            boolean cancelled = res.cancelled() || res.finalDir() == null;
            records.update(id, false, j -> {
                j.finalDir = str(res.finalDir());
                j.bestDir = str(res.bestDir());
            });
            if (cancelled && stopping.getAsBoolean() && !cancelRequested(id)) {
                LOG.infof("job %s interrupted by shutdown; it resumes at the next start", id);
                records.update(id, true, j -> {});
                return;
            }
            Path servable = res.servable();
            Map<String, Double> metrics = res.servableMetrics();
            String served = !cancelled && job.serveAs != null && servable != null ? publisher.publish(job.serveAs, servable) : null;
            Job.Status status = cancelled ? Job.Status.cancelled : Job.Status.succeeded;
            records.update(id, true, j -> {
                if (metrics != null) j.metrics = new LinkedHashMap<>(metrics);
                j.servedAs = served;
                finish(j, status, null);
            });
            LOG.infof("job %s %s", id, status);
        } catch (RuntimeException | OutOfMemoryError e) {
            String msg = paths.hideHostPaths(clientMessage(e));
            LOG.errorf(e, "job %s failed", id);
            records.update(id, true, j -> finish(j, Job.Status.failed, msg));
        }
    }

    /**
     * What the job's owner is told: the message of a failure the trainer explains (bad data, a refused path, the
     * native backend's status), never a Java class name; anything else is "an internal error" with the log to read.
     */
    static String clientMessage(Throwable e) {
        return switch (e) {
            case ForbiddenPathException f -> f.getMessage();
            case IllegalArgumentException i -> i.getMessage(); // also NativeException and RecipeException
            case UncheckedIOException u -> "cannot read or write a file: " + (u.getCause() instanceof NoSuchFileException n
                    ? "no such file " + n.getFile() : u.getCause().getMessage());
            case OutOfMemoryError o -> "the training job ran out of memory (heap); use a smaller batch or model, or more -Xmx";
            default -> "the job failed with an internal error; the server log has the details";
        };
    }

    static void finish(Job j, Job.Status status, String error) {
        j.status = status;
        j.error = error;
        j.finishedAt = Instant.now().toString();
        j.etaSeconds = null;
    }

    private boolean cancelRequested(String id) {
        return records.read(id, j -> j.cancelRequested);
    }

    private static String str(Path p) { return p == null ? null : p.toString(); }

    /** Mirrors a run's progress into its job; persists at every log line, evaluation and checkpoint. */
    private final class Progress implements TrainingListener {
        private final String id;

        Progress(String id) { this.id = id; }

        @Override
        public void started(String what, long startStep, long totalSteps, long numParams) {
            records.update(id, true, j -> {
                j.totalSteps = totalSteps;
                j.step = startStep;
                j.lossHistory.removeIf(p -> p.step() > startStep); // steps after the checkpoint are run again
            });
        }

        @Override
        public void step(StepStats s) {
            records.update(id, false, j -> {
                j.step = s.step();
                j.loss = s.loss();
                j.tokensPerSecond = s.tokensPerSecond();
                j.etaSeconds = s.etaSeconds();
            });
        }

        @Override
        public void logged(StepStats a) {
            records.update(id, true, j -> j.addLoss(new Job.LossPoint(a.step(), a.loss(), a.lr())));
        }

        @Override
        public void evaluated(long step, Map<String, Double> metrics) {
            records.update(id, true, j -> j.metrics = new LinkedHashMap<>(metrics));
        }

        @Override
        public void checkpointed(long step, Path dir) {
            records.update(id, true, j -> {});
        }

        @Override
        public void info(String line) { LOG.infof("job %s: %s", id, line); }
    }
}
