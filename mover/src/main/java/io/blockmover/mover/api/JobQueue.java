package io.blockmover.mover.api;

import io.blockmover.mover.api.store.TakenSnapshot;
import io.blockmover.mover.api.v1.Job;
import io.blockmover.mover.api.v1.JobKind;
import io.blockmover.mover.api.v1.JobState;
import io.blockmover.mover.api.v1.ListJobsRequest;
import io.grpc.Status;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SequencedMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The proxy's jobs: a queue in submission order, started as the {@link JobLimits} allow (the
 * head of the queue starts first: a large job is never overtaken by smaller ones forever), the
 * running ones, and the history. Every change of state is written to the {@link JobTable} before
 * anyone is told of it.
 */
final class JobQueue implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(JobQueue.class);
    /** Ended jobs kept (in memory and in the table) for GetJob and ListJobs. */
    static final int HISTORY = 1000;

    private final JobLimits limits;
    private final JobTable table;
    private final ProxyMetrics metrics;
    private final ExecutorService runner = Executors.newThreadPerTaskExecutor(Thread.ofPlatform().name("job-", 0).daemon().factory());
    private final Deque<ProxyJob> queued = new ArrayDeque<>();
    private final SequencedMap<String, ProxyJob> running = new LinkedHashMap<>();
    private final SequencedMap<String, Job> ended = new LinkedHashMap<>();
    private final Map<String, Integer> connectionsInUse = new HashMap<>();
    private int disksInUse;
    private long sequence;
    private boolean closed;

    JobQueue(JobLimits limits, JobTable table, JobTable.Recovered recovered, ProxyMetrics metrics) {
        this.limits = limits;
        this.table = table;
        this.metrics = metrics;
        this.sequence = recovered.lastSequence();
        recovered.jobs().forEach(j -> ended.put(j.getId(), j));
        metrics.watchQueue(this::queuedCount, this::runningCount);
    }

    /**
     * Queues a job and starts it if the limits allow.
     *
     * @throws io.grpc.StatusRuntimeException ALREADY_EXISTS for a second backup of a VM,
     *         RESOURCE_EXHAUSTED when the queue is full, INVALID_ARGUMENT for a job larger than the limits
     */
    synchronized ProxyJob submit(JobKind kind, String vm, JobDemand demand, ProxyJob.Work work) throws IOException {
        if (closed) {
            throw Status.UNAVAILABLE.withDescription("the proxy is shutting down").asRuntimeException();
        }
        if (kind == JobKind.JOB_KIND_BACKUP) {
            // An ended job still releasing its slot is no twin: its caller has already been told
            // how it ended, and may rightly try again at once.
            Optional<ProxyJob> twin = live().filter(j -> j.kind == JobKind.JOB_KIND_BACKUP && j.vm.equals(vm) && !j.ended()).findFirst();
            if (twin.isPresent()) {
                throw Status.ALREADY_EXISTS.withDescription("a backup of " + vm + " is already " + (queued.contains(twin.get())
                        ? "queued" : "running") + " as " + twin.get().id + "; one backup of a VM at a time").asRuntimeException();
            }
        }
        checkFits(kind, vm, demand);
        if (kind == JobKind.JOB_KIND_EXPORT) {
            return serveAtOnce(kind, vm, work);
        }
        if (queued.size() >= limits.queue()) {
            throw Status.RESOURCE_EXHAUSTED.withDescription("the proxy's queue is full (" + limits.queue()
                    + " jobs waiting); retry later").asRuntimeException();
        }
        ProxyJob job = new ProxyJob(JobTable.idOf(++sequence), kind, vm, demand, work, metrics::phaseEnded);
        table.write(job.view(queued.size() + 1), List.of());
        queued.addLast(job);
        metrics.jobSubmitted(kind);
        log.info("{}: {}{} queued", job.id, label(kind), vm.isEmpty() ? "" : " of " + vm);
        dispatch();
        return job;
    }

    /**
     * An export serves until it is stopped, for hours while a VM runs from it: it takes no job
     * slot, holds no disk or connection of the limits (clients connect to it), and never waits
     * behind queued jobs.
     */
    private ProxyJob serveAtOnce(JobKind kind, String vm, ProxyJob.Work work) throws IOException {
        ProxyJob job = new ProxyJob(JobTable.idOf(++sequence), kind, vm, JobDemand.NONE, work, metrics::phaseEnded);
        metrics.jobSubmitted(kind);
        running.put(job.id, job);
        job.started();
        persist(job);
        log.info("{}: {} of {} started", job.id, label(kind), vm);
        runner.execute(() -> run(job));
        return job;
    }

    /** A job that could never start under the limits is refused now rather than block the queue for good. */
    private void checkFits(JobKind kind, String vm, JobDemand demand) {
        String what = label(kind) + (vm.isEmpty() ? "" : " of " + vm);
        if (demand.disks() > limits.disks()) {
            throw Status.INVALID_ARGUMENT.withDescription(what + " needs " + demand.disks() + " disks at once, more than the proxy's limit of "
                    + limits.disks()).asRuntimeException();
        }
        demand.connectionsByHost().forEach((host, n) -> {
            if (n > limits.connectionsPerHost()) {
                throw Status.INVALID_ARGUMENT.withDescription(what + " needs " + n + " NBD connections to " + host
                        + " at once, more than the proxy's limit of " + limits.connectionsPerHost()
                        + " per host; back up fewer disks at once or use fewer connections per disk").asRuntimeException();
            }
        });
    }

    /** Starts queued jobs from the head while the head fits. */
    private void dispatch() {
        while (!closed && !queued.isEmpty() && fits(queued.peekFirst().demand)) {
            ProxyJob job = queued.pollFirst();
            disksInUse += job.demand.disks();
            job.demand.connectionsByHost().forEach((host, n) -> connectionsInUse.merge(host, n, Integer::sum));
            running.put(job.id, job);
            job.started();
            persist(job);
            runner.execute(() -> run(job));
        }
    }

    private boolean fits(JobDemand demand) {
        long slots = running.values().stream().filter(j -> j.kind != JobKind.JOB_KIND_EXPORT).count();
        if (slots >= limits.jobs() || disksInUse + demand.disks() > limits.disks()) {
            return false;
        }
        return demand.connectionsByHost().entrySet().stream()
                .allMatch(e -> connectionsInUse.getOrDefault(e.getKey(), 0) + e.getValue() <= limits.connectionsPerHost());
    }

    private void run(ProxyJob job) {
        long start = System.nanoTime();
        try {
            job.cancellation.check();
            job.succeeded(job.work.run(job));
            log.info("{}: {} done", job.id, label(job.kind));
        } catch (Throwable t) {
            Status status = Statuses.of(t);
            job.failed(status);
            if (status.getCode() != Status.Code.CANCELLED) {
                metrics.jobFailed(status.getCode());
            }
            log.warn("{}: {} {}: {}", job.id, label(job.kind), status.getCode() == Status.Code.CANCELLED ? "cancelled" : "failed",
                    status.getDescription());
            log.debug("{} failed", job.id, t);
        } finally {
            synchronized (this) {
                running.remove(job.id);
                disksInUse -= job.demand.disks();
                job.demand.connectionsByHost().forEach((host, n) -> connectionsInUse.merge(host, -n, Integer::sum));
                retire(job);
                metrics.jobEnded(job.kind, job.state(), (System.nanoTime() - start) / 1e9);
                dispatch();
            }
        }
    }

    /** Records an ended job in the table and the history, dropping the oldest beyond {@link #HISTORY}. */
    private void retire(ProxyJob job) {
        Job view = job.view(0);
        // A snapshot the job could not remove stays recorded: the next start tries again.
        persist(view, job.snapshots());
        ended.put(job.id, view);
        while (ended.size() > HISTORY) {
            String oldest = ended.pollFirstEntry().getKey();
            try {
                table.forget(oldest);
            } catch (IOException e) {
                log.warn("cannot drop {} from the job table: {}", oldest, e.getMessage());
            }
        }
    }

    private void persist(ProxyJob job) {
        persist(job.view(position(job)), job.snapshots());
    }

    /** Records the snapshots {@code job} holds now, before it goes on: a crash after this leaves them for the next start. */
    synchronized void snapshotsChanged(ProxyJob job) {
        persist(job);
    }

    /** A job table that cannot be written loses only the job's story after a crash, never data: warn and go on. */
    private void persist(Job view, List<TakenSnapshot> snapshots) {
        try {
            table.write(view, snapshots);
        } catch (IOException e) {
            log.warn("cannot write {} to the job table: {}", view.getId(), e.getMessage());
        }
    }

    /** Cancels a queued job at once, a running one at its next safe point; answers its state. */
    synchronized Optional<Job> cancel(String id, String why) {
        for (ProxyJob job : queued) {
            if (job.id.equals(id)) {
                queued.remove(job);
                job.failed(Status.CANCELLED.withDescription(why));
                retire(job);
                metrics.jobEnded(job.kind, job.state(), -1);
                log.info("{}: {} cancelled before it started: {}", id, label(job.kind), why);
                dispatch();
                return Optional.of(job.view(0));
            }
        }
        ProxyJob job = running.get(id);
        if (job != null) {
            job.cancellation.cancel(why);
            return Optional.of(job.view(0));
        }
        return Optional.ofNullable(ended.get(id));
    }

    synchronized Optional<ProxyJob> live(String id) {
        ProxyJob r = running.get(id);
        return r != null ? Optional.of(r) : queued.stream().filter(j -> j.id.equals(id)).findFirst();
    }

    synchronized Optional<Job> get(String id) {
        return live(id).map(j -> j.view(position(j))).or(() -> Optional.ofNullable(ended.get(id)));
    }

    synchronized List<Job> list(ListJobsRequest filter) {
        List<Job> all = new ArrayList<>(ended.values());
        live().forEach(j -> all.add(j.view(position(j))));
        return all.stream()
                .filter(j -> filter.getState() == JobState.JOB_STATE_UNSPECIFIED || j.getState() == filter.getState())
                .filter(j -> filter.getKind() == JobKind.JOB_KIND_UNSPECIFIED || j.getKind() == filter.getKind())
                .filter(j -> filter.getVm().isEmpty() || j.getVm().equals(filter.getVm()))
                .sorted(Comparator.comparingLong(j -> JobTable.sequence(j.getId())))
                .toList();
    }

    /** 1 for the head of the queue; 0 for a job not queued. */
    synchronized int position(ProxyJob job) {
        int i = 1;
        for (ProxyJob q : queued) {
            if (q == job) {
                return i;
            }
            i++;
        }
        return 0;
    }

    private java.util.stream.Stream<ProxyJob> live() {
        return java.util.stream.Stream.concat(running.values().stream(), queued.stream());
    }

    private synchronized int queuedCount() {
        return queued.size();
    }

    private synchronized int runningCount() {
        return running.size();
    }

    /** Cancels every queued and running job and waits up to {@code millis} for the running ones to stop. */
    void cancelAll(String why, long millis) throws InterruptedException {
        synchronized (this) {
            closed = true;
            for (ProxyJob job : List.copyOf(queued)) {
                cancel(job.id, why);
            }
            running.values().forEach(j -> j.cancellation.cancel(why));
        }
        runner.shutdown();
        if (!runner.awaitTermination(millis, TimeUnit.MILLISECONDS)) {
            log.warn("{} jobs did not stop within {} ms", runningCount(), millis);
        }
    }

    static String label(JobKind kind) {
        return kind.name().substring("JOB_KIND_".length()).toLowerCase(java.util.Locale.ROOT);
    }

    @Override
    public void close() {
        runner.shutdownNow();
    }
}
