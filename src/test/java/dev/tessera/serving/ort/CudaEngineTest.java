package dev.tessera.serving.ort;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtProvider;
import dev.tessera.hf.HfCheckpoint;
import dev.tessera.model.BertModel;
import dev.tessera.onnx.Dialect;
import dev.tessera.onnx.Precision;
import dev.tessera.serving.Batch;
import dev.tessera.serving.Device;
import dev.tessera.serving.Engine;
import dev.tessera.serving.Output;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The CUDA execution provider against the CPU one (the reference), for every dialect, on mixed-length
 * batches. Needs the {@code -Pgpu} build and a GPU with CUDA 12 + cuDNN 9: anywhere else it is skipped, and
 * says so. Tolerance 1e-4·max|logit| + 1e-5: both run fp32, the CUDA kernels reduce in other orders (and
 * cuBLAS may use TF32 only if enabled, which ORT does not do by default).
 */
class CudaEngineTest {

    @ParameterizedTest
    @EnumSource(Dialect.class)
    void cudaMatchesTheCpu(Dialect dialect) throws Exception {
        Assumptions.assumeTrue(OrtEnvironment.getAvailableProviders().contains(OrtProvider.CUDA),
                "SKIPPED: this ONNX Runtime build has no CUDA execution provider (build with -Pgpu on a GPU machine)");
        BertModel model = HfCheckpoint.load(Path.of("src/test/resources/fixtures/mosaic-cls12"));
        Random r = new Random(7);
        List<long[]> ids = new ArrayList<>(), types = new ArrayList<>();
        for (int len : new int[] {1, 9, 33, 70}) {
            long[] s = new long[len];
            for (int j = 0; j < len; j++) s[j] = 1 + r.nextInt(model.config().vocabSize() - 1);
            ids.add(s);
            types.add(new long[len]);
        }
        Batch batch = Batch.pack(ids, types, EnumSet.of(Output.LOGITS, Output.EMBEDDING));
        try (Engine cpu = OrtEngines.open("cpu", model, new OrtEngines.Options(Optional.of(dialect), Precision.FP32, Device.CPU, 0));
             Engine cuda = OrtEngines.open("cuda", model, new OrtEngines.Options(Optional.of(dialect), Precision.FP32, Device.CUDA, 0))) {
            assertEquals("cuda", cuda.description().device(), "CUDA did not start: " + cuda.description().note());
            Engine.Result a = cpu.run(batch), b = cuda.run(batch);
            for (int i = 0; i < batch.size(); i++) {
                float max = 0;
                for (float v : a.logits()[i]) max = Math.max(max, Math.abs(v));
                for (int k = 0; k < a.logits()[i].length; k++) {
                    double d = Math.abs(a.logits()[i][k] - b.logits()[i][k]);
                    assertTrue(d <= 1e-4 * max + 1e-5, dialect + " seq " + i + " logit " + k + ": |Δ| " + d);
                }
            }
        }
    }
}
