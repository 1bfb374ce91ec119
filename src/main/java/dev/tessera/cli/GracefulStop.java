package dev.tessera.cli;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Ctrl-C / SIGTERM during a long command (training, a study): a shutdown hook sets {@link #requested()}, which the
 * run polls between two steps, and holds the JVM's exit (at most 120 s) until the run has written its checkpoint and
 * this is closed.
 */
final class GracefulStop implements AutoCloseable {
    private final AtomicBoolean requested = new AtomicBoolean();
    private final CountDownLatch done = new CountDownLatch(1);
    private final Thread hook;

    GracefulStop(String threadName) {
        hook = new Thread(() -> {
            requested.set(true);
            try {
                done.await(120, TimeUnit.SECONDS);
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
        }, threadName);
        Runtime.getRuntime().addShutdownHook(hook);
    }

    /** Whether a stop was asked for (poll it as the run's cancel). */
    boolean requested() { return requested.get(); }

    /** The run is over: let a pending exit go on, and drop the hook. */
    @Override
    public void close() {
        done.countDown();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException ignored) {
            // already shutting down
        }
    }
}
