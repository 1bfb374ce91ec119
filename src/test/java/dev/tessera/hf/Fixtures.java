package dev.tessera.hf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.model.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/**
 * The numeric fixtures written by src/test/python/make_fixtures.py (see its docstring for expected.json).
 * Usable from any test: {@code Fixtures.dir("mosaic-cls12")}, {@code Fixtures.expected("mosaic-cls12")}.
 */
public final class Fixtures {
    public static final Path ROOT = Path.of("src/test/resources/fixtures");

    private Fixtures() {}

    public static Path dir(String name) { return ROOT.resolve(name); }

    public static JsonNode expected(String name) {
        try {
            return new ObjectMapper().readTree(dir(name).resolve("expected.json").toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static long[][] longs2d(JsonNode n) {
        long[][] out = new long[n.size()][];
        for (int i = 0; i < n.size(); i++) {
            out[i] = new long[n.get(i).size()];
            for (int j = 0; j < out[i].length; j++) out[i][j] = n.get(i).get(j).asLong();
        }
        return out;
    }

    public static int[] ints(JsonNode n) {
        int[] out = new int[n.size()];
        for (int i = 0; i < out.length; i++) out[i] = n.get(i).asInt();
        return out;
    }

    /** Sum and position-weighted checksum as the script computes them (float64). */
    public static double[] sums(Tensor t) {
        double sum = 0, check = 0;
        float[] d = t.data();
        for (int i = 0; i < d.length; i++) {
            sum += d[i];
            check += d[i] * (double) (i % 97 + 1);
        }
        return new double[] {sum, check};
    }
}
