package dev.tessera.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Replaces a whole directory so that a reader (or a crash) sees the old one or the new one, never a mix:
 * the new content is written into {@code .tmp-NAME} beside it, synced, then swapped in by two renames
 * (old → {@code .old-NAME}, tmp → NAME). A crash between the two renames leaves the old content as
 * {@code .old-NAME} only: {@link #recover} (which every replace does first) and {@link #recoverAll} put it back.
 * Checkpoints and published models are written this way.
 */
public final class AtomicDirectories {
    private AtomicDirectories() {}

    private static final String OLD = ".old-";

    @FunctionalInterface
    public interface Filler {
        void fill(Path dir) throws IOException;
    }

    public static Path replace(Path target, Filler filler) {
        Path parent = target.toAbsolutePath().getParent();
        String name = target.getFileName().toString();
        Path tmp = parent.resolve(".tmp-" + name), old = parent.resolve(OLD + name);
        try {
            Files.createDirectories(parent);
            recover(target); // a previous swap cut short: restore it, so the old content is never the only copy deleted
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

    /**
     * Undoes a replacement of {@code target} cut short between its two renames: {@code .old-NAME} without
     * {@code NAME} becomes {@code NAME} again (the content before that replacement); beside an existing {@code NAME} it
     * is a leftover and is deleted. Nothing when there is no {@code .old-NAME}.
     */
    public static void recover(Path target) throws IOException {
        Path abs = target.toAbsolutePath();
        Path old = abs.resolveSibling(OLD + abs.getFileName());
        if (!Files.exists(old, LinkOption.NOFOLLOW_LINKS)) return;
        if (Files.exists(abs, LinkOption.NOFOLLOW_LINKS)) {
            deleteTree(old);
        } else {
            Files.move(old, abs, StandardCopyOption.ATOMIC_MOVE);
            sync(abs.getParent());
        }
    }

    /** {@link #recover} for every {@code .old-NAME} in {@code dir}; nothing if {@code dir} does not exist. */
    public static void recoverAll(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) return;
        List<Path> leftovers;
        try (Stream<Path> s = Files.list(dir)) {
            leftovers = s.filter(p -> p.getFileName().toString().startsWith(OLD)).toList();
        }
        for (Path p : leftovers) recover(p.resolveSibling(p.getFileName().toString().substring(OLD.length())));
    }

    /** Deletes a file or a directory tree; nothing if absent. Symlinks are deleted, never followed. */
    public static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) return;
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
