package dev.tessera.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.train.TinyFixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Job records stay bounded: a record cap, pages of the list, a thinned loss history, recipes out of the record. */
class JobRecordBoundsTest {
    @TempDir static Path data;

    @Test
    void oldestFinishedJobsAreForgottenBeyondTheCapAndTheListIsPaged(@TempDir Path jobs) throws Exception {
        TinyFixtures.write(data);
        var settings = new JobService.Settings(jobs, 1, null, List.of(data), 16, Duration.ofDays(30), null, 2);
        List<String> ids = new ArrayList<>();
        try (JobService s = new JobService(settings)) {
            s.start();
            for (int i = 0; i < 3; i++) {
                String id = s.submit("pretrain", TinyFixtures.pretrainYaml(data, 1, 100), null,
                        Map.of("training.output_dir", jobs.resolve("o" + i).toString()), null).id;
                JobServiceTest.await(s, id, j -> j.status.finished());
                ids.add(id);
            }
            assertEquals(List.of(ids.get(1), ids.get(2)), s.list().stream().map(j -> j.id).toList(), "the oldest is forgotten");
            assertFalse(Files.exists(jobs.resolve(ids.get(0) + ".json")));
            assertFalse(Files.exists(jobs.resolve(ids.get(0))));
            JobService.Page page = s.list(1, 5);
            assertEquals(2, page.total());
            assertEquals(List.of(ids.get(2)), page.jobs().stream().map(j -> j.id).toList());
            // the recipe lives in the job's own file, not in the record or the list
            assertNull(s.list().get(0).recipe);
            assertFalse(Files.readString(jobs.resolve(ids.get(1) + ".json")).contains("kind: pretrain"));
            assertTrue(s.getWithRecipe(ids.get(1)).orElseThrow().recipe.contains("pretrain"));
        }
    }

    @Test
    void lossHistoryIsThinnedKeepingTheNewestPoint() {
        Job j = new Job();
        for (int s = 1; s <= 5000; s++) j.addLoss(new Job.LossPoint(s, 10.0 / s, 1e-3));
        assertTrue(j.lossHistory.size() <= Job.MAX_HISTORY, "size " + j.lossHistory.size());
        assertTrue(j.lossHistory.size() >= Job.MAX_HISTORY / 2, "size " + j.lossHistory.size());
        assertEquals(5000, j.lossHistory.get(j.lossHistory.size() - 1).step());
        for (int i = 1; i < j.lossHistory.size(); i++) assertTrue(j.lossHistory.get(i).step() > j.lossHistory.get(i - 1).step());
    }
}
