package dev.tessera.jobs;

import dev.tessera.train.TinyFixtures;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.*;

/** The job queue without Quarkus: persistence, restart with resume, cancel, validation. */
class JobServiceTest {

    @TempDir static Path data;

    @BeforeAll
    static void fixtures() throws Exception {
        TinyFixtures.write(data);
    }

    /** Reads the fixtures under {@code data}, writes under {@code jobs}. */
    static JobService.Settings settings(Path jobs) {
        return new JobService.Settings(jobs, 1, null, List.of(data), 16, Duration.ofDays(30), null);
    }

    static Job await(JobService s, String id, Predicate<Job> until) throws InterruptedException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (System.nanoTime() < deadline) {
            Job j = s.get(id).orElseThrow();
            if (until.test(j)) return j;
            Thread.sleep(20);
        }
        fail("timed out waiting for job " + id + ": " + s.get(id).orElseThrow().status);
        return null;
    }

    @Test
    void jobRunsAndIsListedAfterARestart(@TempDir Path jobs) throws Exception {
        String id;
        try (JobService s = new JobService(settings(jobs))) {
            s.start();
            id = s.submit("pretrain", TinyFixtures.pretrainYaml(data, 10, 100), null, Map.of(), null).id;
            Job j = await(s, id, x -> x.status.finished());
            assertEquals(Job.Status.succeeded, j.status, j.error);
            assertEquals(10, j.step);
            assertEquals(2, j.lossHistory.size()); // log interval 5
            assertTrue(j.metrics.containsKey("mlm_loss"));
            assertTrue(Files.isDirectory(Path.of(j.finalDir)));
            assertEquals(jobs.resolve(id).resolve("output").toString(), j.outputDir);
        }
        try (JobService s = new JobService(settings(jobs))) {
            s.start();
            Job j = s.get(id).orElseThrow();
            assertEquals(Job.Status.succeeded, j.status);
            assertEquals(10, j.step);
            assertEquals(1, s.list().size());
        }
    }

    @Test
    void interruptedJobResumesFromItsCheckpointAfterARestart(@TempDir Path jobs) throws Exception {
        String id;
        long stoppedAt;
        try (JobService s = new JobService(settings(jobs))) {
            s.start();
            // long enough that the shutdown below lands mid-run; checkpoints every 5 steps
            id = s.submit("pretrain", TinyFixtures.pretrainYaml(data, 150, 5), null, Map.of(), null).id;
            await(s, id, x -> x.step >= 12);
        } // close = server shutdown: the job stops between steps, writes a checkpoint, stays "running"
        Job stored = new JobStore(jobs).loadAll(new ArrayList<>()).get(0);
        assertEquals(Job.Status.running, stored.status);
        stoppedAt = stored.step;
        assertTrue(stoppedAt < 150);
        try (JobService s = new JobService(settings(jobs))) {
            s.start();
            Job j = await(s, id, x -> x.status.finished());
            assertEquals(Job.Status.succeeded, j.status, j.error);
            assertEquals(2, j.attempts);
            assertEquals(150, j.step);
            // the loss history has each logged step once, in order, across both attempts
            List<Long> steps = j.lossHistory.stream().map(Job.LossPoint::step).toList();
            assertEquals(30, steps.size(), steps.toString());
            assertEquals(5L, steps.get(0));
            assertEquals(150L, steps.get(29));
        }
    }

    @Test
    void cancelQueuedAndRunningJobs(@TempDir Path jobs) throws Exception {
        try (JobService s = new JobService(settings(jobs))) {
            s.start();
            String a = s.submit("pretrain", TinyFixtures.pretrainYaml(data, 100000, 1000), null, Map.of(), null).id;
            String b = s.submit("pretrain", TinyFixtures.pretrainYaml(data, 10, 100), null, Map.of(), null).id;
            await(s, a, x -> x.status == Job.Status.running && x.step > 0);
            assertEquals(Job.Status.queued, s.get(b).orElseThrow().status, "one job at a time");
            assertEquals(Job.Status.cancelled, s.cancel(b).orElseThrow().status);
            assertTrue(s.cancel(a).orElseThrow().cancelRequested);
            Job ja = await(s, a, x -> x.status.finished());
            assertEquals(Job.Status.cancelled, ja.status);
            assertTrue(ja.step < 100000);
            assertTrue(s.cancel("job-nope").isEmpty());
        }
    }

    @Test
    void badSubmissionsListEveryProblem(@TempDir Path jobs) {
        try (JobService s = new JobService(settings(jobs))) {
            var e = assertThrows(JobException.Invalid.class, () -> s.submit("pretrain",
                    "kind: pretrain\nmodel: {hidden: 30, heads: 4}\noptimizer: {lr: -1}\n", null, Map.of(), null));
            assertTrue(e.problems().stream().anyMatch(p -> p.contains("model.hidden")), e.problems().toString());
            assertTrue(e.problems().stream().anyMatch(p -> p.contains("optimizer.lr")), e.problems().toString());
            e = assertThrows(JobException.Invalid.class, () -> s.submit("finetune",
                    TinyFixtures.pretrainYaml(data, 10, 100), null, Map.of("data.train", List.of(data + "/nope.txt")), null));
            assertTrue(e.problems().stream().anyMatch(p -> p.contains("pretrain recipe but kind is finetune")), e.problems().toString());
            e = assertThrows(JobException.Invalid.class, () -> s.submit("finetune", "x", "y.yaml", null, "bad name!"));
            assertEquals(3, e.problems().size(), e.problems().toString()); // recipe twice, name, no models dir
            e = assertThrows(JobException.Invalid.class, () -> s.submit("finetune", null, data + "/y.yaml", null, null));
            assertEquals(List.of("recipe_path: file not found: " + data + "/y.yaml"), e.problems());
            e = assertThrows(JobException.Invalid.class, () -> s.submit("pretrain",
                    TinyFixtures.pretrainYaml(data, 10, 100), null, Map.of("data.train", List.of(data + "/nope.txt")), null));
            assertTrue(e.problems().stream().anyMatch(p -> p.contains("/nope.txt")), e.problems().toString());
            assertTrue(s.list().isEmpty());
        }
    }

    /** Every way out of the roots is refused before anything is read or written; the file system is untouched. */
    @Test
    void pathsOutsideTheRootsAreForbidden(@TempDir Path jobs, @TempDir Path outside) throws Exception {
        Files.writeString(outside.resolve("secret.txt"), "the quick brown fox\n");
        Path link = data.resolve("escape");
        Files.deleteIfExists(link);
        Files.createSymbolicLink(link, outside);
        try (JobService s = new JobService(settings(jobs))) {
            String yaml = TinyFixtures.pretrainYaml(data, 10, 100);
            Map<String, List<String>> escapes = Map.of(
                    "absolute", List.of(outside.resolve("secret.txt").toString()),
                    "dot-dot", List.of(data + "/../" + outside.getFileName() + "/secret.txt"),
                    "symlink", List.of(link + "/secret.txt"));
            for (var e : escapes.entrySet()) {
                var ex = assertThrows(dev.tessera.io.ForbiddenPathException.class,
                        () -> s.submit("pretrain", yaml, null, Map.of("data.train", e.getValue()), null), e.getKey());
                assertTrue(ex.problems().get(0).startsWith("data.train: ") && ex.problems().get(0).contains("tessera.jobs.data-roots"),
                        e.getKey() + ": " + ex.problems());
            }
            for (String out : List.of(outside.resolve("out").toString(), link + "/out", jobs + "/../out", jobs.toString())) {
                var ex = assertThrows(dev.tessera.io.ForbiddenPathException.class,
                        () -> s.submit("pretrain", yaml, null, Map.of("training.output_dir", out), null), out);
                assertTrue(ex.problems().get(0).contains("tessera.jobs.dir"), ex.problems().toString());
            }
            var ex = assertThrows(dev.tessera.io.ForbiddenPathException.class,
                    () -> s.submit("pretrain", null, link + "/secret.txt", null, null));
            assertTrue(ex.problems().get(0).startsWith("recipe_path: "), ex.problems().toString());
            assertTrue(s.list().isEmpty());
        } finally {
            Files.delete(link);
        }
        try (var files = Files.list(outside)) {
            assertEquals(List.of(outside.resolve("secret.txt")), files.toList(), "nothing written outside");
        }
        try (var files = Files.list(jobs)) {
            assertEquals(List.of(), files.toList(), "no job recorded");
        }
    }

    @Test
    void queueIsBoundedAndOldJobsAreForgotten(@TempDir Path jobs) throws Exception {
        var settings = new JobService.Settings(jobs, 1, null, List.of(data), 1, Duration.ofDays(30), null);
        String yaml = TinyFixtures.pretrainYaml(data, 10, 100);
        try (JobService s = new JobService(settings)) { // not started: nothing leaves the queue
            s.submit("pretrain", yaml, null, Map.of(), null);
            assertThrows(JobException.QueueFull.class, () -> s.submit("pretrain", yaml, null, Map.of(), null));
        }
        String id;
        try (JobService s = new JobService(settings)) {
            s.start();
            id = s.list().get(0).id;
            assertEquals(Job.Status.succeeded, await(s, id, j -> j.status.finished()).status);
            assertTrue(Files.isDirectory(jobs.resolve(id)));
        }
        var expiring = new JobService.Settings(jobs, 1, null, List.of(data), 1, Duration.ZERO, null);
        try (JobService s = new JobService(expiring)) {
            s.start();
            assertTrue(s.list().isEmpty(), "a finished job past the retention is forgotten at start");
            assertFalse(Files.exists(jobs.resolve(id + ".json")));
            assertFalse(Files.exists(jobs.resolve(id)));
        }
    }
}
