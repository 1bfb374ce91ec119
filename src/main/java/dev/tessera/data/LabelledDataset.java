package dev.tessera.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads labelled examples from TSV, CSV or JSONL with configurable column names. Errors are
 * {@link IllegalArgumentException}s that name the file, and the column or line at fault.
 */
public final class LabelledDataset {

    private static final ObjectMapper JSON = new ObjectMapper();

    private LabelledDataset() {}

    /** Reads all rows of {@code file}. Rows whose text is blank are kept (the model sees an empty text). */
    public static List<LabelledExample> read(Path file, DatasetFormat format, Columns columns) {
        List<LabelledExample> out;
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            out = switch (format) {
                case TSV -> readDelimited(file, r, columns, false);
                case CSV -> readDelimited(file, r, columns, true);
                case JSONL -> readJsonl(file, r, columns);
            };
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
        if (out.isEmpty()) throw new IllegalArgumentException(file + " has no examples");
        return out;
    }

    public static List<LabelledExample> read(Path file, Columns columns) {
        return read(file, DatasetFormat.fromExtension(file), columns);
    }

    private static List<LabelledExample> readDelimited(Path file, BufferedReader r, Columns c, boolean csv) throws IOException {
        RecordReader rr = new RecordReader(r, csv ? ',' : '\t', csv);
        List<String> header = rr.next();
        if (header == null) throw new IllegalArgumentException(file + " is empty (no header row)");
        int text = column(file, header, c.text());
        int textB = c.textB() == null ? -1 : column(file, header, c.textB());
        int label = c.label() == null ? -1 : column(file, header, c.label());
        List<LabelledExample> out = new ArrayList<>();
        List<String> row;
        while ((row = rr.next()) != null) {
            long line = rr.recordLine;
            if (row.size() == 1 && row.get(0).isBlank()) continue; // blank line
            int need = Math.max(text, Math.max(textB, label));
            if (row.size() <= need) {
                throw new IllegalArgumentException(file + " line " + line + ": " + row.size() + " fields, but column '"
                        + header.get(need) + "' is field " + (need + 1));
            }
            out.add(new LabelledExample(row.get(text), textB < 0 ? null : row.get(textB), label < 0 ? null : row.get(label).trim(), line));
        }
        return out;
    }

    private static int column(Path file, List<String> header, String name) {
        int i = header.indexOf(name);
        if (i < 0) {
            throw new IllegalArgumentException("column '" + name + "' not found in the header of " + file + " (columns: " + header + ")");
        }
        return i;
    }

    private static List<LabelledExample> readJsonl(Path file, BufferedReader r, Columns c) throws IOException {
        List<LabelledExample> out = new ArrayList<>();
        String line;
        long no = 0;
        while ((line = r.readLine()) != null) {
            no++;
            if (line.isBlank()) continue;
            JsonNode n;
            try {
                n = JSON.readTree(line);
            } catch (IOException e) {
                throw new IllegalArgumentException(file + " line " + no + ": not valid JSON");
            }
            out.add(new LabelledExample(field(file, no, n, c.text()), c.textB() == null ? null : field(file, no, n, c.textB()),
                    c.label() == null ? null : field(file, no, n, c.label()), no));
        }
        return out;
    }

    private static String field(Path file, long line, JsonNode n, String name) {
        JsonNode v = n == null ? null : n.get(name);
        if (v == null || v.isNull() || v.isContainerNode()) {
            throw new IllegalArgumentException("column '" + name + "' missing in " + file + " line " + line);
        }
        return v.asText();
    }

    /** Splits records; with {@code quoting}, RFC 4180 double quotes (fields may contain separators and newlines). */
    private static final class RecordReader {
        private final BufferedReader r;
        private final char sep;
        private final boolean quoting;
        private long line = 1;   // line of the next character
        long recordLine;          // line where the last returned record started
        private boolean eof;

        RecordReader(BufferedReader r, char sep, boolean quoting) {
            this.r = r;
            this.sep = sep;
            this.quoting = quoting;
        }

        List<String> next() throws IOException {
            if (eof) return null;
            recordLine = line;
            List<String> fields = new ArrayList<>();
            StringBuilder f = new StringBuilder();
            boolean inQuotes = false, any = false;
            while (true) {
                int ch = r.read();
                if (ch < 0) {
                    eof = true;
                    if (!any && f.isEmpty() && fields.isEmpty()) return null;
                    fields.add(f.toString());
                    return fields;
                }
                any = true;
                if (ch == '\n') line++;
                if (inQuotes) {
                    if (ch == '"') {
                        r.mark(1);
                        int n = r.read();
                        if (n == '"') f.append('"');
                        else {
                            inQuotes = false;
                            if (n >= 0) r.reset();
                        }
                    } else {
                        f.append((char) ch);
                    }
                } else if (ch == sep) {
                    fields.add(f.toString());
                    f.setLength(0);
                } else if (ch == '\n') {
                    int len = f.length();
                    if (len > 0 && f.charAt(len - 1) == '\r') f.setLength(len - 1);
                    fields.add(f.toString());
                    return fields;
                } else if (quoting && ch == '"' && f.isEmpty()) {
                    inQuotes = true;
                } else {
                    f.append((char) ch);
                }
            }
        }
    }

}
