package dev.tessera.jobs;

import dev.tessera.io.AtomicDirectories;
import dev.tessera.train.Checkpointer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import org.jboss.logging.Logger;

/**
 * The training-job queue: jobs run one at a time (one device), first in first out. Submissions are checked by
 * {@link JobSubmissions} (including the {@link JobPaths} rules), run by {@link JobRunner}, recorded in
 * {@link JobRecords}. On start, stored jobs are listed again and unfinished ones queued again: their trainer
 * resumes from the last checkpoint in the job's output directory. Finished jobs older than the retention are
 * forgotten. Cancel is cooperative: a running job stops between two optimizer steps.
 */
public final class JobService implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(JobService.class);

    /**
     * @param modelsDir where {@code serve_as} publishes (null: serve_as refused)
     * @param onPublished called with (name, directory) after publishing, e.g. the model registry's register
     */
    public record Settings(Path jobsDir, int threads, Path modelsDir, List<Path> dataRoots, int maxQueued,
                           Duration retention, BiConsumer<String, Path> onPublished, int maxRecords) {
        public Settings(Path jobsDir, int threads, Path modelsDir, List<Path> dataRoots, int maxQueued, Duration retention,
                        BiConsumer<String, Path> onPublished) {
            this(jobsDir, threads, modelsDir, dataRoots, maxQueued, retention, onPublished, 500);
        }
    }

    private final Settings settings;
    private final JobRecords records;
    private final JobSubmissions submissions;
    private final JobRunner runner;
    private final ModelPublisher publisher; // null: serve_as refused
    private final LinkedBlockingDeque<String> queue = new LinkedBlockingDeque<>();
    private volatile boolean stopping;
    private Thread worker;

    public JobService(Settings settings) {
        this.settings = settings;
        this.records = new JobRecords(new JobStore(settings.jobsDir()));
        JobPaths paths = new JobPaths(settings.jobsDir(), settings.modelsDir(), settings.dataRoots());
        this.submissions = new JobSubmissions(paths, settings.modelsDir() != null);
        this.publisher = settings.modelsDir() == null ? null : new ModelPublisher(paths, settings.onPublished());
        this.runner = new JobRunner(records, settings.threads(), publisher, paths);
    }

    /**
     * Puts back a published model whose replacement a crash cut short, loads the stored jobs, forgets expired ones,
     * queues the unfinished ones again and starts the worker.
     */
    public void start() {
        if (publisher != null) {
            try {
                publisher.recover();
            } catch (UncheckedIOException e) {
                LOG.warn(e.getMessage()); // serving the other models and running jobs does not depend on it
            }
        }
        List<String> bad = new ArrayList<>();
        for (Job j : records.load(bad)) {
            if (j.status.finished()) continue;
            if (j.cancelRequested) {
                records.update(j.id, true, r -> JobRunner.finish(r, Job.Status.cancelled, null));
                continue;
            }
            records.update(j.id, true, r -> r.status = Job.Status.queued);
            queue.add(j.id);
            LOG.infof("job %s re-queued after a restart (resumes from its last checkpoint)", j.id);
        }
        for (String b : bad) LOG.warn("unreadable job file " + b);
        prune();
        worker = Thread.ofPlatform().name("training-jobs").daemon(true).start(this::work);
    }

    /**
     * Validates and queues a job; the returned copy has status queued.
     *
     * @throws JobException.Invalid the recipe or a field cannot run
     * @throws dev.tessera.io.ForbiddenPathException a path is outside what jobs may read or write
     * @throws JobException.QueueFull the queue is full
     */
    public Job submit(String kind, String recipeText, String recipePath, Map<String, Object> overrides, String serveAs) {
        Job j = submissions.prepare(kind, recipeText, recipePath, overrides, serveAs);
        synchronized (queue) { // check and add together, so concurrent submissions cannot overfill the queue
            if (queue.size() >= settings.maxQueued()) throw new JobException.QueueFull(settings.maxQueued());
            forgetOldest(settings.maxRecords() - 1);
            records.add(j);
            Job queued = j.copy(); // before the worker can see it
            queue.add(j.id);
            return queued;
        }
    }

    public List<Job> list() { return records.list(); }

    /** Jobs {@code offset .. offset+limit} in submission order, and how many there are. */
    public record Page(List<Job> jobs, int total) {}

    public Page list(int offset, int limit) {
        List<Job> all = records.list();
        int from = Math.min(offset, all.size()), to = Math.min(all.size(), from + limit);
        return new Page(all.subList(from, to), all.size());
    }

    /** One job as recorded (without its recipe: cheap enough to poll). */
    public Optional<Job> get(String id) { return records.get(id); }

    /** One job with its recipe, read from the job's own file. */
    public Optional<Job> getWithRecipe(String id) {
        return records.get(id).map(j -> {
            j.recipe = records.store().loadRecipe(id);
            return j;
        });
    }

    /**
     * Cancels a job: a queued one at once, a running one at its next step. Empty for an unknown id;
     * a finished job is returned unchanged.
     */
    public Optional<Job> cancel(String id) {
        return records.updateAndGet(id, j -> {
            if (j.status == Job.Status.queued) {
                queue.remove(id);
                j.cancelRequested = true;
                JobRunner.finish(j, Job.Status.cancelled, null);
            } else if (j.status == Job.Status.running) {
                j.cancelRequested = true;
            }
        });
    }

    private void work() {
        while (!stopping) {
            String id;
            try {
                id = queue.poll(200, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                return;
            }
            if (id == null) continue;
            if (stopping) {
                queue.addFirst(id);
                return;
            }
            // checked and changed under one lock: a cancel in between must not be overwritten
            Optional<Job> started = records.updateAndGet(id, j -> {
                if (j.status != Job.Status.queued) return;
                j.status = Job.Status.running;
                if (j.startedAt == null) j.startedAt = Instant.now().toString();
                j.attempts++;
            }).filter(j -> j.status == Job.Status.running);
            if (started.isEmpty()) continue;
            runner.run(started.get(), () -> stopping);
            prune();
        }
    }

    /** Forgets the oldest finished jobs until at most {@code keep} records are left (queued and running ones stay). */
    private void forgetOldest(int keep) {
        List<Job> all = records.list();
        for (int i = 0, excess = all.size() - keep; i < all.size() && excess > 0; i++) {
            Job j = all.get(i);
            if (!j.status.finished()) continue;
            forget(j, "more than " + settings.maxRecords() + " job records (tessera.jobs.max-records)");
            excess--;
        }
    }

    private void forget(Job j, String why) {
        records.remove(j.id);
        try {
            AtomicDirectories.deleteTree(records.store().dir().resolve(j.id));
        } catch (IOException e) {
            LOG.warnf("cannot delete the directory of job %s: %s", j.id, e.getMessage());
        }
        LOG.infof("job %s forgotten (%s)", j.id, why);
    }

    /** Forgets finished jobs older than the retention: their record and their own directory under the jobs dir. */
    private void prune() {
        Instant cutoff = Instant.now().minus(settings.retention());
        for (Job j : records.list()) {
            if (!j.status.finished() || j.finishedAt == null) continue;
            try {
                if (Instant.parse(j.finishedAt).isAfter(cutoff)) continue;
                forget(j, "finished " + j.finishedAt + ", retention " + settings.retention());
            } catch (DateTimeParseException e) {
                LOG.warnf("cannot prune job %s: %s", j.id, e.getMessage());
            }
        }
    }

    /** Stops the worker between steps (the running job stays "running" and resumes at the next start). */
    @Override
    public void close() {
        stopping = true;
        if (worker != null) {
            // no interrupt: it would abort a checkpoint being written (NIO channels close on interrupt)
            try {
                worker.join(8000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** For tests: the directory of the checkpoint a job would resume from. */
    Optional<Path> latestCheckpoint(Job j) {
        return new Checkpointer(Path.of(j.outputDir), null, 1).latest();
    }
}
