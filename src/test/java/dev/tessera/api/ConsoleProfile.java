package dev.tessera.api;

import dev.tessera.train.TinyFixtures;
import io.quarkus.test.junit.QuarkusTestProfile;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The app the console tests run against (API and browser tests share it, so Quarkus starts once for both): a copy
 * of the fixture models, and a recipes directory of tiny recipes over {@link TinyFixtures} data, so a job trains in
 * seconds on one thread.
 */
public class ConsoleProfile implements QuarkusTestProfile {
    static final Path ROOT, DATA, RECIPES, MODELS;
    /** Runs until cancelled: 1,000,000 steps (100 of warmup), a loss point every 2 steps. */
    static final String LONG_PRETRAIN = "tiny-pretrain-long";
    /** 20 steps, a loss point every 5. */
    static final String SHORT_PRETRAIN = "tiny-pretrain-20";
    /** Trains on a file outside the data roots. */
    static final String OUTSIDE = "outside-data-roots";

    static {
        try {
            ROOT = Files.createTempDirectory("tessera-console");
            DATA = ROOT.resolve("data");
            RECIPES = ROOT.resolve("recipes");
            MODELS = ROOT.resolve("models");
            // a copy of the fixture models: jobs publish their results (serve_as) here, never into the source tree
            Path fixtures = Path.of("src/test/resources/fixtures");
            try (var files = Files.walk(fixtures)) {
                for (Path f : files.toList()) {
                    Path to = MODELS.resolve(fixtures.relativize(f).toString());
                    if (Files.isDirectory(f)) Files.createDirectories(to);
                    else Files.copy(f, to);
                }
            }
            TinyFixtures.write(DATA);
            Files.createDirectories(RECIPES);
            Files.writeString(RECIPES.resolve(LONG_PRETRAIN + ".yaml"), "# tiny MLM pretraining that runs until cancelled\n"
                    + TinyFixtures.pretrainYaml(DATA, 1_000_000, 1_000_000).replace("log_interval: 5", "log_interval: 2")
                    + "schedule: {warmup_fraction: 0.0001}\n"); // 100 warmup steps: it learns within seconds
            Files.writeString(RECIPES.resolve(SHORT_PRETRAIN + ".yaml"), TinyFixtures.pretrainYaml(DATA, 20, 100));
            // reads a file outside tessera.jobs.data-roots: listed, but refused (403) when submitted
            Files.writeString(RECIPES.resolve(OUTSIDE + ".yaml"), TinyFixtures.pretrainYaml(DATA, 20, 100)
                    .replace(DATA.toAbsolutePath() + "/corpus.txt", Path.of("src/test/resources/corpus/small.txt").toAbsolutePath().toString()));
            Files.writeString(RECIPES.resolve("notes.txt"), "not a recipe: only *.yaml files are listed\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public Map<String, String> getConfigOverrides() {
        return Map.of("tessera.models.dir", MODELS.toString(), "tessera.jobs.recipes-dir", RECIPES.toString(), "tessera.jobs.dir", ROOT.resolve("jobs").toString(),
                "tessera.jobs.threads", "1", "tessera.jobs.data-roots", ROOT.toString());
    }
}
