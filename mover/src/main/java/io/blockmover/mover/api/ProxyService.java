package io.blockmover.mover.api;

import com.google.protobuf.Message;
import io.blockmover.index.maintenance.GarbageCollector;
import io.blockmover.index.maintenance.GcOptions;
import io.blockmover.index.maintenance.GcReport;
import io.blockmover.index.maintenance.PruneReport;
import io.blockmover.index.maintenance.Pruner;
import io.blockmover.index.maintenance.RepositoryStats;
import io.blockmover.index.maintenance.Retention;
import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.manifest.Names;
import io.blockmover.index.repo.Repository;
import io.blockmover.mover.api.store.StoredJob;
import io.blockmover.mover.api.store.TakenSnapshot;
import io.blockmover.mover.api.v1.ExportStatus;
import io.blockmover.mover.api.v1.InUseBackup;
import io.blockmover.mover.api.v1.ListExportsRequest;
import io.blockmover.mover.api.v1.ListExportsResponse;
import io.blockmover.mover.api.v1.StartExportRequest;
import io.blockmover.mover.api.v1.StopExportRequest;
import io.blockmover.mover.export.BackupExport;
import io.blockmover.mover.export.ExportOptions;
import io.blockmover.nbd.server.ServerTls;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;

import io.blockmover.index.s3.S3Repository;
import io.blockmover.mover.api.v1.BackupEvent;
import io.blockmover.mover.api.v1.BackupProxyGrpc;
import io.blockmover.mover.api.v1.BackupRequest;
import io.blockmover.mover.api.v1.BackupResult;
import io.blockmover.mover.api.v1.BackupSummary;
import io.blockmover.mover.api.v1.DamagedRange;
import io.blockmover.mover.api.v1.DiskBackupResult;
import io.blockmover.mover.api.v1.DiskProgress;
import io.blockmover.mover.api.v1.DiskRestoreResult;
import io.blockmover.mover.api.v1.DiskSource;
import io.blockmover.mover.api.v1.GcRequest;
import io.blockmover.mover.api.v1.GcResult;
import io.blockmover.mover.api.v1.Job;
import io.blockmover.mover.api.v1.JobKind;
import io.blockmover.mover.api.v1.JobPhase;
import io.blockmover.mover.api.v1.JobRef;
import io.blockmover.mover.api.v1.JobState;
import io.blockmover.mover.api.v1.ListBackupsRequest;
import io.blockmover.mover.api.v1.ListBackupsResponse;
import io.blockmover.mover.api.v1.ListJobsRequest;
import io.blockmover.mover.api.v1.ListJobsResponse;
import io.blockmover.mover.api.v1.Progress;
import io.blockmover.mover.api.v1.PruneRequest;
import io.blockmover.mover.api.v1.PruneResult;
import io.blockmover.mover.api.v1.RestoreEvent;
import io.blockmover.mover.api.v1.RestoreRequest;
import io.blockmover.mover.api.v1.RestoreResult;
import io.blockmover.mover.api.v1.StatsRequest;
import io.blockmover.mover.api.v1.StatsResult;
import io.blockmover.mover.api.v1.VerifyRequest;
import io.blockmover.mover.api.v1.VerifyResult;
import io.blockmover.mover.pipeline.BackupChoice;
import io.blockmover.mover.pipeline.BackupInputs;
import io.blockmover.mover.vsphere.SnapshotPolicy;
import io.blockmover.mover.vsphere.VmInfo;
import io.blockmover.mover.vsphere.VmSelector;
import io.blockmover.mover.vsphere.VsphereBackup;
import io.blockmover.mover.vsphere.VsphereException;
import io.blockmover.mover.pipeline.BackupJob;
import io.blockmover.mover.pipeline.PipelineSettings;
import io.blockmover.mover.pipeline.RestoreJob;
import io.blockmover.mover.pipeline.VerifyJob;
import io.blockmover.mover.pipeline.TransferCounters;
import io.blockmover.mover.pipeline.UserMessages;
import io.blockmover.mover.transport.RestoreTargets;
import io.blockmover.mover.transport.TransportSelection;
import io.blockmover.mover.transport.vddk.TransportChoice;
import io.blockmover.mover.transport.vddk.VddkSettings;
import io.blockmover.mover.transport.vddk.VddkUri;
import io.blockmover.mover.transport.file.FileTargetOptions;
import io.blockmover.mover.transport.nbd.NbdAccess;
import io.blockmover.mover.transport.nbd.NbdUri;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The proxy's gRPC service over one open repository. Every backup, restore, verify, prune and gc
 * is a job of the {@link JobQueue}: Submit calls check the request and answer the job's id at
 * once; WatchJob, GetJob, ListJobs and CancelJob follow it. The streaming calls of the first API
 * (Backup, Restore, Verify, Prune, CollectGarbage) submit a job and follow it for the caller;
 * cancelling such a call cancels its job. The repository stays open and the JVM warm between
 * jobs: a job costs only what it moves.
 */
public final class ProxyService extends BackupProxyGrpc.BackupProxyImplBase implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ProxyService.class);
    private static final long PROGRESS_MILLIS = 1000;
    /** How often a running backup is checked for having read everything (then it is committing). */
    private static final long PHASE_PROBE_MILLIS = 200;

    /**
     * Removes a snapshot the proxy took and a crash left behind. The proxy takes snapshots only
     * when it drives vSphere itself; {@link #NONE} is for a proxy given snapshots by its scheduler.
     */
    public interface SnapshotRemover {
        SnapshotRemover NONE = (vm, name) -> {
            throw new IOException("this proxy has no vSphere connection to remove it with");
        };

        void remove(String vm, String snapshot) throws IOException;
    }

    private final Repository repo;
    private final PipelineSettings settings;
    private final NbdAccess nbd;
    private final VddkSettings vddk;
    private final RestoreDir restoreDir;
    private final SourcePolicy policy;
    private final ProxyMetrics metrics = new ProxyMetrics();
    private final JobQueue queue;
    private final Optional<ServerTls> exportTls;
    private final Optional<VcenterBackups> vcenter;
    /** The exports being served, by the id of the export job serving each. */
    private final Map<String, BackupExport> exports = new ConcurrentHashMap<>();
    private final ScheduledExecutorService probe = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().name("job-phases").daemon().factory());

    /**
     * @param restoreDir the only directory restores may write files into; none: NBD targets only
     * @param jobTable   where the job table lives (created if missing)
     * @param policy     the NBD servers backups may read from and restores may write to
     */
    public ProxyService(Repository repo, PipelineSettings settings, NbdAccess nbd, JobLimits limits, Optional<Path> restoreDir,
                        Path jobTable, SnapshotRemover snapshots, SourcePolicy policy) throws IOException {
        this(repo, settings, nbd, limits, restoreDir, jobTable, snapshots, VddkSettings.defaults(), policy);
    }

    /**
     * @param vddk this proxy's VDDK (library, config, default modes); a request may choose the
     *             transport and the modes, never the library
     */
    public ProxyService(Repository repo, PipelineSettings settings, NbdAccess nbd, JobLimits limits, Optional<Path> restoreDir,
                        Path jobTable, SnapshotRemover snapshots, VddkSettings vddk, SourcePolicy policy) throws IOException {
        this(repo, settings, nbd, limits, restoreDir, jobTable, snapshots, vddk, Optional.empty(), policy);
    }

    /** @param exportTls STARTTLS for the NBD exports StartExport serves */
    public ProxyService(Repository repo, PipelineSettings settings, NbdAccess nbd, JobLimits limits, Optional<Path> restoreDir,
                        Path jobTable, SnapshotRemover snapshots, VddkSettings vddk, Optional<ServerTls> exportTls,
                        SourcePolicy policy) throws IOException {
        this(repo, settings, nbd, limits, restoreDir, jobTable, snapshots, vddk, exportTls, policy, Optional.empty());
    }

    /**
     * @param vcenter what backups by VM selector go through; none: such backups are refused. Their
     *                disks are read where the operator's snapshot transport says, so {@code policy}
     *                governs only the NBD URIs requests name.
     */
    public ProxyService(Repository repo, PipelineSettings settings, NbdAccess nbd, JobLimits limits, Optional<Path> restoreDir,
                        Path jobTable, SnapshotRemover snapshots, VddkSettings vddk, Optional<ServerTls> exportTls,
                        SourcePolicy policy, Optional<VcenterBackups> vcenter) throws IOException {
        this.vcenter = vcenter;
        this.vddk = vddk;
        this.exportTls = exportTls;
        this.restoreDir = RestoreDir.of(restoreDir);
        this.policy = policy;
        this.repo = repo;
        this.settings = settings;
        this.nbd = new NbdAccess(nbd.resolve(), nbd.options().withRetry(nbd.options().retry().observed(metrics::nbdRetry)));
        JobTable table = JobTable.at(jobTable);
        JobTable.Recovered recovered = table.recover();
        removeLeftovers(table, recovered.withLeftoverSnapshots(), snapshots);
        this.queue = new JobQueue(limits, table, recovered, metrics);
        metrics.watchRepository(repo);
        if (S3Repository.counts(repo) != null) {
            metrics.watchObjectStore(() -> S3Repository.counts(repo));
        }
    }

    /** The job table's usual place: beside the repository's own files, inside its directory. */
    public static Path defaultJobTable(Repository repo) {
        return repo.root().resolve("proxy-jobs");
    }

    /** Removes the snapshots crashed jobs left; those that cannot be removed stay recorded for the next start. */
    private static void removeLeftovers(JobTable table, List<StoredJob> leftovers, SnapshotRemover snapshots) throws IOException {
        for (StoredJob stored : leftovers) {
            List<TakenSnapshot> remaining = new ArrayList<>();
            for (TakenSnapshot s : stored.getSnapshotsList()) {
                try {
                    snapshots.remove(s.getVm(), s.getName());
                    log.info("removed snapshot {} of {}, left behind by {}", s.getName(), s.getVm(), stored.getJob().getId());
                } catch (IOException | RuntimeException e) {
                    remaining.add(s);
                    log.warn("snapshot {} of {} was left behind by {} and cannot be removed now (the next start tries again): {}",
                            s.getName(), s.getVm(), stored.getJob().getId(), UserMessages.describe(e));
                }
            }
            table.write(stored.getJob(), remaining);
        }
    }

    public ProxyMetrics metrics() {
        return metrics;
    }

    // ---- Submitting ----

    @Override
    public void submitBackup(BackupRequest request, StreamObserver<JobRef> observer) {
        answer(observer, () -> ref(backupJob(request)));
    }

    @Override
    public void submitRestore(RestoreRequest request, StreamObserver<JobRef> observer) {
        answer(observer, () -> ref(restoreJob(request)));
    }

    @Override
    public void submitVerify(VerifyRequest request, StreamObserver<JobRef> observer) {
        answer(observer, () -> ref(verifyJob(request)));
    }

    @Override
    public void submitPrune(PruneRequest request, StreamObserver<JobRef> observer) {
        answer(observer, () -> ref(pruneJob(request)));
    }

    @Override
    public void submitGc(GcRequest request, StreamObserver<JobRef> observer) {
        answer(observer, () -> ref(gcJob(request)));
    }

    private static JobRef ref(ProxyJob job) {
        return JobRef.newBuilder().setId(job.id).build();
    }

    private ProxyJob backupJob(BackupRequest request) throws IOException {
        if (!request.getVmSelector().isEmpty()) {
            return vcenterBackupJob(request);
        }
        String vm = request.getVm();
        if (vm.isBlank()) {
            throw new IllegalArgumentException("a backup needs the VM's name");
        }
        if (request.getDisksCount() == 0) {
            throw new IllegalArgumentException("a backup of " + vm + " needs at least one disk");
        }
        RequestLimits.check(request);
        BackupJob.Mode mode = mode(request);
        List<BackupInputs.Source> sources = new ArrayList<>();
        List<NbdUri> uris = new ArrayList<>();
        for (DiskSource d : request.getDisksList()) {
            if (d.getDisk().isBlank() || d.getUri().isBlank()) {
                throw new IllegalArgumentException("every disk needs a name and a source URI");
            }
            policy.checkSource(d.getUri());
            if (!d.getNbdFallback().isEmpty()) {
                policy.checkSource(d.getNbdFallback());
            }
            // A vddk:// disk holds NBD connections only if it falls back to its NBD export.
            Optional<String> nbdSide = VddkUri.isVddk(d.getUri()) ? optional(d.getNbdFallback()) : Optional.of(d.getUri());
            nbdSide.ifPresent(u -> uris.add(nbd.uri(u)));
            sources.add(new BackupInputs.Source(d.getDisk(), d.getUri(), d.getChangeId(), optional(d.getChangesContext()),
                    optional(d.getNbdFallback()), optional(d.getChangedAreas())));
        }
        // Every source of a backup is opened at its start and held to its end.
        return queue.submit(JobKind.JOB_KIND_BACKUP, vm, demand(sources.size(), uris), job -> backup(job, request, mode, sources, uris));
    }

    private static BackupJob.Mode mode(BackupRequest request) {
        return switch (request.getMode()) {
            case BACKUP_MODE_FULL -> BackupJob.Mode.FULL;
            case BACKUP_MODE_INCREMENTAL -> BackupJob.Mode.INCREMENTAL;
            case BACKUP_MODE_AUTO, UNRECOGNIZED -> BackupJob.Mode.AUTO;
        };
    }

    /**
     * A backup of the VM a selector names, through the proxy's vCenter. The VM is found now, so a
     * bad selector fails the Submit call and the one-backup-per-VM rule holds by the VM's name
     * whichever selector named it.
     */
    private ProxyJob vcenterBackupJob(BackupRequest request) throws IOException {
        VcenterBackups vc = vcenter.orElseThrow(() -> Status.FAILED_PRECONDITION.withDescription("a backup by vm_selector needs a proxy "
                + "started with --vcenter; this one was not, so give the disks' sources instead").asRuntimeException());
        if (request.getDisksCount() > 0) {
            throw new IllegalArgumentException("give disks or vm_selector, not both");
        }
        RequestLimits.checkBySelector(request);
        VmSelector selector = VmSelector.parse(request.getVmSelector());
        VmInfo vm;
        try {
            vm = vc.control().inventory().get(selector.resolve(vc.control().connection(), vc.control().inventory()));
        } catch (VmSelector.NoMatch e) {
            throw Status.NOT_FOUND.withDescription(e.getMessage()).asRuntimeException();
        } catch (VsphereException e) {
            throw Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException();
        } catch (java.rmi.RemoteException e) {
            throw Status.UNAVAILABLE.withDescription("cannot look up " + selector + " in vCenter: " + e.getMessage()).asRuntimeException();
        }
        Names.check("VM name", vm.name());
        if (!request.getVm().isEmpty() && !request.getVm().equals(vm.name())) {
            throw new IllegalArgumentException(selector + " selects " + vm.name() + ", not " + request.getVm());
        }
        VsphereBackup.Request backup = new VsphereBackup.Request(VmSelector.parse("moref:" + vm.moref()), mode(request),
                request.getSnapshotPolicy().isEmpty() ? SnapshotPolicy.AUTOMATIC : SnapshotPolicy.parse(request.getSnapshotPolicy()),
                optional(request.getSnapshotName()), preexisting(request.getPreexisting()), request.getQuiesce(), vc.proxyId(),
                request.getLabel());
        // Every disk a snapshot can back up is opened at the start and held to the end; its NBD
        // connections go to the host serving the snapshot, which the transport knows only once it has it.
        int disks = (int) Math.max(1, vm.disks().stream().filter(d -> d.skipReason().isEmpty()).count());
        return queue.submit(JobKind.JOB_KIND_BACKUP, vm.name(), new JobDemand(disks, Map.of()), job -> vcenterBackup(job, vc, backup));
    }

    private static VsphereBackup.Preexisting preexisting(String text) {
        return switch (text) {
            case "", "fail" -> VsphereBackup.Preexisting.FAIL;
            case "delete" -> VsphereBackup.Preexisting.DELETE;
            default -> throw new IllegalArgumentException("preexisting wants fail or delete, not '" + text + "'");
        };
    }

    private BackupResult vcenterBackup(ProxyJob job, VcenterBackups vc, VsphereBackup.Request request) throws Exception {
        var commitWatch = probe.scheduleAtFixedRate(() -> {
            if (job.allDisksDone()) {
                job.phase(JobPhase.JOB_PHASE_COMMIT);
            }
        }, PHASE_PROBE_MILLIS, PHASE_PROBE_MILLIS, TimeUnit.MILLISECONDS);
        VsphereBackup.Result r;
        try {
            r = new VsphereBackup(vc.control(), vc.transport(), repo, settings).run(request, job.cancellation,
                    (disk, counters) -> {
                        job.track(disk, counters);
                        job.phase(JobPhase.JOB_PHASE_READ);
                    }, new JobSteps(job));
        } finally {
            commitWatch.cancel(false);
        }
        BackupJob.Result b = r.backup();
        BackupResult.Builder out = BackupResult.newBuilder().setBackupId(b.backupId()).setParentId(b.parentId())
                .setSnapshot(r.snapshot()).setSnapshotRemoved(r.snapshotRemoved()).addAllWarnings(r.warnings())
                .setVmMoref(r.vm().moref());
        for (BackupJob.DiskOutcome d : b.disks()) {
            TransferCounters.Snapshot s = d.counters();
            metrics.backupDisk(s);
            out.addDisks(DiskBackupResult.newBuilder().setDisk(d.diskId()).setIncremental(d.incremental())
                    .setFullBecause(d.incremental() ? "" : d.why()).setCapacity(s.total()).setReadBytes(s.read())
                    .setSkippedHoleBytes(s.skippedHoles()).setSkippedZeroBytes(s.skippedZeros())
                    .setReusedBytes(s.reusedFromParent()).setNewBytes(s.newData()).setStoredBytes(s.stored())
                    .setDeduplicatedBytes(s.deduplicated()).setSeconds(s.seconds()).setTransport("nbd"));
        }
        metrics.backupCommitted(r.vm().name(), Instant.now().getEpochSecond());
        return out.build();
    }

    /** Shows a vCenter backup's steps as the job's phases and warnings, and keeps its snapshot in the job table. */
    private final class JobSteps implements VsphereBackup.Steps {
        private final ProxyJob job;

        JobSteps(ProxyJob job) {
            this.job = job;
        }

        @Override
        public void snapshotting() {
            job.phase(JobPhase.JOB_PHASE_SNAPSHOT);
        }

        @Override
        public void snapshotTaken(VmInfo vm, VmInfo.SnapshotInfo snapshot) {
            job.tookSnapshot(taken(vm, snapshot));
            queue.snapshotsChanged(job);
        }

        @Override
        public void warning(String warning) {
            job.warn(warning);
        }

        @Override
        public void removingSnapshot() {
            job.phase(JobPhase.JOB_PHASE_CLEANUP);
        }

        @Override
        public void snapshotRemoved(VmInfo vm, VmInfo.SnapshotInfo snapshot) {
            job.removedSnapshot(taken(vm, snapshot));
            queue.snapshotsChanged(job);
        }

        private static TakenSnapshot taken(VmInfo vm, VmInfo.SnapshotInfo snapshot) {
            return TakenSnapshot.newBuilder().setVm(vm.name()).setName(snapshot.name()).build();
        }
    }

    private BackupResult backup(ProxyJob job, BackupRequest request, BackupJob.Mode mode, List<BackupInputs.Source> sources,
                                List<NbdUri> uris) throws Exception {
        String vm = request.getVm();
        job.phase(JobPhase.JOB_PHASE_PREPARE);
        Optional<BackupRecord> parent = repo.latest(vm);
        uris.forEach(u -> metrics.transport(mode(u)));
        var commitWatch = probe.scheduleAtFixedRate(() -> {
            if (job.allDisksDone()) {
                job.phase(JobPhase.JOB_PHASE_COMMIT);
            }
        }, PHASE_PROBE_MILLIS, PHASE_PROBE_MILLIS, TimeUnit.MILLISECONDS);
        VddkSettings jobVddk = vddk.withChoice(request.getTransport().isEmpty() ? vddk.choice() : TransportChoice.parse(request.getTransport()))
                .withModes(request.getVddkModes().isEmpty() ? vddk.modes() : request.getVddkModes());
        BackupJob.Outcome outcome;
        try {
            outcome = new BackupJob(repo, settings, job.cancellation)
                    .run(new BackupJob.Request(vm, request.getLabel(), mode, sources, 0), new TransportSelection(nbd, jobVddk),
                            (disk, counters) -> {
                                job.track(disk, counters);
                                job.phase(JobPhase.JOB_PHASE_READ);
                            });
        } finally {
            commitWatch.cancel(false);
        }
        BackupJob.Result r = outcome.backup();
        BackupResult.Builder out = BackupResult.newBuilder().setBackupId(r.backupId()).setParentId(r.parentId());
        for (BackupJob.DiskOutcome d : r.disks()) {
            TransferCounters.Snapshot s = d.counters();
            metrics.backupDisk(s);
            if (!d.incremental() && parent.isPresent() && mode != BackupJob.Mode.FULL) {
                job.warn(d.diskId() + " was backed up in full: " + d.why());
            }
            out.addDisks(DiskBackupResult.newBuilder().setDisk(d.diskId()).setIncremental(d.incremental())
                    .setFullBecause(d.incremental() ? "" : d.why()).setCapacity(s.total()).setReadBytes(s.read())
                    .setSkippedHoleBytes(s.skippedHoles()).setSkippedZeroBytes(s.skippedZeros())
                    .setReusedBytes(s.reusedFromParent()).setNewBytes(s.newData()).setStoredBytes(s.stored())
                    .setDeduplicatedBytes(s.deduplicated()).setSeconds(s.seconds())
                    .setTransport(outcome.transport(d.diskId()).transport())
                    .setTransportMode(outcome.transport(d.diskId()).mode().orElse(""))
                    .setFallbackFromVddk(outcome.transport(d.diskId()).fallbackReason().orElse("")));
        }
        metrics.backupCommitted(vm, Instant.now().getEpochSecond());
        return out.build();
    }

    private ProxyJob restoreJob(RestoreRequest request) throws IOException {
        if (request.getTarget().isBlank()) {
            throw new IllegalArgumentException("a restore needs a target: a file, a directory, an NBD URI or a vddk:// URI");
        }
        RequestLimits.check(request);
        if (RestoreTargets.isRemote(request.getTarget())) {
            policy.checkRestoreTarget(request.getTarget());
        }
        BackupRecord backup = chosen(request.getBackupId(), request.getVm());
        List<DiskRecord> disks = BackupChoice.disks(backup, optional(request.getDisk()));
        boolean toNbd = RestoreTargets.isRemote(request.getTarget());
        boolean toDirectory = !toNbd && restoreDir.isDirectory(request.getTarget());
        if (disks.size() > 1 && !toDirectory) {
            throw new IllegalArgumentException("backup " + backup.id() + " has " + disks.size()
                    + " disks; name one, or give an existing directory as the target");
        }
        List<RestoreJob.Target> targets = new ArrayList<>();
        for (DiskRecord d : disks) {
            targets.add(new RestoreJob.Target(d, toNbd ? request.getTarget() : restoreDir.file(toDirectory
                    ? RestoreTargets.fileIn(restoreDir.directory(request.getTarget()), backup.vmId(), d.diskId()).toString()
                    : request.getTarget()).toString()));
        }
        RestoreJob.Request restore = new RestoreJob.Request(backup, targets,
                FileTargetOptions.DEFAULT.withOverwrite(request.getOverwrite()));
        // Disks are restored one after the other: one disk, and one target's connections, at a time.
        List<NbdUri> nbdTargets = RestoreTargets.isNbdUri(request.getTarget()) ? List.of(nbd.uri(request.getTarget())) : List.of();
        return queue.submit(JobKind.JOB_KIND_RESTORE, backup.vmId(), demand(1, nbdTargets), job -> {
            job.phase(JobPhase.JOB_PHASE_WRITE);
            nbdTargets.forEach(u -> metrics.transport(mode(u)));
            RestoreJob.Result r = new RestoreJob(repo, settings, new TransportSelection(nbd, vddk), job.cancellation)
                    .run(restore, job::track);
            RestoreResult.Builder out = RestoreResult.newBuilder().setBackupId(r.backupId());
            for (RestoreJob.DiskOutcome d : r.disks()) {
                TransferCounters.Snapshot s = d.counters();
                metrics.restored(s.completed());
                out.addDisks(DiskRestoreResult.newBuilder().setDisk(d.diskId()).setTarget(d.where())
                        .setWrittenBytes(s.completed()).setZeroBytes(s.skippedZeros()).setSeconds(s.seconds()));
            }
            return out.build();
        });
    }

    private ProxyJob verifyJob(VerifyRequest request) throws IOException {
        RequestLimits.check(request);
        if (!request.getAgainstUri().isEmpty()) {
            policy.checkSource(request.getAgainstUri());
        }
        BackupRecord backup = chosen(request.getBackupId(), "");
        List<DiskRecord> disks = BackupChoice.disks(backup, optional(request.getDisk()));
        VerifyJob.Request verify = new VerifyJob.Request(backup, disks, optional(request.getAgainstUri()), 1.0);
        List<NbdUri> against = verify.against().map(uri -> List.of(nbd.uri(uri))).orElse(List.of());
        return queue.submit(JobKind.JOB_KIND_VERIFY, backup.vmId(), demand(1, against), job -> {
            job.phase(JobPhase.JOB_PHASE_CHECK);
            against.forEach(u -> metrics.transport(mode(u)));
            VerifyJob.Result r = new VerifyJob(repo, settings, nbd, job.cancellation).run(verify, job::track);
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
        });
    }

    // ---- Instant restore: exports are jobs that serve until stopped ----

    /** How long StartExport waits for the export to accept connections (opening a backup is quick). */
    private static final long EXPORT_START_SECONDS = 60;
    /** How often a serving export job looks whether it was stopped. */
    private static final long EXPORT_POLL_MILLIS = 100;

    @Override
    public void startExport(StartExportRequest request, StreamObserver<ExportStatus> observer) {
        answer(observer, () -> startExportJob(request));
    }

    @Override
    public void stopExport(StopExportRequest request, StreamObserver<ExportStatus> observer) {
        answer(observer, () -> {
            String id = request.getExportId();
            BackupExport export = exports.get(id);
            if (export == null) {
                throw Status.NOT_FOUND.withDescription("no export " + id + " is being served").asRuntimeException();
            }
            ExportStatus status = exportStatus(id, export);
            queue.cancel(id, "stopped by a StopExport call");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(EXPORT_START_SECONDS);
            while (exports.containsKey(id) && System.nanoTime() < deadline) {
                sleep(EXPORT_POLL_MILLIS);
            }
            return status;
        });
    }

    @Override
    public void listExports(ListExportsRequest request, StreamObserver<ListExportsResponse> observer) {
        answer(observer, () -> {
            ListExportsResponse.Builder out = ListExportsResponse.newBuilder();
            new TreeMap<>(exports).forEach((id, e) -> out.addExports(exportStatus(id, e)));
            return out.build();
        });
    }

    private ExportStatus startExportJob(StartExportRequest request) throws IOException {
        if (!request.getListen().isEmpty() && !request.getSocket().isEmpty()) {
            throw new IllegalArgumentException("listen and socket exclude each other");
        }
        BackupRecord backup = chosen(request.getBackupId(), "");
        SocketAddress listen = !request.getSocket().isEmpty() ? UnixDomainSocketAddress.of(request.getSocket())
                : request.getListen().isEmpty() ? new InetSocketAddress("127.0.0.1", 0) : hostPort(request.getListen());
        ExportOptions options = new ExportOptions(backup.id(), optional(request.getDisk()), listen, request.getWritable(),
                Optional.empty(), exportTls, request.getCacheBytes() == 0 ? ExportOptions.DEFAULT_CACHE_BYTES : request.getCacheBytes());
        CompletableFuture<BackupExport> serving = new CompletableFuture<>();
        ProxyJob job = queue.submit(JobKind.JOB_KIND_EXPORT, backup.vmId(), JobDemand.NONE, j -> serve(j, options, serving));
        try {
            return exportStatus(job.id, serving.get(EXPORT_START_SECONDS, TimeUnit.SECONDS));
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IOException(e.getCause());
        } catch (TimeoutException e) {
            queue.cancel(job.id, "did not start within " + EXPORT_START_SECONDS + " s");
            throw new IOException("the export of backup " + backup.id() + " did not start within " + EXPORT_START_SECONDS + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while starting the export", e);
        }
    }

    /** The export job's body: serves until cancelled, then closes the export (overlays made durable). */
    private ExportStatus serve(ProxyJob job, ExportOptions options, CompletableFuture<BackupExport> serving) throws Exception {
        job.phase(JobPhase.JOB_PHASE_SERVE);
        BackupExport export;
        try {
            export = BackupExport.start(repo, options);
        } catch (IOException | RuntimeException e) {
            serving.completeExceptionally(e);
            throw e;
        }
        try (export) {
            exports.put(job.id, export);
            serving.complete(export);
            while (!job.cancellation.isCancelled()) {
                Thread.sleep(EXPORT_POLL_MILLIS);
            }
        } finally {
            exports.remove(job.id);
        }
        job.cancellation.check(); // ends the job CANCELLED, saying who stopped it
        throw new IllegalStateException("unreachable");
    }

    private static ExportStatus exportStatus(String id, BackupExport e) {
        return ExportStatus.newBuilder().setExportId(id).setBackupId(e.backupId()).setVm(e.vmId()).addAllUris(e.uris())
                .setWritable(e.writable()).setOverlayDir(e.overlayDir().map(Path::toString).orElse("")).build();
    }

    private static InetSocketAddress hostPort(String text) {
        int colon = text.lastIndexOf(':');
        try {
            return new InetSocketAddress(text.substring(0, colon), Integer.parseInt(text.substring(colon + 1)));
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("listen wants HOST:PORT, got '" + text + "'");
        }
    }

    private static void sleep(long millis) throws IOException {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    private ProxyJob pruneJob(PruneRequest request) throws IOException {
        Retention retention = new Retention(request.getKeepLast(), request.getKeepDaily(), request.getKeepWeekly(),
                request.getKeepMonthly(), request.getKeepYearly());
        return queue.submit(JobKind.JOB_KIND_PRUNE, "", JobDemand.NONE, job -> {
            job.phase(JobPhase.JOB_PHASE_MAINTENANCE);
            PruneReport r = new Pruner(repo).run(retention, ZoneId.systemDefault(), request.getDryRun());
            PruneResult.Builder out = PruneResult.newBuilder().addAllRemoved(r.removed()).addAllKept(r.kept()).setDryRun(r.dryRun());
            r.inUse().forEach(u -> out.addInUse(InUseBackup.newBuilder().setBackupId(u.backupId()).setWhy(u.why())));
            return out.build();
        });
    }

    private ProxyJob gcJob(GcRequest request) throws IOException {
        GcOptions defaults = GcOptions.defaults();
        GcOptions options = request.hasGraceSeconds() ? defaults.withGrace(Duration.ofSeconds(request.getGraceSeconds())) : defaults;
        GcOptions chosen = request.hasCompactBelow() ? options.withCompactBelow(request.getCompactBelow()) : options;
        return queue.submit(JobKind.JOB_KIND_GC, "", JobDemand.NONE, job -> {
            job.phase(JobPhase.JOB_PHASE_MAINTENANCE);
            GcReport r = new GarbageCollector(repo).run(chosen);
            return GcResult.newBuilder().setLiveChunks(r.liveChunks()).setDeletedChunkEntries(r.deletedChunkEntries())
                    .setDeletedPacks(r.deletedPacks()).setCompactedPacks(r.compactedPacks()).setKeptForGrace(r.keptForGrace())
                    .setFreedBytes(r.freedBytes()).setDeferredPacks(r.deferredPacks()).build();
        });
    }

    /** What a job holds: its disks, and each disk's NBD connections on its host. */
    private JobDemand demand(int disks, List<NbdUri> uris) {
        Map<String, Integer> byHost = new HashMap<>();
        for (NbdUri u : uris) {
            byHost.merge(u.endpoint().toString(), nbd.options().connections(), Integer::sum);
        }
        return new JobDemand(disks, byHost);
    }

    private static String mode(NbdUri uri) {
        boolean unix = uri.endpoint() instanceof NbdUri.Endpoint.Unix;
        return (uri.tls() ? "nbds" : "nbd") + (unix ? "+unix" : "");
    }

    // ---- Following jobs ----

    @Override
    public void getJob(JobRef request, StreamObserver<Job> observer) {
        answer(observer, () -> queue.get(id(request)).orElseThrow(() -> notFound(request)));
    }

    @Override
    public void listJobs(ListJobsRequest request, StreamObserver<ListJobsResponse> observer) {
        answer(observer, () -> ListJobsResponse.newBuilder().addAllJobs(queue.list(request)).build());
    }

    @Override
    public void cancelJob(JobRef request, StreamObserver<Job> observer) {
        answer(observer, () -> queue.cancel(id(request), "cancelled by a CancelJob call").orElseThrow(() -> notFound(request)));
    }

    @Override
    public void watchJob(JobRef request, StreamObserver<Job> observer) {
        String id;
        try {
            id = id(request);
            if (queue.get(id).isEmpty()) {
                throw notFound(request);
            }
        } catch (RuntimeException e) {
            observer.onError(Statuses.of(e).asRuntimeException());
            return;
        }
        ServerCallStreamObserver<Job> call = (ServerCallStreamObserver<Job>) observer;
        Thread.ofVirtual().name("watch-" + id).start(() -> {
            try {
                Optional<ProxyJob> live = queue.live(id);
                long seen = -1;
                while (!call.isCancelled()) {
                    Job now = queue.get(id).orElseThrow();
                    call.onNext(now);
                    if (live.isEmpty() || isEnded(now.getState())) {
                        call.onCompleted();
                        return;
                    }
                    seen = live.get().awaitChange(seen, PROGRESS_MILLIS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException e) {
                if (!call.isCancelled()) {
                    call.onError(Statuses.of(e).asRuntimeException());
                }
            }
        });
    }

    private static boolean isEnded(JobState state) {
        return state == JobState.JOB_STATE_SUCCEEDED || state == JobState.JOB_STATE_FAILED || state == JobState.JOB_STATE_CANCELLED;
    }

    private static String id(JobRef ref) {
        if (ref.getId().isBlank()) {
            throw new IllegalArgumentException("a job id is needed (as Submit answered it)");
        }
        return ref.getId();
    }

    private static RuntimeException notFound(JobRef ref) {
        return Status.NOT_FOUND.withDescription("no job " + ref.getId() + " on this proxy").asRuntimeException();
    }

    // ---- The streaming calls: a job, followed for the caller ----

    @Override
    public void backup(BackupRequest request, StreamObserver<BackupEvent> observer) {
        follow(observer, () -> backupJob(request), p -> BackupEvent.newBuilder().setProgress(p).build(),
                j -> BackupEvent.newBuilder().setResult(j.getBackup()).build());
    }

    @Override
    public void restore(RestoreRequest request, StreamObserver<RestoreEvent> observer) {
        follow(observer, () -> restoreJob(request), p -> RestoreEvent.newBuilder().setProgress(p).build(),
                j -> RestoreEvent.newBuilder().setResult(j.getRestore()).build());
    }

    @Override
    public void verify(VerifyRequest request, StreamObserver<VerifyResult> observer) {
        follow(observer, () -> verifyJob(request), null, Job::getVerify);
    }

    @Override
    public void prune(PruneRequest request, StreamObserver<PruneResult> observer) {
        follow(observer, () -> pruneJob(request), null, Job::getPrune);
    }

    @Override
    public void collectGarbage(GcRequest request, StreamObserver<GcResult> observer) {
        follow(observer, () -> gcJob(request), null, Job::getGc);
    }

    private interface Submission {
        ProxyJob submit() throws IOException;
    }

    /**
     * Submits a job and streams it to the caller: progress per disk about once a second (when
     * {@code progress} is given), then the result or the job's failure as the call's status.
     */
    private <T> void follow(StreamObserver<T> observer, Submission submission, Function<Progress, T> progress,
                            Function<Job, T> result) {
        ServerCallStreamObserver<T> call = (ServerCallStreamObserver<T>) observer;
        ProxyJob job;
        try {
            job = submission.submit();
        } catch (IOException | RuntimeException e) {
            observer.onError(Statuses.of(e).asRuntimeException());
            return;
        }
        call.setOnCancelHandler(() -> queue.cancel(job.id, "the client cancelled the call"));
        Thread.ofVirtual().name("follow-" + job.id).start(() -> {
            try {
                long seen = -1;
                while (!call.isCancelled()) {
                    Job now = queue.get(job.id).orElseThrow();
                    if (isEnded(now.getState())) {
                        if (now.getState() == JobState.JOB_STATE_SUCCEEDED) {
                            call.onNext(result.apply(now));
                            call.onCompleted();
                        } else {
                            call.onError(Status.fromCodeValue(now.getErrorCode()).withDescription(now.getErrorMessage())
                                    .asRuntimeException());
                        }
                        return;
                    }
                    if (progress != null && seen >= 0) {
                        for (DiskProgress d : now.getDisksList()) {
                            call.onNext(progress.apply(Progress.newBuilder().setDisk(d.getDisk()).setDoneBytes(d.getDoneBytes())
                                    .setTotalBytes(d.getTotalBytes())
                                    .setSeconds((System.currentTimeMillis() - now.getStartedMillis()) / 1e3).build()));
                        }
                    }
                    seen = job.awaitChange(seen, PROGRESS_MILLIS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException e) {
                if (!call.isCancelled()) {
                    call.onError(Statuses.of(e).asRuntimeException());
                }
            }
        });
    }

    // ---- Calls answered at once ----

    @Override
    public void listBackups(ListBackupsRequest request, StreamObserver<ListBackupsResponse> observer) {
        answer(observer, () -> {
            ListBackupsResponse.Builder out = ListBackupsResponse.newBuilder();
            for (BackupRecord b : repo.backups()) {
                if (request.getVm().isEmpty() || request.getVm().equals(b.vmId())) {
                    out.addBackups(BackupSummary.newBuilder().setBackupId(b.id()).setVm(b.vmId()).setParentId(b.parentId())
                            .setCreated(b.committed().getEpochSecond()).setLabel(b.label())
                            .addAllDisks(b.disks().stream().map(DiskRecord::diskId).toList()));
                }
            }
            return out.build();
        });
    }

    @Override
    public void stats(StatsRequest request, StreamObserver<StatsResult> observer) {
        answer(observer, () -> {
            RepositoryStats s = RepositoryStats.of(repo);
            return StatsResult.newBuilder().setBackups(s.backups()).setLogicalBytes(s.logicalBytes()).setDataBytes(s.dataBytes())
                    .setUniqueChunks(s.uniqueChunks()).setUniqueBytes(s.uniqueBytes()).setStoredBytes(s.storedBytes())
                    .setPacks(s.packs()).setPackBytes(s.packBytes()).setDedupRatio(s.dedupRatio())
                    .setCompressionRatio(s.compressionRatio()).build();
        });
    }

    private interface Answer<T> {
        T get() throws IOException;
    }

    private static <T> void answer(StreamObserver<T> observer, Answer<T> answer) {
        T value;
        try {
            value = answer.get();
        } catch (IOException | RuntimeException e) {
            log.debug("call failed", e);
            observer.onError(Statuses.of(e).asRuntimeException());
            return;
        }
        observer.onNext(value);
        observer.onCompleted();
    }

    private BackupRecord chosen(long backupId, String vm) {
        return BackupChoice.backup(repo, backupId == 0 ? Optional.empty() : Optional.of(backupId), optional(vm));
    }

    private static Optional<String> optional(String s) {
        return s.isEmpty() ? Optional.empty() : Optional.of(s);
    }

    /** Cancels the queued and running jobs and waits up to {@code millis} for them to stop. */
    public void cancelAll(String why, long millis) throws InterruptedException {
        queue.cancelAll(why, millis);
    }

    @Override
    public void close() {
        probe.shutdownNow();
        queue.close();
    }
}
