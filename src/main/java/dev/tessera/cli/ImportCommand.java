package dev.tessera.cli;

import dev.tessera.hf.HfCheckpoint;
import dev.tessera.io.AtomicFiles;
import dev.tessera.model.BertModel;
import dev.tessera.onnx.OnnxBertImporter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code import --onnx model.onnx --tokenizer tokenizer.json --output DIR}: a BERT exported to ONNX by PyTorch /
 * HF Optimum (every weight an initializer, e.g. all-MiniLM-L6-v2) becomes a checkpoint directory Tessera serves,
 * finetunes and exports.
 */
@Command(name = "import", mixinStandardHelpOptions = true,
        description = "Import a BERT ONNX file (weights as initializers) into a checkpoint directory.")
public final class ImportCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--onnx", required = true, description = "The ONNX file.")
    Path onnx;

    @Option(names = "--tokenizer", required = true, description = "Its tokenizer.json (Hugging Face tokenizers format).")
    Path tokenizer;

    @Option(names = "--heads", description = "Attention heads, when the graph does not tell.")
    Integer heads;

    @Option(names = "--output", required = true, description = "Checkpoint directory to write (Hugging Face layout).")
    Path output;

    @Override
    public Integer call() throws Exception {
        if (!Files.isRegularFile(tokenizer)) {
            spec.commandLine().getErr().println("no tokenizer file " + tokenizer);
            return 1;
        }
        BertModel model;
        try {
            model = heads == null ? OnnxBertImporter.load(onnx) : OnnxBertImporter.load(onnx, heads);
        } catch (IllegalArgumentException | java.io.IOException e) {
            spec.commandLine().getErr().println("cannot import " + onnx + ": " + e.getMessage());
            return 1;
        }
        HfCheckpoint.save(model, output);
        byte[] tok = Files.readAllBytes(tokenizer);
        AtomicFiles.writeStream(output.resolve("tokenizer.json"), out -> out.write(tok));
        var c = model.config();
        spec.commandLine().getOut().printf("imported %s (%s, %s head, %d layers, hidden %d, %d heads) to %s%n", onnx,
                c.variant(), c.head(), c.numLayers(), c.hiddenSize(), c.numHeads(), output);
        return 0;
    }
}
