package dev.tessera.jobs;

import dev.tessera.hf.CheckpointFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** serve_as publishing: the servable files only, one swap, and a publish cut short by a crash undone. */
class ModelPublisherTest {

    /** A checkpoint directory whose every file says which one it is, with training files that are not published. */
    private static Path checkpoint(Path dir, String tag) throws Exception {
        Files.createDirectories(dir);
        for (String f : CheckpointFiles.SERVABLE) Files.writeString(dir.resolve(f), tag + ":" + f);
        Files.writeString(dir.resolve("optimizer.safetensors"), "moments");
        Files.writeString(dir.resolve("training_state.json"), "{}");
        return dir;
    }

    private static void assertPublished(Path model, String tag) throws Exception {
        for (String f : CheckpointFiles.SERVABLE) assertEquals(tag + ":" + f, Files.readString(model.resolve(f)), f);
        assertFalse(Files.exists(model.resolve("optimizer.safetensors")), "training files are not published");
        assertFalse(Files.exists(model.resolve("training_state.json")));
    }

    @Test
    void aPublishCutBetweenItsTwoRenamesIsRecoveredAtTheNextStart(@TempDir Path root) throws Exception {
        Path models = Files.createDirectories(root.resolve("models")), jobs = Files.createDirectories(root.resolve("jobs"));
        Path a = checkpoint(jobs.resolve("a"), "a"), b = checkpoint(jobs.resolve("b"), "b");
        List<String> loaded = new ArrayList<>();
        ModelPublisher publisher = new ModelPublisher(new JobPaths(jobs, models, List.of()), (name, dir) -> loaded.add(name));
        assertEquals("m", publisher.publish("m", a));
        Path m = models.resolve("m");
        assertPublished(m, "a");
        assertEquals(List.of("m"), loaded);

        // the second publish is killed between its renames: "a" moved aside, "b" complete in the temporary directory
        Files.move(m, models.resolve(".old-m"));
        Path tmp = Files.createDirectories(models.resolve(".tmp-m"));
        for (String f : CheckpointFiles.SERVABLE) Files.copy(b.resolve(f), tmp.resolve(f));
        assertFalse(Files.exists(m), "the crash left no model under its name");

        // the next start (JobService.start) recovers before anything is served or published
        new ModelPublisher(new JobPaths(jobs, models, List.of()), null).recover();
        assertPublished(m, "a");
        assertFalse(Files.exists(models.resolve(".old-m")));

        // and publishing again (the job resumes and publishes at its end) swaps "b" in cleanly
        publisher.publish("m", b);
        assertPublished(m, "b");
        try (var s = Files.list(models)) {
            assertEquals(List.of(m), s.toList(), "no .tmp- or .old- directories left");
        }
    }

    @Test
    void aPublishCutShortIsAlsoUndoneByTheNextPublishOfThatName(@TempDir Path root) throws Exception {
        Path models = Files.createDirectories(root.resolve("models")), jobs = Files.createDirectories(root.resolve("jobs"));
        Path a = checkpoint(jobs.resolve("a"), "a"), b = checkpoint(jobs.resolve("b"), "b");
        ModelPublisher publisher = new ModelPublisher(new JobPaths(jobs, models, List.of()), null);
        publisher.publish("m", a);
        Files.move(models.resolve("m"), models.resolve(".old-m"));
        publisher.publish("m", b);
        assertPublished(models.resolve("m"), "b");
        assertTrue(Files.notExists(models.resolve(".old-m")));
    }

    @Test
    void jobServiceStartRecoversThePublishedModels(@TempDir Path root) throws Exception {
        Path models = Files.createDirectories(root.resolve("models")), jobs = Files.createDirectories(root.resolve("jobs"));
        Path a = checkpoint(jobs.resolve("a"), "a");
        new ModelPublisher(new JobPaths(jobs, models, List.of()), null).publish("m", a);
        Files.move(models.resolve("m"), models.resolve(".old-m"));
        var settings = new JobService.Settings(jobs, 1, models, List.of(), 4, java.time.Duration.ofDays(1), null);
        try (JobService s = new JobService(settings)) {
            s.start();
        }
        assertPublished(models.resolve("m"), "a");
    }
}
