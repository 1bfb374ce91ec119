package dev.tessera.api;

import dev.tessera.serving.RequestStats;
import dev.tessera.serving.ServedModel;
import io.quarkus.vertx.http.runtime.CurrentVertxRequest;
import io.vertx.ext.web.RoutingContext;

/**
 * TEI's response headers on its inference routes: {@code x-compute-type}, {@code x-compute-time},
 * {@code x-compute-characters}, {@code x-compute-tokens}, {@code x-total-time}, {@code x-tokenization-time},
 * {@code x-queue-time}, {@code x-inference-time} (times in whole milliseconds, as TEI sends them).
 */
final class TeiHeaders {
    private TeiHeaders() {}

    static void put(CurrentVertxRequest request, RequestStats stats, ServedModel model) {
        RoutingContext rc = request == null ? null : request.getCurrent();
        if (rc == null || rc.response().headWritten() || stats.tokens() == 0) return; // nothing ran (tokenize, decode)
        long total = stats.totalNanos() / 1_000_000;
        rc.response().putHeader("x-compute-type", model.engine().description().device())
                .putHeader("x-compute-time", Long.toString(total))
                .putHeader("x-compute-characters", Integer.toString(stats.chars()))
                .putHeader("x-compute-tokens", Integer.toString(stats.tokens()))
                .putHeader("x-total-time", Long.toString(total))
                .putHeader("x-tokenization-time", Long.toString(stats.tokenizeNanos() / 1_000_000))
                .putHeader("x-queue-time", Long.toString(stats.queueNanos() / 1_000_000))
                .putHeader("x-inference-time", Long.toString(stats.inferenceNanos() / 1_000_000));
    }
}
