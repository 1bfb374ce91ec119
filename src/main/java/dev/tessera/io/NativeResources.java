package dev.tessera.io;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Optional;

/** Shared libraries that ship in the jar: the loader needs a file, so each is copied out once. */
public final class NativeResources {
    private NativeResources() {}

    /**
     * A private temporary copy of the classpath resource (the jar's bytes cannot be mapped directly, and concurrent
     * JVMs must not share a file being written), deleted at exit; empty when the resource is not on the classpath.
     */
    public static Optional<Path> extract(String resource) {
        try (InputStream in = NativeResources.class.getClassLoader().getResourceAsStream(resource)) {
            if (in == null) return Optional.empty();
            String name = Path.of(resource).getFileName().toString();
            Path tmp = Files.createTempFile(name.replace(".so", "-"), ".so");
            tmp.toFile().deleteOnExit();
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            return Optional.of(tmp);
        } catch (IOException e) {
            throw new IllegalStateException("cannot extract " + resource + ": " + e.getMessage(), e);
        }
    }
}
