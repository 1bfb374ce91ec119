package dev.tessera.plot;

import dev.tessera.train.TrainingState;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Line charts written as PNG, headless. */
public final class Charts {
    private Charts() {}

    static {
        System.setProperty("java.awt.headless", "true"); // no display on servers and in CI
    }

    /** One line: points (x[i], y[i]); {@code err} (± per point) or null. */
    public record Series(String name, double[] x, double[] y, double[] err) {
        public Series {
            if (x.length != y.length || (err != null && err.length != x.length)) {
                throw new IllegalArgumentException("series '" + name + "': x, y (and err) differ in length");
            }
        }

        public static Series of(String name, List<Double> x, List<Double> y) {
            return new Series(name, x.stream().mapToDouble(Double::doubleValue).toArray(),
                    y.stream().mapToDouble(Double::doubleValue).toArray(), null);
        }
    }

    /** Writes a line chart of {@code series} to {@code png} (parent folders created); empty series are left out. */
    public static void lines(String title, String xLabel, String yLabel, List<Series> series, boolean logX, Path png) {
        XYChart chart = new XYChartBuilder().width(900).height(560).title(title).xAxisTitle(xLabel).yAxisTitle(yLabel).build();
        chart.getStyler().setXAxisLogarithmic(logX);
        chart.getStyler().setYAxisDecimalPattern("#0.###");
        chart.getStyler().setChartBackgroundColor(java.awt.Color.WHITE);
        int drawn = 0;
        for (Series s : series) {
            if (s.x().length == 0) continue;
            XYSeries xs = s.err() == null ? chart.addSeries(s.name(), s.x(), s.y())
                    : chart.addSeries(s.name(), s.x(), s.y(), s.err());
            xs.setMarker(SeriesMarkers.CIRCLE);
            drawn++;
        }
        if (drawn == 0) throw new IllegalArgumentException("nothing to plot for '" + title + "'");
        try {
            if (png.getParent() != null) Files.createDirectories(png.getParent());
            String base = png.toString().endsWith(".png") ? png.toString().substring(0, png.toString().length() - 4) : png.toString();
            BitmapEncoder.saveBitmap(chart, base, BitmapEncoder.BitmapFormat.PNG);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + png, e);
        }
    }

    /**
     * The loss curve of a training run from its {@code training_state.json}: training loss per log interval
     * and, when there are evaluations, the held-out loss ({@code mlm_loss} or {@code loss}).
     */
    public static void lossCurve(TrainingState state, String title, Path png) {
        List<Double> sx = new ArrayList<>(), sy = new ArrayList<>(), ex = new ArrayList<>(), ey = new ArrayList<>();
        for (TrainingState.LossPoint p : state.lossHistory()) {
            sx.add((double) p.step());
            sy.add(p.loss());
        }
        for (TrainingState.EvalPoint e : state.evalHistory()) {
            Map<String, Double> m = e.metrics();
            Double v = m.containsKey("mlm_loss") ? m.get("mlm_loss") : m.get("loss");
            if (v == null || v.isNaN()) continue;
            ex.add((double) e.step());
            ey.add(v);
        }
        lines(title, "optimizer step", "loss", List.of(Series.of("training loss", sx, sy), Series.of("held-out loss", ex, ey)),
                false, png);
    }
}
