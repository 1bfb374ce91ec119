package dev.tessera.train;

/**
 * Linear warmup then linear decay (MosaicBERT / Composer's LinearWithWarmup).
 *
 * <p>With T total steps, W = round(warmupFraction·T) warmup steps and final fraction f, the learning rate
 * for optimizer step t (0-based) is
 * <pre>
 *   t &lt; W :  peak · t / W                                  (step 0 runs at 0, as in HF's linear schedule)
 *   t ≥ W :  peak · (f + (1 − f) · (T − t) / (T − W))        (reaches peak at t = W and f·peak at t = T)
 *   t ≥ T :  peak · f
 * </pre>
 * Pretraining uses f = 0.02 (the reference recipe's alpha_f), finetuning f = 0.
 */
public record LrSchedule(double peakLr, double warmupFraction, double finalFraction, long totalSteps) {

    public LrSchedule {
        if (!(peakLr > 0) || !Double.isFinite(peakLr)) throw new IllegalArgumentException("peak lr must be > 0, got " + peakLr);
        if (!(warmupFraction >= 0 && warmupFraction <= 1)) throw new IllegalArgumentException("warmup fraction must be in [0, 1], got " + warmupFraction);
        if (!(finalFraction >= 0 && finalFraction <= 1)) throw new IllegalArgumentException("final lr fraction must be in [0, 1], got " + finalFraction);
        if (totalSteps < 1) throw new IllegalArgumentException("total steps must be >= 1, got " + totalSteps);
    }

    public long warmupSteps() { return Math.round(warmupFraction * totalSteps); }

    /**
     * The same shape over a share of the run instead of steps ({@code training.time_budget_minutes}: the share of the
     * budget spent): {@code peak·p/w} while {@code p < w}, then linear from peak to {@code f·peak} at {@code p = 1}.
     */
    public double lrAt(double progress) {
        if (!(progress >= 0)) throw new IllegalArgumentException("progress must be >= 0, got " + progress);
        if (progress < warmupFraction) return peakLr * progress / warmupFraction;
        if (progress >= 1) return peakLr * finalFraction;
        return peakLr * (finalFraction + (1 - finalFraction) * (1 - progress) / (1 - warmupFraction));
    }

    public double lr(long step) {
        if (step < 0) throw new IllegalArgumentException("negative step " + step);
        long w = warmupSteps();
        if (step < w) return peakLr * step / w;
        if (step >= totalSteps) return peakLr * finalFraction;
        double remaining = (double) (totalSteps - step) / (totalSteps - w);
        return peakLr * (finalFraction + (1 - finalFraction) * remaining);
    }
}
