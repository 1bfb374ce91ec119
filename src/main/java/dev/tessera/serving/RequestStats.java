package dev.tessera.serving;

/**
 * Where one request's time went, as TEI reports it (HTTP headers {@code x-compute-*}, gRPC {@code Metadata}):
 * characters and tokens computed, tokenization, queue and inference time. Filled by {@link InferenceService}.
 */
public final class RequestStats {
    private final long startNanos = System.nanoTime();
    private int chars;
    private int tokens;
    private long tokenizeNanos;
    private long queueNanos;
    private long inferenceNanos;

    synchronized void tokenized(int chars, int tokens, long nanos) {
        this.chars += chars;
        this.tokens += tokens;
        this.tokenizeNanos += nanos;
    }

    synchronized void ran(RunTiming timing) {
        queueNanos += timing.runStartNanos() - timing.enqueuedNanos();
        inferenceNanos += timing.runEndNanos() - timing.runStartNanos();
    }

    public synchronized int chars() { return chars; }

    public synchronized int tokens() { return tokens; }

    public long totalNanos() { return System.nanoTime() - startNanos; }

    public synchronized long tokenizeNanos() { return tokenizeNanos; }

    public synchronized long queueNanos() { return queueNanos; }

    public synchronized long inferenceNanos() { return inferenceNanos; }
}
