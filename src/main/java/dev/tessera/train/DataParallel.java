package dev.tessera.train;

import dev.tessera.hf.CheckpointFiles;
import dev.tessera.kernels.NativeDist;
import dev.tessera.kernels.NativeException;
import dev.tessera.kernels.NativeLibrary;
import dev.tessera.kernels.NativeModel;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;

/**
 * This process's place in a data-parallel run (one process per rank, as torchrun and a Kubernetes Indexed
 * Job start them): its rank and the world size, and the collectives the training loop needs, over the
 * native module ({@link NativeDist}: Gloo on the CPU, NCCL on CUDA).
 *
 * <p>How the loop uses it: every rank builds the same global batch from the same data order and runs the
 * micro-batches {@code i} with {@code i % world == rank}; the gradient block is averaged before clipping and
 * AdamW, so every rank steps identically. Rank 0 alone resumes from / writes checkpoints, evaluates and logs;
 * the others wait for it at a barrier ({@link #waitForRoot}).
 *
 * <p>Environment: {@code WORLD_SIZE}, {@code RANK} (or {@code JOB_COMPLETION_INDEX}), {@code MASTER_ADDR},
 * {@code MASTER_PORT}; timeouts in seconds from {@code TESSERA_DIST_CONNECT_TIMEOUT} (all ranks present,
 * default 300), {@code TESSERA_DIST_TIMEOUT} (one collective, default 300) and {@code TESSERA_DIST_ROOT_WAIT}
 * (rank 0 evaluating, checkpointing or tokenizing alone, default 3600).
 */
public final class DataParallel implements AutoCloseable {

    /** One process: every call is a no-op. */
    public static final DataParallel SINGLE = new DataParallel(0, 1, 0);

    private final int rank, world, rootWaitMs;

    private DataParallel(int rank, int world, int rootWaitMs) {
        this.rank = rank;
        this.world = world;
        this.rootWaitMs = rootWaitMs;
    }

    /**
     * Joins the job of the environment (SINGLE when WORLD_SIZE is unset or 1). The fingerprint is compared at
     * rendezvous: a rank started with another recipe, vocabulary or world size is refused
     * ({@link IllegalArgumentException}) before anything is written.
     */
    public static DataParallel join(String device, String fingerprint, Map<String, String> env) {
        String w = env.get("WORLD_SIZE");
        if (w == null || w.isBlank() || w.trim().equals("1")) return SINGLE;
        NativeLibrary.Backend backend = TrainingLoop.backendFor(device);
        try {
            NativeDist.init(backend, fingerprint + " world=" + w.trim(), seconds(env, "TESSERA_DIST_CONNECT_TIMEOUT", 300),
                    seconds(env, "TESSERA_DIST_TIMEOUT", 300));
        } catch (NativeException e) {
            if (e.status() == NativeException.INVALID_ARG || e.status() == NativeException.NO_BACKEND) {
                throw new IllegalArgumentException(e.getMessage().replaceFirst("^TSR_ERR_[A-Z_]+: ", ""), e);
            }
            throw e;
        }
        return new DataParallel(NativeDist.rank(), NativeDist.worldSize(), seconds(env, "TESSERA_DIST_ROOT_WAIT", 3600));
    }

    private static int seconds(Map<String, String> env, String name, int dflt) {
        String v = env.get(name);
        if (v == null || v.isBlank()) return dflt * 1000;
        try {
            int s = Integer.parseInt(v.trim());
            if (s <= 0 || s > 86400) throw new NumberFormatException();
            return s * 1000;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + "='" + v + "' is not a number of seconds (1..86400)");
        }
    }

    /**
     * What ranks of one job must agree on: the kind, the resolved recipe ({@link TrainingLoop#recipeHash}:
     * model, data, optimizer, schedule, batch, steps) and the vocabulary files.
     */
    public static String fingerprint(Recipe recipe, Path tokenizerDir) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (String f : CheckpointFiles.VOCABULARY) {
                Path p = tokenizerDir.resolve(f);
                if (Files.isRegularFile(p)) md.update(Files.readAllBytes(p));
            }
            return "kind=" + recipe.kind().name().toLowerCase() + " recipe=" + TrainingLoop.recipeHash(recipe).substring(0, 16)
                    + " vocab=" + HexFormat.of().formatHex(md.digest()).substring(0, 16);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the vocabulary in " + tokenizerDir, e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public int rank() { return rank; }

    public int world() { return world; }

    public boolean isRoot() { return rank == 0; }

    public boolean distributed() { return world > 1; }

    /** Whether micro-batch {@code index} of a step is this rank's. */
    public boolean owns(int index) { return index % world == rank; }

    /** The mean of the gradient block over the ranks, in place. */
    public void averageGradients(NativeModel model) {
        if (distributed()) NativeDist.allreduceGrads(model, 0);
    }

    /** Rank 0's parameters (and AdamW moments) into every rank's model. */
    public void broadcastModel(NativeModel model, boolean moments) {
        if (!distributed()) return;
        NativeDist.broadcast(model, NativeModel.Buffer.PARAMS);
        if (moments) {
            NativeDist.broadcast(model, NativeModel.Buffer.ADAM_M);
            NativeDist.broadcast(model, NativeModel.Buffer.ADAM_V);
        }
    }

    /** Element-wise sum over the ranks, in place. */
    public double[] sum(double... values) {
        if (distributed()) NativeDist.allreduceSum(values);
        return values;
    }

    /** Rank 0's values, in place. */
    public double[] fromRoot(double... values) {
        if (distributed()) NativeDist.broadcast(values);
        return values;
    }

    /** A barrier after (or before) work rank 0 does alone: waits up to TESSERA_DIST_ROOT_WAIT. */
    public void waitForRoot() {
        if (distributed()) NativeDist.barrier(rootWaitMs);
    }

    @Override
    public void close() {
        if (distributed()) NativeDist.finish();
    }
}
