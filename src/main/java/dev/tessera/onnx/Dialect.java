package dev.tessera.onnx;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** ONNX dialects of DESIGN.md §4. */
public enum Dialect {
    /** Standard opset-17 operators only: runs in any ONNX runtime. */
    PORTABLE,
    /** ONNX Runtime's {@code com.microsoft} fused operators. */
    ORT,
    /** Packed tokens and the {@code tessera} custom-op domain (cuda-ext's ONNX Runtime library). */
    TESSERA;

    public String id() { return name().toLowerCase(Locale.ROOT); }

    public static Dialect parse(String s) {
        for (Dialect d : values()) if (d.id().equalsIgnoreCase(s.trim())) return d;
        throw new IllegalArgumentException("unknown ONNX dialect '" + s + "'; valid: "
                + Arrays.stream(values()).map(Dialect::id).collect(Collectors.joining(", ")));
    }
}
