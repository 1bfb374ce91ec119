package dev.tessera.serving;

/**
 * One input of a request: a single text, a sentence pair ({@code second} non-null), or token ids of the model's
 * vocabulary used as they are ({@code ids} non-null: no special tokens are added).
 */
public record TextInput(String first, String second, long[] ids) {
    public TextInput(String first, String second) { this(first, second, null); }

    public static TextInput single(String text) { return new TextInput(text, null, null); }

    public static TextInput pair(String a, String b) { return new TextInput(a, b, null); }

    public static TextInput tokenIds(long[] ids) { return new TextInput(null, null, ids); }

    public boolean isPair() { return second != null; }

    public boolean isIds() { return ids != null; }

    /** Characters (or ids) the client sent, as TEI counts {@code compute_chars}. */
    public int chars() {
        if (ids != null) return ids.length;
        return first.codePointCount(0, first.length()) + (second == null ? 0 : second.codePointCount(0, second.length()));
    }
}
