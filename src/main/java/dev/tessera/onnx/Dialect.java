package dev.tessera.onnx;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** The ONNX dialects of DESIGN.md §4. */
public enum Dialect {
    /** Standard opset-17 operators only: runs in any ONNX runtime (onnxruntime-node/web included). */
    PORTABLE,
    /** ONNX Runtime's fused {@code com.microsoft} operators (MultiHeadAttention, SkipLayerNormalization, Gelu…). */
    ORT,
    /** Tessera's custom-op domain over packed tokens (cuda-ext library); not written yet. */
    TESSERA;

    /** The lower-case name used in the CLI and configuration. */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses a lower-case name ({@code portable}, {@code ort}, {@code tessera}). */
    public static Dialect parse(String name) {
        for (Dialect d : values()) if (d.id().equals(name)) return d;
        throw new IllegalArgumentException("unknown ONNX dialect '" + name + "'; valid: " + valid());
    }

    static String valid() {
        return Arrays.stream(values()).map(Dialect::id).collect(Collectors.joining(", "));
    }
}
