package io.blockmover.mover.cli;

import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.repo.Repository;
import io.blockmover.index.s3.RequestCounts;
import io.blockmover.index.s3.S3Repository;
import io.blockmover.mover.pipeline.RestoreJob;
import io.blockmover.mover.transport.TransportSelection;
import io.blockmover.mover.pipeline.TransferCounters;
import io.blockmover.mover.transport.RestoreTargets;
import io.blockmover.mover.transport.file.FileTargetOptions;
import io.blockmover.nbd.units.Sizes;

import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code blockmover restore}: writes disks of a backup to sparse raw files or to NBD exports,
 * every chunk digest-checked as it is read.
 */
@Command(name = "restore", mixinStandardHelpOptions = true,
        description = "Restore disks of a backup to raw files or NBD exports.")
final class RestoreCommand implements Callable<Integer> {

    @Mixin
    RepositoryOptions repository;

    @Mixin
    BackupSelection selection;

    static final class Destination {
        @Option(names = "--to", paramLabel = "FILE|URI",
                description = "Where one disk goes: a raw file (created sparse) or an NBD export (nbd://..., nbds://...).")
        String to;

        @Option(names = "--to-dir", paramLabel = "DIR", description = "Restore every selected disk to DIR/<vm>-<disk>.raw.")
        Path toDir;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Destination destination;

    @Option(names = "--force", description = "Overwrite existing files.")
    boolean force;

    @Option(names = "--keep-partial",
            description = "When a restore to a file fails, keep its incomplete NAME.partial instead of removing it.")
    boolean keepPartial;

    @Option(names = "--mode", paramLabel = "OCTAL",
            description = "Permissions of restored files, whatever the umask (default 0600: a disk image is the VM's data).")
    String mode;

    @Mixin
    JsonOption output;

    @Mixin
    ProgressOption progress;

    @Mixin
    PipelineOptions pipeline;

    @Mixin
    ConnectionOptions connection;

    @Mixin
    VddkOptions vddk;

    @Override
    public Integer call() throws Exception {
        try (Repository repo = repository.open();
             Interruption interruption = new Interruption();
             ProgressDisplay display = progress.display(output.json)) {
            BackupRecord backup = selection.backup(repo);
            List<DiskRecord> disks = selection.disks(backup);
            if (destination.to != null && disks.size() != 1) {
                throw new IllegalArgumentException("backup " + backup.id() + " has " + disks.size()
                        + " disks; choose one with --disk, or restore all with --to-dir DIR");
            }
            FileTargetOptions fileOptions = new FileTargetOptions(force, keepPartial,
                    mode == null ? FileTargetOptions.OWNER_ONLY : FileTargetOptions.parseMode(mode));
            List<RestoreJob.Target> targets = new ArrayList<>();
            for (DiskRecord d : disks) {
                targets.add(new RestoreJob.Target(d, destination.to != null ? destination.to
                        : RestoreTargets.fileIn(destination.toDir, backup.vmId(), d.diskId()).toString()));
            }
            RequestCounts before = S3Repository.counts(repo);
            RestoreJob.Result result = new RestoreJob(repo, pipeline.settings(),
                    new TransportSelection(connection.access(pipeline.connections), vddk.settings()), interruption.cancellation()).run(new RestoreJob.Request(backup, targets, fileOptions),
                    (disk, counters) -> display.track(backup.vmId() + "/" + disk, counters));
            display.close();
            List<Object> results = new ArrayList<>();
            Map<String, Object> requests = RepositoryOptions.requestsJson(before, repo);
            for (RestoreJob.DiskOutcome d : result.disks()) {
                TransferCounters.Snapshot s = d.counters();
                if (output.json) {
                    var m = BackupCommand.countersJson(d.diskId(), "restore", "", s);
                    m.put("to", d.where());
                    if (!requests.isEmpty()) {
                        m.put("restoreObjectStoreRequests", requests); // of the whole restore, all its disks
                    }
                    results.add(m);
                } else {
                    System.out.printf(Locale.ROOT, "restored %s/%s of backup %d to %s: %s written, %s zeros skipped, %.2f s, %.1f MB/s%n",
                            backup.vmId(), d.diskId(), backup.id(), d.where(), Sizes.human(s.completed()),
                            Sizes.human(s.skippedZeros()), s.seconds(), s.megabytesPerSecond());
                }
            }
            if (output.json) {
                System.out.println(JsonWriter.write(results));
            }
            return 0;
        }
    }
}
