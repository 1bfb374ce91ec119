package dev.tessera.onnx;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** Numeric precision of an export's encoder matmuls. */
public enum Precision {
    FP32,
    /** Dynamic int8: per-output-channel symmetric int8 weights, activations quantized at run time. */
    INT8;

    public String id() { return name().toLowerCase(Locale.ROOT); }

    public static Precision parse(String s) {
        for (Precision p : values()) if (p.id().equalsIgnoreCase(s.trim())) return p;
        throw new IllegalArgumentException("unknown precision '" + s + "'; valid: "
                + Arrays.stream(values()).map(Precision::id).collect(Collectors.joining(", ")));
    }
}
