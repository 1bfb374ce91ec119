package dev.tessera.serving.heads;

/** A label and its score (/predict). */
public record LabelScore(String label, float score) {}
