package dev.tessera.cli;

import dev.tessera.train.TrainingListener;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Training progress on the command line: a one-line progress bar (step/total, loss, tokens/s, ETA) redrawn
 * in place when attached to a terminal, plain log lines (every log interval) otherwise.
 */
final class ConsoleProgress implements TrainingListener {
    private final PrintWriter out;
    private final boolean tty;
    private long lastDraw;
    private boolean barShown;

    ConsoleProgress(PrintWriter out, boolean tty) {
        this.out = out;
        this.tty = tty;
    }

    static boolean isTerminal() {
        var c = System.console();
        return c != null && c.isTerminal(); // since JDK 22 console() is non-null even when redirected
    }

    @Override
    public synchronized void started(String what, long startStep, long totalSteps, long numParams) {
        line(String.format("%s: %,d parameters, steps %d..%d", what, numParams, startStep + 1, totalSteps));
    }

    @Override
    public synchronized void step(StepStats s) {
        if (!tty) return;
        long now = System.nanoTime();
        if (now - lastDraw < 200_000_000L && s.step() != s.totalSteps()) return;
        lastDraw = now;
        int width = 30, done = (int) (width * s.step() / Math.max(1, s.totalSteps()));
        String bar = "=".repeat(done) + (done < width ? ">" : "") + " ".repeat(Math.max(0, width - done - 1));
        out.print(String.format("\r[%s] %d/%d loss %.4f tok/s %.0f eta %s   ", bar, s.step(), s.totalSteps(), s.loss(),
                s.tokensPerSecond(), TrainingListener.duration(s.etaSeconds())));
        out.flush();
        barShown = true;
    }

    @Override
    public void logged(StepStats averaged) { line(averaged.format()); }

    @Override
    public void evaluated(long step, Map<String, Double> metrics) {
        line("eval @ step " + step + ": " + metrics.entrySet().stream()
                .map(e -> e.getKey() + " " + String.format("%.4f", e.getValue())).collect(Collectors.joining(", ")));
    }

    @Override
    public void checkpointed(long step, Path dir) { line("checkpoint @ step " + step + " -> " + dir); }

    @Override
    public void info(String line) { line(line); }

    private synchronized void line(String text) {
        if (barShown) out.print("\r\033[K"); // clear the bar, print the line, the bar is redrawn at the next step
        barShown = false;
        out.println(text);
        out.flush();
    }
}
