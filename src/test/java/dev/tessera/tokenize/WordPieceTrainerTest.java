package dev.tessera.tokenize;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

class WordPieceTrainerTest {

    static final Path CORPUS = Path.of("src/test/resources/corpus/small.txt");
    /** Written by src/test/python/wordpiece_reference.py (naive recomputation, run by hand): size 450 → 512. */
    static final Path EXPECTED_VOCAB = Path.of("src/test/resources/corpus/small-vocab-512.txt");

    @BeforeAll
    static void offline() {
        System.setProperty("ai.djl.offline", "true");
    }

    static List<String> trainSmall() throws IOException {
        try (Stream<String> lines = Files.lines(CORPUS, StandardCharsets.UTF_8)) {
            // the reference script implements the pair score
            return WordPieceTrainer.train(lines, WordPieceTrainer.Options.of(450).withScoring(WordPieceTrainer.Scoring.PAIR_SCORE));
        }
    }

    @Test
    void vocabularyMatchesNaiveReference() throws IOException {
        List<String> vocab = trainSmall();
        assertEquals(512, vocab.size(), "450 rounds up to 512");
        assertEquals(0, vocab.size() % 64);
        assertEquals(List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"), vocab.subList(0, 5));
        // The corpus runs out of pairs with count >= 2 before 512: the rest is [unusedN].
        assertEquals("[unused0]", vocab.get(422));
        assertEquals("[unused89]", vocab.get(511));
        List<String> expected = Files.readAllLines(EXPECTED_VOCAB, StandardCharsets.UTF_8);
        assertEquals(expected, vocab, "incremental merges must equal the naive reference, merge for merge");
    }

    @Test
    void writesFilesThatDjlLoadsAndTokenizesAsExpected(@TempDir Path dir) throws IOException {
        List<String> vocab = trainSmall();
        WordPieceTrainer.write(dir, vocab, WordPieceTrainer.Options.of(450).withScoring(WordPieceTrainer.Scoring.PAIR_SCORE));
        assertEquals(vocab, Files.readAllLines(dir.resolve("vocab.txt")));
        JsonNode cfg = new ObjectMapper().readTree(dir.resolve("tokenizer_config.json").toFile());
        assertTrue(cfg.get("do_lower_case").asBoolean());
        assertEquals(512, cfg.get("model_max_length").asInt());
        assertEquals("[MASK]", cfg.get("mask_token").asText());

        try (HuggingFaceTokenizer tok = HuggingFaceTokenizer.newInstance(dir.resolve("tokenizer.json"))) {
            Encoding e = tok.encode("The baker sells bread near the BRIDGES, Café Zoë! 日");
            // Hand check against small-vocab-512.txt (greedy longest match):
            //  the, baker, sells, bread, bridge, cafe: frequent words, each one token;
            //  "near" only occurs once in the corpus: n ##ear; "bridges": bridge ##s;
            //  "Zoë" → zoe (accent stripped) is rare: z ##o ##e; 日 never occurs → [UNK].
            assertEquals(List.of("[CLS]", "the", "baker", "sells", "bread", "n", "##ear", "the", "bridge", "##s", ",",
                    "cafe", "z", "##o", "##e", "!", "[UNK]", "[SEP]"), List.of(e.getTokens()));
            long[] ids = e.getIds();
            assertEquals(2, ids[0]);
            assertEquals(3, ids[ids.length - 1]);
            assertEquals(vocab.indexOf("baker"), ids[2]);
            assertEquals(1, ids[16]);

            Encoding pair = tok.encode("the train", "the bread");
            assertEquals(List.of("[CLS]", "the", "train", "[SEP]", "the", "bread", "[SEP]"), List.of(pair.getTokens()));
            assertArrayEquals(new long[] {0, 0, 0, 0, 1, 1, 1}, pair.getTypeIds());
        }
    }

    @Test
    void frequencyScoringMergesTheMostFrequentPair() {
        // Words: "the" ×3, "then" ×1. Alphabet e h n t (ids 5..8), ##e ##h ##n ##t (9..12).
        // Pair counts: t ##h = 4, ##h ##e = 4, ##e ##n = 1. The tie between the first two goes to the smaller
        // (id a, id b): (t=8, ##h=10) < (##h=10, ##e=9) → "th"; then th ##e = 4 → "the"; then the ##n = 1 → "then".
        List<String> vocab = WordPieceTrainer.train(Stream.of("the the", "then the"),
                WordPieceTrainer.Options.of(64).withMinFrequency(1).withScoring(WordPieceTrainer.Scoring.FREQUENCY));
        assertEquals(List.of("e", "h", "n", "t", "##e", "##h", "##n", "##t", "th", "the", "then", "[unused0]"), vocab.subList(5, 17));
        assertEquals("[unused47]", vocab.get(63));
        // With min frequency 2 the last merge (count 1) is not made.
        List<String> vocab2 = WordPieceTrainer.train(Stream.of("the the", "then the"),
                WordPieceTrainer.Options.of(64).withScoring(WordPieceTrainer.Scoring.FREQUENCY));
        assertEquals("[unused0]", vocab2.get(15));
    }

    @Test
    void frequencyIsTheDefaultScoring() {
        assertEquals(WordPieceTrainer.Scoring.FREQUENCY, WordPieceTrainer.Options.of(64).scoring());
        // same merges as asking for FREQUENCY explicitly (see frequencyScoringMergesTheMostFrequentPair)
        List<String> vocab = WordPieceTrainer.train(Stream.of("the the", "then the"), WordPieceTrainer.Options.of(64).withMinFrequency(1));
        assertEquals(List.of("th", "the", "then"), vocab.subList(13, 16));
    }

    @Test
    void casedOptionKeepsCase() {
        List<String> vocab = WordPieceTrainer.train(Stream.of("Paris paris Paris paris"),
                WordPieceTrainer.Options.of(64).withLowercase(false));
        assertTrue(vocab.contains("P"));
        assertTrue(vocab.contains("p"));
        assertEquals(64, vocab.size());
    }

    @Test
    void emptyCorpusIsAClearError() {
        IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
                () -> WordPieceTrainer.train(Stream.of("", "   "), WordPieceTrainer.Options.of(64)));
        assertTrue(ex.getMessage().contains("no words"), ex.getMessage());
    }

    @Test
    void splitterFollowsBert() {
        BertBasicSplitter s = new BertBasicSplitter(true);
        assertEquals(List.of("hello", ",", "naive", "world", "!", "日", "本"), s.split("Héllo,\tNaïve  WORLD!日本"));
        assertEquals(List.of("Héllo", ","), new BertBasicSplitter(false).split("Héllo,"));
    }
}
