package dev.tessera.jobs;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.tessera.io.AtomicFiles;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/** Jobs as JSON files {@code <dir>/<id>.json}, each replaced atomically (temp file, fsync, rename). */
public final class JobStore {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final Path dir;

    public JobStore(Path dir) {
        this.dir = dir;
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the jobs directory " + dir, e);
        }
    }

    public Path dir() { return dir; }

    /** Saves the record; a recipe it carries goes to {@code <id>/recipe.yaml} and leaves the record. */
    public void save(Job job) {
        try {
            if (job.recipe != null) {
                Files.createDirectories(dir.resolve(job.id));
                AtomicFiles.writeString(recipeFile(job.id), job.recipe);
                job.recipe = null;
            }
            AtomicFiles.writeString(dir.resolve(job.id + ".json"), JSON.writeValueAsString(job) + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot save job " + job.id, e);
        }
    }

    /** The recipe of a job (null when it has none stored). */
    public String loadRecipe(String id) {
        try {
            return Files.isRegularFile(recipeFile(id)) ? Files.readString(recipeFile(id)) : null;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the recipe of job " + id, e);
        }
    }

    private Path recipeFile(String id) { return dir.resolve(id).resolve("recipe.yaml"); }

    public void delete(String id) {
        try {
            Files.deleteIfExists(dir.resolve(id + ".json"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete job " + id, e);
        }
    }

    /** Every stored job in submission order; unreadable files are skipped (and named in the exception list). */
    public List<Job> loadAll(List<String> unreadable) {
        List<Job> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.filter(f -> f.getFileName().toString().endsWith(".json")).toList()) {
                try {
                    Job j = JSON.readValue(p.toFile(), Job.class);
                    if (j.recipe != null) save(j); // a record from before recipes had their own file
                    out.add(j);
                } catch (IOException e) {
                    unreadable.add(p + ": " + e.getMessage());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
        out.sort(Comparator.comparingLong(j -> j.seq));
        return out;
    }
}
