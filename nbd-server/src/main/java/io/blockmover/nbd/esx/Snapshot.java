package io.blockmover.nbd.esx;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * A VM snapshot: a frozen view of each of its disks that snapshots cover (not independent disks,
 * not physical RDMs). {@code memory} and {@code quiesced} record what the caller asked for.
 */
public record Snapshot(String name, String moref, Instant created, List<SnapshotDisk> disks, String description,
                       boolean memory, boolean quiesced) {
    public Snapshot {
        disks = List.copyOf(disks);
    }

    public Optional<SnapshotDisk> disk(int deviceKey) {
        return disks.stream().filter(d -> d.spec().deviceKey() == deviceKey).findFirst();
    }
}
