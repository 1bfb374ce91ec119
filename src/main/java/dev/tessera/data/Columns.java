package dev.tessera.data;

/**
 * Which columns (TSV/CSV header names, or JSONL field names) hold what.
 *
 * @param text  the (first) text
 * @param textB the second text of a pair task, or null for single-text tasks
 * @param label the label (class name or number), or null for unlabelled data (prediction)
 */
public record Columns(String text, String textB, String label) {
    public Columns {
        if (text == null || text.isBlank()) throw new IllegalArgumentException("the text column name is required");
    }

    public static Columns single(String text, String label) { return new Columns(text, null, label); }

    public static Columns pair(String text, String textB, String label) { return new Columns(text, textB, label); }
}
