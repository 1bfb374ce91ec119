package dev.tessera.cli;

import dev.tessera.plot.Charts;
import dev.tessera.train.Checkpointer;
import dev.tessera.train.TrainingState;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code plot --checkpoint DIR --output loss.png}: the loss curve of a training run (or job) from its checkpoint. */
@Command(name = "plot", mixinStandardHelpOptions = true,
        description = "Plot the training and held-out loss of a run from a checkpoint's training_state.json (PNG).")
public final class PlotCommand implements Callable<Integer> {

    @Spec CommandSpec spec;

    @Option(names = "--checkpoint", required = true, description = "A checkpoint directory (e.g. OUTPUT/final or OUTPUT/best).")
    Path checkpoint;

    @Option(names = "--output", required = true, description = "PNG file to write.")
    Path output;

    @Override
    public Integer call() {
        if (!Files.isRegularFile(checkpoint.resolve(Checkpointer.STATE))) {
            spec.commandLine().getErr().println("no " + Checkpointer.STATE + " in " + checkpoint);
            return 2;
        }
        TrainingState st = Checkpointer.readState(checkpoint);
        Charts.lossCurve(st, st.kind() + " — " + checkpoint, output);
        spec.commandLine().getOut().println("wrote " + output);
        return 0;
    }
}
