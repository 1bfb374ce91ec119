package dev.tessera.tokenize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tessera.hf.Fixtures;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TextTokenizerTest {
    static TextTokenizer tok;

    @BeforeAll
    static void load() { tok = TextTokenizer.load(Fixtures.dir("mosaic-cls12")); }

    @AfterAll
    static void close() { tok.close(); }

    private static long[] longs(JsonNode n) {
        long[] out = new long[n.size()];
        for (int i = 0; i < out.length; i++) out[i] = n.get(i).asLong();
        return out;
    }

    /** The synthesised tokenizer (vocab.txt + tokenizer_config.json) agrees with the script's own WordPiece. */
    @Test
    void matchesThePythonReferenceOnEveryFixture() {
        for (String f : List.of("mosaic-cls12", "mosaic-reg-bin", "mosaic-mlm-sharded-bf16", "bert-cls-f16", "bert-mlm-bin")) {
            try (TextTokenizer t = TextTokenizer.load(Fixtures.dir(f))) {
                for (JsonNode c : Fixtures.expected(f).get("tokenization")) {
                    Encoding e = c.has("text_pair") ? t.encode(c.get("text").asText(), c.get("text_pair").asText())
                            : t.encode(c.get("text").asText());
                    assertArrayEquals(longs(c.get("input_ids")), e.ids(), f + ": " + c.get("text"));
                    assertArrayEquals(longs(c.get("token_type_ids")), e.typeIds(), f + ": " + c.get("text"));
                }
            }
        }
    }

    @Test
    void modelCaseInputsAreWhatTheTokenizerProduces() {
        // the MLM cases contain [MASK] typed in the text: it must stay one special token
        Encoding e = TextTokenizer.load(Fixtures.dir("mosaic-mlm-sharded-bf16")).encode("The movie was [MASK].");
        long[] row = longs(Fixtures.expected("mosaic-mlm-sharded-bf16").get("cases").get(0).get("input_ids").get(0));
        assertArrayEquals(java.util.Arrays.copyOf(row, e.length()), e.ids());
        assertEquals("[MASK]", e.tokens()[4]);
    }

    @Test
    void pairTypeIdsAndStructure() {
        Encoding e = tok.encode("A man is playing music.", "A woman plays a song.");
        assertTrue(e.isPair());
        assertEquals("[CLS]", e.tokens()[0]);
        int firstSep = List.of(e.tokens()).indexOf("[SEP]");
        for (int i = 0; i < e.length(); i++) assertEquals(i <= firstSep ? 0 : 1, e.typeIds()[i], "type id at " + i);
        assertEquals("[SEP]", e.tokens()[e.length() - 1]);
        assertEquals(7, e.count(0)); // a man is play ##ing music .
        assertEquals(7, e.count(1)); // a woman play ##s a song .
        assertEquals(e.length() - 3, e.count(0) + e.count(1));
        // offsets point into the original text
        assertEquals("playing".substring(0, 4), "A man is playing music.".substring(e.start()[4], e.end()[4]));
    }

    @Test
    void noTruncationByDefault() {
        String text = "great ".repeat(700);
        Encoding e = tok.encode(text);
        assertEquals(702, e.length());
        assertFalse(e.isPair());
    }

    @Test
    void truncateSingleKeepsClsAndSep() {
        Encoding e = TextTokenizer.truncate(tok.encode("great ".repeat(20)), 8);
        assertEquals(8, e.length());
        assertEquals("[CLS]", e.tokens()[0]);
        assertEquals("[SEP]", e.tokens()[7]);
        assertEquals(6, e.count(0));
        assertThrows(IllegalArgumentException.class, () -> TextTokenizer.truncate(tok.encode("great great great"), 1));
    }

    @Test
    void truncatePairLongestFirst() {
        // 10 + 3 content tokens, budget 12 - 3 specials = 9: the short text is kept whole, the long one gets 6
        Encoding e = TextTokenizer.truncate(tok.encode("good ".repeat(10), "bad bad bad"), 12);
        assertEquals(12, e.length());
        assertEquals(6, e.count(0));
        assertEquals(3, e.count(1));
        assertEquals(List.of("[CLS]", "good", "good", "good", "good", "good", "good", "[SEP]", "bad", "bad", "bad", "[SEP]"),
                List.of(e.tokens()));
        assertArrayEquals(new long[] {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1}, e.typeIds());
        // both long: budget 9 splits 4 / 5, the longer text gets the odd token
        Encoding f = TextTokenizer.truncate(tok.encode("good ".repeat(10), "bad ".repeat(12)), 12);
        assertEquals(4, f.count(0));
        assertEquals(5, f.count(1));
        Encoding g = TextTokenizer.truncate(tok.encode("good ".repeat(12), "bad ".repeat(10)), 12);
        assertEquals(5, g.count(0));
        assertEquals(4, g.count(1));
        // short enough: unchanged
        Encoding h = tok.encode("good", "bad");
        assertEquals(h, TextTokenizer.truncate(h, 5));
    }

    @Test
    void vocabulary() throws IOException {
        List<String> lines = Files.readAllLines(Fixtures.dir("mosaic-cls12").resolve("vocab.txt"));
        assertEquals(lines.size(), tok.vocabSize());
        for (int i = 0; i < lines.size(); i++) assertEquals(lines.get(i), tok.idToToken(i));
        assertThrows(IllegalArgumentException.class, () -> tok.idToToken(lines.size()));
    }

    @Test
    void casedVocabularyKeepsCase(@TempDir Path tmp) throws IOException {
        Files.writeString(tmp.resolve("vocab.txt"), "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nHello\nhello\n");
        Files.writeString(tmp.resolve("tokenizer_config.json"), "{\"do_lower_case\": false}");
        try (TextTokenizer t = TextTokenizer.load(tmp)) {
            assertArrayEquals(new long[] {2, 5, 6, 1, 3}, t.encode("Hello hello HELLO").ids());
        }
    }

    @Test
    void tokenizerJsonIsPreferred(@TempDir Path tmp) throws IOException {
        Files.writeString(tmp.resolve("vocab.txt"), "[PAD]\n[UNK]\n[CLS]\n[SEP]\nzzz\n");
        String json = BertTokenizerJson.synthesise(Fixtures.dir("mosaic-cls12").resolve("vocab.txt"),
                Fixtures.dir("mosaic-cls12").resolve("tokenizer_config.json"));
        Files.writeString(tmp.resolve("tokenizer.json"), json);
        try (TextTokenizer t = TextTokenizer.load(tmp)) {
            assertEquals(tok.vocabSize(), t.vocabSize());
        }
    }

    @Test
    void missingTokenizer(@TempDir Path tmp) {
        var e = assertThrows(IllegalArgumentException.class, () -> TextTokenizer.load(tmp));
        assertTrue(e.getMessage().contains("expected tokenizer.json or vocab.txt"), e.getMessage());
    }

    @Test
    void vocabWithoutSpecialTokens(@TempDir Path tmp) throws IOException {
        Files.writeString(tmp.resolve("vocab.txt"), "a\nb\n");
        var e = assertThrows(IllegalArgumentException.class, () -> TextTokenizer.load(tmp));
        assertTrue(e.getMessage().contains("lacks the special token [UNK]"), e.getMessage());
    }
}
