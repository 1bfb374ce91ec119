// Stop-gap for a missing CLI command: turns a PyTorch-exported BERT ONNX file (e.g. all-MiniLM-L6-v2 from
// langchain4j) into a Tessera/HF checkpoint directory, with the repo's own OnnxBertImporter + HfCheckpoint
// (exactly what MiniLmRealWeightsTest does). Run as a Java single-file program on the packaged jar's classpath:
//   java -cp 'target/quarkus-app/app/*:target/quarkus-app/lib/main/*' bench/compare/ImportOnnx.java \
//        model.onnx tokenizer.json OUT_DIR
import dev.tessera.hf.HfCheckpoint;
import dev.tessera.model.BertModel;
import dev.tessera.onnx.OnnxBertImporter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

public class ImportOnnx {
    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: ImportOnnx MODEL.onnx TOKENIZER.json OUT_DIR");
            System.exit(2);
        }
        BertModel m = OnnxBertImporter.load(Path.of(args[0]));
        Path out = Path.of(args[2]);
        HfCheckpoint.save(m, out);
        Files.copy(Path.of(args[1]), out.resolve("tokenizer.json"), StandardCopyOption.REPLACE_EXISTING);
        System.out.println("wrote " + out + ": " + m.config());
    }
}
