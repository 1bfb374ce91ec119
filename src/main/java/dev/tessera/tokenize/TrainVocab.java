package dev.tessera.tokenize;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * Command-line entry: {@code TrainVocab CORPUS... --out DIR [--vocab-size N] [--min-frequency N] [--cased] [--scoring pair_score|frequency]}.
 * Each corpus file is read as lines. The CLI module may wrap this; it is kept here so the trainer can be
 * run on its own ({@code java -cp target/classes:... dev.tessera.tokenize.TrainVocab ...}).
 */
public final class TrainVocab {

    public static void main(String[] args) throws IOException {
        List<Path> corpora = new java.util.ArrayList<>();
        Path out = null;
        int size = 8192, minFreq = 2;
        boolean lowercase = true;
        WordPieceTrainer.Scoring scoring = WordPieceTrainer.Scoring.FREQUENCY;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--out" -> out = Path.of(args[++i]);
                case "--vocab-size" -> size = Integer.parseInt(args[++i]);
                case "--min-frequency" -> minFreq = Integer.parseInt(args[++i]);
                case "--cased" -> lowercase = false;
                case "--scoring" -> scoring = WordPieceTrainer.Scoring.valueOf(args[++i].toUpperCase(java.util.Locale.ROOT));
                default -> corpora.add(Path.of(args[i]));
            }
        }
        if (out == null || corpora.isEmpty()) {
            System.err.println("usage: TrainVocab CORPUS... --out DIR [--vocab-size N] [--min-frequency N] [--cased] [--scoring pair_score|frequency]");
            System.exit(2);
        }
        WordPieceTrainer.Options options = new WordPieceTrainer.Options(size, minFreq, lowercase, 1000, 512, scoring);
        WordPieceTrainer trainer = new WordPieceTrainer(options);
        long t0 = System.nanoTime();
        for (Path p : corpora) {
            try (Stream<String> lines = Files.lines(p, StandardCharsets.UTF_8)) {
                trainer.addAll(lines);
            }
        }
        long t1 = System.nanoTime();
        List<String> vocab = trainer.train();
        long t2 = System.nanoTime();
        WordPieceTrainer.write(out, vocab, options);
        System.out.printf("%d distinct words counted in %.1f s; %d-token vocabulary trained in %.1f s; written to %s%n",
                trainer.wordCounts().size(), (t1 - t0) / 1e9, vocab.size(), (t2 - t1) / 1e9, out);
    }
}
