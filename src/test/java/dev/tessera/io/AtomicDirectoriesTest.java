package dev.tessera.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The directory swap and its crash recovery, with crashes staged as the files a kill leaves behind. */
class AtomicDirectoriesTest {

    private static Path write(Path dir, String content) throws Exception {
        return AtomicDirectories.replace(dir, tmp -> Files.writeString(tmp.resolve("f"), content));
    }

    /** The state a kill between the two renames of a replace leaves: old content aside, new content complete in tmp. */
    private static void killBetweenTheRenames(Path dir, String newContent) throws Exception {
        Files.move(dir, dir.resolveSibling(".old-" + dir.getFileName()));
        Path tmp = Files.createDirectories(dir.resolveSibling(".tmp-" + dir.getFileName()));
        Files.writeString(tmp.resolve("f"), newContent);
    }

    @Test
    void replaceSwapsTheWholeDirectoryAndLeavesNothingBeside(@TempDir Path root) throws Exception {
        Path dir = root.resolve("m");
        write(dir, "one");
        Files.writeString(dir.resolve("extra"), "x");
        write(dir, "two");
        assertEquals("two", Files.readString(dir.resolve("f")));
        assertFalse(Files.exists(dir.resolve("extra")), "nothing of the old directory stays");
        try (var s = Files.list(root)) {
            assertEquals(1, s.count(), "no .tmp- or .old- left");
        }
    }

    @Test
    void aSwapCutBetweenTheRenamesIsUndone(@TempDir Path root) throws Exception {
        Path dir = root.resolve("m");
        write(dir, "one");
        killBetweenTheRenames(dir, "two");
        assertFalse(Files.exists(dir));
        AtomicDirectories.recoverAll(root);
        assertEquals("one", Files.readString(dir.resolve("f")), "the content before the cut swap is back");
        assertFalse(Files.exists(root.resolve(".old-m")));
    }

    @Test
    void aLeftoverBesideTheDirectoryIsDeleted(@TempDir Path root) throws Exception {
        Path dir = root.resolve("m");
        write(dir, "two");
        Path old = Files.createDirectories(root.resolve(".old-m"));
        Files.writeString(old.resolve("f"), "one");
        AtomicDirectories.recover(dir);
        assertEquals("two", Files.readString(dir.resolve("f")));
        assertFalse(Files.exists(old));
    }

    @Test
    void aReplaceAfterACutSwapRecoversFirstThenReplaces(@TempDir Path root) throws Exception {
        Path dir = root.resolve("m");
        write(dir, "one");
        killBetweenTheRenames(dir, "two");
        write(dir, "three");
        assertEquals("three", Files.readString(dir.resolve("f")));
        assertFalse(Files.exists(root.resolve(".old-m")));
        assertFalse(Files.exists(root.resolve(".tmp-m")));
        assertTrue(Files.isDirectory(dir));
    }

    @Test
    void recoverAllOfAMissingDirectoryIsNothing(@TempDir Path root) throws Exception {
        AtomicDirectories.recoverAll(root.resolve("absent"));
        assertFalse(Files.exists(root.resolve("absent")));
    }
}
