package io.blockmover.index.maintenance;

/** A place a chunk is used: backup, VM, disk and byte offset in the disk. */
public record ChunkRef(long backupId, String vmId, String diskId, long offset) {
}
