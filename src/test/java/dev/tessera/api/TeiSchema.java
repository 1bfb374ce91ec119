package dev.tessera.api;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small JSON validator over the response shapes TEI 1.9.3's OpenAPI document defines (ErrorResponse, Info,
 * PredictResponse, Rank, EmbedResponse, SparseValue, SimpleToken, OpenAICompatResponse...), written here from
 * those field definitions: type, required members, nullable members, enums, minimum 0, array items, oneOf. Members a
 * schema does not name are allowed (TEI's schemas do not forbid them; Tessera adds problem+json's beside TEI's).
 */
final class TeiSchema {
    private final String type; // object, array, string, integer, number, boolean, or null for oneOf
    private final Map<String, TeiSchema> properties = new LinkedHashMap<>();
    private final List<String> required = new ArrayList<>();
    private TeiSchema items;
    private List<String> enumValues;
    private List<TeiSchema> oneOf;
    private boolean nullable;
    private Integer minItems, maxItems;
    private boolean nonNegative;
    private TeiSchema values; // additionalProperties' schema (maps such as id2label)

    private TeiSchema(String type) { this.type = type; }

    static TeiSchema string() { return new TeiSchema("string"); }

    static TeiSchema bool() { return new TeiSchema("boolean"); }

    static TeiSchema number() { return new TeiSchema("number"); }

    /** TEI's integers here are all counts or indices: minimum 0. */
    static TeiSchema count() {
        TeiSchema s = new TeiSchema("integer");
        s.nonNegative = true;
        return s;
    }

    static TeiSchema array(TeiSchema items) {
        TeiSchema s = new TeiSchema("array");
        s.items = items;
        return s;
    }

    static TeiSchema array(TeiSchema items, int min, int max) {
        TeiSchema s = array(items);
        s.minItems = min;
        s.maxItems = max;
        return s;
    }

    static TeiSchema object() { return new TeiSchema("object"); }

    static TeiSchema map(TeiSchema values) {
        TeiSchema s = object();
        s.values = values;
        return s;
    }

    static TeiSchema oneOf(TeiSchema... options) {
        TeiSchema s = new TeiSchema(null);
        s.oneOf = List.of(options);
        return s;
    }

    static TeiSchema enumOf(String... values) {
        TeiSchema s = string();
        s.enumValues = List.of(values);
        return s;
    }

    TeiSchema req(String name, TeiSchema schema) {
        properties.put(name, schema);
        required.add(name);
        return this;
    }

    TeiSchema opt(String name, TeiSchema schema) {
        properties.put(name, schema);
        return this;
    }

    TeiSchema nullable() {
        nullable = true;
        return this;
    }

    /** The problems of {@code node} against this schema ("" when it conforms). */
    List<String> check(JsonNode node) {
        List<String> problems = new ArrayList<>();
        check(node, "$", problems);
        return problems;
    }

    private void check(JsonNode node, String at, List<String> problems) {
        if (node == null || node.isNull()) {
            if (!nullable) problems.add(at + ": null where " + describe() + " is required");
            return;
        }
        if (oneOf != null) {
            int matches = 0;
            for (TeiSchema option : oneOf) if (option.check(node).isEmpty()) matches++;
            if (matches != 1) problems.add(at + ": matches " + matches + " of the oneOf alternatives, not exactly one: " + node);
            return;
        }
        switch (type) {
            case "string" -> {
                if (!node.isTextual()) problems.add(at + ": not a string: " + node);
                else if (enumValues != null && !enumValues.contains(node.asText())) problems.add(at + ": '" + node.asText() + "' not in " + enumValues);
            }
            case "boolean" -> { if (!node.isBoolean()) problems.add(at + ": not a boolean: " + node); }
            case "number" -> { if (!node.isNumber()) problems.add(at + ": not a number: " + node); }
            case "integer" -> {
                if (!node.isIntegralNumber()) problems.add(at + ": not an integer: " + node);
                else if (nonNegative && node.asLong() < 0) problems.add(at + ": below the minimum 0: " + node);
            }
            case "array" -> {
                if (!node.isArray()) {
                    problems.add(at + ": not an array: " + node);
                    return;
                }
                if (minItems != null && node.size() < minItems) problems.add(at + ": fewer than " + minItems + " items");
                if (maxItems != null && node.size() > maxItems) problems.add(at + ": more than " + maxItems + " items");
                for (int i = 0; i < node.size(); i++) items.check(node.get(i), at + "[" + i + "]", problems);
            }
            case "object" -> {
                if (!node.isObject()) {
                    problems.add(at + ": not an object: " + node);
                    return;
                }
                for (String r : required) if (!node.has(r)) problems.add(at + ": required member '" + r + "' is missing");
                for (Map.Entry<String, TeiSchema> p : properties.entrySet()) {
                    if (node.has(p.getKey())) p.getValue().check(node.get(p.getKey()), at + "." + p.getKey(), problems);
                }
                if (values != null) node.fields().forEachRemaining(f -> values.check(f.getValue(), at + "." + f.getKey(), problems));
            }
            default -> throw new IllegalStateException(type);
        }
    }

    private String describe() { return type == null ? "oneOf" : type; }

    // ---- TEI's component schemas, from the field definitions of its OpenAPI document

    static final TeiSchema ERROR_TYPE = enumOf("Unhealthy", "Backend", "Overloaded", "Validation", "Tokenizer", "Empty");

    static final TeiSchema ERROR_RESPONSE = object().req("error", string()).req("error_type", ERROR_TYPE);

    static final TeiSchema OPENAI_ERROR_RESPONSE = object().req("message", string()).req("code", count()).req("error_type", ERROR_TYPE);

    static final TeiSchema CLASSIFIER_MODEL = object().req("id2label", map(string())).req("label2id", map(count()));

    static final TeiSchema MODEL_TYPE = oneOf(
            object().req("classifier", CLASSIFIER_MODEL),
            object().req("embedding", object().req("pooling", string())),
            object().req("reranker", CLASSIFIER_MODEL));

    static final TeiSchema INFO = object()
            .req("model_id", string()).opt("model_sha", string().nullable()).req("model_dtype", string())
            .req("served_model_name", string()).req("model_type", MODEL_TYPE)
            .req("max_concurrent_requests", count()).req("max_input_length", count()).req("max_batch_tokens", count())
            .opt("max_batch_requests", count().nullable()).req("max_client_batch_size", count())
            .req("auto_truncate", bool()).req("tokenization_workers", count()).req("version", string())
            .opt("sha", string().nullable()).opt("docker_label", string().nullable());

    static final TeiSchema PREDICTION = object().req("score", number()).req("label", string());

    static final TeiSchema PREDICT_RESPONSE = oneOf(array(PREDICTION), array(array(PREDICTION)));

    static final TeiSchema RERANK_RESPONSE = array(object().req("index", count()).req("score", number()).opt("text", string().nullable()));

    static final TeiSchema EMBED_RESPONSE = array(array(number()));

    static final TeiSchema EMBED_ALL_RESPONSE = array(array(array(number())));

    static final TeiSchema EMBED_SPARSE_RESPONSE = array(array(object().req("index", count()).req("value", number())));

    static final TeiSchema SIMILARITY_RESPONSE = array(number());

    static final TeiSchema TOKENIZE_RESPONSE = array(array(object().req("id", count()).req("text", string()).req("special", bool())
            .opt("start", count().nullable()).opt("stop", count().nullable())));

    static final TeiSchema DECODE_RESPONSE = array(string());

    static final TeiSchema OPENAI_RESPONSE = object().req("object", string()).req("model", string())
            .req("data", array(object().req("object", string()).req("index", count())
                    .req("embedding", oneOf(array(number()), string()))))
            .req("usage", object().req("prompt_tokens", count()).req("total_tokens", count()));
}
