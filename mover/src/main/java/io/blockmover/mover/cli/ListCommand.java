package io.blockmover.mover.cli;

import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.repo.Repository;
import io.blockmover.nbd.units.Sizes;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code blockmover list}: the backups in a repository, oldest first. */
@Command(name = "list", mixinStandardHelpOptions = true, description = "List the backups in the repository.")
final class ListCommand implements Callable<Integer> {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss").withZone(ZoneId.systemDefault());

    @Mixin
    RepositoryOptions repository;

    @Option(names = "--vm", paramLabel = "VM", description = "Only backups of this VM.")
    String vm;

    @Mixin
    JsonOption output;

    @Override
    public Integer call() throws Exception {
        try (Repository repo = repository.openToLook()) {
            List<BackupRecord> backups = repo.backups().stream()
                    .filter(b -> vm == null || b.vmId().equals(vm))
                    .sorted(Comparator.comparingLong(BackupRecord::id)).toList();
            if (output.json) {
                List<Object> out = new ArrayList<>();
                backups.forEach(b -> out.add(toJson(b)));
                System.out.println(JsonWriter.write(out));
                return 0;
            }
            System.out.printf("%-6s %-19s %-20s %-12s %-12s %10s %10s %10s%n",
                    "ID", "TIME", "VM", "DISKS", "TYPE", "SIZE", "DATA", "NEW");
            for (BackupRecord b : backups) {
                long capacity = b.disks().stream().mapToLong(DiskRecord::capacity).sum();
                long data = b.disks().stream().mapToLong(d -> d.dataChunks() * (long) d.chunkSize()).sum();
                long stored = b.disks().stream().mapToLong(DiskRecord::newStoredBytes).sum();
                System.out.printf(Locale.ROOT, "%-6d %-19s %-20s %-12d %-12s %10s %10s %10s%n", b.id(), TIME.format(b.committed()),
                        b.vmId(), b.disks().size(), type(b), Sizes.human(capacity), Sizes.human(Math.min(data, capacity)),
                        Sizes.human(stored));
            }
            return 0;
        }
    }

    static String type(BackupRecord b) {
        return b.parentId() == BackupRecord.NO_PARENT ? "full" : "incr<-" + b.parentId();
    }

    static Map<String, Object> toJson(BackupRecord b) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", b.id());
        m.put("vm", b.vmId());
        m.put("label", b.label());
        m.put("parentId", b.parentId() == BackupRecord.NO_PARENT ? null : b.parentId());
        m.put("started", b.started().toString());
        m.put("committed", b.committed().toString());
        List<Object> disks = new ArrayList<>();
        for (DiskRecord d : b.disks()) {
            Map<String, Object> dm = new LinkedHashMap<>();
            dm.put("disk", d.diskId());
            dm.put("capacity", d.capacity());
            dm.put("chunkSize", d.chunkSize());
            dm.put("changeId", d.changeId());
            dm.put("dataChunks", d.dataChunks());
            dm.put("zeroChunks", d.zeroChunks());
            dm.put("newChunks", d.newChunks());
            dm.put("newStoredBytes", d.newStoredBytes());
            disks.add(dm);
        }
        m.put("disks", disks);
        return m;
    }
}
