package dev.tessera.jobs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Where a job submitted over HTTP may read and write. Reads (recipe files, data, tokenizers, init checkpoints)
 * only under the data roots, the jobs directory and the model directory; writes (the output) only under the jobs
 * directory; publishing only directly under the model directory. Each path is resolved against the working
 * directory and through its symlinks (for a path that does not exist yet, through its deepest existing ancestor)
 * before it is compared, so {@code ..}, absolute paths elsewhere and links that point out are all caught.
 * The CLI is not confined: it runs as its user, on that user's files.
 */
public final class JobPaths {
    /** A path the rules refuse: reported as 403 with the rule it broke. */
    public static final class ForbiddenPathException extends RuntimeException {
        private final List<String> problems;

        ForbiddenPathException(List<String> problems) {
            super("the job reaches outside the directories it may use:\n  - " + String.join("\n  - ", problems));
            this.problems = List.copyOf(problems);
        }

        public List<String> problems() { return problems; }
    }

    /** What a dangling symlink resolves to: under no root, so it is always refused. */
    private static final Path DANGLING = Path.of("/dev/null/dangling-symlink");

    private final Path jobsDir;
    private final Path modelsDir;
    private final List<Path> readRoots;

    public JobPaths(Path jobsDir, Path modelsDir, List<Path> dataRoots) {
        this.jobsDir = real(jobsDir, true);
        this.modelsDir = modelsDir == null ? null : real(modelsDir, true);
        List<Path> roots = new ArrayList<>();
        for (Path r : dataRoots) roots.add(real(r, false));
        roots.add(this.jobsDir);
        if (this.modelsDir != null) roots.add(this.modelsDir);
        this.readRoots = List.copyOf(roots);
    }

    /** Every path a job could read must be under one of these. */
    public List<Path> readRoots() { return readRoots; }

    public Path jobsDir() { return jobsDir; }

    /** Adds a problem when {@code value} (the recipe field {@code field}) may not be read. */
    void checkRead(String field, String value, List<String> forbidden) {
        Path p = resolve(value);
        if (p != null && readRoots.stream().noneMatch(p::startsWith)) {
            forbidden.add(field + ": " + value + " is outside the directories jobs may read (tessera.jobs.data-roots: "
                    + String.join(", ", readRoots.stream().map(Path::toString).toList()) + ")");
        }
    }

    void checkWrite(String field, String value, List<String> forbidden) {
        Path p = resolve(value);
        if (p != null && (!p.startsWith(jobsDir) || p.equals(jobsDir))) {
            forbidden.add(field + ": " + value + " is outside the jobs directory, the only place jobs may write ("
                    + "tessera.jobs.dir: " + jobsDir + ")");
        }
    }

    /** Where {@code serve_as} publishes: {@code <models dir>/<name>}, refused if that resolves anywhere else. */
    Path publishTarget(String name) {
        Path target = modelsDir.resolve(name).normalize();
        Path resolved = resolve(target.toString());
        if (resolved == null || !modelsDir.equals(resolved.getParent())) {
            throw new ForbiddenPathException(List.of("serve_as: '" + name + "' would publish outside the model directory " + modelsDir));
        }
        return target;
    }

    /** The absolute path with every symlink of its existing part resolved; null when it cannot be parsed. */
    static Path resolve(String value) {
        Path p;
        try {
            p = Path.of(value).toAbsolutePath().normalize();
        } catch (InvalidPathException e) {
            return null; // reported as invalid by the recipe checks
        }
        Path existing = p;
        while (existing != null && !Files.exists(existing, LinkOption.NOFOLLOW_LINKS)) existing = existing.getParent();
        if (existing == null) return p;
        try {
            return existing.toRealPath().resolve(existing.relativize(p)).normalize();
        } catch (IOException e) {
            return DANGLING; // a link to nothing: it could be made to point anywhere later
        }
    }

    private static Path real(Path dir, boolean create) {
        try {
            if (create) Files.createDirectories(dir);
            return dir.toRealPath();
        } catch (IOException e) {
            return dir.toAbsolutePath().normalize();
        }
    }
}
