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

    public record LossPoint(long step, double loss) {}

    public String id;
    /** Submission order (FIFO, also after a restart). */
    public long seq;
    public String kind;
    public Status status;
    public String createdAt, startedAt, finishedAt;
    /** The recipe YAML as submitted, with the overrides applied. */
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
