package dev.tessera.glue;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** Expected values computed by hand; the arithmetic is in the comments. Tolerance 1e-12 (double rounding). */
class MetricsTest {

    // pred vs gold over 10 examples:
    // pred: 1 1 1 1 0 0 0 0 0 1
    // gold: 1 1 1 0 0 0 0 1 1 0
    // TP = 3 (i=0,1,2), FP = 2 (i=3,9), FN = 2 (i=7,8), TN = 3 (i=4,5,6)
    static final int[] PRED = {1, 1, 1, 1, 0, 0, 0, 0, 0, 1};
    static final int[] GOLD = {1, 1, 1, 0, 0, 0, 0, 1, 1, 0};

    @Test
    void accuracyF1Matthews() {
        // accuracy = (3 + 3) / 10 = 0.6
        assertEquals(0.6, Metrics.accuracy(PRED, GOLD), 1e-12);
        // F1 = 2·3 / (2·3 + 2 + 2) = 6/10 = 0.6
        assertEquals(0.6, Metrics.f1(PRED, GOLD), 1e-12);
        // MCC = (TP·TN − FP·FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = (9 − 4) / sqrt(5·5·5·5) = 5/25 = 0.2
        assertEquals(0.2, Metrics.matthews(PRED, GOLD), 1e-12);
        // Degenerate: all predictions the same class → MCC 0 by convention.
        assertEquals(0.0, Metrics.matthews(new int[] {1, 1, 1}, new int[] {1, 0, 1}), 0);
    }

    @Test
    void matthewsThreeClasses() {
        // pred 0 1 2 0 ; gold 0 1 1 2 → c = 2 correct, s = 4; pred counts p = (2,1,1), gold counts t = (1,2,1)
        // Σp·t = 2 + 2 + 1 = 5; Σp² = 6; Σt² = 6
        // MCC = (c·s − Σp·t) / sqrt((s² − Σp²)(s² − Σt²)) = (8 − 5) / sqrt(10·10) = 0.3
        assertEquals(0.3, Metrics.matthews(new int[] {0, 1, 2, 0}, new int[] {0, 1, 1, 2}), 1e-12);
    }

    @Test
    void pearsonAndSpearmanWithTies() {
        double[] x = {1, 2, 3, 4, 5};
        double[] y = {2, 1, 4, 3, 5};
        // means 3 and 3; dx = (−2,−1,0,1,2), dy = (−1,−2,1,0,2): Σdxdy = 2+2+0+0+4 = 8, Σdx² = 10, Σdy² = 10
        // Pearson = 8 / sqrt(10·10) = 0.8; ranks equal the values, so Spearman = 0.8 too.
        assertEquals(0.8, Metrics.pearson(x, y), 1e-12);
        assertEquals(0.8, Metrics.spearman(x, y), 1e-12);

        double[] a = {10, 20, 20, 30};
        double[] b = {1, 3, 2, 4};
        // ranks(a) = (1, 2.5, 2.5, 4) (the tie shares (2+3)/2), ranks(b) = (1, 3, 2, 4)
        // means 2.5 and 2.5; da = (−1.5, 0, 0, 1.5), db = (−1.5, 0.5, −0.5, 1.5)
        // Σdadb = 2.25 + 0 + 0 + 2.25 = 4.5; Σda² = 4.5; Σdb² = 2.25+0.25+0.25+2.25 = 5
        // Spearman = 4.5 / sqrt(4.5·5) = 4.5 / sqrt(22.5) = 0.9486832980505138
        assertArrayEquals(new double[] {1, 2.5, 2.5, 4}, Metrics.ranks(a), 0);
        assertEquals(4.5 / Math.sqrt(22.5), Metrics.spearman(a, b), 1e-12);
        assertEquals(0.9486832980505138, Metrics.spearman(a, b), 1e-12);
    }

    @Test
    void tasksCarryReferenceHyperparametersAndMetrics() {
        assertEquals(5e-5, GlueTask.MNLI.learningRate());
        assertEquals(3, GlueTask.MNLI.epochs());
        assertEquals(48, GlueTask.MNLI.batchSize());
        assertEquals(8e-5, GlueTask.byName("MRPC").learningRate());
        assertEquals(GlueTask.MNLI, GlueTask.byName("sts-b").startFrom().orElseThrow());
        assertTrue(GlueTask.SST2.startFrom().isEmpty());
        assertTrue(GlueTask.STSB.isRegression());
        assertEquals(1, GlueTask.STSB.numLabels());
        assertEquals(3, GlueTask.MNLI.numLabels());
        assertFalse(GlueTask.COLA.isPair());
        Map<String, Double> m = GlueTask.MRPC.evaluate(PRED, GOLD);
        assertEquals(Map.of("accuracy", 0.6, "f1", 0.6), m);
        assertEquals(0.2, GlueTask.COLA.evaluate(PRED, GOLD).get("matthews_correlation"), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> GlueTask.byName("wnli"));
    }
}
