package dev.tessera.kernels;

/**
 * An unpadded batch ({@code tsr_batch}): the tokens of all sequences concatenated; sequence s owns
 * tokens [cuSeqlens[s], cuSeqlens[s+1]). Labels: {@code mlmLabels} per token (negative = not a target)
 * for the MLM head, {@code classLabels} per sequence for classification, {@code targets} per sequence for
 * regression; any may be null (inference: no loss).
 */
public record NativeBatch(int[] inputIds, int[] tokenTypeIds, int[] cuSeqlens, int[] mlmLabels, int[] classLabels,
                          float[] targets) {
    public NativeBatch {
        if (inputIds == null || cuSeqlens == null || cuSeqlens.length < 2)
            throw new IllegalArgumentException("a batch needs input ids and cu_seqlens with at least one sequence");
        if (tokenTypeIds != null && tokenTypeIds.length != inputIds.length)
            throw new IllegalArgumentException("token_type_ids has " + tokenTypeIds.length + " entries for " + inputIds.length + " tokens");
        if (mlmLabels != null && mlmLabels.length != inputIds.length)
            throw new IllegalArgumentException("mlm labels: " + mlmLabels.length + " entries for " + inputIds.length + " tokens");
        int seqs = cuSeqlens.length - 1;
        if (classLabels != null && classLabels.length != seqs)
            throw new IllegalArgumentException("class labels: " + classLabels.length + " entries for " + seqs + " sequences");
        if (targets != null && targets.length != seqs)
            throw new IllegalArgumentException("targets: " + targets.length + " entries for " + seqs + " sequences");
    }

    public int numTokens() { return inputIds.length; }

    public int numSeqs() { return cuSeqlens.length - 1; }

    /** cu_seqlens from sequence lengths. */
    public static int[] cuSeqlens(int... lengths) {
        int[] cu = new int[lengths.length + 1];
        for (int i = 0; i < lengths.length; i++) cu[i + 1] = cu[i] + lengths[i];
        return cu;
    }
}
