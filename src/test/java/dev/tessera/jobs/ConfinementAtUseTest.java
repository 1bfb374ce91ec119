package dev.tessera.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.train.Pretrainer;
import dev.tessera.train.Recipe;
import dev.tessera.train.TinyFixtures;
import dev.tessera.train.TrainOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Paths are checked again when a job starts, not only when it is submitted: a symlink that pointed inside at
 * submission and outside when the job runs is refused, and nothing of the file it now points to comes back.
 */
class ConfinementAtUseTest {
    @TempDir static Path data;
    @TempDir static Path outside;
    @TempDir static Path scratch;
    static Path pretrained;

    @BeforeAll
    static void fixtures() throws Exception {
        TinyFixtures.write(data);
        Files.writeString(outside.resolve("secret.tsv"), "sentence\tlabel\nSECRET-TEXT\tSECRET-LABEL\n");
        Recipe r = Recipe.parse(TinyFixtures.pretrainYaml(data, 5, 100).replace(data + "/shards", scratch + "/shards"), "t");
        pretrained = new Pretrainer(r, TrainOptions.defaults().withOutputDir(data.resolve("pre")).withThreads(1)).run().finalDir();
    }

    @Test
    void aLinkSwappedAfterSubmissionIsRefusedWhenTheJobStarts(@TempDir Path jobs) throws Exception {
        Path link = data.resolve("swapped.tsv");
        Files.deleteIfExists(link);
        Files.createSymbolicLink(link, data.resolve("train.tsv"));
        String yaml = TinyFixtures.finetuneYaml(data, pretrained, 1, jobs.resolve("ft-out")).replace(data + "/train.tsv", link.toString());
        try (JobService s = new JobService(new JobService.Settings(jobs, 1, null, List.of(data), 16, Duration.ofDays(1), null))) {
            String id = s.submit("finetune", yaml, null, Map.of(), null).id; // accepted: the link points inside
            Files.delete(link);
            Files.createSymbolicLink(link, outside.resolve("secret.tsv"));
            s.start();
            Job j = JobServiceTest.await(s, id, x -> x.status.finished());
            assertEquals(Job.Status.failed, j.status);
            assertTrue(j.error.startsWith("the job reaches outside") && j.error.contains("data.train"), j.error);
            assertFalse(j.error.contains("SECRET"), j.error);
            assertFalse(j.error.contains(outside.toString()), "the target is not named: " + j.error);
            assertFalse(j.error.contains("dev.tessera") || j.error.contains("Exception"), j.error);
        } finally {
            Files.deleteIfExists(link);
        }
    }

    @Test
    void aShardCacheOutsideTheJobsDirectoryIsNeverWritten(@TempDir Path jobs) throws Exception {
        try (JobService s = new JobService(new JobService.Settings(jobs, 1, null, List.of(data), 16, Duration.ofDays(1), null))) {
            s.start();
            // the recipe's shard_dir is under the data root, not built: the job builds its own under its directory
            Job j = s.submit("pretrain", TinyFixtures.pretrainYaml(data, 2, 100), null, Map.of("training.output_dir",
                    jobs.resolve("p-out").toString()), null);
            Job done = JobServiceTest.await(s, j.id, x -> x.status.finished());
            assertEquals(Job.Status.succeeded, done.status, done.error);
            assertFalse(Files.exists(data.resolve("shards")), "nothing written under the data root");
            assertTrue(Files.isRegularFile(jobs.resolve(j.id).resolve("shards/train/manifest.json")));
            assertTrue(s.getWithRecipe(j.id).orElseThrow().recipe.contains(jobs.resolve(j.id).resolve("shards").toString()), "recorded in its recipe");
        }
    }
}
