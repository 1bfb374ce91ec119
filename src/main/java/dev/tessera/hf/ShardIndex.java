package dev.tessera.hf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.Map;
import java.util.TreeMap;

/** The {@code *.index.json} of a sharded checkpoint (safetensors or pytorch_model.bin). */
final class ShardIndex {
    private ShardIndex() {}

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
