package dev.tessera.serving;

/**
 * TEI's {@code truncate} and {@code truncation_direction}: whether an input longer than the model's
 * max_input_length is cut, and from which end (Right keeps the beginning, Left keeps the end). Special tokens stay.
 */
public record Truncation(boolean enabled, boolean left) {
    public static final Truncation NONE = new Truncation(false, false);
    public static final Truncation RIGHT = new Truncation(true, false);

    public static Truncation of(boolean enabled, boolean left) { return new Truncation(enabled, left); }
}
