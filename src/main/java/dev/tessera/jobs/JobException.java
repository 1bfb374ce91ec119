package dev.tessera.jobs;

import java.util.List;

/**
 * Why a job was not accepted. {@code api/} maps each kind to its problem+json status; nothing here knows HTTP.
 * A path outside what jobs may use is {@link dev.tessera.io.ForbiddenPathException} (403): it belongs to the file
 * access rules of {@code io}, which the trainers apply too.
 */
public abstract sealed class JobException extends RuntimeException {
    private final List<String> problems;

    private JobException(String message, List<String> problems) {
        super(message);
        this.problems = List.copyOf(problems);
    }

    /** Every reason, one line each (empty when the message says it all). */
    public List<String> problems() { return problems; }

    /** The submission cannot run: a missing or bad field, an invalid recipe, data that fails the preflight (422). */
    public static final class Invalid extends JobException {
        public Invalid(String message, List<String> problems) {
            super(message + (problems.isEmpty() ? "" : ":\n  - " + String.join("\n  - ", problems)), problems);
        }
    }

    /** The queue holds {@code tessera.jobs.max-queued} jobs already; retry later (429). */
    public static final class QueueFull extends JobException {
        QueueFull(int max) {
            super(max + " jobs are already queued (tessera.jobs.max-queued); try again when one has started", List.of());
        }
    }
}
