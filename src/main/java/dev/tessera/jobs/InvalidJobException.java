package dev.tessera.jobs;

import java.util.List;

/** A submission that cannot run (422); {@code problems} lists every reason. */
public final class InvalidJobException extends IllegalArgumentException {
    private final List<String> problems;

    public InvalidJobException(String message, List<String> problems) {
        super(message + (problems.isEmpty() ? "" : ":\n  - " + String.join("\n  - ", problems)));
        this.problems = List.copyOf(problems);
    }

    public List<String> problems() { return problems; }
}
