package dev.tessera.onnx;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** Numeric precision of an export. */
public enum Precision {
    /** float32 throughout. */
    FP32,
    /** The encoder's weight matmuls dynamically quantized: int8 per-output-channel weights, see {@link DynamicQuantization}. */
    INT8;

    /** The lower-case name used in the CLI and configuration. */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses a lower-case name ({@code fp32}, {@code int8}). */
    public static Precision parse(String name) {
        for (Precision p : values()) if (p.id().equals(name)) return p;
        throw new IllegalArgumentException("unknown ONNX precision '" + name + "'; valid: "
                + Arrays.stream(values()).map(Precision::id).collect(Collectors.joining(", ")));
    }
}
