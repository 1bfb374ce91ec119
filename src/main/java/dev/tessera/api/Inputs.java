package dev.tessera.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tessera.serving.TextInput;
import dev.tessera.serving.Truncation;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads the request shapes of TEI's OpenAPI document. A wrong type is a 422 (TEI's Validation); an empty batch, text
 * or id list is left to the serving layer, which answers TEI's 400 Empty.
 * <ul>
 * <li>{@code PredictInput}: a string; a pair {@code ["a", "b"]} (a top-level array that starts with a string is one
 * input: one or two strings); or a batch whose items are {@code ["a"]} or {@code ["a", "b"]} (a bare string is also
 * taken as an item).</li>
 * <li>{@code Input} (/embed, /embed_all, /embed_sparse, /v1/embeddings): a string or token ids {@code [101, 2023]},
 * or a batch of either; a batch item {@code ["a"]} is also taken.</li>
 * <li>{@code TokenizeInput}: a string or a batch of strings; a batch item may also be {@code ["a"]} or the pair
 * {@code ["a", "b"]} (Tessera's web console shows pairs' segments).</li>
 * </ul>
 */
public final class Inputs {
    private Inputs() {}

    /** The request body's fields, after type checks. */
    public static JsonNode body(JsonNode body) {
        if (body == null || body.isNull() || body.isMissingNode()) throw ApiException.badInput("request body is empty; expected a JSON object with \"inputs\"");
        if (!body.isObject()) throw ApiException.badInput("request body must be a JSON object, got " + type(body));
        return body;
    }

    /** The inputs, and whether the client sent a batch (the response is then a list per input). */
    public record Parsed(List<TextInput> inputs, boolean batch) {}

    /** TEI's {@code PredictInput}. */
    public static Parsed predict(JsonNode body) {
        JsonNode inputs = required(body, "inputs");
        if (inputs.isTextual()) return new Parsed(List.of(TextInput.single(inputs.asText())), false);
        if (!inputs.isArray()) throw ApiException.badInput("\"inputs\" must be a string, a pair [\"a\", \"b\"] or a batch [[\"a\"], [\"a\", \"b\"], ...], got " + type(inputs));
        if (inputs.isEmpty()) return new Parsed(List.of(), true);
        if (inputs.get(0).isTextual()) { // one input: a text or a pair
            if (inputs.size() > 2) {
                throw ApiException.badInput("\"inputs\" has " + inputs.size() + " strings; a single input is a string or a pair [\"a\", \"b\"], "
                        + "a batch is [[\"a\"], [\"a\", \"b\"], ...]");
            }
            String a = text(inputs.get(0), "inputs[0]");
            return new Parsed(List.of(inputs.size() == 1 ? TextInput.single(a) : TextInput.pair(a, text(inputs.get(1), "inputs[1]"))), false);
        }
        List<TextInput> out = new ArrayList<>(inputs.size());
        for (int i = 0; i < inputs.size(); i++) out.add(sequence(inputs.get(i), "inputs[" + i + "]", true));
        return new Parsed(out, true);
    }

    /** TEI's {@code Input}: a string or token ids, or a batch of either. */
    public static Parsed input(JsonNode body, String field) {
        JsonNode inputs = required(body, field);
        if (inputs.isTextual()) return new Parsed(List.of(TextInput.single(inputs.asText())), false);
        if (!inputs.isArray()) throw ApiException.badInput("\"" + field + "\" must be a string, token ids, or an array of either, got " + type(inputs));
        if (inputs.isEmpty()) return new Parsed(List.of(), true);
        if (inputs.get(0).isNumber()) return new Parsed(List.of(TextInput.tokenIds(idSequence(inputs, field))), false);
        List<TextInput> out = new ArrayList<>(inputs.size());
        for (int i = 0; i < inputs.size(); i++) {
            JsonNode item = inputs.get(i);
            String where = field + "[" + i + "]";
            if (item.isTextual()) out.add(TextInput.single(item.asText()));
            else if (item.isArray() && item.size() == 1 && item.get(0).isTextual()) out.add(TextInput.single(item.get(0).asText()));
            else if (item.isArray() && (item.isEmpty() || item.get(0).isNumber())) out.add(TextInput.tokenIds(idSequence(item, where)));
            else if (item.isArray() && item.size() == 2 && item.get(0).isTextual()) {
                throw ApiException.badInput(where + " is a pair of texts; this route takes single texts or token ids");
            } else {
                throw ApiException.badInput(where + " must be a string or an array of token ids, got " + type(item));
            }
        }
        return new Parsed(out, true);
    }

    /** TEI's {@code TokenizeInput}: a string or a batch of strings (and, here, pairs as batch items). */
    public static List<TextInput> tokenize(JsonNode body) {
        JsonNode inputs = required(body, "inputs");
        if (inputs.isTextual()) return List.of(TextInput.single(inputs.asText()));
        if (!inputs.isArray()) throw ApiException.badInput("\"inputs\" must be a string or an array of strings, got " + type(inputs));
        List<TextInput> out = new ArrayList<>(inputs.size());
        for (int i = 0; i < inputs.size(); i++) out.add(sequence(inputs.get(i), "inputs[" + i + "]", true));
        return out;
    }

    /** A batch item: a string, {@code ["a"]}, or (when allowed) a pair {@code ["a", "b"]}. */
    private static TextInput sequence(JsonNode node, String where, boolean pairsAllowed) {
        if (node.isTextual()) return TextInput.single(node.asText());
        if (!node.isArray()) throw ApiException.badInput(where + " must be a string or an array of strings, got " + type(node));
        if (node.size() == 1) return TextInput.single(text(node.get(0), where + "[0]"));
        if (node.size() == 2 && pairsAllowed) return TextInput.pair(text(node.get(0), where + "[0]"), text(node.get(1), where + "[1]"));
        throw ApiException.badInput(where + " has " + node.size() + " items; "
                + (pairsAllowed ? "a sentence pair has exactly two texts" : "this route takes single texts only"));
    }

    private static JsonNode required(JsonNode body, String name) {
        JsonNode v = body(body).get(name);
        if (v == null || v.isNull()) throw ApiException.badInput("\"" + name + "\" is missing");
        return v;
    }

    private static String text(JsonNode node, String where) {
        if (!node.isTextual()) throw ApiException.badInput(where + " must be a string, got " + type(node));
        return node.asText();
    }

    private static String type(JsonNode node) { return node.getNodeType().name().toLowerCase(); }

    public static boolean flag(JsonNode body, String name, boolean dflt) {
        JsonNode v = body.get(name);
        if (v == null || v.isNull()) return dflt;
        if (!v.isBoolean()) throw ApiException.badInput("\"" + name + "\" must be a boolean, got " + type(v));
        return v.asBoolean();
    }

    /** An optional non-negative integer field (null when absent). */
    public static Integer count(JsonNode body, String name) {
        JsonNode v = body.get(name);
        if (v == null || v.isNull()) return null;
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < 0) {
            throw ApiException.badInput("\"" + name + "\" must be a non-negative integer, got " + v);
        }
        return v.asInt();
    }

    /** An optional string field (null when absent). */
    public static String optionalText(JsonNode body, String name) {
        JsonNode v = body.get(name);
        if (v == null || v.isNull()) return null;
        return text(v, "\"" + name + "\"");
    }

    /** A required string field (it may be empty: emptiness is the serving layer's 400). */
    public static String field(JsonNode body, String name) {
        return text(required(body, name), "\"" + name + "\"");
    }

    /** An array of strings (possibly empty: an empty batch is the serving layer's 400). */
    public static List<String> texts(JsonNode node, String where) {
        if (node == null || node.isNull()) throw ApiException.badInput("\"" + where + "\" is missing");
        if (!node.isArray()) throw ApiException.badInput("\"" + where + "\" must be an array of strings, got " + type(node));
        List<String> out = new ArrayList<>(node.size());
        for (int i = 0; i < node.size(); i++) out.add(text(node.get(i), where + "[" + i + "]"));
        return out;
    }

    /** TEI's {@code InputIds}: one sequence {@code [1, 2]} or a batch {@code [[1, 2], [3]]}. */
    public record Ids(List<long[]> sequences, boolean batch) {}

    public static Ids ids(JsonNode node, String where) {
        if (node == null || node.isNull()) throw ApiException.badInput("\"" + where + "\" is missing");
        if (!node.isArray()) throw ApiException.badInput("\"" + where + "\" must be an array of token ids or of arrays of token ids, got " + type(node));
        if (!node.isEmpty() && node.get(0).isArray()) {
            List<long[]> out = new ArrayList<>(node.size());
            for (int i = 0; i < node.size(); i++) out.add(idSequence(node.get(i), where + "[" + i + "]"));
            return new Ids(out, true);
        }
        return new Ids(List.of(idSequence(node, where)), false);
    }

    private static long[] idSequence(JsonNode node, String where) {
        if (!node.isArray()) throw ApiException.badInput(where + " must be an array of token ids, got " + type(node));
        long[] ids = new long[node.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode v = node.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToLong() || v.asLong() < 0) {
                throw ApiException.badInput(where + "[" + i + "] must be a non-negative integer token id, got " + v);
            }
            ids[i] = v.asLong();
        }
        return ids;
    }

    /**
     * Tessera's {@code long_inputs} on /embed and /v1/embeddings: {@code "windows"} (true), {@code "error"} (false), or
     * absent (null: the server's {@code tessera.serving.long-inputs}).
     */
    public static Boolean longInputs(JsonNode body) {
        String v = optionalText(body, "long_inputs");
        if (v == null) return null;
        if (v.equals("windows") || v.equals("error")) return v.equals("windows");
        throw ApiException.badInput("\"long_inputs\" must be \"windows\" or \"error\", got \"" + v + "\"");
    }

    /** TEI's {@code truncate} (default false) and {@code truncation_direction} ({@code Left} | {@code Right}, either case). */
    public static Truncation truncation(JsonNode body) {
        boolean truncate = flag(body, "truncate", false);
        JsonNode v = body.get("truncation_direction");
        boolean left = false;
        if (v != null && !v.isNull()) {
            String d = v.isTextual() ? v.asText() : "";
            if (d.equals("Left") || d.equals("left")) left = true;
            else if (!d.equals("Right") && !d.equals("right")) {
                throw ApiException.badInput("\"truncation_direction\" must be \"Left\" or \"Right\", got " + v);
            }
        }
        return Truncation.of(truncate, left);
    }
}
