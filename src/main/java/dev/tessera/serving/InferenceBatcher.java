package dev.tessera.serving;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jboss.logging.Logger;

/**
 * Dynamic batching: sequences from concurrent requests are coalesced into one engine run, as many as fit
 * the token budget (padded tokens for a padded engine, real tokens for a packed one). One worker thread
 * per model (the engine itself uses every core inside a run). The queue is bounded: beyond it
 * {@link #submit} refuses. The batcher only schedules; the {@link Engine} runs.
 */
public final class InferenceBatcher implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(InferenceBatcher.class);

    /** The sequences of one request: they enter and leave the queue together. */
    private record Request(List<long[]> ids, List<long[]> typeIds, Output output, List<CompletableFuture<float[]>> results,
                           RunTiming timing) {
        int size() { return ids.size(); }

        int maxLen() { return ids.stream().mapToInt(a -> a.length).max().orElse(0); }

        int tokens() { return ids.stream().mapToInt(a -> a.length).sum(); }
    }

    /** Below this padded length an extra engine run costs more than the padding it saves. */
    private static final int MIN_BUCKET_SPLIT = 32;

    private final String modelName;
    private final Engine engine;
    private final int maxBatchTokens;
    private final long maxDelayNanos;
    private final int capacity;
    private final LinkedBlockingQueue<Request> queue = new LinkedBlockingQueue<>();
    private final AtomicInteger queued = new AtomicInteger();
    private final Thread worker;
    private volatile boolean closed;
    private volatile boolean abandoned; // close() stopped waiting: fail what is left instead of running it
    private Request carried; // first request of the next batch: it did not fit the previous one

    private final DistributionSummary batchSizes;
    private final Counter tokens;
    private final Counter engineErrors, outOfMemory;

    public InferenceBatcher(String modelName, Engine engine, int maxBatchTokens, Duration maxDelay, int capacity,
                            MeterRegistry meters) {
        this.modelName = modelName;
        this.engine = engine;
        this.maxBatchTokens = maxBatchTokens;
        this.maxDelayNanos = maxDelay.toNanos();
        this.capacity = capacity;
        this.batchSizes = DistributionSummary.builder("tessera.batch.size").description("sequences per engine run")
                .tag("model", modelName).register(meters);
        this.tokens = Counter.builder("tessera.tokens").description("tokens run through the model (unpadded)")
                .tag("model", modelName).register(meters);
        this.engineErrors = Counter.builder("tessera.errors").description("failures answered as errors, by kind")
                .tag("model", modelName).tag("type", "engine").register(meters);
        this.outOfMemory = Counter.builder("tessera.errors").description("failures answered as errors, by kind")
                .tag("model", modelName).tag("type", "out_of_memory").register(meters);
        // A reloaded model (a job's serve_as) gets a new batcher under the same name; Micrometer would hand back
        // the first gauge, still reading the old batcher's queue (NaN once that one is collected): replace it.
        Gauge previous = meters.find("tessera.queue.size").tag("model", modelName).gauge();
        if (previous != null) meters.remove(previous);
        Gauge.builder("tessera.queue.size", queued, AtomicInteger::get).description("inputs waiting for the model")
                .tag("model", modelName).register(meters);
        this.worker = Thread.ofPlatform().name("batcher-" + modelName).daemon(true).start(this::loop);
    }

    /** Queue the sequences of one request; each future completes with that sequence's output vector. */
    public List<CompletableFuture<float[]>> submit(List<long[]> ids, List<long[]> typeIds, Output output) {
        return submit(ids, typeIds, output, null);
    }

    /** As {@link #submit(List, List, Output)}, recording when the request's runs started and ended in {@code timing}. */
    public List<CompletableFuture<float[]>> submit(List<long[]> ids, List<long[]> typeIds, Output output, RunTiming timing) {
        int n = ids.size();
        if (closed) throw new ServingException.ShuttingDown(modelName);
        if (!worker.isAlive()) throw new ServingException.Unavailable("model '" + modelName + "' cannot serve: its batcher stopped; reload it");
        if (queued.addAndGet(n) > capacity) {
            queued.addAndGet(-n);
            throw new ServingException.Overloaded("the model's queue is full (" + capacity + " inputs waiting); retry shortly");
        }
        List<CompletableFuture<float[]>> futures = new ArrayList<>(n);
        for (int i = 0; i < n; i++) futures.add(new CompletableFuture<>());
        Request request = new Request(ids, typeIds, output, futures, timing);
        queue.add(request);
        // close() may have come between the check above and the add, and the worker may be gone already
        if (closed && queue.remove(request)) {
            queued.addAndGet(-n);
            throw new ServingException.ShuttingDown(modelName);
        }
        return futures;
    }

    public int queued() { return queued.get(); }

    /**
     * Runs batches until closed. Nothing a batch throws, an {@link Error} such as {@link OutOfMemoryError} included,
     * ends this loop: the batch's requests fail, the failure is counted ({@code tessera_errors_total}) and the next
     * batch runs. {@link #healthy()} says whether the worker is still there.
     */
    private void loop() {
        try {
            while (!abandoned && (!closed || !queue.isEmpty() || carried != null)) {
                List<Request> batch = new ArrayList<>();
                boolean dequeued = false;
                try {
                    collect(batch);
                    for (Request r : batch) queued.addAndGet(-r.size()); // they leave the queue for the engine now
                    dequeued = true;
                    if (!batch.isEmpty()) run(batch);
                } catch (InterruptedException e) {
                    if (closed) break;
                } catch (Throwable t) {
                    if (!dequeued) for (Request r : batch) queued.addAndGet(-r.size());
                    failBatch(batch, t);
                }
            }
        } finally {
            failPending();
        }
    }

    /** Fails what a batch left unanswered; careful not to throw, as it may run with the heap exhausted. */
    private void failBatch(List<Request> batch, Throwable t) {
        try {
            for (Request r : batch) for (CompletableFuture<float[]> f : r.results()) f.completeExceptionally(t);
            failures(t).increment();
            LOG.errorf(t, "model %s: batch failed", modelName);
        } catch (Throwable ignored) {
            // the requests above are answered; a failed log line must not end the loop
        }
    }

    private Counter failures(Throwable t) {
        return t instanceof OutOfMemoryError ? outOfMemory : engineErrors;
    }

    /** The worker runs: requests submitted now will be answered. */
    public boolean healthy() { return worker.isAlive() && !closed; }

    /** Completes every request still waiting with an error, so no caller waits for a worker that is gone. */
    private void failPending() {
        List<Request> left = new ArrayList<>();
        Request c = carried;
        carried = null;
        if (c != null) left.add(c);
        queue.drainTo(left);
        for (Request r : left) {
            queued.addAndGet(-r.size());
            for (CompletableFuture<float[]> f : r.results()) f.completeExceptionally(new ServingException.ShuttingDown(modelName));
        }
    }

    /**
     * Continuous batching: whatever queued while the previous run was busy goes into the next one,
     * up to the token budget; {@code maxDelay} (default 0) can add a wait for company.
     */
    private void collect(List<Request> batch) throws InterruptedException {
        Request first = carried != null ? carried : queue.poll(100, TimeUnit.MILLISECONDS);
        carried = null;
        if (first == null) return;
        batch.add(first);
        int maxLen = first.maxLen(), count = first.size();
        long tokens = first.tokens();
        boolean packed = engine.packed(); // asked before another request leaves the queue: a failure loses none
        long deadline = System.nanoTime() + maxDelayNanos;
        while (true) {
            Request next = queue.poll();
            if (next == null) {
                long wait = deadline - System.nanoTime();
                if (wait <= 0) break;
                next = queue.poll(wait, TimeUnit.NANOSECONDS);
                if (next == null) break;
            }
            int len = Math.max(maxLen, next.maxLen());
            long cost = packed ? tokens + next.tokens() : (long) len * (count + next.size());
            if (cost > maxBatchTokens) {
                carried = next;
                break;
            }
            maxLen = len;
            count += next.size();
            tokens += next.tokens();
            batch.add(next);
        }
    }

    /** One sequence of a collected batch, with where its result goes. */
    private record Slot(long[] ids, long[] typeIds, Output output, CompletableFuture<float[]> result, RunTiming timing) {}

    private void run(List<Request> batch) {
        List<Slot> slots = new ArrayList<>();
        for (Request r : batch) {
            for (int i = 0; i < r.size(); i++) slots.add(new Slot(r.ids().get(i), r.typeIds().get(i), r.output(), r.results().get(i), r.timing()));
        }
        if (engine.packed()) {
            // A packed run costs its real tokens: cut only where the budget is full.
            int from = 0;
            while (from < slots.size()) {
                int to = from + 1;
                long tokens = slots.get(from).ids().length;
                while (to < slots.size() && tokens + slots.get(to).ids().length <= maxBatchTokens) tokens += slots.get(to++).ids().length;
                runOnce(slots.subList(from, to));
                from = to;
            }
            return;
        }
        // Length bucketing: longest first, and a new run where the padded budget is full or where a sequence
        // would be more than half padding, so short inputs do not pay for long ones. (This also cuts a
        // request larger than the budget into budget-sized runs.)
        slots.sort(Comparator.comparingInt((Slot sl) -> sl.ids().length).reversed());
        int from = 0;
        while (from < slots.size()) {
            int maxLen = slots.get(from).ids().length;
            int to = from + 1;
            while (to < slots.size()) {
                int len = slots.get(to).ids().length;
                if ((long) maxLen * (to - from + 1) > maxBatchTokens) break;
                if (maxLen > MIN_BUCKET_SPLIT && 2 * len < maxLen) break;
                to++;
            }
            runOnce(slots.subList(from, to));
            from = to;
        }
    }

    private void runOnce(List<Slot> slots) {
        List<long[]> ids = new ArrayList<>(slots.size()), types = new ArrayList<>(slots.size());
        Set<Output> outputs = EnumSet.noneOf(Output.class);
        for (Slot it : slots) {
            ids.add(it.ids());
            types.add(it.typeIds());
            outputs.add(it.output());
        }
        try {
            Batch batch = Batch.pack(ids, types, outputs);
            long start = System.nanoTime();
            Engine.Result result = engine.run(batch);
            long end = System.nanoTime();
            // before the futures complete, so a caller sees its timing once its results are in; once per request and run
            Set<RunTiming> timed = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
            for (Slot it : slots) {
                if (it.timing() != null && timed.add(it.timing())) it.timing().ran(start, end, slots.size(), batch.tokens());
            }
            for (int i = 0; i < slots.size(); i++) slots.get(i).result().complete(result.row(slots.get(i).output(), i));
            batchSizes.record(slots.size());
            tokens.increment(batch.tokens());
        } catch (Exception | Error e) { // an Error too: its callers must not wait forever
            for (Slot it : slots) it.result().completeExceptionally(e);
            try {
                failures(e).increment();
                LOG.errorf(e, "model %s: engine run of %d sequences failed", modelName, slots.size());
            } catch (Throwable ignored) {
                // answered above; keep serving
            }
        }
    }

    /**
     * Drains what is queued for up to 5 s (graceful shutdown); then fails the rest and waits only for the engine run
     * in progress. When this returns no request is pending and the engine is idle, so it can be closed.
     */
    @Override
    public void close() { close(Duration.ofSeconds(5)); }

    void close(Duration grace) {
        closed = true;
        boolean interrupted = false;
        try {
            if (!worker.join(grace)) {
                abandoned = true;
                worker.join();
            }
        } catch (InterruptedException e) {
            abandoned = true;
            interrupted = true;
        }
        if (!worker.isAlive()) failPending(); // whatever raced in after the worker's own final sweep
        if (interrupted) Thread.currentThread().interrupt();
    }
}
