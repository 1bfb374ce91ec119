package dev.tessera.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * {@code --nproc N}: starts N ranks of the same command on this machine, one JVM each, as
 * {@code torchrun --nproc-per-node N} does: {@code RANK} = {@code LOCAL_RANK} = 0..N-1, {@code WORLD_SIZE} =
 * {@code LOCAL_WORLD_SIZE} = N, {@code MASTER_ADDR} = 127.0.0.1 and a free {@code MASTER_PORT} (unless given).
 * Rank 0's output is passed through; the other ranks' error output is prefixed with their rank. When a rank
 * fails the others stop on their own (their collectives fail, naming it); any left after a grace period are
 * killed. The exit code is the first failing rank's, else 0. Ctrl-C / SIGTERM is passed on to every rank,
 * which then checkpoint and stop together.
 */
final class LocalLauncher {

    /** How long the other ranks get to notice a failed rank and exit by themselves. */
    static final long GRACE_SECONDS = 60;

    private LocalLauncher() {}

    /** The command that starts this program again: {@code java [JVM options] (-jar JAR | -cp CP main)}. */
    static List<String> javaCommand() {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (a.startsWith("-agentlib:jdwp") || a.startsWith("-Xrunjdwp")) continue; // a debugger port cannot be shared
            cmd.add(a);
        }
        // a logging manager set as a property at run time (e.g. by a test harness) must be set from the start in a rank
        String logManager = System.getProperty("java.util.logging.manager");
        if (logManager != null && cmd.stream().noneMatch(a -> a.startsWith("-Djava.util.logging.manager="))) {
            cmd.add("-Djava.util.logging.manager=" + logManager);
        }
        String launched = System.getProperty("sun.java.command", "");
        String first = launched.isBlank() ? "" : launched.split(" ", 2)[0];
        if (first.endsWith(".jar") && startsTessera(Path.of(first))) {
            cmd.add("-jar");
            cmd.add(first);
        } else {
            cmd.add("-cp");
            cmd.add(System.getProperty("java.class.path"));
            cmd.add("dev.tessera.TesseraMain");
        }
        return cmd;
    }

    /** Whether {@code java -jar jar} runs Tessera (the Quarkus runner or our main), not some other launcher. */
    private static boolean startsTessera(Path jar) {
        try (java.util.jar.JarFile jf = new java.util.jar.JarFile(jar.toFile())) {
            var mf = jf.getManifest();
            String main = mf == null ? null : mf.getMainAttributes().getValue("Main-Class");
            return "dev.tessera.TesseraMain".equals(main) || "io.quarkus.bootstrap.runner.QuarkusEntryPoint".equals(main);
        } catch (IOException e) {
            return false;
        }
    }

    static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("no free port for MASTER_PORT", e);
        }
    }

    /**
     * Runs {@code args} (the command without {@code --nproc}) as {@code nproc} ranks with {@code threads} CPU
     * threads each; returns the exit code.
     */
    static int run(List<String> args, int nproc, Integer masterPort, int threads, PrintWriter out, PrintWriter err) {
        int port = masterPort != null ? masterPort : freePort();
        List<String> base = javaCommand();
        out.println(String.format("starting %d ranks on this machine (MASTER_ADDR=127.0.0.1 MASTER_PORT=%d, %d threads each)",
                nproc, port, threads));
        out.flush();
        List<Process> procs = new ArrayList<>();
        List<Thread> pumps = new ArrayList<>();
        Thread hook = new Thread(() -> procs.forEach(Process::destroy), "stop-ranks"); // SIGTERM: ranks checkpoint and stop
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            for (int r = 0; r < nproc; r++) {
                List<String> cmd = new ArrayList<>(base);
                cmd.addAll(args);
                cmd.add("--threads");
                cmd.add(Integer.toString(threads));
                ProcessBuilder pb = new ProcessBuilder(cmd);
                Map<String, String> env = pb.environment();
                env.put("RANK", Integer.toString(r));
                env.put("LOCAL_RANK", Integer.toString(r));
                env.put("WORLD_SIZE", Integer.toString(nproc));
                env.put("LOCAL_WORLD_SIZE", Integer.toString(nproc));
                env.put("MASTER_ADDR", "127.0.0.1");
                env.put("MASTER_PORT", Integer.toString(port));
                env.put("OMP_NUM_THREADS", Integer.toString(threads));
                env.remove("JOB_COMPLETION_INDEX");
                if (r != 0) pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
                Process p = pb.start();
                procs.add(p);
                if (r == 0) pumps.add(pump(p.getInputStream(), out, ""));
                pumps.add(pump(p.getErrorStream(), err, r == 0 ? "" : "[rank " + r + "] "));
            }
            int code = 0;
            long graceDeadline = Long.MAX_VALUE;
            List<Process> running = new ArrayList<>(procs);
            while (!running.isEmpty()) {
                for (Process p : List.copyOf(running)) {
                    if (p.isAlive()) continue;
                    running.remove(p);
                    if (p.exitValue() != 0 && code == 0) {
                        code = p.exitValue();
                        err.println("rank " + procs.indexOf(p) + " exited with code " + code + "; waiting up to " + GRACE_SECONDS
                                + " s for the other ranks to stop");
                        err.flush();
                        graceDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(GRACE_SECONDS);
                    }
                }
                if (System.nanoTime() > graceDeadline) {
                    for (Process p : running) {
                        err.println("rank " + procs.indexOf(p) + " did not stop; killing it");
                        p.destroyForcibly();
                    }
                    graceDeadline = Long.MAX_VALUE;
                }
                try {
                    if (!running.isEmpty()) running.get(0).waitFor(100, TimeUnit.MILLISECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    procs.forEach(Process::destroy);
                }
            }
            for (Thread t : pumps) t.join(5000);
            err.flush();
            out.flush();
            return code;
        } catch (IOException e) {
            procs.forEach(Process::destroyForcibly);
            throw new UncheckedIOException("cannot start the ranks: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            procs.forEach(Process::destroyForcibly);
            return 130;
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException ignored) {
                // already shutting down: the hook runs
            }
        }
    }

    private static Thread pump(InputStream in, PrintWriter to, String prefix) {
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    synchronized (to) {
                        to.println(prefix + line);
                        to.flush();
                    }
                }
            } catch (IOException ignored) {
                // the rank is gone
            }
        }, "rank-output");
        t.setDaemon(true);
        t.start();
        return t;
    }
}
