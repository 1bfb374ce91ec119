package dev.tessera.serving.ort;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtProvider;
import ai.onnxruntime.OrtSession;
import dev.tessera.model.BertModel;
import dev.tessera.model.Variant;
import dev.tessera.onnx.Dialect;
import dev.tessera.onnx.OnnxExporter;
import dev.tessera.onnx.Precision;
import dev.tessera.serving.Device;
import dev.tessera.serving.Engine;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.jboss.logging.Logger;

/**
 * Opens the ONNX Runtime engine for a model: exports it in the chosen dialect and precision and starts a
 * session on the chosen device. With dialect {@code auto} the dialects are tried fastest first
 * ({@link #AUTO_ORDER}, measured in bench/compare) and the first that loads here serves.
 */
public final class OrtEngines {
    private static final Logger LOG = Logger.getLogger(OrtEngines.class);

    /** Fastest first, as measured on CPU by bench/compare (README "Benchmarks"). */
    public static final List<Dialect> AUTO_ORDER = List.of(Dialect.TESSERA, Dialect.ORT, Dialect.PORTABLE);

    /** {@code dialect} empty = auto. {@code threads} 0 = every core. */
    public record Options(Optional<Dialect> dialect, Precision precision, Device device, int threads) {}

    private OrtEngines() {}

    public static Engine open(String name, BertModel model, Options opts) {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        List<Dialect> candidates = opts.dialect().map(List::of).orElse(AUTO_ORDER);
        List<String> refused = new ArrayList<>();
        for (Dialect dialect : candidates) {
            try {
                return open(env, name, model, dialect, opts, refused);
            } catch (OrtException | UnsupportedOperationException | IllegalArgumentException e) {
                if (opts.dialect().isPresent()) {
                    throw new IllegalArgumentException("dialect " + dialect.id() + "/" + opts.precision().id()
                            + " cannot serve this model: " + e.getMessage(), e);
                }
                refused.add(dialect.id() + ": " + e.getMessage());
            }
        }
        throw new IllegalArgumentException("no ONNX dialect could serve this model: " + String.join("; ", refused));
    }

    private static Engine open(OrtEnvironment env, String name, BertModel model, Dialect dialect, Options opts,
                               List<String> refused) throws OrtException {
        if (dialect == Dialect.TESSERA && OrtOpsLibrary.path().isEmpty()) {
            throw new UnsupportedOperationException("this build has no libtessera_ortops.so (cuda-ext was built "
                    + "without the ONNX Runtime headers)");
        }
        byte[] graph = OnnxExporter.graph(model, dialect, opts.precision()).toByteArray();
        String device = "cpu", note = refused.isEmpty() ? null : "auto skipped " + String.join("; ", refused);
        OrtSession session = null;
        if (wantsCuda(opts.device())) {
            try (OrtSession.SessionOptions cuda = options(dialect, opts.threads())) {
                cuda.addCUDA(0);
                session = env.createSession(graph, cuda);
                device = "cuda";
            } catch (OrtException e) {
                String why = "CUDA execution provider cannot start (" + firstLine(e.getMessage()) + ")";
                LOG.warnf("model '%s': %s; serving on CPU", name, why);
                note = note == null ? why : note + "; " + why;
            }
        }
        if (session == null) {
            try (OrtSession.SessionOptions cpu = options(dialect, opts.threads())) {
                session = env.createSession(graph, cpu);
            }
        }
        Engine.Description description = new Engine.Description(dialect.id(), opts.precision().id(), device, note);
        return dialect == Dialect.TESSERA
                ? new PackedOrtEngine(env, session, description, model.config().variant() == Variant.BERT)
                : new PaddedOrtEngine(env, session, description);
    }

    /** CUDA when asked for, or on auto when this ORT build has the provider (the {@code -Pgpu} build). */
    private static boolean wantsCuda(Device device) {
        return switch (device) {
            case CPU -> false;
            case CUDA -> true;
            case AUTO -> OrtEnvironment.getAvailableProviders().contains(OrtProvider.CUDA);
        };
    }

    private static OrtSession.SessionOptions options(Dialect dialect, int threads) throws OrtException {
        OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        options.setIntraOpNumThreads(threads > 0 ? threads : Runtime.getRuntime().availableProcessors());
        options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
        // ORT's pool threads spin after each run by default; on a server whose HTTP and tokenizer threads share the
        // same few cores that spinning takes their CPU (measured +20% requests/s on 2 cores with it off)
        options.addConfigEntry("session.intra_op.allow_spinning", "0");
        if (dialect == Dialect.TESSERA) options.registerCustomOpLibrary(OrtOpsLibrary.path().orElseThrow().toString());
        return options;
    }

    private static String firstLine(String s) {
        if (s == null) return "no reason given";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
