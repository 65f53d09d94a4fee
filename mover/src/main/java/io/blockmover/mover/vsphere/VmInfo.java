package io.blockmover.mover.vsphere;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/** What the proxy knows of a VM after one property retrieval. */
public record VmInfo(String moref, String name, String uuid, String instanceUuid, String powerState, boolean cbtEnabled,
                     String ipAddress, String hostName, List<Disk> disks, List<SnapshotInfo> snapshots) {
    public VmInfo {
        disks = List.copyOf(disks);
        snapshots = List.copyOf(snapshots);
    }

    /**
     * A virtual disk as a VM's (or a snapshot's) config shows it.
     *
     * @param changeId the backing's changeId; empty when CBT is off or the disk cannot be tracked
     */
    public record Disk(int deviceKey, String label, String fileName, long capacity, String diskMode,
                       boolean physicalRdm, String uuid, Optional<String> changeId) {
        /** Why a backup cannot read this disk from a snapshot, if it cannot. */
        public Optional<String> skipReason() {
            if (diskMode.startsWith("unsupported")) {
                return Optional.of(diskMode);
            }
            if (physicalRdm) {
                return Optional.of("physical-mode RDM: snapshots cannot freeze it");
            }
            if (diskMode.startsWith("independent")) {
                return Optional.of(diskMode + " disk: not affected by snapshots, no changed block tracking");
            }
            return Optional.empty();
        }
    }

    /** One snapshot of the VM's tree (flattened, parents first). */
    public record SnapshotInfo(String moref, String name, String description, Instant created, boolean quiesced) {}

    public Optional<SnapshotInfo> snapshot(String snapshotName) {
        return snapshots.stream().filter(s -> s.name().equals(snapshotName)).findFirst();
    }
}
