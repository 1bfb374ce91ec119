package dev.tessera.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * Streams the documents of a corpus file without loading it: the returned stream reads lazily and
 * must be closed (try-with-resources). Empty documents are skipped.
 */
public final class CorpusReader {

    private static final ObjectMapper JSON = new ObjectMapper();

    private CorpusReader() {}

    /**
     * @param textField the JSON field holding the text (JSONL only; ignored otherwise)
     * @throws IllegalArgumentException (while streaming) for a JSONL line that is not an object with a
     *         string {@code textField}; the message names the file, the line and the field
     */
    public static Stream<String> documents(Path file, CorpusFormat format, String textField) {
        BufferedReader reader;
        try {
            reader = Files.newBufferedReader(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open corpus " + file + ": " + e.getMessage(), e);
        }
        Iterator<String> it = switch (format) {
            case LINES -> new DocIterator(reader) {
                @Override String read() throws IOException {
                    String line;
                    while ((line = reader.readLine()) != null) {
                        lineNo++;
                        if (!line.isBlank()) return line;
                    }
                    return null;
                }
            };
            case PARAGRAPHS -> new DocIterator(reader) {
                @Override String read() throws IOException {
                    StringBuilder doc = new StringBuilder();
                    String line;
                    while ((line = reader.readLine()) != null) {
                        lineNo++;
                        if (line.isBlank()) {
                            if (!doc.isEmpty()) return doc.toString();
                        } else {
                            if (!doc.isEmpty()) doc.append(' ');
                            doc.append(line.strip());
                        }
                    }
                    return doc.isEmpty() ? null : doc.toString();
                }
            };
            case JSONL -> new DocIterator(reader) {
                @Override String read() throws IOException {
                    String line;
                    while ((line = reader.readLine()) != null) {
                        lineNo++;
                        if (line.isBlank()) continue;
                        String text = jsonText(line, textField, file, lineNo);
                        if (!text.isBlank()) return text;
                    }
                    return null;
                }
            };
        };
        return StreamSupport.stream(Spliterators.spliteratorUnknownSize(it, Spliterator.ORDERED | Spliterator.NONNULL), false)
                .onClose(() -> {
                    try {
                        reader.close();
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                });
    }

    /** All documents of several files, one after the other. */
    public static Stream<String> documents(java.util.List<Path> files, CorpusFormat format, String textField) {
        return files.stream().flatMap(f -> documents(f, format, textField));
    }

    static String jsonText(String line, String field, Path file, long lineNo) {
        JsonNode node;
        try {
            node = JSON.readTree(line);
        } catch (IOException e) {
            throw new IllegalArgumentException(file + " line " + lineNo + ": not valid JSON (" + e.getMessage().lines().findFirst().orElse("") + ")");
        }
        JsonNode v = node == null ? null : node.get(field);
        if (v == null || v.isNull()) {
            throw new IllegalArgumentException(file + " line " + lineNo + ": no field '" + field + "'");
        }
        if (!v.isTextual()) {
            throw new IllegalArgumentException(file + " line " + lineNo + ": field '" + field + "' is not a string");
        }
        return v.asText();
    }

    /** Iterator over documents produced by {@link #read()} (null at the end). */
    private abstract static class DocIterator implements Iterator<String> {
        final BufferedReader reader;
        long lineNo;
        private String next;
        private boolean done;

        DocIterator(BufferedReader reader) { this.reader = reader; }

        abstract String read() throws IOException;

        @Override public boolean hasNext() {
            if (next == null && !done) {
                try {
                    next = read();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                done = next == null;
            }
            return next != null;
        }

        @Override public String next() {
            if (!hasNext()) throw new NoSuchElementException();
            String n = next;
            next = null;
            return n;
        }
    }
}
