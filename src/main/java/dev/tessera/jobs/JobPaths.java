package dev.tessera.jobs;

import dev.tessera.io.FileAccess;
import dev.tessera.io.ForbiddenPathException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where a job submitted over HTTP may read and write. Reads (recipe files, data, tokenizers, init checkpoints, shard
 * caches) only under the data roots, the jobs directory and the model directory; writes (the output, shards it
 * builds) only under the jobs directory; publishing only directly under the model directory. Each path is resolved
 * against the working directory and through its symlinks (for a path that does not exist yet, through its deepest
 * existing ancestor) before it is compared, so {@code ..}, absolute paths elsewhere and links that point out are all
 * caught — at submission, and again when the job starts ({@link FileAccess}), so a link changed in between is too.
 * Messages name paths by their root ({@code train/…}, {@code jobs/…}), never by the host's absolute path.
 */
public final class JobPaths implements FileAccess {

    /** What a dangling symlink resolves to: under no root, so it is always refused. */
    private static final Path DANGLING = Path.of("/dev/null/dangling-symlink");

    private final Path jobsDir;
    private final Path modelsDir;
    /** Every readable root (real path) with the name messages give it. */
    private final Map<Path, String> readRoots = new LinkedHashMap<>();

    public JobPaths(Path jobsDir, Path modelsDir, List<Path> dataRoots) {
        this.jobsDir = real(jobsDir, true);
        this.modelsDir = modelsDir == null ? null : real(modelsDir, true);
        for (Path r : dataRoots) readRoots.putIfAbsent(real(r, false), label(r));
        readRoots.put(this.jobsDir, "jobs");
        if (this.modelsDir != null) readRoots.put(this.modelsDir, "models");
    }

    /** Every path a job could read must be under one of these. */
    public List<Path> readRoots() { return List.copyOf(readRoots.keySet()); }

    public Path jobsDir() { return jobsDir; }

    /** The problem with reading {@code value} (recipe key {@code key}), or null when it may be read. */
    String readProblem(String key, String value) {
        Path p = resolve(value);
        if (p == null || readRoots.keySet().stream().anyMatch(p::startsWith)) return null;
        return key + ": " + value + " is outside the directories jobs may read (tessera.jobs.data-roots, the jobs and model"
                + " directories: " + String.join(", ", readRoots.values().stream().map(l -> l + "/").toList()) + ")";
    }

    /** The problem with writing {@code value}, or null when it may be written. */
    String writeProblem(String key, String value) {
        if (mayWrite(value)) return null;
        return key + ": " + value + " is outside the jobs directory, the only place jobs may write (tessera.jobs.dir: jobs/)";
    }

    @Override
    public boolean mayWrite(String value) {
        Path p = resolve(value);
        return p == null || (p.startsWith(jobsDir) && !p.equals(jobsDir));
    }

    @Override
    public Path read(String key, String value) {
        String problem = readProblem(key, value);
        if (problem != null) throw new ForbiddenPathException(List.of(problem));
        return resolveOrRefuse(key, value);
    }

    @Override
    public Path write(String key, String value) {
        String problem = writeProblem(key, value);
        if (problem != null) throw new ForbiddenPathException(List.of(problem));
        return resolveOrRefuse(key, value);
    }

    private static Path resolveOrRefuse(String key, String value) {
        Path p = resolve(value);
        if (p == null) throw new ForbiddenPathException(List.of(key + ": not a valid path: " + value));
        return p;
    }

    /** The directory {@code serve_as} publishes into (real path), or null when publishing is off. */
    Path modelsDir() { return modelsDir; }

    /** Where {@code serve_as} publishes: {@code <models dir>/<name>}, refused if that resolves anywhere else. */
    Path publishTarget(String name) {
        Path target = modelsDir.resolve(name).normalize();
        Path resolved = resolve(target.toString());
        if (resolved == null || !modelsDir.equals(resolved.getParent())) {
            throw new ForbiddenPathException(List.of("serve_as: '" + name + "' would publish outside the model directory (models/)"));
        }
        return target;
    }

    /**
     * {@code text} with every absolute path under a root written as {@code <root name>/…}, and the working directory
     * removed: what a job reports back (its error, its output directories) never shows the host's layout.
     */
    String hideHostPaths(String text) {
        if (text == null) return null;
        String out = text;
        List<Map.Entry<Path, String>> roots = new ArrayList<>(readRoots.entrySet());
        roots.sort((a, b) -> b.getKey().toString().length() - a.getKey().toString().length()); // deepest first
        for (var r : roots) out = out.replace(r.getKey().toString(), r.getValue());
        String cwd = Path.of("").toAbsolutePath().toString();
        return cwd.length() > 1 ? out.replace(cwd + "/", "") : out;
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

    /** A root's name in messages: its last element ({@code work-data}, {@code train}). */
    private static String label(Path root) {
        Path name = root.toAbsolutePath().normalize().getFileName();
        return name == null ? "root" : name.toString();
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
