package dev.tessera.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.tessera.io.AtomicDirectories;
import dev.tessera.io.AtomicFiles;
import dev.tessera.hf.CheckpointFiles;
import dev.tessera.hf.HfCheckpoint;
import dev.tessera.hf.SafetensorsReader;
import dev.tessera.hf.SafetensorsWriter;
import dev.tessera.kernels.NativeModel;
import dev.tessera.model.BertModel;
import dev.tessera.model.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Checkpoint directories of a run under {@code root}:
 * <pre>
 *   root/step-00000500/   config.json, model.safetensors, tokenizer files  (Hugging Face layout, servable)
 *                         optimizer.safetensors (adam_m, adam_v: flat [num_params] in the native block order)
 *                         training_state.json   (written last)
 *   root/latest           name of the newest complete step directory (replaced atomically)
 *   root/final/, best/    servable copies (same content) at the end / at the best evaluation
 * </pre>
 * A directory is filled under {@code .tmp-NAME} and renamed into place, then {@code latest} is
 * replaced; a kill at any point leaves the previous {@code latest} intact and readable.
 */
public final class Checkpointer {

    public static final String STATE = "training_state.json";
    public static final String OPTIMIZER = "optimizer.safetensors";
    public static final String LATEST = "latest";

    static final ObjectMapper JSON = new ObjectMapper()
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .enable(SerializationFeature.INDENT_OUTPUT)
            .disable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    private final Path root;
    private final Path tokenizerDir;
    private final int keep;

    public Checkpointer(Path root, Path tokenizerDir, int keep) {
        this.root = root;
        this.tokenizerDir = tokenizerDir;
        this.keep = keep;
    }

    public Path root() { return root; }

    public static String stepName(long step) { return String.format("step-%08d", step); }

    /** Writes a periodic checkpoint and points {@code latest} at it; prunes older ones beyond {@code keep}. */
    public Path saveStep(BertModel model, float[] adamM, float[] adamV, TrainingState state) {
        String name = stepName(state.step());
        Path dir = commit(name, model, adamM, adamV, state);
        AtomicFiles.writeString(root.resolve(LATEST), name + "\n");
        prune();
        return dir;
    }

    /** Writes (or replaces) a named servable checkpoint such as {@code final} or {@code best}. */
    public Path saveNamed(String name, BertModel model, float[] adamM, float[] adamV, TrainingState state) {
        return commit(name, model, adamM, adamV, state);
    }

    private Path commit(String name, BertModel model, float[] adamM, float[] adamV, TrainingState state) {
        return AtomicDirectories.replace(root.resolve(name), tmp -> {
            HfCheckpoint.save(model, tmp);
            copyTokenizer(tmp);
            if (adamM != null) {
                SafetensorsWriter.write(tmp.resolve(OPTIMIZER), Map.of(
                        "adam_m", new Tensor(new int[] {adamM.length}, adamM),
                        "adam_v", new Tensor(new int[] {adamV.length}, adamV)), Map.of("format", "tessera"));
            }
            AtomicFiles.writeString(tmp.resolve(STATE), JSON.writeValueAsString(state) + "\n");
        });
    }

    private void copyTokenizer(Path dir) throws IOException {
        if (tokenizerDir == null) return;
        for (String f : CheckpointFiles.TOKENIZER) {
            Path src = tokenizerDir.resolve(f);
            if (Files.isRegularFile(src)) {
                byte[] bytes = Files.readAllBytes(src);
                AtomicFiles.write(dir.resolve(f), ch -> ch.write(java.nio.ByteBuffer.wrap(bytes)));
            }
        }
    }

    /** The checkpoint a run resumes from; with {@code required} (--resume), its absence is an error. */
    public Optional<Path> resumePoint(boolean required) {
        Optional<Path> latest = latest();
        if (required && latest.isEmpty()) throw new IllegalArgumentException("--resume: no checkpoint in " + root);
        return latest;
    }

    /** The newest complete step checkpoint: the one {@code latest} names, else the highest complete step-* dir. */
    public Optional<Path> latest() {
        recover();
        Path pointer = root.resolve(LATEST);
        try {
            if (Files.isRegularFile(pointer)) {
                Path dir = root.resolve(Files.readString(pointer).trim());
                if (Files.isRegularFile(dir.resolve(STATE))) return Optional.of(dir);
            }
            if (!Files.isDirectory(root)) return Optional.empty();
            try (Stream<Path> s = Files.list(root)) {
                return s.filter(p -> p.getFileName().toString().startsWith("step-"))
                        .filter(p -> Files.isRegularFile(p.resolve(STATE)))
                        .max(Comparator.comparing(p -> p.getFileName().toString()));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read checkpoints in " + root, e);
        }
    }

    /** A kill between the two renames of a replacement leaves only {@code .old-NAME}: put it back. */
    private void recover() {
        try {
            AtomicDirectories.recoverAll(root);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot recover checkpoints in " + root, e);
        }
    }

    private void prune() {
        try (Stream<Path> s = Files.list(root)) {
            List<Path> steps = new ArrayList<>(s.filter(p -> p.getFileName().toString().startsWith("step-"))
                    .sorted(Comparator.comparing((Path p) -> p.getFileName().toString()).reversed()).toList());
            for (int i = keep; i < steps.size(); i++) AtomicDirectories.deleteTree(steps.get(i));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prune checkpoints in " + root, e);
        }
    }

    public static TrainingState readState(Path dir) {
        try {
            return JSON.readValue(dir.resolve(STATE).toFile(), TrainingState.class);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + dir.resolve(STATE) + ": " + e.getMessage(), e);
        }
    }

    /**
     * Restores what {@link #saveStep} saved into {@code model}: the weights, then the AdamW moments; returns the
     * training state (step, data position, histories) for the loop to continue from.
     */
    public static TrainingState restore(Path dir, NativeModel model) {
        TrainingState state = readState(dir);
        model.loadWeights(HfCheckpoint.load(dir).weights());
        float[][] mv = readMoments(dir, model.numParams());
        model.write(NativeModel.Buffer.ADAM_M, 0, mv[0]);
        model.write(NativeModel.Buffer.ADAM_V, 0, mv[1]);
        return state;
    }

    /** {adam_m, adam_v} of a checkpoint, each of {@code numParams} floats. */
    private static float[][] readMoments(Path dir, long numParams) {
        Map<String, Tensor> t = SafetensorsReader.read(dir.resolve(OPTIMIZER));
        Tensor m = t.get("adam_m"), v = t.get("adam_v");
        if (m == null || v == null || m.data().length != numParams || v.data().length != numParams) {
            throw new IllegalArgumentException(dir.resolve(OPTIMIZER) + " does not hold adam_m/adam_v of " + numParams
                    + " floats (was the model changed since the checkpoint?)");
        }
        return new float[][] {m.data(), v.data()};
    }
}
