package dev.tessera.data;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Turns labelled examples into model inputs: {@code [CLS] a [SEP]} or {@code [CLS] a [SEP] b [SEP]}
 * (token types 0 for the first part, 1 for b and its [SEP]), at most {@code maxLength} tokens. Too long
 * pairs are truncated "longest first" (one token at a time from the end of the longer text), as Hugging
 * Face tokenizers do by default.
 */
public final class FinetuneEncoder {

    /** One encoded example; {@code classLabel} is -1 and {@code target} NaN when not applicable. */
    public record Encoded(int[] inputIds, int[] tokenTypeIds, int classLabel, float target) {}

    private final Function<String, int[]> tokenizer;
    private final SpecialTokens specials;
    private final int maxLength;

    /** @param tokenizer text → ids without special tokens */
    public FinetuneEncoder(Function<String, int[]> tokenizer, SpecialTokens specials, int maxLength) {
        if (maxLength < 4) throw new IllegalArgumentException("max length must be >= 4, got " + maxLength);
        this.tokenizer = tokenizer;
        this.specials = specials;
        this.maxLength = maxLength;
    }

    /** Encodes every example; labels are mapped through {@code labels} (errors name {@code file} and line). */
    public List<Encoded> encodeAll(List<LabelledExample> examples, LabelSet labels, Path file) {
        List<Encoded> out = new ArrayList<>(examples.size());
        for (LabelledExample e : examples) out.add(encode(e, labels, file));
        return out;
    }

    public Encoded encode(LabelledExample e, LabelSet labels, Path file) {
        int cls = -1;
        float target = Float.NaN;
        if (e.label() != null && labels != null) {
            if (labels.isRegression()) target = labels.target(e.label(), file, e.line());
            else cls = labels.classIndex(e.label(), file, e.line());
        }
        int[] a = tokenizer.apply(e.text());
        int[] b = e.textB() == null ? null : tokenizer.apply(e.textB());
        int[][] ids = assemble(a, b);
        return new Encoded(ids[0], ids[1], cls, target);
    }

    /** {ids, typeIds} for texts already tokenized (b may be null). */
    public int[][] assemble(int[] a, int[] b) {
        int la = a.length, lb = b == null ? 0 : b.length;
        int room = maxLength - (b == null ? 2 : 3);
        while (la + lb > room) {
            if (la >= lb) la--;
            else lb--;
        }
        int n = la + lb + (b == null ? 2 : 3);
        int[] ids = new int[n], types = new int[n];
        int k = 0;
        ids[k++] = specials.cls();
        for (int i = 0; i < la; i++) ids[k++] = a[i];
        ids[k++] = specials.sep();
        if (b != null) {
            for (int i = 0; i < lb; i++) { types[k] = 1; ids[k++] = b[i]; }
            types[k] = 1;
            ids[k++] = specials.sep();
        }
        return new int[][] {ids, types};
    }

    /**
     * Packs {@code examples} visited in {@code order} into batches of at most {@code batchSize} sequences
     * and {@code tokenBudget} tokens (use Integer.MAX_VALUE for no token limit). Batches carry class
     * labels or regression targets, whichever the examples have.
     */
    public static List<Batch> batches(List<Encoded> examples, int[] order, int batchSize, int tokenBudget) {
        if (batchSize < 1) throw new IllegalArgumentException("batch size must be >= 1");
        List<Batch> out = new ArrayList<>();
        int i = 0;
        while (i < order.length) {
            int start = i, tokens = 0;
            while (i < order.length && i - start < batchSize) {
                int len = examples.get(order[i]).inputIds().length;
                if (i > start && tokens + len > tokenBudget) break;
                tokens += len;
                i++;
            }
            out.add(batchOf(examples, order, start, i));
        }
        return out;
    }

    private static Batch batchOf(List<Encoded> ex, int[] order, int from, int to) {
        int n = to - from;
        int[] cu = new int[n + 1];
        int max = 0;
        for (int s = 0; s < n; s++) {
            int len = ex.get(order[from + s]).inputIds().length;
            cu[s + 1] = cu[s] + len;
            max = Math.max(max, len);
        }
        int[] ids = new int[cu[n]], types = new int[cu[n]];
        int[] cls = new int[n];
        float[] tgt = new float[n];
        boolean hasCls = false, hasTgt = false;
        for (int s = 0; s < n; s++) {
            Encoded e = ex.get(order[from + s]);
            System.arraycopy(e.inputIds(), 0, ids, cu[s], e.inputIds().length);
            System.arraycopy(e.tokenTypeIds(), 0, types, cu[s], e.tokenTypeIds().length);
            cls[s] = e.classLabel();
            tgt[s] = e.target();
            hasCls |= e.classLabel() >= 0;
            hasTgt |= !Float.isNaN(e.target());
        }
        return new Batch(ids, types, cu, max, null, hasCls ? cls : null, hasTgt ? tgt : null);
    }
}
