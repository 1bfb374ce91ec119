package dev.tessera.serving;

import java.time.Duration;

/**
 * Why the serving layer could not answer. {@code api/} maps each kind to its problem+json status; nothing
 * here knows about HTTP.
 */
public abstract sealed class ServingException extends RuntimeException {
    protected ServingException(String message) { super(message); }

    /** More work was offered than the model's queue holds; retry shortly (429). */
    public static final class Overloaded extends ServingException {
        public Overloaded(String message) { super(message); }
    }

    /** The model is being closed (shutdown or replacement); retry (503). */
    public static final class ShuttingDown extends ServingException {
        public ShuttingDown(String model) { super("model '" + model + "' is shutting down; retry"); }
    }

    /** The results did not come within the request timeout (503). */
    public static final class TimedOut extends ServingException {
        public TimedOut(Duration timeout) { super("inference took longer than " + timeout); }
    }

    /** An input longer than the model accepts, or more inputs than one request may carry (413). */
    public static final class TooLarge extends ServingException {
        public TooLarge(String message) { super(message); }
    }

    /** The model cannot serve now (its batcher stopped, or the heap ran out during the run); retry (503). */
    public static final class Unavailable extends ServingException {
        public Unavailable(String message) { super(message); }
    }

    /** The engine failed on this batch (500); the model keeps serving other requests. */
    public static final class EngineFailed extends ServingException {
        public EngineFailed(String message) { super(message); }
    }

    /** The model cannot do what was asked (e.g. /predict on a model without a classifier) (422). */
    public static final class Unsupported extends ServingException {
        public Unsupported(String message) { super(message); }
    }
}
