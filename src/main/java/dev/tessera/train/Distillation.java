package dev.tessera.train;

import dev.tessera.data.Batch;
import dev.tessera.data.Columns;
import dev.tessera.data.FinetuneEncoder;
import dev.tessera.data.LabelledExample;
import dev.tessera.glue.Metrics;
import dev.tessera.hf.CheckpointFiles;
import dev.tessera.hf.CheckpointFormatException;
import dev.tessera.hf.HfCheckpoint;
import dev.tessera.hf.SafetensorsReader;
import dev.tessera.hf.SafetensorsWriter;
import dev.tessera.model.Head;
import dev.tessera.model.ModelConfig;
import dev.tessera.model.Tensor;
import dev.tessera.model.Variant;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntPredicate;
import java.util.stream.Stream;

/**
 * Knowledge distillation of a finetuning run (the recipe's {@code distill}): a teacher classifier's soft labels for every
 * training row, and the batches that carry them.
 *
 * <p>Before the first step the teacher ({@code distill.teacher}, a finetuned classification checkpoint) runs once over
 * every training row, labelled ({@code data.train}, after {@code data.train_examples}) and unlabelled
 * ({@code distill.unlabelled}), each text tokenized with the teacher's own tokenizer at the run's {@code max_seq_len}
 * (capped at a BERT teacher's learned positions). Its logits are written to {@value #FILE} in the output directory
 * (atomically) together with fingerprints of the teacher's files and of the rows' text; a resumed run whose fingerprints
 * match reads them instead of running the teacher again. Under data parallelism rank 0 alone computes or reads them and
 * sends them to the other ranks, so every rank trains on the same soft targets.
 *
 * <p>The teacher's labels must be the run's labels (by name, in any order: its outputs are permuted into the run's
 * order). A row's soft target is {@code softmax(teacher_logits / T)}; the loss (native, tessera.h) is
 * {@code (1 - alpha)·CE + alpha·T²·KL} for labelled rows and {@code alpha·T²·KL} for unlabelled ones, the mean over
 * all rows of a microbatch.
 */
final class Distillation {

    /** The teacher's logits in the output directory: tensor {@code logits} [rows, teacher labels], fingerprints as metadata. */
    static final String FILE = "teacher_logits.safetensors";

    private final float[] soft; // [rows, labels] in the run's label order
    private final int labels;
    private final float alpha, temperature;

    private Distillation(float[] soft, int labels, float alpha, float temperature) {
        this.soft = soft;
        this.labels = labels;
        this.alpha = alpha;
        this.temperature = temperature;
    }

    /**
     * The batches of a step with their rows' soft targets: {@code micro} packs the rows {@code rows} in that order
     * ({@link FinetuneEncoder#batches}), so batch k holds the next {@code numSequences()} of them.
     */
    List<Batch> attach(List<Batch> micro, int[] rows) {
        List<Batch> out = new ArrayList<>(micro.size());
        int at = 0;
        for (Batch b : micro) {
            int n = b.numSequences();
            float[] q = new float[n * labels];
            for (int s = 0; s < n; s++) System.arraycopy(soft, rows[at + s] * labels, q, s * labels, labels);
            out.add(b.withDistillation(new Batch.Distillation(q, alpha, temperature)));
            at += n;
        }
        if (at != rows.length) throw new IllegalStateException("batches hold " + at + " rows, the step " + rows.length);
        return out;
    }

    /**
     * The teacher's soft targets for the run's training rows, computed or read back (see the class comment), and a log
     * line with the rows it labelled and its accuracy on the labelled ones.
     *
     * @param labelNames the run's label names (id2label order)
     * @param keep       the labelled rows this run trains on ({@link FinetuneData#subset}), by index over all of data.train
     * @param gold       the run's class index of each training row (labelled rows first, then the unlabelled; -1 there)
     */
    static Distillation prepare(Recipe recipe, TrainingSetup run, List<String> labelNames, IntPredicate keep, int[] gold) {
        Recipe.Distill d = recipe.distill();
        Recipe.Data data = recipe.data();
        Path teacher = Path.of(d.teacher());
        if (!Files.isDirectory(teacher)) throw new IllegalArgumentException("distill.teacher: no checkpoint directory " + teacher);
        ModelConfig tc = HfCheckpoint.readConfig(teacher.resolve(CheckpointFiles.CONFIG));
        if (tc.head() != Head.CLASSIFICATION) {
            throw new IllegalArgumentException("distill.teacher: " + teacher + " is not a finetuned classification checkpoint (its head is "
                    + tc.head().name().toLowerCase(java.util.Locale.ROOT) + ")");
        }
        int[] teacherIndex = labelMap(tc.labels(), labelNames); // run's label i = teacher's output teacherIndex[i]
        int k = tc.numLabels(), rows = gold.length;
        int maxLen = recipe.model().maxSeqLen();
        if (tc.variant() == Variant.BERT) maxLen = Math.min(maxLen, tc.maxPositionEmbeddings());

        float[] logits = null;
        if (run.dp.isRoot()) {
            List<LabelledExample> texts = texts(data, d, keep);
            if (texts.size() != rows) throw new IllegalStateException("distillation: " + texts.size() + " texts for " + rows + " rows");
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("teacher", teacher.toString());
            meta.put("teacher_sha256", teacherFingerprint(teacher));
            meta.put("rows_sha256", rowsFingerprint(texts));
            meta.put("rows", Integer.toString(rows));
            meta.put("labels", String.join(",", tc.labels()));
            meta.put("max_seq_len", Integer.toString(maxLen));
            Path file = run.checkpointer.root().resolve(FILE);
            logits = readBack(file, meta, rows, k, run.log);
            if (logits == null) {
                run.log.info(String.format("distillation: the teacher %s labels %,d training rows (once; kept in %s)", teacher, rows, FILE));
                long t0 = System.nanoTime();
                try (CheckpointEvaluator ev = CheckpointEvaluator.open(teacher, run.options.threads())) {
                    List<FinetuneEncoder.Encoded> enc = ev.encoder(maxLen).encodeAll(texts, null, null);
                    logits = ev.logits(enc, Math.max(recipe.batch().microbatchTokens(), maxLen), 128);
                }
                SafetensorsWriter.write(file, Map.of("logits", new Tensor(new int[] {rows, k}, logits)), meta);
                run.log.info(String.format("distillation: teacher logits of %,d rows in %.1f s -> %s", rows,
                        (System.nanoTime() - t0) / 1e9, file));
            }
        }
        if (run.dp.distributed()) { // rank 0's logits to every rank (after a barrier: the teacher pass may be long)
            run.dp.waitForRoot();
            double[] buf = new double[rows * k];
            if (run.dp.isRoot()) for (int i = 0; i < buf.length; i++) buf[i] = logits[i];
            run.dp.fromRoot(buf);
            logits = new float[buf.length];
            for (int i = 0; i < buf.length; i++) logits[i] = (float) buf[i];
        }

        int L = labelNames.size();
        float[] mapped = new float[rows * L];
        for (int r = 0; r < rows; r++) for (int i = 0; i < L; i++) mapped[r * L + i] = logits[r * k + teacherIndex[i]];
        int[] pred = Metrics.argmax(mapped, L);
        int labelled = 0, right = 0;
        for (int r = 0; r < rows; r++) {
            if (gold[r] < 0) continue;
            labelled++;
            if (pred[r] == gold[r]) right++;
        }
        double accuracy = labelled == 0 ? Double.NaN : (double) right / labelled;
        run.log.info(String.format("distillation: %,d rows labelled by the teacher (%,d with a label, %,d unlabelled); "
                        + "teacher accuracy on the labelled rows %s; alpha %s, temperature %s", rows, labelled, rows - labelled,
                labelled == 0 ? "n/a" : String.format("%.4f", accuracy), d.alpha(), d.temperature()));
        return new Distillation(softTargets(mapped, L, d.temperature()), L, d.alpha().floatValue(), d.temperature().floatValue());
    }

    /** softmax(logits / T) per row, in double, rounded to float. */
    static float[] softTargets(float[] logits, int labels, double temperature) {
        float[] q = new float[logits.length];
        double[] z = new double[labels];
        for (int r = 0; r < logits.length / labels; r++) {
            double mx = Double.NEGATIVE_INFINITY, sum = 0;
            for (int j = 0; j < labels; j++) mx = Math.max(mx, z[j] = logits[r * labels + j] / temperature);
            for (int j = 0; j < labels; j++) sum += z[j] = Math.exp(z[j] - mx);
            for (int j = 0; j < labels; j++) q[r * labels + j] = (float) (z[j] / sum);
        }
        return q;
    }

    /** For each of the run's labels, the teacher's output of the same name; the two label sets must be equal. */
    static int[] labelMap(List<String> teacher, List<String> run) {
        if (teacher.size() != run.size() || !new java.util.HashSet<>(teacher).equals(new java.util.HashSet<>(run))) {
            throw new IllegalArgumentException("distill.teacher: the teacher's labels " + teacher + " are not this run's labels " + run);
        }
        int[] map = new int[run.size()];
        for (int i = 0; i < map.length; i++) map[i] = teacher.indexOf(run.get(i));
        return map;
    }

    /** The texts of the training rows, in the order the run encodes them: the kept rows of data.train, then distill.unlabelled. */
    private static List<LabelledExample> texts(Recipe.Data data, Recipe.Distill d, IntPredicate keep) {
        Columns cols = data.columns().toColumns();
        List<LabelledExample> all = FinetuneData.read(data.train(), data.format(), cols), out = new ArrayList<>();
        for (int i = 0; i < all.size(); i++) if (keep.test(i)) out.add(all.get(i));
        out.addAll(FinetuneData.read(d.unlabelled(), data.format(), textColumns(cols)));
        return out;
    }

    /** The recipe's columns without the label: an unlabelled file's label column, if any, is not read. */
    static Columns textColumns(Columns cols) {
        return new Columns(cols.text(), cols.textB(), null);
    }

    /** What a metadata key that differs says about the file. */
    private static final Map<String, String> MISMATCH = Map.of("teacher_sha256", "another teacher", "rows_sha256",
            "other training rows", "rows", "another number of rows", "labels", "other labels", "max_seq_len", "another max_seq_len");

    /** The logits of {@code file} when its fingerprints are {@code meta}'s; null (with a log line why) otherwise. */
    private static float[] readBack(Path file, Map<String, String> meta, int rows, int k, TrainingListener log) {
        if (!Files.isRegularFile(file)) return null;
        try {
            Map<String, String> got = SafetensorsReader.metadata(file);
            for (var e : meta.entrySet()) {
                if (e.getKey().equals("teacher")) continue; // the same files under another path are the same teacher
                if (!e.getValue().equals(got.get(e.getKey()))) {
                    log.info("distillation: " + FILE + " was made for " + MISMATCH.getOrDefault(e.getKey(), e.getKey())
                            + "; computing it again");
                    return null;
                }
            }
            Tensor t = SafetensorsReader.read(file).get("logits");
            if (t == null || t.data().length != rows * k) {
                log.info("distillation: " + FILE + " holds no logits of " + rows + " x " + k + "; computing it again");
                return null;
            }
            log.info(String.format("distillation: teacher logits of %,d rows read back from %s", rows, file));
            return t.data();
        } catch (CheckpointFormatException e) {
            log.info("distillation: " + FILE + " is unreadable (" + e.getMessage() + "); computing it again");
            return null;
        }
    }

    /** SHA-256 over the teacher's configuration, vocabulary and weight files (names and contents, sorted by name). */
    static String teacherFingerprint(Path dir) {
        MessageDigest md = sha256();
        try (Stream<Path> files = Files.list(dir)) {
            List<Path> chosen = files.filter(Files::isRegularFile).filter(p -> {
                String n = p.getFileName().toString();
                return !n.equals(Checkpointer.OPTIMIZER) && (n.equals(CheckpointFiles.CONFIG) || n.equals(CheckpointFiles.VOCAB)
                        || n.equals(CheckpointFiles.TOKENIZER_JSON) || n.endsWith(".safetensors") || n.endsWith(".bin")
                        || n.endsWith(".index.json"));
            }).sorted().toList();
            byte[] buf = new byte[1 << 16];
            for (Path p : chosen) {
                md.update(p.getFileName().toString().getBytes(StandardCharsets.UTF_8));
                md.update((byte) 0);
                try (InputStream in = Files.newInputStream(p)) {
                    for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("distill.teacher: cannot read " + dir + ": " + e.getMessage(), e);
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /** SHA-256 over the rows' texts (text and second text of each, in order). */
    static String rowsFingerprint(List<LabelledExample> rows) {
        MessageDigest md = sha256();
        for (LabelledExample e : rows) {
            md.update(e.text().getBytes(StandardCharsets.UTF_8));
            md.update((byte) 0);
            if (e.textB() != null) md.update(e.textB().getBytes(StandardCharsets.UTF_8));
            md.update((byte) 1);
        }
        return HexFormat.of().formatHex(md.digest());
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
