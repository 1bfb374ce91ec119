package dev.tessera.cli;

import dev.tessera.hf.HfCheckpoint;
import dev.tessera.model.BertModel;
import dev.tessera.onnx.OnnxExporter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code export --model DIR --dialect portable --output FILE.onnx}. */
@Command(name = "export", mixinStandardHelpOptions = true, description = "Export a checkpoint directory to ONNX.")
public final class ExportCommand implements Callable<Integer> {
    /** Dialects that can be written today (DESIGN.md §4 also plans {@code ort} and {@code tessera}). */
    static final List<String> SUPPORTED_DIALECTS = List.of(OnnxExporter.PORTABLE);

    @Spec CommandSpec spec;

    @Option(names = "--model", required = true, description = "Checkpoint directory (Hugging Face layout).")
    Path model;

    @Option(names = "--dialect", defaultValue = "portable",
            description = "ONNX dialect; supported: portable (standard opset 17, runs in any ONNX runtime).")
    String dialect;

    @Option(names = "--output", required = true, description = "Output .onnx file.")
    Path output;

    @Override
    public Integer call() throws Exception {
        if (!SUPPORTED_DIALECTS.contains(dialect)) {
            throw new ParameterException(spec.commandLine(), "unsupported ONNX dialect '" + dialect
                    + "'; supported: " + String.join(", ", SUPPORTED_DIALECTS));
        }
        BertModel m;
        try {
            m = HfCheckpoint.load(model);
        } catch (IllegalArgumentException e) {
            spec.commandLine().getErr().println("cannot load checkpoint " + model + ": " + e.getMessage());
            return 1;
        }
        try {
            OnnxExporter.write(m, output);
        } catch (IllegalArgumentException e) {
            spec.commandLine().getErr().println("cannot export " + model + ": " + e.getMessage());
            return 1;
        }
        var c = m.config();
        spec.commandLine().getOut().printf("exported %s (%s, %s head, %d layers, hidden %d) to %s [%s]%n", model,
                c.variant(), c.head(), c.numLayers(), c.hiddenSize(), output, dialect);
        return 0;
    }
}
