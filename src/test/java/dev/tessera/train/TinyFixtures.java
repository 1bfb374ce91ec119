package dev.tessera.train;

import dev.tessera.tokenize.WordPieceTrainer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Small generated corpora, vocabularies and recipes for the training tests (a few KB each). */
public final class TinyFixtures {
    private TinyFixtures() {}

    static final String[] SUBJECTS = {"the cat", "a dog", "the bird", "my friend", "the teacher", "a child", "the farmer", "our neighbour"};
    static final String[] VERBS = {"sees", "likes", "finds", "watches", "follows", "feeds", "paints", "carries"};
    static final String[] OBJECTS = {"the ball", "a red apple", "the old house", "a small boat", "the green tree", "a warm coat", "the blue river", "a long road"};
    static final String[] GOOD = {"wonderful", "great", "lovely", "excellent", "delightful", "superb"};
    static final String[] BAD = {"terrible", "awful", "boring", "dreadful", "horrible", "poor"};

    /** Sentences from a tiny grammar: predictable enough that MLM loss falls within a few dozen steps. */
    public static List<String> sentences(int n, long seed) {
        Random r = new Random(seed);
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(SUBJECTS[r.nextInt(SUBJECTS.length)] + " " + VERBS[r.nextInt(VERBS.length)] + " "
                    + OBJECTS[r.nextInt(OBJECTS.length)] + " and then " + VERBS[r.nextInt(VERBS.length)] + " "
                    + OBJECTS[r.nextInt(OBJECTS.length)] + " .");
        }
        return out;
    }

    /** Review-like lines with a sentiment word deciding the label: label 1 ("pos") or 0 ("neg"). */
    public static List<String[]> reviews(int n, long seed) {
        Random r = new Random(seed);
        List<String[]> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            boolean pos = r.nextBoolean();
            String w = pos ? GOOD[r.nextInt(GOOD.length)] : BAD[r.nextInt(BAD.length)];
            String text = SUBJECTS[r.nextInt(SUBJECTS.length)] + " " + VERBS[r.nextInt(VERBS.length)] + " "
                    + OBJECTS[r.nextInt(OBJECTS.length)] + " , it was " + w + " .";
            out.add(new String[] {text, pos ? "pos" : "neg"});
        }
        return out;
    }

    /** Writes corpus.txt, corpus-dev.txt, train.tsv, dev.tsv and a trained vocabulary (tok/) into dir. */
    public static void write(Path dir) throws IOException {
        Files.createDirectories(dir);
        List<String> train = sentences(400, 1), dev = sentences(60, 2);
        Files.write(dir.resolve("corpus.txt"), train);
        Files.write(dir.resolve("corpus-dev.txt"), dev);
        List<String> all = new ArrayList<>(train);
        for (String[] rv : reviews(300, 3)) all.add(rv[0]);
        WordPieceTrainer.Options opts = WordPieceTrainer.Options.of(256).withScoring(WordPieceTrainer.Scoring.FREQUENCY);
        WordPieceTrainer.write(dir.resolve("tok"), WordPieceTrainer.train(all.stream(), opts), opts);
        writeTsv(dir.resolve("train.tsv"), reviews(160, 4));
        writeTsv(dir.resolve("dev.tsv"), reviews(60, 5));
    }

    static void writeTsv(Path file, List<String[]> rows) throws IOException {
        List<String> lines = new ArrayList<>();
        lines.add("sentence\tlabel");
        for (String[] r : rows) lines.add(r[0] + "\t" + r[1]);
        Files.write(file, lines);
    }

    /** A tiny pretraining recipe over the files of {@link #write}: hidden 32, 2 layers, 4 heads. */
    public static String pretrainYaml(Path dir, long maxSteps, int checkpointInterval) {
        return """
                kind: pretrain
                seed: 7
                model: {variant: mosaic_bert, hidden: 32, layers: 2, heads: 4, intermediate: 64, vocab: 256, max_seq_len: 32, dropout: 0.1}
                data:
                  train: [%1$s/corpus.txt]
                  eval: [%1$s/corpus-dev.txt]
                  format: lines
                  tokenizer: %1$s/tok
                  shard_dir: %1$s/shards
                optimizer: {lr: 5.0e-3}
                batch: {global_batch: 16, microbatch_tokens: 160}
                training: {max_steps: %2$d, eval_interval: 10, checkpoint_interval: %3$d, log_interval: 5, output_dir: %1$s/out, eval_batches: 4}
                """.formatted(dir.toAbsolutePath(), maxSteps, checkpointInterval);
    }

    /** A finetuning recipe on train.tsv/dev.tsv starting from {@code initFrom}. */
    public static String finetuneYaml(Path dir, Path initFrom, int epochs, Path output) {
        return """
                kind: finetune
                seed: 7
                model: {init_from: %2$s, max_seq_len: 32, dropout: 0.0}
                data:
                  train: [%1$s/train.tsv]
                  eval: [%1$s/dev.tsv]
                  task: custom
                  columns: {text: sentence, label: label}
                  labels: [neg, pos]
                optimizer: {lr: 5.0e-3}
                batch: {global_batch: 16, microbatch_tokens: 256}
                training: {epochs: %3$d, eval_interval: 1000, checkpoint_interval: 5, log_interval: 5, output_dir: %4$s}
                """.formatted(dir.toAbsolutePath(), initFrom.toAbsolutePath(), epochs, output.toAbsolutePath());
    }
}
