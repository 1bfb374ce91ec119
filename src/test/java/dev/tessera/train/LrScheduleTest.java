package dev.tessera.train;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class LrScheduleTest {

    @Test
    void warmupThenLinearDecayToFinalFraction() {
        // peak 1e-3, 10% warmup of 100 steps → W = 10, final 2% → 2e-5.
        LrSchedule s = new LrSchedule(1e-3, 0.10, 0.02, 100);
        assertEquals(10, s.warmupSteps());
        assertEquals(0.0, s.lr(0), 0);
        assertEquals(5e-4, s.lr(5), 1e-15);          // 1e-3 · 5/10
        assertEquals(1e-3, s.lr(10), 1e-15);         // peak at t = W
        assertEquals(5.1e-4, s.lr(55), 1e-15);       // remaining (100−55)/90 = 0.5 → 1e-3·(0.02 + 0.98·0.5)
        assertEquals(2e-5, s.lr(100), 1e-15);        // f · peak at t = T
        assertEquals(2e-5, s.lr(5000), 1e-15);       // and after
        // Finetuning: decay to 0, no warmup → starts at peak.
        LrSchedule f = new LrSchedule(3e-5, 0.0, 0.0, 4);
        assertEquals(3e-5, f.lr(0), 1e-18);
        assertEquals(1.5e-5, f.lr(2), 1e-18);
        assertEquals(0.0, f.lr(4), 0);
    }

    @Test
    void rejectsOutOfRange() {
        assertThrows(IllegalArgumentException.class, () -> new LrSchedule(0, 0.06, 0, 10));
        assertThrows(IllegalArgumentException.class, () -> new LrSchedule(1e-4, 1.5, 0, 10));
        assertThrows(IllegalArgumentException.class, () -> new LrSchedule(1e-4, 0.06, -0.1, 10));
        assertThrows(IllegalArgumentException.class, () -> new LrSchedule(1e-4, 0.06, 0, 0));
    }

    @Test
    void theScheduleOverAShareOfTheRunMatchesTheStepSchedule() {
        LrSchedule s = new LrSchedule(1e-3, 0.1, 0.02, 200);
        for (long t = 0; t <= 200; t++) assertEquals(s.lr(t), s.lrAt(t / 200.0), 1e-15, "step " + t);
        assertEquals(0.02e-3, s.lrAt(1.7), 1e-15);
        assertThrows(IllegalArgumentException.class, () -> s.lrAt(Double.NaN));
    }
}
