package dev.tessera.model;

import java.util.Arrays;
import java.util.Locale;

/**
 * What feeds the pooler ({@code tanh(dense(·))}) of a classification or regression head, per sequence: its first token
 * ([CLS], BERT's pooler and the default) or the mean of its tokens' final hidden states. {@code config.json} carries it
 * as {@code classifier_pooling} ("cls" | "mean", ModernBERT's key); a recipe as {@code model.pooling}. Ordinals equal
 * the native {@code TSR_POOLING_*} codes (cuda-ext/include/tessera.h).
 */
public enum ClassifierPooling {
    /** The first token of each sequence. */
    CLS,
    /** The mean over each sequence's tokens (its real tokens: never padding). */
    MEAN;

    /** The name config.json and recipes use: {@code cls} or {@code mean}. */
    public String id() { return name().toLowerCase(Locale.ROOT); }

    /** By {@link #id()} (any case); an unknown name is an {@link IllegalArgumentException} that lists the valid ones. */
    public static ClassifierPooling parse(String name) {
        for (ClassifierPooling p : values()) if (p.id().equalsIgnoreCase(name)) return p;
        throw new IllegalArgumentException("unknown classifier pooling '" + name + "'; valid: "
                + String.join(", ", Arrays.stream(values()).map(ClassifierPooling::id).toList()));
    }
}
