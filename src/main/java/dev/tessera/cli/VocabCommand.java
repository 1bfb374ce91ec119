package dev.tessera.cli;

import dev.tessera.tokenize.WordPieceTrainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

/** {@code vocab --corpus FILE... --output DIR --vocab-size N [--cased] [--scoring frequency|pair]}. */
@Command(name = "vocab", mixinStandardHelpOptions = true,
        description = "Train a WordPiece vocabulary (vocab.txt, tokenizer.json, tokenizer_config.json) from text files read as lines.")
public final class VocabCommand implements Callable<Integer> {

    @Spec CommandSpec spec;

    @Option(names = "--corpus", required = true, arity = "1..*", description = "Corpus files (one text per line).")
    List<Path> corpus;

    @Option(names = "--output", required = true, description = "Output tokenizer directory.")
    Path output;

    @Option(names = "--vocab-size", defaultValue = "30522", description = "Vocabulary size (rounded up to a multiple of 64).")
    int vocabSize;

    @Option(names = "--min-frequency", defaultValue = "2", description = "A pair must occur this often to be merged.")
    int minFrequency;

    @Option(names = "--cased", description = "Keep case and accents (default: uncased).")
    boolean cased;

    @Option(names = "--scoring", defaultValue = "frequency",
            description = "frequency (most frequent pair, as the HF tokenizers trainer) or pair (freq(ab)/(freq(a)·freq(b))).")
    String scoring;

    @Override
    public Integer call() {
        var err = spec.commandLine().getErr();
        WordPieceTrainer.Scoring sc = switch (scoring.toLowerCase(java.util.Locale.ROOT)) {
            case "frequency" -> WordPieceTrainer.Scoring.FREQUENCY;
            case "pair", "pair_score" -> WordPieceTrainer.Scoring.PAIR_SCORE;
            default -> null;
        };
        if (sc == null) {
            err.println("--scoring must be frequency or pair, got '" + scoring + "'");
            return 2;
        }
        for (Path p : corpus) {
            if (!Files.isRegularFile(p)) {
                err.println("corpus file not found: " + p);
                return 2;
            }
        }
        try {
            WordPieceTrainer.Options opts = WordPieceTrainer.Options.of(vocabSize).withMinFrequency(minFrequency)
                    .withLowercase(!cased).withScoring(sc);
            WordPieceTrainer trainer = new WordPieceTrainer(opts);
            long t0 = System.nanoTime();
            for (Path p : corpus) {
                try (Stream<String> lines = Files.lines(p, StandardCharsets.UTF_8)) {
                    trainer.addAll(lines);
                }
            }
            List<String> vocab = trainer.train();
            WordPieceTrainer.write(output, vocab, opts);
            spec.commandLine().getOut().printf("%d-token vocabulary from %,d distinct words in %.1f s -> %s%n", vocab.size(),
                    trainer.wordCounts().size(), (System.nanoTime() - t0) / 1e9, output);
            return 0;
        } catch (IllegalArgumentException e) {
            err.println("error: " + e.getMessage());
            return 2;
        } catch (IOException | UncheckedIOException e) {
            err.println("error: " + e.getMessage());
            return 1;
        }
    }
}
