package dev.tessera.data;

import java.util.ArrayList;
import java.util.List;

/**
 * Pretraining sequences from a {@link ShardSet}, in a seeded shuffled order, packed into unpadded batches.
 *
 * <p><b>Sequences.</b> Every document is cut into chunks of at most {@code maxSeqLen - 2} tokens, in
 * order; each chunk becomes one sequence {@code [CLS] chunk [SEP]} (so at most {@code maxSeqLen} tokens,
 * token types all 0). Empty documents give no sequence. Sequence numbers follow document order.
 *
 * <p><b>Order.</b> Epoch e visits the sequences in {@link DataOrder#permutation}(seed, e, n); when an epoch
 * is used up the next one starts. The {@link DataPosition} (epoch, index into that order) is all a
 * checkpoint needs to resume the same stream. Batches come unmasked; apply {@link MlmMasker}.
 */
public final class PretrainLoader {

    private final ShardSet shards;
    private final int maxSeqLen;
    private final SpecialTokens specials;
    private final long seed;
    private final int[] seqDoc;    // sequence -> document
    private final int[] seqStart;  // sequence -> first token in the document
    private final int[] seqLen;    // sequence -> length without [CLS]/[SEP]

    private int epoch;
    private long index;
    private int[] order;
    private boolean padded;

    public PretrainLoader(ShardSet shards, int maxSeqLen, SpecialTokens specials, long seed, DataPosition start) {
        if (maxSeqLen < 3) throw new IllegalArgumentException("max_seq_len must be >= 3, got " + maxSeqLen);
        this.shards = shards;
        this.maxSeqLen = maxSeqLen;
        this.specials = specials;
        this.seed = seed;
        int chunk = maxSeqLen - 2;
        long count = 0;
        for (int d = 0; d < shards.numDocs(); d++) count += (shards.docLength(d) + chunk - 1) / chunk;
        if (count == 0) throw new IllegalArgumentException("the corpus in " + shards.dir() + " has no tokens");
        if (count > Integer.MAX_VALUE) throw new IllegalArgumentException("too many sequences: " + count);
        seqDoc = new int[(int) count];
        seqStart = new int[(int) count];
        seqLen = new int[(int) count];
        int s = 0;
        for (int d = 0; d < shards.numDocs(); d++) {
            int len = shards.docLength(d);
            for (int from = 0; from < len; from += chunk) {
                seqDoc[s] = d;
                seqStart[s] = from;
                seqLen[s] = Math.min(chunk, len - from);
                s++;
            }
        }
        seek(start);
    }

    /** Sequences per epoch. */
    public int numSequences() { return seqDoc.length; }

    public int maxSeqLen() { return maxSeqLen; }

    /**
     * Padded accounting (a classic BERT batch): every sequence counts {@code maxSeqLen} tokens against the
     * microbatch budget, so {@link #padded(Batch, int)} of each microbatch stays within it.
     */
    public void setPadded(boolean padded) { this.padded = padded; }

    /**
     * {@code b} (already masked) with every sequence shorter than {@code maxSeqLen} followed by a sequence of
     * {@code padId} tokens making up the difference, labels {@link Batch#IGNORE}. The engine attends within
     * a sequence only, so the real tokens compute exactly what they compute unpadded (as with an attention
     * mask) and the loss is unchanged; the pad positions cost what they cost in a padded [batch, maxSeqLen].
     */
    public Batch padded(Batch b, int padId) {
        int n = b.numSequences(), extra = 0, extraSeqs = 0, longest = b.maxSeqlen();
        for (int s = 0; s < n; s++) {
            int len = b.cuSeqlens()[s + 1] - b.cuSeqlens()[s];
            if (len < maxSeqLen) { extra += maxSeqLen - len; extraSeqs++; longest = Math.max(longest, maxSeqLen - len); }
        }
        if (extra == 0) return b;
        int t = b.numTokens();
        int[] ids = java.util.Arrays.copyOf(b.inputIds(), t + extra), types = new int[t + extra];
        System.arraycopy(b.tokenTypeIds(), 0, types, 0, t);
        int[] labels = b.mlmLabels() == null ? null : java.util.Arrays.copyOf(b.mlmLabels(), t + extra);
        int[] cu = java.util.Arrays.copyOf(b.cuSeqlens(), n + 1 + extraSeqs);
        java.util.Arrays.fill(ids, t, t + extra, padId);
        if (labels != null) java.util.Arrays.fill(labels, t, t + extra, Batch.IGNORE);
        int k = n;
        for (int s = 0; s < n; s++) {
            int len = b.cuSeqlens()[s + 1] - b.cuSeqlens()[s];
            if (len < maxSeqLen) { cu[k + 1] = cu[k] + maxSeqLen - len; k++; }
        }
        return new Batch(ids, types, cu, longest, labels, b.classLabels(), b.targets());
    }

    /** The position of the next sequence to be served. */
    public DataPosition position() { return new DataPosition(epoch, index); }

    /** Continues from {@code pos} (as saved by a checkpoint). */
    public void seek(DataPosition pos) {
        if (pos.index() > numSequences()) {
            throw new IllegalArgumentException("position " + pos + " is past the " + numSequences() + " sequences of an epoch");
        }
        if (order == null || pos.epoch() != epoch) order = DataOrder.permutation(seed, pos.epoch(), numSequences());
        epoch = pos.epoch();
        index = pos.index();
    }

    /** Length of sequence {@code s} including [CLS] and [SEP]. */
    public int sequenceLength(int s) { return seqLen[s] + 2; }

    /** Sequence {@code s}: [CLS] tokens [SEP]. */
    public int[] sequence(int s) {
        int[] body = shards.tokens(seqDoc[s], seqStart[s], seqLen[s]);
        int[] out = new int[body.length + 2];
        out[0] = specials.cls();
        System.arraycopy(body, 0, out, 1, body.length);
        out[out.length - 1] = specials.sep();
        return out;
    }

    /** The next sequences in order while their total length stays within {@code tokenBudget} (at least one). */
    public Batch nextMicrobatch(int tokenBudget) {
        return nextMicrobatch(tokenBudget, Integer.MAX_VALUE);
    }

    /** As {@link #nextMicrobatch(int)}, with at most {@code maxSequences} sequences. */
    public Batch nextMicrobatch(int tokenBudget, int maxSequences) {
        checkBudget(tokenBudget);
        List<Integer> picked = new ArrayList<>();
        int tokens = 0;
        while (picked.size() < maxSequences) {
            int s = peek();
            int cost = padded ? maxSeqLen : sequenceLength(s);
            if (tokens + cost > tokenBudget) break;
            tokens += cost;
            picked.add(s);
            advance();
        }
        return batchOf(picked.stream().mapToInt(Integer::intValue).toArray());
    }

    /**
     * One optimizer step's worth of data: exactly {@code sequences} sequences (the global batch), split in
     * order into microbatches of at most {@code tokenBudget} tokens each (gradient accumulation).
     */
    public List<Batch> nextGlobalBatch(int sequences, int tokenBudget) {
        if (sequences < 1) throw new IllegalArgumentException("global batch must be >= 1 sequence");
        List<Batch> out = new ArrayList<>();
        int left = sequences;
        while (left > 0) {
            Batch b = nextMicrobatch(tokenBudget, left);
            left -= b.numSequences();
            out.add(b);
        }
        return out;
    }

    /** An unpadded batch of the given sequences (no labels). */
    public Batch batchOf(int[] sequenceIds) {
        int[] cu = new int[sequenceIds.length + 1];
        int max = 0;
        for (int i = 0; i < sequenceIds.length; i++) {
            int len = sequenceLength(sequenceIds[i]);
            cu[i + 1] = cu[i] + len;
            max = Math.max(max, len);
        }
        int[] ids = new int[cu[sequenceIds.length]];
        for (int i = 0; i < sequenceIds.length; i++) {
            System.arraycopy(sequence(sequenceIds[i]), 0, ids, cu[i], cu[i + 1] - cu[i]);
        }
        return new Batch(ids, new int[ids.length], cu, max, null, null, null);
    }

    private void checkBudget(int tokenBudget) {
        if (tokenBudget < maxSeqLen) {
            throw new IllegalArgumentException("token budget " + tokenBudget + " is below max_seq_len " + maxSeqLen);
        }
    }

    private int peek() {
        if (index == numSequences()) {
            epoch++;
            index = 0;
            order = DataOrder.permutation(seed, epoch, numSequences());
        }
        return order[(int) index];
    }

    private void advance() {
        index++;
    }

    @Override public String toString() {
        return "PretrainLoader[" + numSequences() + " sequences, max " + maxSeqLen + ", at " + position() + "]";
    }
}
