package dev.tessera.tokenize;

import java.text.Normalizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * BERT's "basic" text processing, i.e. what Hugging Face's {@code BertNormalizer} followed by
 * {@code BertPreTokenizer} do, so that the vocabulary is trained on exactly the words the tokenizer
 * will later see:
 * <ol>
 *   <li>clean text: drop NUL, U+FFFD and control characters, turn every whitespace into a space;</li>
 *   <li>put spaces around CJK ideographs, so each is its own word;</li>
 *   <li>when lower-casing: strip accents (NFD, drop combining marks) and lower-case;</li>
 *   <li>split on whitespace, and make every punctuation character a word of its own.</li>
 * </ol>
 */
public final class BertBasicSplitter {

    private final boolean lowercase;

    /** @param lowercase lower-case and strip accents (the uncased BERT behaviour) */
    public BertBasicSplitter(boolean lowercase) {
        this.lowercase = lowercase;
    }

    public boolean lowercase() { return lowercase; }

    /** The words of {@code text}, in order. */
    public List<String> split(String text) {
        List<String> out = new ArrayList<>();
        forEachWord(text, out::add);
        return out;
    }

    /** Calls {@code sink} with each word of {@code text}, in order (no intermediate list). */
    public void forEachWord(String text, Consumer<String> sink) {
        String normalized = normalize(text);
        StringBuilder word = new StringBuilder();
        for (int i = 0; i < normalized.length(); ) {
            int cp = normalized.codePointAt(i);
            i += Character.charCount(cp);
            if (cp == ' ') {
                flush(word, sink);
            } else if (isPunctuation(cp)) {
                flush(word, sink);
                sink.accept(new String(Character.toChars(cp)));
            } else {
                word.appendCodePoint(cp);
            }
        }
        flush(word, sink);
    }

    /** BertNormalizer: clean text, CJK padding, then (when lower-casing) accent stripping and lower-casing. */
    public String normalize(String text) {
        StringBuilder sb = new StringBuilder(text.length() + 8);
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            i += Character.charCount(cp);
            if (cp == 0 || cp == 0xFFFD || isControl(cp)) continue;
            if (isWhitespace(cp)) {
                sb.append(' ');
            } else if (isCjk(cp)) {
                sb.append(' ').appendCodePoint(cp).append(' ');
            } else {
                sb.appendCodePoint(cp);
            }
        }
        String s = sb.toString();
        if (lowercase) {
            s = stripAccents(s).toLowerCase(Locale.ROOT);
        }
        return s;
    }

    private static void flush(StringBuilder word, Consumer<String> sink) {
        if (!word.isEmpty()) {
            sink.accept(word.toString());
            word.setLength(0);
        }
    }

    static String stripAccents(String s) {
        String nfd = Normalizer.normalize(s, Normalizer.Form.NFD);
        StringBuilder sb = new StringBuilder(nfd.length());
        for (int i = 0; i < nfd.length(); ) {
            int cp = nfd.codePointAt(i);
            i += Character.charCount(cp);
            if (Character.getType(cp) != Character.NON_SPACING_MARK) sb.appendCodePoint(cp);
        }
        return sb.toString();
    }

    /** Tab, newline and carriage return count as whitespace, not control (as in BERT). */
    static boolean isWhitespace(int cp) {
        return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || Character.getType(cp) == Character.SPACE_SEPARATOR;
    }

    static boolean isControl(int cp) {
        if (cp == '\t' || cp == '\n' || cp == '\r') return false;
        int t = Character.getType(cp);
        return t == Character.CONTROL || t == Character.FORMAT;
    }

    /** ASCII non-alphanumeric printable characters plus every Unicode P* category (BERT's definition). */
    static boolean isPunctuation(int cp) {
        if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
            return true;
        }
        return switch (Character.getType(cp)) {
            case Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.START_PUNCTUATION,
                 Character.END_PUNCTUATION, Character.INITIAL_QUOTE_PUNCTUATION, Character.FINAL_QUOTE_PUNCTUATION,
                 Character.OTHER_PUNCTUATION -> true;
            default -> false;
        };
    }

    /** The CJK Unified Ideographs blocks BERT treats as single-character words. */
    static boolean isCjk(int cp) {
        return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
                || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF)
                || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
    }
}
