package dev.tessera.jobs;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The jobs in memory, behind one lock, each change persisted through the {@link JobStore}. Callers never hold a
 * live {@link Job}: they read {@link Job#copy() copies} and change a job through {@link #update}.
 */
final class JobRecords {
    private final JobStore store;
    private final Map<String, Job> jobs = new LinkedHashMap<>();
    private final Object lock = new Object();

    JobRecords(JobStore store) { this.store = store; }

    JobStore store() { return store; }

    /** Loads the stored jobs; unreadable files are named in {@code unreadable}. */
    List<Job> load(List<String> unreadable) {
        synchronized (lock) {
            for (Job j : store.loadAll(unreadable)) jobs.put(j.id, j);
            return copies();
        }
    }

    /** Adds a new job at the end of the submission order. */
    void add(Job j) {
        synchronized (lock) {
            j.seq = jobs.values().stream().mapToLong(o -> o.seq + 1).max().orElse(0);
            jobs.put(j.id, j);
            store.save(j);
        }
    }

    /**
     * Applies {@code change} to the job under the lock and saves it when {@code persist}. No copy is made: the
     * trainer calls this every step, and a copy holds the whole loss history.
     */
    void update(String id, boolean persist, Consumer<Job> change) {
        synchronized (lock) {
            Job j = jobs.get(id);
            if (j == null) return;
            change.accept(j);
            if (persist) store.save(j);
        }
    }

    /** The same, returning a copy of the job after the change (empty for an unknown id). */
    Optional<Job> updateAndGet(String id, Consumer<Job> change) {
        synchronized (lock) {
            if (!jobs.containsKey(id)) return Optional.empty();
            update(id, true, change);
            return Optional.of(jobs.get(id).copy());
        }
    }

    <T> T read(String id, Function<Job, T> f) {
        synchronized (lock) {
            return f.apply(jobs.get(id));
        }
    }

    Optional<Job> get(String id) {
        synchronized (lock) {
            return Optional.ofNullable(jobs.get(id)).map(Job::copy);
        }
    }

    List<Job> list() {
        synchronized (lock) {
            return copies();
        }
    }

    /** Forgets a job: its record here and on disk. */
    void remove(String id) {
        synchronized (lock) {
            jobs.remove(id);
            store.delete(id);
        }
    }

    private List<Job> copies() {
        List<Job> out = new ArrayList<>(jobs.size());
        for (Job j : jobs.values()) out.add(j.copy());
        return out;
    }
}
