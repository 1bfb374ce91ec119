package dev.tessera.jobs;

import dev.tessera.io.AtomicDirectories;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.BiConsumer;

/**
 * {@code serve_as}: copies the servable files of a finished job's checkpoint to {@code <models dir>/<name>}
 * (replacing a previous model of that name in one swap) and hands the directory to the server to load.
 */
final class ModelPublisher {
    static final List<String> SERVABLE_FILES = List.of("config.json", "model.safetensors", "tokenizer.json", "vocab.txt",
            "tokenizer_config.json", "special_tokens_map.json");

    private final JobPaths paths;
    private final BiConsumer<String, Path> onPublished;

    /** @param onPublished called with (name, directory) once published, e.g. the model registry's register */
    ModelPublisher(JobPaths paths, BiConsumer<String, Path> onPublished) {
        this.paths = paths;
        this.onPublished = onPublished;
    }

    String publish(String name, Path checkpoint) {
        Path target = AtomicDirectories.replace(paths.publishTarget(name), tmp -> {
            for (String f : SERVABLE_FILES) {
                if (Files.isRegularFile(checkpoint.resolve(f))) Files.copy(checkpoint.resolve(f), tmp.resolve(f));
            }
        });
        if (onPublished != null) onPublished.accept(name, target);
        return name;
    }
}
