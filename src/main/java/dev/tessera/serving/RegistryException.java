package dev.tessera.serving;

/**
 * Why the model registry could not load or reload a model; {@code api/ProblemMappers} maps each kind. An argument
 * (a model name or directory) that cannot be served, hence an {@link IllegalArgumentException}: a job that
 * publishes reports its message. Messages name models, never the host's directories.
 */
public abstract sealed class RegistryException extends IllegalArgumentException {
    protected RegistryException(String message, Throwable cause) { super(message, cause); }

    /** No directory of that name under the model root (404 for a model not served either). */
    public static final class NoModelDirectory extends RegistryException {
        public NoModelDirectory(String name) { super("no model named '" + name + "' is loaded or in the model directory", null); }
    }

    /** The directory is there but does not load; a model of that name that was served stays served (422). */
    public static final class LoadFailed extends RegistryException {
        public LoadFailed(String name, String why, boolean previousStillServed, Throwable cause) {
            super("cannot serve '" + name + "': " + why + (previousStillServed ? "; the previous version is still served" : ""), cause);
        }
    }
}
