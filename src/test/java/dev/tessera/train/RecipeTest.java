package dev.tessera.train;

import dev.tessera.glue.GlueTask;
import dev.tessera.model.ClassifierPooling;
import dev.tessera.model.Head;
import dev.tessera.model.Variant;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

class RecipeTest {

    static final Path RECIPES = Path.of("train/recipes");

    @Test
    void everyShippedRecipeLoads() throws IOException {
        try (Stream<Path> files = Files.list(RECIPES)) {
            List<Path> yamls = files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
            assertEquals(15, yamls.size()); // 12 + imdb-demo-pretrain.yaml, imdb-demo-finetune.yaml and imdb-distill.yaml (issue 19)
            for (Path p : yamls) assertNotNull(Recipe.load(p), p.toString());
        }
    }

    @Test
    void mosaicBertBaseMirrorsTheReference() {
        Recipe r = Recipe.load(RECIPES.resolve("mosaicbert-base.yaml"));
        assertEquals(Recipe.Kind.PRETRAIN, r.kind());
        assertEquals(128, r.model().maxSeqLen());
        assertEquals(30528, r.model().vocab());
        assertEquals(0, r.model().vocab() % 64);
        assertEquals(4096, r.batch().globalBatch());
        assertEquals(70_000L, r.training().maxSteps());     // 286,720,000 samples / 4096
        assertEquals(0.30, r.training().maskRate());
        assertEquals(5e-4, r.optimizer().lr());
        assertEquals(0.9, r.optimizer().beta1());
        assertEquals(0.98, r.optimizer().beta2());
        assertEquals(1e-6, r.optimizer().eps());
        assertEquals(1e-5, r.optimizer().weightDecay());
        assertEquals(0.06, r.schedule().warmupFraction());
        assertEquals(0.02, r.schedule().finalLrFraction());
        assertEquals("bf16", r.training().precision());
        var cfg = r.modelConfig();
        assertEquals(Variant.MOSAIC_BERT, cfg.variant());
        assertEquals(Head.MLM, cfg.head());
        assertEquals(64, cfg.headDim());
        assertEquals(4200, r.lrSchedule(70_000).warmupSteps());
    }

    @Test
    void glueRecipesTakeTheTaskDefaults() {
        Recipe rte = Recipe.load(RECIPES.resolve("glue-rte.yaml"));
        assertEquals(GlueTask.RTE, rte.glueTask().orElseThrow());
        assertEquals(1e-5, rte.optimizer().lr());
        assertEquals(3, rte.training().epochs());
        assertEquals(16, rte.batch().globalBatch());
        assertEquals(256, rte.model().maxSeqLen());
        assertEquals(0.0, rte.schedule().finalLrFraction());
        assertEquals("checkpoints/glue-mnli/final", rte.model().initFrom());
        assertEquals(List.of("0", "1"), rte.data().labels());
        Recipe stsb = Recipe.load(RECIPES.resolve("glue-stsb.yaml"));
        assertTrue(stsb.data().regression());
        assertEquals(Head.REGRESSION, stsb.modelConfig().head());
    }

    @Test
    void unknownKeyIsNamed() {
        RecipeException e = assertThrows(RecipeException.class, () -> Recipe.parse("""
                kind: pretrain
                optimizer:
                  lr: 1.0e-3
                  momentum: 0.9
                """, "inline"));
        assertTrue(e.getMessage().contains("unknown key 'momentum'") && e.getMessage().contains("optimizer"), e.getMessage());
    }

    @Test
    void outOfRangeValuesAreAllListed() {
        RecipeException e = assertThrows(RecipeException.class, () -> Recipe.parse("""
                kind: pretrain
                model: {hidden: 100, heads: 3}
                data: {train: [a.txt], tokenizer: tok, shard_dir: s}
                optimizer: {lr: -1}
                schedule: {warmup_fraction: 1.5}
                batch: {global_batch: 0}
                training: {max_steps: 10, mask_rate: 1.0}
                """, "inline"));
        String m = e.getMessage();
        for (String expected : List.of("optimizer.lr must be > 0", "schedule.warmup_fraction must be in [0, 1]",
                "batch.global_batch must be > 0", "training.mask_rate must be in [0, 1)", "must be a multiple of model.heads")) {
            assertTrue(m.contains(expected), "missing '" + expected + "' in: " + m);
        }
        assertEquals(5, e.problems().size());
    }

    private static final String FINETUNE = """
            kind: finetune
            model: {init_from: ckpt}
            data: {train: [t.jsonl], task: sst2}
            """;

    @Test
    void layerDecayIsOffByDefaultAndAcceptsValuesUpToOne() {
        assertEquals(1.0, Recipe.parse(FINETUNE, "inline").optimizer().layerDecay());
        assertEquals(1.0, Recipe.load(RECIPES.resolve("imdb-finetune-cpu.yaml")).optimizer().layerDecay());
        assertEquals(0.8, Recipe.parse(FINETUNE + "optimizer: {layer_decay: 0.8}\n", "inline").optimizer().layerDecay());
        assertEquals(1.0, Recipe.parse(FINETUNE + "optimizer: {layer_decay: 1}\n", "inline").optimizer().layerDecay());
        assertEquals(0.9, Recipe.parse("kind: pretrain\ndata: {train: [a.txt], tokenizer: tok, shard_dir: s}\n"
                + "optimizer: {layer_decay: 0.9}\n", "inline").optimizer().layerDecay());
    }

    @Test
    void layerDecayOutsideZeroToOneIsRefused() {
        for (String bad : List.of("0", "0.0", "-0.5", "1.5", "1.0000001")) {
            RecipeException e = assertThrows(RecipeException.class,
                    () -> Recipe.parse(FINETUNE + "optimizer: {layer_decay: " + bad + "}\n", "inline"), bad);
            assertTrue(e.getMessage().contains("optimizer.layer_decay must be in (0, 1]"), bad + ": " + e.getMessage());
            assertEquals(1, e.problems().size(), bad + ": " + e.problems());
        }
        RecipeException t = assertThrows(RecipeException.class,
                () -> Recipe.parse(FINETUNE + "optimizer: {layer_decay: steep}\n", "inline"));
        assertTrue(t.getMessage().contains("optimizer.layer_decay") && t.getMessage().contains("a number"), t.getMessage());
    }

    /** Checkpoints written before the key existed keep their recipe hash (no "recipe differs" warning on resume). */
    @Test
    void layerDecayEntersTheRecipeHashOnlyWhenOn() {
        Recipe off = Recipe.parse(FINETUNE, "inline");
        Recipe explicitOff = Recipe.parse(FINETUNE + "optimizer: {layer_decay: 1.0}\n", "inline");
        Recipe on = Recipe.parse(FINETUNE + "optimizer: {layer_decay: 0.8}\n", "inline");
        assertTrue(!TrainingLoop.hashedJson(off).contains("layer_decay"), TrainingLoop.hashedJson(off));
        assertTrue(TrainingLoop.hashedJson(on).contains("\"layer_decay\" : 0.8"), TrainingLoop.hashedJson(on));
        assertEquals(TrainingLoop.recipeHash(off), TrainingLoop.recipeHash(explicitOff));
        assertTrue(!TrainingLoop.recipeHash(off).equals(TrainingLoop.recipeHash(on)));
    }

    @Test
    void keysAddedSinceEnterTheRecipeHashOnlyWhenOn() {
        String pre = """
                kind: pretrain
                data: {train: [a.txt], tokenizer: tok, shard_dir: s}
                training: {max_steps: 10}
                """;
        String json = TrainingLoop.hashedJson(Recipe.parse(pre, "inline"));
        for (String key : List.of("final_mask_rate", "time_budget_minutes", "random_init", "train_examples", "pooling")) {
            assertFalse(json.contains(key), key + " in " + json);
        }
        Recipe on = Recipe.parse(pre.replace("max_steps: 10}", "max_steps: 10, final_mask_rate: 0.15, time_budget_minutes: 5}"), "inline");
        assertTrue(TrainingLoop.hashedJson(on).contains("\"final_mask_rate\" : 0.15"), TrainingLoop.hashedJson(on));
        assertNotEquals(TrainingLoop.recipeHash(Recipe.parse(pre, "inline")), TrainingLoop.recipeHash(on));
        assertTrue(TrainingLoop.hashedJson(Recipe.parse(FINETUNE.replace("{init_from: ckpt}", "{init_from: ckpt, random_init: true}"), "inline"))
                .contains("\"random_init\" : true"));
    }

    @Test
    void poolingIsClsByDefaultMeanWhenAskedAndReachesTheModelConfig() {
        Recipe plain = Recipe.parse(FINETUNE, "inline");
        assertEquals("cls", plain.model().pooling());
        assertEquals(ClassifierPooling.CLS, plain.modelConfig().classifierPooling());
        Recipe mean = Recipe.parse(FINETUNE.replace("{init_from: ckpt}", "{init_from: ckpt, pooling: mean}"), "inline");
        assertEquals(ClassifierPooling.MEAN, mean.model().classifierPooling());
        assertEquals(ClassifierPooling.MEAN, mean.modelConfig().classifierPooling());
        assertEquals(ClassifierPooling.MEAN,
                Recipe.parse(FINETUNE.replace("{init_from: ckpt}", "{init_from: ckpt, pooling: MEAN}"), "inline").model().classifierPooling());
        assertEquals("cls", Recipe.load(RECIPES.resolve("imdb-finetune-cpu.yaml")).model().pooling());
    }

    @Test
    void unknownPoolingIsRefusedWithTheChoices() {
        for (String bad : List.of("max", "first", "3")) {
            RecipeException e = assertThrows(RecipeException.class,
                    () -> Recipe.parse(FINETUNE.replace("{init_from: ckpt}", "{init_from: ckpt, pooling: " + bad + "}"), "inline"), bad);
            assertEquals(List.of("model.pooling must be cls (the first token feeds the classifier) or mean (the mean of the "
                    + "tokens), got '" + bad + "'"), e.problems());
        }
        RecipeException t = assertThrows(RecipeException.class,
                () -> Recipe.parse(FINETUNE.replace("{init_from: ckpt}", "{init_from: ckpt, pooling: [mean]}"), "inline"));
        assertTrue(t.getMessage().contains("model.pooling") && t.getMessage().contains("a string"), t.getMessage());
        RecipeException pre = assertThrows(RecipeException.class, () -> Recipe.parse("""
                kind: pretrain
                model: {pooling: mean}
                data: {train: [a.txt], tokenizer: tok, shard_dir: s}
                """, "inline"));
        assertEquals(List.of("model.pooling applies to finetuning (the classifier's input); pretraining trains the MLM head"),
                pre.problems());
    }

    /** A recipe without the key (or with cls, the default) hashes as before it existed: resuming sees no change. */
    @Test
    void poolingEntersTheRecipeHashOnlyWhenMean() {
        Recipe off = Recipe.parse(FINETUNE, "inline");
        Recipe explicitCls = Recipe.parse(FINETUNE.replace("{init_from: ckpt}", "{init_from: ckpt, pooling: cls}"), "inline");
        Recipe mean = Recipe.parse(FINETUNE.replace("{init_from: ckpt}", "{init_from: ckpt, pooling: mean}"), "inline");
        assertFalse(TrainingLoop.hashedJson(off).contains("pooling"), TrainingLoop.hashedJson(off));
        // FINETUNE's hash as the code before model.pooling computed it (commit 3da39e0): checkpoints written then resume quietly
        assertEquals("9ff124eeabaa120336b22d8ec0731bcdbe2cbcfdc2d7e3fa444843fc97c86fc0", TrainingLoop.recipeHash(off));
        assertEquals(TrainingLoop.recipeHash(off), TrainingLoop.recipeHash(explicitCls));
        assertTrue(TrainingLoop.hashedJson(mean).contains("\"pooling\" : \"mean\""), TrainingLoop.hashedJson(mean));
        assertNotEquals(TrainingLoop.recipeHash(off), TrainingLoop.recipeHash(mean));
    }

    @Test
    void distillTakesItsDefaultsAndIsAbsentUnlessGiven() {
        assertNull(Recipe.parse(FINETUNE, "inline").distill());
        Recipe r = Recipe.parse(FINETUNE + "distill: {teacher: checkpoints/big}\n", "inline");
        assertEquals(new Recipe.Distill("checkpoints/big", 2.0, 0.5, List.of()), r.distill());
        Recipe all = Recipe.parse(FINETUNE + "distill: {teacher: big, temperature: 4, alpha: 0.9, unlabelled: [u.jsonl]}\n", "inline");
        assertEquals(new Recipe.Distill("big", 4.0, 0.9, List.of("u.jsonl")), all.distill());
        assertEquals(0.0, Recipe.parse(FINETUNE + "distill: {teacher: big, alpha: 0}\n", "inline").distill().alpha());
        assertEquals(1.0, Recipe.parse(FINETUNE + "distill: {teacher: big, alpha: 1}\n", "inline").distill().alpha());
    }

    @Test
    void theDistillationExampleTeachesA2x128StudentWithTheDemo() {
        Recipe r = Recipe.load(RECIPES.resolve("imdb-distill.yaml"));
        assertEquals(new Recipe.Distill("checkpoints/imdb-sentiment", 2.0, 0.5, List.of("work-data/imdb/train.jsonl")), r.distill());
        assertEquals("work-data/imdb-pretrain/final", r.model().initFrom());
        assertEquals(List.of("negative", "positive"), r.data().labels());
        // the teacher it names is the shipped demo, whose labels are the recipe's
        var teacher = dev.tessera.hf.HfCheckpoint.readConfig(Path.of(r.distill().teacher(), "config.json"));
        assertEquals(Head.CLASSIFICATION, teacher.head());
        assertEquals(r.data().labels(), teacher.labels());
        assertEquals(List.of(4, 256), List.of(teacher.numLayers(), teacher.hiddenSize()));
    }

    @Test
    void distillOutOfRangeOrOutOfPlaceIsRefusedInTheRecipesWords() {
        RecipeException e = assertThrows(RecipeException.class,
                () -> Recipe.parse(FINETUNE + "distill: {temperature: 0, alpha: 1.5}\n", "inline"));
        assertEquals(List.of("distill.teacher is required (a finetuned classification checkpoint directory)",
                "distill.temperature must be > 0, got 0.0", "distill.alpha must be in [0, 1], got 1.5"), e.problems());
        for (String bad : List.of("-1", "-0.5", "0")) {
            RecipeException t = assertThrows(RecipeException.class,
                    () -> Recipe.parse(FINETUNE + "distill: {teacher: big, temperature: " + bad + "}\n", "inline"), bad);
            assertTrue(t.problems().get(0).startsWith("distill.temperature must be > 0"), bad + ": " + t.problems());
        }
        RecipeException reg = assertThrows(RecipeException.class,
                () -> Recipe.parse(FINETUNE.replace("sst2", "stsb") + "distill: {teacher: big}\n", "inline"));
        assertEquals(List.of("distill applies to classification; this recipe trains a regression head"), reg.problems());
        RecipeException pre = assertThrows(RecipeException.class, () -> Recipe.parse("""
                kind: pretrain
                data: {train: [a.txt], tokenizer: tok, shard_dir: s}
                distill: {teacher: big}
                """, "inline"));
        assertEquals(List.of("distill applies to finetuning (a teacher classifier's soft labels); pretraining has no classifier"),
                pre.problems());
        RecipeException unknown = assertThrows(RecipeException.class,
                () -> Recipe.parse(FINETUNE + "distill: {teacher: big, temprature: 3}\n", "inline"));
        assertTrue(unknown.getMessage().contains("unknown key 'temprature' at distill"), unknown.getMessage());
        RecipeException type = assertThrows(RecipeException.class,
                () -> Recipe.parse(FINETUNE + "distill: {teacher: big, alpha: half}\n", "inline"));
        assertTrue(type.getMessage().contains("bad value at distill.alpha: expected a number"), type.getMessage());
        for (RecipeException x : List.of(e, reg, pre, unknown, type)) {
            assertFalse(x.getMessage().matches("(?s).*(java\\.|Double|dev\\.tessera|Exception).*"), x.getMessage());
        }
    }

    /** A recipe without distill hashes as before the key existed; with it, every distill value is part of the hash. */
    @Test
    void distillEntersTheRecipeHashOnlyWhenSet() {
        Recipe off = Recipe.parse(FINETUNE, "inline");
        assertFalse(TrainingLoop.hashedJson(off).contains("distill"), TrainingLoop.hashedJson(off));
        assertEquals("9ff124eeabaa120336b22d8ec0731bcdbe2cbcfdc2d7e3fa444843fc97c86fc0", TrainingLoop.recipeHash(off));
        Recipe on = Recipe.parse(FINETUNE + "distill: {teacher: big}\n", "inline");
        assertTrue(TrainingLoop.hashedJson(on).contains("\"teacher\" : \"big\""), TrainingLoop.hashedJson(on));
        assertNotEquals(TrainingLoop.recipeHash(off), TrainingLoop.recipeHash(on));
        assertEquals(TrainingLoop.recipeHash(on), TrainingLoop.recipeHash(Recipe.parse(FINETUNE
                + "distill: {teacher: big, temperature: 2.0, alpha: 0.5, unlabelled: []}\n", "inline")), "defaults spelled out");
        assertNotEquals(TrainingLoop.recipeHash(on), TrainingLoop.recipeHash(Recipe.parse(FINETUNE
                + "distill: {teacher: big, alpha: 0.6}\n", "inline")));
    }

    @Test
    void missingKindAndBadTypesAreClear() {
        RecipeException e = assertThrows(RecipeException.class, () -> Recipe.parse("seed: 3\n", "inline"));
        assertTrue(e.getMessage().contains("'kind' is required"), e.getMessage());
        RecipeException t = assertThrows(RecipeException.class, () -> Recipe.parse("kind: pretrain\nbatch: {global_batch: lots}\n", "inline"));
        assertTrue(t.getMessage().contains("batch.global_batch"), t.getMessage());
        RecipeException f = assertThrows(RecipeException.class, () -> Recipe.parse("kind: finetune\ndata: {train: [x.jsonl]}\n", "inline"));
        assertTrue(f.getMessage().contains("model.init_from is required"), f.getMessage());
    }

    @Test
    void theMaskRateDecaysLinearlyFromFirstToLastStep() {
        Recipe r = Recipe.parse("""
                kind: pretrain
                data: {train: [a.txt], tokenizer: tok, shard_dir: s}
                training: {max_steps: 101, mask_rate: 0.30, final_mask_rate: 0.15}
                """, "inline");
        assertEquals(0.30, r.training().maskRateAt(0), 1e-12);
        assertEquals(0.225, r.training().maskRateAt(0.5), 1e-12);
        assertEquals(0.15, r.training().maskRateAt(1), 1e-12);
        assertEquals(0.15, r.training().maskRateAt(1.5), 1e-12); // past the end: the final rate, not below
        Recipe constant = Recipe.parse("""
                kind: pretrain
                data: {train: [a.txt], tokenizer: tok, shard_dir: s}
                training: {max_steps: 101, mask_rate: 0.25}
                """, "inline");
        assertEquals(0.25, constant.training().finalMaskRate());
        assertEquals(0.25, constant.training().maskRateAt(1), 0);
    }

    @Test
    void finetuningOnlyKeysAreRefusedInPretrainingAndBounded() {
        RecipeException pre = assertThrows(RecipeException.class, () -> Recipe.parse("""
                kind: pretrain
                model: {random_init: true}
                data: {train: [a.txt], tokenizer: tok, shard_dir: s, train_examples: 500}
                training: {max_steps: 10, final_mask_rate: 1.5}
                """, "inline"));
        for (String expected : List.of("model.random_init applies to finetuning", "data.train_examples applies to finetuning",
                "training.final_mask_rate must be in (0, 1)")) {
            assertTrue(pre.getMessage().contains(expected), "missing '" + expected + "' in: " + pre.getMessage());
        }
        RecipeException fine = assertThrows(RecipeException.class, () -> Recipe.parse("""
                kind: finetune
                model: {init_from: ckpt}
                data: {train: [t.jsonl], columns: {text: text, label: label}, train_examples: 0}
                training: {epochs: 1, final_mask_rate: 0.15}
                """, "inline"));
        for (String expected : List.of("data.train_examples must be > 0", "training.final_mask_rate applies to pretraining")) {
            assertTrue(fine.getMessage().contains(expected), "missing '" + expected + "' in: " + fine.getMessage());
        }
    }
}
