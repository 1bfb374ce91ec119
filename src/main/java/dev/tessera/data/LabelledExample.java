package dev.tessera.data;

/**
 * One row of a labelled dataset, as read.
 *
 * @param textB null for single-text tasks
 * @param label the raw label string, or null when the dataset has no label column
 * @param line  1-based line where the row starts in its file (for error messages)
 */
public record LabelledExample(String text, String textB, String label, long line) {}
