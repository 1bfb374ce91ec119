package dev.tessera.data;

import java.nio.file.Path;
import java.util.Locale;

/** File formats of labelled datasets. TSV and CSV have a header row naming the columns. */
public enum DatasetFormat {
    /** Tab-separated, no quoting (the GLUE distribution's convention). */
    TSV,
    /** Comma-separated, RFC 4180 quoting ("a ""quoted"" field", fields may span lines). */
    CSV,
    /** One JSON object per line. */
    JSONL;

    public static DatasetFormat parse(String name) {
        try {
            return valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown dataset format '" + name + "' (expected tsv, csv or jsonl)");
        }
    }

    /** From the file name: .tsv, .csv, .jsonl/.json. */
    public static DatasetFormat fromExtension(Path file) {
        String n = file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (n.endsWith(".tsv")) return TSV;
        if (n.endsWith(".csv")) return CSV;
        if (n.endsWith(".jsonl") || n.endsWith(".json")) return JSONL;
        throw new IllegalArgumentException("cannot tell the format of " + file + " from its name; set it (tsv, csv, jsonl)");
    }
}
