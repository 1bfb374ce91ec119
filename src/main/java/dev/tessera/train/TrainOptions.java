package dev.tessera.train;

import dev.tessera.io.FileAccess;
import java.nio.file.Path;
import java.util.function.BooleanSupplier;

/**
 * How to run a recipe (what is not part of the recipe itself).
 *
 * @param outputDir     overrides {@code training.output_dir} (null: the recipe's)
 * @param requireResume fail unless the output directory has a checkpoint to resume from (without it, a
 *                      checkpoint found there is resumed anyway, and a fresh run starts otherwise)
 * @param stopAfterStep stop (after checkpointing) once this many optimizer steps are done, without
 *                      changing the schedule; null = run to the end. Used to simulate a kill.
 * @param threads       CPU threads of the native backend (0 = its default)
 * @param peakFlops     peak FLOP/s of the device for MFU (0 = unknown, no MFU)
 * @param cancelled     polled between steps; true stops the run (cooperative cancel)
 * @param distributed   join the data-parallel job the environment describes (WORLD_SIZE &gt; 1; see
 *                      {@link DataParallel}); false (HTTP jobs, studies): always a single process
 * @param access        where the run may read and write: every recipe path goes through it when the run starts
 */
public record TrainOptions(Path outputDir, boolean requireResume, Long stopAfterStep, int threads, double peakFlops,
                           BooleanSupplier cancelled, TrainingListener listener, boolean distributed, FileAccess access) {

    /** Where a run of this recipe writes: the override, else the recipe's {@code training.output_dir}. */
    public Path outputDirFor(Recipe recipe) {
        return outputDir != null ? outputDir : Path.of(recipe.training().outputDir());
    }

    public static TrainOptions defaults() {
        return new TrainOptions(null, false, null, 0, 0, () -> false, TrainingListener.NONE, false, FileAccess.UNCONFINED);
    }

    public TrainOptions withOutputDir(Path dir) { return new TrainOptions(dir, requireResume, stopAfterStep, threads, peakFlops, cancelled, listener, distributed, access); }

    public TrainOptions withStopAfter(Long step) { return new TrainOptions(outputDir, requireResume, step, threads, peakFlops, cancelled, listener, distributed, access); }

    public TrainOptions withListener(TrainingListener l) { return new TrainOptions(outputDir, requireResume, stopAfterStep, threads, peakFlops, cancelled, l, distributed, access); }

    public TrainOptions withCancel(BooleanSupplier c) { return new TrainOptions(outputDir, requireResume, stopAfterStep, threads, peakFlops, c, listener, distributed, access); }

    public TrainOptions withThreads(int n) { return new TrainOptions(outputDir, requireResume, stopAfterStep, n, peakFlops, cancelled, listener, distributed, access); }

    public TrainOptions withPeakFlops(double f) { return new TrainOptions(outputDir, requireResume, stopAfterStep, threads, f, cancelled, listener, distributed, access); }

    public TrainOptions withDistributed(boolean d) { return new TrainOptions(outputDir, requireResume, stopAfterStep, threads, peakFlops, cancelled, listener, d, access); }

    public TrainOptions withAccess(FileAccess a) { return new TrainOptions(outputDir, requireResume, stopAfterStep, threads, peakFlops, cancelled, listener, distributed, a); }

    public TrainOptions withRequireResume(boolean r) { return new TrainOptions(outputDir, r, stopAfterStep, threads, peakFlops, cancelled, listener, distributed, access); }
}
