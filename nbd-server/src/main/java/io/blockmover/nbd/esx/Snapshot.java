package io.blockmover.nbd.esx;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/** A VM snapshot: a frozen view of each of its non-independent disks. */
public record Snapshot(String name, String moref, Instant created, List<SnapshotDisk> disks) {
    public Snapshot {
        disks = List.copyOf(disks);
    }

    public Optional<SnapshotDisk> disk(int deviceKey) {
        return disks.stream().filter(d -> d.spec().deviceKey() == deviceKey).findFirst();
    }
}
