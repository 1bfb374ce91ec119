package dev.tessera.hf;

import dev.tessera.model.Tensor;
import java.nio.file.Path;
import java.util.Map;

/** pytorch_model.bin reader (in progress). */
public final class TorchCheckpointReader {
    private TorchCheckpointReader() {}

    public static Map<String, Tensor> read(Path file) {
        throw new CheckpointFormatException("pytorch_model.bin is not supported yet: " + file);
    }

    public static Map<String, Tensor> readSharded(Path indexJson) {
        throw new CheckpointFormatException("pytorch_model.bin is not supported yet: " + indexJson);
    }
}
