package io.blockmover.mover.cli;

import io.blockmover.index.backup.BackupReader;
import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.repo.Repository;
import io.blockmover.mover.pipeline.DiskRestore;
import io.blockmover.mover.pipeline.PipelineSettings;
import io.blockmover.mover.pipeline.TransferCounters;
import io.blockmover.mover.transport.DiskTarget;
import io.blockmover.mover.transport.RestoreTargets;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

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

    @Option(names = "--json", description = "Print the result as JSON on stdout.")
    boolean json;

    @Mixin
    ProgressOption progress;

    @Mixin
    PipelineOptions pipeline;

    @Mixin
    NbdInfoCommand.Connection connection;

    @Override
    public Integer call() throws Exception {
        try (Repository repo = repository.open();
             Interruption interruption = new Interruption();
             ProgressDisplay display = progress.display(json)) {
            BackupRecord backup = selection.backup(repo);
            List<DiskRecord> disks = selection.disks(backup);
            if (destination.to != null && disks.size() != 1) {
                throw new IllegalArgumentException("backup " + backup.id() + " has " + disks.size()
                        + " disks; choose one with --disk, or restore all with --to-dir DIR");
            }
            PipelineSettings settings = pipeline.settings();
            ExecutorService workers = Executors.newFixedThreadPool(settings.workers(),
                    Thread.ofPlatform().name("restore-", 0).daemon().factory());
            List<Object> results = new ArrayList<>();
            try (BackupReader reader = repo.openBackup(backup.id())) {
                for (DiskRecord d : disks) {
                    TransferCounters counters = new TransferCounters(d.capacity());
                    display.track(backup.vmId() + "/" + d.diskId(), counters);
                    String where = destination.to != null ? destination.to
                            : destination.toDir.resolve(backup.vmId().replace('/', '_') + "-" + d.diskId() + ".raw").toString();
                    try (DiskTarget target = RestoreTargets.open(where, d.capacity(), force, connection.access(pipeline.connections))) {
                        new DiskRestore(reader.disk(d.diskId()), target, workers, settings.chunksInFlight(), counters,
                                interruption.cancellation()).run();
                    }
                    TransferCounters.Snapshot s = counters.snapshot();
                    if (json) {
                        var m = BackupCommand.countersJson(d.diskId(), "restore", "", s);
                        m.put("to", where);
                        results.add(m);
                    } else {
                        System.out.printf(Locale.ROOT, "restored %s/%s of backup %d to %s: %s written, %s zeros skipped, %.2f s, %.1f MB/s%n",
                                backup.vmId(), d.diskId(), backup.id(), where, Sizes.human(s.completed()),
                                Sizes.human(s.skippedZeros()), s.seconds(), s.megabytesPerSecond());
                    }
                }
            } finally {
                workers.shutdown();
            }
            display.close();
            if (json) {
                System.out.println(JsonWriter.write(results));
            }
            return 0;
        }
    }
}
