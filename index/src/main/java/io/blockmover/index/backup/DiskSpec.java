package io.blockmover.index.backup;

import io.blockmover.index.manifest.Names;

/** One disk to back up: stable id (e.g. the disk UUID), capacity in bytes, CBT changeId ("" if none). */
public record DiskSpec(String diskId, long capacity, String changeId) {
    public DiskSpec {
        if (diskId == null || diskId.isBlank()) {
            throw new IllegalArgumentException("a disk needs an id");
        }
        Names.check("disk name", diskId);
        if (changeId != null && changeId.length() > Names.MAX_LABEL_BYTES) {
            throw new IllegalArgumentException("the changeId is " + changeId.length() + " characters long; at most "
                    + Names.MAX_LABEL_BYTES);
        }
        if (capacity <= 0) {
            throw new IllegalArgumentException("disk capacity must be positive, got " + capacity);
        }
        changeId = changeId == null ? "" : changeId;
    }
}
