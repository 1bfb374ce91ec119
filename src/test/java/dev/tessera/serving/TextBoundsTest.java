package dev.tessera.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.tokenize.TextTokenizer;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The word-run bound against the real tokenizer of a served fixture: never more than the tokens, and a cut keeps them. */
class TextBoundsTest {

    @Test
    void theBoundNeverExceedsTheTokensAndACutPrefixKeepsTheFirstTokens() {
        try (TextTokenizer tok = TextTokenizer.load(Path.of("src/test/resources/fixtures/mosaic-cls12"))) {
            String text = "  A wonderful, moving film!  It's 10/10 \u00e9t\u00e9 --- \u0000\u0001 ... and the end.\tReally: 42x ";
            long[] all = tok.encode(text).ids();
            int words = TextBounds.minTokens(text, Integer.MAX_VALUE);
            assertTrue(words <= all.length - 2, words + " words, " + (all.length - 2) + " tokens");
            assertEquals(3, TextBounds.minTokens(text, 3), "counting stops at the cap");
            for (int runs = 1; runs <= words; runs++) {
                String prefix = TextBounds.prefixWithRuns(text, runs);
                long[] cut = tok.encode(prefix).ids();
                int keep = runs; // the prefix holds at least this many tokens, and they are the whole text's
                assertTrue(cut.length - 2 >= keep, prefix);
                assertEquals(Arrays.toString(Arrays.copyOfRange(all, 1, 1 + keep)), Arrays.toString(Arrays.copyOfRange(cut, 1, 1 + keep)), prefix);
            }
            assertEquals(text, TextBounds.prefixWithRuns(text, words + 1));
        }
    }
}
