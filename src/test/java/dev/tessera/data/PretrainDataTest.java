package dev.tessera.data;

import dev.tessera.io.AtomicFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

class PretrainDataTest {

    /** A toy tokenizer: "w1 w2 w3" → [10+len(w1), 10+len(w2), ...]. */
    static final Function<String, int[]> TOY = s -> Arrays.stream(s.split(" ")).mapToInt(w -> 10 + w.length()).toArray();

    @Test
    void shardRoundTripNarrowAndWide(@TempDir Path dir) throws Exception {
        List<int[]> docs = List.of(new int[] {5, 65535, 0}, new int[] {}, new int[] {7});
        TokenShard.write(dir.resolve("a.tshd"), docs);
        assertEquals(24 + 8 * 4 + 4 * 2, Files.size(dir.resolve("a.tshd")), "uint16 tokens when all ids < 65536");
        try (TokenShard s = TokenShard.open(dir.resolve("a.tshd"))) {
            assertEquals(3, s.numDocs());
            assertEquals(4, s.numTokens());
            assertArrayEquals(new int[] {5, 65535, 0}, s.doc(0));
            assertArrayEquals(new int[] {}, s.doc(1));
            assertArrayEquals(new int[] {7}, s.doc(2));
            assertArrayEquals(new int[] {65535}, s.tokens(0, 1, 1));
        }
        TokenShard.write(dir.resolve("b.tshd"), List.of(new int[] {70000, 1}));
        assertEquals(24 + 8 * 2 + 2 * 4, Files.size(dir.resolve("b.tshd")), "int32 tokens past 65535");
        try (TokenShard s = TokenShard.open(dir.resolve("b.tshd"))) {
            assertArrayEquals(new int[] {70000, 1}, s.doc(0));
        }
        Files.write(dir.resolve("c.tshd"), Arrays.copyOf(Files.readAllBytes(dir.resolve("b.tshd")), 30));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TokenShard.open(dir.resolve("c.tshd")));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void shardSetIsBuiltOnceAndReused(@TempDir Path dir) {
        List<String> corpus = IntStream.range(0, 25).mapToObj(i -> "a".repeat(i + 1) + " bb").toList();
        AtomicInteger calls = new AtomicInteger();
        Function<String, int[]> counting = s -> { calls.incrementAndGet(); return TOY.apply(s); };
        try (ShardSet set = ShardSet.openOrBuild(dir, "toy-v1", corpus::stream, counting, 10, 2)) {
            assertEquals(3, set.shards().size());
            assertEquals(25, set.numDocs());
            assertEquals(50, set.numTokens());
            assertArrayEquals(new int[] {10 + 13, 12}, set.doc(12)); // in corpus order across shards
        }
        assertEquals(25, calls.get());
        try (ShardSet again = ShardSet.openOrBuild(dir, "toy-v1", corpus::stream, counting, 10, 2)) {
            assertEquals(25, again.numDocs());
        }
        assertEquals(25, calls.get(), "a complete shard set with the same fingerprint is not re-tokenized");
        try (ShardSet other = ShardSet.openOrBuild(dir, "toy-v2", corpus::stream, counting, 10, 2)) {
            assertEquals(25, other.numDocs());
        }
        assertEquals(50, calls.get(), "another fingerprint rebuilds");
    }

    @Test
    void emptyCorpusIsAnError(@TempDir Path dir) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ShardSet.build(Stream.of(), TOY, dir, "x", 10, 1));
        assertTrue(e.getMessage().contains("no documents"), e.getMessage());
    }

    @Test
    void orderIsAPureFunctionOfSeedAndEpoch() {
        int[] a = DataOrder.permutation(42, 3, 1000);
        assertArrayEquals(a, DataOrder.permutation(42, 3, 1000));
        assertFalse(Arrays.equals(a, DataOrder.permutation(42, 4, 1000)));
        assertFalse(Arrays.equals(a, DataOrder.permutation(43, 3, 1000)));
        assertArrayEquals(IntStream.range(0, 1000).toArray(), Arrays.stream(a).sorted().toArray());
    }

    /** 3 docs of 300, 5 and 126 tokens (ids 10..). */
    static ShardSet threeDocs(Path dir) {
        List<int[]> docs = List.of(IntStream.range(0, 300).map(i -> 10 + i % 50).toArray(),
                new int[] {11, 12, 13, 14, 15}, IntStream.range(0, 126).map(i -> 20).toArray());
        TokenShard.write(dir.resolve("shard-00000.tshd"), docs);
        AtomicFiles.writeString(dir.resolve(ShardSet.MANIFEST),
                "{\"version\":1,\"fingerprint\":\"t\",\"shards\":[{\"file\":\"shard-00000.tshd\"}]}");
        return ShardSet.open(dir);
    }

    @Test
    void documentsAreChunkedAndWrapped(@TempDir Path dir) {
        try (ShardSet set = threeDocs(dir)) {
            PretrainLoader l = new PretrainLoader(set, 128, SpecialTokens.TESSERA, 7, DataPosition.START);
            // 300 = 126 + 126 + 48 → 3 sequences; 5 → 1; 126 → 1.
            assertEquals(5, l.numSequences());
            int[] s0 = l.sequence(0);
            assertEquals(128, s0.length);
            assertEquals(2, s0[0]);
            assertEquals(3, s0[127]);
            assertEquals(10, s0[1]);
            assertEquals(50, l.sequence(2).length);
            assertArrayEquals(new int[] {2, 11, 12, 13, 14, 15, 3}, l.sequence(3));
            assertEquals(128, l.sequence(4).length);
        }
    }

    @Test
    void batchesRespectBudgetAndResumeReproducesTheStream(@TempDir Path dir) {
        try (ShardSet set = threeDocs(dir)) {
            PretrainLoader l = new PretrainLoader(set, 128, SpecialTokens.TESSERA, 7, DataPosition.START);
            List<Batch> first = new ArrayList<>();
            DataPosition saved = null;
            List<Batch> after = new ArrayList<>();
            for (int step = 0; step < 8; step++) {
                List<Batch> g = l.nextGlobalBatch(3, 200);
                assertEquals(3, g.stream().mapToInt(Batch::numSequences).sum(), "exactly the global batch");
                for (Batch b : g) {
                    assertTrue(b.numTokens() <= 200);
                    assertEquals(b.numTokens(), b.cuSeqlens()[b.numSequences()]);
                    assertTrue(b.maxSeqlen() <= 128);
                }
                if (step < 3) first.addAll(g);
                if (step == 2) saved = l.position();
                if (step >= 3) after.addAll(g);
            }
            assertEquals(new DataPosition(1, 4), saved, "9 sequences: epoch 0 (5) + 4 of epoch 1");
            PretrainLoader resumed = new PretrainLoader(set, 128, SpecialTokens.TESSERA, 7, saved);
            List<Batch> again = new ArrayList<>();
            for (int step = 3; step < 8; step++) again.addAll(resumed.nextGlobalBatch(3, 200));
            assertEquals(after.size(), again.size());
            for (int i = 0; i < after.size(); i++) assertArrayEquals(after.get(i).inputIds(), again.get(i).inputIds());
            // Each epoch visits every sequence once.
            int[] order0 = DataOrder.permutation(7, 0, 5);
            List<int[]> seen = first.stream().flatMap(b -> IntStream.range(0, b.numSequences()).mapToObj(b::sequence)).toList();
            for (int i = 0; i < 5; i++) assertArrayEquals(l.sequence(order0[i]), seen.get(i));
        }
    }

    @Test
    void paddedViewOfABatch() {
        Batch b = new Batch(new int[] {2, 5, 3, 2, 3}, new int[5], new int[] {0, 3, 5}, 3, null, null, null);
        Batch.Padded p = b.padded(0);
        assertArrayEquals(new int[] {2, 5, 3, 2, 3, 0}, p.inputIds());
        assertArrayEquals(new int[] {1, 1, 1, 1, 1, 0}, p.attentionMask());
    }
}
