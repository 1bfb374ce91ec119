package dev.tessera.data;

import java.util.Arrays;

/**
 * An unpadded batch: the sequences are concatenated (MosaicBERT's "unpadding"). Sequence {@code s} is
 * tokens {@code [cuSeqlens[s], cuSeqlens[s+1])}; {@code cuSeqlens} has {@code numSequences()+1} entries
 * starting at 0. The data pipeline builds it and the native module ({@code kernels.NativeModel}, C
 * {@code tsr_batch}) runs it as it is. At most one of the label arrays is usually set; none for inference:
 *
 * @param inputIds     token ids, all sequences concatenated
 * @param tokenTypeIds segment ids (0 for the first text, 1 for the second of a pair), same length
 * @param cuSeqlens    cumulative sequence lengths
 * @param maxSeqlen    the longest sequence of the batch
 * @param mlmLabels    per token: the original id at masked positions, {@link #IGNORE} elsewhere (or null)
 * @param classLabels  per sequence: the class index (or null); with {@code distillation}, -1 marks a sequence without
 *                     a hard label
 * @param targets      per sequence: the regression target (or null)
 * @param distillation a classification teacher's soft targets for every sequence (or null: plain cross-entropy)
 */
public record Batch(int[] inputIds, int[] tokenTypeIds, int[] cuSeqlens, int maxSeqlen,
                    int[] mlmLabels, int[] classLabels, float[] targets, Distillation distillation) {

    /** Label value of tokens that carry no MLM loss (PyTorch's ignore_index). */
    public static final int IGNORE = -100;

    /**
     * Knowledge distillation of a classification batch (C {@code tsr_batch.soft_targets}): per sequence a row of
     * {@code softTargets} (row-major {@code [sequences, labels]}, each row a probability distribution, e.g. a teacher's
     * {@code softmax(logits / temperature)}); {@code alpha} in [0, 1] weighs the soft term against the hard
     * cross-entropy, {@code temperature} > 0. The native module checks the rows and the ranges.
     */
    public record Distillation(float[] softTargets, float alpha, float temperature) {}

    /** A batch without distillation. */
    public Batch(int[] inputIds, int[] tokenTypeIds, int[] cuSeqlens, int maxSeqlen, int[] mlmLabels, int[] classLabels,
                 float[] targets) {
        this(inputIds, tokenTypeIds, cuSeqlens, maxSeqlen, mlmLabels, classLabels, targets, null);
    }

    public Batch {
        if (inputIds.length != tokenTypeIds.length)
            throw new IllegalArgumentException("token_type_ids has " + tokenTypeIds.length + " entries for " + inputIds.length + " tokens");
        if (cuSeqlens.length < 1 || cuSeqlens[0] != 0 || cuSeqlens[cuSeqlens.length - 1] != inputIds.length) {
            throw new IllegalArgumentException("cu_seqlens must run from 0 to the token count");
        }
        if (mlmLabels != null && mlmLabels.length != inputIds.length)
            throw new IllegalArgumentException("mlm labels: " + mlmLabels.length + " entries for " + inputIds.length + " tokens");
        int n = cuSeqlens.length - 1;
        if (classLabels != null && classLabels.length != n)
            throw new IllegalArgumentException("class labels: " + classLabels.length + " entries for " + n + " sequences");
        if (targets != null && targets.length != n)
            throw new IllegalArgumentException("targets: " + targets.length + " entries for " + n + " sequences");
        if (distillation != null && (distillation.softTargets().length == 0 || distillation.softTargets().length % n != 0))
            throw new IllegalArgumentException("soft targets: " + distillation.softTargets().length + " entries for " + n + " sequences");
    }

    /**
     * A batch whose {@code maxSeqlen} is taken from {@code cuSeqlens}; {@code tokenTypeIds} null means all 0
     * (one text per sequence).
     */
    public static Batch of(int[] inputIds, int[] tokenTypeIds, int[] cuSeqlens, int[] mlmLabels, int[] classLabels,
                           float[] targets) {
        int max = 0;
        for (int s = 0; s + 1 < cuSeqlens.length; s++) max = Math.max(max, cuSeqlens[s + 1] - cuSeqlens[s]);
        return new Batch(inputIds, tokenTypeIds != null ? tokenTypeIds : new int[inputIds.length], cuSeqlens, max,
                mlmLabels, classLabels, targets);
    }

    /** cu_seqlens from sequence lengths. */
    public static int[] cuSeqlens(int... lengths) {
        int[] cu = new int[lengths.length + 1];
        for (int i = 0; i < lengths.length; i++) cu[i + 1] = cu[i] + lengths[i];
        return cu;
    }

    public int numSequences() { return cuSeqlens.length - 1; }

    public int numTokens() { return inputIds.length; }

    /** Ids of sequence {@code s}. */
    public int[] sequence(int s) {
        return Arrays.copyOfRange(inputIds, cuSeqlens[s], cuSeqlens[s + 1]);
    }

    /** Number of tokens with an MLM label (0 without labels). */
    public int numMasked() {
        if (mlmLabels == null) return 0;
        int n = 0;
        for (int l : mlmLabels) if (l != IGNORE) n++;
        return n;
    }

    public Batch withMlm(int[] newInputIds, int[] labels) {
        return new Batch(newInputIds, tokenTypeIds, cuSeqlens, maxSeqlen, labels, classLabels, targets, distillation);
    }

    /** The same batch with a teacher's soft targets (one row per sequence) for knowledge distillation. */
    public Batch withDistillation(Distillation d) {
        return new Batch(inputIds, tokenTypeIds, cuSeqlens, maxSeqlen, mlmLabels, classLabels, targets, d);
    }

    /** The same inputs without any labels (inference). */
    public Batch withoutLabels() {
        return new Batch(inputIds, tokenTypeIds, cuSeqlens, maxSeqlen, null, null, null, null);
    }

    /**
     * The same batch padded to {@code [numSequences, maxSeqlen]} (row-major) for engines that need a
     * rectangle (e.g. ONNX Runtime): ids padded with {@code padId}, and the attention mask (1 = token).
     */
    public Padded padded(int padId) {
        int n = numSequences(), l = maxSeqlen;
        int[] ids = new int[n * l], types = new int[n * l], mask = new int[n * l];
        Arrays.fill(ids, padId);
        for (int s = 0; s < n; s++) {
            int len = cuSeqlens[s + 1] - cuSeqlens[s];
            System.arraycopy(inputIds, cuSeqlens[s], ids, s * l, len);
            System.arraycopy(tokenTypeIds, cuSeqlens[s], types, s * l, len);
            Arrays.fill(mask, s * l, s * l + len, 1);
        }
        return new Padded(n, l, ids, types, mask);
    }

    /** A padded view; arrays are {@code rows × cols}, row-major. */
    public record Padded(int rows, int cols, int[] inputIds, int[] tokenTypeIds, int[] attentionMask) {}
}
