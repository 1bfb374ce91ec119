package dev.tessera.serving;

/**
 * Cheap bounds on a text's token count, so that a text far over the length limit is refused, or cut, before the
 * tokenizer reads all of it. A BERT tokenizer splits on whitespace and never drops a letter or a digit, so every
 * whitespace-separated run holding a letter or digit yields at least one token: the count of such runs is a lower
 * bound on the tokens, and a cut at a whitespace after enough runs leaves the first tokens unchanged.
 */
final class TextBounds {
    private TextBounds() {}

    /** At least this many tokens (special tokens not counted); stops counting at {@code cap}. */
    static int minTokens(String text, int cap) {
        return scan(text, cap)[0];
    }

    /**
     * The text up to the whitespace after its {@code runs}-th letter-or-digit run (the whole text when it has fewer):
     * its first {@code runs} tokens are those of the whole text.
     */
    static String prefixWithRuns(String text, int runs) {
        return text.substring(0, scan(text, runs)[1]);
    }

    /** {how many letter-or-digit runs, up to {@code limit}; where the text is cut after the {@code limit}-th one}. */
    private static int[] scan(String text, int limit) {
        int runs = 0;
        boolean inRun = false, counted = false;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (Character.isWhitespace(c)) {
                if (inRun && runs >= limit) return new int[] {runs, i};
                inRun = false;
                continue;
            }
            if (!inRun) {
                inRun = true;
                counted = false;
            }
            if (!counted && Character.isLetterOrDigit(c)) {
                counted = true;
                runs++;
            }
        }
        return new int[] {runs, text.length()};
    }
}
