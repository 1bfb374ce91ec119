package dev.tessera.data;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.TreeSet;

/**
 * The labels of a task: a list of class names (index = class id) or regression (one float target).
 *
 * <p>Inferred labels ({@link #inferFrom}) are the distinct label strings of the training data, sorted:
 * numerically when every label is an integer ("2" before "10"), otherwise by {@link String#compareTo}.
 */
public final class LabelSet {

    private final List<String> labels; // empty for regression
    private final boolean regression;

    private LabelSet(List<String> labels, boolean regression) {
        this.labels = List.copyOf(labels);
        this.regression = regression;
    }

    public static LabelSet classes(List<String> labels) {
        if (labels.size() < 2) throw new IllegalArgumentException("a classification task needs at least 2 labels, got " + labels);
        if (new TreeSet<>(labels).size() != labels.size()) throw new IllegalArgumentException("duplicate labels in " + labels);
        return new LabelSet(labels, false);
    }

    public static LabelSet regression() { return new LabelSet(List.of(), true); }

    /** The sorted distinct labels of {@code train} (see the class comment). */
    public static LabelSet inferFrom(List<LabelledExample> train, Path file) {
        TreeSet<String> distinct = new TreeSet<>();
        for (LabelledExample e : train) {
            if (e.label() == null) throw new IllegalArgumentException(file + " line " + e.line() + ": no label");
            distinct.add(e.label());
        }
        List<String> sorted = new ArrayList<>(distinct);
        if (sorted.stream().allMatch(s -> s.matches("-?\\d{1,18}"))) sorted.sort(Comparator.comparingLong(Long::parseLong));
        if (sorted.size() < 2) {
            throw new IllegalArgumentException(file + ": found only the labels " + sorted + "; a classification task needs at least 2");
        }
        return new LabelSet(sorted, false);
    }

    public boolean isRegression() { return regression; }

    /** Class names in id order (empty for regression). */
    public List<String> labels() { return labels; }

    /** Number of model outputs: the class count, or 1 for regression. */
    public int numOutputs() { return regression ? 1 : labels.size(); }

    /** The class id of {@code label}; the error names the label, the file and the line. */
    public int classIndex(String label, Path file, long line) {
        if (regression) throw new IllegalStateException("regression task has no classes");
        int i = label == null ? -1 : labels.indexOf(label);
        if (i < 0) {
            throw new IllegalArgumentException(file + " line " + line + ": label '" + label + "' is not in the label set " + labels);
        }
        return i;
    }

    /** The regression target of {@code label}; the error names the value, the file and the line. */
    public float target(String label, Path file, long line) {
        try {
            float v = Float.parseFloat(label.trim());
            if (!Float.isFinite(v)) throw new NumberFormatException();
            return v;
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(file + " line " + line + ": regression label '" + label + "' is not a finite number");
        }
    }

    @Override public String toString() { return regression ? "regression" : labels.toString(); }
}
