package dev.tessera.serving;

import dev.tessera.hf.CheckpointFiles;
import dev.tessera.hf.HfCheckpoint;
import dev.tessera.io.AtomicDirectories;
import dev.tessera.model.BertModel;
import dev.tessera.onnx.Dialect;
import dev.tessera.onnx.Precision;
import dev.tessera.serving.ort.OrtEngines;
import dev.tessera.tokenize.TextTokenizer;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.jboss.logging.Logger;

/**
 * Loads every model directory under {@code tessera.models.dir} at start-up (in the background, so
 * the readiness probe can say "not yet") and serves each under its directory name.
 */
@ApplicationScoped
public class ModelRegistry {
    private static final Logger LOG = Logger.getLogger(ModelRegistry.class);

    private final ServingConfig config;
    private final MeterRegistry meters;
    private final Map<String, ServedModel> models = Collections.synchronizedMap(new TreeMap<>());
    private final Map<String, String> failures = Collections.synchronizedMap(new TreeMap<>());
    private volatile boolean ready;
    private volatile String defaultName;

    public ModelRegistry(ServingConfig config, MeterRegistry meters) {
        this.config = config;
        this.meters = meters;
    }

    void onStart(@Observes StartupEvent event) {
        Thread.ofPlatform().name("model-loader").daemon(true).start(this::loadAll);
    }

    void onStop(@Observes ShutdownEvent event) {
        synchronized (models) {
            for (ServedModel m : models.values()) {
                try {
                    m.close();
                } catch (Exception e) {
                    LOG.warn("closing " + m.name(), e);
                }
            }
            models.clear();
        }
    }

    private void loadAll() {
        Path root = Path.of(config.models().dir());
        try {
            AtomicDirectories.recoverAll(root); // a publish cut short by a crash: its .old- copy is served again
        } catch (IOException e) {
            LOG.warnf("cannot recover interrupted model replacements in %s: %s", root, e.getMessage());
        }
        try (Stream<Path> dirs = Files.list(root)) {
            for (Path dir : dirs.filter(CheckpointFiles::looksLikeCheckpoint).sorted().toList()) {
                String name = dir.getFileName().toString();
                try {
                    long t0 = System.nanoTime();
                    models.put(name, load(name, dir));
                    LOG.infof("loaded model '%s' from %s in %d ms", name, dir, (System.nanoTime() - t0) / 1_000_000);
                } catch (Exception e) {
                    failures.put(name, e.getMessage());
                    LOG.errorf("model '%s' in %s not loaded: %s", name, dir, e.getMessage());
                }
            }
        } catch (IOException e) {
            LOG.errorf("cannot list model directory %s: %s", root.toAbsolutePath(), e.getMessage());
        }
        // Loading leaves each model's weights behind as garbage, several copies (tensors, graph, bytes). Collect it
        // now so the heap shrinks back to what serving needs instead of holding that peak for the process's life.
        System.gc();
        defaultName = config.models().defaultModel().filter(models::containsKey)
                .orElse(models.isEmpty() ? null : models.keySet().iterator().next());
        ready = !models.isEmpty();
        if (!ready) LOG.warnf("no model could be loaded from %s", root.toAbsolutePath());
    }

    private ServedModel load(String name, Path dir) throws IOException {
        BertModel model = HfCheckpoint.load(dir);
        Optional<ServingConfig.ModelOverrides> overrides = Optional.ofNullable(config.model().get(name));
        String dialect = overrides.flatMap(ServingConfig.ModelOverrides::dialect).orElse(config.serving().dialect());
        String precision = overrides.flatMap(ServingConfig.ModelOverrides::precision).orElse(config.serving().precision());
        OrtEngines.Options options = new OrtEngines.Options(
                dialect.equalsIgnoreCase("auto") ? Optional.empty() : Optional.of(Dialect.parse(dialect)),
                Precision.parse(precision), Device.parse(config.serving().device()), config.serving().threads());
        int configured = overrides.flatMap(ServingConfig.ModelOverrides::maxInputLength).orElse(config.serving().maxInputLength());
        Engine engine = OrtEngines.open(name, model, options);
        TextTokenizer tokenizer = null;
        try {
            tokenizer = TextTokenizer.load(dir);
            InferenceBatcher batcher = new InferenceBatcher(name, engine, config.serving().maxBatchTokens(),
                    config.serving().maxBatchDelay(), config.serving().queueCapacity(), meters);
            Engine.Description d = engine.description();
            LOG.infof("model '%s': dialect %s, precision %s, device %s%s", name, d.dialect(), d.precision(), d.device(),
                    d.note() == null ? "" : " (" + d.note() + ")");
            return new ServedModel(name, dir, model.config(), tokenizer, engine, batcher,
                    ServedModel.maxInputLength(model.config(), configured));
        } catch (RuntimeException e) {
            engine.close();
            if (tokenizer != null) tokenizer.close();
            throw e;
        }
    }

    public boolean ready() { return ready; }

    /** The directory models are loaded from ({@code tessera.models.dir}). */
    public Path modelsDir() { return Path.of(config.models().dir()); }

    /**
     * Loads (or reloads) the checkpoint in {@code dir} and serves it as {@code name}, replacing and closing a
     * model of that name. Used when a finetuning job publishes its best checkpoint.
     *
     * @throws RegistryException.LoadFailed when the directory cannot be loaded (the old model stays served)
     */
    public ServedModel register(String name, Path dir) {
        ServedModel loaded;
        try {
            loaded = load(name, dir);
        } catch (IOException | RuntimeException e) {
            String why = String.valueOf(e.getMessage()).replace(dir.toAbsolutePath().toString(), name).replace(dir.toString(), name);
            throw new RegistryException.LoadFailed(name, why, models.containsKey(name), e);
        }
        ServedModel old = models.put(name, loaded);
        failures.remove(name);
        if (defaultName == null) defaultName = name;
        ready = true;
        if (old != null) retire(old);
        LOG.infof("serving model '%s' from %s", name, dir);
        return loaded;
    }

    /**
     * Loads {@code <models dir>/<name>} again (e.g. after its files were replaced) and swaps it in; the old model,
     * if any, keeps serving until the new one has loaded, and stays served if it fails to.
     */
    public ServedModel reload(String name) {
        Path dir = find(name).map(ServedModel::dir).orElse(modelsDir().resolve(name));
        if (!dir.normalize().startsWith(modelsDir().normalize()) || !Files.isDirectory(dir)) {
            throw new RegistryException.NoModelDirectory(name);
        }
        return register(name, dir);
    }

    /** Stops serving a model (its files stay); requests already holding it finish. Empty if none is served by that name. */
    public Optional<ServedModel> unload(String name) {
        ServedModel old = models.remove(name);
        if (old == null) return Optional.empty();
        if (name.equals(defaultName)) {
            defaultName = config.models().defaultModel().filter(models::containsKey)
                    .orElse(models.isEmpty() ? null : all().get(0).name());
        }
        retire(old);
        LOG.infof("model '%s' unloaded", name);
        return Optional.of(old);
    }

    /**
     * A swapped-out model stays open for one request timeout, so requests that already hold it finish
     * on it; new requests see the new one. Nothing in flight is dropped.
     */
    private void retire(ServedModel old) {
        long graceMillis = config.serving().requestTimeout().toMillis();
        Thread.ofVirtual().name("retire-" + old.name()).start(() -> {
            try {
                Thread.sleep(graceMillis);
                old.close();
            } catch (Exception e) {
                LOG.warn("closing the replaced model " + old.name(), e);
            }
        });
    }

    public Optional<ServedModel> find(String name) { return Optional.ofNullable(models.get(name)); }

    public Optional<ServedModel> defaultModel() {
        String n = defaultName;
        return n == null ? Optional.empty() : find(n);
    }

    public List<ServedModel> all() {
        synchronized (models) {
            return List.copyOf(models.values());
        }
    }

    public Map<String, String> failures() {
        synchronized (failures) {
            return Map.copyOf(failures);
        }
    }
}
