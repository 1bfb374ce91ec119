package dev.tessera.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.io.FileAccess;
import dev.tessera.io.ForbiddenPathException;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** The recipe's path keys are listed in one place (the {@link RecipePath} marks), and every one is confined. */
class RecipePathsTest {

    /** Text keys known not to be paths. A new text key fails {@link #everyTextKeyIsClassified} until it is put here or marked. */
    static final Set<String> NOT_PATHS = Set.of("model.variant", "data.format", "data.text_field", "data.task", "data.labels",
            "data.columns.text", "data.columns.text_b", "data.columns.label", "training.precision", "training.device",
            "model.pooling");

    @Test
    void everyTextKeyIsClassified() {
        List<String> unclassified = new ArrayList<>();
        Set<String> marked = new TreeSet<>();
        walk(Recipe.class, "", unclassified, marked);
        assertEquals(List.of(), unclassified, "text keys that are neither marked @RecipePath nor listed as not paths");
        assertEquals(new TreeSet<>(List.of("data.train", "data.eval", "data.tokenizer", "data.shard_dir", "model.init_from",
                "training.output_dir", "distill.teacher", "distill.unlabelled")), marked);
    }

    /** Every key of the recipe's tree of records. */
    private static void walk(Class<?> record, String prefix, List<String> unclassified, Set<String> marked) {
        for (RecordComponent c : record.getRecordComponents()) {
            String key = prefix + Recipe.snake(c.getName());
            if (c.getType().isRecord()) {
                walk(c.getType(), key + ".", unclassified, marked);
                continue;
            }
            boolean text = c.getType() == String.class || (c.getType() == List.class
                    && ((ParameterizedType) c.getGenericType()).getActualTypeArguments()[0] == String.class);
            if (c.isAnnotationPresent(RecipePath.class)) marked.add(key);
            else if (text && !NOT_PATHS.contains(key)) unclassified.add(key);
        }
    }

    @Test
    void confinedPassesEveryPathThroughTheAccessRules() {
        Recipe r = Recipe.parse(TinyFixtures.pretrainYaml(Path.of("/data"), 5, 5), "t");
        List<String> asked = new ArrayList<>();
        FileAccess recording = new FileAccess() {
            @Override public Path read(String key, String value) { asked.add("read " + key); return Path.of("/real" + value); }
            @Override public Path write(String key, String value) { asked.add("write " + key); return Path.of("/real" + value); }
            @Override public boolean mayWrite(String value) { return value.endsWith("/out"); }
        };
        Recipe c = r.confined(recording);
        assertEquals(List.of("read data.train", "read data.eval", "read data.tokenizer", "read data.shard_dir", "write training.output_dir"), asked);
        assertEquals("/real/data/corpus.txt", c.data().train().get(0));
        assertEquals("/real/data/out", c.training().outputDir());
        assertEquals(r.optimizer(), c.optimizer());
        FileAccess refusing = new FileAccess() {
            @Override public Path read(String key, String value) { throw new ForbiddenPathException(List.of(key + ": no")); }
            @Override public Path write(String key, String value) { return Path.of(value); }
            @Override public boolean mayWrite(String value) { return true; }
        };
        var e = assertThrows(ForbiddenPathException.class, () -> r.confined(refusing));
        assertTrue(e.problems().get(0).startsWith("data.train"), e.problems().toString());
    }

    /** A distillation teacher and its unlabelled files are read paths: listed by paths(), confined like the others. */
    @Test
    void distillationPathsAreListedAndConfined() {
        Recipe r = Recipe.parse(TinyFixtures.finetuneYaml(Path.of("/data"), Path.of("/data/pre"), 1, Path.of("/data/out"))
                + "distill: {teacher: /data/teacher, unlabelled: [/data/u1.tsv, /data/u2.tsv]}\n", "t");
        assertEquals(List.of("distill.teacher /data/teacher READ", "distill.unlabelled /data/u1.tsv READ",
                "distill.unlabelled /data/u2.tsv READ"), r.paths().stream().filter(u -> u.key().startsWith("distill."))
                .map(u -> u.key() + " " + u.value() + " " + u.use()).toList());
        List<String> asked = new ArrayList<>();
        FileAccess recording = new FileAccess() {
            @Override public Path read(String key, String value) { asked.add(key); return Path.of("/real" + value); }
            @Override public Path write(String key, String value) { asked.add(key); return Path.of("/real" + value); }
            @Override public boolean mayWrite(String value) { return false; }
        };
        Recipe c = r.confined(recording);
        assertEquals(List.of("distill.teacher", "distill.unlabelled", "distill.unlabelled"), asked.subList(asked.size() - 3, asked.size()));
        assertEquals("/real/data/teacher", c.distill().teacher());
        assertEquals(List.of("/real/data/u1.tsv", "/real/data/u2.tsv"), c.distill().unlabelled());
        assertEquals(r.distill().alpha(), c.distill().alpha());
        assertEquals(r.distill().temperature(), c.distill().temperature());
        FileAccess refusing = new FileAccess() {
            @Override public Path read(String key, String value) {
                if (key.startsWith("distill.")) throw new ForbiddenPathException(List.of(key + ": outside the data roots"));
                return Path.of(value);
            }
            @Override public Path write(String key, String value) { return Path.of(value); }
            @Override public boolean mayWrite(String value) { return true; }
        };
        var e = assertThrows(ForbiddenPathException.class, () -> r.confined(refusing));
        assertEquals(List.of("distill.teacher: outside the data roots"), e.problems());
    }
}
