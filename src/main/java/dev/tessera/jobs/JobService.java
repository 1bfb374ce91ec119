package dev.tessera.jobs;

import dev.tessera.kernels.NativeException;
import dev.tessera.train.Checkpointer;
import dev.tessera.train.Finetuner;
import dev.tessera.train.Pretrainer;
import dev.tessera.train.Recipe;
import dev.tessera.train.RecipeException;
import dev.tessera.train.RecipeOverrides;
import dev.tessera.train.TrainOptions;
import dev.tessera.train.TrainingListener;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.function.BiConsumer;
import java.util.regex.Pattern;

/**
 * Runs training jobs one at a time (one device) from a FIFO queue. Every change of a job's state is written
 * to the {@link JobStore}; on start, finished jobs are listed again and queued or running ones are queued
 * again: their trainer resumes from the last checkpoint in the job's output directory.
 *
 * <p>Output: {@code <jobs dir>/<id>/output} unless the overrides set {@code training.output_dir}.
 * Cancel is cooperative: a running job stops between two optimizer steps (after writing a checkpoint).
 */
public final class JobService implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(JobService.class);
    static final Pattern MODEL_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,99}");
    static final List<String> SERVABLE_FILES = List.of("config.json", "model.safetensors", "tokenizer.json", "vocab.txt",
            "tokenizer_config.json", "special_tokens_map.json");

    /** A submission that cannot run; {@code problems} lists every reason. */
    public static final class InvalidJobException extends IllegalArgumentException {
        private final List<String> problems;

        public InvalidJobException(String message, List<String> problems) {
            super(message + (problems.isEmpty() ? "" : ":\n  - " + String.join("\n  - ", problems)));
            this.problems = List.copyOf(problems);
        }

        public List<String> problems() { return problems; }
    }

    private final JobStore store;
    private final int threads;
    private final Path modelsDir;
    private final BiConsumer<String, Path> publisher;
    private final Map<String, Job> jobs = new LinkedHashMap<>();
    private final LinkedBlockingDeque<String> queue = new LinkedBlockingDeque<>();
    private final Object lock = new Object();
    private volatile boolean stopping;
    private long nextSeq;
    private Thread worker;

    /**
     * @param modelsDir where {@code serve_as} publishes a finished model (null: serve_as refused)
     * @param publisher called with (name, directory) after publishing, e.g. the model registry's register
     */
    public JobService(Path jobsDir, int threads, Path modelsDir, BiConsumer<String, Path> publisher) {
        this.store = new JobStore(jobsDir);
        this.threads = threads;
        this.modelsDir = modelsDir;
        this.publisher = publisher;
    }

    /** Loads the stored jobs, queues the unfinished ones again and starts the worker. */
    public void start() {
        List<String> bad = new ArrayList<>();
        synchronized (lock) {
            for (Job j : store.loadAll(bad)) {
                jobs.put(j.id, j);
                nextSeq = Math.max(nextSeq, j.seq + 1);
                if (!j.status.finished()) {
                    if (j.cancelRequested) {
                        finish(j, Job.Status.cancelled, null);
                        continue;
                    }
                    j.status = Job.Status.queued;
                    store.save(j);
                    queue.add(j.id);
                    LOG.infof("job %s re-queued after a restart (resumes from its last checkpoint)", j.id);
                }
            }
        }
        for (String b : bad) LOG.warn("unreadable job file " + b);
        worker = Thread.ofPlatform().name("training-jobs").daemon(true).start(this::work);
    }

    /** Validates and queues a job; the returned copy has status queued. */
    public Job submit(String kind, String recipeText, String recipePath, Map<String, Object> overrides, String serveAs) {
        List<String> p = new ArrayList<>();
        Recipe.Kind k = null;
        if (kind == null) p.add("'kind' is required (pretrain or finetune)");
        else {
            try {
                k = Recipe.Kind.valueOf(kind.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                p.add("'kind' must be pretrain or finetune, got '" + kind + "'");
            }
        }
        if ((recipeText == null) == (recipePath == null)) p.add("give exactly one of 'recipe' (YAML text) and 'recipe_path'");
        if (serveAs != null && !MODEL_NAME.matcher(serveAs).matches()) p.add("'serve_as' must be a model name ([A-Za-z0-9._-], up to 100 characters), got '" + serveAs + "'");
        if (serveAs != null && modelsDir == null) p.add("'serve_as' needs a model directory (tessera.models.dir)");
        String source = recipePath != null ? recipePath : "recipe";
        if (recipePath != null && recipeText == null) {
            if (!isFile(recipePath)) p.add("recipe_path: file not found: " + recipePath);
            else try {
                recipeText = Files.readString(Path.of(recipePath));
            } catch (IOException | RuntimeException e) {
                p.add("recipe_path: cannot read " + recipePath + ": " + e.getMessage());
            }
        }
        if (!p.isEmpty()) throw new InvalidJobException("invalid job", p);
        String id = "job-" + UUID.randomUUID().toString().substring(0, 8);
        Map<String, Object> ov = new LinkedHashMap<>();
        if (overrides != null) ov.putAll(overrides);
        Path out = store.dir().resolve(id).resolve("output");
        ov.putIfAbsent("training.output_dir", out.toString());
        String yaml;
        Recipe r;
        try {
            yaml = RecipeOverrides.apply(recipeText, ov, source);
            r = Recipe.parse(yaml, source);
        } catch (RecipeException e) {
            throw new InvalidJobException("invalid recipe " + source, e.problems());
        }
        if (r.kind() != k) p.add("the recipe is a " + r.kind().name().toLowerCase(Locale.ROOT) + " recipe but kind is " + kind);
        preflight(r, p);
        if (!p.isEmpty()) throw new InvalidJobException("invalid job", p);

        Job j = new Job();
        synchronized (lock) {
            j.id = id;
            j.seq = nextSeq++;
            j.kind = k.name().toLowerCase(Locale.ROOT);
            j.status = Job.Status.queued;
            j.createdAt = Instant.now().toString();
            j.recipe = yaml;
            j.recipeSource = source;
            j.serveAs = serveAs;
            j.outputDir = r.training().outputDir();
            jobs.put(id, j);
            store.save(j);
            queue.add(id);
            return j.copy();
        }
    }

    /** Files a run needs, checked before queueing so a typo fails now rather than in the queue. */
    static void preflight(Recipe r, List<String> p) {
        for (String f : r.data().train()) if (!isFile(f)) p.add("data.train: file not found: " + f);
        for (String f : r.data().eval()) if (!isFile(f)) p.add("data.eval: file not found: " + f);
        if (r.data().tokenizer() != null && !isDirectory(r.data().tokenizer())) {
            p.add("data.tokenizer: no directory " + r.data().tokenizer());
        }
        if (r.model().initFrom() != null && !isDirectory(r.model().initFrom())) {
            p.add("model.init_from: no checkpoint directory " + r.model().initFrom());
        }
        if (pathOf(r.training().outputDir()) == null) p.add("training.output_dir: not a valid path: " + r.training().outputDir());
    }

    // Paths come from the client: one Path.of cannot parse (a NUL character) is a problem to report, not a 500.
    private static Path pathOf(String s) {
        try {
            return Path.of(s);
        } catch (InvalidPathException e) {
            return null;
        }
    }

    private static boolean isFile(String s) {
        Path f = pathOf(s);
        return f != null && Files.isRegularFile(f);
    }

    private static boolean isDirectory(String s) {
        Path d = pathOf(s);
        return d != null && Files.isDirectory(d);
    }

    public List<Job> list() {
        synchronized (lock) {
            return jobs.values().stream().map(Job::copy).toList();
        }
    }

    public Optional<Job> get(String id) {
        synchronized (lock) {
            return Optional.ofNullable(jobs.get(id)).map(Job::copy);
        }
    }

    /**
     * Cancels a job: a queued one at once, a running one at its next step. Empty for an unknown id;
     * a finished job is returned unchanged.
     */
    public Optional<Job> cancel(String id) {
        synchronized (lock) {
            Job j = jobs.get(id);
            if (j == null) return Optional.empty();
            if (j.status == Job.Status.queued) {
                queue.remove(id);
                j.cancelRequested = true;
                finish(j, Job.Status.cancelled, null);
            } else if (j.status == Job.Status.running) {
                j.cancelRequested = true;
                store.save(j);
            }
            return Optional.of(j.copy());
        }
    }

    private void finish(Job j, Job.Status status, String error) {
        j.status = status;
        j.error = error;
        j.finishedAt = Instant.now().toString();
        j.etaSeconds = null;
        store.save(j);
    }

    private void work() {
        while (!stopping) {
            String id;
            try {
                id = queue.poll(200, java.util.concurrent.TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                return;
            }
            if (id == null) continue;
            if (stopping) {
                queue.addFirst(id);
                return;
            }
            Job j;
            synchronized (lock) {
                j = jobs.get(id);
                if (j == null || j.status != Job.Status.queued) continue;
                j.status = Job.Status.running;
                if (j.startedAt == null) j.startedAt = Instant.now().toString();
                j.attempts++;
                store.save(j);
            }
            run(j);
        }
    }

    private void run(Job j) {
        LOG.infof("job %s (%s) started", j.id, j.kind);
        try {
            Recipe r = Recipe.parse(j.recipe, j.recipeSource);
            TrainOptions opts = TrainOptions.defaults().withThreads(threads).withListener(new Progress(j))
                    .withCancel(() -> stopping || cancelRequested(j));
            Path best;
            boolean cancelled;
            Map<String, Double> metrics;
            if (r.kind() == Recipe.Kind.PRETRAIN) {
                Pretrainer.Result res = new Pretrainer(r, opts).run();
                cancelled = res.cancelled() || res.finalDir() == null;
                best = res.finalDir();
                metrics = res.lastEval();
                synchronized (lock) {
                    j.finalDir = str(res.finalDir());
                }
            } else {
                Finetuner.Result res = new Finetuner(r, opts).run();
                cancelled = res.cancelled() || res.finalDir() == null;
                best = res.bestDir();
                metrics = res.bestMetrics();
                synchronized (lock) {
                    j.finalDir = str(res.finalDir());
                    j.bestDir = str(res.bestDir());
                }
            }
            if (cancelled && stopping && !cancelRequested(j)) {
                LOG.infof("job %s interrupted by shutdown; it resumes at the next start", j.id);
                synchronized (lock) {
                    store.save(j);
                }
                return;
            }
            String served = null;
            if (!cancelled && j.serveAs != null && best != null) served = publish(j.serveAs, best);
            synchronized (lock) {
                if (metrics != null) j.metrics = new LinkedHashMap<>(metrics);
                j.servedAs = served;
                finish(j, cancelled ? Job.Status.cancelled : Job.Status.succeeded, null);
            }
            LOG.infof("job %s %s", j.id, j.status);
        } catch (RuntimeException e) {
            String msg = e instanceof IllegalArgumentException && !(e instanceof NativeException) ? e.getMessage() : e.toString();
            LOG.errorf(e, "job %s failed", j.id);
            synchronized (lock) {
                finish(j, Job.Status.failed, msg);
            }
        }
    }

    private boolean cancelRequested(Job j) {
        synchronized (lock) {
            return j.cancelRequested;
        }
    }

    /** Copies the servable files of {@code dir} to {@code <models dir>/<name>} (replacing it) and registers it. */
    private String publish(String name, Path dir) {
        Path target = modelsDir.resolve(name), tmp = modelsDir.resolve(".tmp-" + name), old = modelsDir.resolve(".old-" + name);
        try {
            Files.createDirectories(modelsDir);
            deleteTree(tmp);
            Files.createDirectories(tmp);
            for (String f : SERVABLE_FILES) {
                if (Files.isRegularFile(dir.resolve(f))) Files.copy(dir.resolve(f), tmp.resolve(f));
            }
            deleteTree(old);
            if (Files.exists(target)) Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            deleteTree(old);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot publish " + dir + " to " + target, e);
        }
        if (publisher != null) publisher.accept(name, target);
        return name;
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (var s = Files.walk(p)) {
            for (Path q : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(q);
        }
    }

    private static String str(Path p) { return p == null ? null : p.toString(); }

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

    /** Mirrors a run's progress into its job; persists at every log line, evaluation and checkpoint. */
    private final class Progress implements TrainingListener {
        private final Job j;

        Progress(Job j) { this.j = j; }

        @Override
        public void started(String what, long startStep, long totalSteps, long numParams) {
            synchronized (lock) {
                j.totalSteps = totalSteps;
                j.step = startStep;
                j.lossHistory.removeIf(p -> p.step() > startStep); // steps after the checkpoint are run again
                store.save(j);
            }
        }

        @Override
        public void step(StepStats s) {
            synchronized (lock) {
                j.step = s.step();
                j.loss = s.loss();
                j.tokensPerSecond = s.tokensPerSecond();
                j.etaSeconds = s.etaSeconds();
            }
        }

        @Override
        public void logged(StepStats a) {
            synchronized (lock) {
                j.lossHistory.add(new Job.LossPoint(a.step(), a.loss()));
                store.save(j);
            }
        }

        @Override
        public void evaluated(long step, Map<String, Double> metrics) {
            synchronized (lock) {
                j.metrics = new LinkedHashMap<>(metrics);
                store.save(j);
            }
        }

        @Override
        public void checkpointed(long step, Path dir) {
            synchronized (lock) {
                store.save(j);
            }
        }

        @Override
        public void info(String line) { LOG.infof("job %s: %s", j.id, line); }
    }

    /** For tests: the directory of the checkpoint a job would resume from. */
    Optional<Path> latestCheckpoint(Job j) {
        return new Checkpointer(Path.of(j.outputDir), null, 1).latest();
    }
}
