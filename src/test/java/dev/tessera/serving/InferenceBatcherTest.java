package dev.tessera.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.tessera.hf.HfCheckpoint;
import dev.tessera.onnx.OnnxExporter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;

/** Shutdown of the batcher: close() must leave no request waiting forever and no ORT run in flight. */
class InferenceBatcherTest {

    @Test
    void aReloadedModelsQueueGaugeReadsTheNewBatcher() throws Exception {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        byte[] onnx = OnnxExporter.exportPortable(HfCheckpoint.load(Path.of("src/test/resources/fixtures/mosaic-cls12")));
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        try (OrtSession session = env.createSession(onnx, new OrtSession.SessionOptions())) {
            InferenceBatcher first = new InferenceBatcher("swap", env, session, 16384, Duration.ZERO, 100, meters);
            // the replacement waits 2 s for company before its first run, so its queue stays visibly non-empty
            InferenceBatcher second = new InferenceBatcher("swap", env, session, 16384, Duration.ofSeconds(2), 100, meters);
            long[] ids = {2, 40, 41, 3};
            List<CompletableFuture<float[]>> fs = second.submit(List.of(ids, ids, ids), List.of(new long[4], new long[4], new long[4]),
                    InferenceBatcher.Output.LOGITS);
            assertEquals(3, meters.get("tessera.queue.size").tag("model", "swap").gauge().value(), 0.0);
            for (CompletableFuture<float[]> f : fs) f.get();
            first.close();
            second.close();
        }
    }

    @Test
    void closeFailsWhatItCannotDrainAndLeavesTheSessionIdle() throws Exception {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        byte[] onnx = OnnxExporter.exportPortable(HfCheckpoint.load(Path.of("src/test/resources/fixtures/mosaic-cls12")));
        try (OrtSession session = env.createSession(onnx, new OrtSession.SessionOptions())) {
            // a small token budget: 8 sequences per run, so 4000 requests are a backlog of 500 runs
            InferenceBatcher batcher = new InferenceBatcher("close-test", env, session, 64, Duration.ZERO, 100_000,
                    new SimpleMeterRegistry());
            long[] ids = {2, 40, 41, 42, 43, 44, 45, 3};
            long[] types = new long[ids.length];
            List<CompletableFuture<float[]>> all = new ArrayList<>();
            for (int i = 0; i < 4000; i++) {
                all.addAll(batcher.submit(List.of(ids), List.of(types), InferenceBatcher.Output.LOGITS));
            }
            batcher.close(Duration.ZERO); // no grace: what is still queued must be failed, not left pending

            // the caller closes the session next, so every request must be settled by now
            long pending = all.stream().filter(f -> !f.isDone()).count();
            assertEquals(0, pending, "requests left waiting after close()");
            assertEquals(0, batcher.queued());
            CompletableFuture<float[]> failed = all.stream().filter(CompletableFuture::isCompletedExceptionally)
                    .findFirst().orElseThrow(() -> new AssertionError("the backlog should not have drained in zero time"));
            ExecutionException e = assertThrows(ExecutionException.class, failed::get);
            assertTrue(e.getCause().getMessage().contains("shutting down"), e.getCause().getMessage());
            assertThrows(IllegalStateException.class,
                    () -> batcher.submit(List.of(ids), List.of(types), InferenceBatcher.Output.LOGITS));
        }
    }
}
