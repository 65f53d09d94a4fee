package io.blockmover.mover.pipeline;

import static io.blockmover.nbd.testing.Digests.sha256;
import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.repo.Repository;
import io.blockmover.mover.transport.DiskSource;
import io.blockmover.mover.transport.file.FileDiskTarget;
import io.blockmover.mover.transport.file.FileTargetOptions;
import io.blockmover.mover.transport.nbd.ConnectOptions;
import io.blockmover.mover.transport.nbd.NbdDiskSource;
import io.blockmover.mover.transport.nbd.NbdUri;
import io.blockmover.nbd.esx.DiskContent;
import io.blockmover.nbd.esx.EsxSimulator;
import io.blockmover.nbd.esx.ExportNames;
import io.blockmover.nbd.esx.Snapshot;
import io.blockmover.nbd.esx.SnapshotDisk;
import io.blockmover.nbd.esx.VirtualMachine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.UnaryOperator;

/**
 * Test driver for one VM of an in-process emulated host: takes snapshots, backs them up over
 * real NBD connections exactly as the CLI does, and restores and checks disks against what the
 * emulator says the snapshot holds.
 */
final class EmulatedVm {
    private final EsxSimulator sim;
    private final VirtualMachine vm;
    private final Repository repo;

    EmulatedVm(EsxSimulator sim, String vmName, Repository repo) {
        this.sim = sim;
        this.vm = sim.host().requireVm(vmName);
        this.repo = repo;
    }

    VirtualMachine vm() {
        return vm;
    }

    String uri(String export) {
        return "nbd://127.0.0.1:" + sim.nbdAddress().getPort() + "/" + export;
    }

    /** Snapshots the VM and backs every disk of the snapshot up. */
    BackupJob.Result backup(String snapshot, BackupJob.Mode mode, ConnectOptions options,
                            UnaryOperator<DiskSource> wrap, PipelineSettings settings) throws Exception {
        return backup(snapshot, mode, options, wrap, settings, new Cancellation());
    }

    BackupJob.Result backup(String snapshot, BackupJob.Mode mode, ConnectOptions options,
                            UnaryOperator<DiskSource> wrap, PipelineSettings settings, Cancellation cancellation) throws Exception {
        Snapshot s = vm.createSnapshot(snapshot);
        Optional<BackupRecord> parent = repo.latest(vm.name());
        List<NbdDiskSource> opened = new ArrayList<>();
        try {
            List<BackupJob.DiskInput> inputs = new ArrayList<>();
            for (SnapshotDisk d : s.disks()) {
                String diskId = diskId(d);
                List<String> contexts = parent.flatMap(p -> p.disk(diskId)).map(DiskRecord::changeId)
                        .filter(c -> !c.isEmpty()).map(c -> List.of(NbdDiskSource.contextFor(c))).orElse(List.of());
                NbdDiskSource source = NbdDiskSource.open(NbdUri.parse(uri(ExportNames.snapshot(vm.name(),
                        d.spec().deviceKey(), snapshot))), options.withMetaContexts(contexts));
                opened.add(source);
                inputs.add(new BackupJob.DiskInput(diskId, wrap.apply(source),
                        d.changeId().map(Object::toString).orElse(""), Optional.empty()));
            }
            return new BackupJob(repo, settings, cancellation).run(vm.name(), snapshot, mode, inputs, (a, b) -> {});
        } finally {
            opened.forEach(NbdDiskSource::close);
        }
    }

    BackupJob.Result backup(String snapshot) throws Exception {
        return backup(snapshot, BackupJob.Mode.AUTO, ConnectOptions.DEFAULT, UnaryOperator.identity(), PipelineSettings.DEFAULT);
    }

    static String diskId(SnapshotDisk d) {
        return "disk-" + d.spec().deviceKey();
    }

    /** Restores one disk of a backup to a file and returns the file's SHA-256. */
    String restoreSha256(long backupId, String diskId, Path dir) throws Exception {
        Path file = dir.resolve("restore-" + backupId + "-" + diskId + ".raw");
        ExecutorService workers = Executors.newFixedThreadPool(2);
        try (var reader = repo.openBackup(backupId);
             FileDiskTarget target = FileDiskTarget.create(file, reader.disk(diskId).capacity(), FileTargetOptions.DEFAULT.withOverwrite(true))) {
            new DiskRestore(reader.disk(diskId), target, workers, 8, new TransferCounters(target.capacity()),
                    new Cancellation()).run();
        } finally {
            workers.shutdown();
        }
        String sha = sha256(file);
        Files.delete(file);
        return sha;
    }

    /** What the emulator says the snapshot disk holds. */
    static String expectedSha256(SnapshotDisk d) {
        return DiskContent.sha256Of(d::read, d.capacity());
    }
}
