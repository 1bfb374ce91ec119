package dev.tessera.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;

import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * Applies dotted-key overrides ({@code training.max_steps: 100}, {@code model.init_from: DIR}) to a
 * recipe's YAML text before it is parsed, so the usual validation (unknown keys, ranges) covers them.
 * String values are read as YAML scalars/flow values ("100" → 100, "[a, b]" → a list).
 */
public final class RecipeOverrides {
    private RecipeOverrides() {}

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    /** Bounds on what a client may ask: a recipe has a few dozen keys, two or three levels deep. */
    static final int MAX_OVERRIDES = 64, MAX_KEY_PARTS = 6, MAX_KEY_LENGTH = 200;

    public static String apply(String yaml, Map<String, ?> overrides, String source) {
        if (overrides == null || overrides.isEmpty()) return yaml;
        checkBounds(overrides, source);
        JsonNode root;
        try {
            root = YAML.readTree(yaml);
        } catch (IOException e) {
            throw new RecipeException(source, List.of("not valid YAML: " + e.getMessage().lines().findFirst().orElse("")));
        }
        if (root == null || root.isMissingNode() || root.isNull()) root = YAML.createObjectNode();
        if (!root.isObject()) throw new RecipeException(source, List.of("the recipe must be a mapping"));
        for (var e : overrides.entrySet()) {
            String[] path = e.getKey().split("\\.");
            ObjectNode node = (ObjectNode) root;
            for (int i = 0; i < path.length - 1; i++) {
                JsonNode child = node.get(path[i]);
                if (child == null || !child.isObject()) child = node.putObject(path[i]);
                node = (ObjectNode) child;
            }
            node.set(path[path.length - 1], value(e.getValue()));
        }
        try {
            return YAML.writeValueAsString(root);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void checkBounds(Map<String, ?> overrides, String source) {
        List<String> p = new java.util.ArrayList<>();
        if (overrides.size() > MAX_OVERRIDES) p.add(overrides.size() + " overrides; at most " + MAX_OVERRIDES + " are accepted");
        long chars = 0;
        for (var e : overrides.entrySet()) {
            String k = e.getKey();
            String shown = k.length() > 40 ? k.substring(0, 40) + "…" : k;
            if (k.length() > MAX_KEY_LENGTH) p.add("override key '" + shown + "' is longer than " + MAX_KEY_LENGTH + " characters");
            else if (k.split("\\.", -1).length > MAX_KEY_PARTS) p.add("override key '" + shown + "' has more than " + MAX_KEY_PARTS + " dotted parts");
            else if (k.isEmpty() || k.startsWith(".") || k.endsWith(".") || k.contains("..")) p.add("override key '" + shown + "' has an empty part");
            if (e.getValue() instanceof String v) chars += v.length();
        }
        if (chars > Recipe.MAX_CHARS) p.add("override values add up to more than " + Recipe.MAX_CHARS / 1024 + " KiB");
        if (!p.isEmpty()) throw new RecipeException(source, p);
    }

    private static JsonNode value(Object v) {
        if (v instanceof String s) {
            try {
                JsonNode n = YAML.readTree(s);
                return n == null || n.isMissingNode() ? YAML.getNodeFactory().textNode(s) : n;
            } catch (IOException e) {
                return YAML.getNodeFactory().textNode(s);
            }
        }
        return YAML.valueToTree(v);
    }

    /** "key=value" pairs (CLI {@code --set}). */
    public static Map<String, String> parsePairs(List<String> pairs) {
        Map<String, String> m = new java.util.LinkedHashMap<>();
        for (String p : pairs) {
            int eq = p.indexOf('=');
            if (eq < 1) throw new IllegalArgumentException("--set expects key=value, got '" + p + "'");
            m.put(p.substring(0, eq).trim(), p.substring(eq + 1).trim());
        }
        return m;
    }
}
