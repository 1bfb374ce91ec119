package dev.tessera.hf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.model.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Function;

/** The {@code *.index.json} of a sharded checkpoint (safetensors or pytorch_model.bin). */
final class ShardIndex {
    private ShardIndex() {}

    /**
     * Every tensor of a sharded checkpoint: each shard the index names, read once by {@code readShard}, merged by name;
     * a tensor in two shards, or one the index lists but no shard holds, is an error.
     */
    static Map<String, Tensor> readAll(Path indexJson, Function<Path, Map<String, Tensor>> readShard) {
        Map<String, String> weightMap = read(indexJson);
        Path dir = indexJson.toAbsolutePath().getParent();
        Map<String, Tensor> out = new TreeMap<>();
        for (String shard : new TreeSet<>(weightMap.values())) {
            for (var e : readShard.apply(resolve(dir, shard, indexJson)).entrySet()) {
                if (out.put(e.getKey(), e.getValue()) != null) {
                    throw new CheckpointFormatException("tensor '" + e.getKey() + "' appears in more than one shard of " + indexJson);
                }
            }
        }
        checkComplete(indexJson, weightMap, out.keySet());
        return out;
    }

    static Map<String, String> read(Path indexJson) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(indexJson.toFile());
        } catch (IOException e) {
            throw new CheckpointFormatException("cannot read shard index " + indexJson + ": " + e.getMessage(), e);
        }
        JsonNode wm = root == null ? null : root.get("weight_map");
        if (wm == null || !wm.isObject()) {
            throw new CheckpointFormatException("shard index " + indexJson + " has no weight_map object");
        }
        Map<String, String> out = new TreeMap<>();
        wm.fields().forEachRemaining(e -> {
            if (!e.getValue().isTextual()) {
                throw new CheckpointFormatException("shard index " + indexJson + ": weight_map['" + e.getKey()
                        + "'] is not a file name");
            }
            out.put(e.getKey(), e.getValue().asText());
        });
        return out;
    }

    /** A shard must be a plain file name in the index's directory: no paths that escape it. */
    static Path resolve(Path dir, String shard, Path indexJson) {
        Path p = dir.resolve(shard).normalize();
        if (shard.contains("/") || shard.contains("\\") || !p.getParent().equals(dir.normalize())) {
            throw new CheckpointFormatException("shard index " + indexJson + " names a file outside its directory: "
                    + shard);
        }
        if (!Files.isRegularFile(p)) {
            throw new CheckpointFormatException("shard " + shard + " named in " + indexJson.getFileName()
                    + " does not exist");
        }
        return p;
    }

    static void checkComplete(Path indexJson, Map<String, String> weightMap, Collection<String> loaded) {
        for (var e : weightMap.entrySet()) {
            if (!loaded.contains(e.getKey())) {
                throw new CheckpointFormatException("tensor '" + e.getKey() + "' listed in " + indexJson.getFileName()
                        + " is not in shard " + e.getValue());
            }
        }
    }
}
