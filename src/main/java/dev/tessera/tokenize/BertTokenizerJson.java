package dev.tessera.tokenize;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds the tokenizer.json that Hugging Face's fast BertTokenizer would produce from a {@code vocab.txt} and
 * {@code tokenizer_config.json}: BertNormalizer (lowercase and accent stripping per {@code do_lower_case} /
 * {@code strip_accents}), BertPreTokenizer, WordPiece with {@code ##} and the unknown token, and the template
 * {@code [CLS] $A [SEP]} / {@code [CLS] $A [SEP] $B:1 [SEP]:1}.
 */
public final class BertTokenizerJson {
    private BertTokenizerJson() {}

    public static String synthesise(Path vocabTxt, Path tokenizerConfig) throws IOException {
        JsonNode cfg = Files.isRegularFile(tokenizerConfig) ? new ObjectMapper().readTree(tokenizerConfig.toFile())
                : new ObjectMapper().createObjectNode();
        Map<String, Integer> vocab = readVocab(vocabTxt);
        String unk = token(cfg, "unk_token", "[UNK]"), cls = token(cfg, "cls_token", "[CLS]");
        String sep = token(cfg, "sep_token", "[SEP]"), pad = token(cfg, "pad_token", "[PAD]");
        String mask = token(cfg, "mask_token", "[MASK]");
        for (String required : List.of(unk, cls, sep)) {
            if (!vocab.containsKey(required)) {
                throw new IllegalArgumentException(vocabTxt + " lacks the special token " + required);
            }
        }
        boolean lower = cfg.path("do_lower_case").asBoolean(true);

        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (String t : List.of(pad, unk, cls, sep, mask)) {
            Integer id = vocab.get(t);
            if (id == null) continue;
            ObjectNode a = added.addObject();
            a.put("id", id).put("content", t).put("single_word", false).put("lstrip", false).put("rstrip", false)
                    .put("normalized", false).put("special", true);
        }
        ObjectNode norm = root.putObject("normalizer");
        norm.put("type", "BertNormalizer").put("clean_text", true)
                .put("handle_chinese_chars", cfg.path("tokenize_chinese_chars").asBoolean(true));
        JsonNode strip = cfg.get("strip_accents");
        if (strip != null && strip.isBoolean()) norm.put("strip_accents", strip.asBoolean());
        else norm.putNull("strip_accents"); // null: strip exactly when lowercasing, as BERT does
        norm.put("lowercase", lower);
        root.putObject("pre_tokenizer").put("type", "BertPreTokenizer");

        ObjectNode post = root.putObject("post_processor");
        post.put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        special(single, cls, 0);
        sequence(single, "A", 0);
        special(single, sep, 0);
        ArrayNode pair = post.putArray("pair");
        special(pair, cls, 0);
        sequence(pair, "A", 0);
        special(pair, sep, 0);
        sequence(pair, "B", 1);
        special(pair, sep, 1);
        ObjectNode specials = post.putObject("special_tokens");
        for (String t : List.of(cls, sep)) {
            ObjectNode s = specials.putObject(t);
            s.put("id", t);
            s.putArray("ids").add(vocab.get(t));
            s.putArray("tokens").add(t);
        }
        root.putObject("decoder").put("type", "WordPiece").put("prefix", "##").put("cleanup", true);

        ObjectNode model = root.putObject("model");
        model.put("type", "WordPiece").put("unk_token", unk).put("continuing_subword_prefix", "##")
                .put("max_input_chars_per_word", 100);
        ObjectNode v = model.putObject("vocab");
        vocab.forEach(v::put);
        return json.writeValueAsString(root);
    }

    /** vocab.txt: one token per line, the id is the line number (a repeated token keeps its last line, as HF does). */
    static Map<String, Integer> readVocab(Path vocabTxt) throws IOException {
        Map<String, Integer> vocab = new LinkedHashMap<>();
        List<String> lines = Files.readAllLines(vocabTxt, StandardCharsets.UTF_8);
        for (int i = 0; i < lines.size(); i++) {
            String t = lines.get(i);
            if (t.endsWith("\r")) t = t.substring(0, t.length() - 1);
            vocab.put(t, i);
        }
        if (vocab.isEmpty()) throw new IllegalArgumentException(vocabTxt + " is empty");
        return vocab;
    }

    /** A special token from tokenizer_config.json: a string or an AddedToken object with "content". */
    private static String token(JsonNode cfg, String field, String fallback) {
        JsonNode n = cfg.get(field);
        if (n == null || n.isNull()) return fallback;
        return n.isTextual() ? n.asText() : n.path("content").asText(fallback);
    }

    private static void special(ArrayNode a, String id, int type) {
        a.addObject().putObject("SpecialToken").put("id", id).put("type_id", type);
    }

    private static void sequence(ArrayNode a, String id, int type) {
        a.addObject().putObject("Sequence").put("id", id).put("type_id", type);
    }
}
