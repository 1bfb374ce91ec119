package dev.tessera.data;

import dev.tessera.io.AtomicFiles;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ForkJoinPool;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * A tokenized corpus on disk: numbered {@link TokenShard} files plus {@code manifest.json}, written last
 * (atomically), which lists the shards and a caller-chosen {@code fingerprint} (e.g. the corpus paths and
 * the tokenizer's identity). A directory whose manifest exists with the same fingerprint is reused as is,
 * so a second epoch or a resumed run never re-tokenizes.
 *
 * <p>Documents are numbered globally in corpus order across the shards.
 */
public final class ShardSet implements AutoCloseable {

    public static final String MANIFEST = "manifest.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path dir;
    private final String fingerprint;
    private final List<TokenShard> shards;
    private final int[] firstDoc;   // global index of each shard's first document, plus the total at the end
    private final long numTokens;

    private ShardSet(Path dir, String fingerprint, List<TokenShard> shards) {
        this.dir = dir;
        this.fingerprint = fingerprint;
        this.shards = List.copyOf(shards);
        this.firstDoc = new int[shards.size() + 1];
        long tokens = 0;
        for (int i = 0; i < shards.size(); i++) {
            firstDoc[i + 1] = Math.addExact(firstDoc[i], shards.get(i).numDocs());
            tokens += shards.get(i).numTokens();
        }
        this.numTokens = tokens;
    }

    /** Opens {@code dir} if its manifest has {@code fingerprint}; otherwise tokenizes {@code docs} into it. */
    public static ShardSet openOrBuild(Path dir, String fingerprint, Supplier<Stream<String>> docs,
                                       Function<String, int[]> tokenizer, int docsPerShard, int threads) {
        return openOrBuild(dir, fingerprint, docs, tokenizer, docsPerShard, threads, true);
    }

    /**
     * Opens {@code dir} if its manifest has {@code fingerprint}; otherwise tokenizes {@code docs} into it, or, when
     * {@code mayBuild} is false (a cache the run may only read), refuses.
     */
    public static ShardSet openOrBuild(Path dir, String fingerprint, Supplier<Stream<String>> docs,
                                       Function<String, int[]> tokenizer, int docsPerShard, int threads, boolean mayBuild) {
        Path manifest = dir.resolve(MANIFEST);
        if (Files.exists(manifest)) {
            try {
                JsonNode m = JSON.readTree(manifest.toFile());
                if (fingerprint.equals(m.path("fingerprint").asText(null))) return open(dir);
            } catch (IOException e) {
                // unreadable manifest: rebuild
            }
        }
        if (!mayBuild) {
            throw new IllegalArgumentException("the shard cache " + dir + " is missing or was built from other files or"
                    + " another tokenizer, and this run may not rebuild it there");
        }
        try (Stream<String> s = docs.get()) {
            return build(s, tokenizer, dir, fingerprint, docsPerShard, threads);
        }
    }

    /**
     * Tokenizes {@code docs} ({@code tokenizer} returns ids without special tokens) with {@code threads}
     * threads, {@code docsPerShard} documents per shard file, and writes the manifest last.
     *
     * @throws IllegalArgumentException when the corpus has no documents
     */
    public static ShardSet build(Stream<String> docs, Function<String, int[]> tokenizer, Path dir,
                                 String fingerprint, int docsPerShard, int threads) {
        if (docsPerShard < 1 || threads < 1) throw new IllegalArgumentException("docsPerShard and threads must be >= 1");
        try {
            Files.createDirectories(dir);
            Files.deleteIfExists(dir.resolve(MANIFEST)); // the set is incomplete until the new manifest lands
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare shard directory " + dir + ": " + e.getMessage(), e);
        }
        ForkJoinPool pool = new ForkJoinPool(threads);
        List<String> names = new ArrayList<>();
        try {
            Iterator<String> it = docs.iterator();
            List<String> chunk = new ArrayList<>(Math.min(docsPerShard, 1 << 16));
            while (it.hasNext()) {
                chunk.add(it.next());
                if (chunk.size() == docsPerShard || !it.hasNext()) {
                    List<String> texts = chunk;
                    List<int[]> tokens = pool.submit(() -> texts.parallelStream().map(tokenizer).toList()).get();
                    String name = String.format("shard-%05d.tshd", names.size());
                    TokenShard.write(dir.resolve(name), tokens);
                    names.add(name);
                    chunk = new ArrayList<>(Math.min(docsPerShard, 1 << 16));
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while tokenizing", e);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof RuntimeException re ? re : new IllegalStateException(e.getCause());
        } finally {
            pool.shutdown();
        }
        if (names.isEmpty()) throw new IllegalArgumentException("the corpus has no documents (nothing to write to " + dir + ")");
        List<TokenShard> shards = new ArrayList<>();
        ObjectNode m = JSON.createObjectNode();
        m.put("version", 1);
        m.put("fingerprint", fingerprint);
        ArrayNode list = m.putArray("shards");
        long docsTotal = 0, tokensTotal = 0;
        for (String name : names) {
            TokenShard s = TokenShard.open(dir.resolve(name));
            shards.add(s);
            list.addObject().put("file", name).put("docs", s.numDocs()).put("tokens", s.numTokens());
            docsTotal += s.numDocs();
            tokensTotal += s.numTokens();
        }
        m.put("docs", docsTotal);
        m.put("tokens", tokensTotal);
        AtomicFiles.writeString(dir.resolve(MANIFEST), m.toPrettyString());
        return new ShardSet(dir, fingerprint, shards);
    }

    /** Opens a complete shard set (its manifest must exist). */
    public static ShardSet open(Path dir) {
        Path manifest = dir.resolve(MANIFEST);
        JsonNode m;
        try {
            m = JSON.readTree(manifest.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException("no readable shard manifest at " + manifest + ": " + e.getMessage());
        }
        List<TokenShard> shards = new ArrayList<>();
        for (JsonNode s : m.path("shards")) shards.add(TokenShard.open(dir.resolve(s.path("file").asText())));
        if (shards.isEmpty()) throw new IllegalArgumentException(manifest + " lists no shards");
        return new ShardSet(dir, m.path("fingerprint").asText(""), shards);
    }

    public Path dir() { return dir; }

    public String fingerprint() { return fingerprint; }

    public List<TokenShard> shards() { return shards; }

    public int numDocs() { return firstDoc[shards.size()]; }

    public long numTokens() { return numTokens; }

    public int docLength(int doc) {
        int s = shardOf(doc);
        return shards.get(s).docLength(doc - firstDoc[s]);
    }

    public int[] tokens(int doc, int from, int length) {
        int s = shardOf(doc);
        return shards.get(s).tokens(doc - firstDoc[s], from, length);
    }

    public int[] doc(int doc) {
        return tokens(doc, 0, docLength(doc));
    }

    private int shardOf(int doc) {
        if (doc < 0 || doc >= numDocs()) throw new IndexOutOfBoundsException("document " + doc + " of " + numDocs());
        int i = java.util.Arrays.binarySearch(firstDoc, doc);
        if (i >= 0) {
            while (i + 1 < firstDoc.length && firstDoc[i + 1] == doc) i++; // skip empty shards
            return i;
        }
        return -i - 2;
    }

    @Override public void close() {
        for (TokenShard s : shards) s.close();
    }
}
