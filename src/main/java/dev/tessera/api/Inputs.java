package dev.tessera.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tessera.serving.TextInput;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads TEI's {@code inputs}: a string; a pair {@code ["a", "b"]}; or a batch whose items are strings,
 * {@code ["a"]} or pairs {@code ["a", "b"]}. As in TEI, a top-level array of exactly two strings is a
 * pair; send {@code [["a"], ["b"]]} for a batch of two single texts.
 */
public final class Inputs {
    private Inputs() {}

    /** The request body's fields, after type checks. */
    public static JsonNode body(JsonNode body) {
        if (body == null || body.isNull() || body.isMissingNode()) throw ApiException.badInput("request body is empty; expected a JSON object with \"inputs\"");
        if (!body.isObject()) throw ApiException.badInput("request body must be a JSON object, got " + body.getNodeType().name().toLowerCase());
        return body;
    }

    /** The inputs, and whether the client sent a batch (the response is then a list per input). */
    public record Parsed(List<TextInput> inputs, boolean batch) {}

    public static Parsed parse(JsonNode body, boolean pairsAllowed) {
        JsonNode inputs = body(body).get("inputs");
        if (inputs == null || inputs.isNull()) throw ApiException.badInput("\"inputs\" is missing");
        List<TextInput> out = new ArrayList<>();
        boolean batch = false;
        if (inputs.isTextual()) {
            out.add(TextInput.single(text(inputs, "inputs")));
        } else if (inputs.isArray()) {
            if (inputs.isEmpty()) throw ApiException.badInput("\"inputs\" is an empty array");
            if (inputs.size() == 2 && inputs.get(0).isTextual() && inputs.get(1).isTextual() && pairsAllowed) {
                out.add(new TextInput(text(inputs.get(0), "inputs[0]"), text(inputs.get(1), "inputs[1]")));
            } else {
                batch = true;
                for (int i = 0; i < inputs.size(); i++) out.add(item(inputs.get(i), "inputs[" + i + "]", pairsAllowed));
            }
        } else {
            throw ApiException.badInput("\"inputs\" must be a string or an array, got " + inputs.getNodeType().name().toLowerCase());
        }
        return new Parsed(out, batch);
    }

    private static TextInput item(JsonNode node, String where, boolean pairsAllowed) {
        if (node.isTextual()) return TextInput.single(text(node, where));
        if (!node.isArray()) throw ApiException.badInput(where + " must be a string or an array of strings, got " + node.getNodeType().name().toLowerCase());
        if (node.size() == 1) return TextInput.single(text(node.get(0), where + "[0]"));
        if (node.size() == 2 && pairsAllowed) return new TextInput(text(node.get(0), where + "[0]"), text(node.get(1), where + "[1]"));
        throw ApiException.badInput(where + " has " + node.size() + " items; "
                + (pairsAllowed ? "a sentence pair has exactly two texts" : "this route takes single texts only"));
    }

    private static String text(JsonNode node, String where) {
        if (!node.isTextual()) throw ApiException.badInput(where + " must be a string, got " + node.getNodeType().name().toLowerCase());
        String s = node.asText();
        if (s.isBlank()) throw ApiException.badInput(where + " is empty");
        return s;
    }

    public static boolean flag(JsonNode body, String name, boolean dflt) {
        JsonNode v = body.get(name);
        if (v == null || v.isNull()) return dflt;
        if (!v.isBoolean()) throw ApiException.badInput("\"" + name + "\" must be a boolean, got " + v.getNodeType().name().toLowerCase());
        return v.asBoolean();
    }

    /** A required non-empty string field. */
    public static String field(JsonNode body, String name) {
        JsonNode v = body(body).get(name);
        if (v == null || v.isNull()) throw ApiException.badInput("\"" + name + "\" is missing");
        return text(v, name);
    }

    /** A non-empty array of non-empty strings. */
    public static List<String> texts(JsonNode node, String where) {
        if (node == null || node.isNull()) throw ApiException.badInput("\"" + where + "\" is missing");
        if (!node.isArray()) throw ApiException.badInput("\"" + where + "\" must be an array of strings, got " + node.getNodeType().name().toLowerCase());
        if (node.isEmpty()) throw ApiException.badInput("\"" + where + "\" is an empty array");
        List<String> out = new ArrayList<>(node.size());
        for (int i = 0; i < node.size(); i++) out.add(text(node.get(i), where + "[" + i + "]"));
        return out;
    }

    /** Token ids: one sequence {@code [1, 2]} or a batch {@code [[1, 2], [3]]}. */
    public record Ids(List<long[]> sequences, boolean batch) {}

    public static Ids ids(JsonNode node, String where) {
        if (node == null || node.isNull()) throw ApiException.badInput("\"" + where + "\" is missing");
        if (!node.isArray() || node.isEmpty()) throw ApiException.badInput("\"" + where + "\" must be a non-empty array of token ids or of arrays of token ids");
        if (node.get(0).isArray()) {
            List<long[]> out = new ArrayList<>(node.size());
            for (int i = 0; i < node.size(); i++) out.add(idSequence(node.get(i), where + "[" + i + "]"));
            return new Ids(out, true);
        }
        return new Ids(List.of(idSequence(node, where)), false);
    }

    private static long[] idSequence(JsonNode node, String where) {
        if (!node.isArray()) throw ApiException.badInput(where + " must be an array of token ids, got " + node.getNodeType().name().toLowerCase());
        long[] ids = new long[node.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode v = node.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToLong()) throw ApiException.badInput(where + "[" + i + "] must be an integer token id, got " + v);
            ids[i] = v.asLong();
        }
        return ids;
    }

    /** TEI's {@code truncation_direction}: only Right (cut the end) is supported; Left is refused, not ignored. */
    public static void rightTruncationOnly(JsonNode body) {
        JsonNode v = body.get("truncation_direction");
        if (v != null && !v.isNull() && !v.asText().equalsIgnoreCase("right")) {
            throw ApiException.badInput("\"truncation_direction\": only \"Right\" is supported, got " + v);
        }
    }
}
