package io.blockmover.mover.api;

import io.blockmover.index.maintenance.GarbageCollector;
import io.blockmover.index.maintenance.GcOptions;
import io.blockmover.index.maintenance.GcReport;
import io.blockmover.index.maintenance.PruneReport;
import io.blockmover.index.maintenance.Pruner;
import io.blockmover.index.maintenance.RepositoryStats;
import io.blockmover.index.maintenance.Retention;
import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.repo.Repository;
import io.blockmover.mover.api.v1.BackupEvent;
import io.blockmover.mover.api.v1.BackupProxyGrpc;
import io.blockmover.mover.api.v1.BackupRequest;
import io.blockmover.mover.api.v1.BackupResult;
import io.blockmover.mover.api.v1.BackupSummary;
import io.blockmover.mover.api.v1.DamagedRange;
import io.blockmover.mover.api.v1.DiskBackupResult;
import io.blockmover.mover.api.v1.DiskRestoreResult;
import io.blockmover.mover.api.v1.DiskSource;
import io.blockmover.mover.api.v1.GcRequest;
import io.blockmover.mover.api.v1.GcResult;
import io.blockmover.mover.api.v1.ListBackupsRequest;
import io.blockmover.mover.api.v1.ListBackupsResponse;
import io.blockmover.mover.api.v1.PruneRequest;
import io.blockmover.mover.api.v1.PruneResult;
import io.blockmover.mover.api.v1.RestoreEvent;
import io.blockmover.mover.api.v1.RestoreRequest;
import io.blockmover.mover.api.v1.RestoreResult;
import io.blockmover.mover.api.v1.StatsRequest;
import io.blockmover.mover.api.v1.StatsResult;
import io.blockmover.mover.api.v1.VerifyRequest;
import io.blockmover.mover.api.v1.VerifyResult;
import io.blockmover.mover.pipeline.ProgressListener;
import io.blockmover.mover.pipeline.VerifyJob;
import io.blockmover.mover.pipeline.RestoreJob;
import io.blockmover.mover.pipeline.BackupChoice;
import io.blockmover.mover.pipeline.BackupInputs;
import io.blockmover.mover.pipeline.BackupJob;
import io.blockmover.mover.pipeline.PipelineSettings;
import io.blockmover.mover.pipeline.TransferCounters;
import io.blockmover.mover.pipeline.UserMessages;
import io.blockmover.mover.transport.RestoreTargets;
import io.blockmover.mover.transport.nbd.NbdAccess;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * The proxy's gRPC service over one open repository. Each call runs as a job on a thread of its
 * own (gRPC's threads only hand requests over), at most {@code maxJobs} at once; later calls
 * wait for a slot. Backups and restores stream progress once a second. The repository stays
 * open between jobs, and the JVM stays warm: a job costs only what it moves.
 */
public final class ProxyService extends BackupProxyGrpc.BackupProxyImplBase implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ProxyService.class);
    private static final long PROGRESS_MILLIS = 1000;

    private final Repository repo;
    private final PipelineSettings settings;
    private final NbdAccess nbd;
    private final RestoreDir restoreDir;
    private final Semaphore slots;
    private final ExecutorService jobs = Executors.newThreadPerTaskExecutor(Thread.ofPlatform().name("job-", 0).daemon().factory());
    private final ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().name("progress").daemon().factory());
    private final Set<JobCall<?>> running = ConcurrentHashMap.newKeySet();
    private final ProxyMetrics metrics = new ProxyMetrics();
    /** VMs with a backup running: a second one at once would only race the first for the same parent. */
    private final Set<String> vmsInBackup = ConcurrentHashMap.newKeySet();

    /**
     * @param restoreDir the only directory restores may write files into; none: NBD targets only
     */
    public ProxyService(Repository repo, PipelineSettings settings, NbdAccess nbd, int maxJobs, Optional<Path> restoreDir)
            throws IOException {
        if (maxJobs < 1) {
            throw new IllegalArgumentException("at least one job at a time: " + maxJobs);
        }
        this.restoreDir = RestoreDir.of(restoreDir);
        this.repo = repo;
        this.settings = settings;
        this.nbd = nbd;
        this.slots = new Semaphore(maxJobs, true);
    }

    /** The body of a call; throws whatever ends it badly. */
    private interface Job<T> {
        T run(JobCall<?> call) throws Exception;
    }

    private <T> void start(ProxyMetrics.Kind kind, String what, JobCall<T> call, Job<T> job) {
        jobs.execute(() -> {
            ScheduledFuture<?> tick = ticker.scheduleAtFixedRate(call::sendProgress, PROGRESS_MILLIS, PROGRESS_MILLIS,
                    TimeUnit.MILLISECONDS);
            running.add(call);
            metrics.jobStarted();
            long start = System.nanoTime();
            T result = null;
            Throwable error = null;
            try {
                slots.acquire();
                try {
                    call.cancellation().check();
                    result = job.run(call);
                } finally {
                    slots.release();
                }
            } catch (Throwable t) {
                log.warn("{} failed: {}", what, UserMessages.describe(t));
                log.debug("{} failed", what, t);
                error = t;
            } finally {
                tick.cancel(false);
                running.remove(call);
                // Counted before the caller hears the end, so a scrape right after it sees the job.
                metrics.jobEnded(kind, error == null ? ProxyMetrics.Outcome.OK
                        : JobCall.statusOf(error).getCode() == Status.Code.CANCELLED ? ProxyMetrics.Outcome.CANCELLED
                        : ProxyMetrics.Outcome.FAILED, (System.nanoTime() - start) / 1e9);
            }
            if (error == null) {
                call.finish(result);
            } else {
                call.fail(error);
            }
        });
    }

    public ProxyMetrics metrics() {
        return metrics;
    }

    @Override
    public void backup(BackupRequest request, StreamObserver<BackupEvent> observer) {
        JobCall<BackupEvent> call = new JobCall<>(observer, p -> BackupEvent.newBuilder().setProgress(p).build());
        start(ProxyMetrics.Kind.BACKUP, "backup of " + request.getVm(), call,
                c -> BackupEvent.newBuilder().setResult(backup(request, c)).build());
    }

    private BackupResult backup(BackupRequest request, JobCall<?> call) throws Exception {
        String vm = request.getVm();
        if (vm.isBlank()) {
            throw new IllegalArgumentException("a backup needs the VM's name");
        }
        BackupJob.Mode mode = switch (request.getMode()) {
            case BACKUP_MODE_FULL -> BackupJob.Mode.FULL;
            case BACKUP_MODE_INCREMENTAL -> BackupJob.Mode.INCREMENTAL;
            case BACKUP_MODE_AUTO, UNRECOGNIZED -> BackupJob.Mode.AUTO;
        };
        List<BackupInputs.Source> sources = new ArrayList<>();
        for (DiskSource d : request.getDisksList()) {
            if (d.getDisk().isBlank() || d.getUri().isBlank()) {
                throw new IllegalArgumentException("every disk needs a name and a source URI");
            }
            sources.add(new BackupInputs.Source(d.getDisk(), d.getUri(), d.getChangeId(),
                    d.getChangesContext().isEmpty() ? Optional.empty() : Optional.of(d.getChangesContext())));
        }
        if (!vmsInBackup.add(vm)) {
            throw new BusyException("a backup of " + vm + " is already running");
        }
        try {
            BackupJob.Result r = new BackupJob(repo, settings, call.cancellation())
                    .run(new BackupJob.Request(vm, request.getLabel(), mode, sources, 0), nbd, call::track).backup();
            BackupResult.Builder out = BackupResult.newBuilder().setBackupId(r.backupId()).setParentId(r.parentId());
            for (BackupJob.DiskOutcome d : r.disks()) {
                TransferCounters.Snapshot s = d.counters();
                metrics.backupCommitted(vm, s.read(), s.newData(), s.stored(), s.deduplicated(), Instant.now().getEpochSecond());
                out.addDisks(DiskBackupResult.newBuilder().setDisk(d.diskId()).setIncremental(d.incremental())
                        .setFullBecause(d.incremental() ? "" : d.why()).setCapacity(s.total()).setReadBytes(s.read())
                        .setSkippedHoleBytes(s.skippedHoles()).setSkippedZeroBytes(s.skippedZeros())
                        .setReusedBytes(s.reusedFromParent()).setNewBytes(s.newData()).setStoredBytes(s.stored())
                        .setDeduplicatedBytes(s.deduplicated()).setSeconds(s.seconds()));
            }
            return out.build();
        } finally {
            vmsInBackup.remove(vm);
        }
    }

    @Override
    public void restore(RestoreRequest request, StreamObserver<RestoreEvent> observer) {
        JobCall<RestoreEvent> call = new JobCall<>(observer, p -> RestoreEvent.newBuilder().setProgress(p).build());
        start(ProxyMetrics.Kind.RESTORE, "restore", call,
                c -> RestoreEvent.newBuilder().setResult(restore(request, c)).build());
    }

    private RestoreResult restore(RestoreRequest request, JobCall<?> call) throws Exception {
        if (request.getTarget().isBlank()) {
            throw new IllegalArgumentException("a restore needs a target: a file, a directory or an NBD URI");
        }
        BackupRecord backup = chosen(request.getBackupId(), request.getVm());
        List<DiskRecord> disks = BackupChoice.disks(backup, optional(request.getDisk()));
        boolean toNbd = RestoreTargets.isNbdUri(request.getTarget());
        boolean toDirectory = !toNbd && restoreDir.isDirectory(request.getTarget());
        if (disks.size() > 1 && !toDirectory) {
            throw new IllegalArgumentException("backup " + backup.id() + " has " + disks.size()
                    + " disks; name one, or give an existing directory as the target");
        }
        List<RestoreJob.Target> targets = new ArrayList<>();
        for (DiskRecord d : disks) {
            targets.add(new RestoreJob.Target(d, toNbd ? request.getTarget() : restoreDir.file(toDirectory
                    ? Path.of(request.getTarget()).resolve(RestoreJob.fileName(backup, d)).toString() : request.getTarget()).toString()));
        }
        RestoreJob.Result r = new RestoreJob(repo, settings, nbd, call.cancellation())
                .run(new RestoreJob.Request(backup, targets, request.getOverwrite()), call::track);
        RestoreResult.Builder out = RestoreResult.newBuilder().setBackupId(backup.id());
        for (RestoreJob.DiskOutcome d : r.disks()) {
            TransferCounters.Snapshot s = d.counters();
            metrics.restored(s.completed());
            out.addDisks(DiskRestoreResult.newBuilder().setDisk(d.diskId()).setTarget(d.where())
                    .setWrittenBytes(s.completed()).setZeroBytes(s.skippedZeros()).setSeconds(s.seconds()));
        }
        return out.build();
    }

    @Override
    public void verify(VerifyRequest request, StreamObserver<VerifyResult> observer) {
        JobCall<VerifyResult> call = new JobCall<>(observer);
        start(ProxyMetrics.Kind.VERIFY, "verify", call, c -> verify(request, c));
    }

    private VerifyResult verify(VerifyRequest request, JobCall<?> call) throws Exception {
        BackupRecord backup = chosen(request.getBackupId(), "");
        List<DiskRecord> disks = BackupChoice.disks(backup, optional(request.getDisk()));
        VerifyJob.Result r = new VerifyJob(repo, settings, nbd, call.cancellation())
                .run(new VerifyJob.Request(backup, disks, optional(request.getAgainstUri()), 1.0), ProgressListener.NONE);
        VerifyResult.Builder out = VerifyResult.newBuilder().setBackupId(backup.id());
        for (VerifyJob.DiskVerdict v : r.disks()) {
            String disk = v.disk().diskId();
            switch (v) {
                case VerifyJob.Checked c -> c.result().damaged().forEach(damage -> out.addProblems(DamagedRange.newBuilder()
                        .setDisk(disk).setOffset(damage.offset()).setLength(v.disk().chunkSize()).setProblem(damage.reason())));
                case VerifyJob.Compared c -> c.result().differences().forEach(differs -> out.addProblems(DamagedRange.newBuilder()
                        .setDisk(disk).setOffset(differs.offset()).setLength(differs.length()).setProblem("differs from the source")));
            }
        }
        return out.setChunksChecked(r.chunks()).setOk(out.getProblemsCount() == 0).build();
    }

    @Override
    public void listBackups(ListBackupsRequest request, StreamObserver<ListBackupsResponse> observer) {
        JobCall<ListBackupsResponse> call = new JobCall<>(observer);
        try {
            ListBackupsResponse.Builder out = ListBackupsResponse.newBuilder();
            for (BackupRecord b : repo.backups()) {
                if (request.getVm().isEmpty() || request.getVm().equals(b.vmId())) {
                    out.addBackups(BackupSummary.newBuilder().setBackupId(b.id()).setVm(b.vmId()).setParentId(b.parentId())
                            .setCreated(b.committed().getEpochSecond()).setLabel(b.label())
                            .addAllDisks(b.disks().stream().map(DiskRecord::diskId).toList()));
                }
            }
            call.finish(out.build());
        } catch (RuntimeException e) {
            call.fail(e);
        }
    }

    @Override
    public void prune(PruneRequest request, StreamObserver<PruneResult> observer) {
        start(ProxyMetrics.Kind.PRUNE, "prune", new JobCall<>(observer), c -> {
            Retention retention = new Retention(request.getKeepLast(), request.getKeepDaily(), request.getKeepWeekly(),
                    request.getKeepMonthly(), request.getKeepYearly());
            PruneReport r = new Pruner(repo).run(retention, ZoneId.systemDefault(), request.getDryRun());
            return PruneResult.newBuilder().addAllRemoved(r.removed()).addAllKept(r.kept()).setDryRun(r.dryRun()).build();
        });
    }

    @Override
    public void collectGarbage(GcRequest request, StreamObserver<GcResult> observer) {
        start(ProxyMetrics.Kind.GC, "gc", new JobCall<>(observer), c -> {
            GcOptions options = GcOptions.defaults();
            if (request.hasGraceSeconds()) {
                options = options.withGrace(Duration.ofSeconds(request.getGraceSeconds()));
            }
            if (request.hasCompactBelow()) {
                options = options.withCompactBelow(request.getCompactBelow());
            }
            GcReport r = new GarbageCollector(repo).run(options);
            return GcResult.newBuilder().setLiveChunks(r.liveChunks()).setDeletedChunkEntries(r.deletedChunkEntries())
                    .setDeletedPacks(r.deletedPacks()).setCompactedPacks(r.compactedPacks()).setKeptForGrace(r.keptForGrace())
                    .setFreedBytes(r.freedBytes()).setDeferredPacks(r.deferredPacks()).build();
        });
    }

    @Override
    public void stats(StatsRequest request, StreamObserver<StatsResult> observer) {
        start(ProxyMetrics.Kind.STATS, "stats", new JobCall<>(observer), c -> {
            RepositoryStats s = RepositoryStats.of(repo);
            return StatsResult.newBuilder().setBackups(s.backups()).setLogicalBytes(s.logicalBytes()).setDataBytes(s.dataBytes())
                    .setUniqueChunks(s.uniqueChunks()).setUniqueBytes(s.uniqueBytes()).setStoredBytes(s.storedBytes())
                    .setPacks(s.packs()).setPackBytes(s.packBytes()).setDedupRatio(s.dedupRatio())
                    .setCompressionRatio(s.compressionRatio()).build();
        });
    }

    private BackupRecord chosen(long backupId, String vm) {
        return BackupChoice.backup(repo, backupId == 0 ? Optional.empty() : Optional.of(backupId), optional(vm));
    }

    private static Optional<String> optional(String s) {
        return s.isEmpty() ? Optional.empty() : Optional.of(s);
    }

    /** Cancels the jobs still running and waits up to {@code millis} for them to stop. */
    public void cancelAll(String why, long millis) throws InterruptedException {
        running.forEach(c -> c.cancellation().cancel(why));
        jobs.shutdown();
        if (!jobs.awaitTermination(millis, TimeUnit.MILLISECONDS)) {
            log.warn("{} jobs did not stop within {} ms", running.size(), millis);
        }
    }

    @Override
    public void close() {
        ticker.shutdownNow();
        jobs.shutdownNow();
    }
}
