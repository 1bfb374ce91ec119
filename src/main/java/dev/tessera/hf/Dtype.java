package dev.tessera.hf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Stored element types we widen to float32. */
enum Dtype {
    F32(4), F16(2), BF16(2), F64(8);

    final int bytes;

    Dtype(int bytes) { this.bytes = bytes; }

    static Dtype ofSafetensors(String name, String tensor) {
        for (Dtype d : values()) if (d.name().equals(name)) return d;
        throw new CheckpointFormatException("unsupported dtype " + name + " for tensor '" + tensor
                + "' (supported: F32, F16, BF16, F64)");
    }

    /** Reads {@code out.length} little-endian elements starting at the buffer's position. */
    void decode(ByteBuffer src, float[] out) {
        ByteBuffer b = src.order(ByteOrder.LITTLE_ENDIAN);
        switch (this) {
            case F32 -> b.asFloatBuffer().get(out);
            case F16 -> {
                var s = b.asShortBuffer();
                for (int i = 0; i < out.length; i++) out[i] = Float.float16ToFloat(s.get(i));
            }
            case BF16 -> {
                // bf16 is the top half of a float32: widening is exact
                var s = b.asShortBuffer();
                for (int i = 0; i < out.length; i++) out[i] = Float.intBitsToFloat((s.get(i) & 0xffff) << 16);
            }
            case F64 -> {
                var d = b.asDoubleBuffer();
                for (int i = 0; i < out.length; i++) out[i] = (float) d.get(i);
            }
        }
    }

    /** Reads one element at an absolute byte index. */
    float get(ByteBuffer b, long index) {
        int at = Math.toIntExact(index * bytes);
        return switch (this) {
            case F32 -> b.getFloat(at);
            case F16 -> Float.float16ToFloat(b.getShort(at));
            case BF16 -> Float.intBitsToFloat((b.getShort(at) & 0xffff) << 16);
            case F64 -> (float) b.getDouble(at);
        };
    }
}
