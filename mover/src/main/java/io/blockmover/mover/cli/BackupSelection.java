package io.blockmover.mover.cli;

import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.repo.Repository;
import io.blockmover.mover.pipeline.BackupChoice;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.util.List;
import java.util.Optional;

/** Which backup and which of its disks a command works on. */
final class BackupSelection {
    @Option(names = "--backup", paramLabel = "ID", description = "The backup (default: the latest, of --vm if given).")
    Long backupId;

    @Option(names = "--vm", paramLabel = "VM", description = "Take the latest backup of this VM.")
    String vm;

    @Option(names = "--disk", paramLabel = "DISK", description = "Only this disk of the backup (default: every disk).")
    String disk;

    BackupRecord backup(Repository repo) throws IOException {
        return BackupChoice.backup(repo, Optional.ofNullable(backupId), Optional.ofNullable(vm));
    }

    List<DiskRecord> disks(BackupRecord backup) throws IOException {
        return BackupChoice.disks(backup, Optional.ofNullable(disk));
    }
}
