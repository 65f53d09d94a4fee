package io.blockmover.mover.cli;

import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.repo.Repository;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.util.Comparator;
import java.util.List;

/** Which backup and which of its disks a command works on. */
final class BackupSelection {
    @Option(names = "--backup", paramLabel = "ID", description = "The backup (default: the latest, of --vm if given).")
    Long backupId;

    @Option(names = "--vm", paramLabel = "VM", description = "Take the latest backup of this VM.")
    String vm;

    @Option(names = "--disk", paramLabel = "DISK", description = "Only this disk of the backup (default: every disk).")
    String disk;

    BackupRecord backup(Repository repo) throws IOException {
        if (backupId != null) {
            return repo.backup(backupId).orElseThrow(() -> new IOException("no backup " + backupId + " in " + repo.root()
                    + "; 'blockmover list' shows what there is"));
        }
        if (vm != null) {
            return repo.latest(vm).orElseThrow(() -> new IOException("no backup of VM " + vm + " in " + repo.root()));
        }
        return repo.backups().stream().max(Comparator.comparingLong(BackupRecord::id))
                .orElseThrow(() -> new IOException("the repository " + repo.root() + " holds no backups yet"));
    }

    List<DiskRecord> disks(BackupRecord backup) throws IOException {
        if (disk == null) {
            return backup.disks();
        }
        return List.of(backup.disk(disk).orElseThrow(() -> new IOException("backup " + backup.id() + " has no disk " + disk
                + "; it has " + backup.disks().stream().map(DiskRecord::diskId).toList())));
    }
}
