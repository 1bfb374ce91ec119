package dev.tessera.train;

import java.util.List;

/** A recipe that cannot be used: unknown keys, bad values, missing fields. Raised before any training. */
public class RecipeException extends IllegalArgumentException {

    private final List<String> problems;

    public RecipeException(String source, List<String> problems) {
        super("invalid recipe " + source + ":\n  - " + String.join("\n  - ", problems));
        this.problems = List.copyOf(problems);
    }

    public List<String> problems() { return problems; }
}
