package dev.tessera.data;

import java.nio.file.Path;
import java.util.Locale;

/** How a pretraining corpus file holds its documents. */
public enum CorpusFormat {
    /** One document per line; blank lines are skipped. */
    LINES,
    /** Documents separated by one or more blank lines; the lines of a document are joined with a space. */
    PARAGRAPHS,
    /** One JSON object per line; the document is the string in the configured text field. */
    JSONL;

    /** {@code lines|paragraphs|jsonl}, case-insensitive. */
    public static CorpusFormat parse(String name) {
        try {
            return valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown corpus format '" + name + "' (expected lines, paragraphs or jsonl)");
        }
    }

    /** {@code .jsonl}/{@code .json} → JSONL, anything else → LINES. */
    public static CorpusFormat fromExtension(Path file) {
        String n = file.getFileName().toString().toLowerCase(Locale.ROOT);
        return n.endsWith(".jsonl") || n.endsWith(".json") ? JSONL : LINES;
    }
}
