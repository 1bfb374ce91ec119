package dev.tessera.tokenize;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.CharSpan;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * The tokenizer of a checkpoint directory, run by DJL's Hugging Face tokenizers (the Rust library).
 * {@code tokenizer.json} is used when present; otherwise an equivalent BERT tokenizer is synthesised from
 * {@code vocab.txt} and {@code tokenizer_config.json} (see {@link BertTokenizerJson}).
 * Encodings carry special tokens but are never truncated or padded here: {@link #truncate} is explicit.
 */
public final class TextTokenizer implements AutoCloseable {
    private final HuggingFaceTokenizer tokenizer;
    private final String[] idToToken;

    private TextTokenizer(HuggingFaceTokenizer tokenizer, String[] idToToken) {
        this.tokenizer = tokenizer;
        this.idToToken = idToToken;
    }

    public static TextTokenizer load(Path checkpointDir) {
        Path json = checkpointDir.resolve("tokenizer.json");
        Path vocab = checkpointDir.resolve("vocab.txt");
        String text;
        try {
            if (Files.isRegularFile(json)) {
                text = Files.readString(json);
            } else if (Files.isRegularFile(vocab)) {
                text = BertTokenizerJson.synthesise(vocab, checkpointDir.resolve("tokenizer_config.json"));
            } else {
                throw new IllegalArgumentException("no tokenizer in " + checkpointDir + ": expected tokenizer.json or vocab.txt");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the tokenizer of " + checkpointDir, e);
        }
        return fromJson(text, checkpointDir.toString());
    }

    /** A tokenizer from the text of a tokenizer.json. */
    public static TextTokenizer fromJson(String tokenizerJson, String source) {
        String[] vocab = vocabulary(tokenizerJson, source);
        if (System.getProperty("ai.djl.offline") == null) System.setProperty("ai.djl.offline", "true"); // never download
        Map<String, String> options = new HashMap<>();
        options.put("addSpecialTokens", "true");
        options.put("truncation", "false");
        options.put("padding", "false");
        options.put("maxLength", "-1");
        try {
            var in = new ByteArrayInputStream(tokenizerJson.getBytes(StandardCharsets.UTF_8));
            return new TextTokenizer(HuggingFaceTokenizer.newInstance(in, options), vocab);
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("cannot load the tokenizer of " + source + ": " + e.getMessage(), e);
        }
    }

    public Encoding encode(String text) { return encode(text, true); }

    /** {@code text} encoded with or without the tokenizer's special tokens ([CLS], [SEP]). */
    public Encoding encode(String text, boolean addSpecialTokens) {
        if (text == null) throw new IllegalArgumentException("text is null");
        return convert(tokenizer.encode(text, addSpecialTokens, false));
    }

    /**
     * UTF-8 byte offsets of the given character offsets (Unicode code points, as the tokenizer reports them) in
     * {@code text}: what TEI's /tokenize reports as {@code start}/{@code stop}.
     */
    public static int[] utf8Offsets(String text, int[] codePointOffsets) {
        int n = text.codePointCount(0, text.length());
        int[] bytesAt = new int[n + 1];
        for (int cp = 0, i = 0; cp < n; cp++) {
            int c = text.codePointAt(i);
            bytesAt[cp + 1] = bytesAt[cp] + (c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4);
            i += Character.charCount(c);
        }
        int[] out = new int[codePointOffsets.length];
        for (int k = 0; k < out.length; k++) out[k] = bytesAt[Math.max(0, Math.min(n, codePointOffsets[k]))];
        return out;
    }

    /** Token ids of {@code text} without special tokens (for token shards and finetuning encoders). */
    public int[] ids(String text) {
        if (text == null) throw new IllegalArgumentException("text is null");
        long[] ids = tokenizer.encode(text, false, false).getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) out[i] = (int) ids[i];
        return out;
    }

    /** The id of {@code token} in the vocabulary, or -1. */
    public int tokenId(String token) {
        for (int i = 0; i < idToToken.length; i++) if (token.equals(idToToken[i])) return i;
        return -1;
    }

    public Encoding encode(String a, String b) { return encode(a, b, true); }

    /** A text pair, with or without the special tokens ([CLS] a [SEP] b [SEP]). */
    public Encoding encode(String a, String b, boolean addSpecialTokens) {
        if (a == null || b == null) throw new IllegalArgumentException("text of a pair is null");
        return convert(tokenizer.encode(a, b, addSpecialTokens, false));
    }

    /**
     * The encoding cut to at most {@code maxLen} tokens, special tokens kept. For a pair, Hugging Face's
     * longest-first rule: the shorter text is kept whole if it fits in half the budget, the longer one gets the
     * rest; if both are too long each gets half (the longer one the odd token).
     */
    public static Encoding truncate(Encoding e, int maxLen) { return truncate(e, maxLen, false); }

    /**
     * As {@link #truncate(Encoding, int)}; with {@code left} the tokens are cut from the start of each text instead of
     * its end (Hugging Face's {@code TruncationDirection.Left}: the end of the text is kept).
     */
    public static Encoding truncate(Encoding e, int maxLen, boolean left) {
        if (e.length() <= maxLen) return e;
        int specials = e.length() - e.count(0) - e.count(1);
        int budget = maxLen - specials;
        if (budget < 0) {
            throw new IllegalArgumentException("max length " + maxLen + " is shorter than the " + specials + " special tokens");
        }
        int keepA, keepB;
        int a = e.count(0), b = e.count(1);
        if (!e.isPair()) {
            keepA = budget;
            keepB = 0;
        } else {
            boolean swap = a > b;
            int shorter = Math.min(a, b), longer;
            longer = shorter > budget ? shorter : Math.max(shorter, budget - shorter);
            if (shorter + longer > budget) {
                shorter = budget / 2;
                longer = shorter + budget % 2;
            }
            keepA = Math.min(a, swap ? longer : shorter);
            keepB = Math.min(b, swap ? shorter : longer);
        }
        int n = specials + keepA + keepB;
        long[] ids = new long[n], types = new long[n], seqs = new long[n];
        String[] toks = new String[n];
        int[] st = new int[n], en = new int[n];
        int seenA = 0, seenB = 0, j = 0;
        int skipA = left ? a - keepA : 0, skipB = left ? b - keepB : 0; // Left: drop the first tokens of each text
        for (int i = 0; i < e.length(); i++) {
            long s = e.sequenceIds()[i];
            boolean keep = s < 0
                    || (s == 0 && (left ? seenA++ >= skipA : seenA++ < keepA))
                    || (s == 1 && (left ? seenB++ >= skipB : seenB++ < keepB));
            if (!keep) continue;
            ids[j] = e.ids()[i];
            types[j] = e.typeIds()[i];
            seqs[j] = s;
            toks[j] = e.tokens()[i];
            st[j] = e.start()[i];
            en[j] = e.end()[i];
            j++;
        }
        return new Encoding(ids, types, seqs, toks, st, en);
    }

    /** Size of the tokenizer's vocabulary (highest id + 1, added tokens included). */
    public int vocabSize() { return idToToken.length; }

    public String idToToken(int id) {
        if (id < 0 || id >= idToToken.length || idToToken[id] == null) {
            throw new IllegalArgumentException("token id " + id + " is not in the vocabulary (size " + idToToken.length + ")");
        }
        return idToToken[id];
    }

    public String decode(long[] ids, boolean skipSpecialTokens) { return tokenizer.decode(ids, skipSpecialTokens); }

    @Override
    public void close() { tokenizer.close(); }

    private static Encoding convert(ai.djl.huggingface.tokenizers.Encoding d) {
        long[] ids = d.getIds();
        long[] seq = d.getSequenceIds();
        long[] special = d.getSpecialTokenMask();
        long[] seqs = new long[ids.length];
        for (int i = 0; i < ids.length; i++) seqs[i] = special[i] != 0 ? -1 : seq[i];
        CharSpan[] spans = d.getCharTokenSpans();
        int[] start = new int[ids.length], end = new int[ids.length];
        for (int i = 0; i < ids.length && spans != null && i < spans.length; i++) {
            if (spans[i] != null) {
                start[i] = spans[i].getStart();
                end[i] = spans[i].getEnd();
            }
        }
        return new Encoding(ids, d.getTypeIds(), seqs, d.getTokens(), start, end);
    }

    /** id → token from the model's vocab and the added tokens of a tokenizer.json. */
    private static String[] vocabulary(String tokenizerJson, String source) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(tokenizerJson);
        } catch (IOException e) {
            throw new IllegalArgumentException("tokenizer.json of " + source + " is not valid JSON: " + e.getMessage(), e);
        }
        Map<Integer, String> byId = new HashMap<>();
        JsonNode vocab = root.path("model").path("vocab");
        if (vocab.isObject()) { // WordPiece, BPE, WordLevel
            vocab.fields().forEachRemaining(e -> byId.put(e.getValue().asInt(), e.getKey()));
        } else if (vocab.isArray()) { // Unigram: [[piece, score], ...]
            for (int i = 0; i < vocab.size(); i++) byId.put(i, vocab.get(i).path(0).asText());
        } else {
            throw new IllegalArgumentException("tokenizer.json of " + source + " has no model.vocab");
        }
        for (JsonNode t : root.path("added_tokens")) byId.put(t.path("id").asInt(), t.path("content").asText());
        int size = byId.keySet().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;
        String[] out = new String[size];
        byId.forEach((id, tok) -> {
            if (id >= 0) out[id] = tok;
        });
        return out;
    }
}
