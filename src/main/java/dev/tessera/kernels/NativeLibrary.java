package dev.tessera.kernels;

import dev.tessera.io.NativeResources;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Loads libtessera (built from cuda-ext/ by the Maven build, packaged at
 * {@code native/linux-x86_64/libtessera.so} on the classpath) and binds its C API through
 * {@code java.lang.foreign}. The system property {@code tessera.native.library} may point to another
 * build of the library. Loaded once per JVM, on first use.
 */
public final class NativeLibrary {
    static final String RESOURCE = "native/linux-x86_64/libtessera.so";

    private static volatile NativeLibrary instance;

    private final Linker linker = Linker.nativeLinker();
    private final SymbolLookup lookup;
    private final Path path;

    final MethodHandle lastError, statusName, apiVersion, backendAvailable, setNumThreads, getNumThreads, cpuIsa;
    final MethodHandle modelCreate, modelDestroy, initParams, numParams, numTensors, tensorInfo;
    final MethodHandle bufferRead, bufferWrite, checkFinite, validateBatch, logitsCount;
    final MethodHandle forward, backward, zeroGrad, clipGradNorm, adamwStep, setLrScales;
    final MethodHandle distInit, distRank, distWorldSize, distAllreduceGrads, distBroadcast,
            distAllreduceF64, distBroadcastF64, distBarrier, distFinalize;
    final MethodHandle setPrecision, getPrecision, cpuBf16;

    private NativeLibrary(Path path) {
        this.path = path;
        passiveOpenMpUnlessConfigured();
        this.lookup = SymbolLookup.libraryLookup(path, Arena.global());
        lastError = fn("tsr_last_error", FunctionDescriptor.of(ADDRESS));
        statusName = fn("tsr_status_name", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        apiVersion = fn("tsr_api_version", FunctionDescriptor.of(JAVA_INT));
        backendAvailable = fn("tsr_backend_available", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        setNumThreads = fn("tsr_set_num_threads", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        getNumThreads = fn("tsr_get_num_threads", FunctionDescriptor.of(JAVA_INT));
        cpuIsa = fn("tsr_cpu_isa", FunctionDescriptor.of(ADDRESS));
        modelCreate = fn("tsr_model_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
        modelDestroy = fn("tsr_model_destroy", FunctionDescriptor.ofVoid(ADDRESS));
        initParams = fn("tsr_init_params", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_FLOAT));
        numParams = fn("tsr_num_params", FunctionDescriptor.of(JAVA_LONG, ADDRESS));
        numTensors = fn("tsr_num_tensors", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        tensorInfo = fn("tsr_tensor_info",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        bufferRead = fn("tsr_buffer_read", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_LONG, ADDRESS));
        bufferWrite = fn("tsr_buffer_write", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_LONG, ADDRESS));
        checkFinite = fn("tsr_check_finite", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
        validateBatch = fn("tsr_validate_batch", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        logitsCount = fn("tsr_logits_count", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
        forward = fn("tsr_forward",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_INT));
        backward = fn("tsr_backward", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_FLOAT));
        zeroGrad = fn("tsr_zero_grad", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        clipGradNorm = fn("tsr_clip_grad_norm", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_FLOAT, ADDRESS));
        adamwStep = fn("tsr_adamw_step", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_FLOAT, JAVA_FLOAT, JAVA_FLOAT,
                JAVA_FLOAT, JAVA_FLOAT, JAVA_FLOAT, JAVA_LONG));
        setLrScales = fn("tsr_set_lr_scales", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        distInit = fn("tsr_dist_init", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
        distRank = fn("tsr_dist_rank", FunctionDescriptor.of(JAVA_INT));
        distWorldSize = fn("tsr_dist_world_size", FunctionDescriptor.of(JAVA_INT));
        distAllreduceGrads = fn("tsr_dist_allreduce_grads", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
        distBroadcast = fn("tsr_dist_broadcast", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        distAllreduceF64 = fn("tsr_dist_allreduce_f64", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        distBroadcastF64 = fn("tsr_dist_broadcast_f64", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        distBarrier = fn("tsr_dist_barrier", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        distFinalize = fn("tsr_dist_finalize", FunctionDescriptor.of(JAVA_INT));
        setPrecision = fn("tsr_set_precision", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        getPrecision = fn("tsr_get_precision", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        cpuBf16 = fn("tsr_cpu_bf16", FunctionDescriptor.of(JAVA_INT));
    }

    /**
     * libgomp reads OMP_WAIT_POLICY when it is loaded (with libtessera). Its default, spinning at every
     * barrier, collapses throughput when the cores are shared with other work (a server also serving
     * requests; measured 2-5x slower than one thread on a busy 2-core machine), so unless the user set
     * it, idle OpenMP threads sleep instead (cost: ~1% on an idle machine).
     */
    private void passiveOpenMpUnlessConfigured() {
        if (System.getenv("OMP_WAIT_POLICY") != null || System.getenv("GOMP_SPINCOUNT") != null) return;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment setenv = linker.defaultLookup().find("setenv").orElse(null);
            if (setenv == null) return;
            MethodHandle h = linker.downcallHandle(setenv, FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
            int ignored = (int) h.invokeExact(a.allocateFrom("OMP_WAIT_POLICY"), a.allocateFrom("PASSIVE"), 0);
        } catch (Throwable t) {
            // best effort: the library works either way
        }
    }

    private MethodHandle fn(String name, FunctionDescriptor d) {
        MemorySegment sym = lookup.find(name)
                .orElseThrow(() -> new IllegalStateException("libtessera at " + path + " lacks symbol " + name));
        return linker.downcallHandle(sym, d);
    }

    /** The loaded library (loads it on first call). */
    public static NativeLibrary get() {
        NativeLibrary lib = instance;
        if (lib == null) {
            synchronized (NativeLibrary.class) {
                lib = instance;
                if (lib == null) instance = lib = new NativeLibrary(locate());
            }
        }
        return lib;
    }

    /** True if the library can be loaded on this platform (linux-x86_64 with the resource present). */
    public static boolean isAvailable() {
        try {
            get();
            return true;
        } catch (RuntimeException | UnsatisfiedLinkError e) {
            return false;
        }
    }

    private static Path locate() {
        String override = System.getProperty("tessera.native.library");
        if (override != null && !override.isBlank()) return Path.of(override);
        String os = System.getProperty("os.name", "").toLowerCase();
        String arch = System.getProperty("os.arch", "");
        if (!os.contains("linux") || !(arch.equals("amd64") || arch.equals("x86_64")))
            throw new IllegalStateException("libtessera is built for linux-x86_64 only (this JVM: " + os + "/" + arch + ")");
        return NativeResources.extract(RESOURCE).orElseThrow(() -> new IllegalStateException("classpath resource " + RESOURCE
                + " missing: build with Maven (cuda-ext is compiled in generate-resources) and without -DskipNative"));
    }

    /** Path of the loaded shared object. */
    public Path path() { return path; }

    public int apiVersion() {
        try {
            return (int) apiVersion.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** "avx512", "avx2" or "scalar": the sgemm kernel the CPU backend uses on this machine. */
    public String cpuIsa() {
        try {
            return cstring((MemorySegment) cpuIsa.invokeExact());
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Whether the CPU backend runs bf16 matrix products on AVX512-BF16 here (else bf16 precision computes in fp32). */
    public boolean cpuBf16() {
        try {
            return (int) cpuBf16.invokeExact() != 0;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public int numThreads() {
        try {
            return (int) getNumThreads.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** OpenMP threads of the CPU backend (n <= 0: the OpenMP default). */
    public void setNumThreads(int n) {
        try {
            check((int) setNumThreads.invokeExact(n));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Whether a backend (see {@link Backend}) is usable here; the library's reason otherwise. */
    public String backendUnavailableReason(Backend backend) {
        try {
            int st = (int) backendAvailable.invokeExact(backend.code);
            return st == 0 ? null : lastError();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    String lastError() {
        try {
            return cstring((MemorySegment) lastError.invokeExact());
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    String statusName(int status) {
        try {
            return cstring((MemorySegment) statusName.invokeExact(status));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Throws {@link NativeException} for a non-zero status (message read on this thread, right after the call). */
    void check(int status) {
        if (status != 0) throw new NativeException(status, statusName(status), lastError());
    }

    static String cstring(MemorySegment p) {
        return p.equals(MemorySegment.NULL) ? null : p.reinterpret(Long.MAX_VALUE).getString(0);
    }

    static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }

    /** Backends of the native module. */
    public enum Backend {
        CPU(0), CUDA(1);

        final int code;

        Backend(int code) { this.code = code; }
    }
}
