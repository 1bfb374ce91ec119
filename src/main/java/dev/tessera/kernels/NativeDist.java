package dev.tessera.kernels;

import dev.tessera.io.NativeResources;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;

/**
 * The data-parallel calls of libtessera ({@code cuda-ext/include/tessera_dist.h}): one process per rank,
 * rendezvous from {@code MASTER_ADDR}/{@code MASTER_PORT}/{@code RANK}/{@code WORLD_SIZE}, Gloo on the CPU
 * (through {@code libtessera_gloo.so}, shipped beside libtessera), NCCL on CUDA. The state is process-wide:
 * one job per process. Failures throw {@link NativeException} (status {@code TSR_ERR_DIST} for a peer that
 * died or cannot be reached, {@code TSR_ERR_INVALID_ARG} for a refused rendezvous).
 */
public final class NativeDist {
    static final String GLOO_RESOURCE = "native/linux-x86_64/libtessera_gloo.so";

    private static Path glooPath;

    private NativeDist() {}

    /** The Gloo shim: beside an overriding libtessera, else extracted from the classpath; null when absent. */
    private static synchronized Path glooLibrary() {
        if (glooPath != null) return glooPath;
        String override = System.getProperty("tessera.native.library");
        if (override != null && !override.isBlank()) {
            Path p = Path.of(override).resolveSibling("libtessera_gloo.so");
            if (Files.isRegularFile(p)) glooPath = p;
        } else {
            glooPath = NativeResources.extract(GLOO_RESOURCE).orElse(null);
        }
        return glooPath;
    }

    /**
     * Joins the job of the environment (nothing happens for WORLD_SIZE unset or 1). Call before creating a
     * CUDA model (it selects the rank's GPU).
     */
    public static void init(NativeLibrary.Backend backend, String fingerprint, int connectTimeoutMs, int timeoutMs) {
        NativeLibrary lib = NativeLibrary.get();
        Path gloo = glooLibrary();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment fp = a.allocateFrom(fingerprint == null ? "" : fingerprint);
            MemorySegment g = gloo == null ? a.allocateFrom("libtessera_gloo.so (not in this build: Gloo was not found when it was compiled)")
                    : a.allocateFrom(gloo.toString());
            lib.check((int) lib.distInit.invokeExact(backend.code, fp, connectTimeoutMs, timeoutMs, g));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public static int rank() {
        try {
            return (int) NativeLibrary.get().distRank.invokeExact();
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public static int worldSize() {
        try {
            return (int) NativeLibrary.get().distWorldSize.invokeExact();
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Replaces the gradient block by its mean over the ranks (buckets of {@code bucketFloats}; 0 = default). */
    public static void allreduceGrads(NativeModel model, long bucketFloats) {
        NativeLibrary lib = NativeLibrary.get();
        try {
            lib.check((int) lib.distAllreduceGrads.invokeExact(model.handle(), bucketFloats));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Rank 0's block into every rank's model. */
    public static void broadcast(NativeModel model, NativeModel.Buffer which) {
        NativeLibrary lib = NativeLibrary.get();
        try {
            lib.check((int) lib.distBroadcast.invokeExact(model.handle(), which.ordinal()));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Element-wise sum over the ranks, in place. */
    public static void allreduceSum(double[] values) {
        f64(values, true);
    }

    /** Rank 0's values into every rank's array. */
    public static void broadcast(double[] values) {
        f64(values, false);
    }

    private static void f64(double[] values, boolean sum) {
        NativeLibrary lib = NativeLibrary.get();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = a.allocateFrom(JAVA_DOUBLE, values);
            int st = sum ? (int) lib.distAllreduceF64.invokeExact(seg, values.length)
                    : (int) lib.distBroadcastF64.invokeExact(seg, values.length);
            lib.check(st);
            MemorySegment.copy(seg, JAVA_DOUBLE, 0, values, 0, values.length);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Waits for every rank (timeoutMs <= 0: the init timeout). */
    public static void barrier(int timeoutMs) {
        NativeLibrary lib = NativeLibrary.get();
        try {
            lib.check((int) lib.distBarrier.invokeExact(timeoutMs));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public static void finish() {
        NativeLibrary lib = NativeLibrary.get();
        try {
            lib.check((int) lib.distFinalize.invokeExact());
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }
}
