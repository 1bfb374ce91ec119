package dev.tessera.api;

import jakarta.annotation.security.RolesAllowed;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tessera.jobs.Job;
import dev.tessera.jobs.JobService;
import jakarta.annotation.PreDestroy;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.sse.Sse;
import jakarta.ws.rs.sse.SseEventSink;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.jboss.logging.Logger;

import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * {@code GET /v1/jobs/{id}/events}: a job's progress as Server-Sent Events, for the web console's live curves.
 *
 * <p>The job record is read every {@value #POLL_MS} ms and an {@code event: job} goes out whenever it changed. Its
 * data is the job as {@code GET /v1/jobs/{id}} returns it, without the recipe text, and with only the loss points
 * the client does not have yet: {@code loss_history} holds the points from index {@code history_from} on (the
 * client truncates its copy there and appends; a resumed job drops the points after its checkpoint, so
 * {@code history_from} can go back). Each point also carries {@code lr}, the learning rate of that step as the
 * trainer recorded it. When the job has finished, a last
 * {@code event: end} ({@code {"status": ...}}) closes the stream; a comment line every 15 s keeps idle proxies
 * from closing it before.
 */
@Path("/v1/jobs/{id}/events")
@RolesAllowed(ApiKeys.USER)
public class JobEventsResource {
    private static final Logger LOG = Logger.getLogger(JobEventsResource.class);
    static final long POLL_MS = 500;
    private static final long KEEP_ALIVE_MS = 15_000;

    private final Function<String, Optional<Job>> jobs;
    private final ObjectMapper json;
    // one small timer thread for every open stream: reading a job is a copy under JobService's lock, never slow
    // work, and it must not run on the event loop (that lock is also held while a job's state file is fsynced)
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().name("job-events").daemon(true).factory());

    private final Set<Stream> open = ConcurrentHashMap.newKeySet();
    // An open stream is an HTTP request in flight: Quarkus's graceful shutdown would wait its whole timeout for it.
    // The JVM runs this hook alongside Quarkus's own on SIGTERM, so streams close (clients reconnect to the next
    // server; the job resumes there) and the shutdown only waits for real requests.
    private final Thread closeOnExit = Thread.ofPlatform().name("job-events-close").unstarted(this::closeAll);

    public JobEventsResource(JobService service, ObjectMapper json) {
        this.jobs = service::get;
        this.json = json;
        Runtime.getRuntime().addShutdownHook(closeOnExit);
    }

    @PreDestroy
    void stop() {
        closeAll();
        timer.shutdownNow();
        try {
            Runtime.getRuntime().removeShutdownHook(closeOnExit);
        } catch (IllegalStateException e) {
            // the JVM is already exiting: the hook runs (or ran)
        }
    }

    private void closeAll() {
        for (Stream s : List.copyOf(open)) s.closeQuietly();
    }

    @GET
    @Produces(MediaType.SERVER_SENT_EVENTS)
    @Operation(summary = "A job's progress as Server-Sent Events: 'job' on every change, then 'end' when it finished")
    public void events(@PathParam("id") String id, @Context SseEventSink sink, @Context Sse sse) {
        Job first = jobs.apply(id).orElseThrow(() -> ApiException.unknownJob(id));
        new Stream(id, sink, sse, first).start();
    }

    /** One client's stream: what it was last sent, so only changes go out. */
    private final class Stream implements Runnable {
        private final String id;
        private final SseEventSink sink;
        private final Sse sse;
        private Job pending;
        private String lastView;
        private List<Job.LossPoint> sentHistory = List.of();
        private long lastSendNanos = System.nanoTime();
        private ScheduledFuture<?> task;

        Stream(String id, SseEventSink sink, Sse sse, Job first) {
            this.id = id;
            this.sink = sink;
            this.sse = sse;
            this.pending = first;
        }

        synchronized void start() {
            open.add(this);
            run(); // the current state at once, then every POLL_MS
            if (!sink.isClosed()) task = timer.scheduleWithFixedDelay(this, POLL_MS, POLL_MS, TimeUnit.MILLISECONDS);
        }

        @Override
        public synchronized void run() {
            try {
                if (sink.isClosed()) {
                    cancel();
                    open.remove(this);
                    return;
                }
                Job j = pending != null ? pending : jobs.apply(id).orElse(null);
                pending = null;
                if (j == null) {
                    close();
                    return;
                }
                sendIfChanged(j);
                if (j.status.finished()) {
                    send("end", json.createObjectNode().put("status", j.status.name()).toString());
                    close();
                } else if (System.nanoTime() - lastSendNanos > KEEP_ALIVE_MS * 1_000_000) {
                    sink.send(sse.newEventBuilder().comment("keep-alive").build());
                    lastSendNanos = System.nanoTime();
                }
            } catch (RuntimeException e) {
                LOG.debugf(e, "event stream of job %s closed", id);
                close();
            }
        }

        private void sendIfChanged(Job j) {
            ObjectNode view = json.valueToTree(j);
            view.remove("recipe");
            view.remove("loss_history");
            String viewText = view.toString();
            int from = commonPrefix(sentHistory, j.lossHistory);
            if (viewText.equals(lastView) && from == j.lossHistory.size() && from == sentHistory.size()) return;
            view.put("history_from", from);
            ArrayNode points = view.putArray("loss_history");
            for (Job.LossPoint p : j.lossHistory.subList(from, j.lossHistory.size())) {
                ObjectNode n = points.addObject().put("step", p.step()).put("loss", p.loss());
                if (p.lr() != null) n.put("lr", p.lr());
            }
            send("job", view.toString());
            lastView = viewText;
            sentHistory = j.lossHistory;
        }

        private void send(String name, String data) {
            sink.send(sse.newEventBuilder().name(name).data(data).build());
            lastSendNanos = System.nanoTime();
        }

        private void cancel() {
            if (task != null) task.cancel(false);
        }

        private void close() {
            cancel();
            open.remove(this);
            if (!sink.isClosed()) sink.close();
        }

        synchronized void closeQuietly() {
            try {
                close();
            } catch (RuntimeException e) {
                LOG.debugf(e, "closing the event stream of job %s", id);
            }
        }
    }

    private static int commonPrefix(List<Job.LossPoint> a, List<Job.LossPoint> b) {
        int n = Math.min(a.size(), b.size()), i = 0;
        while (i < n && a.get(i).equals(b.get(i))) i++;
        return i;
    }
}
