package dev.tessera.io;

import java.nio.file.Path;

/**
 * Where a training run may read and write, asked at the moment a path is used (not only when the run was accepted):
 * each call resolves the path through its symlinks, checks the result, and returns the resolved path, which is what
 * the caller opens. Jobs submitted over HTTP are confined ({@code jobs/JobPaths}); the CLI runs as its user, on that
 * user's files ({@link #UNCONFINED}).
 */
public interface FileAccess {
    /** The path to open for reading what the recipe key {@code key} names; {@link ForbiddenPathException} if it may not. */
    Path read(String key, String value);

    /** The path to write what {@code key} names (a file or a directory tree under it). */
    Path write(String key, String value);

    /** Whether {@link #write} would allow {@code value}. */
    boolean mayWrite(String value);

    FileAccess UNCONFINED = new FileAccess() {
        @Override public Path read(String key, String value) { return Path.of(value); }

        @Override public Path write(String key, String value) { return Path.of(value); }

        @Override public boolean mayWrite(String value) { return true; }
    };
}
