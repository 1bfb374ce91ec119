package dev.tessera.glue;

/** A named GLUE metric. Classification metrics read class ids; correlations read scores. */
public enum Metric {
    ACCURACY("accuracy"), F1("f1"), MATTHEWS("matthews_correlation"), PEARSON("pearson"), SPEARMAN("spearman");

    private final String key;

    Metric(String key) { this.key = key; }

    /** The name used in reports and metrics files. */
    public String key() { return key; }

    public boolean isCorrelation() { return this == PEARSON || this == SPEARMAN; }

    public double compute(int[] pred, int[] gold) {
        return switch (this) {
            case ACCURACY -> Metrics.accuracy(pred, gold);
            case F1 -> Metrics.f1(pred, gold);
            case MATTHEWS -> Metrics.matthews(pred, gold);
            default -> throw new IllegalArgumentException(key + " needs real-valued scores");
        };
    }

    public double compute(double[] pred, double[] gold) {
        return switch (this) {
            case PEARSON -> Metrics.pearson(pred, gold);
            case SPEARMAN -> Metrics.spearman(pred, gold);
            default -> throw new IllegalArgumentException(key + " needs class predictions");
        };
    }
}
