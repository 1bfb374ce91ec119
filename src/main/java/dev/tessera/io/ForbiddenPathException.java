package dev.tessera.io;

import java.util.List;

/** A path that a confined run may not use: reported as 403 with the rule it broke (paths named relative to their root). */
public final class ForbiddenPathException extends RuntimeException {
    private final List<String> problems;

    public ForbiddenPathException(List<String> problems) {
        super("the job reaches outside the directories it may use:\n  - " + String.join("\n  - ", problems));
        this.problems = List.copyOf(problems);
    }

    public List<String> problems() { return problems; }
}
