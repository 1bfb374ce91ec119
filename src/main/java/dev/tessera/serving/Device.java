package dev.tessera.serving;

import java.util.Locale;

/** {@code tessera.serving.device}: where models run. CUDA falls back to the CPU with one log line. */
public enum Device {
    /** CUDA when this build has the CUDA execution provider (the {@code -Pgpu} build) and it starts; else CPU. */
    AUTO,
    CPU,
    CUDA;

    public static Device parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown device '" + s + "'; valid: auto, cpu, cuda");
        }
    }
}
