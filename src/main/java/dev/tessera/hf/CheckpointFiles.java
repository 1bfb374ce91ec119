package dev.tessera.hf;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * The file names of a checkpoint directory in the Hugging Face layout, in one place: what {@link HfCheckpoint}
 * reads and writes, what a Tessera checkpoint carries beside its weights, and what a published model needs.
 */
public final class CheckpointFiles {
    private CheckpointFiles() {}

    public static final String CONFIG = "config.json";
    public static final String SAFETENSORS = "model.safetensors";
    public static final String SAFETENSORS_INDEX = "model.safetensors.index.json";
    public static final String PYTORCH = "pytorch_model.bin";
    public static final String PYTORCH_INDEX = "pytorch_model.bin.index.json";

    public static final String TOKENIZER_JSON = "tokenizer.json";
    public static final String VOCAB = "vocab.txt";
    public static final String TOKENIZER_CONFIG = "tokenizer_config.json";
    public static final String SPECIAL_TOKENS_MAP = "special_tokens_map.json";

    /** The files that decide the token ids: what a tokenizer's identity is taken from (shards, data-parallel ranks). */
    public static final List<String> VOCABULARY = List.of(TOKENIZER_JSON, VOCAB);

    /** The tokenizer's files, copied beside the weights of every checkpoint a run writes (those that exist). */
    public static final List<String> TOKENIZER = List.of(TOKENIZER_JSON, VOCAB, TOKENIZER_CONFIG, SPECIAL_TOKENS_MAP);

    /** What serving a Tessera checkpoint needs, as {@link HfCheckpoint#save} writes it: config, weights, tokenizer. */
    public static final List<String> SERVABLE = Stream.concat(Stream.of(CONFIG, SAFETENSORS), TOKENIZER.stream()).toList();

    /** The weight layouts {@link HfCheckpoint#load} reads, in the order it tries them. */
    public static final List<String> WEIGHTS = List.of(SAFETENSORS, SAFETENSORS_INDEX, PYTORCH, PYTORCH_INDEX);

    /** Whether {@code dir} holds a config or weights of one of the {@link #WEIGHTS} layouts (so: meant as a checkpoint). */
    public static boolean looksLikeCheckpoint(Path dir) {
        return Stream.concat(Stream.of(CONFIG), WEIGHTS.stream()).anyMatch(f -> Files.isRegularFile(dir.resolve(f)));
    }
}
