package dev.tessera.hf;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CheckpointFilesTest {

    /** Publishing copies SERVABLE: it must hold every file HfCheckpoint.save writes, or a served copy would be incomplete. */
    @Test
    void servableCoversWhatSaveWrites(@TempDir Path dir) throws Exception {
        HfCheckpoint.save(HfCheckpoint.load(Fixtures.dir("mosaic-cls12")), dir);
        try (var s = Files.list(dir)) {
            List<String> written = s.map(p -> p.getFileName().toString()).sorted().toList();
            assertEquals(List.of(CheckpointFiles.CONFIG, CheckpointFiles.SAFETENSORS), written);
            assertTrue(CheckpointFiles.SERVABLE.containsAll(written));
        }
        assertTrue(CheckpointFiles.SERVABLE.containsAll(CheckpointFiles.TOKENIZER));
        assertTrue(CheckpointFiles.TOKENIZER.containsAll(CheckpointFiles.VOCABULARY));
    }

    @Test
    void aDirectoryWithAConfigOrAnyWeightLayoutLooksLikeACheckpoint(@TempDir Path root) throws Exception {
        assertFalse(CheckpointFiles.looksLikeCheckpoint(root));
        Files.writeString(root.resolve(CheckpointFiles.VOCAB), "[PAD]\n");
        assertFalse(CheckpointFiles.looksLikeCheckpoint(root), "a tokenizer alone is not a model");
        for (String f : List.of(CheckpointFiles.CONFIG, CheckpointFiles.SAFETENSORS, CheckpointFiles.SAFETENSORS_INDEX,
                CheckpointFiles.PYTORCH, CheckpointFiles.PYTORCH_INDEX)) {
            Path d = Files.createDirectories(root.resolve("with-" + f));
            Files.writeString(d.resolve(f), "x");
            assertTrue(CheckpointFiles.looksLikeCheckpoint(d), f);
        }
    }
}
