package io.blockmover.mover.vsphere;

import io.blockmover.index.repo.Repository;
import io.blockmover.mover.pipeline.BackupJob;
import io.blockmover.mover.pipeline.Cancellation;
import io.blockmover.mover.pipeline.PipelineSettings;
import io.blockmover.mover.pipeline.ProgressListener;
import io.blockmover.mover.transport.DiskSource;
import io.blockmover.mover.transport.TransportSelection;
import io.blockmover.mover.transport.TransportUsed;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.rmi.RemoteException;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One VM backup through vCenter: find the VM, take (or find) the snapshot per the policy, read
 * each disk of the snapshot through the transport with vCenter's changed areas, commit, and
 * remove the snapshot. Whatever fails, the snapshot this job created is removed, and what could
 * not be removed is said; the repository shows the backup only when every disk is complete.
 */
public final class VsphereBackup {
    private static final Logger log = LoggerFactory.getLogger(VsphereBackup.class);
    private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss-SSS").withZone(ZoneOffset.UTC);

    /** What to do with a snapshot of this proxy left by an earlier run. */
    public enum Preexisting { FAIL, DELETE }

    /**
     * @param snapshotName for manual and deleteonly: the existing snapshot to read
     * @param proxyId      marks this proxy's snapshots so leftovers can be found
     */
    public record Request(VmSelector vm, BackupJob.Mode mode, SnapshotPolicy policy, Optional<String> snapshotName,
                          Preexisting preexisting, boolean quiesce, String proxyId, String label) {
        public Request {
            if (!policy.creates() && snapshotName.isEmpty()) {
                throw new IllegalArgumentException("snapshot policy " + policy.name().toLowerCase() + " needs --snapshot-name");
            }
        }
    }

    /** How it went: the backup, the disks skipped (with why), the snapshot's fate and where the time went. */
    public record Result(VmInfo vm, String snapshot, BackupJob.Result backup, List<String> warnings, boolean snapshotRemoved,
                         Phases phases, Map<String, TransportUsed> transports) {
        /** The backup with the transport each disk was actually read through. */
        public BackupJob.Outcome outcome() {
            return new BackupJob.Outcome(backup, transports, List.of());
        }
    }

    /**
     * Where a job's time went: finding the VM (and its leftovers), taking the snapshot, reading
     * the snapshot's disks and opening them, the disk pipeline (changed areas, reads, storing,
     * commit) and removing the snapshot. All but the reads and storing is the control plane.
     */
    public record Phases(Duration lookup, Duration snapshot, Duration openDisks, Duration pipeline, Duration removal) {}

    /**
     * Told of the job's vSphere steps, so a caller that outlives a crash (the proxy's job table)
     * can record the snapshot it must remove, and show the phase the job is in.
     */
    public interface Steps {
        Steps NONE = new Steps() {};

        default void snapshotting() {}

        /** A snapshot this job created; it is this job's to remove until {@link #snapshotRemoved}. */
        default void snapshotTaken(VmInfo vm, VmInfo.SnapshotInfo snapshot) {}

        /** A disk skipped (independent, physical RDM), as soon as it is known. */
        default void warning(String warning) {}

        default void removingSnapshot() {}

        default void snapshotRemoved(VmInfo vm, VmInfo.SnapshotInfo snapshot) {}
    }

    private final VsphereControl control;
    private final SnapshotTransport transport;
    private final Repository repository;
    private final PipelineSettings settings;

    public VsphereBackup(VsphereControl control, SnapshotTransport transport, Repository repository, PipelineSettings settings) {
        this.control = control;
        this.transport = transport;
        this.repository = repository;
        this.settings = settings;
    }

    public Result run(Request request, Cancellation cancellation, ProgressListener onDisk)
            throws IOException, InterruptedException {
        return run(request, cancellation, onDisk, Steps.NONE);
    }

    public Result run(Request request, Cancellation cancellation, ProgressListener onDisk, Steps steps)
            throws IOException, InterruptedException {
        try {
            return runChecked(request, cancellation, onDisk, steps);
        } catch (RemoteException e) {
            log.debug("backup of {} failed", request.vm(), e);
            throw new VsphereException("backup of " + request.vm() + " failed: " + VcenterConnection.rootMessage(e));
        }
    }

    private Result runChecked(Request request, Cancellation cancellation, ProgressListener onDisk, Steps steps)
            throws IOException, InterruptedException {
        long t0 = System.nanoTime();
        VmInventory inventory = control.inventory();
        String moref = request.vm().resolve(controlConnection(), inventory);
        VmInfo vm = inventory.get(moref);
        List<VmInfo.SnapshotInfo> leftovers = VsphereControl.leftovers(vm, request.proxyId()).stream()
                .filter(s -> request.snapshotName().map(n -> !n.equals(s.name())).orElse(true)).toList();
        if (!leftovers.isEmpty() && request.policy().creates()) {
            if (request.preexisting() == Preexisting.FAIL) {
                throw new VsphereException(vm.name() + " has " + leftovers.size() + " snapshot(s) of an earlier backup by this proxy ("
                        + String.join(", ", leftovers.stream().map(VmInfo.SnapshotInfo::name).toList())
                        + "); remove them or run with --preexisting delete");
            }
            for (VmInfo.SnapshotInfo s : leftovers) {
                log.info("removing leftover snapshot {} ({}) of {}", s.name(), s.moref(), vm.name());
                control.removeSnapshot(s.moref());
            }
        }
        transport.prepare(vm);
        long t1 = System.nanoTime();
        VmInfo.SnapshotInfo snapshot = null;
        steps.snapshotting();
        try {
            if (request.policy().creates()) {
                String name = "blockmover-" + STAMP.format(Instant.now());
                String snapMoref = control.createSnapshot(moref, name, VsphereControl.description(request.proxyId(), name),
                        request.quiesce());
                snapshot = new VmInfo.SnapshotInfo(snapMoref, name, "", Instant.now(), request.quiesce());
                steps.snapshotTaken(vm, snapshot);
            } else {
                String wanted = request.snapshotName().orElseThrow();
                snapshot = vm.snapshot(wanted).orElseThrow(() -> new VsphereException(vm.name() + " has no snapshot named '"
                        + wanted + "' (have " + vm.snapshots().stream().map(VmInfo.SnapshotInfo::name).toList() + ")"));
            }
        } finally {
            if (snapshot == null) {
                transport.end(vm);
            }
        }
        long t2 = System.nanoTime();
        try {
            BackupOutcome outcome = backup(request, vm, snapshot, cancellation, onDisk, steps);
            long t4 = System.nanoTime();
            boolean removed = false;
            if (request.policy().removes()) {
                steps.removingSnapshot();
                control.removeSnapshot(snapshot.moref());
                steps.snapshotRemoved(vm, snapshot);
                removed = true;
            }
            long t5 = System.nanoTime();
            return new Result(vm, snapshot.name(), outcome.result(), outcome.warnings(), removed, new Phases(
                    Duration.ofNanos(t1 - t0), Duration.ofNanos(t2 - t1), Duration.ofNanos(outcome.pipelineStart() - t2),
                    Duration.ofNanos(t4 - outcome.pipelineStart()), Duration.ofNanos(t5 - t4)), outcome.transports());
        } catch (IOException | InterruptedException | RuntimeException e) {
            if (request.policy().creates()) {
                steps.removingSnapshot();
                Optional<String> problem = removeAfterFailure(snapshot);
                if (problem.isEmpty()) {
                    steps.snapshotRemoved(vm, snapshot);
                }
                if (problem.isPresent()) {
                    throw new VsphereException(e.getMessage() + "; and " + problem.get(), e);
                }
            }
            throw e;
        } finally {
            transport.end(vm);
        }
    }

    private VcenterConnection controlConnection() {
        return control.connection();
    }

    private record BackupOutcome(BackupJob.Result result, List<String> warnings, long pipelineStart,
                                 Map<String, TransportUsed> transports) {}

    private BackupOutcome backup(Request request, VmInfo vm, VmInfo.SnapshotInfo snapshot, Cancellation cancellation,
                                 ProgressListener onDisk, Steps steps) throws IOException, InterruptedException {
        List<VmInfo.Disk> disks = control.inventory().snapshotDisks(snapshot.moref());
        Optional<io.blockmover.index.manifest.BackupRecord> parent = request.mode() == BackupJob.Mode.FULL
                ? Optional.empty() : repository.latest(vm.name());
        List<String> warnings = new ArrayList<>();
        List<DiskSource> opened = new ArrayList<>();
        Map<String, TransportUsed> transports = new LinkedHashMap<>();
        try {
            List<BackupJob.DiskInput> inputs = new ArrayList<>();
            for (VmInfo.Disk d : disks) {
                Optional<String> skip = d.skipReason();
                if (skip.isPresent()) {
                    String w = "skipped " + d.label() + " (" + d.fileName() + "): " + skip.get();
                    log.info("{}: {}", vm.name(), w);
                    warnings.add(w);
                    steps.warning(w);
                    continue;
                }
                TransportSelection.Opened o = transport.open(vm, snapshot, d);
                DiskSource data = o.source();
                opened.add(data);
                String diskId = "disk-" + d.deviceKey();
                transports.put(diskId, o.used());
                boolean fullExpected = parent.flatMap(p -> p.disk(diskId)).map(p -> p.changeId().isEmpty()).orElse(true);
                inputs.add(new BackupJob.DiskInput(diskId,
                        new CbtDiskSource(data, control, vm.moref(), snapshot.moref(), d.deviceKey(), fullExpected),
                        d.changeId().orElse(""), Optional.empty()));
            }
            if (inputs.isEmpty()) {
                throw new VsphereException(vm.name() + " has no disk a snapshot can back up: " + String.join("; ", warnings));
            }
            long pipelineStart = System.nanoTime();
            BackupJob.Result r = new BackupJob(repository, settings, cancellation)
                    .run(vm.name(), request.label().isEmpty() ? snapshot.name() : request.label(), request.mode(), inputs, onDisk);
            return new BackupOutcome(r, warnings, pipelineStart, transports);
        } finally {
            opened.forEach(DiskSource::close);
        }
    }

    /** The job failed: remove the snapshot it created; what could not be removed, if anything. */
    private Optional<String> removeAfterFailure(VmInfo.SnapshotInfo snapshot) {
        try {
            control.removeSnapshot(snapshot.moref());
            log.info("removed snapshot {} ({}) after the failed backup", snapshot.name(), snapshot.moref());
            return Optional.empty();
        } catch (IOException | RuntimeException e) {
            return Optional.of("could not remove snapshot " + snapshot.name() + " (" + snapshot.moref() + "): "
                    + e.getMessage() + "; remove it by hand");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.of("interrupted before removing snapshot " + snapshot.name() + " (" + snapshot.moref()
                    + "); remove it by hand");
        }
    }
}
