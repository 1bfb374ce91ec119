package dev.tessera.cli;

import dev.tessera.hf.HfCheckpoint;
import dev.tessera.model.BertModel;
import dev.tessera.onnx.Dialect;
import dev.tessera.onnx.OnnxExporter;
import dev.tessera.onnx.Precision;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code export --model DIR [--dialect portable|ort|tessera] [--precision fp32|int8] --output FILE.onnx}. */
@Command(name = "export", mixinStandardHelpOptions = true, description = "Export a checkpoint directory to ONNX.")
public final class ExportCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--model", required = true, description = "Checkpoint directory (Hugging Face layout).")
    Path model;

    @Option(names = "--dialect", defaultValue = "portable",
            description = "ONNX dialect: portable (standard opset 17, any ONNX runtime), ort (ONNX Runtime's fused "
                    + "com.microsoft operators), tessera (packed tokens and the tessera custom ops; needs libtessera_ortops.so to run). Default: ${DEFAULT-VALUE}.")
    String dialect;

    @Option(names = "--precision", defaultValue = "fp32",
            description = "fp32, or int8 (dynamic quantization of the encoder's matmuls, per-channel int8 weights). "
                    + "Default: ${DEFAULT-VALUE}.")
    String precision;

    @Option(names = "--output", required = true, description = "Output .onnx file.")
    Path output;

    @Override
    public Integer call() throws Exception {
        Dialect d;
        Precision p;
        try {
            d = Dialect.parse(dialect);
            p = Precision.parse(precision);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        BertModel m;
        try {
            m = HfCheckpoint.load(model);
        } catch (IllegalArgumentException e) {
            spec.commandLine().getErr().println("cannot load checkpoint " + model + ": " + e.getMessage());
            return 1;
        }
        try {
            OnnxExporter.write(m, d, p, output);
        } catch (IllegalArgumentException e) {
            spec.commandLine().getErr().println("cannot export " + model + ": " + e.getMessage());
            return 1;
        }
        var c = m.config();
        spec.commandLine().getOut().printf("exported %s (%s, %s head, %d layers, hidden %d) to %s [%s, %s]%n", model,
                c.variant(), c.head(), c.numLayers(), c.hiddenSize(), output, d.id(), p.id());
        return 0;
    }
}
