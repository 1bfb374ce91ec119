package dev.tessera.hf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Stored element types we widen to float32. */
enum Dtype {
    F32(4), F16(2), BF16(2), F64(8),
    // integer buffers (e.g. an old position_ids) are read too, so that they can be recognised and ignored
    I64(8), I32(4), I16(2), I8(1), U8(1), BOOL(1);

    final int bytes;

    Dtype(int bytes) { this.bytes = bytes; }

    static Dtype ofSafetensors(String name, String tensor) {
        for (Dtype d : values()) if (d.name().equals(name)) return d;
        throw new CheckpointFormatException("unsupported dtype " + name + " for tensor '" + tensor
                + "' (supported: F32, F16, BF16, F64 and integer buffers)");
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
            default -> {
                for (int i = 0; i < out.length; i++) out[i] = get(b, i);
            }
        }
    }

    /** Reads one element at an absolute byte index. */
    float get(ByteBuffer src, long index) {
        ByteBuffer b = src.order(ByteOrder.LITTLE_ENDIAN);
        int at = Math.toIntExact(index * bytes);
        return switch (this) {
            case F32 -> b.getFloat(at);
            case F16 -> Float.float16ToFloat(b.getShort(at));
            case BF16 -> Float.intBitsToFloat((b.getShort(at) & 0xffff) << 16);
            case F64 -> (float) b.getDouble(at);
            case I64 -> (float) b.getLong(at);
            case I32 -> (float) b.getInt(at);
            case I16 -> (float) b.getShort(at);
            case I8 -> (float) b.get(at);
            case U8, BOOL -> (float) (b.get(at) & 0xff);
        };
    }
}
