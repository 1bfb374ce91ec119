package dev.tessera.serving.heads;

/** A bare encoder: nothing on top, so it only embeds ({@link Pooling}). */
public record Encoder() implements OutputHead {

    @Override
    public String name() { return "none"; }

    @Override
    public Kind kind() { return Kind.EMBEDDING; }
}
