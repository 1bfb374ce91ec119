package dev.tessera.data;

import dev.tessera.io.AtomicFiles;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * A file of tokenized documents, memory-mapped for reading.
 *
 * <p><b>Format</b> (version 1, all integers little-endian):
 * <pre>
 *   offset  size            field
 *   0       4               magic "TSHD"
 *   4       4   int32       version = 1
 *   8       4   int32       bytes per token: 2 (uint16, when every id &lt; 65536) or 4 (int32)
 *   12      4   int32       number of documents n
 *   16      8   int64       number of tokens T
 *   24      8·(n+1) int64   offsets: document i is tokens [offsets[i], offsets[i+1]); offsets[0]=0, offsets[n]=T
 *   24+8(n+1)  T·bytes      tokens
 * </pre>
 * Tokens are the tokenizer's ids without special tokens. Files are written atomically
 * (temporary file, fsync, rename), so a file that exists is complete.
 */
public final class TokenShard implements AutoCloseable {

    static final int MAGIC = 0x44485354; // "TSHD" read as a little-endian int
    static final int VERSION = 1;
    private static final int HEADER = 24;
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path path;
    private final Arena arena;
    private final MemorySegment seg;
    private final int tokenBytes;
    private final int numDocs;
    private final long numTokens;
    private final long tokensAt;

    private TokenShard(Path path, Arena arena, MemorySegment seg) {
        this.path = path;
        this.arena = arena;
        this.seg = seg;
        if (seg.byteSize() < HEADER || seg.get(INT, 0) != MAGIC) {
            throw new IllegalArgumentException(path + " is not a token shard (bad magic)");
        }
        int version = seg.get(INT, 4);
        if (version != VERSION) throw new IllegalArgumentException(path + ": unsupported shard version " + version);
        tokenBytes = seg.get(INT, 8);
        numDocs = seg.get(INT, 12);
        numTokens = seg.get(LONG, 16);
        if (tokenBytes != 2 && tokenBytes != 4) throw new IllegalArgumentException(path + ": bad token width " + tokenBytes);
        tokensAt = HEADER + 8L * (numDocs + 1);
        if (numDocs < 0 || seg.byteSize() != tokensAt + numTokens * tokenBytes) {
            throw new IllegalArgumentException(path + ": truncated or corrupt shard (size " + seg.byteSize() + ")");
        }
    }

    /** Maps the shard read-only. Close it to unmap. */
    public static TokenShard open(Path path) {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            return new TokenShard(path, arena, ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena));
        } catch (IOException e) {
            arena.close();
            throw new UncheckedIOException("cannot open shard " + path + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** Writes {@code docs} (token ids, no specials) to {@code path} atomically. */
    public static void write(Path path, List<int[]> docs) {
        long total = 0;
        int max = 0;
        for (int[] d : docs) {
            total += d.length;
            for (int t : d) {
                if (t < 0) throw new IllegalArgumentException("negative token id " + t);
                max = Math.max(max, t);
            }
        }
        final long numTokens = total;
        final boolean narrow = max < 65536;
        AtomicFiles.writeStream(path, os -> {
            DataOutputStream out = new DataOutputStream(os);
            out.writeInt(Integer.reverseBytes(MAGIC));
            out.writeInt(Integer.reverseBytes(VERSION));
            out.writeInt(Integer.reverseBytes(narrow ? 2 : 4));
            out.writeInt(Integer.reverseBytes(docs.size()));
            out.writeLong(Long.reverseBytes(numTokens));
            long off = 0;
            out.writeLong(0);
            for (int[] d : docs) {
                off += d.length;
                out.writeLong(Long.reverseBytes(off));
            }
            for (int[] d : docs) {
                for (int t : d) {
                    if (narrow) out.writeShort(Short.reverseBytes((short) t));
                    else out.writeInt(Integer.reverseBytes(t));
                }
            }
            out.flush();
        });
    }

    public Path path() { return path; }

    public int numDocs() { return numDocs; }

    public long numTokens() { return numTokens; }

    public int docLength(int doc) {
        return (int) (offset(doc + 1) - offset(doc));
    }

    /** Tokens of document {@code doc}. */
    public int[] doc(int doc) {
        return tokens(doc, 0, docLength(doc));
    }

    /** {@code length} tokens of document {@code doc} starting at {@code from}. */
    public int[] tokens(int doc, int from, int length) {
        if (from < 0 || length < 0 || from + length > docLength(doc)) {
            throw new IndexOutOfBoundsException("tokens [" + from + ", " + (from + length) + ") of doc " + doc);
        }
        long start = offset(doc) + from;
        int[] out = new int[length];
        for (int i = 0; i < length; i++) {
            long at = tokensAt + (start + i) * tokenBytes;
            out[i] = tokenBytes == 2 ? Short.toUnsignedInt(seg.get(SHORT, at)) : seg.get(INT, at);
        }
        return out;
    }

    private long offset(int i) {
        if (i < 0 || i > numDocs) throw new IndexOutOfBoundsException("document " + i + " of " + numDocs);
        return seg.get(LONG, HEADER + 8L * i);
    }

    @Override public void close() {
        arena.close();
    }
}
