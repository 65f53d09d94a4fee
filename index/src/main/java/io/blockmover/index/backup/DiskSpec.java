package io.blockmover.index.backup;

/** One disk to back up: stable id (e.g. the disk UUID), capacity in bytes, CBT changeId ("" if none). */
public record DiskSpec(String diskId, long capacity, String changeId) {
    public DiskSpec {
        if (diskId == null || diskId.isBlank()) {
            throw new IllegalArgumentException("a disk needs an id");
        }
        if (capacity <= 0) {
            throw new IllegalArgumentException("disk capacity must be positive, got " + capacity);
        }
        changeId = changeId == null ? "" : changeId;
    }
}
