package dev.tessera.jobs;

import dev.tessera.data.ShardSet;
import dev.tessera.io.ForbiddenPathException;
import dev.tessera.train.Recipe;
import dev.tessera.train.RecipePath;
import dev.tessera.train.RecipeException;
import dev.tessera.train.RecipeOverrides;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * Turns a submission (kind, recipe text or path, overrides, serve_as) into a job ready to queue, or refuses it
 * with every reason at once: 422 ({@link JobException.Invalid}) for a recipe that cannot run, 403
 * ({@link ForbiddenPathException}) for one that reaches outside its directories. Files are checked now,
 * so a typo fails at submission rather than in the queue.
 */
final class JobSubmissions {
    static final Pattern MODEL_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,99}");

    private final JobPaths paths;
    private final boolean canPublish;

    JobSubmissions(JobPaths paths, boolean canPublish) {
        this.paths = paths;
        this.canPublish = canPublish;
    }

    Job prepare(String kind, String recipeText, String recipePath, Map<String, Object> overrides, String serveAs) {
        List<String> p = new ArrayList<>(), forbidden = new ArrayList<>();
        Recipe.Kind k = null;
        if (kind == null) p.add("'kind' is required (pretrain or finetune)");
        else {
            try {
                k = Recipe.Kind.valueOf(kind.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                p.add("'kind' must be pretrain or finetune, got '" + kind + "'");
            }
        }
        if ((recipeText == null) == (recipePath == null)) p.add("give exactly one of 'recipe' (YAML text) and 'recipe_path'");
        if (serveAs != null && !MODEL_NAME.matcher(serveAs).matches()) p.add("'serve_as' must be a model name ([A-Za-z0-9._-], up to 100 characters), got '" + serveAs + "'");
        if (serveAs != null && !canPublish) p.add("'serve_as' needs a model directory (tessera.models.dir)");
        String source = recipePath != null ? recipePath : "recipe";
        if (recipePath != null && recipeText == null) {
            String problem = paths.readProblem("recipe_path", recipePath);
            if (problem != null) throw new ForbiddenPathException(List.of(problem));
            Path file = pathOf(recipePath) == null ? null : paths.read("recipe_path", recipePath); // the path just checked, resolved
            try {
                if (file == null || !Files.isRegularFile(file)) p.add("recipe_path: file not found: " + recipePath);
                else if (Files.size(file) > Recipe.MAX_CHARS) p.add("recipe_path: " + recipePath + " is larger than " + Recipe.MAX_CHARS / 1024 + " KiB");
                else recipeText = Files.readString(file);
            } catch (IOException | RuntimeException e) {
                p.add("recipe_path: cannot read " + recipePath);
            }
        }
        if (recipeText != null && recipeText.length() > Recipe.MAX_CHARS) {
            p.add("'recipe' is " + recipeText.length() / 1024 + " KiB; recipes are limited to " + Recipe.MAX_CHARS / 1024 + " KiB");
        }
        if (serveAs != null && canPublish && p.isEmpty()) {
            try {
                paths.publishTarget(serveAs); // refused now, not after training
            } catch (ForbiddenPathException e) {
                forbidden.addAll(e.problems());
            }
        }
        if (!p.isEmpty()) throw new JobException.Invalid("invalid job", p);
        String id = "job-" + UUID.randomUUID().toString().substring(0, 8);
        Map<String, Object> ov = new LinkedHashMap<>();
        if (overrides != null) ov.putAll(overrides);
        ov.putIfAbsent("training.output_dir", paths.jobsDir().resolve(id).resolve("output").toString());
        String yaml;
        Recipe r;
        try {
            yaml = RecipeOverrides.apply(recipeText, ov, source);
            r = Recipe.parse(yaml, source);
            // A cache the recipe puts under a data root, where jobs may not write, and that is not built yet: this job
            // builds its own in its directory (recorded in its recipe) instead of writing outside the jobs directory.
            for (Recipe.PathUse u : r.paths()) {
                if (u.use() == RecipePath.Use.CACHE && !paths.mayWrite(u.value()) && paths.readProblem(u.key(), u.value()) == null
                        && !hasShardCache(u.value())) {
                    ov.put(u.key(), paths.jobsDir().resolve(id).resolve("shards").toString());
                    yaml = RecipeOverrides.apply(recipeText, ov, source);
                    r = Recipe.parse(yaml, source);
                }
            }
        } catch (RecipeException e) {
            throw new JobException.Invalid("invalid recipe " + source, e.problems());
        }
        if (r.kind() != k) p.add("the recipe is a " + r.kind().name().toLowerCase(Locale.ROOT) + " recipe but kind is " + kind);
        confine(r, forbidden);
        if (!forbidden.isEmpty()) throw new ForbiddenPathException(forbidden);
        preflight(r, p);
        if (!p.isEmpty()) throw new JobException.Invalid("invalid job", p);

        Job j = new Job();
        j.id = id;
        j.kind = k.name().toLowerCase(Locale.ROOT);
        j.status = Job.Status.queued;
        j.createdAt = Instant.now().toString();
        j.recipe = yaml;
        j.recipeSource = source;
        j.serveAs = serveAs;
        j.outputDir = r.training().outputDir();
        return j;
    }

    /** Every path of the recipe ({@link Recipe#paths()}) against the rules of {@link JobPaths}. */
    private void confine(Recipe r, List<String> forbidden) {
        for (Recipe.PathUse u : r.paths()) {
            String problem = switch (u.use()) {
                case READ -> paths.readProblem(u.key(), u.value());
                case WRITE -> paths.writeProblem(u.key(), u.value());
                case CACHE -> cacheProblem(u);
            };
            if (problem != null) forbidden.add(problem);
        }
    }

    /**
     * A cache (the shard directory) is built where jobs may write; elsewhere under a data root it is only read as it is
     * (the trainer never rebuilds it there; {@link #prepare} moves a missing one into the job's directory).
     */
    private String cacheProblem(Recipe.PathUse u) {
        if (paths.mayWrite(u.value())) return null;
        String problem = paths.readProblem(u.key(), u.value());
        return problem == null ? null : problem + "; a cache may be built only under jobs/";
    }

    private static boolean hasShardCache(String dir) {
        Path d = pathOf(dir);
        return d != null && Files.isRegularFile(d.resolve("train").resolve(ShardSet.MANIFEST));
    }

    /** Files a run needs. */
    static void preflight(Recipe r, List<String> p) {
        for (String f : r.data().train()) if (!isFile(f)) p.add("data.train: file not found: " + f);
        for (String f : r.data().eval()) if (!isFile(f)) p.add("data.eval: file not found: " + f);
        if (r.data().tokenizer() != null && !isDirectory(r.data().tokenizer())) {
            p.add("data.tokenizer: no directory " + r.data().tokenizer());
        }
        if (r.model().initFrom() != null && !isDirectory(r.model().initFrom())) {
            p.add("model.init_from: no checkpoint directory " + r.model().initFrom());
        }
        if (pathOf(r.training().outputDir()) == null) p.add("training.output_dir: not a valid path: " + r.training().outputDir());
    }

    // Paths come from the client: one Path.of cannot parse (a NUL character) is a problem to report, not a 500.
    private static Path pathOf(String s) {
        try {
            return Path.of(s);
        } catch (InvalidPathException e) {
            return null;
        }
    }

    private static boolean isFile(String s) {
        Path f = pathOf(s);
        return f != null && Files.isRegularFile(f);
    }

    private static boolean isDirectory(String s) {
        Path d = pathOf(s);
        return d != null && Files.isDirectory(d);
    }
}
