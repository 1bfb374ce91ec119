package dev.tessera.serving.heads;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.model.ClassifierPooling;
import dev.tessera.model.Head;
import dev.tessera.model.ModelConfig;
import dev.tessera.model.Variant;
import dev.tessera.serving.ServingException;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The heads' numbers against values worked out by hand (exp and the logistic function to nine places; tolerance
 * 1e-6, float's precision near 1), and which head a config gets and what each refuses.
 */
class OutputHeadTest {
    private static final float TOL = 1e-6f;

    // softmax([1, 2, 3]) = [e^-2, e^-1, 1] / (e^-2 + e^-1 + 1); e^-2 = 0.135335283, e^-1 = 0.367879441, sum 1.503214724
    private static final float[] SOFTMAX_123 = {0.090030573f, 0.244728471f, 0.665240956f};
    // sigmoid(2) = 1 / (1 + e^-2) = 1 / 1.135335283; sigmoid(-1) = 1 / (1 + e) = 1 / 3.718281828
    private static final float SIGMOID_2 = 0.880797078f, SIGMOID_MINUS_1 = 0.268941421f;

    @Test
    void softmaxMatchesHandComputedValuesAndDoesNotOverflow() {
        assertArrayEquals(SOFTMAX_123, Classifier.softmax(new float[] {1, 2, 3}), TOL);
        assertArrayEquals(SOFTMAX_123, Classifier.softmax(new float[] {1001, 1002, 1003}), TOL, "shift-invariant, no overflow");
        assertArrayEquals(new float[] {0.5f, 0.5f}, Classifier.softmax(new float[] {-1000, -1000}), TOL);
    }

    @Test
    void sigmoidMatchesHandComputedValues() {
        assertEquals(0.5f, Classifier.sigmoid(0), TOL);
        assertEquals(SIGMOID_2, Classifier.sigmoid(2), TOL);
        assertEquals(SIGMOID_MINUS_1, Classifier.sigmoid(-1), TOL);
    }

    @Test
    void classifierPredictsSoftmaxScoresBestFirstWithTheirLabels() {
        Classifier c = new Classifier(List.of("neg", "pos", "neu"), false);
        List<LabelScore> row = c.predict(new float[] {1, 3, 2}, false);
        assertEquals(List.of("pos", "neu", "neg"), row.stream().map(LabelScore::label).toList());
        assertEquals(SOFTMAX_123[2], row.get(0).score(), TOL);
        assertEquals(SOFTMAX_123[1], row.get(1).score(), TOL);
        assertEquals(SOFTMAX_123[0], row.get(2).score(), TOL);
        List<LabelScore> raw = c.predict(new float[] {1, 3, 2}, true);
        assertEquals(List.of(new LabelScore("pos", 3), new LabelScore("neu", 2), new LabelScore("neg", 1)), raw);
        assertEquals("single_label_classification", c.problemType());
    }

    @Test
    void aMultiLabelClassifierScoresEachLabelByItsSigmoid() {
        Classifier c = new Classifier(List.of("toxic", "insult", "threat"), true);
        List<LabelScore> row = c.predict(new float[] {0, 2, -1}, false);
        assertEquals(List.of("insult", "toxic", "threat"), row.stream().map(LabelScore::label).toList());
        assertEquals(SIGMOID_2, row.get(0).score(), TOL);
        assertEquals(0.5f, row.get(1).score(), TOL);
        assertEquals(SIGMOID_MINUS_1, row.get(2).score(), TOL);
        assertEquals(List.of(new LabelScore("insult", 2), new LabelScore("toxic", 0), new LabelScore("threat", -1)),
                c.predict(new float[] {0, 2, -1}, true));
        assertEquals("multi_label_classification", c.problemType());
        Classifier pair = new Classifier(List.of("a", "b"), true);
        assertEquals(SIGMOID_2, pair.pairScore(new float[] {5, 2}, false), TOL, "the second label's own probability");
        assertEquals(OutputHead.of(config(Head.CLASSIFICATION, List.of("a", "b"), "multi_label_classification")), pair);
    }

    @Test
    void regressorReportsItsValueRawOrNot() {
        Regressor r = new Regressor(List.of("similarity"));
        assertEquals(List.of(new LabelScore("similarity", 3.25f)), r.predict(new float[] {3.25f}, false));
        assertEquals(List.of(new LabelScore("similarity", -0.5f)), r.predict(new float[] {-0.5f}, true));
        assertEquals(3.25f, r.pairScore(new float[] {3.25f}, false));
        assertEquals(3.25f, r.pairScore(new float[] {3.25f}, true));
        assertEquals("regression", r.problemType());
    }

    @Test
    void rerankScoresTheSecondLabelOrTheOneLogit() {
        Classifier two = new Classifier(List.of("not_equivalent", "equivalent"), false);
        // softmax([0, ln 3])[1] = 3 / (1 + 3)
        assertEquals(0.75f, two.pairScore(new float[] {0, (float) Math.log(3)}, false), TOL);
        assertEquals(SOFTMAX_123[2] / (SOFTMAX_123[1] + SOFTMAX_123[2]), two.pairScore(new float[] {2, 3}, false), TOL);
        assertEquals(3f, two.pairScore(new float[] {2, 3}, true), "raw: the second logit");
        Classifier crossEncoder = new Classifier(List.of("LABEL_0"), false);
        assertEquals(SIGMOID_2, crossEncoder.pairScore(new float[] {2}, false), TOL);
        assertEquals(2f, crossEncoder.pairScore(new float[] {2}, true));
        assertTrue(two.ranks());
        assertFalse(new Classifier(List.of("a", "b", "c"), false).ranks());
    }

    @Test
    void theConfigDecidesTheHeadAndItsKind() {
        assertEquals(new Classifier(List.of("neg", "pos"), false), OutputHead.of(config(Head.CLASSIFICATION, List.of("neg", "pos"))));
        assertEquals(new Classifier(List.of("neg", "pos"), false),
                OutputHead.of(config(Head.CLASSIFICATION, List.of("neg", "pos"), "single_label_classification")));
        assertEquals(new Regressor(List.of("LABEL_0")), OutputHead.of(config(Head.REGRESSION, List.of("LABEL_0"))));
        assertEquals(new MaskedLm(), OutputHead.of(config(Head.MLM, List.of())));
        assertEquals(new Encoder(), OutputHead.of(config(Head.NONE, List.of())));

        assertEquals(OutputHead.Kind.CLASSIFIER, new Classifier(List.of("neg", "pos"), false).kind());
        assertEquals(OutputHead.Kind.RERANKER, new Regressor(List.of("LABEL_0")).kind(), "one output: a reranker");
        assertEquals(OutputHead.Kind.RERANKER, new Classifier(List.of("LABEL_0"), false).kind());
        assertEquals(OutputHead.Kind.EMBEDDING, new MaskedLm().kind());
        assertEquals(OutputHead.Kind.EMBEDDING, new Encoder().kind());
        for (Head h : Head.values()) {
            assertEquals(h.name().toLowerCase(), OutputHead.of(config(h, h == Head.REGRESSION ? List.of("x") : List.of())).name());
        }
    }

    @Test
    void eachRouteGetsItsHeadOrIsRefusedWithTheReason() {
        Classifier three = new Classifier(List.of("a", "b", "c"), false);
        Regressor reg = new Regressor(List.of("LABEL_0"));
        assertSame(three, three.forPredict("m"));
        assertSame(reg, reg.forRerank("m"));
        MaskedLm mlm = new MaskedLm();
        assertSame(mlm, mlm.forSparse("m"));

        assertEquals("model 'm' has no classification or regression head (none); use /embed or a finetuned model",
                refused(() -> new Encoder().forPredict("m")));
        assertEquals("model 'm' has no classification or regression head (mlm); use /embed or a finetuned model",
                refused(() -> mlm.forPredict("m")));
        assertEquals("model 'm' cannot rerank: it needs a pair head with one output (a cross-encoder or a regression head) "
                + "or two labels; it has 3 labels", refused(() -> three.forRerank("m")));
        assertEquals("model 'm' cannot rerank: it needs a pair head with one output (a cross-encoder or a regression head) "
                + "or two labels; it has a mlm head", refused(() -> mlm.forRerank("m")));
        assertEquals("model 'm' has no MLM head (it has none); sparse (SPLADE) vectors need the masked-language-model logits",
                refused(() -> new Encoder().forSparse("m")));
        assertEquals("model 'm' has no MLM head (it has a regression head); sparse (SPLADE) vectors need the "
                + "masked-language-model logits", refused(() -> reg.forSparse("m")));
    }

    @Test
    void sparseTakesTheElementWiseMaxOverWindows() {
        float[] v = new MaskedLm().sparse(List.of(new float[] {0, 2, 0, 1}, new float[] {3, 0, 0, 0.5f}, new float[] {0, 1, 0, 4}));
        assertArrayEquals(new float[] {3, 2, 0, 4}, v);
        float[] one = {0, 1.5f};
        assertSame(one, new MaskedLm().sparse(List.of(one)), "one window: its vector as it is");
    }

    @Test
    void poolingCutsThenNormalisesAndWeighsWindowsByTokens() {
        Pooling p = new Pooling(3);
        assertArrayEquals(new float[] {0.6f, 0.8f}, p.sentence(List.of(new float[] {3, 4, 12}), List.of(new long[5]), 2, true), TOL);
        // |(3, 4, 12)| = 13
        assertArrayEquals(new float[] {3 / 13f, 4 / 13f, 12 / 13f}, p.sentence(List.of(new float[] {3, 4, 12}), List.of(new long[5]), null, true), TOL);
        assertArrayEquals(new float[] {3, 4, 12}, p.sentence(List.of(new float[] {3, 4, 12}), List.of(new long[5]), 3, false));
        assertArrayEquals(new float[] {0, 0, 0}, p.sentence(List.of(new float[3]), List.of(new long[2]), null, true), "zero stays zero");
        // windows of 3 and 1 tokens: weights 3/4 and 1/4
        assertArrayEquals(new float[] {0.75f, 0.25f, 1f},
                p.sentence(List.of(new float[] {1, 0, 1}, new float[] {0, 1, 1}), List.of(new long[3], new long[1]), null, false), TOL);

        float[][] tokens = p.tokens(new float[] {1, 2, 3, 4, 5, 6});
        assertEquals(2, tokens.length);
        assertArrayEquals(new float[] {1, 2, 3}, tokens[0]);
        assertArrayEquals(new float[] {4, 5, 6}, tokens[1]);

        p.checkDimensions(null, "m");
        p.checkDimensions(3, "m");
        assertEquals("`dimensions` should be positive, got 0", assertThrows(ServingException.Unsupported.class,
                () -> p.checkDimensions(0, "m")).getMessage());
        assertEquals("`dimensions` should be smaller than the maximum embedding dimension: 4 > 3 (the width of model 'm')",
                assertThrows(ServingException.Unsupported.class, () -> p.checkDimensions(4, "m")).getMessage());
    }

    private static String refused(Runnable call) {
        return assertInstanceOf(ServingException.Incapable.class, assertThrows(ServingException.class, call::run)).getMessage();
    }

    private static ModelConfig config(Head head, List<String> labels) {
        return config(head, labels, head == Head.REGRESSION ? "regression" : null);
    }

    private static ModelConfig config(Head head, List<String> labels, String problemType) {
        return new ModelConfig(Variant.MOSAIC_BERT, head, 100, 8, 1, 2, 16, 2, 64, 1e-12, 0, labels, problemType, "gelu",
                ClassifierPooling.CLS);
    }
}
