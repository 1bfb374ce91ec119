package dev.tessera.hf;

/** A checkpoint file or directory that cannot be read: bad format, missing or misshapen tensor, bad config. */
public class CheckpointFormatException extends IllegalArgumentException {
    public CheckpointFormatException(String message) { super(message); }

    public CheckpointFormatException(String message, Throwable cause) { super(message, cause); }
}
