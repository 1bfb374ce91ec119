package dev.tessera.data;

import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

class MlmMaskerTest {

    static final int VOCAB = 1000;

    /** 2000 sequences of 100 tokens: [CLS] 98 ordinary tokens [SEP] (196,000 maskable tokens). */
    static Batch bigBatch() {
        int n = 2000, len = 100;
        int[] ids = new int[n * len], cu = new int[n + 1];
        for (int s = 0; s < n; s++) {
            cu[s + 1] = cu[s] + len;
            for (int i = 0; i < len; i++) ids[s * len + i] = i == 0 ? 2 : i == len - 1 ? 3 : 5 + (s * 31 + i * 7) % (VOCAB - 5);
        }
        return new Batch(ids, new int[ids.length], cu, len, null, null, null);
    }

    @Test
    void maskingStatistics() {
        Batch b = bigBatch();
        Batch m = new MlmMasker(0.30, VOCAB, SpecialTokens.TESSERA, 1234).mask(b, 5, 0);
        int maskable = 2000 * 98, selected = 0, asMask = 0, kept = 0, random = 0;
        for (int i = 0; i < b.numTokens(); i++) {
            int orig = b.inputIds()[i], now = m.inputIds()[i], label = m.mlmLabels()[i];
            if (orig == 2 || orig == 3) {
                assertEquals(Batch.IGNORE, label, "special tokens are never selected");
                assertEquals(orig, now);
                continue;
            }
            if (label == Batch.IGNORE) {
                assertEquals(orig, now, "unselected tokens are unchanged");
                continue;
            }
            assertEquals(orig, label);
            selected++;
            if (now == 4) asMask++;
            else if (now == orig) kept++;
            else {
                random++;
                assertFalse(SpecialTokens.TESSERA.isSpecial(now), "random replacement is never a special token");
            }
        }
        // Binomial tolerances at 5 standard deviations (a false failure has odds < 1e-6):
        // selected ~ Bin(196000, 0.3): sd = sqrt(196000·0.3·0.7) ≈ 202.9 → ±1015 around 58800.
        assertEquals(58800, selected, 1015);
        // Of the selected: [MASK] ~ Bin(n, 0.8), sd ≈ sqrt(58800·0.16) ≈ 97 → ±485; random/kept ~ Bin(n, 0.1), sd ≈ 72.7 → ±364.
        // (A random token equal to the original counts as "kept": 1/995 of 10%, ≈ 6, well inside the tolerance.)
        assertEquals(0.8 * selected, asMask, 485);
        assertEquals(0.1 * selected, random, 364);
        assertEquals(0.1 * selected, kept, 364);
        assertEquals(selected, m.numMasked());
        assertArrayEquals(b.cuSeqlens(), m.cuSeqlens());
    }

    @Test
    void reproduciblePerSeedStepAndMicrobatch() {
        Batch b = bigBatch();
        MlmMasker masker = new MlmMasker(0.30, VOCAB, SpecialTokens.TESSERA, 99);
        int[] a = masker.mask(b, 10, 1).inputIds();
        assertArrayEquals(a, new MlmMasker(0.30, VOCAB, SpecialTokens.TESSERA, 99).mask(b, 10, 1).inputIds());
        assertFalse(Arrays.equals(a, masker.mask(b, 11, 1).inputIds()));
        assertFalse(Arrays.equals(a, masker.mask(b, 10, 2).inputIds()));
        assertFalse(Arrays.equals(a, new MlmMasker(0.30, VOCAB, SpecialTokens.TESSERA, 98).mask(b, 10, 1).inputIds()));
        assertNull(b.mlmLabels(), "the input batch is not modified");
    }

    @Test
    void badRateIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> new MlmMasker(1.0, VOCAB, SpecialTokens.TESSERA, 1));
        assertThrows(IllegalArgumentException.class, () -> new MlmMasker(-0.1, VOCAB, SpecialTokens.TESSERA, 1));
    }

    @Test
    void aRateGivenPerCallSelectsThatShare() {
        Batch b = bigBatch();
        MlmMasker masker = new MlmMasker(0.30, VOCAB, SpecialTokens.TESSERA, 7);
        int maskable = 2000 * 98;
        for (double rate : new double[] {0.15, 0.30}) {
            int selected = 0;
            for (int label : masker.mask(b, 3, 0, rate).mlmLabels()) if (label != Batch.IGNORE) selected++;
            // binomial(196,000, rate): sd ~ 0.0009 of the tokens; 0.005 is over 5 sd
            assertEquals(rate, (double) selected / maskable, 0.005);
        }
        assertArrayEquals(masker.mask(b, 3, 0).inputIds(), masker.mask(b, 3, 0, 0.30).inputIds(), "the constructor's rate is the default");
        assertThrows(IllegalArgumentException.class, () -> masker.mask(b, 3, 0, 1.0));
    }
}
