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
 * Tessera's one tokenizer.json writer (for its own vocabularies and for checkpoints that only have a
 * {@code vocab.txt}): what Hugging Face's fast BertTokenizer would produce from a {@code vocab.txt} and
 * {@code tokenizer_config.json}: BertNormalizer (lowercase and accent stripping per {@code do_lower_case} /
 * {@code strip_accents}), BertPreTokenizer, WordPiece with {@code ##} and the unknown token, and the template
 * {@code [CLS] $A [SEP]} / {@code [CLS] $A [SEP] $B:1 [SEP]:1}.
 */
public final class BertTokenizerJson {
    private BertTokenizerJson() {}

    /**
     * The special tokens and normalisation of a BERT WordPiece tokenizer.
     *
     * @param stripAccents true/false, or null: strip exactly when lowercasing (BERT's rule)
     */
    public record Spec(String unk, String cls, String sep, String pad, String mask, boolean lowercase,
                       Boolean stripAccents, boolean chineseChars) {

        /** Tessera's own vocabularies (WordPieceTrainer): [PAD] [UNK] [CLS] [SEP] [MASK]. */
        public static Spec standard(boolean lowercase) {
            return new Spec("[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]", lowercase, lowercase, true);
        }
    }

    /** tokenizer.json text for a {@code vocab.txt} and (when it exists) {@code tokenizer_config.json} of a checkpoint. */
    public static String synthesise(Path vocabTxt, Path tokenizerConfig) throws IOException {
        JsonNode cfg = Files.isRegularFile(tokenizerConfig) ? new ObjectMapper().readTree(tokenizerConfig.toFile())
                : new ObjectMapper().createObjectNode();
        JsonNode strip = cfg.get("strip_accents");
        Spec spec = new Spec(token(cfg, "unk_token", "[UNK]"), token(cfg, "cls_token", "[CLS]"), token(cfg, "sep_token", "[SEP]"),
                token(cfg, "pad_token", "[PAD]"), token(cfg, "mask_token", "[MASK]"), cfg.path("do_lower_case").asBoolean(true),
                strip != null && strip.isBoolean() ? strip.asBoolean() : null, cfg.path("tokenize_chinese_chars").asBoolean(true));
        return new ObjectMapper().writeValueAsString(tree(readVocab(vocabTxt), spec, vocabTxt.toString()));
    }

    /**
     * The one tokenizer.json writer: BertNormalizer, BertPreTokenizer, WordPiece model with {@code ##},
     * [CLS]/[SEP] template; {@code vocab} maps token → id in id order. {@code source} names the vocabulary in errors.
     */
    public static ObjectNode tree(Map<String, Integer> vocab, Spec spec, String source) {
        for (String required : List.of(spec.unk(), spec.cls(), spec.sep())) {
            if (!vocab.containsKey(required)) {
                throw new IllegalArgumentException(source + " lacks the special token " + required);
            }
        }
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (String t : List.of(spec.pad(), spec.unk(), spec.cls(), spec.sep(), spec.mask())) {
            Integer id = vocab.get(t);
            if (id == null) continue;
            ObjectNode a = added.addObject();
            a.put("id", id).put("content", t).put("single_word", false).put("lstrip", false).put("rstrip", false)
                    .put("normalized", false).put("special", true);
        }
        ObjectNode norm = root.putObject("normalizer");
        norm.put("type", "BertNormalizer").put("clean_text", true).put("handle_chinese_chars", spec.chineseChars());
        if (spec.stripAccents() != null) norm.put("strip_accents", spec.stripAccents());
        else norm.putNull("strip_accents");
        norm.put("lowercase", spec.lowercase());
        root.putObject("pre_tokenizer").put("type", "BertPreTokenizer");

        ObjectNode post = root.putObject("post_processor");
        post.put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        special(single, spec.cls(), 0);
        sequence(single, "A", 0);
        special(single, spec.sep(), 0);
        ArrayNode pair = post.putArray("pair");
        special(pair, spec.cls(), 0);
        sequence(pair, "A", 0);
        special(pair, spec.sep(), 0);
        sequence(pair, "B", 1);
        special(pair, spec.sep(), 1);
        ObjectNode specials = post.putObject("special_tokens");
        for (String t : List.of(spec.cls(), spec.sep())) {
            ObjectNode s = specials.putObject(t);
            s.put("id", t);
            s.putArray("ids").add(vocab.get(t));
            s.putArray("tokens").add(t);
        }
        root.putObject("decoder").put("type", "WordPiece").put("prefix", "##").put("cleanup", true);

        ObjectNode model = root.putObject("model");
        model.put("type", "WordPiece").put("unk_token", spec.unk()).put("continuing_subword_prefix", "##")
                .put("max_input_chars_per_word", 100);
        ObjectNode v = model.putObject("vocab");
        vocab.forEach(v::put);
        return root;
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
