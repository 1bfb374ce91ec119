package dev.tessera.model;

import java.util.Arrays;

/** A dense row-major float32 tensor. Weights of every source dtype are widened to float32 on load. */
public record Tensor(int[] shape, float[] data) {
    public Tensor {
        long n = numel(shape);
        if (n != data.length) {
            throw new IllegalArgumentException("tensor shape " + Arrays.toString(shape) + " needs " + n
                    + " values, got " + data.length);
        }
    }

    public static Tensor zeros(int... shape) {
        return new Tensor(shape.clone(), new float[Math.toIntExact(numel(shape))]);
    }

    public static long numel(int[] shape) {
        long n = 1;
        for (int d : shape) n *= d;
        return n;
    }

    public int rank() { return shape.length; }

    public int dim(int i) { return shape[i]; }

    public boolean hasShape(int... expected) { return Arrays.equals(shape, expected); }

    /** Transpose of a rank-2 tensor (HF Linear weights are [out, in]; ONNX MatMul wants [in, out]). */
    public Tensor transpose2d() {
        if (shape.length != 2) throw new IllegalStateException("transpose2d on rank " + shape.length);
        int r = shape[0], c = shape[1];
        float[] t = new float[data.length];
        for (int i = 0; i < r; i++)
            for (int j = 0; j < c; j++) t[j * r + i] = data[i * c + j];
        return new Tensor(new int[] {c, r}, t);
    }

    @Override
    public String toString() { return "Tensor" + Arrays.toString(shape); }
}
