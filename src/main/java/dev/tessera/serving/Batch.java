package dev.tessera.serving;

import java.util.List;
import java.util.Set;

/**
 * The sequences of one engine run, packed: every sequence's token ids concatenated, no padding.
 * Sequence {@code i} is {@code ids[offsets[i] .. offsets[i+1])} ({@code offsets} is what FlashAttention
 * calls {@code cu_seqlens}). An engine whose graph wants a padded {@code [B, S]} tensor pads it itself.
 */
public record Batch(long[] ids, long[] typeIds, int[] offsets, Set<Output> outputs) {

    public Batch {
        if (ids.length != typeIds.length) throw new IllegalArgumentException("ids and type ids differ in length");
        if (offsets.length < 1 || offsets[0] != 0 || offsets[offsets.length - 1] != ids.length) {
            throw new IllegalArgumentException("offsets must run from 0 to the token count");
        }
        if (outputs.isEmpty()) throw new IllegalArgumentException("a batch must ask for at least one output");
        outputs = Set.copyOf(outputs);
    }

    /** Packs the given sequences (ids and type ids of equal lengths) in order. */
    public static Batch pack(List<long[]> ids, List<long[]> typeIds, Set<Output> outputs) {
        int[] offsets = new int[ids.size() + 1];
        for (int i = 0; i < ids.size(); i++) offsets[i + 1] = offsets[i] + ids.get(i).length;
        long[] packedIds = new long[offsets[ids.size()]], packedTypes = new long[packedIds.length];
        for (int i = 0; i < ids.size(); i++) {
            System.arraycopy(ids.get(i), 0, packedIds, offsets[i], ids.get(i).length);
            System.arraycopy(typeIds.get(i), 0, packedTypes, offsets[i], typeIds.get(i).length);
        }
        return new Batch(packedIds, packedTypes, offsets, outputs);
    }

    public int size() { return offsets.length - 1; }

    public int length(int i) { return offsets[i + 1] - offsets[i]; }

    public int maxLength() {
        int max = 0;
        for (int i = 0; i < size(); i++) max = Math.max(max, length(i));
        return max;
    }

    /** Real (unpadded) tokens. */
    public int tokens() { return ids.length; }
}
