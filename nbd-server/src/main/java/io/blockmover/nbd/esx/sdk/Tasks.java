package io.blockmover.nbd.esx.sdk;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * vSphere Task objects: a long call answers a Task at once and does its work on a worker; the
 * caller polls {@code info} and sees it go queued, running (with progress), then success with a
 * result or error with a fault. One task at a time per VM: a second one answers TaskInProgress.
 */
final class Tasks implements AutoCloseable {
    private static final int KEEP = 1000;

    enum State { queued, running, success, error }

    /** The work of a task: returns its result (a reference, or nothing). */
    @FunctionalInterface
    interface Work {
        Optional<Mor> run(Task task) throws SdkFault;
    }

    /** One task; its info changes as it runs, readers see a consistent {@link Info}. */
    static final class Task {
        private final Mor mor;
        private final String name;
        private final String descriptionId;
        private final Mor entity;
        private final String entityName;
        private final Instant queueTime;
        private volatile Info info;

        private Task(Mor mor, String name, String descriptionId, Mor entity, String entityName, Instant queueTime) {
            this.mor = mor;
            this.name = name;
            this.descriptionId = descriptionId;
            this.entity = entity;
            this.entityName = entityName;
            this.queueTime = queueTime;
            this.info = new Info(State.queued, 0, Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty());
        }

        Mor mor() {
            return mor;
        }

        String name() {
            return name;
        }

        String descriptionId() {
            return descriptionId;
        }

        Mor entity() {
            return entity;
        }

        String entityName() {
            return entityName;
        }

        Instant queueTime() {
            return queueTime;
        }

        Info info() {
            return info;
        }

        void progress(int percent) {
            Info i = info;
            info = new Info(State.running, percent, i.result(), i.error(), i.startTime(), Optional.empty());
        }
    }

    /** A task's state at one moment. */
    record Info(State state, int progress, Optional<Mor> result, Optional<SdkFault> error,
                Optional<Instant> startTime, Optional<Instant> completeTime) {}

    private final AtomicInteger numbers = new AtomicInteger(100);
    private final Map<String, Task> tasks = new LinkedHashMap<>();
    private final Map<Mor, Task> runningByEntity = new LinkedHashMap<>();
    private final ExecutorService worker = Executors.newSingleThreadExecutor(
            r -> Thread.ofPlatform().daemon().name("esx-sdk-tasks").unstarted(r));

    /**
     * Queues a task on {@code entity}; TaskInProgress when the entity runs one already or
     * {@code busy} says it is busy (fault injection).
     */
    synchronized Task start(String name, String descriptionId, Mor entity, String entityName, boolean busy, Work work)
            throws SdkFault {
        Task running = runningByEntity.get(entity);
        if (running != null || busy) {
            throw SdkFault.taskInProgress(running != null ? running.mor : new Mor("Task", "task-busy"));
        }
        Task t = new Task(new Mor("Task", "task-" + numbers.incrementAndGet()), name, descriptionId, entity, entityName,
                Instant.now());
        tasks.put(t.mor.value(), t);
        runningByEntity.put(entity, t);
        while (tasks.size() > KEEP) {
            tasks.remove(tasks.keySet().iterator().next());
        }
        worker.execute(() -> run(t, work));
        return t;
    }

    private void run(Task t, Work work) {
        Instant started = Instant.now();
        t.info = new Info(State.running, 0, Optional.empty(), Optional.empty(), Optional.of(started), Optional.empty());
        Info done;
        try {
            Optional<Mor> result = work.run(t);
            done = new Info(State.success, 100, result, Optional.empty(), Optional.of(started), Optional.of(Instant.now()));
        } catch (SdkFault f) {
            done = new Info(State.error, t.info.progress(), Optional.empty(), Optional.of(f), Optional.of(started),
                    Optional.of(Instant.now()));
        } catch (RuntimeException e) {
            done = new Info(State.error, t.info.progress(), Optional.empty(),
                    Optional.of(SdkFault.systemError(String.valueOf(e.getMessage()))), Optional.of(started),
                    Optional.of(Instant.now()));
        }
        synchronized (this) {
            t.info = done;
            runningByEntity.remove(t.entity, t);
        }
    }

    synchronized Optional<Task> find(String value) {
        return Optional.ofNullable(tasks.get(value));
    }

    @Override
    public void close() {
        worker.shutdownNow();
    }
}
