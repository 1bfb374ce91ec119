package dev.tessera.train;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.tessera.data.Columns;
import dev.tessera.glue.GlueTask;
import dev.tessera.model.ClassifierPooling;
import dev.tessera.model.Head;
import dev.tessera.model.ModelConfig;
import dev.tessera.model.Variant;

import dev.tessera.io.FileAccess;
import java.io.IOException;
import java.lang.reflect.RecordComponent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * A training recipe, read from YAML (see train/recipes/). Keys are snake_case; an unknown key is an
 * error that names it. Absent values take the MosaicBERT defaults (pretraining) or the GLUE task's
 * reference values (finetuning), see {@link #resolved()}; {@link #load} resolves and validates, so a
 * recipe it returns is complete and in range.
 *
 * @param kind     pretrain or finetune
 * @param seed     seed of everything random (data order, masking, initialisation, dropout)
 * @param distill  knowledge distillation from a teacher classifier (finetuning; absent = none)
 */
public record Recipe(Kind kind, Long seed, Model model, Data data, Optimizer optimizer, Schedule schedule,
                     Batching batch, Training training, @JsonInclude(JsonInclude.Include.NON_NULL) Distill distill) {

    /** A recipe without distillation (the sections every recipe has). */
    public Recipe(Kind kind, Long seed, Model model, Data data, Optimizer optimizer, Schedule schedule, Batching batch,
                  Training training) {
        this(kind, seed, model, data, optimizer, schedule, batch, training, null);
    }

    public enum Kind { PRETRAIN, FINETUNE }

    /**
     * Architecture. {@code vocab} is the embedding rows (a multiple of 64 is fastest); {@code maxSeqLen}
     * the sequence limit (pretraining chunks; finetuning truncation; learned positions for BERT).
     * {@code initFrom}: checkpoint directory (HF layout) to start from; required for finetuning, where
     * the architecture comes from the checkpoint's config.json and only max_seq_len and dropout here apply.
     * {@code randomInit} (finetuning; default false): take the architecture (and tokenizer) of {@code initFrom} but
     * none of its weights — the random-initialisation control of a pretrained model, same recipe otherwise.
     * {@code pooling} (finetuning; default cls): what feeds the classifier's pooler, each sequence's first token
     * ({@code cls}) or the mean of its tokens ({@code mean}); the finetuned checkpoint's config.json says it as
     * {@code classifier_pooling}, so evaluation, export and serving pool the same way. It is the recipe's choice, not
     * the init checkpoint's: finetuning from a mean-pooled checkpoint without the key trains a cls head (with a log line).
     */
    public record Model(String variant, Integer hidden, Integer layers, Integer heads, Integer intermediate,
                        Integer vocab, Integer maxSeqLen, Integer typeVocab, Double dropout, Double attentionDropout,
                        @RecipePath(RecipePath.Use.READ) String initFrom,
                        @JsonInclude(JsonInclude.Include.NON_NULL) Boolean randomInit,
                        @JsonInclude(JsonInclude.Include.NON_NULL) String pooling) {

        /** {@link #pooling} as the model's {@link ClassifierPooling} (the recipe is validated: cls or mean). */
        public ClassifierPooling classifierPooling() {
            return pooling == null ? ClassifierPooling.CLS : ClassifierPooling.parse(pooling);
        }
    }

    /**
     * Data. Pretraining: {@code train}/{@code eval} corpus files in {@code format} (lines, paragraphs,
     * jsonl with {@code textField}), tokenized once into {@code shardDir}. Finetuning: {@code train}/
     * {@code eval} labelled files (tsv, csv, jsonl), {@code task} a GLUE task name or "custom";
     * {@code columns}, {@code labels} and {@code regression} override the task's. {@code tokenizer}: a
     * directory with tokenizer.json (defaults to {@code model.initFrom}). {@code trainExamples} (finetuning): train on
     * only this many examples, the first of a permutation of the training file seeded by the recipe's seed (label
     * budgets: 500, 2,000, ...; the same seed picks the same examples for a pretrained model and its control).
     */
    public record Data(@RecipePath(RecipePath.Use.READ) List<String> train, @RecipePath(RecipePath.Use.READ) List<String> eval,
                       String format, String textField, String task, ColumnNames columns, List<String> labels,
                       Boolean regression, @RecipePath(RecipePath.Use.READ) String tokenizer,
                       @RecipePath(RecipePath.Use.CACHE) String shardDir, Integer docsPerShard,
                       @JsonInclude(JsonInclude.Include.NON_NULL) Integer trainExamples) {}

    public record ColumnNames(String text, String textB, String label) {
        public Columns toColumns() { return new Columns(text, textB, label); }
    }

    /**
     * Decoupled AdamW (MosaicBERT: β 0.9/0.98, ε 1e-6, wd 1e-5, peak lr 5e-4); {@code gradClip}: the global
     * gradient norm is clipped to it (default 1.0; 0 = no clipping). {@code layerDecay}: layer-wise learning-rate
     * decay in (0, 1] (default 1 = off; finetuning, or pretraining if set): with L encoder layers the head (pooler,
     * classifier, MLM head) learns at the scheduled lr, encoder layer i at lr·decay^(L-i), the embeddings at
     * lr·decay^(L+1) ({@link LayerDecay}); the weight decay factor is not scaled (Composer's per-group rule).
     */
    public record Optimizer(Double lr, List<Double> betas, Double eps, Double weightDecay, Double gradClip,
                            @JsonInclude(JsonInclude.Include.NON_NULL) Double layerDecay) {
        public double beta1() { return betas.get(0); }
        public double beta2() { return betas.get(1); }
    }

    /** Linear warmup over {@code warmupFraction} of the steps, linear decay to {@code finalLrFraction}·lr. */
    public record Schedule(Double warmupFraction, Double finalLrFraction) {}

    /**
     * {@code globalBatch} sequences per optimizer step, accumulated over microbatches of at most
     * {@code microbatchTokens} tokens (unpadded). {@code padded} (pretraining; default false): every
     * sequence costs {@code max_seq_len} tokens as in a classic padded BERT batch — the pad positions are
     * computed but carry no loss, so the maths is that of the unpadded batch and only the cost differs.
     */
    public record Batching(Integer globalBatch, Integer microbatchTokens, Boolean padded) {}

    /**
     * Duration (either {@code maxSteps} or {@code epochs}), intervals in optimizer steps, MLM mask rate,
     * precision of the matrix products (fp32, or bf16: bf16 operands with fp32 sums, on AVX512-BF16 CPUs and on
     * GPU, where the products are always bf16), output directory, {@code device} (cpu, or cuda when the native
     * library has it; otherwise the CPU is used with a log line), {@code evalBatches} (most microbatches
     * an evaluation reads: bounds its cost; pretraining only, finetuning evaluates the whole dev split),
     * {@code keepCheckpoints} (periodic checkpoints kept, the newest ones), {@code evalMaskRate} (pretraining:
     * the mask rate of the held-out evaluation, default {@code maskRate}; fix it to compare MLM losses of
     * runs trained at different rates), {@code finalMaskRate} (pretraining: the mask rate decays linearly from
     * {@code maskRate} at the first step to this at the last — the write-up's dynamic masking rate, e.g. 0.30 to
     * 0.15; default {@code maskRate}, a constant rate), {@code timeBudgetMinutes} (training minutes: the run ends
     * when its training time — steps, not evaluations or checkpoints; kept across resumes — reaches the budget, and
     * the schedule follows the elapsed share of it, so the learning rate decays to its final value exactly at the
     * budget's end, as in "Cramming"; {@code maxSteps}/{@code epochs} stay an upper bound, and whichever is nearer
     * its end drives the schedule).
     */
    public record Training(Long maxSteps, Integer epochs, Integer evalInterval, Integer checkpointInterval,
                           Integer logInterval, Double maskRate, String precision, @RecipePath(RecipePath.Use.WRITE) String outputDir,
                           String device, Integer evalBatches, Integer keepCheckpoints, Double evalMaskRate,
                           @JsonInclude(JsonInclude.Include.NON_NULL) Double finalMaskRate,
                           @JsonInclude(JsonInclude.Include.NON_NULL) Double timeBudgetMinutes) {

        /** The mask rate at {@code progress}, the share of the run done (0 at the first step, 1 at the end). */
        public double maskRateAt(double progress) {
            if (finalMaskRate == null || finalMaskRate.equals(maskRate)) return maskRate;
            return maskRate + (finalMaskRate - maskRate) * Math.clamp(progress, 0.0, 1.0);
        }
    }

    /**
     * Knowledge distillation (Hinton et al. 2015; classification finetuning only): a larger classifier of our own, the
     * {@code teacher} (a finetuned classification checkpoint directory with the run's label set; its own tokenizer reads
     * the text it sees), labels every training row once before the first step, and each row's loss becomes
     * {@code (1 - alpha)·CE(label, softmax(z)) + alpha·T²·KL(softmax(teacher/T) ‖ softmax(z/T))} with {@code T} the
     * {@code temperature} (> 0, default 2) and {@code alpha} in [0, 1] (default 0.5). {@code unlabelled}: extra files in
     * {@code data.format} with {@code data.columns} (a label column is ignored) whose rows have no hard label and get only
     * the soft term; they join the training rows, so an epoch visits them too. The loss of a microbatch is the mean over
     * all its rows, labelled or not. The teacher's logits are kept in the output directory ({@code teacher_logits.safetensors})
     * so a resumed run does not compute them again.
     */
    public record Distill(@RecipePath(RecipePath.Use.READ) String teacher, Double temperature, Double alpha,
                          @RecipePath(RecipePath.Use.READ) List<String> unlabelled) {}

    private static final ObjectMapper YAML = com.fasterxml.jackson.dataformat.yaml.YAMLMapper.builder(new YAMLFactory())
            .enable(com.fasterxml.jackson.databind.MapperFeature.ACCEPT_CASE_INSENSITIVE_ENUMS)
            .build()
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY);

    /** Largest recipe text accepted: a recipe is a page of YAML; this bounds the parsing work a client can ask for. */
    public static final int MAX_CHARS = 256 * 1024;

    /** Reads, resolves defaults and validates the recipe at {@code path}. */
    public static Recipe load(Path path) {
        String text;
        try {
            text = Files.readString(path);
        } catch (IOException e) {
            throw new RecipeException(path.toString(), List.of("cannot read: " + e.getMessage()));
        }
        return parse(text, path.toString());
    }

    /** As {@link #load}, from YAML text; {@code source} names it in errors. */
    public static Recipe parse(String yaml, String source) {
        if (yaml.length() > MAX_CHARS) throw new RecipeException(source, List.of("the recipe is larger than " + MAX_CHARS / 1024 + " KiB"));
        Recipe raw;
        try {
            raw = YAML.readValue(yaml, Recipe.class);
        } catch (UnrecognizedPropertyException e) {
            throw new RecipeException(source, List.of("unknown key '" + e.getPropertyName() + "' at " + path(e)
                    + " (known keys there: " + e.getKnownPropertyIds() + ")"));
        } catch (MismatchedInputException e) {
            throw new RecipeException(source, List.of("bad value at " + path(e) + ": expected " + expected(e.getTargetType())));
        } catch (IOException e) {
            throw new RecipeException(source, List.of("not valid YAML: " + e.getMessage().lines().findFirst().orElse("")));
        }
        if (raw == null) throw new RecipeException(source, List.of("the recipe is empty"));
        Recipe r = raw.resolved(source);
        r.validate(source);
        return r;
    }

    /** What a key takes, in the recipe's words (Jackson's own message names Java types). */
    private static String expected(Class<?> t) {
        if (t == null) return "a value of another type";
        if (t.isEnum()) return "one of " + java.util.Arrays.stream(t.getEnumConstants()).map(c -> c.toString().toLowerCase(Locale.ROOT)).toList();
        if (t == String.class) return "a string";
        if (t == Boolean.class || t == boolean.class) return "true or false";
        if (t == Integer.class || t == Long.class || t == int.class || t == long.class) return "an integer";
        if (t == Double.class || t == double.class) return "a number";
        if (List.class.isAssignableFrom(t)) return "a list";
        return "a mapping";
    }

    private static String path(MismatchedInputException e) {
        StringBuilder sb = new StringBuilder();
        for (var ref : e.getPath()) {
            if (ref.getFieldName() != null) sb.append(sb.isEmpty() ? "" : ".").append(ref.getFieldName());
            else sb.append('[').append(ref.getIndex()).append(']');
        }
        return sb.isEmpty() ? "top level" : sb.toString();
    }

    /** The GLUE task named by {@code data.task}, if it names one ("custom" or absent: none). */
    public java.util.Optional<GlueTask> glueTask() {
        if (data == null || data.task() == null || data.task().equalsIgnoreCase("custom")) return java.util.Optional.empty();
        return java.util.Optional.of(GlueTask.byName(data.task()));
    }

    /** Fills absent values with the defaults; {@code kind} must be set. */
    Recipe resolved(String source) {
        if (kind == null) throw new RecipeException(source, List.of("'kind' is required (pretrain or finetune)"));
        boolean pre = kind == Kind.PRETRAIN;
        GlueTask task;
        try {
            task = glueTask().orElse(null);
        } catch (IllegalArgumentException e) {
            throw new RecipeException(source, List.of("data.task: " + e.getMessage()));
        }
        Model m = model == null ? new Model(null, null, null, null, null, null, null, null, null, null, null, null, null) : model;
        m = new Model(or(m.variant(), "mosaic_bert"), or(m.hidden(), 768), or(m.layers(), 12), or(m.heads(), 12),
                or(m.intermediate(), 3072), or(m.vocab(), 30528), or(m.maxSeqLen(), pre ? 128 : GlueTask.MAX_LENGTH),
                or(m.typeVocab(), 2), or(m.dropout(), 0.1), or(m.attentionDropout(), 0.0), m.initFrom(),
                or(m.randomInit(), false), or(m.pooling(), ClassifierPooling.CLS.id()));
        Data d = data == null ? new Data(null, null, null, null, null, null, null, null, null, null, null, null) : data;
        ColumnNames cols = d.columns();
        if (cols == null && task != null) cols = new ColumnNames(task.columns().text(), task.columns().textB(), task.columns().label());
        List<String> labels = d.labels();
        Boolean regression = d.regression();
        if (task != null) {
            if (regression == null) regression = task.isRegression();
            if (labels == null && !task.isRegression()) labels = task.labelSet().labels();
        }
        d = new Data(or(d.train(), List.of()), or(d.eval(), List.of()), or(d.format(), pre ? "lines" : null),
                or(d.textField(), "text"), d.task(), cols, labels, or(regression, false),
                or(d.tokenizer(), m.initFrom()), d.shardDir(), or(d.docsPerShard(), 100_000), d.trainExamples());
        Optimizer o = optimizer == null ? new Optimizer(null, null, null, null, null, null) : optimizer;
        o = new Optimizer(or(o.lr(), task != null ? task.learningRate() : 5e-4), or(o.betas(), List.of(0.9, 0.98)),
                or(o.eps(), 1e-6), or(o.weightDecay(), 1e-5), or(o.gradClip(), 1.0), or(o.layerDecay(), 1.0));
        Schedule s = schedule == null ? new Schedule(null, null) : schedule;
        s = new Schedule(or(s.warmupFraction(), 0.06), or(s.finalLrFraction(), pre ? 0.02 : 0.0));
        Batching b = batch == null ? new Batching(null, null, null) : batch;
        int gb = or(b.globalBatch(), task != null ? task.batchSize() : pre ? 4096 : 32);
        b = new Batching(gb, or(b.microbatchTokens(), Math.clamp(gb, 1, 128) * m.maxSeqLen()), or(b.padded(), false));
        Training t = training == null ? new Training(null, null, null, null, null, null, null, null, null, null, null, null, null, null) : training;
        Integer epochs = t.epochs();
        Long maxSteps = t.maxSteps();
        if (maxSteps == null && epochs == null) {
            if (task != null) epochs = task.epochs();
            else if (pre) maxSteps = 70_000L;
        }
        t = new Training(maxSteps, epochs, or(t.evalInterval(), 1000), or(t.checkpointInterval(), 1000),
                or(t.logInterval(), 10), or(t.maskRate(), pre ? 0.30 : 0.0), or(t.precision(), "fp32"),
                or(t.outputDir(), "checkpoints/run"), or(t.device(), "cpu"), or(t.evalBatches(), 50),
                or(t.keepCheckpoints(), 2), null, null, t.timeBudgetMinutes());
        t = new Training(t.maxSteps(), t.epochs(), t.evalInterval(), t.checkpointInterval(), t.logInterval(), t.maskRate(),
                t.precision(), t.outputDir(), t.device(), t.evalBatches(), t.keepCheckpoints(),
                or(training == null ? null : training.evalMaskRate(), t.maskRate()),
                or(training == null ? null : training.finalMaskRate(), t.maskRate()), t.timeBudgetMinutes());
        Distill ds = distill == null ? null : new Distill(distill.teacher(), or(distill.temperature(), 2.0),
                or(distill.alpha(), 0.5), or(distill.unlabelled(), List.of()));
        return new Recipe(kind, or(seed, 17L), m, d, o, s, b, t, ds);
    }

    /** Checks every range; throws one {@link RecipeException} listing all problems. */
    void validate(String source) {
        List<String> p = new ArrayList<>();
        boolean pre = kind == Kind.PRETRAIN;
        String v = model.variant().toLowerCase(Locale.ROOT);
        if (!v.equals("mosaic_bert") && !v.equals("bert")) p.add("model.variant must be mosaic_bert or bert, got '" + model.variant() + "'");
        positive(p, "model.hidden", model.hidden());
        positive(p, "model.layers", model.layers());
        positive(p, "model.heads", model.heads());
        positive(p, "model.intermediate", model.intermediate());
        positive(p, "model.vocab", model.vocab());
        positive(p, "model.type_vocab", model.typeVocab());
        if (model.maxSeqLen() < 8) p.add("model.max_seq_len must be >= 8, got " + model.maxSeqLen());
        if (model.hidden() > 0 && model.heads() > 0 && model.hidden() % model.heads() != 0) {
            p.add("model.hidden (" + model.hidden() + ") must be a multiple of model.heads (" + model.heads() + ")");
        }
        fraction(p, "model.dropout", model.dropout(), false);
        fraction(p, "model.attention_dropout", model.attentionDropout(), false);
        if (!pre && model.initFrom() == null) p.add("model.init_from is required for finetuning (a checkpoint directory)");
        if (pre && model.randomInit()) p.add("model.random_init applies to finetuning (pretraining always starts from random weights)");
        if (!List.of("cls", "mean").contains(model.pooling().toLowerCase(Locale.ROOT))) {
            p.add("model.pooling must be cls (the first token feeds the classifier) or mean (the mean of the tokens), got '"
                    + model.pooling() + "'");
        } else if (pre && model.classifierPooling() != ClassifierPooling.CLS) {
            p.add("model.pooling applies to finetuning (the classifier's input); pretraining trains the MLM head");
        }

        if (data.train().isEmpty()) p.add("data.train: at least one training file is required");
        if (pre) {
            if (!List.of("lines", "paragraphs", "jsonl").contains(data.format().toLowerCase(Locale.ROOT))) {
                p.add("data.format must be lines, paragraphs or jsonl for pretraining, got '" + data.format() + "'");
            }
            if (data.shardDir() == null) p.add("data.shard_dir is required for pretraining (where token shards are cached)");
        } else {
            if (data.format() != null && !List.of("tsv", "csv", "jsonl").contains(data.format().toLowerCase(Locale.ROOT))) {
                p.add("data.format must be tsv, csv or jsonl for finetuning, got '" + data.format() + "'");
            }
            if (data.columns() == null || data.columns().text() == null || data.columns().label() == null) {
                p.add("data.columns.text and data.columns.label are required (or name a GLUE task in data.task)");
            }
            if (!data.regression() && data.labels() != null && data.labels().size() < 2) {
                p.add("data.labels needs at least 2 labels, got " + data.labels());
            }
        }
        if (data.tokenizer() == null) p.add("data.tokenizer is required (a directory with tokenizer.json)");
        positive(p, "data.docs_per_shard", data.docsPerShard());
        if (data.trainExamples() != null) {
            if (pre) p.add("data.train_examples applies to finetuning");
            else positive(p, "data.train_examples", data.trainExamples());
        }

        if (!(optimizer.lr() > 0) || !Double.isFinite(optimizer.lr())) p.add("optimizer.lr must be > 0, got " + optimizer.lr());
        if (optimizer.betas().size() != 2) p.add("optimizer.betas must have 2 values, got " + optimizer.betas());
        else for (int i = 0; i < 2; i++) fraction(p, "optimizer.betas[" + i + "]", optimizer.betas().get(i), true);
        if (!(optimizer.eps() > 0)) p.add("optimizer.eps must be > 0, got " + optimizer.eps());
        if (!(optimizer.weightDecay() >= 0)) p.add("optimizer.weight_decay must be >= 0, got " + optimizer.weightDecay());
        if (!(optimizer.gradClip() >= 0)) p.add("optimizer.grad_clip must be >= 0 (0 = off), got " + optimizer.gradClip());
        if (!(optimizer.layerDecay() > 0 && optimizer.layerDecay() <= 1)) {
            p.add("optimizer.layer_decay must be in (0, 1] (1 = off), got " + optimizer.layerDecay());
        }

        fraction(p, "schedule.warmup_fraction", schedule.warmupFraction(), false);
        fraction(p, "schedule.final_lr_fraction", schedule.finalLrFraction(), false);

        positive(p, "batch.global_batch", batch.globalBatch());
        if (batch.microbatchTokens() < model.maxSeqLen()) {
            p.add("batch.microbatch_tokens (" + batch.microbatchTokens() + ") must be >= model.max_seq_len (" + model.maxSeqLen() + ")");
        }

        if (training.maxSteps() == null && training.epochs() == null) p.add("training.max_steps or training.epochs is required");
        if (training.maxSteps() != null && training.epochs() != null) p.add("give training.max_steps or training.epochs, not both");
        if (training.maxSteps() != null && training.maxSteps() < 1) p.add("training.max_steps must be >= 1, got " + training.maxSteps());
        if (training.epochs() != null && training.epochs() < 1) p.add("training.epochs must be >= 1, got " + training.epochs());
        positive(p, "training.eval_interval", training.evalInterval());
        positive(p, "training.checkpoint_interval", training.checkpointInterval());
        positive(p, "training.log_interval", training.logInterval());
        double mr = training.maskRate();
        if (!(mr >= 0 && mr < 1)) p.add("training.mask_rate must be in [0, 1), got " + mr);
        if (pre && mr == 0) p.add("training.mask_rate must be > 0 for pretraining");
        double emr = training.evalMaskRate();
        if (emr == mr) { /* the default: already checked as mask_rate */ }
        else if (!(emr >= 0 && emr < 1)) p.add("training.eval_mask_rate must be in [0, 1), got " + emr);
        else if (pre && emr == 0) p.add("training.eval_mask_rate must be > 0 for pretraining");
        double fmr = training.finalMaskRate();
        if (fmr == mr) { /* the default: a constant rate */ }
        else if (!pre) p.add("training.final_mask_rate applies to pretraining");
        else if (!(fmr > 0 && fmr < 1)) p.add("training.final_mask_rate must be in (0, 1), got " + fmr);
        if (!pre && batch.padded()) p.add("batch.padded applies to pretraining only");
        if (!List.of("fp32", "bf16").contains(training.precision().toLowerCase(Locale.ROOT))) {
            p.add("training.precision must be fp32 or bf16, got '" + training.precision() + "'");
        }
        if (!List.of("cpu", "cuda").contains(training.device().toLowerCase(Locale.ROOT))) {
            p.add("training.device must be cpu or cuda, got '" + training.device() + "'");
        }
        positive(p, "training.eval_batches", training.evalBatches());
        Double budget = training.timeBudgetMinutes();
        if (budget != null && !(budget > 0 && budget <= 525_600)) p.add("training.time_budget_minutes must be in (0, 525600], got " + budget);
        positive(p, "training.keep_checkpoints", training.keepCheckpoints());
        if (distill != null) {
            if (pre) p.add("distill applies to finetuning (a teacher classifier's soft labels); pretraining has no classifier");
            else if (data.regression()) p.add("distill applies to classification; this recipe trains a regression head");
            if (distill.teacher() == null) p.add("distill.teacher is required (a finetuned classification checkpoint directory)");
            double temp = distill.temperature();
            if (!(temp > 0 && Double.isFinite(temp))) p.add("distill.temperature must be > 0, got " + temp);
            fraction(p, "distill.alpha", distill.alpha(), false);
        }
        if (!p.isEmpty()) throw new RecipeException(source, p);
    }

    /** One path a recipe names: its key (e.g. {@code data.train}, once per file of a list), its value, and how a run uses it. */
    public record PathUse(String key, String value, RecipePath.Use use) {}

    /** A section of the recipe that may hold {@link RecipePath} keys: its recipe name and value (null when absent). */
    private record Section(String name, Record value) {}

    /** The sections that may hold {@link RecipePath} keys, in the order {@link #confined} rebuilds them. */
    private List<Section> sections() {
        return List.of(new Section("model", model), new Section("data", data), new Section("training", training),
                new Section("distill", distill));
    }

    /** Every path this recipe names, from the {@link RecipePath} marks: the one list that confinement checks. */
    public List<PathUse> paths() {
        List<PathUse> out = new ArrayList<>();
        for (Section section : sections()) {
            if (section.value() == null) continue;
            for (RecordComponent c : section.value().getClass().getRecordComponents()) {
                RecipePath mark = c.getAnnotation(RecipePath.class);
                if (mark == null) continue;
                String key = section.name() + "." + snake(c.getName());
                Object v = component(c, section.value());
                if (v instanceof String s) out.add(new PathUse(key, s, mark.value()));
                else if (v instanceof List<?> l) for (Object item : l) out.add(new PathUse(key, (String) item, mark.value()));
            }
        }
        return out;
    }

    /**
     * The same recipe with every path replaced by what {@code access} allows now, resolved through its symlinks: a run
     * calls this when it starts and opens only the paths it returns, so a link changed after submission is caught.
     * A {@link RecipePath.Use#CACHE} path is checked for writing where the run may write, else for reading.
     */
    public Recipe confined(FileAccess access) {
        List<Section> sections = sections();
        Record[] parts = new Record[sections.size()];
        for (int k = 0; k < parts.length; k++) {
            Record r = sections.get(k).value();
            if (r == null) continue;
            RecordComponent[] cs = r.getClass().getRecordComponents();
            Object[] args = new Object[cs.length];
            Class<?>[] types = new Class<?>[cs.length];
            for (int i = 0; i < cs.length; i++) {
                types[i] = cs[i].getType();
                args[i] = component(cs[i], r);
                RecipePath mark = cs[i].getAnnotation(RecipePath.class);
                if (mark == null || args[i] == null) continue;
                String key = sections.get(k).name() + "." + snake(cs[i].getName());
                if (args[i] instanceof List<?> l) {
                    List<String> resolved = new ArrayList<>(l.size());
                    for (Object item : l) resolved.add(use(access, key, (String) item, mark.value()));
                    args[i] = List.copyOf(resolved);
                } else {
                    args[i] = use(access, key, (String) args[i], mark.value());
                }
            }
            try {
                parts[k] = r.getClass().getDeclaredConstructor(types).newInstance(args);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
            }
        }
        return new Recipe(kind, seed, (Model) parts[0], (Data) parts[1], optimizer, schedule, batch, (Training) parts[2],
                (Distill) parts[3]);
    }

    private static String use(FileAccess access, String key, String value, RecipePath.Use use) {
        boolean write = use == RecipePath.Use.WRITE || (use == RecipePath.Use.CACHE && access.mayWrite(value));
        return (write ? access.write(key, value) : access.read(key, value)).toString();
    }

    private static Object component(RecordComponent c, Record r) {
        try {
            return c.getAccessor().invoke(r);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    static String snake(String camel) {
        return camel.replaceAll("([a-z0-9])([A-Z])", "$1_$2").toLowerCase(Locale.ROOT);
    }

    /** The model's architecture for {@link ModelConfig}: MLM head for pretraining, classifier for finetuning. */
    public ModelConfig modelConfig() {
        Variant variant = model.variant().equalsIgnoreCase("bert") ? Variant.BERT : Variant.MOSAIC_BERT;
        Head head;
        List<String> labels;
        String problem;
        if (kind == Kind.PRETRAIN) {
            head = Head.MLM;
            labels = List.of();
            problem = null;
        } else if (data.regression()) {
            head = Head.REGRESSION;
            labels = List.of("LABEL_0");
            problem = "regression";
        } else {
            head = Head.CLASSIFICATION;
            labels = Objects.requireNonNullElse(data.labels(), List.of());
            problem = "single_label_classification";
        }
        int positions = variant == Variant.BERT ? Math.max(512, model.maxSeqLen()) : model.maxSeqLen();
        return new ModelConfig(variant, head, model.vocab(), model.hidden(), model.layers(), model.heads(),
                model.intermediate(), model.typeVocab(), positions, 1e-12, 0, labels, problem, "gelu", model.classifierPooling());
    }

    /** The learning-rate schedule over {@code totalSteps} optimizer steps. */
    public LrSchedule lrSchedule(long totalSteps) {
        return new LrSchedule(optimizer.lr(), schedule.warmupFraction(), schedule.finalLrFraction(), totalSteps);
    }

    private static void positive(List<String> p, String name, Integer v) {
        if (v == null || v < 1) p.add(name + " must be > 0, got " + v);
    }

    private static void fraction(List<String> p, String name, Double v, boolean openAtOne) {
        if (v == null || !(v >= 0 && (openAtOne ? v < 1 : v <= 1))) {
            p.add(name + " must be in [0, 1" + (openAtOne ? ")" : "]") + ", got " + v);
        }
    }

    private static <T> T or(T v, T dflt) { return v != null ? v : dflt; }
}
