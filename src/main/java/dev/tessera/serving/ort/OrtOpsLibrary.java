package dev.tessera.serving.ort;

import dev.tessera.io.NativeResources;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The ONNX Runtime custom-op library built from cuda-ext/ ({@code libtessera_ortops.so}, the {@code tessera}
 * op domain), which the {@code tessera} dialect needs. It ships in the jar; ORT loads libraries from files,
 * so it is copied out once per process. {@code -Dtessera.ortops.library=PATH} points to another build.
 */
public final class OrtOpsLibrary {
    static final String RESOURCE = "native/linux-x86_64/libtessera_ortops.so";

    private static volatile Optional<Path> path;

    private OrtOpsLibrary() {}

    /** Where the library is on disk, or empty when this build has none (it was built without ORT headers). */
    public static Optional<Path> path() {
        Optional<Path> p = path;
        if (p == null) {
            synchronized (OrtOpsLibrary.class) {
                if (path == null) path = locate();
                p = path;
            }
        }
        return p;
    }

    private static Optional<Path> locate() {
        String configured = System.getProperty("tessera.ortops.library");
        if (configured != null) return Optional.of(Path.of(configured));
        return NativeResources.extract(RESOURCE);
    }
}
