package dev.tessera.cli;

import dev.tessera.kernels.NativeException;
import dev.tessera.study.Study;
import dev.tessera.study.StudySpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code study --spec FILE.yaml}: runs the study's grid; a killed study continues where it stopped. Exit
 * codes: 0 done, 2 bad spec or data, 1 failure, 130 interrupted (resumable).
 */
@Command(name = "study", mixinStandardHelpOptions = true,
        description = "Run a study (pretraining budgets × architectures, finetuning at label budgets, TF-IDF baseline): "
                + "results.json/.csv and PNG plots; resumable.")
public final class StudyCommand implements Callable<Integer> {

    @Spec CommandSpec spec;

    @Option(names = "--spec", required = true, description = "Study YAML (see bench/studies/).")
    Path specFile;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        StudySpec s;
        try {
            s = StudySpec.load(specFile);
        } catch (IllegalArgumentException e) {
            err.println(e.getMessage());
            return 2;
        }
        // Ctrl-C / SIGTERM: the running cell checkpoints; the next start resumes it
        try (GracefulStop stop = new GracefulStop("stop-study")) {
            boolean finished = new Study(s, new ConsoleProgress(out, ConsoleProgress.isTerminal()), stop::requested).run();
            out.println(finished ? "study done: " + Path.of(s.output()).resolve("results.json")
                    : "study stopped; run the same command to continue");
            return finished ? 0 : 130;
        } catch (NativeException | UncheckedIOException e) {
            err.println("study failed: " + e.getMessage());
            return 1;
        } catch (IllegalArgumentException e) {
            err.println("error: " + e.getMessage());
            return 2;
        }
    }
}
