package dev.tessera.cli;

import dev.tessera.kernels.NativeException;
import dev.tessera.train.Recipe;
import dev.tessera.train.RecipeException;
import dev.tessera.train.RecipeOverrides;
import dev.tessera.train.TrainOptions;
import dev.tessera.train.Trainer;
import dev.tessera.train.TrainingOutcome;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * Options shared by {@code pretrain} and {@code finetune}. Exit codes: 0 done, 2 bad recipe or data (reported
 * before any training step), 1 failure during training, 130 interrupted.
 */
abstract class TrainCommandBase implements Callable<Integer> {

    @Spec CommandSpec spec;

    @Option(names = "--recipe", required = true, description = "Recipe YAML (see train/recipes/).")
    Path recipe;

    @Option(names = "--output", description = "Output directory (overrides training.output_dir).")
    Path output;

    @Option(names = "--resume", description = "Require a checkpoint in the output directory to resume from "
            + "(a checkpoint found there is resumed anyway).")
    boolean resume;

    @Option(names = "--max-steps", description = "Total optimizer steps (overrides training.max_steps / epochs).")
    Long maxSteps;

    @Option(names = "--stop-after", description = "Stop (with a checkpoint) after this many steps without changing the schedule.")
    Long stopAfter;

    @Option(names = "--threads", defaultValue = "0", description = "CPU threads of the native backend (default: all cores, "
            + "divided by the ranks on this machine: --nproc or LOCAL_WORLD_SIZE).")
    int threads;

    @Option(names = "--nproc", defaultValue = "1", description = "Start this many ranks on this machine, one process each "
            + "(data-parallel training, like torchrun --nproc-per-node). On several machines start one process per rank "
            + "with RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT set instead.")
    int nproc;

    @Option(names = "--master-port", description = "Rendezvous port of rank 0 with --nproc (default: a free port).")
    Integer masterPort;

    @Option(names = "--device", description = "cpu or cuda (overrides training.device).")
    String device;

    @Option(names = "--peak-tflops", defaultValue = "0", description = "Peak TFLOP/s of the device; enables the MFU column.")
    double peakTflops;

    @Option(names = "--set", description = "Recipe override, dotted key=value (repeatable), e.g. --set batch.global_batch=32.")
    List<String> sets = new ArrayList<>();

    /** Command-specific overrides (dotted recipe keys). */
    Map<String, Object> extraOverrides() { return Map.of(); }

    abstract Recipe.Kind kind();

    /** What to print when the run reached its last step. */
    abstract String done(TrainingOutcome res);

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        Recipe r;
        try {
            r = loadRecipe();
        } catch (IllegalArgumentException | UncheckedIOException e) {
            err.println(e.getMessage());
            return 2;
        }
        if (r.kind() != kind()) {
            err.println(recipe + " is a " + r.kind().name().toLowerCase() + " recipe; use the `" + r.kind().name().toLowerCase() + "` command");
            return 2;
        }
        int cores = Runtime.getRuntime().availableProcessors();
        if (nproc < 1 || nproc > 256) {
            err.println("--nproc must be between 1 and 256");
            return 2;
        }
        if (nproc > 1) {
            String ws = System.getenv("WORLD_SIZE");
            if (ws != null && !ws.isBlank() && !ws.trim().equals("1")) {
                err.println("--nproc starts the ranks of one machine itself; WORLD_SIZE=" + ws + " is set (several machines: "
                        + "start one process per rank with RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT, without --nproc)");
                return 2;
            }
            return LocalLauncher.run(rankArgs(), nproc, masterPort, threads > 0 ? threads : Math.max(1, cores / nproc), out, err);
        }
        int nthreads = threads;
        String lws = System.getenv("LOCAL_WORLD_SIZE");
        if (nthreads == 0 && lws != null && lws.matches("[1-9][0-9]*")) nthreads = Math.max(1, cores / Integer.parseInt(lws));
        ConsoleProgress progress = new ConsoleProgress(out, ConsoleProgress.isTerminal());
        // Ctrl-C / SIGTERM: stop between two steps and write a checkpoint before the JVM exits
        try (GracefulStop stop = new GracefulStop("stop-training")) {
            TrainOptions opts = TrainOptions.defaults().withOutputDir(output).withRequireResume(resume).withStopAfter(stopAfter)
                    .withThreads(nthreads).withDistributed(true).withPeakFlops(peakTflops * 1e12).withListener(progress)
                    .withCancel(stop::requested);
            TrainingOutcome res = Trainer.of(r, opts).run();
            out.println(res.cancelled() || res.finalDir() == null
                    ? "stopped at step " + res.steps() + "/" + res.totalSteps() + "; checkpoints in " + res.outputDir()
                    : done(res));
            return stop.requested() ? 130 : 0;
        } catch (NativeException e) {
            err.println("training failed: " + e.getMessage());
            return 1;
        } catch (IllegalArgumentException e) {
            err.println("error: " + e.getMessage());
            return 2;
        } catch (RuntimeException e) {
            err.println("training failed: " + e);
            return 1;
        }
    }

    /** This command's arguments without the launcher's own options (--nproc, --master-port, --threads). */
    private List<String> rankArgs() {
        List<String> in = spec.commandLine().getParseResult().originalArgs(), outArgs = new ArrayList<>();
        for (int i = 0; i < in.size(); i++) {
            String a = in.get(i);
            boolean ours = a.equals("--nproc") || a.equals("--master-port") || a.equals("--threads");
            if (ours) {
                i++; // and its value
                continue;
            }
            if (a.startsWith("--nproc=") || a.startsWith("--master-port=") || a.startsWith("--threads=")) continue;
            outArgs.add(a);
        }
        // the subcommand's own arguments: put the subcommand name first
        if (outArgs.isEmpty() || !outArgs.get(0).equals(spec.name())) outArgs.add(0, spec.name());
        return outArgs;
    }

    Recipe loadRecipe() {
        String text;
        try {
            text = Files.readString(recipe);
        } catch (IOException e) {
            throw new RecipeException(recipe.toString(), List.of("cannot read: " + e.getMessage()));
        }
        Map<String, Object> ov = new LinkedHashMap<>(extraOverrides());
        if (maxSteps != null) {
            ov.put("training.max_steps", maxSteps);
            ov.put("training.epochs", null);
        }
        if (device != null) ov.put("training.device", device);
        ov.putAll(RecipeOverrides.parsePairs(sets));
        return Recipe.parse(RecipeOverrides.apply(text, ov, recipe.toString()), recipe.toString());
    }
}
