/**
 * Files written so that a crash leaves no corrupt state (temp, fsync, rename), crash recovery of directory swaps,
 * native libraries copied out of the jar, and {@link dev.tessera.io.FileAccess}: where a run may read and write.
 * Depends on nothing else of Tessera.
 */
package dev.tessera.io;
