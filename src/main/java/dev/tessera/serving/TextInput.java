package dev.tessera.serving;

/** One input of a request: a single text, or a sentence pair ({@code second} non-null). */
public record TextInput(String first, String second) {
    public static TextInput single(String text) { return new TextInput(text, null); }

    public boolean isPair() { return second != null; }
}
