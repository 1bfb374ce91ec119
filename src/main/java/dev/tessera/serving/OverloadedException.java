package dev.tessera.serving;

/** More work was offered than the model's queue holds; the caller should retry later (HTTP 429). */
public class OverloadedException extends RuntimeException {
    public OverloadedException(String message) { super(message); }
}
