package dev.tessera.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.hf.HfCheckpoint;
import dev.tessera.model.BertModel;
import dev.tessera.model.Head;
import dev.tessera.model.Variant;
import dev.tessera.tokenize.Encoding;
import dev.tessera.tokenize.TextTokenizer;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The shipped demo model (checkpoints/imdb-sentiment, trained by the IMDB recipes) loads through the
 * bridge, exports, and tells clearly positive from clearly negative reviews — also past its 256-token
 * finetuning length, which only ALiBi makes possible. In every dialect and precision.
 */
class DemoModelTest {
    static final Path DEMO = Path.of("checkpoints/imdb-sentiment");

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"PORTABLE, FP32", "ORT, FP32", "PORTABLE, INT8", "ORT, INT8"})
    void demoModelClassifiesObviousReviews(Dialect dialect, Precision precision) throws Exception {
        BertModel model = HfCheckpoint.load(DEMO);
        assertEquals(Variant.MOSAIC_BERT, model.config().variant());
        assertEquals(Head.CLASSIFICATION, model.config().head());
        assertEquals(List.of("negative", "positive"), model.config().labels());
        String good = "A wonderful, moving film. The acting is superb and the story is beautiful; I loved every minute of it.";
        String bad = "A boring, stupid movie with terrible acting. The worst film I have seen in years, a complete waste of time.";
        try (TextTokenizer tok = TextTokenizer.load(DEMO);
             OrtRunner ort = new OrtRunner(OnnxExporter.export(model, dialect, precision))) {
            assertTrue(positiveMinusNegative(ort, tok.encode(good)) > 2, "positive review scores positive");
            assertTrue(positiveMinusNegative(ort, tok.encode(bad)) < -2, "negative review scores negative");
            Encoding longBad = tok.encode((bad + " ").repeat(30)); // ~800 tokens, 3x the finetuning length
            assertTrue(longBad.length() > 700);
            assertTrue(positiveMinusNegative(ort, longBad) < -2, "long negative review scores negative");
        }
    }

    private static float positiveMinusNegative(OrtRunner ort, Encoding e) throws Exception {
        long[] mask = e.attentionMask();
        float[] logits = ort.run(new long[][] {e.ids()}, new long[][] {mask}, new long[][] {e.typeIds()}).get("logits").data();
        return logits[1] - logits[0];
    }
}
