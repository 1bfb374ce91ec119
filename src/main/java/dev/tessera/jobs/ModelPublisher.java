package dev.tessera.jobs;

import dev.tessera.hf.CheckpointFiles;
import dev.tessera.io.AtomicDirectories;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.BiConsumer;

/**
 * {@code serve_as}: copies the servable files of a finished job's checkpoint to {@code <models dir>/<name>}
 * (replacing a previous model of that name in one swap, {@link AtomicDirectories#replace}) and hands the directory
 * to the server to load. A swap cut short by a crash is undone at the next start ({@link #recover}) or the next
 * publish of that name: the model published before it is back.
 */
final class ModelPublisher {
    private final JobPaths paths;
    private final BiConsumer<String, Path> onPublished;

    /** @param onPublished called with (name, directory) once published, e.g. the model registry's register */
    ModelPublisher(JobPaths paths, BiConsumer<String, Path> onPublished) {
        this.paths = paths;
        this.onPublished = onPublished;
    }

    /** Puts back every model whose replacement a crash cut short between its two renames. */
    void recover() {
        try {
            AtomicDirectories.recoverAll(paths.modelsDir());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot recover the models in " + paths.modelsDir() + ": " + e.getMessage(), e);
        }
    }

    String publish(String name, Path checkpoint) {
        Path target = AtomicDirectories.replace(paths.publishTarget(name), tmp -> {
            for (String f : CheckpointFiles.SERVABLE) {
                if (Files.isRegularFile(checkpoint.resolve(f))) Files.copy(checkpoint.resolve(f), tmp.resolve(f));
            }
        });
        if (onPublished != null) onPublished.accept(name, target);
        return name;
    }
}
