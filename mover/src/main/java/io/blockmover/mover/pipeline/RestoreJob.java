package io.blockmover.mover.pipeline;

import io.blockmover.index.backup.BackupReader;
import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.repo.Repository;
import io.blockmover.mover.transport.DiskTarget;
import io.blockmover.mover.transport.RestoreTargets;
import io.blockmover.mover.transport.TransportSelection;
import io.blockmover.mover.transport.file.FileTargetOptions;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Restores disks of one backup, each to a raw file (created sparse, under a partial name until
 * complete), an NBD export or a VM's disk through VDDK (a vddk:// URI), every chunk digest-checked
 * as it is read. A failure names the backup, the disk, the chunk's offset and what the target was
 * left holding. The CLI and the API decide where each disk goes; this
 * does the rest the same way for both.
 */
public final class RestoreJob {
    /** One disk and where it goes: a file path, an NBD URI or a vddk:// URI. */
    public record Target(DiskRecord disk, String where) {}

    /** @param files how files are written: overwrite, keep a failed restore's partial file, mode (an NBD export is always written) */
    public record Request(BackupRecord backup, List<Target> targets, FileTargetOptions files) {}

    public record DiskOutcome(String diskId, String where, TransferCounters.Snapshot counters) {}

    public record Result(long backupId, List<DiskOutcome> disks) {}

    private final Repository repository;
    private final PipelineSettings settings;
    private final TransportSelection transports;
    private final Cancellation cancellation;

    /** @param transports how NBD exports and (for vddk:// targets) VDDK are reached */
    public RestoreJob(Repository repository, PipelineSettings settings, TransportSelection transports, Cancellation cancellation) {
        this.repository = repository;
        this.settings = settings;
        this.transports = transports;
        this.cancellation = cancellation;
    }

    public Result run(Request request, ProgressListener progress) throws IOException, InterruptedException {
        ExecutorService workers = Executors.newFixedThreadPool(settings.workers(),
                Thread.ofPlatform().name("restore-", 0).daemon().factory());
        List<DiskOutcome> out = new ArrayList<>();
        try (BackupReader reader = repository.openBackup(request.backup().id())) {
            for (Target t : request.targets()) {
                DiskRecord d = t.disk();
                TransferCounters counters = new TransferCounters(d.capacity());
                progress.track(d.diskId(), counters);
                try (DiskTarget target = RestoreTargets.open(t.where(), d.capacity(), request.files(), transports)) {
                    new DiskRestore(reader.disk(d.diskId()), target, workers, settings.chunksInFlight(), counters, cancellation).run();
                } catch (IOException e) {
                    throw new IOException("restoring backup " + request.backup().id() + " disk " + d.diskId() + " to " + t.where()
                            + " failed: " + e.getMessage(), e);
                }
                out.add(new DiskOutcome(d.diskId(), t.where(), counters.snapshot()));
            }
        } finally {
            workers.shutdown();
        }
        return new Result(request.backup().id(), List.copyOf(out));
    }
}
