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

    /** More inputs than one request may carry (413; TEI's "Batch size error"). */
    public static final class TooLarge extends ServingException {
        public TooLarge(String message) { super(message); }
    }

    /** The model cannot serve now: its batcher stopped, or the heap ran out during the run; retry (503, TEI's Unhealthy). */
    public static final class Unavailable extends ServingException {
        public Unavailable(String message) { super(message); }
    }

    /** An input the model cannot take as sent: longer than max_input_length and not cut, a bad option (422, TEI's Validation). */
    public static final class Unsupported extends ServingException {
        public Unsupported(String message) { super(message); }
    }

    /** An empty batch, text or id list (400, TEI's Empty). */
    public static final class Empty extends ServingException {
        public Empty(String message) { super(message); }
    }

    /** The tokenizer could not handle the input, e.g. a token id outside the vocabulary (422, TEI's Tokenizer). */
    public static final class Tokenizer extends ServingException {
        public Tokenizer(String message) { super(message); }
    }

    /** The model lacks what the route needs, e.g. /predict on a model without a classifier (424, TEI's Backend). */
    public static final class Incapable extends ServingException {
        public Incapable(String message) { super(message); }
    }

    /** The engine run failed (424, TEI's Backend). */
    public static final class Failed extends ServingException {
        public Failed(String message, Throwable cause) {
            super(message);
            initCause(cause);
        }
    }
}
