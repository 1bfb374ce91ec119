package dev.tessera.serving;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The batcher's scheduling and shutdown, against a fake engine that records every batch it is given. */
class InferenceBatcherTest {

    /**
     * Answers each sequence with {@code [length, first id]} (logits) or {@code [-length]} (embedding), so a
     * test sees that every result reached its own caller. {@code gate} holds the first run until released,
     * so that later requests queue up behind it and form one batch.
     */
    static class FakeEngine implements Engine {
        final boolean packed;
        final List<Batch> batches = Collections.synchronizedList(new ArrayList<>());
        final CountDownLatch gate = new CountDownLatch(1);
        final CountDownLatch firstRunStarted = new CountDownLatch(1);
        volatile RuntimeException failure;
        volatile long runMillis;

        FakeEngine(boolean packed) { this.packed = packed; }

        @Override
        public Result run(Batch batch) throws Exception {
            firstRunStarted.countDown();
            gate.await();
            if (runMillis > 0) Thread.sleep(runMillis);
            batches.add(batch);
            if (failure != null) throw failure;
            float[][] logits = new float[batch.size()][], emb = new float[batch.size()][];
            for (int i = 0; i < batch.size(); i++) {
                logits[i] = new float[] {batch.length(i), batch.ids()[batch.offsets()[i]]};
                emb[i] = new float[] {-batch.length(i)};
            }
            return new Result(logits, emb, null);
        }

        @Override public boolean packed() { return packed; }

        @Override public Description description() { return new Description("fake", "fp32", "cpu", null); }

        @Override public void close() {}
    }

    private static long[] seq(int length, long first) {
        long[] ids = new long[length];
        ids[0] = first;
        return ids;
    }

    private static List<CompletableFuture<float[]>> submit(InferenceBatcher b, Output out, long[]... seqs) {
        List<long[]> types = new ArrayList<>();
        for (long[] s : seqs) types.add(new long[s.length]);
        return b.submit(List.of(seqs), types, out);
    }

    /** Holds the engine on a first request so the ones submitted next queue up together. */
    private static InferenceBatcher blocked(FakeEngine engine, int budget) throws InterruptedException {
        InferenceBatcher b = new InferenceBatcher("test", engine, budget, Duration.ZERO, 10_000, new SimpleMeterRegistry());
        submit(b, Output.LOGITS, seq(4, 1));
        assertTrue(engine.firstRunStarted.await(5, TimeUnit.SECONDS));
        return b;
    }

    @Test
    void eachResultReachesItsCallerInOrder() throws Exception {
        FakeEngine engine = new FakeEngine(false);
        engine.gate.countDown();
        try (InferenceBatcher b = new InferenceBatcher("test", engine, 16384, Duration.ZERO, 100, new SimpleMeterRegistry())) {
            List<CompletableFuture<float[]>> fs = submit(b, Output.LOGITS, seq(7, 70), seq(3, 30), seq(12, 120));
            assertArrayEquals(new float[] {7, 70}, fs.get(0).get());
            assertArrayEquals(new float[] {3, 30}, fs.get(1).get());
            assertArrayEquals(new float[] {12, 120}, fs.get(2).get());
            assertArrayEquals(new float[] {-5}, submit(b, Output.EMBEDDING, seq(5, 50)).get(0).get());
        }
    }

    @Test
    void aPaddedEngineGetsLengthBuckets() throws Exception {
        FakeEngine engine = new FakeEngine(false);
        try (InferenceBatcher b = blocked(engine, 16384)) {
            List<CompletableFuture<float[]>> fs = new ArrayList<>();
            fs.addAll(submit(b, Output.LOGITS, seq(400, 4)));
            fs.addAll(submit(b, Output.LOGITS, seq(10, 1), seq(12, 1)));
            fs.addAll(submit(b, Output.EMBEDDING, seq(390, 3)));
            engine.gate.countDown();
            for (var f : fs) f.get(5, TimeUnit.SECONDS);
            // after the held first run: one run for the two long sequences, one for the two short ones
            List<Batch> runs = engine.batches.subList(1, engine.batches.size());
            assertEquals(2, runs.size(), "runs: " + runs.stream().map(Batch::size).toList());
            assertEquals(List.of(400, 390), List.of(runs.get(0).length(0), runs.get(0).length(1)));
            assertEquals(java.util.Set.of(Output.LOGITS, Output.EMBEDDING), runs.get(0).outputs());
            assertEquals(12, runs.get(1).maxLength());
        }
    }

    @Test
    void aPackedEngineGetsMixedLengthsTogetherUpToTheTokenBudget() throws Exception {
        FakeEngine engine = new FakeEngine(true);
        try (InferenceBatcher b = blocked(engine, 1000)) {
            List<CompletableFuture<float[]>> fs = new ArrayList<>();
            fs.addAll(submit(b, Output.LOGITS, seq(400, 4), seq(10, 1)));
            fs.addAll(submit(b, Output.LOGITS, seq(390, 3), seq(12, 1)));
            fs.addAll(submit(b, Output.LOGITS, seq(300, 2))); // 1112 tokens in all: over the budget of 1000
            engine.gate.countDown();
            for (var f : fs) f.get(5, TimeUnit.SECONDS);
            List<Batch> runs = engine.batches.subList(1, engine.batches.size());
            assertEquals(List.of(812, 300), runs.stream().map(Batch::tokens).toList());
            assertArrayEquals(new int[] {0, 400, 410, 800, 812}, runs.get(0).offsets()); // packed in arrival order
        }
    }

    @Test
    void aRequestLargerThanTheBudgetRunsInChunks() throws Exception {
        FakeEngine engine = new FakeEngine(true);
        engine.gate.countDown();
        try (InferenceBatcher b = new InferenceBatcher("test", engine, 100, Duration.ZERO, 100, new SimpleMeterRegistry())) {
            var fs = submit(b, Output.LOGITS, seq(60, 1), seq(60, 2), seq(60, 3));
            for (int i = 0; i < 3; i++) assertArrayEquals(new float[] {60, i + 1}, fs.get(i).get());
            assertEquals(3, engine.batches.size());
        }
    }

    @Test
    void anEngineFailureFailsThatRunsCallersAndTheNextRunGoesOn() throws Exception {
        FakeEngine engine = new FakeEngine(false);
        engine.gate.countDown();
        engine.failure = new IllegalStateException("engine broke");
        try (InferenceBatcher b = new InferenceBatcher("test", engine, 16384, Duration.ZERO, 100, new SimpleMeterRegistry())) {
            var e = assertThrows(ExecutionException.class, () -> submit(b, Output.LOGITS, seq(3, 1)).get(0).get());
            assertEquals("engine broke", e.getCause().getMessage());
            engine.failure = null;
            assertArrayEquals(new float[] {3, 1}, submit(b, Output.LOGITS, seq(3, 1)).get(0).get());
        }
    }

    @Test
    void aFullQueueRefusesWithOverloaded() throws Exception {
        FakeEngine engine = new FakeEngine(false);
        InferenceBatcher b = new InferenceBatcher("test", engine, 16384, Duration.ZERO, 3, new SimpleMeterRegistry());
        submit(b, Output.LOGITS, seq(4, 1));
        assertTrue(engine.firstRunStarted.await(5, TimeUnit.SECONDS));
        submit(b, Output.LOGITS, seq(4, 1), seq(4, 1), seq(4, 1));
        assertThrows(ServingException.Overloaded.class, () -> submit(b, Output.LOGITS, seq(4, 1)));
        engine.gate.countDown();
        b.close();
    }

    @Test
    void aReloadedModelsQueueGaugeReadsTheNewBatcher() throws Exception {
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        FakeEngine engine = new FakeEngine(false);
        engine.gate.countDown();
        InferenceBatcher first = new InferenceBatcher("swap", engine, 16384, Duration.ZERO, 100, meters);
        // the replacement waits 2 s for company before its first run, so its queue stays visibly non-empty
        InferenceBatcher second = new InferenceBatcher("swap", engine, 16384, Duration.ofSeconds(2), 100, meters);
        List<CompletableFuture<float[]>> fs = submit(second, Output.LOGITS, seq(4, 1), seq(4, 1), seq(4, 1));
        assertEquals(3, meters.get("tessera.queue.size").tag("model", "swap").gauge().value(), 0.0);
        for (CompletableFuture<float[]> f : fs) f.get();
        first.close();
        second.close();
    }

    @Test
    void closeFailsWhatItCannotDrainAndLeavesTheEngineIdle() throws Exception {
        FakeEngine engine = new FakeEngine(false);
        engine.gate.countDown();
        engine.runMillis = 2;
        // a small token budget: 8 sequences per run, so 4000 requests are a backlog of 500 runs of 2 ms
        InferenceBatcher batcher = new InferenceBatcher("close-test", engine, 64, Duration.ZERO, 100_000, new SimpleMeterRegistry());
        List<CompletableFuture<float[]>> all = new ArrayList<>();
        for (int i = 0; i < 4000; i++) all.addAll(submit(batcher, Output.LOGITS, seq(8, 1)));
        batcher.close(Duration.ZERO); // no grace: what is still queued must be failed, not left pending

        // the caller closes the engine next, so every request must be settled by now
        assertEquals(0, all.stream().filter(f -> !f.isDone()).count(), "requests left waiting after close()");
        assertEquals(0, batcher.queued());
        CompletableFuture<float[]> failed = all.stream().filter(CompletableFuture::isCompletedExceptionally)
                .findFirst().orElseThrow(() -> new AssertionError("the backlog should not have drained in zero time"));
        ExecutionException e = assertThrows(ExecutionException.class, failed::get);
        assertInstanceOf(ServingException.ShuttingDown.class, e.getCause());
        assertThrows(ServingException.ShuttingDown.class, () -> submit(batcher, Output.LOGITS, seq(8, 1)));
    }


    /**
     * Heap exhaustion anywhere in the batcher's thread, in an engine run or in scheduling itself, fails the requests it
     * was handling and is counted; the worker stays up and the next request is answered.
     */
    @Test
    void outOfMemoryNeverStopsTheBatcher() throws Exception {
        var meters = new SimpleMeterRegistry();
        var oomInRun = new java.util.concurrent.atomic.AtomicBoolean();
        var oomInScheduling = new java.util.concurrent.atomic.AtomicBoolean();
        FakeEngine engine = new FakeEngine(true) {
            @Override
            public Result run(Batch batch) throws Exception {
                if (oomInRun.getAndSet(false)) throw new OutOfMemoryError("Java heap space");
                return super.run(batch);
            }

            @Override
            public boolean packed() { // asked while a batch is collected, outside any engine run
                if (oomInScheduling.getAndSet(false)) throw new OutOfMemoryError("Java heap space");
                return true;
            }
        };
        engine.gate.countDown();
        try (InferenceBatcher b = new InferenceBatcher("test", engine, 16384, Duration.ZERO, 100, meters)) {
            for (var failure : List.of(oomInRun, oomInScheduling)) {
                failure.set(true);
                var failed = submit(b, Output.LOGITS, seq(5, 1)).get(0);
                var e = assertThrows(ExecutionException.class, () -> failed.get(5, TimeUnit.SECONDS));
                assertInstanceOf(OutOfMemoryError.class, e.getCause());
                assertTrue(b.healthy(), "the worker survived");
                assertEquals(0, b.queued());
                assertArrayEquals(new float[] {6, 2}, submit(b, Output.LOGITS, seq(6, 2)).get(0).get(5, TimeUnit.SECONDS));
            }
            assertEquals(2, meters.find("tessera.errors").tag("type", "out_of_memory").counter().count());
        }
    }
}
