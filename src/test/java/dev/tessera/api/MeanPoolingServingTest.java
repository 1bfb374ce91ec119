package dev.tessera.api;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tessera.data.Batch;
import dev.tessera.hf.HfCheckpoint;
import dev.tessera.kernels.NativeLibrary;
import dev.tessera.kernels.NativeModel;
import dev.tessera.model.BertModel;
import dev.tessera.model.ClassifierPooling;
import dev.tessera.tokenize.Encoding;
import dev.tessera.tokenize.TextTokenizer;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A mean-pooled classifier checkpoint ({@code classifier_pooling: "mean"} in config.json: the fixture mosaic-cls12's
 * weights) served over HTTP in each ONNX dialect scores what the native forward of the same checkpoint scores, and not
 * what the [CLS]-pooled original scores. Tolerance on raw logits |Δ| ≤ 2e-5 + 2e-5·|native|, OnnxExportFixtureTest's
 * fp32 bound: both are fp32 and differ only in their kernels' summation orders.
 */
@QuarkusTest
@TestProfile(MeanPoolingServingTest.Profile.class)
class MeanPoolingServingTest {
    static final List<String> DIALECTS = List.of("portable", "ort", "tessera");
    /** Of different lengths, so a batch pads the shorter ones: padding must not enter their means. */
    static final List<String> TEXTS = List.of("the movie was good", "bad", "was the movie good or bad , the acting was bad");

    /** Own model directory (temporary): mean-DIALECT, each served in its dialect, and cls-portable, the original. */
    public static class Profile implements QuarkusTestProfile {
        static final Path ROOT;
        static {
            try {
                ROOT = Files.createTempDirectory("tessera-mean-pooling");
                Path src = Path.of("src/test/resources/fixtures/mosaic-cls12");
                for (String d : DIALECTS) copy(src, ROOT.resolve("mean-" + d), true);
                copy(src, ROOT.resolve("cls-portable"), false);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        static void copy(Path src, Path dst, boolean mean) throws IOException {
            Files.createDirectories(dst);
            try (var files = Files.list(src)) {
                for (Path f : files.toList()) Files.copy(f, dst.resolve(f.getFileName()));
            }
            if (mean) {
                ObjectMapper json = new ObjectMapper();
                ObjectNode cfg = (ObjectNode) json.readTree(dst.resolve("config.json").toFile());
                cfg.put("classifier_pooling", "mean");
                json.writeValue(dst.resolve("config.json").toFile(), cfg);
            }
        }

        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("tessera.models.dir", ROOT.toString(), "tessera.models.default", "cls-portable",
                    "tessera.model.\"cls-portable\".dialect", "portable",
                    "tessera.model.\"mean-portable\".dialect", "portable",
                    "tessera.model.\"mean-ort\".dialect", "ort",
                    "tessera.model.\"mean-tessera\".dialect", "tessera");
        }
    }

    @BeforeEach
    void waitUntilReady() {
        Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> given().get("/health/ready").statusCode() == 200);
    }

    /** Raw logits per text, in label order, of one batched /predict request. */
    private static float[][] served(String model, List<String> labels) {
        List<List<String>> batch = TEXTS.stream().map(List::of).toList();
        List<List<Map<String, Object>>> out = given().contentType(ContentType.JSON)
                .body(Map.of("inputs", batch, "raw_scores", true)).post("/v1/models/" + model + "/predict")
                .then().statusCode(200).extract().jsonPath().getList("$");
        float[][] logits = new float[TEXTS.size()][labels.size()];
        for (int i = 0; i < TEXTS.size(); i++) {
            for (Map<String, Object> ls : out.get(i)) logits[i][labels.indexOf((String) ls.get("label"))] = ((Number) ls.get("score")).floatValue();
        }
        return logits;
    }

    /** The native CPU forward of the checkpoint on the same token ids. */
    private static float[][] nativeLogits(Path dir) {
        BertModel model = HfCheckpoint.load(dir);
        int n = model.config().numLabels();
        List<Integer> ids = new ArrayList<>(), types = new ArrayList<>();
        int[] lengths = new int[TEXTS.size()];
        try (TextTokenizer tok = TextTokenizer.load(dir)) {
            for (int i = 0; i < TEXTS.size(); i++) {
                Encoding e = tok.encode(TEXTS.get(i));
                lengths[i] = e.length();
                for (int t = 0; t < e.length(); t++) {
                    ids.add((int) e.ids()[t]);
                    types.add((int) e.typeIds()[t]);
                }
            }
        }
        Batch b = Batch.of(ids.stream().mapToInt(Integer::intValue).toArray(), types.stream().mapToInt(Integer::intValue).toArray(),
                Batch.cuSeqlens(lengths), null, null, null);
        try (NativeModel nm = NativeModel.fromBertModel(model, 0f, 0f, 256, 8, NativeLibrary.Backend.CPU)) {
            float[][] out = new float[1][];
            nm.forward(b, 0, 0, false, out);
            float[][] logits = new float[TEXTS.size()][n];
            for (int i = 0; i < TEXTS.size(); i++) System.arraycopy(out[0], i * n, logits[i], 0, n);
            return logits;
        }
    }

    @Test
    void everyDialectServesTheNativeMeanPooledScores() {
        Path dir = Profile.ROOT.resolve("mean-portable");
        assertEquals(ClassifierPooling.MEAN, HfCheckpoint.load(dir).config().classifierPooling());
        List<String> labels = List.of("negative", "neutral", "positive");
        float[][] want = nativeLogits(dir);
        float[][] cls = served("cls-portable", labels);
        double clsMoved = 0;
        for (String d : DIALECTS) {
            given().get("/v1/models/mean-" + d).then().statusCode(200)
                    .body("dialect", equalTo(d)).body("architecture.classifier_pooling", equalTo("mean"));
            float[][] got = served("mean-" + d, labels);
            double worst = 0;
            for (int i = 0; i < TEXTS.size(); i++) {
                for (int c = 0; c < labels.size(); c++) {
                    double diff = Math.abs(got[i][c] - want[i][c]);
                    worst = Math.max(worst, diff);
                    assertTrue(diff <= 2e-5 + 2e-5 * Math.abs(want[i][c]),
                            d + ": \"" + TEXTS.get(i) + "\" " + labels.get(c) + " served " + got[i][c] + ", native " + want[i][c]);
                    clsMoved = Math.max(clsMoved, Math.abs(cls[i][c] - want[i][c]));
                }
            }
            System.out.printf("mean-pooled classifier served (%s): max |Δ| vs native %.2e%n", d, worst);
        }
        given().get("/v1/models/cls-portable").then().statusCode(200).body("architecture.classifier_pooling", equalTo("cls"));
        assertTrue(clsMoved > 1e-2, "the [CLS]-pooled original scores the same as the mean-pooled model (max |Δ| " + clsMoved + ")");
    }
}
