package dev.tessera.study;

import dev.tessera.data.LabelledExample;
import org.tribuo.Dataset;
import org.tribuo.Example;
import org.tribuo.Model;
import org.tribuo.MutableDataset;
import org.tribuo.classification.Label;
import org.tribuo.classification.LabelFactory;
import org.tribuo.classification.evaluation.LabelEvaluator;
import org.tribuo.classification.sgd.linear.LogisticRegressionTrainer;
import org.tribuo.data.text.impl.TextFeatureExtractorImpl;
import org.tribuo.data.text.impl.TokenPipeline;
import org.tribuo.dataset.MinimumCardinalityDataset;
import org.tribuo.provenance.SimpleDataSourceProvenance;
import org.tribuo.transform.TransformTrainer;
import org.tribuo.transform.TransformationMap;
import org.tribuo.transform.transformations.IDFTransformation;
import org.tribuo.util.tokens.impl.SplitPatternTokenizer;

import java.util.List;
import java.util.Locale;

/**
 * The bag-of-words baseline a new user would try first, with Tribuo: lowercased word 1–2-grams (term
 * counts, {@link TokenPipeline}), features seen in fewer than {@code minDf} training documents dropped,
 * IDF weighting fitted on the training set only ({@link IDFTransformation}), then logistic regression
 * (Tribuo's {@link LogisticRegressionTrainer}: AdaGrad SGD). No row normalisation.
 */
public final class TfidfBaseline {

    /** Accuracy on each test set (in the order given), feature count, and wall seconds of featurising + training. */
    public record Result(List<Double> accuracies, int features, double seconds) {}

    private final int minDf;

    public TfidfBaseline(int minDf) {
        this.minDf = minDf;
    }

    public Result run(List<LabelledExample> train, List<List<LabelledExample>> tests) {
        long t0 = System.nanoTime();
        LabelFactory factory = new LabelFactory();
        // words: runs of letters, digits and apostrophes (punctuation and "<br />" remnants split)
        TextFeatureExtractorImpl<Label> extractor = new TextFeatureExtractorImpl<>(
                new TokenPipeline(new SplitPatternTokenizer("[^\\p{L}\\p{N}']+"), 2, true));
        Dataset<Label> trainSet = dataset(train, extractor, factory, "train");
        if (minDf > 1) trainSet = new MinimumCardinalityDataset<>(trainSet, minDf);
        var trainer = new TransformTrainer<>(new LogisticRegressionTrainer(),
                new TransformationMap(List.of(new IDFTransformation())), false, true); // implicit zeros count in N
        Model<Label> model = trainer.train(trainSet);
        double secs = (System.nanoTime() - t0) / 1e9;
        LabelEvaluator eval = new LabelEvaluator();
        List<Double> acc = tests.stream()
                .map(t -> eval.evaluate(model, dataset(t, extractor, factory, "test")).accuracy()).toList();
        return new Result(acc, trainSet.getFeatureMap().size(), secs);
    }

    private static Dataset<Label> dataset(List<LabelledExample> rows, TextFeatureExtractorImpl<Label> extractor,
                                          LabelFactory factory, String name) {
        MutableDataset<Label> d = new MutableDataset<>(new SimpleDataSourceProvenance(name, factory), factory);
        for (LabelledExample e : rows) {
            Example<Label> ex = extractor.extract(new Label(e.label()), e.text().toLowerCase(Locale.ROOT));
            d.add(ex);
        }
        return d;
    }
}
