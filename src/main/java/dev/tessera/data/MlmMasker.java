package dev.tessera.data;

import java.util.SplittableRandom;

/**
 * Dynamic masking for masked-language-model training (BERT's 80/10/10 rule).
 *
 * <p>Each token that is not special ([PAD] [UNK] [CLS] [SEP] [MASK]) is selected independently with
 * probability {@code rate} (MosaicBERT: 0.30). A selected token gets its original id as label and is
 * replaced by [MASK] with probability 0.8, by a random non-special token with probability 0.1, and kept
 * with probability 0.1. Unselected tokens get label {@link Batch#IGNORE}.
 *
 * <p>Reproducible: the random stream of a call is {@code SplittableRandom(mix(mix(seed, step), micro))},
 * consumed token by token in batch order (two draws per token: selection, then the 80/10/10 choice and,
 * for random replacement, the token). The training loop passes its optimizer step and the microbatch
 * index within the step, so a resumed run masks exactly as before.
 */
public final class MlmMasker {

    private final double rate;
    private final int vocabSize;
    private final SpecialTokens specials;
    private final long seed;

    public MlmMasker(double rate, int vocabSize, SpecialTokens specials, long seed) {
        if (!(rate >= 0 && rate < 1)) throw new IllegalArgumentException("mask rate must be in [0, 1), got " + rate);
        if (vocabSize <= 5) throw new IllegalArgumentException("vocab size too small: " + vocabSize);
        this.rate = rate;
        this.vocabSize = vocabSize;
        this.specials = specials;
        this.seed = seed;
    }

    public double rate() { return rate; }

    /** A masked copy of {@code batch} (input ids replaced, MLM labels set); the input is not modified. */
    public Batch mask(Batch batch, long step, int microbatch) {
        return mask(batch, step, microbatch, rate);
    }

    /** As {@link #mask(Batch, long, int)} at another rate (a rate that changes over training). */
    public Batch mask(Batch batch, long step, int microbatch, double rate) {
        if (!(rate >= 0 && rate < 1)) throw new IllegalArgumentException("mask rate must be in [0, 1), got " + rate);
        int[] ids = batch.inputIds().clone();
        int[] labels = new int[ids.length];
        SplittableRandom rnd = new SplittableRandom(DataOrder.mix(DataOrder.mix(seed, step), microbatch));
        for (int i = 0; i < ids.length; i++) {
            int orig = ids[i];
            labels[i] = Batch.IGNORE;
            if (specials.isSpecial(orig)) continue;
            if (rnd.nextDouble() >= rate) continue;
            labels[i] = orig;
            double r = rnd.nextDouble();
            if (r < 0.8) {
                ids[i] = specials.mask();
            } else if (r < 0.9) {
                ids[i] = randomToken(rnd);
            }
        }
        return batch.withMlm(ids, labels);
    }

    private int randomToken(SplittableRandom rnd) {
        int t;
        do {
            t = rnd.nextInt(vocabSize);
        } while (specials.isSpecial(t));
        return t;
    }
}
