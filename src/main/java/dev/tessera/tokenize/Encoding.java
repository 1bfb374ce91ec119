package dev.tessera.tokenize;

import java.util.Arrays;

/**
 * One tokenized input (a text or a text pair) with special tokens, without padding or truncation.
 *
 * @param ids         token ids
 * @param typeIds     token type (segment) ids: 0 for the first text, 1 for the second of a pair
 * @param sequenceIds which text each token came from: 0, 1, or -1 for special tokens ([CLS], [SEP])
 * @param tokens      token strings
 * @param start       character offset where each token starts in its text (0 for special tokens)
 * @param end         character offset where each token ends in its text (0 for special tokens)
 */
public record Encoding(long[] ids, long[] typeIds, long[] sequenceIds, String[] tokens, int[] start, int[] end) {

    public Encoding {
        int n = ids.length;
        if (typeIds.length != n || sequenceIds.length != n || tokens.length != n || start.length != n || end.length != n) {
            throw new IllegalArgumentException("encoding arrays differ in length");
        }
    }

    public int length() { return ids.length; }

    public boolean isPair() { return Arrays.stream(sequenceIds).anyMatch(s -> s == 1); }

    public boolean isSpecial(int i) { return sequenceIds[i] < 0; }

    /** Number of tokens that came from text {@code seq} (0 or 1). */
    public int count(int seq) { return (int) Arrays.stream(sequenceIds).filter(s -> s == seq).count(); }

    /** An all-ones attention mask of this length. */
    public long[] attentionMask() {
        long[] m = new long[ids.length];
        Arrays.fill(m, 1);
        return m;
    }

    @Override
    public String toString() { return "Encoding" + Arrays.toString(tokens); }
}
