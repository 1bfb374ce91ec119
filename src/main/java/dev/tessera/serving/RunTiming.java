package dev.tessera.serving;

/**
 * When one request's sequences waited and ran, filled in by the batcher: enqueued, then the first engine run that
 * carried one of its sequences started, then the last one ended; the size and tokens of those runs. Read after every
 * future of the request completed (their completion publishes the writes). Tracing and gRPC's metadata use it.
 */
public final class RunTiming {
    private final long enqueuedNanos = System.nanoTime();
    private long runStartNanos = Long.MAX_VALUE;
    private long runEndNanos;
    private int runs;
    private int maxBatchSize;
    private long batchTokens;

    /** Called by the batcher for each engine run that carried sequences of this request. */
    synchronized void ran(long startNanos, long endNanos, int batchSize, long tokens) {
        runStartNanos = Math.min(runStartNanos, startNanos);
        runEndNanos = Math.max(runEndNanos, endNanos);
        runs++;
        maxBatchSize = Math.max(maxBatchSize, batchSize);
        batchTokens += tokens;
    }

    public long enqueuedNanos() { return enqueuedNanos; }

    public synchronized boolean ran() { return runs > 0; }

    public synchronized long runStartNanos() { return runs == 0 ? enqueuedNanos : runStartNanos; }

    public synchronized long runEndNanos() { return runs == 0 ? enqueuedNanos : runEndNanos; }

    /** Engine runs that carried this request's sequences. */
    public synchronized int runs() { return runs; }

    /** Sequences in the largest of those runs (this request's and others'). */
    public synchronized int batchSize() { return maxBatchSize; }

    /** Real tokens of those runs, together. */
    public synchronized long batchTokens() { return batchTokens; }
}
