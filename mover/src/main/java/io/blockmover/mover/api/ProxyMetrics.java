package io.blockmover.mover.api;

import io.blockmover.index.repo.Repository;
import io.blockmover.index.s3.RequestCounts;
import io.blockmover.mover.api.v1.JobKind;
import io.blockmover.mover.api.v1.JobPhase;
import io.blockmover.mover.api.v1.JobState;
import io.blockmover.mover.pipeline.TransferCounters;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.Locale;
import java.util.function.IntSupplier;
import java.util.function.Supplier;

/**
 * What the proxy has done, for Prometheus, through its Java client (1.x): bytes moved and how
 * they were skipped or deduplicated, chunks new and known, jobs by kind and state, job and
 * phase durations, transports used, NBD retries, failed jobs by status code, the queue, the repository's size, per VM the
 * time of its last committed backup (the number to alert on), and the JVM's and process's own
 * metrics. Values are counted once a job has ended, from what the job reported, so a scrape
 * after a job shows exactly what it did. One registry per proxy: no global state.
 */
public final class ProxyMetrics {
    private static final Logger log = LoggerFactory.getLogger(ProxyMetrics.class);

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final Counter backupRead = counter("blockmover_backup_read_bytes", "Bytes read from sources by committed backups.");
    private final Counter backupNew = counter("blockmover_backup_new_bytes",
            "Bytes of chunks new to the repository, before compression, in committed backups.");
    private final Counter backupStored = counter("blockmover_backup_stored_bytes",
            "Bytes written to packs for those new chunks (after compression and encryption).");
    private final Counter backupDeduplicated = counter("blockmover_backup_deduplicated_bytes",
            "Bytes read whose chunk the repository already held.");
    private final Counter backupSkipped = Counter.builder().name("blockmover_backup_skipped_bytes")
            .help("Bytes of committed backups never read: holes, areas the source reported as zero, areas reused from the parent.")
            .labelNames("reason").register(registry);
    private final Counter chunks = Counter.builder().name("blockmover_backup_chunks")
            .help("Chunks read by committed backups: new to the repository or already known.")
            .labelNames("kind").register(registry);
    private final Counter restoreWritten = counter("blockmover_restore_written_bytes", "Bytes written to targets by restores.");
    private final Counter jobsEnded = Counter.builder().name("blockmover_jobs")
            .help("Jobs ended, by kind and end state.").labelNames("kind", "state").register(registry);
    private final Counter jobsSubmitted = Counter.builder().name("blockmover_jobs_submitted")
            .help("Jobs accepted into the queue, by kind.").labelNames("kind").register(registry);
    private final Counter errors = Counter.builder().name("blockmover_job_errors")
            .help("Jobs that failed, by gRPC status code.").labelNames("code").register(registry);
    private final Counter retries = counter("blockmover_nbd_retries",
            "Times an NBD connection was lost and re-established (the requests in flight were sent again).");
    private final Counter transports = Counter.builder().name("blockmover_transport_disks")
            .help("Disks read or written, by transport mode.").labelNames("mode").register(registry);
    private final Histogram jobSeconds = Histogram.builder().name("blockmover_job_duration_seconds")
            .help("Time from a job's start to its end, by kind.").labelNames("kind").classicOnly()
            .classicUpperBounds(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 12 * 3600).register(registry);
    private final Histogram phaseSeconds = Histogram.builder().name("blockmover_job_phase_duration_seconds")
            .help("Time jobs spent in each phase.").labelNames("kind", "phase").classicOnly()
            .classicUpperBounds(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300, 1800, 3600, 4 * 3600).register(registry);
    private final Gauge lastBackup = Gauge.builder().name("blockmover_last_backup_timestamp_seconds")
            .help("When the VM's last backup through this proxy committed (seconds since the epoch).").labelNames("vm")
            .register(registry);

    public ProxyMetrics() {
        JvmMetrics.builder().register(registry);
    }

    private Counter counter(String name, String help) {
        return Counter.builder().name(name).help(help).register(registry);
    }

    /** Gauges of the queue: jobs waiting and running. */
    void watchQueue(IntSupplier queued, IntSupplier running) {
        GaugeWithCallback.builder().name("blockmover_queue_length").help("Jobs waiting to start.")
                .callback(cb -> cb.call(queued.getAsInt())).register(registry);
        GaugeWithCallback.builder().name("blockmover_jobs_running").help("Jobs running.")
                .callback(cb -> cb.call(running.getAsInt())).register(registry);
    }

    /** The repository's size on disk: its packs, listed at each scrape (a directory listing, not a scan of the index). */
    void watchRepository(Repository repo) {
        GaugeWithCallback.builder().name("blockmover_repository_size_bytes").help("Bytes of pack files in the repository.")
                .callback(cb -> {
                    try {
                        cb.call(repo.packBytes());
                    } catch (IOException | RuntimeException e) {
                        log.debug("cannot list the repository's packs for metrics: {}", e.getMessage());
                    }
                }).register(registry);
    }

    /** Requests sent to the object store the repository lives in (stores bill per request), read at each scrape. */
    void watchObjectStore(Supplier<RequestCounts> counts) {
        CounterWithCallback.builder().name("blockmover_object_store_requests")
                .help("Requests sent to the object store, by operation (retries included).").labelNames("op")
                .callback(cb -> {
                    RequestCounts c = counts.get();
                    cb.call(c.puts(), "put");
                    cb.call(c.gets(), "get");
                    cb.call(c.lists(), "list");
                    cb.call(c.deletes(), "delete");
                }).register(registry);
        CounterWithCallback.builder().name("blockmover_object_store_retries")
                .help("Object-store requests retried after a transient failure.")
                .callback(cb -> cb.call(counts.get().retries())).register(registry);
        CounterWithCallback.builder().name("blockmover_object_store_bytes")
                .help("Bytes sent to and received from the object store.").labelNames("direction")
                .callback(cb -> {
                    RequestCounts c = counts.get();
                    cb.call(c.bytesUp(), "up");
                    cb.call(c.bytesDown(), "down");
                }).register(registry);
    }

    void jobSubmitted(JobKind kind) {
        jobsSubmitted.labelValues(label(kind)).inc();
    }

    /** @param seconds how long it ran; negative for a job cancelled before it started */
    void jobEnded(JobKind kind, JobState state, double seconds) {
        jobsEnded.labelValues(label(kind), stateLabel(state)).inc();
        if (seconds >= 0) {
            jobSeconds.labelValues(label(kind)).observe(seconds);
        }
    }

    void jobFailed(io.grpc.Status.Code code) {
        errors.labelValues(code.name().toLowerCase(Locale.ROOT)).inc();
    }

    void phaseEnded(JobKind kind, JobPhase phase, double seconds) {
        phaseSeconds.labelValues(label(kind), phase.name().substring("JOB_PHASE_".length()).toLowerCase(Locale.ROOT)).observe(seconds);
    }

    void nbdRetry() {
        retries.inc();
    }

    void transport(String mode) {
        transports.labelValues(mode).inc();
    }

    /** One disk of a committed backup. */
    void backupDisk(TransferCounters.Snapshot s) {
        backupRead.inc(s.read());
        backupNew.inc(s.newData());
        backupStored.inc(s.stored());
        backupDeduplicated.inc(s.deduplicated());
        backupSkipped.labelValues("hole").inc(s.skippedHoles());
        backupSkipped.labelValues("zero").inc(s.skippedZeros());
        backupSkipped.labelValues("reused").inc(s.reusedFromParent());
        chunks.labelValues("new").inc(s.newChunks());
        chunks.labelValues("known").inc(s.knownChunks());
    }

    void backupCommitted(String vm, long epochSecond) {
        lastBackup.labelValues(vm).set(epochSecond);
    }

    void restored(long bytes) {
        restoreWritten.inc(bytes);
    }

    /**
     * Serves {@code /metrics} over plain HTTP. Bind it to loopback (the default of {@code serve})
     * unless a scraper elsewhere must reach it: the numbers name VMs.
     */
    public HTTPServer serve(InetSocketAddress listen) throws IOException {
        try {
            return HTTPServer.builder().hostname(listen.getHostString()).port(listen.getPort()).registry(registry).buildAndStart();
        } catch (IOException e) {
            throw new IOException("cannot serve metrics on " + listen + ": " + e.getMessage(), e);
        }
    }

    static String label(JobKind kind) {
        return JobQueue.label(kind);
    }

    private static String stateLabel(JobState state) {
        return state.name().substring("JOB_STATE_".length()).toLowerCase(Locale.ROOT);
    }
}
