package io.blockmover.mover.pipeline;

import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.repo.Repository;

import java.util.Comparator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Optional;

/** Which backup, and which of its disks, a restore or verify works on; the CLI and the proxy choose alike. */
public final class BackupChoice {
    private BackupChoice() {}

    /** The backup with {@code id}, else the latest of {@code vm}, else the latest of all. */
    public static BackupRecord backup(Repository repo, Optional<Long> id, Optional<String> vm) {
        if (id.isPresent()) {
            return repo.backup(id.get()).orElseThrow(() -> new NoSuchElementException("no backup " + id.get() + " in " + repo.root()
                    + "; 'blockmover list' shows what there is"));
        }
        if (vm.isPresent()) {
            return repo.latest(vm.get()).orElseThrow(() -> new NoSuchElementException("no backup of VM " + vm.get() + " in " + repo.root()));
        }
        return repo.backups().stream().max(Comparator.comparingLong(BackupRecord::id))
                .orElseThrow(() -> new NoSuchElementException("the repository " + repo.root() + " holds no backups yet"));
    }

    /** The one disk named, or every disk of the backup. */
    public static List<DiskRecord> disks(BackupRecord backup, Optional<String> disk) {
        if (disk.isEmpty()) {
            return backup.disks();
        }
        return List.of(backup.disk(disk.get()).orElseThrow(() -> new NoSuchElementException("backup " + backup.id() + " has no disk "
                + disk.get() + "; it has " + backup.disks().stream().map(DiskRecord::diskId).toList())));
    }
}
