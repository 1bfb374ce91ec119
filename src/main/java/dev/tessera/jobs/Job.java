package dev.tessera.jobs;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A training job as stored ({@code <jobs dir>/<id>.json}) and as returned by {@code /v1/jobs}. Mutable;
 * {@link JobService} changes it under its lock and hands out {@link #copy()}s.
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public final class Job {

    public enum Status { queued, running, succeeded, failed, cancelled;
        public boolean finished() { return this == succeeded || this == failed || this == cancelled; }
    }

    /** The training loss averaged over a log interval, and the learning rate of its last step (as the trainer ran it). */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record LossPoint(long step, double loss, Double lr) {}

    /** Most loss points kept: beyond it every other point is dropped (the curve keeps its shape at half the resolution). */
    public static final int MAX_HISTORY = 1000;

    public String id;
    /** Submission order (FIFO, also after a restart). */
    public long seq;
    public String kind;
    public Status status;
    public String createdAt, startedAt, finishedAt;
    /**
     * The recipe YAML as submitted, with the overrides applied: kept in its own file ({@code <id>/recipe.yaml}), not
     * in memory or in the record; filled in only when one job is asked for.
     */
    public String recipe;
    public String recipeSource;
    public String serveAs;
    public String outputDir;
    public String bestDir, finalDir, servedAs;
    public long step, totalSteps;
    public Double loss, tokensPerSecond, etaSeconds;
    public List<LossPoint> lossHistory = new ArrayList<>();
    public Map<String, Double> metrics = new LinkedHashMap<>();
    public String error;
    public boolean cancelRequested;
    /** How many times the job was (re)started; > 1 after a resume. */
    public int attempts;

    /** Adds a point, thinning the history to at most {@link #MAX_HISTORY} points. */
    public void addLoss(LossPoint p) {
        lossHistory.add(p);
        if (lossHistory.size() <= MAX_HISTORY) return;
        List<LossPoint> thinned = new ArrayList<>(MAX_HISTORY / 2 + 1);
        for (int i = lossHistory.size() - 1; i >= 0; i -= 2) thinned.add(0, lossHistory.get(i)); // keeps the newest
        lossHistory = thinned;
    }

    public Job copy() {
        Job j = new Job();
        j.id = id; j.seq = seq; j.kind = kind; j.status = status; j.createdAt = createdAt; j.startedAt = startedAt;
        j.finishedAt = finishedAt; j.recipe = recipe; j.recipeSource = recipeSource; j.serveAs = serveAs;
        j.outputDir = outputDir; j.bestDir = bestDir; j.finalDir = finalDir; j.servedAs = servedAs; j.step = step;
        j.totalSteps = totalSteps; j.loss = loss; j.tokensPerSecond = tokensPerSecond; j.etaSeconds = etaSeconds;
        j.lossHistory = new ArrayList<>(lossHistory); j.metrics = new LinkedHashMap<>(metrics); j.error = error;
        j.cancelRequested = cancelRequested; j.attempts = attempts;
        return j;
    }
}
