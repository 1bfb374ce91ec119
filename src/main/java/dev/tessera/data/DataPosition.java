package dev.tessera.data;

/**
 * Where a run is in its data: {@code index} sequences of epoch {@code epoch}'s shuffled order have been
 * consumed. Saved with a checkpoint; a loader started from it continues with exactly the sequences an
 * uninterrupted run would have seen next (the order is a pure function of seed and epoch).
 */
public record DataPosition(int epoch, long index) {

    public static final DataPosition START = new DataPosition(0, 0);

    public DataPosition {
        if (epoch < 0 || index < 0) throw new IllegalArgumentException("bad data position " + epoch + "/" + index);
    }
}
