package dev.tessera.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code export --model DIR --dialect portable --output FILE.onnx}. Filled in by the ONNX export work. */
@Command(name = "export", mixinStandardHelpOptions = true, description = "Export a checkpoint directory to ONNX.")
public final class ExportCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Checkpoint directory (Hugging Face layout).")
    Path model;

    @Option(names = "--dialect", defaultValue = "portable", description = "ONNX dialect: ${COMPLETION-CANDIDATES}.")
    String dialect;

    @Option(names = "--output", required = true, description = "Output .onnx file.")
    Path output;

    @Override
    public Integer call() {
        return 1;
    }
}
