package dev.tessera.study;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.tessera.train.RecipeException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A study (YAML, snake_case; unknown keys are errors). See bench/studies/ for examples.
 *
 * @param output   where results.json, results.csv and the PNG plots go (commit these)
 * @param workDir  checkpoints, token shards, label subsets: what a resumed study continues from
 * @param threads  CPU threads of each run (0: all cores)
 */
public record StudySpec(String output, String workDir, Long seed, Integer threads, Pretrain pretrain, Finetune finetune,
                        Tfidf tfidf) {

    /**
     * Pretraining: one run per architecture × budget on the same corpus and tokenizer, each with its own
     * full schedule sized (by a short timed calibration) to the budget's training time.
     *
     * @param architectures mosaic_bert (ALiBi, GeGLU, unpadded, 30% masking) and/or bert (learned
     *                      positions, GELU, padded batches, 15% masking, attention dropout 0.1)
     * @param budgetRecipeMinutes also run "mosaic_bert+budget" at these budgets: MosaicBERT with the budget recipe
     *                      (no dropout, the learning rate decaying to zero at the budget's end, masking decaying
     *                      from 30% to 15%), to set against plain mosaic_bert at the same budget
     * @param evalMaskRate  the mask rate of every held-out evaluation (the same for both: a fair MLM loss)
     * @param evalLengths   ALiBi extrapolation: held-out MLM loss of each final model at these lengths
     *                      (BERT only at its trained length)
     */
    public record Pretrain(String corpus, String evalCorpus, String tokenizer, Integer hidden, Integer layers, Integer heads,
                           Integer intermediate, Integer vocab, Integer maxSeqLen, List<String> architectures,
                           List<Double> budgetsMinutes, Double lr, Integer globalBatch, Integer microbatchTokens,
                           Double evalMaskRate, Integer evalsPerRun, Integer evalBatches, List<Integer> evalLengths,
                           List<Double> budgetRecipeMinutes) {}

    /**
     * Finetuning of every final pretrained model (and of a random-init control) on the first {@code labels}
     * examples of a seeded permutation of {@code train}, scored on the first {@code testLimit} of {@code test}.
     *
     * @param lrSweep         when set (with {@code dev}): each starting point's learning rate is the one of these with
     *                        the best accuracy on the first {@code devLimit} rows of {@code dev} after finetuning on
     *                        the smallest label budget (first seed); else {@code lr} for all
     * @param seedsUpToLabels label budgets above this run the first seed only (the spread is small there, the cost large)
     * @param epochsByLabels  epochs at these label budgets; {@code epochs} at the others
     */
    public record Finetune(String train, String test, Integer testLimit, String textField, String labelField,
                           List<String> classes, List<Integer> labels, List<Long> seeds, Integer epochs, Integer maxSeqLen,
                           Double lr, Integer globalBatch, Boolean randomInit, String dev, Integer devLimit,
                           List<Double> lrSweep, Integer seedsUpToLabels, Map<Integer, Integer> epochsByLabels) {

        /** The seeds run at {@code labels}. */
        public List<Long> seedsAt(int labels) {
            return labels > seedsUpToLabels ? seeds.subList(0, 1) : seeds;
        }

        public int epochsAt(int labels) {
            return epochsByLabels.getOrDefault(labels, epochs);
        }
    }

    /** The TF-IDF + logistic-regression baseline at these label budgets, on the finetuning runs' subsets (same seeds). */
    public record Tfidf(List<Integer> labels, Integer minDf) {}

    private static final ObjectMapper YAML = YAMLMapper.builder(new YAMLFactory()).build()
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    public static StudySpec load(Path file) {
        StudySpec raw;
        try {
            raw = YAML.readValue(Files.readString(file), StudySpec.class);
        } catch (UnrecognizedPropertyException e) {
            throw new RecipeException(file.toString(), List.of("unknown key '" + e.getPropertyName() + "' (known there: "
                    + e.getKnownPropertyIds() + ")"));
        } catch (IOException e) {
            throw new RecipeException(file.toString(), List.of("cannot read: " + e.getMessage().lines().findFirst().orElse("")));
        }
        if (raw == null) throw new RecipeException(file.toString(), List.of("the study is empty"));
        StudySpec s = raw.resolved();
        s.validate(file.toString());
        return s;
    }

    StudySpec resolved() {
        Pretrain p = pretrain;
        if (p != null) {
            p = new Pretrain(p.corpus(), p.evalCorpus(), p.tokenizer(), or(p.hidden(), 128), or(p.layers(), 2), or(p.heads(), 4),
                    or(p.intermediate(), 512), or(p.vocab(), 8192), or(p.maxSeqLen(), 128),
                    or(p.architectures(), List.of("mosaic_bert", "bert")), or(p.budgetsMinutes(), List.of(10.0)),
                    or(p.lr(), 1e-3), or(p.globalBatch(), 64), or(p.microbatchTokens(), 4096), or(p.evalMaskRate(), 0.15),
                    or(p.evalsPerRun(), 8), or(p.evalBatches(), 20), or(p.evalLengths(), List.of()),
                    or(p.budgetRecipeMinutes(), List.of()));
        }
        Finetune f = finetune;
        if (f != null) {
            f = new Finetune(f.train(), f.test(), or(f.testLimit(), 0), or(f.textField(), "text"), or(f.labelField(), "label"),
                    or(f.classes(), List.of("negative", "positive")), or(f.labels(), List.of(500, 2000)),
                    or(f.seeds(), List.of(17L)), or(f.epochs(), 3), or(f.maxSeqLen(), 256), or(f.lr(), 1e-4),
                    or(f.globalBatch(), 32), or(f.randomInit(), true), f.dev(), or(f.devLimit(), 1000), or(f.lrSweep(), List.of()),
                    or(f.seedsUpToLabels(), Integer.MAX_VALUE), or(f.epochsByLabels(), Map.of()));
        }
        Tfidf t = tfidf == null ? null : new Tfidf(or(tfidf.labels(), List.of(500, 2000, 10000, 40000)), or(tfidf.minDf(), 2));
        return new StudySpec(output, workDir, or(seed, 17L), or(threads, 0), p, f, t);
    }

    void validate(String source) {
        List<String> p = new ArrayList<>();
        if (output == null) p.add("output is required (results and plots)");
        if (workDir == null) p.add("work_dir is required (checkpoints; what a resumed study continues from)");
        if (pretrain != null) {
            if (pretrain.corpus() == null) p.add("pretrain.corpus is required");
            if (pretrain.evalCorpus() == null) p.add("pretrain.eval_corpus is required (held-out MLM loss)");
            if (pretrain.tokenizer() == null) p.add("pretrain.tokenizer is required (a directory with tokenizer.json)");
            for (String a : pretrain.architectures()) {
                if (!a.equals("mosaic_bert") && !a.equals("bert")) p.add("pretrain.architectures: mosaic_bert or bert, got '" + a + "'");
            }
            for (double b : pretrain.budgetsMinutes()) if (!(b > 0)) p.add("pretrain.budgets_minutes must be > 0, got " + b);
            for (double b : pretrain.budgetRecipeMinutes()) if (!(b > 0)) p.add("pretrain.budget_recipe_minutes must be > 0, got " + b);
            if (!(pretrain.evalMaskRate() > 0 && pretrain.evalMaskRate() < 1)) p.add("pretrain.eval_mask_rate must be in (0, 1)");
        }
        if (finetune != null) {
            if (finetune.train() == null || finetune.test() == null) p.add("finetune.train and finetune.test are required");
            if (pretrain == null && !finetune.randomInit()) p.add("finetune needs pretrain or random_init: true");
            for (int n : finetune.labels()) if (n < 1) p.add("finetune.labels must be >= 1, got " + n);
            if (finetune.seeds().isEmpty()) p.add("finetune.seeds: at least one seed");
            if (pretrain == null) p.add("finetune needs pretrain (its tokenizer and architecture)");
            if (!finetune.lrSweep().isEmpty() && finetune.dev() == null) p.add("finetune.lr_sweep needs finetune.dev (where it is scored)");
        }
        if (tfidf != null && finetune == null) p.add("tfidf needs finetune (its train and test files)");
        if (!p.isEmpty()) throw new RecipeException(source, p);
    }

    private static <T> T or(T v, T d) { return v != null ? v : d; }
}
