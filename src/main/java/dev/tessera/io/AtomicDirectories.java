package dev.tessera.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Replaces a whole directory so that a reader (or a crash) sees the old one or the new one, never a mix:
 * the new content is written into {@code .tmp-NAME} beside it, synced, then swapped in by two renames
 * (old → {@code .old-NAME}, tmp → NAME). Checkpoints and published models are written this way.
 */
public final class AtomicDirectories {
    private AtomicDirectories() {}

    @FunctionalInterface
    public interface Filler {
        void fill(Path dir) throws IOException;
    }

    public static Path replace(Path target, Filler filler) {
        Path parent = target.toAbsolutePath().getParent();
        String name = target.getFileName().toString();
        Path tmp = parent.resolve(".tmp-" + name), old = parent.resolve(".old-" + name);
        try {
            Files.createDirectories(parent);
            deleteTree(tmp);
            Files.createDirectories(tmp);
            filler.fill(tmp);
            sync(tmp);
            deleteTree(old);
            if (Files.exists(target)) Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            sync(parent);
            deleteTree(old);
            return target;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + target + ": " + e.getMessage(), e);
        }
    }

    /** Deletes a file or a directory tree; nothing if absent. Symlinks are deleted, never followed. */
    public static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) return;
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) Files.delete(q);
        }
    }

    private static void sync(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // not every platform lets a directory be opened; the renames are still atomic
        }
    }
}
